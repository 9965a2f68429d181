"""The Pay… action on the screens that show invoices, and the organization page's payments.

These functions plug into the extension points of the invoice and organization screens
(listed there as ``"module:function"`` paths), so those screens never import the payment
screens:

* ``install_history_pay_action(view, context)`` — Invoice History (the Invoices area and an
  organization's invoices): Pay… on the bar under the table, in the context menu and on
  Ctrl+P, enabled when the selection is payable invoices of one organization;
* ``install_invoice_page_pay_action(page, context)`` — the Invoice page: Pay… for that
  invoice while it is payable, and a listed payment opens its detail;
* ``install_organization_payments(page, context)`` — the organization page's Payments tab:
  its transaction history, newest first.

Everything here runs on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget

from app.core.queries.invoices import InvoiceRow
from app.gui.context import AppContext

PAY_SHORTCUT = QKeySequence("Ctrl+P")


def pay_problem(rows: Sequence[InvoiceRow]) -> str | None:
    """Why these invoices cannot be paid together, or None when they can."""
    if not rows:
        return "Select the invoices to pay."
    if len({row.organization_id for row in rows}) > 1:
        return "Select invoices of one organization: one payment pays one organization."
    unpayable = [row for row in rows if not row.is_payable]
    if unpayable:
        first = unpayable[0]
        return f"Invoice {first.invoice_number} has nothing left to pay ({first.status.label})."
    return None


def open_order_summary(
    context: AppContext,
    organization_id: int,
    invoice_ids: Sequence[int],
    parent: QWidget | None,
    on_paid: Any = None,
) -> QWidget:
    """Open the Order Summary dialog (window-modal) for these invoices."""
    from app.gui.payments.order_summary import OrderSummaryDialog

    dialog = OrderSummaryDialog(context, organization_id, invoice_ids, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
    if on_paid is not None:
        dialog.paymentFinished.connect(on_paid)
    dialog.open()
    return dialog


class _HistoryPayAction(QObject):
    """Pay… on one Invoice History view."""

    def __init__(self, view: Any, context: AppContext) -> None:
        super().__init__(view)
        self.view = view
        self.context = context
        self.action = QAction("Pay…", view)
        self.action.setObjectName("payAction")
        self.action.setIconText("Pay…")  # tool buttons would drop the "…" otherwise
        self.action.setShortcut(PAY_SHORTCUT)
        self.action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.action.triggered.connect(self.pay)
        view.add_action(self.action, toolbar=True, context_menu=True)
        view.selectionChangedInvoices.connect(self.update)
        self.update(view.selectedInvoices())
        self.dialog: QWidget | None = None

    @Slot(tuple)
    def update(self, rows: tuple[InvoiceRow, ...]) -> None:
        problem = pay_problem(rows)
        self.action.setEnabled(problem is None)
        total = sum(row.balance_minor for row in rows) if problem is None else 0
        if problem is None:
            from app.core.money import Money

            owed = Money(total, self.context.currency() or "USD").format(self.context.locale)
            tip = f"Take a payment on the selected invoices ({owed} owed) — Ctrl+P"
        else:
            tip = problem
        self.action.setToolTip(tip)
        self.action.setStatusTip(tip)

    @Slot()
    def pay(self) -> None:
        rows = self.view.selectedInvoices()
        if pay_problem(rows) is not None:
            return
        ids = [row.id for row in rows]
        self.dialog = open_order_summary(
            self.context, rows[0].organization_id, ids, self.view.window(), self._paid
        )

    @Slot(int)
    def _paid(self, _payment_id: int) -> None:
        self.view.refresh_invoices([row.id for row in self.view.selectedInvoices()])


def install_history_pay_action(view: Any, context: AppContext) -> None:
    """Extension for ``InvoiceHistoryView`` (``HISTORY_EXTENSIONS``)."""
    view.pay_action = _HistoryPayAction(view, context)


class _PagePayAction(QObject):
    """Pay… on the Invoice page, for the invoice it shows."""

    def __init__(self, page: Any, context: AppContext) -> None:
        super().__init__(page)
        self.page = page
        self.context = context
        self.action = QAction("Pay…", page)
        self.action.setObjectName("payAction")
        self.action.setIconText("Pay…")  # tool buttons would drop the "…" otherwise
        self.action.setShortcut(PAY_SHORTCUT)
        self.action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.action.triggered.connect(self.pay)
        page.add_action(self.action)
        page.addAction(self.action)
        page.invoiceShown.connect(self.update)
        self.update()
        self.dialog: QWidget | None = None

    @Slot()
    def update(self) -> None:
        detail = self.page.detail
        row = detail.row if detail is not None else None
        payable = row is not None and row.is_payable
        self.action.setEnabled(payable)
        self.action.setToolTip(
            "Take a payment on this invoice — Ctrl+P" if payable
            else "This invoice has nothing left to pay."
        )

    @Slot()
    def pay(self) -> None:
        detail = self.page.detail
        if detail is None or not detail.row.is_payable:
            return
        self.dialog = open_order_summary(
            self.context, detail.row.organization_id, [detail.row.id], self.page.window(),
            self._paid,
        )

    @Slot(int)
    def _paid(self, _payment_id: int) -> None:
        self.page.reload()
        self.update()


def install_invoice_page_pay_action(page: Any, context: AppContext) -> None:
    """Extension for ``InvoicePage`` (``INVOICE_PAGE_EXTENSIONS``): Pay…, and a payment
    listed on the page opens its detail (where it can be refunded)."""
    page.pay_action = _PagePayAction(page, context)
    page.payment_opener = _PagePaymentOpener(page, context)


class _PagePaymentOpener(QObject):
    """Opens the detail of a payment the Invoice page lists (Enter or a double click)."""

    def __init__(self, page: Any, context: AppContext) -> None:
        super().__init__(page)
        self.page = page
        self.context = context
        self.dialog: QWidget | None = None
        page.openPaymentRequested.connect(self.open_payment)

    @Slot(int)
    def open_payment(self, payment_id: int) -> None:
        from app.gui.payments.detail import PaymentDetailDialog

        dialog = PaymentDetailDialog(self.context, payment_id, self.page.window())
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dialog.open()
        self.dialog = dialog


def install_organization_payments(page: Any, context: AppContext) -> None:
    """Extension for ``OrganizationPage`` (``ORGANIZATION_PAGE_EXTENSIONS``): a Payments tab
    with the organization's transaction history, newest first."""
    from app.gui.payments.transactions import TransactionsView
    from app.gui.payments.upkeep import existing_upkeep

    history = TransactionsView(context, organization_id=page.organization_id, compact=True)
    upkeep = existing_upkeep(context)
    if upkeep is not None:
        history.follow(upkeep)
    page.add_section("Payments", history)
    page.payments_view = history
