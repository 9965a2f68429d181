"""Nothing secret reaches a log line, even at DEBUG: not the transaction key, not a card
number or card code, not a bank account number — through charges, hosted forms, refused
credentials and a lost answer."""

from __future__ import annotations

import logging

import pytest

from app.core.gateways import HostedMode
from app.core.gateways.authorizenet import AuthorizeNetGateway
from app.core.gateways.errors import AuthenticationFailed, NetworkUnknownOutcome
from app.core.money import Money
from app.sandbox.authorizenet import AuthorizeNetSandbox
from tests.integration.authorizenet.support import submit_bank, submit_card


def test_debug_logs_hold_no_key_card_or_account_number(
    caplog: pytest.LogCaptureFixture, gateway: AuthorizeNetGateway,
    sandbox: AuthorizeNetSandbox
) -> None:
    caplog.set_level(logging.DEBUG)
    customer = gateway.ensure_customer(5, "Acme Dental", None, idempotency_key="log-customer")
    card = gateway.start_hosted_session(customer, mode=HostedMode.SETUP,
                                        idempotency_key="log-card")
    assert submit_card(card.url, "4111111111111111", code="987").status == 200
    bank = gateway.start_hosted_session(customer, mode=HostedMode.SETUP,
                                        idempotency_key="log-bank")
    assert submit_bank(bank.url, "000123456789").status == 200
    [first, *_rest] = gateway.list_methods(customer)
    gateway.charge(customer, first.token, Money(1_000, "USD"), idempotency_key="log-pay",
                   reference="PD-LOG", description="Invoice 1")
    sandbox.add_fault("drop_after_commit", request="createTransactionRequest")
    with pytest.raises(NetworkUnknownOutcome):
        gateway.charge(customer, first.token, Money(2_000, "USD"), idempotency_key="log-2",
                       reference="PD-LOG2", description="Invoice 2")
    wrong = AuthorizeNetGateway(sandbox.api_login_id, "WrongKeyForLogs1", api_base=sandbox.url)
    with pytest.raises(AuthenticationFailed) as refused:
        wrong.test_connection()
    text = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
    text += repr(gateway) + repr(wrong) + str(refused.value) + repr(refused.value)
    assert "createTransactionRequest" in text  # the adapter and the stand-in did log
    for secret in (sandbox.transaction_key, "WrongKeyForLogs1", "4111111111111111",
                   "000123456789", "cardCode=987", "\"987\""):
        assert secret not in text
