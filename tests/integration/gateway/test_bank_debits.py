"""US bank debits: processing until settled or failed (admin endpoint or a set delay)."""

from __future__ import annotations

import time

import pytest

from app.core.gateways import ChargeStatus, HostedMode, MethodType
from app.core.gateways.stripe_gateway import StripeGateway
from app.core.money import Money
from app.sandbox.gateway import GatewaySandbox
from tests.integration.gateway.support import admin, submit_bank


def _saved_bank(gateway: StripeGateway, customer: str, account: str) -> str:
    session = gateway.start_hosted_session(customer, mode=HostedMode.SETUP,
                                           idempotency_key=f"setup-bank-{account}")
    answer = submit_bank(session.url, account)
    assert answer.completed, answer.text
    method = gateway.poll_hosted_session(session.session_id).method
    assert method is not None and method.method_type is MethodType.US_BANK_ACCOUNT
    assert method.summary == f"Stripe Test Bank •••• {account[-4:]}"
    return method.token


def test_bank_debit_stays_processing_until_settled(
    gateway: StripeGateway, customer: str, sandbox: GatewaySandbox
) -> None:
    token = _saved_bank(gateway, customer, "000123456789")
    result = gateway.charge(customer, token, Money(250_000, "USD"), idempotency_key="ach-1",
                            reference="PD-ACH-1", description="Invoice 2001")
    assert result.status is ChargeStatus.PROCESSING
    assert not result.status.is_final
    assert gateway.refresh_charge(result.charge_id).status is ChargeStatus.PROCESSING
    admin(sandbox, "POST", f"/_sandbox/payment_intents/{result.charge_id}/settle",
          {"outcome": "succeeded"})
    settled = gateway.refresh_charge(result.charge_id)
    assert settled.status is ChargeStatus.SUCCEEDED
    assert settled.amount == Money(250_000, "USD")


@pytest.mark.parametrize(
    ("account", "code", "words"),
    [
        ("000222222227", "insufficient_funds", "did not have enough money"),
        ("000111111113", "account_closed", "account is closed"),
        ("000333333335", "debit_not_authorized", "did not authorise it"),
    ],
)
def test_failing_test_accounts_fail_when_settled(
    gateway: StripeGateway, customer: str, sandbox: GatewaySandbox, account: str, code: str,
    words: str,
) -> None:
    token = _saved_bank(gateway, customer, account)
    result = gateway.charge(customer, token, Money(10_000, "USD"), idempotency_key=f"ach-{account}",
                            reference=f"PD-{account}", description="Invoice 2002")
    assert result.status is ChargeStatus.PROCESSING
    admin(sandbox, "POST", f"/_sandbox/payment_intents/{result.charge_id}/settle")
    failed = gateway.refresh_charge(result.charge_id)
    assert failed.status is ChargeStatus.DECLINED
    assert failed.decline is not None and failed.decline.code == code
    assert words in failed.decline.reason


def test_settle_can_force_a_failure(gateway: StripeGateway, customer: str,
                                    sandbox: GatewaySandbox) -> None:
    token = _saved_bank(gateway, customer, "000123456789")
    result = gateway.charge(customer, token, Money(10_000, "USD"), idempotency_key="ach-f",
                            reference="PD-F", description="Invoice 2003")
    admin(sandbox, "POST", f"/_sandbox/payment_intents/{result.charge_id}/settle",
          {"outcome": "failed", "failure_code": "no_account"})
    failed = gateway.refresh_charge(result.charge_id)
    assert failed.status is ChargeStatus.DECLINED
    assert failed.decline is not None and "could not find the account" in failed.decline.reason


def test_bank_debits_settle_by_themselves_after_the_configured_delay(
    gateway: StripeGateway, customer: str, sandbox: GatewaySandbox
) -> None:
    admin(sandbox, "POST", "/_sandbox/config", {"ach_settle_seconds": 0.3})
    token = _saved_bank(gateway, customer, "000123456789")
    result = gateway.charge(customer, token, Money(10_000, "USD"), idempotency_key="ach-d",
                            reference="PD-D", description="Invoice 2004")
    assert result.status is ChargeStatus.PROCESSING
    deadline = time.monotonic() + 5
    while gateway.refresh_charge(result.charge_id).status is ChargeStatus.PROCESSING:
        assert time.monotonic() < deadline, "the debit never settled"
        time.sleep(0.1)
    assert gateway.refresh_charge(result.charge_id).status is ChargeStatus.SUCCEEDED


def test_a_processing_bank_debit_can_be_voided(gateway: StripeGateway, customer: str) -> None:
    token = _saved_bank(gateway, customer, "000123456789")
    result = gateway.charge(customer, token, Money(10_000, "USD"), idempotency_key="ach-v",
                            reference="PD-V", description="Invoice 2005")
    voided = gateway.cancel(result.charge_id, idempotency_key="void-ach-v")
    assert voided.status is ChargeStatus.CANCELED
    assert gateway.refresh_charge(result.charge_id).status is ChargeStatus.CANCELED


def test_bank_form_checks_its_fields(gateway: StripeGateway, customer: str) -> None:
    session = gateway.start_hosted_session(customer, mode=HostedMode.SETUP,
                                           idempotency_key="setup-bank-bad")
    bad_routing = submit_bank(session.url, routing="123456789")
    assert not bad_routing.completed and "routing number is not valid" in bad_routing.text
    no_mandate = submit_bank(session.url, mandate=False)
    assert not no_mandate.completed and "Accept the debit authorization" in no_mandate.text
    assert 'value="000123456789"' not in no_mandate.text  # the account number is never echoed
    assert gateway.list_methods(customer) == []
