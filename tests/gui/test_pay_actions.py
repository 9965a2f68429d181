"""Pay… on Invoice History (toolbar, context menu, Ctrl+P), on the Invoice page, and the
Payments tab of the organization page."""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QTabWidget
from pytestqt.qtbot import QtBot

from app.gui.context import AppContext
from app.gui.invoices.history import InvoiceHistoryView
from app.gui.invoices.page import InvoicePage
from app.gui.organizations import OrganizationPage
from app.gui.payments.order_summary import OrderSummaryDialog
from app.gui.payments.transactions import TransactionsView
from tests.gui.conftest import wait_for_background_tasks
from tests.gui.payments_support import ORG_ID, seed_organization


def _pay_action(widget: object) -> QAction:
    action = widget.findChild(QAction, "payAction")  # type: ignore[attr-defined]
    assert action is not None
    return action


def _select(view: InvoiceHistoryView, numbers: set[str]) -> None:
    selection = view.table.selectionModel()
    selection.clearSelection()
    number_column = 0
    for row in range(view.model.rowCount()):
        if view.model.index(row, number_column).data() in numbers:
            selection.select(
                view.model.index(row, 0),
                QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
            )


def test_pay_on_invoice_history_follows_the_selection(
    qtbot: QtBot, set_up_context: AppContext
) -> None:
    seed_organization(set_up_context.engine)
    seed_organization(set_up_context.engine, organization_id=2002, name="Other Org",
                      invoices=(("2001", 5_000, date(2026, 12, 31)),))
    view = InvoiceHistoryView(set_up_context)
    qtbot.addWidget(view)
    view.show()
    wait_for_background_tasks(qtbot)
    action = _pay_action(view)
    assert action.shortcut().toString() == "Ctrl+P"
    assert not action.isEnabled()
    assert action.toolTip() == "Select the invoices to pay."

    _select(view, {"1045", "1046"})
    assert action.isEnabled()
    assert "($1,650.50 owed)" in action.toolTip()

    _select(view, {"1045", "2001"})
    assert not action.isEnabled()
    assert "one organization" in action.toolTip()

    _select(view, {"1046", "1047"})
    view.activateWindow()
    view.table.setFocus()
    qtbot.waitUntil(view.isActiveWindow, timeout=2000)
    qtbot.keyClick(view.table, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    dialog = view.pay_action.dialog
    assert isinstance(dialog, OrderSummaryDialog)
    assert dialog.organization_id == ORG_ID
    assert sorted(dialog.invoice_ids) == sorted([ORG_ID * 100 + 1, ORG_ID * 100 + 2])
    qtbot.waitUntil(lambda: dialog.summary is not None, timeout=5000)
    dialog.reject()


def test_pay_on_the_invoice_page_only_while_payable(
    qtbot: QtBot, set_up_context: AppContext
) -> None:
    from app.core.storage.engine import session_scope
    from app.core.storage.models import Invoice

    ids = seed_organization(set_up_context.engine)
    with session_scope(set_up_context.engine) as s:
        paid = s.get(Invoice, ids[2])
        assert paid is not None
        paid.status, paid.balance_minor, paid.amount_paid_minor = "paid", 0, paid.total_minor
    page = InvoicePage(set_up_context)
    qtbot.addWidget(page)
    action = _pay_action(page)
    with qtbot.waitSignal(page.invoiceShown):  # the invoice is there and shown
        page.show_invoice(ids[0])
    assert action.isEnabled()
    with qtbot.waitSignal(page.invoiceShown):
        page.show_invoice(ids[2])
    assert not action.isEnabled()


def test_the_organization_page_has_its_payments(
    qtbot: QtBot, set_up_context: AppContext
) -> None:
    seed_organization(set_up_context.engine)
    page = OrganizationPage(set_up_context, ORG_ID)
    qtbot.addWidget(page)
    wait_for_background_tasks(qtbot)
    tabs = page.findChild(QTabWidget, "organizationTabs")
    titles = [tabs.tabText(i) for i in range(tabs.count())]
    assert "Payments" in titles
    payments = tabs.widget(titles.index("Payments"))
    assert isinstance(payments, TransactionsView)
    assert payments.organization_id == ORG_ID
    # The organization's invoices carry Pay… too.
    assert _pay_action(page.invoices) is not None
