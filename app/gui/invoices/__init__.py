"""Invoice History and the Invoice page (the Invoices area of the main window)."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QStackedWidget, QVBoxLayout, QWidget

from app.gui.context import AppContext
from app.gui.invoices.history import InvoiceHistoryView
from app.gui.invoices.page import InvoicePage
from app.gui.invoices.sync_follow import ChangedRows, follow_sync

__all__ = ["InvoiceHistoryView", "InvoicePage", "InvoicesArea", "create_invoices_area"]


class InvoicesArea(QWidget):
    """Invoice History, and an invoice's page in its place when one is opened."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from app.gui.widgets.remembered import gui_settings

        self.context = context
        self.history = InvoiceHistoryView(context, settings=gui_settings(context))
        self.page = InvoicePage(context)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.history)
        self.stack.addWidget(self.page)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 12)
        layout.addWidget(self.stack)
        self.history.openInvoiceRequested.connect(self.open_invoice)
        self.page.backRequested.connect(self.show_history)
        self.page.invoiceShown.connect(self._on_invoice_shown)
        self.page.openOrganizationRequested.connect(self._open_organization)
        self.sync_changes = ChangedRows(
            frozenset({"invoices", "organizations", "payment_terms"}), self._on_synced, self
        )
        follow_sync(context, self.sync_changes)
        # The QuickBooks read runs at the end of the sync and fills QuickBooks numbers on rows
        # the Autotask pass did not change: show them once the sync is done.
        from app.gui.sync.controller import controller_for

        controller_for(context).finished.connect(self._after_sync)

    @Slot(int)
    def open_invoice(self, invoice_id: int) -> None:
        """Load the invoice (in a worker); its page takes the history's place once shown."""
        self._opening = invoice_id
        self.page.show_invoice(invoice_id)

    _opening: int | None = None

    @Slot(int)
    def _on_invoice_shown(self, invoice_id: int) -> None:
        if invoice_id == self._opening:
            self._opening = None
            self.stack.setCurrentWidget(self.page)

    @Slot()
    def show_history(self) -> None:
        self.stack.setCurrentWidget(self.history)
        self.history.table.setFocus()

    @Slot(int)
    def _open_organization(self, organization_id: int) -> None:
        window = self.window()
        show_area = getattr(window, "show_area", None)
        if show_area is None:
            return
        area = show_area("organizations")
        show = getattr(area, "show_organization", None)
        if show is not None:
            show(organization_id)

    def _on_synced(self, changed: dict[str, set[int]]) -> None:
        """After a sync page landed: invoices update in place; a renamed organization or
        payment term shows in every row that names it."""
        if changed.get("organizations") or changed.get("payment_terms"):
            self.history.model.forget_rows(None)
            self.history.table.viewport().update()
        self.refresh_invoices(sorted(changed.get("invoices", ())))

    @Slot(object)
    def _after_sync(self, _result: object) -> None:
        self.history.model.forget_rows(None)
        self.history.table.viewport().update()
        self.history.reveal_quickbooks_numbers()

    def refresh_invoices(self, changed_ids: list[int]) -> None:
        """After a sync or payment: update those rows, and the open invoice if it changed."""
        self.history.refresh_invoices(changed_ids)
        if self.page.detail is not None and self.page.detail.row.id in set(changed_ids):
            self.page.reload()


def create_invoices_area(context: AppContext) -> QWidget:
    return InvoicesArea(context)
