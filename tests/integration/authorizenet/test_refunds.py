"""Voids and refunds with Authorize.Net's settlement rules: a void while unsettled (the whole
amount only), a refund after settlement, partial refunds, never more than was charged, the
120-day limit — each refused case with a message a bookkeeper can act on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.core.gateways import ChargeStatus, RefundStatus
from app.core.gateways.authorizenet import AuthorizeNetGateway
from app.core.gateways.errors import InvalidRequest
from app.core.money import Money
from app.sandbox.authorizenet import AuthorizeNetSandbox
from tests.integration.authorizenet.support import save_bank, save_card


def _paid(gateway: AuthorizeNetGateway, sandbox: AuthorizeNetSandbox, customer: str,
          reference: str = "PD-REF1", minor: int = 50_000) -> str:
    token = save_card(sandbox, customer)
    result = gateway.charge(customer, token, Money(minor, "USD"),
                            idempotency_key=f"key-{reference}", reference=reference,
                            description="Invoice 1045")
    assert result.status is ChargeStatus.SUCCEEDED
    return result.charge_id


def _refunds(sandbox: AuthorizeNetSandbox) -> list[dict[str, object]]:
    return [t for t in sandbox.transactions() if t["type"] == "refundTransaction"]


def test_unsettled_payment_is_voided(gateway: AuthorizeNetGateway, customer: str,
                                     sandbox: AuthorizeNetSandbox) -> None:
    charge_id = _paid(gateway, sandbox, customer)
    refund = gateway.refund(charge_id, None, idempotency_key="r1", reference="RF-1")
    assert refund.status is RefundStatus.SUCCEEDED
    assert refund.amount == Money(50_000, "USD")
    assert gateway.refresh_charge(charge_id).status is ChargeStatus.CANCELED
    assert gateway.refresh_refund(refund.refund_id).status is RefundStatus.SUCCEEDED
    assert _refunds(sandbox) == []  # a void is not a refund transaction
    # Voiding again is harmless.
    assert gateway.cancel(charge_id, idempotency_key="r1-again").status is ChargeStatus.CANCELED


def test_partial_refund_before_settlement_is_explained(
        gateway: AuthorizeNetGateway, customer: str, sandbox: AuthorizeNetSandbox) -> None:
    charge_id = _paid(gateway, sandbox, customer)
    with pytest.raises(InvalidRequest) as refused:
        gateway.refund(charge_id, Money(10_000, "USD"), idempotency_key="r1", reference="RF-1")
    assert refused.value.message == (
        "This payment has not settled yet (Authorize.Net settles once a day), so only the "
        "whole $500.00 can be given back now (Authorize.Net cancels the charge). Refund the "
        "whole amount, or refund part of it after it settles, usually tomorrow.")
    assert gateway.refresh_charge(charge_id).status is ChargeStatus.SUCCEEDED


def test_partial_refunds_after_settlement(gateway: AuthorizeNetGateway, customer: str,
                                          sandbox: AuthorizeNetSandbox) -> None:
    charge_id = _paid(gateway, sandbox, customer)
    sandbox.settle()
    with pytest.raises(InvalidRequest, match="already settled, so it can no longer be cancel"):
        gateway.cancel(charge_id, idempotency_key="void")
    first = gateway.refund(charge_id, Money(20_000, "USD"), idempotency_key="r1",
                           reference="RF-1", reason="Overbilled hours")
    assert (first.status, first.amount, first.charge_id) == (
        RefundStatus.SUCCEEDED, Money(20_000, "USD"), charge_id)
    # The same refund asked again (a lost answer) is found, not made twice.
    again = gateway.refund(charge_id, Money(20_000, "USD"), idempotency_key="r1",
                           reference="RF-1", reason="Overbilled hours")
    assert again.refund_id == first.refund_id
    second = gateway.refund(charge_id, Money(25_000, "USD"), idempotency_key="r2",
                            reference="RF-2")
    assert second.refund_id != first.refund_id
    assert [t["amount"] for t in _refunds(sandbox)] == ["200.00", "250.00"]
    with pytest.raises(InvalidRequest) as too_much:
        gateway.refund(charge_id, Money(6_000, "USD"), idempotency_key="r3", reference="RF-3")
    assert too_much.value.message == (
        "The refund is more than is left of this payment after earlier refunds. Refund a "
        "smaller amount.")
    last = gateway.refund(charge_id, Money(5_000, "USD"), idempotency_key="r4",
                          reference="RF-4")
    assert last.status is RefundStatus.SUCCEEDED
    assert len(_refunds(sandbox)) == 3


def test_bank_debit_refund_after_settlement(gateway: AuthorizeNetGateway, customer: str,
                                            sandbox: AuthorizeNetSandbox) -> None:
    token = save_bank(sandbox, customer)
    charge = gateway.charge(customer, token, Money(30_000, "USD"), idempotency_key="ach",
                            reference="PD-ACH", description="Invoice 5")
    assert charge.status is ChargeStatus.PROCESSING
    sandbox.settle()
    refund = gateway.refund(charge.charge_id, Money(10_000, "USD"), idempotency_key="ra",
                            reference="RF-ACH")
    assert refund.status is RefundStatus.SUCCEEDED


def test_refund_after_120_days_is_refused_plainly(gateway: AuthorizeNetGateway, customer: str,
                                                  sandbox: AuthorizeNetSandbox) -> None:
    charge_id = _paid(gateway, sandbox, customer)
    settled = datetime.now(UTC) - timedelta(days=121)
    sandbox.settle(at=settled)
    with pytest.raises(InvalidRequest) as refused:
        gateway.refund(charge_id, Money(1_000, "USD"), idempotency_key="old",
                       reference="RF-OLD")
    assert refused.value.message == (
        f"This payment settled on {settled:%B %d, %Y}, more than 120 days ago, and "
        "Authorize.Net refunds only within 120 days of settlement. Refund the client another "
        "way (a check or a credit on the account).")
    assert _refunds(sandbox) == []


def test_the_stand_in_enforces_120_days_itself(gateway: AuthorizeNetGateway, customer: str,
                                               sandbox: AuthorizeNetSandbox) -> None:
    """Authorize.Net refuses such a refund with reason 54 even when asked directly."""
    from tests.integration.authorizenet.support import raw_call

    charge_id = _paid(gateway, sandbox, customer)
    sandbox.settle(at=datetime.now(UTC) - timedelta(days=130))
    answer = raw_call(sandbox, "createTransactionRequest", {"transactionRequest": {
        "transactionType": "refundTransaction", "amount": "5.00",
        "payment": {"creditCard": {"cardNumber": "1111", "expirationDate": "XXXX"}},
        "refTransId": charge_id}})
    assert answer["transactionResponse"]["errors"][0]["errorCode"] == "54"
    assert _refunds(sandbox) == []


def test_declined_payment_cannot_be_refunded(gateway: AuthorizeNetGateway, customer: str,
                                             sandbox: AuthorizeNetSandbox) -> None:
    token = save_card(sandbox, customer, zip_code="46282")
    declined = gateway.charge(customer, token, Money(1_000, "USD"), idempotency_key="d",
                              reference="PD-D", description="x")
    assert declined.status is ChargeStatus.DECLINED
    with pytest.raises(InvalidRequest, match="was not charged, so there is nothing to refund"):
        gateway.refund(declined.charge_id, None, idempotency_key="rd", reference="RF-D")
