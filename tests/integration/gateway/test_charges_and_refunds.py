"""Charging saved methods, looking charges up, refunds (full and partial) and voids."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.core.gateways import (
    ChargeStatus,
    HostedMode,
    InvalidRequest,
    RefundStatus,
)
from app.core.gateways.stripe_gateway import StripeGateway
from app.core.money import Money
from app.sandbox.gateway import GatewaySandbox
from tests.integration.gateway.support import (
    attach_test_method,
    intents_with_reference,
    submit_card,
)


def _saved_card(gateway: StripeGateway, customer: str, number: str = "4242424242424242") -> str:
    session = gateway.start_hosted_session(customer, mode=HostedMode.SETUP,
                                           idempotency_key=f"setup-{number}")
    assert submit_card(session.url, number).completed
    method = gateway.poll_hosted_session(session.session_id).method
    assert method is not None
    return method.token


def test_charge_a_card_saved_on_the_hosted_page(gateway: StripeGateway, customer: str,
                                                sandbox: GatewaySandbox) -> None:
    token = _saved_card(gateway, customer)
    before = datetime.now(UTC)
    result = gateway.charge(customer, token, Money(123_456, "USD"), idempotency_key="pay-1",
                            reference="PD-000001", description="Invoices 1045, 1046",
                            metadata={"invoices": "1045,1046", "organization": "1001"},
                            statement_descriptor="INV 1045*1046")
    assert result.status is ChargeStatus.SUCCEEDED
    assert result.amount == Money(123_456, "USD")
    assert result.amount_refunded == Money(0, "USD")
    assert result.reference == "PD-000001" and result.idempotency_key == "pay-1"
    assert result.transaction_id is not None and result.transaction_id.startswith("ch_")
    assert result.method is not None and result.method.summary == "Visa •••• 4242"
    assert result.customer_id == customer
    assert result.created_at is not None and result.created_at >= before.replace(microsecond=0)
    assert result.metadata["invoices"] == "1045,1046"
    [intent] = intents_with_reference(sandbox, "PD-000001")
    assert intent["status"] == "succeeded" and intent["amount"] == 123_456


def test_find_charge_by_reference_or_key_with_and_without_customer(
    gateway: StripeGateway, customer: str, sandbox: GatewaySandbox
) -> None:
    token = attach_test_method(sandbox, customer, "pm_card_mastercard")
    started = datetime.now(UTC)
    charged = gateway.charge(customer, token, Money(5_000, "USD"), idempotency_key="key-A",
                             reference="PD-A", description="Invoice 1")
    for found in (
        gateway.find_charge(reference="PD-A"),
        gateway.find_charge(idempotency_key="key-A"),
        gateway.find_charge(reference="PD-A", idempotency_key="key-A", customer_id=customer,
                            created_after=started),
    ):
        assert found is not None
        assert found.charge_id == charged.charge_id
        assert found.status is ChargeStatus.SUCCEEDED
    assert gateway.find_charge(reference="PD-NEVER") is None
    assert gateway.find_charge(reference="PD-NEVER", customer_id=customer) is None
    assert gateway.find_charge(reference="PD-A", idempotency_key="other-key") is None


def test_partial_then_full_refund(gateway: StripeGateway, customer: str,
                                  sandbox: GatewaySandbox) -> None:
    token = attach_test_method(sandbox, customer, "pm_card_visa")
    charged = gateway.charge(customer, token, Money(10_000, "USD"), idempotency_key="pay-r",
                             reference="PD-R", description="Invoice 7")
    partial = gateway.refund(charged.charge_id, Money(2_500, "USD"), idempotency_key="refund-1",
                             reason="Credit for a late fee", reference="RF-1")
    assert partial.status is RefundStatus.SUCCEEDED
    assert partial.amount == Money(2_500, "USD")
    assert gateway.refresh_charge(charged.charge_id).amount_refunded == Money(2_500, "USD")

    # Too much is refused in plain words and changes nothing.
    with pytest.raises(InvalidRequest) as too_much:
        gateway.refund(charged.charge_id, Money(9_000, "USD"), idempotency_key="refund-2")
    assert "greater than" in too_much.value.message
    assert too_much.value.code == "amount_too_large"

    rest = gateway.refund(charged.charge_id, None, idempotency_key="refund-3")
    assert rest.amount == Money(7_500, "USD")
    assert gateway.refresh_charge(charged.charge_id).amount_refunded == Money(10_000, "USD")
    with pytest.raises(InvalidRequest):
        gateway.refund(charged.charge_id, None, idempotency_key="refund-4")


def test_refund_replayed_with_the_same_key_refunds_once(
    gateway: StripeGateway, customer: str, sandbox: GatewaySandbox
) -> None:
    token = attach_test_method(sandbox, customer, "pm_card_visa")
    charged = gateway.charge(customer, token, Money(10_000, "USD"), idempotency_key="pay-rr",
                             reference="PD-RR", description="Invoice 8")
    first = gateway.refund(charged.charge_id, Money(1_000, "USD"), idempotency_key="refund-x")
    again = gateway.refund(charged.charge_id, Money(1_000, "USD"), idempotency_key="refund-x")
    assert first.refund_id == again.refund_id
    assert gateway.refresh_charge(charged.charge_id).amount_refunded == Money(1_000, "USD")


def test_a_settled_card_charge_cannot_be_voided(gateway: StripeGateway, customer: str,
                                                sandbox: GatewaySandbox) -> None:
    token = attach_test_method(sandbox, customer, "pm_card_visa")
    charged = gateway.charge(customer, token, Money(2_000, "USD"), idempotency_key="pay-v",
                             reference="PD-V", description="Invoice 9")
    with pytest.raises(InvalidRequest) as caught:
        gateway.cancel(charged.charge_id, idempotency_key="void-v")
    assert caught.value.code == "payment_intent_unexpected_state"


def test_charge_in_another_currency_and_zero_amount_refused(
    gateway: StripeGateway, customer: str, sandbox: GatewaySandbox
) -> None:
    token = attach_test_method(sandbox, customer, "pm_card_visa")
    euros = gateway.charge(customer, token, Money(9_999, "EUR"), idempotency_key="pay-eur",
                           reference="PD-EUR", description="Invoice 10")
    assert euros.status is ChargeStatus.SUCCEEDED and euros.amount == Money(9_999, "EUR")
    with pytest.raises(InvalidRequest):
        gateway.charge(customer, token, Money(0, "USD"), idempotency_key="pay-zero",
                       reference="PD-0", description="nothing")
    with pytest.raises(InvalidRequest) as small:
        gateway.charge(customer, token, Money(10, "USD"), idempotency_key="pay-small",
                       reference="PD-S", description="too small")
    assert small.value.code == "amount_too_small"


def test_unknown_method_is_an_invalid_request(gateway: StripeGateway, customer: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        gateway.charge(customer, "pm_doesnotexist", Money(5_000, "USD"),
                       idempotency_key="pay-missing", reference="PD-M", description="x")
    assert caught.value.code == "resource_missing"
