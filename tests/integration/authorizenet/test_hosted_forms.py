"""Accept Customer (save a method) and Accept Hosted (pay, and save the method) on the
stand-in, posted over plain HTTP as a browser posts them; PayDesk sees only profile ids,
brand or bank, last 4 and expiry."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from app.core.gateways import ChargeStatus, HostedMode, HostedSessionState, MethodType
from app.core.gateways.authorizenet import AuthorizeNetGateway
from app.core.money import Money
from app.sandbox.authorizenet import AuthorizeNetSandbox
from tests.integration.authorizenet.support import (
    charges_for,
    read_launch,
    submit_bank,
    submit_card,
)


def test_save_a_card_on_the_hosted_profile_form(gateway: AuthorizeNetGateway, customer: str,
                                                sandbox: AuthorizeNetSandbox) -> None:
    session = gateway.start_hosted_session(customer, mode=HostedMode.SETUP,
                                           idempotency_key="setup-1")
    launch = read_launch(session.url)
    assert launch.action == f"{sandbox.url}/customer/addPayment"
    page = Path(unquote(urlsplit(session.url).path)).read_text(encoding="utf-8")
    assert "4111" not in page and sandbox.transaction_key not in page
    assert gateway.poll_hosted_session(session.session_id).state is HostedSessionState.OPEN
    answer = submit_card(session.url, "4111 1111 1111 1111", expiry="08/31")
    assert answer.status == 200 and "Saved" in answer.text
    status = gateway.poll_hosted_session(session.session_id)
    assert status.state is HostedSessionState.COMPLETE
    assert status.method is not None
    assert (status.method.summary, status.method.expiry, status.method.holder_name) == (
        "Visa •••• 1111", "08/2031", "Dana Client")
    # The token is spent: the form cannot be used a second time.
    assert "Already completed" in submit_card(session.url, "5424000000000015").text


def test_form_problems_are_shown_and_numbers_not_echoed(gateway: AuthorizeNetGateway,
                                                        customer: str) -> None:
    session = gateway.start_hosted_session(customer, mode=HostedMode.SETUP,
                                           idempotency_key="setup-2")
    wrong = submit_card(session.url, "4111 1111 1111 1112")
    assert wrong.status == 400 and "The card number is not valid." in wrong.text
    assert "4111 1111 1111 1112" not in wrong.text and "41111111" not in wrong.text
    assert gateway.poll_hosted_session(session.session_id).state is HostedSessionState.OPEN
    assert gateway.list_methods(customer) == []


def test_save_a_bank_account(gateway: AuthorizeNetGateway, customer: str) -> None:
    session = gateway.start_hosted_session(customer, mode=HostedMode.SETUP,
                                           idempotency_key="setup-3")
    assert submit_bank(session.url).status == 200
    status = gateway.poll_hosted_session(session.session_id)
    assert status.method is not None
    assert status.method.method_type is MethodType.US_BANK_ACCOUNT
    assert status.method.summary == "Wells Fargo Bank NA •••• 6789"


def test_pay_on_the_hosted_payment_form(gateway: AuthorizeNetGateway, customer: str,
                                        sandbox: AuthorizeNetSandbox) -> None:
    session = gateway.start_hosted_session(
        customer, mode=HostedMode.PAYMENT, amount=Money(128_000, "USD"),
        description="Payment for invoice 1045", reference="PD-HOST1",
        idempotency_key="pay-link-1")
    assert read_launch(session.url).action == f"{sandbox.url}/payment/payment"
    declined = submit_card(session.url, "4111111111111111", zip_code="46282")
    assert declined.status == 402 and "This transaction has been declined." in declined.text
    assert gateway.poll_hosted_session(session.session_id).state is HostedSessionState.OPEN
    # The client tries another card on the same form.
    paid = submit_card(session.url, "5424000000000015")
    assert paid.status == 200 and "was approved" in paid.text
    status = gateway.poll_hosted_session(session.session_id)
    assert status.state is HostedSessionState.COMPLETE
    assert status.charge is not None
    assert (status.charge.status, status.charge.amount, status.charge.reference) == (
        ChargeStatus.SUCCEEDED, Money(128_000, "USD"), "PD-HOST1")
    assert status.method is not None and status.method.summary == "Mastercard •••• 0015"
    assert [m.token for m in gateway.list_methods(customer)] == [status.method.token]
    assert [t["status"] for t in charges_for(sandbox, "PD-HOST1")] == [
        "declined", "capturedPendingSettlement"]
    # The saved card can be charged later without the client.
    later = gateway.charge(customer, status.method.token, Money(5_000, "USD"),
                           idempotency_key="later", reference="PD-LATER", description="x")
    assert later.status is ChargeStatus.SUCCEEDED


def test_cancelling_the_wait_reports_the_form_still_open(gateway: AuthorizeNetGateway,
                                                         customer: str) -> None:
    session = gateway.start_hosted_session(
        customer, mode=HostedMode.PAYMENT, amount=Money(1_000, "USD"), reference="PD-HOST2",
        idempotency_key="pay-link-2")
    status = gateway.expire_hosted_session(session.session_id)
    # Authorize.Net cannot withdraw a token: until it expires the client may still pay.
    assert status.state is HostedSessionState.OPEN
    assert status.expires_at == session.expires_at
    submit_card(session.url, "4111111111111111", save=False)
    assert gateway.expire_hosted_session(session.session_id).state is (
        HostedSessionState.COMPLETE)


def test_payment_form_needs_amount_and_reference(gateway: AuthorizeNetGateway,
                                                 customer: str) -> None:
    from app.core.gateways.errors import InvalidRequest

    with pytest.raises(InvalidRequest, match="Enter an amount"):
        gateway.start_hosted_session(customer, mode=HostedMode.PAYMENT, idempotency_key="x",
                                     reference="PD-X")


def test_paid_without_saving_the_method_still_says_with_what(
        gateway: AuthorizeNetGateway, customer: str, sandbox: AuthorizeNetSandbox) -> None:
    """The client unticks "save": the payment still names the bank account used (brand, last
    4), with no token, so nothing is offered for charging again."""
    session = gateway.start_hosted_session(
        customer, mode=HostedMode.PAYMENT, amount=Money(9_000, "USD"),
        description="Payment for invoice 1046", reference="PD-HOST3",
        idempotency_key="pay-link-3")
    assert submit_bank(session.url, "000123454321").status == 200
    status = gateway.poll_hosted_session(session.session_id)
    assert status.state is HostedSessionState.COMPLETE and status.charge is not None
    assert status.method is not None and status.method.token == ""
    assert status.method.method_type is MethodType.US_BANK_ACCOUNT
    assert status.method.last4 == "4321"
    assert gateway.list_methods(customer) == []


def test_paying_with_a_card_already_saved_charges_it(
        gateway: AuthorizeNetGateway, customer: str, sandbox: AuthorizeNetSandbox) -> None:
    """Accept Hosted with "save" ticked and the card already on the profile: Authorize.Net
    answers E00039 for the profile part only and charges the saved payment profile."""
    from tests.integration.authorizenet.support import save_card

    token = save_card(sandbox, customer, "4111111111111111")
    session = gateway.start_hosted_session(
        customer, mode=HostedMode.PAYMENT, amount=Money(2_500, "USD"),
        description="Payment for invoice 1047", reference="PD-HOST4",
        idempotency_key="pay-link-4")
    assert submit_card(session.url, "4111111111111111").status == 200
    status = gateway.poll_hosted_session(session.session_id)
    assert status.charge is not None and status.charge.status is ChargeStatus.SUCCEEDED
    assert status.method is not None and status.method.token == token
    assert [m.token for m in gateway.list_methods(customer)] == [token]
