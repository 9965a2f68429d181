"""The Authorize.Net stand-in's hosted forms in a real headless Chromium, driven by
Playwright: PayDesk's launch page posts the token, the client types a test card, and the
adapter sees the saved method or the payment.

Set ``PAYDESK_SCREENSHOT_DIR`` to keep screenshots of the forms.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.gateways import ChargeStatus, HostedMode, HostedSessionState
from app.core.gateways.authorizenet import AuthorizeNetGateway
from app.core.money import Money
from app.sandbox.authorizenet import AuthorizeNetSandbox
from tests.integration.authorizenet.support import charges_for

CHROMIUM = Path(os.environ.get("PAYDESK_CHROMIUM", "/usr/bin/chromium"))

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason=f"Chromium is not installed at {CHROMIUM} "
                       "(Debian: apt-get install chromium)"),
]

if CHROMIUM.exists():
    from playwright.sync_api import Browser, Page, sync_playwright


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--disable-dev-shm-usage"],
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 900, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    try:
        yield tab
    finally:
        context.close()


def _screenshot(page: Page, name: str) -> None:
    folder = os.environ.get("PAYDESK_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=True)


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
    _screenshot(page, "authorizenet-save-card.png")
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
    _screenshot(page, "authorizenet-pay-declined.png")
    assert gateway.poll_hosted_session(session.session_id).state is HostedSessionState.OPEN

    _fill_card(page, "5424 0000 0000 0015")
    page.click("#submit")
    page.wait_for_selector("#message_title")
    assert page.locator("#message_title").inner_text() == "Thank you"
    _screenshot(page, "authorizenet-pay-approved.png")
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
    _screenshot(page, "authorizenet-pay-bank.png")
    page.click("#submit")
    page.wait_for_selector("#message_title")
    status = gateway.poll_hosted_session(session.session_id)
    assert status.charge is not None
    assert status.charge.status is ChargeStatus.PROCESSING
    sandbox.settle()
    assert gateway.refresh_charge(status.charge.charge_id).status is ChargeStatus.SUCCEEDED
