"""The saved-methods panel against each gateway's stand-in (through the payment test kit): add
a card on the hosted page while the panel waits, make another method the default, remove one,
stop waiting."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMessageBox

from app.core.clock import utcnow
from app.core.gateways import PaymentGateway
from app.core.gateways.connection import load_gateway_connection, record_gateway_test
from app.core.storage.engine import session_scope
from app.core.storage.models import Organization
from app.gui.context import AppContext
from app.gui.payment_methods import SavedMethodsPanel
from tests.gui.conftest import wait_for_background_tasks
from tests.integration.payments.gateways import GatewayKit, start_kit

ORG = 7001


@pytest.fixture
def kit(gateway_key: str) -> Iterator[GatewayKit]:
    with start_kit(gateway_key) as started:
        yield started


@pytest.fixture
def context(set_up_context: AppContext) -> AppContext:
    with session_scope(set_up_context.engine) as s:
        s.add(Organization(id=ORG, name="Acme Dental", synced_at=utcnow()))
    return set_up_context


def _panel(qtbot: object, context: AppContext, gateway: PaymentGateway | None
           ) -> SavedMethodsPanel:
    panel = SavedMethodsPanel(context, ORG, gateway=gateway)
    panel.poll_interval_ms = 50
    qtbot.addWidget(panel)  # type: ignore[attr-defined]
    wait_for_background_tasks(qtbot)
    return panel


def _rows(panel: SavedMethodsPanel) -> list[tuple[str, ...]]:
    table = panel.table
    return [tuple(table.item(r, c).text() for c in range(table.columnCount()))
            for r in range(table.rowCount())]


def test_when_the_browser_does_not_open_the_address_is_offered(
        qtbot: object, context: AppContext, kit: GatewayKit) -> None:
    panel = _panel(qtbot, context, kit.gateway())
    opened: list[str] = []
    browser_works = [False]
    panel.open_url = lambda url: opened.append(url) or browser_works[0]
    panel.add_button.click()
    qtbot.waitUntil(lambda: panel.is_waiting, timeout=5000)  # type: ignore[attr-defined]
    assert "open in your browser" not in panel.waiting_label.text()
    assert "could not open your browser" in panel.page_link.status.text()
    # Sending the address to the client is offered only where the gateway's page opens there.
    assert ("send it to the client" in panel.page_link.status.text()) is kit.shareable_pages
    assert panel.page_link.address.text() == opened[0]
    assert panel.page_link.isVisibleTo(panel)
    browser_works[0] = True
    panel.page_link.open_button.click()
    assert opened == [opened[0], opened[0]]
    assert panel.page_link.status.text() == "The secure page is open in your browser."
    panel.stop_waiting()
    qtbot.waitUntil(lambda: not panel.is_waiting, timeout=5000)  # type: ignore[attr-defined]
    wait_for_background_tasks(qtbot)


def test_adding_a_card_on_the_hosted_page(qtbot: object, context: AppContext,
                                          kit: GatewayKit) -> None:
    panel = _panel(qtbot, context, kit.gateway())
    assert panel.stack.currentWidget() is panel.empty
    assert panel.mode_pill.text() == "Test mode — no real money moves"
    opened: list[str] = []
    panel.open_url = lambda url: opened.append(url) or True
    panel.add_button.click()
    qtbot.waitUntil(lambda: panel.is_waiting, timeout=5000)  # type: ignore[attr-defined]
    assert panel.waiting.isVisibleTo(panel)
    assert "Waiting for the form to be completed" in panel.waiting_label.text()
    assert not panel.add_button.isEnabled()
    assert opened and kit.is_hosted_form(opened[0])
    assert panel.page_link.status.text() == "The secure page is open in your browser."
    panel.page_link.copy_button.click()  # to send the page to the client, or open it again
    assert QGuiApplication.clipboard().text() == opened[0]
    if kit.shareable_pages:
        assert "Send it to the client" in panel.message.text()
    else:  # the page opens only from this computer: never said to be for the client
        assert "client" not in panel.message.text()
        assert "Open it in a browser on this computer" in panel.message.text()

    with qtbot.waitSignal(panel.methodsChanged, timeout=10_000):  # type: ignore[attr-defined]
        assert kit.submit_card(opened[0])
    assert not panel.is_waiting and not panel.waiting.isVisibleTo(panel)
    card = kit.summaries["approve"]
    assert panel.message.text() == f"{card} was added."
    assert _rows(panel) == [(card, kit.hosted_expiry, "Dana Client", "Default")]
    assert panel.add_button.isEnabled()


def test_default_and_remove(qtbot: object, context: AppContext, kit: GatewayKit,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    gateway = kit.gateway()
    customer = gateway.ensure_customer(ORG, "Acme Dental", None, idempotency_key="org-7001")
    from app.core.gateways.repository import GatewayCustomerRepository

    GatewayCustomerRepository(context.engine).save(gateway.kind, ORG, customer)
    kit.save_method(context.engine, gateway, ORG, "approve")
    kit.save_method(context.engine, gateway, ORG, "approve_mastercard")
    visa, mastercard = kit.summaries["approve"], kit.summaries["approve_mastercard"]
    panel = _panel(qtbot, context, gateway)
    assert sorted(r[0] for r in _rows(panel)) == [mastercard, visa]
    assert not panel.default_button.isEnabled()  # nothing selected yet

    row = next(i for i, r in enumerate(_rows(panel)) if r[0].startswith("Mastercard"))
    panel.table.selectRow(row)
    with qtbot.waitSignal(panel.methodsChanged, timeout=5000):  # type: ignore[attr-defined]
        panel.default_button.click()
    assert _rows(panel)[0][0] == mastercard and _rows(panel)[0][3] == "Default"
    assert panel.message.text() == f"{mastercard} is now the default."
    assert gateway.list_methods(customer)[0].brand == "mastercard"

    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: QMessageBox.StandardButton.Yes)
    panel.table.selectRow(0)
    with qtbot.waitSignal(panel.methodsChanged, timeout=5000):  # type: ignore[attr-defined]
        panel.remove_button.click()
    assert [r[0] for r in _rows(panel)] == [visa]
    assert [m.brand for m in gateway.list_methods(customer)] == ["visa"]


def test_stop_waiting_closes_the_form(qtbot: object, context: AppContext,
                                      kit: GatewayKit) -> None:
    panel = _panel(qtbot, context, kit.gateway())
    opened: list[str] = []
    panel.open_url = lambda url: opened.append(url) or True
    panel.poll_interval_ms = 60_000  # only the button ends this wait
    panel.add_button.click()
    qtbot.waitUntil(lambda: panel.is_waiting, timeout=5000)  # type: ignore[attr-defined]
    panel.cancel_wait_button.click()
    qtbot.waitUntil(lambda: not panel.is_waiting, timeout=5000)  # type: ignore[attr-defined]
    if kit.key == "authorizenet":
        # Its form cannot be withdrawn: the panel says it stays usable a while, and a card
        # entered on it then is saved and listed.
        assert "The gateway keeps the form usable until" in panel.message.text()
        assert "Nothing was saved" not in panel.message.text()
        assert kit.submit_card(opened[0])
        again = _panel(qtbot, context, kit.gateway())
        assert [r[0] for r in _rows(again)] == [kit.summaries["approve"]]
    else:
        assert "Nothing was saved" in panel.message.text()
        assert not kit.submit_card(opened[0])


def test_gateway_loaded_from_setup_and_none_without_it(qtbot: object, context: AppContext,
                                                       kit: GatewayKit) -> None:
    nothing = _panel(qtbot, context, None)
    assert nothing.stack.currentWidget() is nothing.no_gateway
    assert not nothing.add_button.isEnabled()

    kit.connect(context.engine, context.credentials)
    connection = load_gateway_connection(context.engine)
    assert connection is not None
    record_gateway_test(context.engine, connection, kit.gateway().test_connection())
    # What closing Setup does: the stored gateway is opened again, once, for every screen.
    from app.gui.payments.common import open_connected_gateway

    with qtbot.waitSignal(context.changes().gatewayChanged,  # type: ignore[attr-defined]
                          timeout=10_000):
        open_connected_gateway(context)
    wait_for_background_tasks(qtbot)
    shared = context.services.gateway
    assert shared is not None
    # The panel already open follows it; a new one uses it. Neither opens its own copy.
    assert nothing._gateway is shared
    assert nothing.stack.currentWidget() is nothing.empty
    assert nothing.add_button.isEnabled()
    loaded = _panel(qtbot, context, None)
    assert loaded._gateway is shared
    assert loaded.stack.currentWidget() is loaded.empty
    assert loaded.add_button.isEnabled()


def test_the_panel_waits_for_the_shared_gateway_instead_of_opening_its_own(
    qtbot: object, context: AppContext, kit: GatewayKit
) -> None:
    from app.core.gateways import connection as gateway_connection
    from app.gui.payments import common

    kit.connect(context.engine, context.credentials)
    connection = load_gateway_connection(context.engine)
    assert connection is not None
    record_gateway_test(context.engine, connection, kit.gateway().test_connection())
    opened: list[object] = []
    real_load = gateway_connection.load_gateway

    def counting_load(*args: object, **kwargs: object) -> object:
        gateway = real_load(*args, **kwargs)  # type: ignore[arg-type]
        opened.append(gateway)
        return gateway

    common.load_gateway = counting_load  # type: ignore[assignment]
    try:
        first = SavedMethodsPanel(context, ORG)
        second = SavedMethodsPanel(context, ORG)
        for panel in (first, second):
            qtbot.addWidget(panel)  # type: ignore[attr-defined]
        assert not first.add_button.isEnabled()  # the gateway is being opened
        qtbot.waitUntil(lambda: first._gateway is not None  # type: ignore[attr-defined]
                        and second._gateway is not None, timeout=10_000)
        wait_for_background_tasks(qtbot)
    finally:
        common.load_gateway = real_load
    # Opened once, in a worker, for both — and kept for every other screen.
    assert len(opened) == 1
    assert first._gateway is second._gateway is context.services.gateway
    assert first.add_button.isEnabled() and first.stack.currentWidget() is first.empty


def test_gateway_down_keeps_the_local_list(qtbot: object, context: AppContext,
                                           kit: GatewayKit) -> None:
    gateway = kit.gateway()
    first = _panel(qtbot, context, gateway)
    opened: list[str] = []
    first.open_url = lambda url: opened.append(url) or True
    first.add_button.click()
    qtbot.waitUntil(lambda: bool(opened), timeout=5000)  # type: ignore[attr-defined]
    with qtbot.waitSignal(first.methodsChanged, timeout=10_000):  # type: ignore[attr-defined]
        kit.submit_card(opened[0], "approve_mastercard")
    kit.sandbox.stop()
    offline = _panel(qtbot, context, gateway)
    assert [r[0] for r in _rows(offline)] == [kit.summaries["approve_mastercard"]]
    assert "Showing the methods saved on this computer" in offline.message.text()


def test_organization_page_gets_a_payment_methods_section(
    qtbot: object, context: AppContext, kit: GatewayKit
) -> None:
    """On an organization's page, a card added on the hosted page shows as a saved method."""
    from PySide6.QtWidgets import QTabWidget

    from app.gui.organizations import OrganizationPage
    from app.gui.payment_methods import add_to_organization_page

    context.services.gateway = kit.gateway()
    page = OrganizationPage(context, ORG)
    qtbot.addWidget(page)  # type: ignore[attr-defined]
    panel = add_to_organization_page(page, context)
    tabs = page.findChild(QTabWidget)
    assert tabs is not None
    assert tabs.tabText(tabs.indexOf(panel)) == "Payment methods"
    panel.poll_interval_ms = 50
    wait_for_background_tasks(qtbot)
    opened: list[str] = []
    panel.open_url = lambda url: opened.append(url) or True
    panel.add_button.click()
    qtbot.waitUntil(lambda: bool(opened), timeout=5000)  # type: ignore[attr-defined]
    with qtbot.waitSignal(panel.methodsChanged, timeout=10_000):  # type: ignore[attr-defined]
        assert kit.submit_card(opened[0], "approve_mastercard")
    assert [r[0] for r in _rows(panel)] == [kit.summaries["approve_mastercard"]]
