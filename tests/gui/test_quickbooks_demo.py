"""``paydesk --demo --demo-quickbooks desktop``: the demo's QuickBooks Desktop stand-in and its
Web Connector talk to the window's Web Connector service over HTTP; after a sync, a payment
taken in PayDesk lands in the stand-in's company file once, with the right lines."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from decimal import Decimal

from pytestqt.qtbot import QtBot
from sqlalchemy import and_, func, select

from app.core.config import set_internal_currency
from app.core.credentials import CredentialStore
from app.core.invoice_state import recompute_invoices
from app.core.posting.channels import PaymentRecorded, record_fact
from app.core.quickbooks.desktop.qwc import load_connection
from app.core.storage.engine import open_database, session_scope
from app.core.storage.models import (
    Invoice,
    Payment,
    PaymentAllocation,
    Posting,
    QuickBooksInvoice,
    QuickBooksInvoiceMatch,
)
from app.core.sync import run_sync
from app.gui.context import AppContext
from app.gui.quickbooks.desktop_service import ensure_service, stop_service
from app.sandbox.demo import start_demo
from tests.integration.payments.support import autotask_client


def _wait(condition: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_demo_payment_reaches_the_quickbooks_desktop_stand_in(qtbot: QtBot) -> None:
    with start_demo(companies=12, invoices=120, latency_ms=0, quickbooks="desktop",
                    web_connector_every=0.2) as demo:
        assert demo.quickbooks is not None and demo.quickbooks.kind == "desktop"
        company = demo.quickbooks.company
        engine = open_database(demo.profile.database_url)
        context = AppContext(profile=demo.profile, engine=engine,
                             credentials=CredentialStore(demo.profile.key), demo=demo)
        try:
            set_internal_currency(engine, "USD", actor="test")
            result = run_sync(engine, autotask_client(demo.autotask_sandbox),
                              cancel=threading.Event())
            assert result.status.value == "succeeded", result.error
            assert ensure_service(context) is None  # the window's service, on a free port
            connection = load_connection(engine)
            assert connection is not None and not connection.app_url.endswith(":0/qbwc")

            def matched() -> int:
                with session_scope(engine) as s:
                    return int(s.scalar(select(func.count()).select_from(QuickBooksInvoiceMatch)
                                        .where(QuickBooksInvoiceMatch.source == "desktop",
                                               QuickBooksInvoiceMatch.remote_id.is_not(None)))
                               or 0)

            _wait(lambda: matched() > 0)  # the demo's Web Connector read the company file

            # A payment on a matched open invoice, recorded as the payment pipeline does.
            with session_scope(engine) as s:
                invoice = s.scalars(
                    select(Invoice).join(QuickBooksInvoiceMatch,
                                         QuickBooksInvoiceMatch.invoice_id == Invoice.id)
                    .join(QuickBooksInvoice, and_(
                        QuickBooksInvoice.source == QuickBooksInvoiceMatch.source,
                        QuickBooksInvoice.remote_id == QuickBooksInvoiceMatch.remote_id))
                    .where(Invoice.status == "open",
                           QuickBooksInvoice.balance_minor == Invoice.balance_minor)
                    .order_by(Invoice.id).limit(1)).one()
                now = datetime.now(UTC)
                half = invoice.balance_minor // 2
                payment = Payment(
                    reference="PD-DEMO0001", idempotency_key="demo-1",
                    organization_id=invoice.organization_id, currency="USD",
                    amount_minor=half, surcharge_minor=0, total_minor=half, gateway="stripe",
                    state="succeeded", created_at=now, completed_at=now, created_by="test",
                    method_summary="Visa •••• 4242")
                s.add(payment)
                s.flush()
                s.add(PaymentAllocation(payment_id=payment.id, invoice_id=invoice.id,
                                        amount_minor=half))
                s.flush()
                recompute_invoices(s, [invoice.id])
                record_fact(s, PaymentRecorded(payment.id, ((invoice.id, half),), (), now), now)
                number = invoice.invoice_number
            _wait(lambda: bool(company.payments_with_ref("PD-DEMO0001")))
            time.sleep(1.0)  # further updates must not record it again
            payments = company.payments_with_ref("PD-DEMO0001")
            assert len(payments) == 1
            txn = company.invoice_of_autotask[invoice.id]  # one line, on the matched invoice
            assert payments[0]["applied"] == {txn: Decimal(half) / 100}
            assert Decimal(str(payments[0]["TotalAmount"])) == Decimal(half) / 100
            assert number in str(payments[0]["Memo"]) or "PD-DEMO0001" in str(
                payments[0]["Memo"])
            with session_scope(engine) as s:
                states = list(s.scalars(select(Posting.state).where(
                    Posting.channel == "quickbooks_desktop")))
            assert states == ["delivered"]
        finally:
            stop_service(context)
            engine.dispose()


def _record_payment(engine: object, reference: str) -> tuple[int, int, str | None]:
    """A payment on half of a matched open invoice whose QuickBooks balance agrees, recorded
    as the payment pipeline records it. Returns (invoice id, amount, QuickBooks id)."""
    with session_scope(engine) as s:  # type: ignore[arg-type]
        invoice, remote = s.execute(
            select(Invoice, QuickBooksInvoiceMatch.remote_id)
            .join(QuickBooksInvoiceMatch, QuickBooksInvoiceMatch.invoice_id == Invoice.id)
            .join(QuickBooksInvoice, and_(
                QuickBooksInvoice.source == QuickBooksInvoiceMatch.source,
                QuickBooksInvoice.remote_id == QuickBooksInvoiceMatch.remote_id))
            .where(Invoice.status == "open",
                   QuickBooksInvoice.balance_minor == Invoice.balance_minor)
            .order_by(Invoice.id).limit(1)).one()
        now = datetime.now(UTC)
        half = invoice.balance_minor // 2
        payment = Payment(
            reference=reference, idempotency_key=reference,
            organization_id=invoice.organization_id, currency="USD", amount_minor=half,
            surcharge_minor=0, total_minor=half, gateway="stripe", state="succeeded",
            created_at=now, completed_at=now, created_by="test", method_summary="Visa •••• 4242",
            gateway_transaction_id="ch_demo_0001")
        s.add(payment)
        s.flush()
        s.add(PaymentAllocation(payment_id=payment.id, invoice_id=invoice.id, amount_minor=half))
        s.flush()
        recompute_invoices(s, [invoice.id])
        record_fact(s, PaymentRecorded(payment.id, ((invoice.id, half),), (), now), now)
        return int(invoice.id), int(half), remote


def test_demo_opens_connected_to_quickbooks_online_and_a_payment_lands_there(
        qtbot: QtBot) -> None:
    from app.core.posting.outbox import open_outbox
    from app.core.quickbooks.review import quickbooks_state
    from app.gui.sync.controller import install_quickbooks_sync

    with start_demo(companies=12, invoices=120, latency_ms=0, quickbooks="online") as demo:
        assert demo.quickbooks is not None and demo.quickbooks.kind == "online"
        server = demo.quickbooks.company
        engine = open_database(demo.profile.database_url)
        credentials = CredentialStore(demo.profile.key)
        try:
            state = quickbooks_state(engine, credentials)
            assert state.source == "online" and state.problem is None  # already connected
            set_internal_currency(engine, "USD", actor="test")
            install_quickbooks_sync(credentials)  # what the window's sync does
            result = run_sync(engine, autotask_client(demo.autotask_sandbox),
                              cancel=threading.Event())
            assert result.status.value == "succeeded", result.error
            _, amount, remote = _record_payment(engine, "PD-DEMO0002")
            before = server.payment_counts()
            outbox, problems = open_outbox(engine, credentials)
            assert not [p for p in problems if "QuickBooks" in p]  # Autotask is not set up here
            outbox.deliver_due()
            with session_scope(engine) as s:
                posted = s.execute(select(Posting.state, Posting.remote_id).where(
                    Posting.channel == "quickbooks_online")).all()
            assert [p.state for p in posted] == ["delivered"]
            record = server.record("Payment", posted[0].remote_id)
            assert record is not None
            assert Decimal(str(record["TotalAmt"])) == Decimal(amount) / 100
            lines = record["Line"]
            assert len(lines) == 1
            assert lines[0]["LinkedTxn"][0]["TxnId"] == remote
            assert server.payment_counts() != before
        finally:
            engine.dispose()
