"""The sandbox's hosted checkout page in a real headless Chromium, driven by Playwright:
a succeeding card, a declined card and a bank account, checked against the sandbox's state
and the Stripe adapter's view of it.

Set ``PAYDESK_SCREENSHOT_DIR`` to keep screenshots of the page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.core.gateways import (
    ChargeStatus,
    HostedMode,
    HostedSessionState,
    MethodType,
)
from app.core.gateways.stripe_gateway import StripeGateway
from app.core.money import Money
from app.sandbox.gateway import GatewaySandbox
from tests.integration.browser import needs_chromium, screenshot
from tests.integration.gateway.support import admin

pytestmark = needs_chromium

if TYPE_CHECKING:
    from playwright.sync_api import Page


def _fill_card(page: Page, number: str) -> None:
    page.fill("#cardholder_name", "Dana Client")
    page.fill("#card_number", number)
    page.fill("#card_expiry", "08 / 31")
    page.fill("#card_cvc", "314")
    page.fill("#postal_code", "02139")


def test_card_that_succeeds(page: Page, gateway: StripeGateway, customer: str,
                            sandbox: GatewaySandbox) -> None:
    session = gateway.start_hosted_session(customer, mode=HostedMode.SETUP,
                                           idempotency_key="browser-ok")
    page.goto(session.url)
    assert page.title() == "Northwind IT Services — secure payment form"
    assert page.locator("#test_mode_badge").inner_text().lower() == "test mode"
    _fill_card(page, "4242 4242 4242 4242")
    screenshot(page, "gateway-checkout-card.png")
    page.click("#submit")
    page.wait_for_selector("#message_title")
    assert page.locator("#message_title").inner_text() == "All done"
    assert "You can close this window" in page.locator("#message_text").inner_text()

    status = gateway.poll_hosted_session(session.session_id)
    assert status.state is HostedSessionState.COMPLETE
    assert status.method is not None
    assert (status.method.summary, status.method.expiry) == ("Visa •••• 4242", "08/2031")
    assert status.method.holder_name == "Dana Client"
    [saved] = gateway.list_methods(customer)
    assert saved.token == status.method.token
    assert admin(sandbox, "GET", "/_sandbox/state")["counts"]["setup_intent"] == 1
    charged = gateway.charge(customer, saved.token, Money(19_900, "USD"),
                             idempotency_key="browser-charge", reference="PD-B1",
                             description="Invoice 4001")
    assert charged.status is ChargeStatus.SUCCEEDED


def test_card_that_is_declined(page: Page, gateway: StripeGateway, customer: str) -> None:
    session = gateway.start_hosted_session(customer, mode=HostedMode.SETUP,
                                           idempotency_key="browser-declined")
    page.goto(session.url)
    _fill_card(page, "4000 0000 0000 0002")
    page.click("#submit")
    error = page.locator("#form_error")
    error.wait_for()
    assert error.inner_text() == "Your card was declined."
    # The card number and CVC are not put back into the form; the rest is.
    assert page.input_value("#card_number") == ""
    assert page.input_value("#card_cvc") == ""
    assert page.input_value("#postal_code") == "02139"
    screenshot(page, "gateway-checkout-declined.png")
    assert gateway.poll_hosted_session(session.session_id).state is HostedSessionState.OPEN
    assert gateway.list_methods(customer) == []


def test_bank_account_payment(page: Page, gateway: StripeGateway, customer: str,
                              sandbox: GatewaySandbox) -> None:
    session = gateway.start_hosted_session(
        customer, mode=HostedMode.PAYMENT, amount=Money(128_000, "USD"),
        description="Invoice 1045", reference="PD-B2", idempotency_key="browser-bank")
    page.goto(session.url)
    assert page.locator("#amount").inner_text() == "$1,280.00"
    page.click("#tab_us_bank_account")
    page.wait_for_selector("#routing_number")
    page.fill("#account_holder_name", "Acme Dental LLC")
    page.select_option("#account_holder_type", "company")
    page.select_option("#account_type", "checking")
    page.fill("#routing_number", "110000000")
    page.fill("#account_number", "000123456789")
    page.fill("#account_number_confirm", "000123456789")
    page.check("#mandate")
    screenshot(page, "gateway-checkout-bank.png")
    page.click("#submit")
    page.wait_for_selector("#message_title")

    status = gateway.poll_hosted_session(session.session_id)
    assert status.state is HostedSessionState.COMPLETE
    assert status.charge is not None
    assert status.charge.status is ChargeStatus.PROCESSING
    assert status.charge.amount == Money(128_000, "USD")
    assert status.method is not None
    assert status.method.method_type is MethodType.US_BANK_ACCOUNT
    assert status.method.summary == "Stripe Test Bank •••• 6789"
    admin(sandbox, "POST", f"/_sandbox/payment_intents/{status.charge.charge_id}/settle")
    assert gateway.refresh_charge(status.charge.charge_id).status is ChargeStatus.SUCCEEDED
