"""Every Stripe test card through the adapter and the sandbox over HTTP: on the hosted page
(save a card) and as saved methods being charged."""

from __future__ import annotations

import pytest

from app.core.gateways import (
    ChargeStatus,
    HostedMode,
    HostedSessionState,
    MethodType,
)
from app.core.gateways.stripe_gateway import StripeGateway
from app.core.money import Money
from app.sandbox.gateway import GatewaySandbox
from tests.integration.gateway.support import attach_test_method, submit_card

# number → (what the page says, decline code the sandbox records) ; None = saved
HOSTED_OUTCOMES = {
    "4242424242424242": None,
    "4000000000000002": ("Your card was declined.", "generic_decline"),
    "4000000000009995": ("Your card has insufficient funds.", "insufficient_funds"),
    "4000000000009987": ("Your card was declined.", "lost_card"),
    "4000000000009979": ("Your card was declined.", "stolen_card"),
    "4000000000000069": ("Your card has expired.", "expired_card"),
    "4000000000000127": ("Your card&#x27;s security code is incorrect.", "incorrect_cvc"),
    "4000000000000119": ("An error occurred while processing your card.", "processing_error"),
    "4242424242424241": ("Your card number is incorrect.", None),
}


@pytest.mark.parametrize("number", list(HOSTED_OUTCOMES))
def test_hosted_page_gives_each_test_card_its_documented_outcome(
    gateway: StripeGateway, customer: str, number: str
) -> None:
    session = gateway.start_hosted_session(customer, mode=HostedMode.SETUP,
                                           idempotency_key=f"setup-{number}")
    answer = submit_card(session.url, number)
    expected = HOSTED_OUTCOMES[number]
    status = gateway.poll_hosted_session(session.session_id)
    if expected is None:
        assert answer.completed
        assert status.state is HostedSessionState.COMPLETE
        assert status.method is not None and status.method.last4 == number[-4:]
        assert [m.token for m in gateway.list_methods(customer)] == [status.method.token]
    else:
        message, _code = expected
        assert not answer.completed
        assert message in answer.text
        # The person can try again: the session stays open and nothing was saved.
        assert status.state is HostedSessionState.OPEN
        assert gateway.list_methods(customer) == []
    # The page never echoes the card number back.
    assert number not in answer.text


DECLINING_METHODS = {
    "pm_card_chargeDeclined": ("card_declined", "generic_decline", "declined by the client's bank"),
    "pm_card_chargeDeclinedInsufficientFunds": ("card_declined", "insufficient_funds",
                                                "insufficient funds"),
    "pm_card_chargeDeclinedLostCard": ("card_declined", "lost_card", "reported lost"),
    "pm_card_chargeDeclinedStolenCard": ("card_declined", "stolen_card", "reported stolen"),
    "pm_card_chargeDeclinedExpiredCard": ("expired_card", "expired_card", "has expired"),
    "pm_card_chargeDeclinedIncorrectCvc": ("incorrect_cvc", "incorrect_cvc", "security code"),
    "pm_card_chargeDeclinedProcessingError": ("processing_error", "processing_error",
                                              "processing error"),
    "pm_card_authenticationRequired": ("authentication_required", "authentication_required",
                                       "confirm this payment"),
}


@pytest.mark.parametrize("alias", list(DECLINING_METHODS))
def test_charging_a_saved_declining_card_returns_a_plain_language_decline(
    gateway: StripeGateway, customer: str, sandbox: GatewaySandbox, alias: str
) -> None:
    token = attach_test_method(sandbox, customer, alias)
    result = gateway.charge(customer, token, Money(4_500, "USD"),
                            idempotency_key=f"pay-{alias}", reference=f"P-{alias}",
                            description="Invoice 1045")
    code, decline_code, words = DECLINING_METHODS[alias]
    assert result.status is ChargeStatus.DECLINED
    assert result.decline is not None
    assert (result.decline.code, result.decline.decline_code) == (code, decline_code)
    assert words in result.decline.reason
    assert result.amount == Money(4_500, "USD")
    assert result.reference == f"P-{alias}"
    # The lookup used for recovery sees the same outcome.
    found = gateway.find_charge(reference=f"P-{alias}", customer_id=customer)
    assert found is not None and found.status is ChargeStatus.DECLINED


def test_card_that_saves_fine_then_declines_every_charge(
    gateway: StripeGateway, customer: str
) -> None:
    session = gateway.start_hosted_session(customer, mode=HostedMode.SETUP,
                                           idempotency_key="setup-0341")
    assert submit_card(session.url, "4000000000000341").completed
    method = gateway.poll_hosted_session(session.session_id).method
    assert method is not None and method.method_type is MethodType.CARD
    result = gateway.charge(customer, method.token, Money(10_000, "USD"),
                            idempotency_key="pay-0341", reference="P-0341",
                            description="Invoice 1046")
    assert result.status is ChargeStatus.DECLINED
    assert result.decline is not None and "declined" in result.decline.reason
