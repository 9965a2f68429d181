"""Screen readers can name every control a person acts on, and Tab reaches every one of them.

Every area of the main window (with an invoice's page and an organization's page open) and
the payment dialogs are walked: each visible button, check box, line edit, combo box, spin
box, text box and table must have a name as Qt's accessibility layer reports it to a screen
reader (``QAccessible``: the accessible name, a button's text, a field's label) and a
description (the accessible description or the tooltip). The status pills keep their words,
so colour is never the only sign of a status."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QAbstractItemModel, Qt
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QTabBar,
    QTextEdit,
    QWidget,
)
from pytestqt.qtbot import QtBot

from app.gui.context import AppContext
from app.gui.main_window import AREAS, MainWindow
from app.gui.organizations import OrganizationsArea
from app.gui.payments.detail import PaymentDetailDialog, RefundDialog
from app.gui.payments.order_summary import OrderSummaryDialog
from tests.gui.conftest import wait_for_background_tasks
from tests.gui.payments_support import ORG_ID, PaymentWorld, build_world, pay
from tests.integration.payments.gateways import start_kit

CONTROLS = (QAbstractButton, QLineEdit, QComboBox, QAbstractSpinBox, QPlainTextEdit,
            QTextEdit, QAbstractItemView)


@pytest.fixture
def world(set_up_context: AppContext) -> Iterator[PaymentWorld]:
    # Stripe only: the payments are there to fill the screens; their controls are the same
    # for every gateway.
    with start_kit("stripe") as kit:
        yield build_world(set_up_context, kit)


def _is_part_of_another_control(widget: QWidget) -> bool:
    """Inner pieces Qt builds itself (a combo box's line edit, a spin box's editor, a
    table's corner button, a tab bar's scroll arrows): named through their owner."""
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, (QComboBox, QAbstractSpinBox, QAbstractItemView, QTabBar,
                               QLineEdit)):
            return True
        parent = parent.parentWidget()
    return widget.objectName().startswith("qt_")


def controls(root: QWidget) -> list[QWidget]:
    """Every control under ``root``, also those on tabs and pages not on show; only those
    the screen itself hid (an action not on offer now) are left out."""
    return [
        w for w in root.findChildren(QWidget)
        if isinstance(w, CONTROLS) and not w.isHidden() and not _is_part_of_another_control(w)
    ]


def accessible(widget: QWidget, which: QAccessible.Text) -> str:
    interface = QAccessible.queryAccessibleInterface(widget)
    assert interface is not None
    return interface.text(which).strip()


def describe(widget: QWidget) -> str:
    """``QPushButton payButton in orderSummaryDialog``, with the nearest named parent for a
    control without a name of its own."""
    where = widget.parentWidget()
    while where is not None and not where.objectName():
        where = where.parentWidget()
    own = widget.objectName() or f"(unnamed, in {where.objectName() if where else '?'})"
    window = widget.window()
    return f"{type(widget).__name__} {own} in {window.objectName() or type(window).__name__}"


def unnamed(root: QWidget) -> list[str]:
    return [describe(w) for w in controls(root)
            if not accessible(w, QAccessible.Text.Name)]


def undescribed(root: QWidget) -> list[str]:
    return [describe(w) for w in controls(root)
            if not accessible(w, QAccessible.Text.Description)]


def check(root: QWidget) -> tuple[list[str], list[str]]:
    return unnamed(root), undescribed(root)


def test_every_control_on_every_screen_has_a_name_and_a_description(
    qtbot: QtBot, world: PaymentWorld
) -> None:
    paid = pay(world, [world.invoice_ids[0]], amount="100.00")
    window = MainWindow(world.context)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    wait_for_background_tasks(qtbot)
    missing_names: list[str] = []
    missing_descriptions: list[str] = []

    def walk(root: QWidget) -> None:
        wait_for_background_tasks(qtbot)
        names, descriptions = check(root)
        missing_names.extend(names)
        missing_descriptions.extend(descriptions)

    for spec in AREAS:
        window.show_area(spec.key)
        walk(window)
    invoices = window.show_area("invoices")
    invoices.open_invoice(world.invoice_ids[0])  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: invoices.stack.currentWidget() is invoices.page)  # type: ignore[attr-defined]
    walk(window)
    organizations = window.show_area("organizations")
    assert isinstance(organizations, OrganizationsArea)
    organizations.show_organization(ORG_ID)
    walk(window)
    assert organizations.page is not None
    organizations.page.tabs.setCurrentWidget(organizations.page.payments_view)
    walk(window)

    summary = OrderSummaryDialog(world.context, ORG_ID, [world.invoice_ids[1]], window)
    qtbot.addWidget(summary)
    summary.show()
    qtbot.waitUntil(lambda: summary.summary is not None, timeout=5000)
    walk(summary)
    summary.close()
    detail = PaymentDetailDialog(world.context, paid, window)
    qtbot.addWidget(detail)
    detail.show()
    qtbot.waitUntil(lambda: detail.detail is not None, timeout=5000)
    walk(detail)
    assert detail.detail is not None
    refund = RefundDialog(world.context, detail.detail, parent=detail)
    qtbot.addWidget(refund)
    refund.show()
    walk(refund)
    refund.close()
    detail.close()

    window.open_setup()
    wizard = window.wizard
    assert wizard is not None
    for page_id in wizard.pageIds():  # type: ignore[attr-defined]
        walk(wizard.page(page_id))  # type: ignore[attr-defined]
    wizard.reject()

    assert not sorted(set(missing_names)), "no accessible name:\n" + "\n".join(
        sorted(set(missing_names)))
    assert not sorted(set(missing_descriptions)), "no accessible description:\n" + "\n".join(
        sorted(set(missing_descriptions)))
    window.close()
    wait_for_background_tasks(qtbot)


def _words(model: QAbstractItemModel, key: str, column: str) -> dict[str, str]:
    """What a screen reader reads in ``column`` (a pill's words), by the ``key`` column."""
    titles = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    at, key_at = titles.index(column), titles.index(key)
    words = {}
    for row in range(model.rowCount()):
        cell = model.index(row, at)
        said = cell.data(Qt.ItemDataRole.AccessibleTextRole) or cell.data()
        words[str(model.index(row, key_at).data())] = str(said or "")
    return words


def test_status_pills_say_their_status_in_words(qtbot: QtBot, world: PaymentWorld) -> None:
    """Colour is never the only sign: the pill's text is in the cell, read out as such."""
    pay(world, [world.invoice_ids[0]], amount="100.00")
    window = MainWindow(world.context)
    qtbot.addWidget(window)
    window.show()
    history = window.show_area("invoices").history  # type: ignore[attr-defined]
    wait_for_background_tasks(qtbot)
    qtbot.waitUntil(lambda: history.model.rowCount() == 3, timeout=3000)
    words = _words(history.model, "Invoice #", "Status")
    assert words == {"1045": "Overdue", "1046": "Overdue", "1047": "Overdue"}  # due by now
    transactions = window.show_area("transactions")
    qtbot.waitUntil(lambda: transactions.model.rowCount() == 1, timeout=3000)  # type: ignore[attr-defined]
    [status] = _words(transactions.model, "Amount", "Status").values()  # type: ignore[attr-defined]
    assert status == "Approved"
    window.close()
    wait_for_background_tasks(qtbot)


def _tab_stops(root: QWidget) -> list[QWidget]:
    return [
        w for w in root.findChildren(QWidget)
        if w.isVisible() and w.isEnabled() and (w.focusPolicy() & Qt.FocusPolicy.TabFocus)
        and not _is_part_of_another_control(w) and not isinstance(w, QTabBar)
    ]


def _tab_round(qtbot: QtBot, window: QWidget, start: QWidget, limit: int) -> list[QWidget]:
    """Tab from ``start`` until the focus comes back to it: the widgets visited, in order."""
    from PySide6.QtTest import QTest

    start.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(start.hasFocus, timeout=2000)
    visited = [start]
    for _ in range(limit):
        QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        current = QApplication.focusWidget()
        if current is start or current is None:
            break
        visited.append(current)
    return visited


def test_tab_reaches_every_control_of_every_area_in_reading_order(
    qtbot: QtBot, world: PaymentWorld
) -> None:
    """No control is out of Tab's reach and no table or text box keeps the Tab key; on the
    list screens Tab goes from the search box to the list."""
    pay(world, [world.invoice_ids[0]], amount="100.00")
    window = MainWindow(world.context)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)
    problems: list[str] = []
    for spec in AREAS:
        area = window.show_area(spec.key)
        wait_for_background_tasks(qtbot)
        stops = _tab_stops(area)
        if not stops:
            continue
        visited = _tab_round(qtbot, window, stops[0], limit=4 * len(_tab_stops(window)) + 10)
        unreached = [describe(w) for w in stops if w not in visited]
        if unreached:
            problems.append(f"{spec.title}: Tab never reaches {', '.join(unreached)}")
        search = area.findChild(QLineEdit, "invoiceSearch") or area.findChild(
            QLineEdit, "searchField") or area.findChild(QLineEdit, "organizationSearch")
        tables = [w for w in visited if isinstance(w, QAbstractItemView)
                  and w.objectName() != "navigation"]
        if (search is not None and search.isVisible() and tables
                and visited.index(search) > visited.index(tables[0])):
            problems.append(f"{spec.title}: Tab reaches the list before the search box")
    assert not problems, "\n".join(problems)
    window.close()
    wait_for_background_tasks(qtbot)


