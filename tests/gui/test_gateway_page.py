"""The setup wizard's payment-gateway page against the sandbox gateway."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLineEdit, QPushButton, QWizard
from pytestqt.qtbot import QtBot

from app.core.credentials import SecretName
from app.core.gateways import PaymentGateway
from app.core.gateways.connection import describe_missing_gateway, load_gateway_connection
from app.gui.context import AppContext
from app.gui.wizard.gateway_page import GatewayPage
from app.gui.wizard.notice import Notice
from app.sandbox.demo import DemoGateway
from app.sandbox.gateway import GatewaySandbox
from tests.gui.conftest import wait_for_background_tasks


@pytest.fixture
def sandbox() -> Iterator[GatewaySandbox]:
    with GatewaySandbox(account_name="Northwind IT Services") as server:
        yield server


@pytest.fixture
def demo_context(set_up_context: AppContext, sandbox: GatewaySandbox) -> AppContext:
    set_up_context.demo = SimpleNamespace(  # type: ignore[assignment]
        gateway=DemoGateway(url=sandbox.url, key=sandbox.secret_key), autotask=None)
    return set_up_context


def _wizard(qtbot: QtBot, context: AppContext) -> tuple[QWizard, GatewayPage]:
    wizard = QWizard()
    page = GatewayPage(context, wizard)
    wizard.addPage(page)
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.restart()
    qtbot.waitUntil(lambda: page.loaded, timeout=10_000)  # what is stored is read in a worker
    return wizard, page


def _store(qtbot: QtBot, page: GatewayPage) -> bool:
    """Next on the page: the account is stored in a worker; True once it is."""
    if page.validatePage():
        return True
    assert page.saving.running
    qtbot.waitUntil(lambda: not page.saving.running, timeout=10_000)
    return True


def _status(page: GatewayPage) -> str:
    status = page.findChild(Notice, "gatewayStatus")
    assert status is not None
    return status.text() if status.isVisible() else ""


def _test(qtbot: QtBot, page: GatewayPage, expect: str) -> str:
    button = page.findChild(QPushButton, "gatewayTestButton")
    assert button is not None and button.isEnabled()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: expect in _status(page), timeout=10_000)
    return _status(page)


def test_demo_prefill_test_then_store(qtbot: QtBot, demo_context: AppContext,
                                      sandbox: GatewaySandbox) -> None:
    wizard, page = _wizard(qtbot, demo_context)
    key = page.findChild(QLineEdit, "stripeSecretKey")
    assert key is not None and key.text() == sandbox.secret_key
    assert key.echoMode() is QLineEdit.EchoMode.Password
    kind = page.findChild(QComboBox, "gatewayKind")
    assert kind is not None and kind.currentText() == "Stripe"
    assert page.mode_pill.text() == "Test key — no real money moves"
    assert "sandbox gateway" in page.sandbox_note.text()
    assert not page.isComplete()

    text = _test(qtbot, page, "Connected to Stripe")
    assert "Northwind IT Services" in text and "no real money moves" in text
    assert page.isComplete()
    assert _store(qtbot, page)
    assert demo_context.credentials.get(SecretName.STRIPE_SECRET_KEY) == sandbox.secret_key
    stored = load_gateway_connection(demo_context.engine)
    assert stored is not None and stored.account_name == "Northwind IT Services"
    assert stored.api_base == sandbox.url
    assert describe_missing_gateway(demo_context.engine, demo_context.credentials) is None
    gateway = demo_context.services.gateway
    assert isinstance(gateway, PaymentGateway) and gateway.kind == "stripe-test"
    wait_for_background_tasks(qtbot)
    del wizard


def test_wrong_key_is_explained_and_blocks_next(qtbot: QtBot, demo_context: AppContext) -> None:
    _window, page = _wizard(qtbot, demo_context)
    key = page.findChild(QLineEdit, "stripeSecretKey")
    assert key is not None
    key.clear()
    qtbot.keyClicks(key, "sk_test_notthesandboxkey")
    text = _test(qtbot, page, "could not connect")
    assert "refused the secret key" in text
    assert not page.isComplete()
    assert demo_context.credentials.get(SecretName.STRIPE_SECRET_KEY) is None


def test_editing_the_key_clears_a_pass(qtbot: QtBot, demo_context: AppContext) -> None:
    _window, page = _wizard(qtbot, demo_context)
    _test(qtbot, page, "Connected to Stripe")
    assert page.isComplete()
    key = page.findChild(QLineEdit, "stripeSecretKey")
    assert key is not None
    qtbot.keyClicks(key, "x")
    assert not page.isComplete()
    assert _status(page) == ""


def test_empty_key_means_connect_later(qtbot: QtBot, set_up_context: AppContext) -> None:
    _window, page = _wizard(qtbot, set_up_context)
    assert page.isComplete()
    assert not page.test_button.isEnabled()
    assert "connect a gateway later" in page.key_note.text()
    assert _store(qtbot, page)
    assert load_gateway_connection(set_up_context.engine) is None


def test_key_kind_and_mistakes_shown_while_typing(qtbot: QtBot,
                                                  set_up_context: AppContext) -> None:
    _window, page = _wizard(qtbot, set_up_context)
    key = page.findChild(QLineEdit, "stripeSecretKey")
    assert key is not None
    qtbot.keyClicks(key, "sk_live_abcdefgh1234")
    assert page.mode_pill.text() == "Live key — payments take real money"
    assert page.test_button.isEnabled() and not page.isComplete()
    key.clear()
    qtbot.keyClicks(key, "pk_live_abcdefgh1234")
    assert "publishable key" in page.key_error.text()
    assert not page.test_button.isEnabled()
