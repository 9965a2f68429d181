"""Transactions, Payment Search and payment detail read from a real database, from a few
hand-made payments to a long generated history."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select, text

from app.core.money import Money
from app.core.payments import (
    PaymentSearchCriteria,
    PaymentState,
    SearchSort,
    SearchType,
    TransactionFilter,
    export_payment_search_csv,
    payment_detail,
    payment_search_ids,
    payment_search_rows,
    transaction_ids,
    transaction_rows,
)
from app.core.payments import fixtures as history_fixture
from app.core.payments.fixtures import build_payment_history
from app.core.queries.payments import (
    SALE_TAKEN_STATES,
    PaymentSearchTotals,
    is_refund_key,
    payment_search_totals,
    refund_key,
    sale_key,
)
from app.core.storage.engine import session_scope
from app.core.storage.models import (
    Contact,
    Invoice,
    Organization,
    Payment,
    PaymentAllocation,
    Posting,
    Refund,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _org(session: Any, org_id: int, name: str) -> None:
    session.add(Organization(id=org_id, name=name, synced_at=T0))


def _invoice(session: Any, invoice_id: int, org_id: int, total: int, *, voided: bool = False
             ) -> None:
    session.add(Invoice(id=invoice_id, organization_id=org_id, invoice_number=str(invoice_id),
                        total_minor=total, balance_minor=total, is_voided=voided,
                        synced_at=T0))


def _payment(session: Any, pid: int, org_id: int, amount: int, state: str, *, day: int = 0,
             txn: str | None = None, refunded: int = 0, contact_id: int | None = None,
             allocations: dict[int, int] | None = None, test_mode: bool = True) -> None:
    session.add(Payment(
        id=pid, reference=f"PD-{pid:08d}", idempotency_key=f"k{pid}", organization_id=org_id,
        currency="USD", amount_minor=amount, surcharge_minor=0, total_minor=amount,
        refunded_minor=refunded, gateway="stripe-test", state=state, created_at=T0 + timedelta(
            days=day), created_by="dana@frontdesk", gateway_transaction_id=txn,
        method_summary="Visa •••• 4242", contact_id=contact_id, test_mode=test_mode))
    session.flush()
    for invoice_id, minor in (allocations or {}).items():
        session.add(PaymentAllocation(payment_id=pid, invoice_id=invoice_id, amount_minor=minor))


def _small_ledger(engine: Engine) -> None:
    with session_scope(engine) as s:
        _org(s, 1, "Acme Dental")
        _org(s, 2, "Birch Legal")
        s.add(Contact(id=50, organization_id=1, first_name="Dana", last_name="Reyes",
                      synced_at=T0))
        _invoice(s, 1001, 1, 20_000, voided=True)
        _invoice(s, 1002, 1, 10_000)
        _invoice(s, 2001, 2, 5_000)
        _payment(s, 1, 1, 30_000, "succeeded", day=0, txn="ch_A1", refunded=5_000,
                 contact_id=50, allocations={1001: 20_000, 1002: 10_000})
        _payment(s, 2, 2, 5_000, "processing", day=1, txn="ch_B2", allocations={2001: 5_000},
                 test_mode=False)
        _payment(s, 3, 1, 7_000, "declined", day=2, allocations={1002: 7_000})
        s.add(Refund(id=1, payment_id=1, reference="RF-00000001", idempotency_key="r1",
                     amount_minor=5_000, reason="Credit", kind="refund", state="succeeded",
                     gateway_refund_id="re_1", created_at=T0 + timedelta(days=3),
                     created_by="dana@frontdesk"))
        s.add(Posting(target="autotask_note", key="autotask_note:PD-00000001", payment_id=1,
                      payload={}, state="failed", attempts=8, last_error="Company inactive",
                      created_at=T0))


def test_payment_search_columns_mirror_autotask(engine: Engine) -> None:
    _small_ledger(engine)
    keys = list(payment_search_ids(engine, PaymentSearchCriteria()))
    assert keys == [refund_key(1), sale_key(3), sale_key(2), sale_key(1)]  # newest first
    rows = {row.key: row for row in payment_search_rows(engine, keys)}

    def usd(minor: int) -> Money:
        return Money(minor, "USD")

    sale = rows[sale_key(1)]
    assert sale.type is SearchType.SALE and sale.type.label == "Sale"
    assert sale.sale_amount == usd(30_000) and sale.payment_amount == usd(30_000)
    assert sale.applied_amount == usd(10_000)  # invoice 1001 was voided
    assert sale.unapplied_amount == usd(20_000)
    assert sale.refund_amount == usd(5_000)
    assert sale.transaction_id == "ch_A1" and sale.contact == "Dana Reyes"
    assert sale.method == "Visa •••• 4242" and sale.organization_name == "Acme Dental"
    refund = rows[refund_key(1)]
    assert refund.type.label == "Refund" and refund.refund_amount == usd(5_000)
    assert refund.sale_amount is None and refund.transaction_id == "re_1"
    # Test-mode payments (and their refunds) are marked; a live one is not.
    assert sale.test_mode and refund.test_mode and not rows[sale_key(2)].test_mode
    declined = rows[sale_key(3)]
    assert declined.applied_amount == usd(0) and declined.status_label == "Declined"
    # A declined attempt took no money: a Sale Amount of zero, beside what was attempted.
    assert declined.sale_amount == usd(0) and declined.payment_amount == usd(7_000)
    assert rows[sale_key(2)].sale_amount == usd(5_000)  # a processing debit was taken


def test_payment_search_totals_add_up_what_is_listed(engine: Engine) -> None:
    _small_ledger(engine)
    everything = payment_search_totals(engine, PaymentSearchCriteria())
    # Taken: 30,000 + 5,000 (the declined 7,000 took nothing); given back: 5,000.
    assert everything == PaymentSearchTotals(sales=3, refunds=1, sale_minor=35_000,
                                             refund_minor=5_000)
    assert everything.net_minor == 30_000
    birch = payment_search_totals(engine, PaymentSearchCriteria(organization_id=2))
    assert birch == PaymentSearchTotals(sales=1, refunds=0, sale_minor=5_000, refund_minor=0)
    refunds_only = payment_search_totals(engine, PaymentSearchCriteria(type=SearchType.REFUND))
    assert (refunds_only.sales, refunds_only.refunds, refunds_only.refund_minor) == (0, 1, 5_000)


def test_payment_search_filters(engine: Engine) -> None:
    _small_ledger(engine)

    def keys(**criteria: Any) -> list[int]:
        return list(payment_search_ids(engine, PaymentSearchCriteria(**criteria)))

    assert keys(organization_id=2) == [sale_key(2)]
    assert keys(type=SearchType.REFUND) == [refund_key(1)]
    assert keys(type=SearchType.SALE, status="succeeded") == [sale_key(1)]
    assert keys(invoice_number="1002") == [refund_key(1), sale_key(3), sale_key(1)]
    assert keys(transaction_id="ch_b2") == [sale_key(2)]
    assert keys(date_from=date(2026, 3, 2), date_to=date(2026, 3, 3)) == [
        sale_key(3), sale_key(2)]
    # By amount, as shown: the declined attempt has no Sale Amount, so it sorts as zero.
    assert list(payment_search_ids(engine, PaymentSearchCriteria(), sort=SearchSort.AMOUNT,
                                   descending=False)[:2]) == [sale_key(3), refund_key(1)]


def test_csv_export(engine: Engine) -> None:
    _small_ledger(engine)
    out = io.StringIO()
    count = export_payment_search_csv(engine, PaymentSearchCriteria(organization_id=1), out)
    lines = out.getvalue().splitlines()
    assert count == 3 and len(lines) == 4
    assert lines[2].startswith("Sale,PD-00000003,2026-03-03 12:00,Acme Dental,0.00,70.00,0.00,")
    assert lines[0].startswith("Type,Reference,Date,Organization,Sale Amount,Payment Amount")
    assert "Sale,PD-00000001,2026-03-01 12:00,Acme Dental,300.00,300.00,100.00,200.00,50.00,ch_A1" \
        in lines[3]


def test_transactions_filters_and_rows(engine: Engine) -> None:
    _small_ledger(engine)
    assert list(transaction_ids(engine)) == [3, 2, 1]
    assert list(transaction_ids(engine, organization_id=1)) == [3, 1]
    assert list(transaction_ids(engine, filter=TransactionFilter.PENDING)) == [2]
    assert list(transaction_ids(engine, filter=TransactionFilter.FAILING_TO_POST)) == [1]
    row = transaction_rows(engine, [1])[0]
    assert row.invoice_numbers == ("1001", "1002")
    assert row.posting_status.label == "Failing to post"
    assert row.posting_error == "Company inactive"
    assert row.state is PaymentState.SUCCEEDED and row.refunded == Money(5_000, "USD")
    assert [r.payment_id for r in transaction_rows(engine, [2, 3, 99])] == [2, 3]


def test_payment_detail(engine: Engine) -> None:
    _small_ledger(engine)
    detail = payment_detail(engine, 1)
    assert detail is not None
    assert detail.refundable == Money(25_000, "USD") and detail.can_refund
    assert [a.invoice_number for a in detail.allocations] == ["1001", "1002"]
    assert detail.refunds[0].reference == "RF-00000001"
    assert detail.postings[0].can_retry
    assert payment_detail(engine, 99) is None
    processing = payment_detail(engine, 2)
    assert processing is not None and processing.can_void and not processing.can_refund


def test_failing_posting_ids_are_one_query_over_many_payments(engine: Engine) -> None:
    from app.core.posting import failing_posting_ids

    _small_ledger(engine)
    with session_scope(engine) as s:
        retrying = Posting(target="autotask_paid_date", key="autotask_paid_date:2:PD-2",
                           payment_id=2, payload={}, state="pending", attempts=2,
                           last_error="Autotask is busy", created_at=T0)
        waiting = Posting(target="autotask_note", key="autotask_note:PD-2", payment_id=2,
                          payload={}, state="pending", attempts=0, created_at=T0)
        posted = Posting(target="autotask_note", key="autotask_note:PD-3", payment_id=3,
                         payload={}, state="delivered", attempts=1, created_at=T0)
        s.add_all([retrying, waiting, posted])
        s.flush()
        retrying_id = retrying.id
        failed_id = s.scalar(text("SELECT id FROM postings WHERE payment_id = 1"))
    # Failed, or retrying after an error; never one that is only waiting or already posted.
    assert failing_posting_ids(engine, [1, 2, 3, 99]) == sorted([failed_id, retrying_id])
    assert failing_posting_ids(engine, [3]) == []
    assert failing_posting_ids(engine, []) == []


def test_search_and_transactions_over_a_long_history(engine: Engine) -> None:
    """The queries behind Payment Search and Transactions over a history of many payments
    (how fast they answer at 100,000 payments is measured by benchmarks/payments_benchmark.py).
    """
    total, orgs = 2_000, 40
    history = build_payment_history(engine, payments=total, organizations=orgs)
    refunded = list(history_fixture.refunded_payments(total))
    assert history.refunds == len(refunded) == total // history_fixture.REFUND_EVERY

    keys = payment_search_ids(engine, PaymentSearchCriteria())
    assert len(keys) == total + len(refunded)
    page = payment_search_rows(engine, keys[:200])
    assert len(page) == 200
    # Newest first: each refund comes 30 seconds after its payment, before the next one.
    assert [row.reference for row in page[:3]] == [
        history_fixture.reference(n) for n in (total, total - 1, total - 2)]
    dates = [row.date for row in page]
    assert dates == sorted(dates, reverse=True)
    oldest = payment_search_rows(engine, keys[-2:])
    assert [(row.type, row.reference) for row in oldest] == [
        (SearchType.REFUND, "RF-00000001"), (SearchType.SALE, history_fixture.reference(1))]
    assert oldest[0].refund_amount == Money(history_fixture.refund_minor(1), "USD")
    assert oldest[1].sale_amount == Money(history_fixture.sale_minor(1), "USD")

    one_org = payment_search_ids(engine, PaymentSearchCriteria(organization_id=17))
    expected = [n for n in range(total, 0, -1) if history_fixture.organization_of(n, orgs) == 17]
    assert [key for key in one_org if not is_refund_key(key)] == [
        sale_key(payment_id(engine, n)) for n in expected]
    assert len(one_org) == len(expected) + len(set(expected) & set(refunded))

    n = 1_500
    by_invoice = payment_search_ids(
        engine, PaymentSearchCriteria(invoice_number=history_fixture.invoice_number(n)))
    assert list(by_invoice) == [sale_key(payment_id(engine, n))]
    by_txn = payment_search_ids(
        engine, PaymentSearchCriteria(transaction_id=history_fixture.transaction_id(n).upper()))
    assert list(by_txn) == [sale_key(payment_id(engine, n))]

    by_amount = payment_search_ids(engine, PaymentSearchCriteria(type=SearchType.SALE),
                                   sort=SearchSort.AMOUNT)
    amounts = [row.sale_amount for row in payment_search_rows(engine, by_amount[:200])]
    assert amounts[0] == Money(max(history_fixture.sale_minor(m) for m in range(1, total + 1)),
                               "USD")
    assert amounts == sorted(amounts, key=lambda m: m.minor if m else 0, reverse=True)

    txn_ids = transaction_ids(engine)
    assert len(txn_ids) == total and txn_ids[0] == payment_id(engine, total)
    assert txn_ids[-1] == payment_id(engine, 1)
    assert [r.reference for r in transaction_rows(engine, txn_ids[:3])] == [
        history_fixture.reference(m) for m in (total, total - 1, total - 2)]
    assert list(transaction_ids(engine, text=history_fixture.transaction_id(n))) == [
        payment_id(engine, n)]


def payment_id(engine: Engine, n: int) -> int:
    with session_scope(engine) as s:
        found = s.scalar(select(Payment.id).where(
            Payment.reference == history_fixture.reference(n)))
    assert found is not None
    return int(found)


def test_the_stored_sale_amount_follows_the_taken_states(engine: Engine) -> None:
    """``payments.sale_amount_minor`` (computed by the database, sorted by its index) is the
    Sale Amount Payment Search shows: the total in a state whose money was taken, else 0."""
    with session_scope(engine) as s:
        for n, state in enumerate(PaymentState, start=1):
            s.add(Payment(id=n, reference=f"PD-T{n}", idempotency_key=f"t{n}",
                          organization_id=1, currency="USD", amount_minor=1_000 * n,
                          surcharge_minor=0, total_minor=1_000 * n, gateway="stripe",
                          state=state.value, created_at=T0, created_by="test"))
    with session_scope(engine) as s:
        stored = dict(s.execute(select(Payment.state, Payment.sale_amount_minor)).all())
    taken = set(SALE_TAKEN_STATES)
    for n, state in enumerate(PaymentState, start=1):
        assert stored[state.value] == (1_000 * n if state.value in taken else 0), state
    by_amount = list(payment_search_ids(engine, PaymentSearchCriteria(), sort=SearchSort.AMOUNT))
    rows = payment_search_rows(engine, by_amount)
    shown = [row.sale_amount.minor if row.sale_amount else 0 for row in rows]
    assert shown == sorted(shown, reverse=True)
