"""The gateway page draws whichever provider is chosen: Authorize.Net's API login ID, account
choice and transaction key, tested against its sandbox and stored like Stripe's key."""

from __future__ import annotations

from types import SimpleNamespace

from PySide6.QtWidgets import QComboBox, QLineEdit
from pytestqt.qtbot import QtBot

from app.core.gateways.connection import load_gateway, load_gateway_connection
from app.core.setup.steps import STEP_ORDER
from app.gui.context import AppContext
from app.gui.wizard.gateway_page import GatewayPage
from app.gui.wizard.wizard import SetupWizard
from app.sandbox.authorizenet import AuthorizeNetSandbox
from app.sandbox.demo import DemoGateway
from tests.gui.conftest import wait_for_background_tasks


def test_authorizenet_is_chosen_tested_and_stored(qtbot: QtBot,
                                                  set_up_context: AppContext) -> None:
    with AuthorizeNetSandbox(merchant_name="Northwind IT Services") as sandbox:
        set_up_context.demo = SimpleNamespace(  # type: ignore[assignment]
            gateway=None, autotask=None, other_gateways=(DemoGateway(
                url=sandbox.url, key=sandbox.transaction_key, provider="authorizenet",
                settings=(("api_login_id", sandbox.api_login_id),
                          ("environment", "sandbox"))),))
        wizard = SetupWizard(set_up_context)
        qtbot.addWidget(wizard)
        wizard.setStartId(STEP_ORDER["gateway"])
        wizard.show()
        wizard.restart()
        page = wizard.findChild(GatewayPage, "gatewayPage")
        assert page is not None
        qtbot.waitUntil(lambda: page.loaded, timeout=10_000)  # read in a worker
        kind = page.findChild(QComboBox, "gatewayKind")
        assert kind is not None
        kind.setCurrentIndex(kind.findData("authorizenet"))

        login = page.findChild(QLineEdit, "gatewayField_api_login_id")
        key = page.findChild(QLineEdit, "authorizenetSecretKey")
        assert login is not None and key is not None
        assert page.findChild(QLineEdit, "stripeSecretKey") is None
        assert login.text() == sandbox.api_login_id  # the demo's sandbox account
        # A typo in the login ID is explained under the field and keeps Test off.
        login.setText("not a login id!")
        assert "25 letters and digits" in page.findChild(
            object, "gatewayFieldError_api_login_id").text()  # type: ignore[union-attr]
        assert not page.test_button.isEnabled()
        login.setText(sandbox.api_login_id)
        assert page.test_button.isEnabled()

        page.test_button.click()
        qtbot.waitUntil(lambda: page.state.outcome is not None, timeout=10_000)
        assert "Connected to Authorize.Net" in page.status.text()
        assert not page.validatePage()  # stored in a worker; the page moves on after
        qtbot.waitUntil(lambda: not page.saving.running, timeout=10_000)
        wait_for_background_tasks(qtbot)

        stored = load_gateway_connection(set_up_context.engine)
        assert stored is not None and stored.gateway == "authorizenet"
        assert stored.setting("api_login_id") == sandbox.api_login_id
        assert sandbox.transaction_key not in str(stored.to_json())
        gateway = load_gateway(set_up_context.engine, set_up_context.credentials)
        assert gateway is not None and gateway.kind == "authorizenet-test"
