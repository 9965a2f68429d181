"""The saved-methods panel for ``python -m app.gui.screenshots``.

Each screen starts the sandbox gateway in-process, saves methods for an organization the
way a client would (on the hosted page), and shows the panel as the bookkeeper sees it.
"""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from app.core.gateways import HostedMode
from app.core.gateways.repository import SavedMethods
from app.core.gateways.stripe_gateway import StripeGateway
from app.gui.payment_methods.panel import SavedMethodsPanel
from app.gui.screenshots import ScreenshotSession, register_screen, settle
from app.sandbox.gateway import GatewaySandbox
from app.sandbox.gateway.checkout import read_bank_form, read_card_form

SIZE = (760, 420)
ORGANIZATION_ID = 1


def _sandbox(session: ScreenshotSession) -> tuple[GatewaySandbox, StripeGateway]:
    sandbox = GatewaySandbox(account_name="Northwind IT Services").start()
    holder = session.keep(QWidget())
    holder.destroyed.connect(sandbox.stop)
    gateway = StripeGateway(sandbox.secret_key, api_base=sandbox.url, max_network_retries=0)
    return sandbox, gateway


def _complete(sandbox: GatewaySandbox, session_id: str, form: dict[str, str]) -> None:
    """What the hosted page does when the client submits it (no browser needed here)."""
    state = sandbox.state
    if form.get("method") == "us_bank_account":
        method = state.create_bank_method(read_bank_form(form))
    else:
        method = state.create_card_method(read_card_form(form))
    with state.lock:
        state.complete_checkout(session_id, method, mandate=None)


def _organization_id(session: ScreenshotSession) -> int:
    from sqlalchemy import select

    from app.core.storage.engine import session_scope
    from app.core.storage.models import Organization

    with session_scope(session.engine) as s:
        first = s.scalar(select(Organization.id).order_by(Organization.name).limit(1))
    return int(first) if first is not None else ORGANIZATION_ID


def saved_methods(session: ScreenshotSession) -> QWidget:
    sandbox, gateway = _sandbox(session)
    organization_id = _organization_id(session)
    saved = SavedMethods(session.engine, gateway)
    forms = [
        {"method": "card", "card_number": "4242424242424242", "card_expiry": "08/29",
         "card_cvc": "123", "postal_code": "10001", "cardholder_name": "Dana Whitfield"},
        {"method": "card", "card_number": "378282246310005", "card_expiry": "03/28",
         "card_cvc": "1234", "postal_code": "10001", "cardholder_name": "Dana Whitfield"},
        {"method": "us_bank_account", "account_holder_name": "Acme Dental LLC",
         "routing_number": "110000000", "account_number": "000123456789",
         "account_number_confirm": "000123456789", "account_holder_type": "company",
         "account_type": "checking", "mandate": "accepted"},
    ]
    for form in forms:
        hosted = saved.start_adding(organization_id, mode=HostedMode.SETUP)
        _complete(sandbox, hosted.session_id, form)
        saved.check_adding(organization_id, hosted.session_id)
    panel = SavedMethodsPanel(session.context, organization_id, gateway=gateway)
    settle()
    panel.table.selectRow(1)
    return panel


def waiting(session: ScreenshotSession) -> QWidget:
    _sandbox_server, gateway = _sandbox(session)
    panel = SavedMethodsPanel(session.context, _organization_id(session), gateway=gateway)
    panel.open_url = lambda _url: True
    panel.poll_interval_ms = 60_000
    settle()
    panel.add_method()
    settle()
    return panel


register_screen("organization-payment-methods", saved_methods, size=SIZE)
register_screen("organization-payment-methods-waiting", waiting, size=SIZE)


# --- the setup wizard's payment-gateway page (app.gui.wizard.gateway_page) -----------------


def _gateway_wizard(session: ScreenshotSession, *, demo: bool = True) -> QWidget:
    from types import SimpleNamespace

    from app.core.setup.steps import STEP_ORDER
    from app.gui.wizard.wizard import SetupWizard
    from app.sandbox.demo import DemoGateway

    context = session.fresh_context()
    if demo:
        sandbox, _gateway = _sandbox(session)
        context.demo = SimpleNamespace(  # type: ignore[assignment]
            gateway=DemoGateway(url=sandbox.url, key=sandbox.secret_key), autotask=None)
    wizard = SetupWizard(context)
    session.keep(wizard)
    wizard.setStartId(STEP_ORDER["gateway"])
    wizard.resize(820, 640)
    wizard.show()
    wizard.restart()
    settle()
    return wizard


def gateway_page(session: ScreenshotSession) -> QWidget:
    return _gateway_wizard(session)


def gateway_page_connected(session: ScreenshotSession) -> QWidget:
    from app.gui.wizard.gateway_page import GatewayPage

    wizard = _gateway_wizard(session)
    page = wizard.findChild(GatewayPage, "gatewayPage")
    assert page is not None
    page.test_button.click()
    settle()
    return wizard


def gateway_page_later(session: ScreenshotSession) -> QWidget:
    """No key at hand: the page says the step can be left for later."""
    return _gateway_wizard(session, demo=False)


register_screen("wizard-4-gateway", gateway_page, size=(820, 640))
register_screen("wizard-4-gateway-later", gateway_page_later, size=(820, 640))
register_screen("wizard-4-gateway-connected", gateway_page_connected, size=(820, 640))


def gateway_page_authorizenet(session: ScreenshotSession) -> QWidget:
    """Authorize.Net chosen: its API login ID, account choice and transaction key."""
    from PySide6.QtWidgets import QComboBox

    from app.gui.wizard.gateway_page import GatewayPage

    wizard = _gateway_wizard(session, demo=False)
    page = wizard.findChild(GatewayPage, "gatewayPage")
    assert page is not None
    kind = page.findChild(QComboBox, "gatewayKind")
    assert kind is not None
    kind.setCurrentIndex(kind.findData("authorizenet"))
    settle()
    return wizard


register_screen("wizard-4-gateway-authorizenet", gateway_page_authorizenet, size=(820, 640))
