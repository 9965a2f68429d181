"""Order-summary maths: allocation, validation messages, surcharge (pure; no database)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from app.core.money import Money
from app.core.payments import (
    MethodInfo,
    PayableInvoice,
    SurchargeSettings,
    compute_order_summary,
)

USD = "USD"
DAY0 = date(2026, 1, 1)


def invoice(invoice_id: int, balance: int, due_in: int = 0, *, total: int | None = None,
            org: int = 7, blocked: str | None = None, currency: str = USD) -> PayableInvoice:
    return PayableInvoice(
        invoice_id=invoice_id,
        invoice_number=str(1000 + invoice_id),
        organization_id=org,
        invoice_date=DAY0,
        due_date=DAY0 + timedelta(days=due_in),
        total=Money(total if total is not None else balance, currency),
        balance=Money(balance, currency),
        blocked_reason=blocked,
    )


invoices_strategy = st.lists(
    st.tuples(st.integers(1, 5_000_000), st.integers(0, 120)), min_size=1, max_size=6
).map(lambda items: [invoice(i + 1, bal, due) for i, (bal, due) in enumerate(items)])


# --- properties -------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(invoices=invoices_strategy, data=st.data())
def test_any_allocation_sums_to_the_amount_and_never_exceeds_a_balance(
    invoices: list[PayableInvoice], data: st.DataObject
) -> None:
    owed = sum(inv.balance.minor for inv in invoices)
    assume(owed > 101)
    amount = data.draw(st.integers(101, owed), label="amount")
    edited = data.draw(st.sets(st.sampled_from([inv.invoice_id for inv in invoices])),
                       label="edited")
    edits = {}
    for inv in invoices:
        if inv.invoice_id in edited:
            edits[inv.invoice_id] = Money(
                data.draw(st.integers(0, inv.balance.minor), label=f"share {inv.invoice_id}"),
                USD)
    summary = compute_order_summary(invoices, currency=USD, amount=Money(amount, USD),
                                    allocation_edits=edits)

    if sum(m.minor for m in edits.values()) <= amount and amount - sum(
        m.minor for m in edits.values()
    ) <= sum(inv.balance.minor for inv in invoices if inv.invoice_id not in edits) and (
        len(edits) < len(invoices) or sum(m.minor for m in edits.values()) == amount
    ):
        assert summary.can_pay, summary.error
    if not summary.can_pay:
        assert summary.error
        return
    by_id = {inv.invoice_id: inv for inv in invoices}
    allocated = summary.allocations
    assert sum(m.minor for _, m in allocated) == amount
    for invoice_id, share in allocated:
        assert isinstance(share.minor, int) and share.minor > 0
        assert share <= by_id[invoice_id].balance
    for invoice_id, share in edits.items():
        line = next(line for line in summary.lines if line.invoice_id == invoice_id)
        assert line.amount == share and line.edited
    assert summary.total == summary.amount  # no surcharge without a credit card


@settings(max_examples=200, deadline=None)
@given(invoices=invoices_strategy, data=st.data())
def test_money_goes_to_the_oldest_due_first(
    invoices: list[PayableInvoice], data: st.DataObject
) -> None:
    owed = sum(inv.balance.minor for inv in invoices)
    assume(owed > 101)
    amount = data.draw(st.integers(101, owed))
    summary = compute_order_summary(invoices, currency=USD, amount=Money(amount, USD))
    assert summary.can_pay
    ordered = sorted(invoices, key=lambda inv: (inv.due_date, inv.invoice_id))
    shares = {line.invoice_id: line.amount for line in summary.lines}
    seen_partial = False
    for inv in ordered:
        share = shares[inv.invoice_id]
        assert share is not None
        if seen_partial:
            assert share.minor == 0
        elif share != inv.balance:
            seen_partial = True
    assert [line.invoice_id for line in summary.lines] == [inv.invoice_id for inv in ordered]


@given(whole=st.integers(2, 99_999), cents=st.integers(0, 99), extra=st.integers(1, 9))
def test_fractional_minor_units_are_refused_not_rounded(whole: int, cents: int,
                                                        extra: int) -> None:
    summary = compute_order_summary([invoice(1, 10_000_000)], currency=USD,
                                    amount=f"{whole}.{cents:02d}{extra}")
    assert not summary.can_pay
    assert summary.amount_error == "USD amounts have at most 2 decimal places"
    assert summary.total is None


@given(balance=st.integers(200, 10**8), over=st.integers(1, 10**6))
def test_more_than_owed_is_refused(balance: int, over: int) -> None:
    summary = compute_order_summary([invoice(1, balance)], currency=USD,
                                    amount=Money(balance + over, USD))
    assert not summary.can_pay
    assert summary.amount_error is not None and "cannot be overpaid" in summary.amount_error


# --- examples a bookkeeper would try -----------------------------------------------------------


def test_amount_defaults_to_everything_owed() -> None:
    summary = compute_order_summary([invoice(1, 50_000), invoice(2, 25_000, due_in=-5)],
                                    currency=USD)
    assert summary.amount == Money(75_000, USD)
    assert summary.can_pay and summary.warnings == ()
    assert [line.invoice_id for line in summary.lines] == [2, 1]  # oldest due first


def test_partial_payment_warns_what_is_left() -> None:
    summary = compute_order_summary([invoice(1, 50_000)], currency=USD, amount="200")
    assert summary.can_pay
    assert summary.warnings == ("Leaves $300.00 owing on invoice 1001.",)


def test_edited_share_and_the_rest_oldest_first() -> None:
    invoices = [invoice(1, 50_000), invoice(2, 25_000, due_in=10), invoice(3, 12_050, due_in=20)]
    summary = compute_order_summary(invoices, currency=USD, amount="600",
                                    allocation_edits={2: "100"})
    assert dict(summary.allocations) == {1: Money(50_000, USD), 2: Money(10_000, USD)}


def test_validation_messages() -> None:
    one = [invoice(1, 50_000)]

    def error(**kwargs: object) -> str | None:
        return compute_order_summary(one, currency=USD, **kwargs).error  # type: ignore[arg-type]

    assert error(amount="") == "Enter an amount"
    assert error(amount="abc") == "“abc” is not an amount"
    assert error(amount="0") == "Enter an amount greater than zero."
    assert error(amount="-5") == "Enter an amount greater than zero."
    assert error(amount="1.00") == "Autotask only records payments of more than $1.00."
    assert error(amount="1.01") is None
    assert error(amount="500.01") == (
        "That is more than the $500.00 owed on these invoices; it cannot be overpaid.")
    big = [invoice(1, 2_000_000_000)]
    assert compute_order_summary(big, currency=USD, amount="10,000,000").error == (
        "Autotask only records payments of less than $10,000,000.00.")
    assert compute_order_summary(big, currency=USD, amount="9,999,999.99").error is None
    assert compute_order_summary([], currency=USD).error == "Choose at least one invoice to pay."
    assert compute_order_summary([invoice(1, 100, org=1), invoice(2, 100, org=2)],
                                 currency=USD).error == (
        "One payment can only pay invoices of one organization.")


def test_share_errors_name_the_invoice() -> None:
    invoices = [invoice(1, 50_000), invoice(2, 25_000)]
    summary = compute_order_summary(invoices, currency=USD, allocation_edits={2: "300"})
    assert summary.error == (
        "Invoice 1002: Only $250.00 is owed on this invoice; it cannot be overpaid.")
    summary = compute_order_summary(invoices, currency=USD, amount="100",
                                    allocation_edits={1: "90", 2: "20"})
    assert summary.error == (
        "The invoice amounts add up to $110.00, more than the $100.00 to pay. "
        "Lower them or raise the amount.")
    summary = compute_order_summary(invoices, currency=USD, amount="100",
                                    allocation_edits={1: "50", 2: "20"})
    assert summary.error == (
        "The invoice amounts add up to $70.00, not the $100.00 to pay. "
        "Change an invoice amount or the amount to pay.")


def test_blocked_invoices_cannot_be_paid() -> None:
    void = invoice(1, 0, total=50_000, blocked="Invoice 1001 is void and cannot be paid.")
    running = invoice(2, 25_000, blocked="Invoice 1002 is in payment PD-1, which is still "
                      "running. Wait for it to finish.")
    assert compute_order_summary([void], currency=USD).error == (
        "Invoice 1001 is void and cannot be paid.")
    summary = compute_order_summary([void, invoice(3, 10_000)], currency=USD)
    assert not summary.can_pay and summary.error == "Invoice 1001 is void and cannot be paid."
    assert compute_order_summary([void, running], currency=USD).error == (
        "None of these invoices can be paid now.")


def test_zero_decimal_currency() -> None:
    summary = compute_order_summary([invoice(1, 500_000, currency="JPY")], currency="JPY",
                                    amount="1234.5")
    assert summary.amount_error == "JPY amounts have at most whole units"
    summary = compute_order_summary([invoice(1, 500_000, currency="JPY")], currency="JPY",
                                    amount="1234")
    assert summary.can_pay and summary.total == Money(1234, "JPY")


# --- surcharge -----------------------------------------------------------------------------------

CREDIT = MethodInfo("card", "credit")
ON = SurchargeSettings(enabled=True, percent=Decimal("2.5"))


def test_surcharge_is_off_by_default() -> None:
    summary = compute_order_summary([invoice(1, 10_000)], currency=USD, method=CREDIT)
    assert summary.surcharge == Money(0, USD) and summary.surcharge_disclosure is None


def test_surcharge_on_credit_cards_with_its_disclosure() -> None:
    summary = compute_order_summary([invoice(1, 10_000)], currency=USD, method=CREDIT,
                                    surcharge=ON)
    assert summary.surcharge == Money(250, USD)
    assert summary.total == Money(10_250, USD)
    assert summary.surcharge_percent == Decimal("2.5")
    assert summary.surcharge_disclosure is not None
    assert "2.5%" in summary.surcharge_disclosure


def test_never_a_surcharge_on_debit_prepaid_bank_or_unknown() -> None:
    for method in (MethodInfo("card", "debit"), MethodInfo("card", "prepaid"),
                   MethodInfo("card", None), MethodInfo("card", "unknown"),
                   MethodInfo("us_bank_account"), None):
        summary = compute_order_summary([invoice(1, 10_000)], currency=USD, method=method,
                                        surcharge=ON)
        assert summary.surcharge == Money(0, USD), method
        assert summary.total == Money(10_000, USD)


def test_surcharge_is_capped_at_three_percent() -> None:
    rules = SurchargeSettings(enabled=True, percent=Decimal("4.5"))
    summary = compute_order_summary([invoice(1, 10_000)], currency=USD, method=CREDIT,
                                    surcharge=rules)
    assert summary.surcharge == Money(300, USD)


@given(amount=st.integers(101, 10**9 - 1), percent=st.decimals("0.01", "3", places=2))
def test_surcharge_is_whole_minor_units_and_at_most_three_percent(amount: int,
                                                                  percent: Decimal) -> None:
    summary = compute_order_summary(
        [invoice(1, amount)], currency=USD, method=CREDIT,
        surcharge=SurchargeSettings(enabled=True, percent=percent))
    assert summary.total is not None
    assert summary.total.minor == amount + summary.surcharge.minor
    assert 0 <= summary.surcharge.minor * 100 <= amount * 3 + 50
