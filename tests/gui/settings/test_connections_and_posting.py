"""Settings › Connections and › Posting, against the sandbox servers over real HTTP: each
connection's state, Test running Setup's connection test with what is stored (a wrong secret
is explained), Reconnect opening Setup at that step; and what is posted where, with
QuickBooks Online's deposit account and payment methods once it is connected."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QComboBox, QWidget
from pytestqt.qtbot import QtBot

from app.core.autotask.client import AutotaskCredentials, test_connection
from app.core.connections import (
    AutotaskConnection,
    record_successful_test,
    save_autotask_connection,
    save_autotask_secret,
)
from app.core.gateways.connection import (
    GatewayConnection,
    record_gateway_test,
    save_gateway_secret,
)
from app.core.quickbooks.online.setup import connect_sandbox
from app.gui.context import AppContext
from app.gui.settings import SettingsArea
from app.gui.settings.connections_section import ConnectionsSection
from app.gui.settings.page import SettingsPage
from app.gui.settings.posting_section import PostingSection
from app.sandbox.autotask import AutotaskSandbox
from app.sandbox.gateway import GatewaySandbox
from tests.gui.conftest import wait_for_background_tasks
from tests.integration.gateway.support import make_gateway

_KEEP: list[SettingsArea] = []


@pytest.fixture(autouse=True)
def _release_areas() -> Iterator[None]:
    yield
    _KEEP.clear()


@pytest.fixture
def autotask() -> Iterator[AutotaskSandbox]:
    with AutotaskSandbox(companies=5, contacts=5, contracts=2, tickets=5,
                         invoices=5) as running:
        yield running


@pytest.fixture
def gateway() -> Iterator[GatewaySandbox]:
    with GatewaySandbox(account_name="Northwind IT Services") as running:
        yield running


def _connect(context: AppContext, autotask: AutotaskSandbox, gateway: GatewaySandbox) -> None:
    c = autotask.credentials
    connection = AutotaskConnection(username=c.username, integration_code=c.integration_code,
                                    discovery_url=autotask.url)
    save_autotask_connection(context.engine, connection)
    save_autotask_secret(context.credentials, c.secret)
    signin = AutotaskCredentials(c.username, c.secret, c.integration_code)
    record_successful_test(context.engine, connection,
                           test_connection(signin, discovery_url=autotask.url))
    save_gateway_secret(context.credentials, "stripe", gateway.secret_key)
    record_gateway_test(context.engine, GatewayConnection(api_base=gateway.url),
                        make_gateway(gateway).test_connection())


def _page(qtbot: QtBot, context: AppContext, key: str) -> SettingsPage:
    area = SettingsArea(context)
    qtbot.addWidget(area)
    _KEEP.append(area)
    area.resize(1100, 800)
    area.show()
    page = area.show_section(key)
    assert isinstance(page, SettingsPage)
    qtbot.waitUntil(lambda: page._has_stored, timeout=10_000)
    return page


def test_nothing_connected_says_what_to_do(qtbot: QtBot, set_up_context: AppContext) -> None:
    page = _page(qtbot, set_up_context, "connections")
    assert isinstance(page, ConnectionsSection)
    rows = page.rows
    assert rows["autotask"].pill.text() == "Not connected"
    assert "Click Run Setup… and enter the Autotask API user" in rows["autotask"].summary.text()
    assert "No payment gateway is connected yet" in rows["gateway"].summary.text()
    assert rows["quickbooks"].summary.text().startswith("Not connected.")
    assert not any(row.test_button.isEnabled() for row in rows.values())
    assert rows["autotask"].reconnect_button.text() == "Connect…"


def test_test_runs_setups_connection_test_with_what_is_stored(
    qtbot: QtBot, set_up_context: AppContext, autotask: AutotaskSandbox,
    gateway: GatewaySandbox,
) -> None:
    _connect(set_up_context, autotask, gateway)
    page = _page(qtbot, set_up_context, "connections")
    assert isinstance(page, ConnectionsSection)
    rows = page.rows
    assert rows["autotask"].pill.text() == "Connected"
    assert autotask.credentials.username in rows["autotask"].summary.text()
    assert "Last tested" in rows["autotask"].summary.text()
    assert "Test mode: no real money moves." in rows["gateway"].summary.text()
    assert rows["gateway"].name.text() == "Payment gateway — Stripe"

    for key, expected in (("autotask", "✓ Autotask answered."),
                          ("gateway", "✓ The gateway answered: account Northwind IT Services")):
        row = rows[key]
        row.test_button.click()
        qtbot.waitUntil(lambda row=row: row.result.text().startswith(("✓", "✗")),
                        timeout=30_000)
        assert row.result.text().startswith(expected), row.result.text()
    wait_for_background_tasks(qtbot)

    # A secret changed in Autotask (here: the keychain holds a wrong one) is explained.
    save_autotask_secret(set_up_context.credentials, "not-the-secret")
    row = rows["autotask"]
    row.test_button.click()
    qtbot.waitUntil(lambda: row.result.text().startswith(("✓", "✗")) and
                    row.test_button.isEnabled(), timeout=30_000)
    assert row.result.text().startswith("✗ ")
    assert "secret" in row.result.text().lower()
    wait_for_background_tasks(qtbot)
    # The pill no longer says "Connected" once a Test here failed.
    qtbot.waitUntil(lambda: row.pill.text() == "Not working", timeout=5000)


def test_reconnect_opens_setup_at_that_step(
    qtbot: QtBot, set_up_context: AppContext, autotask: AutotaskSandbox,
    gateway: GatewaySandbox,
) -> None:
    from app.core.setup.steps import STEP_ORDER
    from app.gui.main_window import MainWindow

    _connect(set_up_context, autotask, gateway)
    window = MainWindow(set_up_context)
    qtbot.addWidget(window)
    window.show()
    area = window.show_area("settings")
    assert isinstance(area, SettingsArea)
    page = area.show_section("connections")
    assert isinstance(page, ConnectionsSection)
    qtbot.waitUntil(lambda: page._has_stored, timeout=10_000)
    page.rows["gateway"].reconnect_button.click()
    wizard = window.wizard
    assert wizard is not None
    assert wizard.currentId() == STEP_ORDER["gateway"]
    wizard.reject()
    wait_for_background_tasks(qtbot)


def test_posting_says_what_goes_where(qtbot: QtBot, set_up_context: AppContext,
                                      autotask: AutotaskSandbox,
                                      gateway: GatewaySandbox) -> None:
    _connect(set_up_context, autotask, gateway)
    page = _page(qtbot, set_up_context, "posting")
    assert isinstance(page, PostingSection)
    autotask_text = page.channel_rows["autotask"].text()
    assert "becomes: Autotask note, Autotask invoice paid date." in autotask_text
    assert "Not connected: nothing is posted here" in (
        page.channel_rows["quickbooks_online"].text())
    assert not page.quickbooks_box.isVisible()
    wait_for_background_tasks(qtbot)


def test_with_quickbooks_online_the_deposit_account_and_methods_are_shown(
    qtbot: QtBot, set_up_context: AppContext,
) -> None:
    server_module = pytest.importorskip("app.sandbox.quickbooks_online.server")
    with server_module.QuickBooksOnlineSandbox(currency="USD") as server:
        connect_sandbox(set_up_context.engine, set_up_context.credentials, server)
        page = _page(qtbot, set_up_context, "posting")
        assert isinstance(page, PostingSection)
        assert page.quickbooks_box.isVisible()
        assert page.online_card.currentText().startswith("Credit Card (PayDesk's default")
        assert page.online_bank.currentText().startswith("ACH (PayDesk's default")
        assert "Each payment or refund becomes" in (
            page.channel_rows["quickbooks_online"].text())
        deposits = page.deposits
        assert isinstance(deposits, QWidget)
        combo = deposits.findChild(QComboBox, "quickbooksDepositAccount")
        assert combo is not None
        qtbot.waitUntil(lambda: combo.isEnabled(), timeout=20_000)
        assert combo.currentText().startswith("Undeposited Funds")
        assert combo.count() > 1
        assert not page.has_unsaved_changes()
        combo.setCurrentIndex(1)
        assert page.has_unsaved_changes()
        wait_for_background_tasks(qtbot)
