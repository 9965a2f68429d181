"""Hosted pages: save a method, pay and save at once, expire, and the waiting states."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests

from app.core.gateways import (
    ChargeStatus,
    HostedMode,
    HostedSessionState,
    InvalidRequest,
    MethodType,
)
from app.core.gateways.stripe_gateway import StripeGateway
from app.core.money import Money
from app.sandbox.gateway import GatewaySandbox
from tests.integration.gateway.support import TIMEOUT, submit_bank, submit_card


def test_setup_session_saves_a_card_and_redirects_to_the_done_page(
    gateway: StripeGateway, customer: str
) -> None:
    session = gateway.start_hosted_session(customer, mode=HostedMode.SETUP,
                                           idempotency_key="hs-1")
    assert session.expires_at is not None
    assert session.expires_at > datetime.now(UTC) + timedelta(hours=23)
    assert gateway.poll_hosted_session(session.session_id).state is HostedSessionState.OPEN
    page = requests.get(session.url, timeout=TIMEOUT)
    assert page.status_code == 200
    assert "Northwind IT Services" in page.text and "Nothing is charged now" in page.text
    answer = submit_card(session.url, "5555555555554444", expiry="09/31", name="Dana Client")
    assert answer.completed and answer.location is not None
    done = requests.get(answer.location, timeout=TIMEOUT)
    assert "You can close this window" in done.text
    status = gateway.poll_hosted_session(session.session_id)
    assert status.state is HostedSessionState.COMPLETE
    assert status.method is not None
    assert (status.method.brand, status.method.last4, status.method.expiry) == (
        "mastercard", "4444", "09/2031")
    assert status.method.holder_name == "Dana Client"
    assert status.charge is None
    # A completed page cannot be used again.
    assert "already been completed" in requests.get(session.url, timeout=TIMEOUT).text


def test_payment_session_charges_and_saves_the_method(gateway: StripeGateway,
                                                      customer: str) -> None:
    session = gateway.start_hosted_session(
        customer, mode=HostedMode.PAYMENT, amount=Money(45_050, "USD"),
        description="Invoices 1045, 1046", reference="PD-H1", idempotency_key="hs-pay")
    page = requests.get(session.url, timeout=TIMEOUT).text
    assert "$450.50" in page and "Invoices 1045, 1046" in page
    # A decline first: the page says so and stays open for another card.
    declined = submit_card(session.url, "4000000000009995")
    assert "insufficient funds" in declined.text
    assert gateway.poll_hosted_session(session.session_id).state is HostedSessionState.OPEN
    assert submit_card(session.url, "4242424242424242").completed
    status = gateway.poll_hosted_session(session.session_id)
    assert status.state is HostedSessionState.COMPLETE
    assert status.charge is not None
    assert status.charge.status is ChargeStatus.SUCCEEDED
    assert status.charge.amount == Money(45_050, "USD")
    assert status.charge.reference == "PD-H1"
    assert status.method is not None and status.method.last4 == "4242"
    # Saved for later, and findable by its reference.
    assert [m.last4 for m in gateway.list_methods(customer)] == ["4242"]
    found = gateway.find_charge(reference="PD-H1", customer_id=customer)
    assert found is not None and found.charge_id == status.charge.charge_id


def test_payment_session_by_bank_account_is_processing(gateway: StripeGateway,
                                                       customer: str) -> None:
    session = gateway.start_hosted_session(
        customer, mode=HostedMode.PAYMENT, amount=Money(10_000, "USD"), reference="PD-H2",
        idempotency_key="hs-bank")
    assert submit_bank(session.url).completed
    status = gateway.poll_hosted_session(session.session_id)
    assert status.charge is not None and status.charge.status is ChargeStatus.PROCESSING
    assert status.method is not None
    assert status.method.method_type is MethodType.US_BANK_ACCOUNT


def test_bank_accounts_are_not_offered_for_other_currencies(gateway: StripeGateway,
                                                            customer: str) -> None:
    session = gateway.start_hosted_session(customer, mode=HostedMode.PAYMENT,
                                           amount=Money(10_000, "EUR"), idempotency_key="hs-e")
    page = requests.get(session.url, timeout=TIMEOUT).text
    assert "US bank account" not in page and "€100.00" in page


def test_expire_stops_the_page(gateway: StripeGateway, customer: str) -> None:
    session = gateway.start_hosted_session(customer, mode=HostedMode.SETUP,
                                           idempotency_key="hs-x")
    status = gateway.expire_hosted_session(session.session_id)
    assert status.state is HostedSessionState.EXPIRED
    page = requests.get(session.url, timeout=TIMEOUT)
    assert page.status_code == 410 and "expired" in page.text
    assert not submit_card(session.url, "4242424242424242").completed
    assert gateway.list_methods(customer) == []


def test_expire_after_completion_reports_the_completion(gateway: StripeGateway,
                                                        customer: str) -> None:
    session = gateway.start_hosted_session(customer, mode=HostedMode.SETUP,
                                           idempotency_key="hs-late")
    assert submit_card(session.url, "4242424242424242").completed
    status = gateway.expire_hosted_session(session.session_id)
    assert status.state is HostedSessionState.COMPLETE and status.method is not None


def test_payment_session_needs_an_amount(gateway: StripeGateway, customer: str) -> None:
    with pytest.raises(InvalidRequest):
        gateway.start_hosted_session(customer, mode=HostedMode.PAYMENT, idempotency_key="hs-0")


def test_hosted_page_sends_strict_security_headers(gateway: StripeGateway, customer: str,
                                                   sandbox: GatewaySandbox) -> None:
    session = gateway.start_hosted_session(customer, mode=HostedMode.SETUP,
                                           idempotency_key="hs-h")
    page = requests.get(session.url, timeout=TIMEOUT)
    assert page.headers["Cache-Control"] == "no-store"
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert "<script" not in page.text
    missing = requests.get(f"{sandbox.url}/checkout/cs_test_nothere", timeout=TIMEOUT)
    assert missing.status_code == 404 and "does not exist" in missing.text


def test_card_that_needs_3d_secure(gateway: StripeGateway, customer: str) -> None:
    """On the hosted page the cardholder is present and confirms; later off-session charges
    of the saved card need the cardholder again, which the bookkeeper is told in plain words."""
    session = gateway.start_hosted_session(
        customer, mode=HostedMode.PAYMENT, amount=Money(5_000, "USD"), reference="PD-3DS",
        idempotency_key="hs-3ds")
    assert submit_card(session.url, "4000002760003184").completed
    status = gateway.poll_hosted_session(session.session_id)
    assert status.charge is not None and status.charge.status is ChargeStatus.SUCCEEDED
    assert status.method is not None
    later = gateway.charge(customer, status.method.token, Money(5_000, "USD"),
                           idempotency_key="pay-3ds", reference="PD-3DS-2",
                           description="Invoice 1050")
    assert later.status is ChargeStatus.DECLINED
    assert later.decline is not None and later.decline.code == "authentication_required"
    assert "Send the client a payment link" in later.decline.reason
