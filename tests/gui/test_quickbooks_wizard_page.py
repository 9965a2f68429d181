"""The setup wizard's QuickBooks page: its fields and states, QuickBooks Desktop's .qwc and live
status against the Web Connector stand-in over HTTP, and QuickBooks Online's Connect (with the
pasted-address fallback and a wrong ``state`` refused) against the QuickBooks Online sandbox."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from lxml import etree
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QPushButton, QWizard
from pytestqt.qtbot import QtBot

from app.core.credentials import SecretName
from app.core.quickbooks.desktop.qwc import load_connection as load_desktop
from app.gui.context import AppContext
from app.gui.quickbooks.desktop_service import stop_service
from app.gui.wizard.notice import Notice
from app.gui.wizard.quickbooks_page import (
    DEVELOPMENT_PORT,
    ConnectState,
    QuickBooksPage,
    development_redirect,
)
from tests.gui.conftest import wait_for_background_tasks

NAMES = ("quickbooksPage", "quickbooksKind", "quickbooksClientId", "quickbooksClientSecret",
         "quickbooksConnectButton", "quickbooksStatus", "quickbooksCompany",
         "quickbooksQwcButton")


def _wizard(qtbot: QtBot, context: AppContext) -> tuple[QWizard, QuickBooksPage]:
    wizard = QWizard()
    page = QuickBooksPage(context, wizard)
    wizard.addPage(page)
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.restart()
    wait_for_background_tasks(qtbot)
    return wizard, page


def _status(page: QuickBooksPage) -> str:
    status = page.findChild(Notice, "quickbooksStatus")
    assert status is not None
    return status.text() if status.isVisible() else ""


def _choose(page: QuickBooksPage, kind: str) -> None:
    combo = page.findChild(QComboBox, "quickbooksKind")
    assert combo is not None
    combo.setCurrentIndex(combo.findData(kind))


def test_fields_and_states(qtbot: QtBot, set_up_context: AppContext) -> None:
    _, page = _wizard(qtbot, set_up_context)
    for name in NAMES:
        assert page.objectName() == name or page.findChild(object, name) is not None, name
    combo = page.findChild(QComboBox, "quickbooksKind")
    assert combo is not None
    assert [combo.itemData(i) for i in range(combo.count())] == ["online", "desktop", "later"]

    # Online: Next waits for a connected company; Connect waits for the keys.
    _choose(page, "online")
    assert not page.isComplete()
    connect = page.findChild(QPushButton, "quickbooksConnectButton")
    assert connect is not None and not connect.isEnabled()
    page.client_id.setText("ABx8client")
    page.client_secret.setText("a-secret")
    assert not connect.isEnabled()  # production keys need the https relay address
    page.redirect.setText("http://my-msp.example/relay.html")
    assert "https://" in page.redirect_error.text() and page.redirect_error.isVisible()
    assert not connect.isEnabled()
    page.redirect.setText("https://www.my-msp.example/paydesk/relay.html")
    assert connect.isEnabled() and page.redirect_error.isHidden()
    # Development keys: PayDesk's own loopback address, suggested.
    page.keys.setCurrentIndex(page.keys.findData("sandbox"))
    assert page.redirect.text() == development_redirect(DEVELOPMENT_PORT)
    assert connect.isEnabled()
    page.redirect.setText("http://localhost:8725/somewhere-else")
    assert not connect.isEnabled() and "localhost:PORT/callback" in page.redirect_error.text()
    company = page.findChild(QLabel, "quickbooksCompany")
    assert company is not None and company.isHidden()  # nothing connected yet

    # Not now: Next is allowed and nothing is stored.
    _choose(page, "later")
    assert page.isComplete() and page.validatePage()
    assert page.later_panel.isVisible() and not page.online_panel.isVisible()
    assert set_up_context.credentials.get(SecretName.QUICKBOOKS_CLIENT_SECRET) is None


def test_desktop_saves_the_qwc_and_shows_the_live_status(
        qtbot: QtBot, set_up_context: AppContext, tmp_path: Path) -> None:
    from app.sandbox.quickbooks_desktop.company import CompanyFile
    from app.sandbox.quickbooks_desktop.connector import WebConnector
    from tests.integration.quickbooks_desktop.support import SIZES, mirror_autotask

    company = CompanyFile(seed=11, sizes=SIZES)
    mirror_autotask(set_up_context.engine, company)
    _, page = _wizard(qtbot, set_up_context)
    _choose(page, "desktop")
    assert page.isComplete()
    wait_for_background_tasks(qtbot)
    assert "Save .qwc" in _status(page)
    url = page.findChild(QLineEdit, "quickbooksQwcUrl")
    assert url is not None
    url.setText("http://127.0.0.1:0/qbwc")  # any free port
    try:
        page.save_qwc_to(tmp_path / "PayDesk")
        wait_for_background_tasks(qtbot)
        written = tmp_path / "PayDesk.qwc"
        assert written.exists()
        stored = load_desktop(set_up_context.engine)
        assert stored is not None and not stored.app_url.endswith(":0/qbwc")
        app_url = etree.fromstring(written.read_bytes()).findtext("AppURL")
        assert app_url == stored.app_url
        password = page.findChild(QLineEdit, "quickbooksQwcPassword")
        assert password is not None and password.text()
        assert password.text() == set_up_context.credentials.get(
            SecretName.QUICKBOOKS_DESKTOP_PASSWORD)
        qtbot.waitUntil(lambda: "Waiting for the Web Connector" in _status(page),
                        timeout=10_000)

        # The Web Connector, with the file and the password, updates once.
        result = WebConnector(stored.app_url, stored.username, password.text(),
                              company).update()
        assert result.last_error is None
        qtbot.waitUntil(lambda: "connected to company file" in _status(page),
                        timeout=10_000)
        assert "northwind.qbw" in _status(page)
    finally:
        page.cleanupPage()
        stop_service(set_up_context)


# --- QuickBooks Online, against the QuickBooks Online sandbox -------------------------------


@pytest.fixture
def quickbooks_online() -> object:
    server_module = pytest.importorskip("app.sandbox.quickbooks_online.server")
    with server_module.QuickBooksOnlineSandbox(currency="USD") as server:
        yield server


def _demo(context: AppContext, server: object) -> AppContext:
    context.demo = SimpleNamespace(  # type: ignore[assignment]
        autotask=None, gateway=None,
        quickbooks=SimpleNamespace(environment=server.discovery_url,  # type: ignore[attr-defined]
                                   api_base=server.api_base,  # type: ignore[attr-defined]
                                   client_id=server.client_id,  # type: ignore[attr-defined]
                                   client_secret=server.client_secret))  # type: ignore[attr-defined]
    return context


def test_online_pasted_address_with_a_wrong_state_is_refused_then_connects(
        qtbot: QtBot, set_up_context: AppContext, quickbooks_online: object) -> None:
    context = _demo(set_up_context, quickbooks_online)
    _, page = _wizard(qtbot, context)
    opened: list[str] = []
    page.open_browser = opened.append  # the browser is not opened; the consent is given below
    assert page.client_id.text() == quickbooks_online.client_id  # type: ignore[attr-defined]
    page.connect_button.click()
    qtbot.waitUntil(lambda: page.connect_state is ConnectState.WAITING, timeout=10_000)
    assert opened and page.paste_box.isVisible()

    # Consent in the sandbox without following the redirect: the address the browser lands on.
    answer = requests.get(opened[0], allow_redirects=False, timeout=(5, 10))
    landed = answer.headers["Location"]
    wrong = landed.replace("state=", "state=x")
    page.pasted.setText(wrong)
    page.use_pasted.click()
    assert "different sign-in attempt" in _status(page)
    assert page.connect_state is ConnectState.WAITING and not page.isComplete()

    page.pasted.setText(landed)
    page.use_pasted.click()
    qtbot.waitUntil(lambda: page.connect_state is not ConnectState.FINISHING, timeout=20_000)
    assert page.connect_state is ConnectState.CONNECTED, _status(page)
    assert "Connected to QuickBooks Online" in _status(page)
    assert page.isComplete()
    company = page.findChild(QLabel, "quickbooksCompany")
    assert company is not None and "USD" in company.text()
    assert context.credentials.get(SecretName.QUICKBOOKS_REFRESH_TOKEN)


def test_online_company_in_another_currency_is_refused(
        qtbot: QtBot, app_context: AppContext) -> None:
    server_module = pytest.importorskip("app.sandbox.quickbooks_online.server")
    from app.core.config import set_internal_currency
    from app.core.quickbooks.online.connection import load_connection

    set_internal_currency(app_context.engine, "USD", actor="tests")
    with server_module.QuickBooksOnlineSandbox(currency="CAD") as server:
        context = _demo(app_context, server)
        _, page = _wizard(qtbot, context)
        page.open_browser = lambda url: requests.get(url, timeout=(5, 10))  # consents at once
        page.connect_button.click()
        qtbot.waitUntil(lambda: page.connect_state is ConnectState.FAILED, timeout=20_000)
        assert "currency is different" in _status(page) and "CAD" in _status(page)
        assert not page.isComplete()
        assert load_connection(context.engine) is None


def test_closing_setup_while_waiting_stops_waiting(
        qtbot: QtBot, set_up_context: AppContext, quickbooks_online: object) -> None:
    context = _demo(set_up_context, quickbooks_online)
    wizard, page = _wizard(qtbot, context)
    page.open_browser = lambda _url: None  # the person never answers in the browser
    page.connect_button.click()
    qtbot.waitUntil(lambda: page.connect_state is ConnectState.WAITING, timeout=10_000)
    assert page.connect_button.text() == "Cancel"
    wizard.reject()
    assert page.connect_state is ConnectState.IDLE
    wait_for_background_tasks(qtbot, timeout_ms=5_000)  # the waiting worker has stopped
