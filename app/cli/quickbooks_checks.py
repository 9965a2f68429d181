"""``paydesk doctor``'s QuickBooks Online line: not connected (fine — it is optional), a
secret missing from this computer's keychain, the company answering (name, home currency)
or what went wrong, and the last QuickBooks read. Added to the doctor's ``CHECKS`` when the
command line is built (``app.cli.reconcile.register``)."""

from __future__ import annotations

from app.cli.doctor import DoctorContext, Finding, Status
from app.core.config import get_internal_currency
from app.core.quickbooks.online.connection import load_connection
from app.core.quickbooks.online.errors import QuickBooksError
from app.core.quickbooks.online.setup import (
    describe_missing_connection,
    open_quickbooks_client,
    quickbooks_status,
    test_connection,
)

TITLE = "QuickBooks Online"


def check_quickbooks_online(ctx: DoctorContext) -> list[Finding]:
    if ctx.engine is None:
        return []
    connection = load_connection(ctx.engine)
    if connection is None:
        return [Finding(TITLE, Status.OK, "not connected (optional; `paydesk setup "
                        "quickbooks-online` connects it)")]
    missing = describe_missing_connection(ctx.engine, ctx.credentials)
    if missing:
        return [Finding(TITLE, Status.PROBLEM, missing)]
    client = open_quickbooks_client(ctx.engine, ctx.credentials)
    assert client is not None
    try:
        with client:
            report = test_connection(client, get_internal_currency(ctx.engine))
    except QuickBooksError as exc:
        return [Finding(TITLE, Status.PROBLEM, exc.message)]
    status = quickbooks_status(ctx.engine, ctx.credentials)
    read = ("not read yet (`paydesk sync` reads it)" if status.last_read_at is None
            else f"last read {status.last_read_at:%Y-%m-%d %H:%M} UTC"
            + ("" if status.last_read_ok else " failed"))
    return [Finding(TITLE, Status.OK if status.last_read_ok is not False else Status.PROBLEM,
                    f"{report.company_name}, home currency {report.home_currency}; {read}; "
                    f"{status.unmatched} invoice(s) need matching")]
