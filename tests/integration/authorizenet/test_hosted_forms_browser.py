"""The Authorize.Net stand-in's hosted forms in a real headless Chromium, driven by
Playwright: PayDesk's launch page posts the token, the client types a test card, and the
adapter sees the saved method or the payment.

Set ``PAYDESK_SCREENSHOT_DIR`` to keep screenshots of the forms.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.core.gateways import ChargeStatus, HostedMode, HostedSessionState
from app.core.gateways.authorizenet import AuthorizeNetGateway
from app.core.money import Money
from app.sandbox.authorizenet import AuthorizeNetSandbox
from tests.integration.authorizenet.support import charges_for
from tests.integration.browser import needs_chromium, screenshot

pytestmark = needs_chromium

if TYPE_CHECKING:
    from playwright.sync_api import Page


def _open(page: Page, url: str) -> None:
    """Open the launch page; it posts the token and lands on the hosted form."""
    page.goto(url)
    page.wait_for_selector("#payment_form")


def _fill_card(page: Page, number: str, *, zip_code: str = "02139") -> None:
    page.fill("#cardNumber", number)
    page.fill("#expirationDate", "08/31")
    page.fill("#cardCode", "314")
    page.fill("#firstName", "Dana")
    page.fill("#lastName", "Client")
    page.fill("#zip", zip_code)


def test_save_a_card_in_the_browser(page: Page, gateway: AuthorizeNetGateway, customer: str,
                                    sandbox: AuthorizeNetSandbox) -> None:
    session = gateway.start_hosted_session(customer, mode=HostedMode.SETUP,
                                           idempotency_key="browser-setup")
    _open(page, session.url)
    assert page.title() == "Northwind IT Services — secure payment form"
    assert page.locator("#test_mode_badge").inner_text().lower() == "test mode"
    _fill_card(page, "4111 1111 1111 1111")
    screenshot(page, "authorizenet-save-card.png")
    page.click("#submit")
    page.wait_for_selector("#message_title")
    assert page.locator("#message_title").inner_text() == "Saved"

    status = gateway.poll_hosted_session(session.session_id)
    assert status.state is HostedSessionState.COMPLETE
    assert status.method is not None
    assert (status.method.summary, status.method.expiry) == ("Visa •••• 1111", "08/2031")
    charged = gateway.charge(customer, status.method.token, Money(19_900, "USD"),
                             idempotency_key="browser-charge", reference="PD-B1",
                             description="Invoice 4001")
    assert charged.status is ChargeStatus.SUCCEEDED
    assert len(charges_for(sandbox, "PD-B1")) == 1


def test_pay_in_the_browser_after_a_decline(page: Page, gateway: AuthorizeNetGateway,
                                            customer: str) -> None:
    session = gateway.start_hosted_session(
        customer, mode=HostedMode.PAYMENT, amount=Money(128_000, "USD"),
        description="Payment for invoice 1045", reference="PD-B2",
        idempotency_key="browser-pay")
    _open(page, session.url)
    assert page.locator("#amount").inner_text() == "$1,280.00"
    _fill_card(page, "4111 1111 1111 1111", zip_code="46282")
    page.click("#submit")
    error = page.locator("#form_error")
    error.wait_for()
    assert error.inner_text() == "This transaction has been declined."
    # The card number and code are not put back into the form; the rest is.
    assert page.input_value("#cardNumber") == ""
    assert page.input_value("#cardCode") == ""
    assert page.input_value("#zip") == "46282"
    screenshot(page, "authorizenet-pay-declined.png")
    assert gateway.poll_hosted_session(session.session_id).state is HostedSessionState.OPEN

    _fill_card(page, "5424 0000 0000 0015")
    page.click("#submit")
    page.wait_for_selector("#message_title")
    assert page.locator("#message_title").inner_text() == "Thank you"
    screenshot(page, "authorizenet-pay-approved.png")
    status = gateway.poll_hosted_session(session.session_id)
    assert status.state is HostedSessionState.COMPLETE
    assert status.charge is not None and status.charge.status is ChargeStatus.SUCCEEDED
    assert status.method is not None and status.method.summary == "Mastercard •••• 0015"


def test_bank_account_on_the_payment_form(page: Page, gateway: AuthorizeNetGateway,
                                          customer: str, sandbox: AuthorizeNetSandbox) -> None:
    session = gateway.start_hosted_session(
        customer, mode=HostedMode.PAYMENT, amount=Money(45_000, "USD"), reference="PD-B3",
        idempotency_key="browser-bank")
    _open(page, session.url)
    page.click("#switch_bank")
    page.wait_for_selector("#routingNumber")
    page.fill("#nameOnAccount", "Acme Dental LLC")
    page.fill("#routingNumber", "121042882")
    page.fill("#accountNumber", "000123456789")
    page.check("#authorize")
    page.fill("#firstName", "Acme")
    page.fill("#lastName", "Dental")
    page.fill("#zip", "10001")
    screenshot(page, "authorizenet-pay-bank.png")
    page.click("#submit")
    page.wait_for_selector("#message_title")
    status = gateway.poll_hosted_session(session.session_id)
    assert status.charge is not None
    assert status.charge.status is ChargeStatus.PROCESSING
    sandbox.settle()
    assert gateway.refresh_charge(status.charge.charge_id).status is ChargeStatus.SUCCEEDED
