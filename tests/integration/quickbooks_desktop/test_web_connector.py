"""PayDesk's Web Connector service, driven over HTTP SOAP by the Web Connector stand-in (zeep)
against the seeded company file: reading and matching, posting and refunds ending with equal
balances, and the faults that must never post a payment twice."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select

from app.core.config import get_setting
from app.core.quickbooks.desktop.service import read_status
from app.core.quickbooks.desktop.session import READ_WATERMARK_SETTING
from app.core.storage.engine import session_scope
from app.core.storage.models import QuickBooksInvoice, QuickBooksInvoiceMatch
from app.sandbox.quickbooks_desktop.company import CompanyFile
from app.sandbox.quickbooks_desktop.connector import Faults
from tests.integration.quickbooks_desktop.support import Desk, open_desk


@pytest.fixture
def desk(engine: Engine) -> Iterator[Desk]:
    """SQLite, and PostgreSQL too when the tests have one."""
    with open_desk(engine) as desk:
        yield desk


def _read(desk: Desk) -> set[str]:
    """TxnIDs of the QuickBooks invoices PayDesk has read."""
    with session_scope(desk.engine) as s:
        return set(s.scalars(select(QuickBooksInvoice.remote_id)
                             .where(QuickBooksInvoice.source == "desktop")))


def _matched(desk: Desk) -> dict[str, tuple[int, str | None]]:
    """QuickBooks TxnID -> (PayDesk invoice id, how it was matched)."""
    with session_scope(desk.engine) as s:
        return {r.remote_id: (r.invoice_id, r.method)
                for r in s.scalars(select(QuickBooksInvoiceMatch).where(
                    QuickBooksInvoiceMatch.source == "desktop",
                    QuickBooksInvoiceMatch.remote_id.is_not(None)))}


def test_a_first_update_reads_every_invoice_and_matches_them(desk: Desk) -> None:
    result = desk.connector().update()

    assert result.calls[:3] == ["serverVersion", "clientVersion", "authenticate"]
    assert result.authenticate[1] == ""  # use the company file open in QuickBooks
    assert result.percents[-1] == 100 and result.closed_with is not None
    assert all(0 <= p <= 100 for p in result.percents)
    assert _read(desk) == set(desk.company.invoices)
    matched = _matched(desk)
    by_autotask = {desk.company.invoices[t]["autotask_id"]: m for t, m in matched.items()}
    disagreements = desk.company.disagreements
    renamed = set(disagreements.renamed_customers)
    # An invoice whose number was edited in QuickBooks is still found by customer+date+total
    # (when its customer still has the organization's name).
    for autotask_id in disagreements.edited_invoices:
        invoice = desk.company.invoices[desk.company.invoice_of_autotask[autotask_id]]
        if desk.company.customers[invoice["CustomerRef"]]["company_id"] not in renamed:
            assert by_autotask[autotask_id] == (autotask_id, "by_customer_date_total")
    numbered = [t for t, m in matched.items() if m[1] == "by_number"]
    assert len(numbered) == len(desk.company.invoices) - len(disagreements.edited_invoices)
    assert all(t not in by_autotask for t in disagreements.not_exported)
    status = read_status(desk.engine)
    assert status.state == "waiting" and status.last_exchange_at is not None


def test_payments_and_a_refund_end_with_quickbooks_balances_equal_to_paydesks(
        desk: Desk) -> None:
    desk.connector().update()
    (a,) = desk.open_invoices(1)
    b, c = desk.open_invoices(2, one_organization=True)
    full = desk.pay([(a, a.total_minor)])
    split = desk.pay([(b, b.total_minor // 2), (c, 1000)])

    result = desk.connector().update()
    assert result.percents[-1] == 100
    assert [p.state for p in desk.postings()] == ["delivered", "delivered"]
    assert len(desk.company.payments_with_ref(full.reference)) == 1
    assert len(desk.company.payments_with_ref(split.reference)) == 1

    refund = desk.refund(split, [(b, 500)])
    desk.connector().update()  # posts the change
    desk.connector().update()  # reads the invoices it changed
    assert [p.state for p in desk.postings()] == ["delivered"] * 3
    balances = desk.balances([a.id, b.id, c.id])
    assert all(ours == theirs for ours, theirs in balances.values()), balances
    assert balances[a.id] == (0, 0)
    qb_payment = desk.company.payments_with_ref(split.reference)[0]
    assert f"[R{refund.id}]" in qb_payment["Memo"]
    assert qb_payment["TotalAmount"] * 100 == b.total_minor // 2 + 1000 - 500

    # The refund failed at the gateway after all: QuickBooks gets the amount back too.
    desk.reverse(refund)
    desk.connector().update()
    desk.connector().update()
    assert [p.state for p in desk.postings()] == ["delivered"] * 4
    balances = desk.balances([b.id, c.id])
    assert all(ours == theirs for ours, theirs in balances.values()), balances
    assert len(desk.company.payments_with_ref(split.reference)) == 1


def test_a_payment_on_an_invoice_not_exported_yet_waits_with_a_reason(desk: Desk) -> None:
    desk.connector().update()
    held_back = desk.company.disagreements.not_exported[-1]
    from app.core.storage.models import Invoice

    with session_scope(desk.engine) as s:
        invoice = s.get(Invoice, held_back)
        assert invoice is not None
        s.expunge(invoice)
    desk.pay([(invoice, 100)])
    desk.connector().update()
    (posting,) = desk.postings()
    assert posting.state == "waiting"
    assert f"Invoice {invoice.invoice_number} is not in QuickBooks Desktop yet" in (
        posting.waiting_reason or "")
    assert desk.company.payments_with_ref(f"PD-T{1:06d}") == []


def test_a_lost_answer_after_quickbooks_applied_the_payment_never_posts_it_twice(
        desk: Desk) -> None:
    desk.connector().update()
    (a,) = desk.open_invoices(1)
    payment = desk.pay([(a, 2500)])

    lost = desk.connector(Faults(lose_next_payment_answer=True)).update()
    assert "connectionError" in lost.calls
    assert len(desk.company.payments_with_ref(payment.reference)) == 1
    (posting,) = desk.postings()
    assert posting.state == "pending" and "look for this payment" in (posting.last_error or "")

    desk.clock.advance(minutes=1)
    desk.connector().update()
    (posting,) = desk.postings()
    assert posting.state == "delivered"
    assert posting.attempts == 2
    applied = desk.company.payments_with_ref(payment.reference)
    assert len(applied) == 1 and posting.remote_id == applied[0]["TxnID"]
    assert desk.company.requests_seen.count("ReceivePaymentQueryRq") == 1


def test_a_web_connector_killed_after_quickbooks_applied_the_payment_never_posts_it_twice(
        desk: Desk) -> None:
    desk.connector().update()
    (a,) = desk.open_invoices(1)
    payment = desk.pay([(a, 1234)])

    killed = desk.connector(Faults(kill_after_next_payment=True)).update()
    assert killed.killed and "closeConnection" not in killed.calls
    (posting,) = desk.postings()
    assert posting.state == "delivering"

    # The next update's authenticate ends the dead session; after the retry delay the
    # payment is looked up, found, and acknowledged — not added again.
    desk.connector().update()
    desk.clock.advance(minutes=1)
    desk.connector().update()
    (posting,) = desk.postings()
    assert posting.state == "delivered"
    assert len(desk.company.payments_with_ref(payment.reference)) == 1


def test_a_session_cut_mid_iterator_resumes_without_gaps(sqlite_engine: Engine) -> None:
    with open_desk(sqlite_engine, page_size=10) as desk:
        cut = desk.connector(Faults(cut_after_pages=5)).update()
        assert cut.killed
        assert get_setting(desk.engine, READ_WATERMARK_SETTING, None) in (None, {}) or \
            "invoices" not in get_setting(desk.engine, READ_WATERMARK_SETTING, {})
        with session_scope(desk.engine) as s:
            partial = s.scalar(select(func.count()).select_from(QuickBooksInvoice))
        assert partial is not None and partial < len(desk.company.invoices)

        done = desk.connector().update()
        assert done.percents[-1] == 100
        assert _read(desk) == set(desk.company.invoices)

        # The next update reads only what changed since.
        changed = list(desk.company.touch_invoices(3))
        before = desk.service.sessions_finished[-1].outcome.invoices_read
        assert before >= len(desk.company.invoices)
        desk.connector().update()
        last = desk.service.sessions_finished[-1].outcome
        assert last.invoices_read <= 3 + 1
        assert set(changed) <= _read(desk)


def test_quickbooks_closed_or_busy_is_said_plainly_and_nothing_is_lost(desk: Desk) -> None:
    closed = desk.connector(Faults(qb_closed=True)).update()
    assert "could not open QuickBooks" in (closed.last_error or "")
    assert read_status(desk.engine).state == "error"

    desk.connector().update()
    (a,) = desk.open_invoices(1)
    payment = desk.pay([(a, 700)])
    busy = desk.connector(Faults(qb_busy=True)).update()
    assert busy.percents[-1] < 0
    assert "QuickBooks could not process" in (busy.last_error or "")
    desk.clock.advance(minutes=1)
    desk.connector().update()
    assert [p.state for p in desk.postings()] == ["delivered"]
    assert len(desk.company.payments_with_ref(payment.reference)) == 1


def test_a_wrong_password_is_refused_with_nvu(sqlite_engine: Engine) -> None:
    with open_desk(sqlite_engine, credentials_password="another password") as desk:
        result = desk.connector().update()
        assert result.authenticate == ["", "nvu"]
        assert "wrong user name or password" in (read_status(desk.engine).message or "")


def test_a_company_file_in_another_currency_is_refused(sqlite_engine: Engine) -> None:
    company = CompanyFile(seed=11, currency_name="Canadian Dollar", country="CA",
                          company_name="Maple IT Ltd")
    with open_desk(sqlite_engine, company=company) as desk:
        result = desk.connector().update()
        assert result.percents == [] or result.percents[-1] < 0 or result.last_error
        assert "keeps its books in CAD" in (result.last_error or "")
        assert not _read(desk)


def test_a_closed_period_is_a_message_for_a_person(desk: Desk) -> None:
    from datetime import date

    desk.connector().update()
    desk.company.closing_date = date(2030, 1, 1)
    (a,) = desk.open_invoices(1)
    desk.pay([(a, 300)])
    desk.connector().update()
    (posting,) = desk.postings()
    assert posting.state == "failed"
    assert "closed period" in (posting.last_error or "")


def test_a_payment_edited_in_quickbooks_meanwhile_is_read_again_and_changed_once(
        desk: Desk) -> None:
    desk.connector().update()
    (a,) = desk.open_invoices(1)
    payment = desk.pay([(a, 5000)])
    desk.connector().update()
    refund = desk.refund(payment, [(a, 1200)])
    desk.company.edit_before_next_mod = True
    desk.connector().update()
    change = desk.postings()[-1]
    assert change.state == "pending" and "changed" in (change.last_error or "")

    desk.clock.advance(minutes=1)
    desk.connector().update()
    desk.connector().update()
    assert desk.postings()[-1].state == "delivered"
    (qb_payment,) = desk.company.payments_with_ref(payment.reference)
    assert qb_payment["Memo"].count(f"[R{refund.id}]") == 1
    assert qb_payment["TotalAmount"] * 100 == 5000 - 1200
    ours, theirs = desk.balances([a.id])[a.id]
    assert ours == theirs


def test_the_reconciliation_works_for_desktop(desk: Desk) -> None:
    from app.core.quickbooks.reconcile import reconcile

    desk.connector().update()
    (a,) = desk.open_invoices(1)
    desk.pay([(a, 900)])
    unposted = reconcile(desk.engine, "desktop", "USD")
    by_invoice = {r.invoice_id: r for r in unposted.rows}
    assert by_invoice[a.id].not_posted_minor == 900
    assert "payment_not_posted" in {d.code for d in by_invoice[a.id].disagreements}

    desk.connector().update()
    desk.connector().update()
    report = reconcile(desk.engine, "desktop", "USD")
    by_invoice = {r.invoice_id: r for r in report.rows}
    assert a.id not in by_invoice  # posted: QuickBooks agrees with PayDesk
    codes = {r.invoice_id: {d.code for d in r.disagreements} for r in report.rows}
    disagreements = desk.company.disagreements
    for held_back in disagreements.not_exported:
        assert "not_in_quickbooks" in codes[held_back]
    (paid_there,) = disagreements.paid_directly
    assert "paid_in_quickbooks" in codes[paid_there]


def test_paydesk_restarted_while_quickbooks_held_an_unacknowledged_payment_posts_it_once(
        desk: Desk) -> None:
    from app.core.quickbooks.desktop.service import WebConnectorServer, WebConnectorService
    from app.sandbox.quickbooks_desktop.connector import WebConnector
    from tests.integration.quickbooks_desktop.support import PASSWORD, USER

    desk.connector().update()
    (a,) = desk.open_invoices(1)
    payment = desk.pay([(a, 3100)])
    desk.connector(Faults(kill_after_next_payment=True)).update()
    desk.server.stop()  # PayDesk went down with the posting claimed and unanswered

    restarted = WebConnectorService(desk.engine, username=USER, password=lambda: PASSWORD,
                                    queue=desk.queue, clock=desk.clock)
    with WebConnectorServer(restarted) as server:
        connector = WebConnector(server.url, USER, PASSWORD, desk.company)
        connector.update()  # the claim's lease has not run out: nothing is sent again
        assert desk.postings()[-1].state == "delivering"
        desk.clock.advance(minutes=3)
        connector.update()
    (posting,) = desk.postings()
    assert posting.state == "delivered"
    (applied,) = desk.company.payments_with_ref(payment.reference)
    assert posting.remote_id == applied["TxnID"]


def test_when_desktop_is_disconnected_in_paydesk_the_web_connector_is_told_none(
        desk: Desk) -> None:
    from app.core.config import set_setting
    from app.core.quickbooks.desktop.channel import CONNECTION_SETTING

    set_setting(desk.engine, CONNECTION_SETTING, None, actor="test")
    result = desk.connector().update()
    assert result.authenticate[1] == "none"
    assert result.calls[-1] == "closeConnection" and "sendRequestXML" not in result.calls
    assert "not connected" in (result.closed_with or "")
    assert "not connected" in (read_status(desk.engine).message or "")
