"""Reconciliation over the sandboxes: a payment PayDesk took shows as not posted until it is in
QuickBooks, then the invoice agrees again; the background sync reads QuickBooks after Autotask;
``paydesk reconcile --json`` prints the same."""

from __future__ import annotations

import contextlib
import io
import json
import threading
from pathlib import Path

from sqlalchemy import Engine

from app.__main__ import main
from app.core.config import Profile, get_setting
from app.core.credentials import CredentialStore
from app.core.posting.channels import ClaimedPosting, get_channel
from app.core.quickbooks.books import SOURCE_ONLINE
from app.core.quickbooks.online.read import LAST_READ_SETTING, quickbooks_sync_hook
from app.core.quickbooks.online.setup import quickbooks_status
from app.core.quickbooks.reconcile import reconcile
from app.core.storage.engine import open_database
from app.core.sync import run_sync
from app.core.sync.hooks import register_sync_hook, unregister_sync_hook
from tests.integration.payments.support import autotask_client
from tests.integration.quickbooks_online.qbo_support import (
    USD,
    open_invoices,
    postings,
    record_payment,
    sandboxes,
    store_connection,
    sync_autotask,
)


def _codes(engine: Engine) -> dict[int, set[str]]:
    return {row.invoice_id: {d.code for d in row.disagreements}
            for row in reconcile(engine, SOURCE_ONLINE, USD).rows}


def test_the_sync_reads_quickbooks_and_a_payment_not_posted_shows_until_it_is(
        engine: Engine) -> None:
    credentials = CredentialStore("reconcile")
    with sandboxes() as (autotask, quickbooks):
        sync_autotask(engine, autotask)
        store_connection(engine, credentials, quickbooks)
        register_sync_hook("quickbooks_online", quickbooks_sync_hook(credentials))
        try:
            result = run_sync(engine, autotask_client(autotask), cancel=threading.Event())
        finally:
            unregister_sync_hook("quickbooks_online")
        assert result.status.value == "succeeded"
        last = get_setting(engine, LAST_READ_SETTING)
        assert last["status"] == "succeeded" and last["matched"] > 0
        status = quickbooks_status(engine, credentials)
        assert status.connected and status.problem is None and status.last_read_ok
        assert status.company_name == "Northwind IT Services"
        assert status.unmatched == sum(1 for d in quickbooks.disagreements()
                                       if d["kind"] == "not_exported")
        seeded = _codes(engine)
        assert seeded  # the sandbox's disagreements

        (invoice,) = open_invoices(engine, 1)
        assert invoice.id not in seeded
        record_payment(engine, [(invoice.id, invoice.balance_minor)])
        codes = _codes(engine)
        assert codes[invoice.id] == {"payment_not_posted"}
        row = next(r for r in reconcile(engine, SOURCE_ONLINE, USD).rows
                   if r.invoice_id == invoice.id)
        assert row.paydesk_balance_minor == 0
        assert row.quickbooks_balance_minor == invoice.balance_minor
        assert row.not_posted_minor == invoice.balance_minor

        channel = get_channel("quickbooks_online")
        assert channel is not None
        deliverer = channel.open_deliverer(engine, credentials)
        assert deliverer is not None
        (posting,) = postings(engine)
        remote = deliverer.deliver(ClaimedPosting(
            id=posting.id, channel=posting.channel, target=posting.target, key=posting.key,
            payload=posting.payload, attempts=1, payment_id=posting.payment_id))
        from app.core.storage.engine import session_scope
        from app.core.storage.models import Posting

        with session_scope(engine) as s:
            row_ = s.get(Posting, posting.id)
            assert row_ is not None
            row_.state, row_.remote_id = "delivered", remote
        # QuickBooks read again (CDC): the invoice agrees in all three books.
        register_sync_hook("quickbooks_online", quickbooks_sync_hook(credentials))
        try:
            run_sync(engine, autotask_client(autotask), cancel=threading.Event())
        finally:
            unregister_sync_hook("quickbooks_online")
        assert invoice.id not in _codes(engine)
        assert _codes(engine) == seeded


def test_reconcile_command_prints_json(tmp_path: Path) -> None:
    profile = Profile.open(tmp_path / "profile")
    engine = open_database(profile.database_url)
    credentials = CredentialStore(profile.key)
    with sandboxes() as (autotask, quickbooks):
        sync_autotask(engine, autotask)
        store_connection(engine, credentials, quickbooks)
        register_sync_hook("quickbooks_online", quickbooks_sync_hook(credentials))
        try:
            run_sync(engine, autotask_client(autotask), cancel=threading.Event())
        finally:
            unregister_sync_hook("quickbooks_online")
        doctor = io.StringIO()
        with contextlib.redirect_stdout(doctor):
            main(["--profile", str(profile.folder), "doctor"])
        line = next(x for x in doctor.getvalue().splitlines() if "QuickBooks Online" in x)
        assert "[OK ]" in line and "Northwind IT Services, home currency USD" in line, line
        assert "need matching" in " ".join(doctor.getvalue().split())
        expected = len(quickbooks.disagreements()) - sum(
            1 for d in quickbooks.disagreements()
            if d["kind"] in ("customer_renamed", "number_differs"))
    engine.dispose()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["--profile", str(profile.folder), "reconcile", "--json"])
    report = json.loads(out.getvalue())
    assert code == 1  # something disagrees
    assert report["currency"] == "USD" and report["disagreeing"] == expected
    assert set(report["counts"]) == {"not_in_quickbooks", "amounts_differ",
                                     "paid_in_quickbooks"}
    first = report["rows"][0]
    assert {"autotask_state", "paydesk_balance", "quickbooks_balance",
            "disagreements"} <= set(first)