@pytest.mark.parametrize("provider", ["stripe", "authorizenet"])
def test_the_gateway_page_describes_the_fields_of_the_gateway_chosen(
    qtbot: QtBot, set_up_context: AppContext, provider: str
) -> None:
    """The gateway's own fields are drawn when it is chosen, after Setup named and described
    its controls: each still has a name and a description (the gateway's help for it)."""
    from app.core.gateways.providers import get_provider
    from app.core.setup.steps import STEP_ORDER
    from app.gui.wizard.gateway_page import GatewayPage
    from app.gui.wizard.wizard import SetupWizard

    wizard = SetupWizard(set_up_context)
    qtbot.addWidget(wizard)
    wizard.setStartId(STEP_ORDER["gateway"])
    wizard.show()
    wizard.restart()
    page = wizard.findChild(GatewayPage, "gatewayPage")
    assert page is not None
    qtbot.waitUntil(lambda: page.loaded, timeout=10_000)  # read in a worker
    # Chosen after the page was drawn (Authorize.Net), or chosen again (Stripe, from
    # Authorize.Net): either way its fields are made anew.
    other = "stripe" if provider == "authorizenet" else "authorizenet"
    for key in (other, provider):
        page.kind.setCurrentIndex(page.kind.findData(key))
    gateway = get_provider(provider)
    assert gateway is not None
    for spec in gateway.fields:
        name = f"{provider}SecretKey" if spec.secret else f"gatewayField_{spec.name}"
        field = page.findChild(QWidget, name)
        assert field is not None, name
        assert field.accessibleName() == spec.label
        assert accessible(field, QAccessible.Text.Name)
        assert accessible(field, QAccessible.Text.Description) == (spec.help or ""), name
    assert check(page) == ([], [])
    wizard.reject()
    wait_for_background_tasks(qtbot)
