"""Nothing secret reaches a log line, even at DEBUG and before redaction: not the secret
key, not a card number, not a bank account number."""

from __future__ import annotations

import logging

import pytest

from app.core.gateways import HostedMode
from app.core.gateways.stripe_gateway import StripeGateway
from app.core.money import Money
from app.sandbox.gateway import GatewaySandbox
from tests.integration.gateway.support import submit_bank, submit_card


def test_debug_logs_hold_no_key_card_or_account_number(
    caplog: pytest.LogCaptureFixture, gateway: StripeGateway, sandbox: GatewaySandbox
) -> None:
    caplog.set_level(logging.DEBUG)
    customer = gateway.ensure_customer(5, "Acme Dental", None, idempotency_key="log-customer")
    card = gateway.start_hosted_session(customer, mode=HostedMode.SETUP,
                                        idempotency_key="log-card")
    assert submit_card(card.url, "4242424242424242", cvc="987").completed
    bank = gateway.start_hosted_session(customer, mode=HostedMode.SETUP,
                                        idempotency_key="log-bank")
    assert submit_bank(bank.url, "000123456789").completed
    [first, *_rest] = gateway.list_methods(customer)
    gateway.charge(customer, first.token, Money(1_000, "USD"), idempotency_key="log-pay",
                   reference="PD-LOG", description="Invoice 1")
    wrong = StripeGateway("sk_test_wrongkeyforlogs", api_base=sandbox.url,
                          max_network_retries=0)
    with pytest.raises(Exception, match="refused the secret key"):
        wrong.test_connection()
    text = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
    assert text  # the SDK and the sandbox did log
    for secret in (sandbox.secret_key, "sk_test_wrongkeyforlogs", "4242424242424242",
                   "000123456789", "cvc=987"):
        assert secret not in text
