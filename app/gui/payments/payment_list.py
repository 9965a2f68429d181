"""What Transactions and Payment Search share: a table of payments that follows the change
bus, sorts by clicking a column header, and opens a payment's detail.

A subclass sets ``model`` (a ``LazyTableModel``), ``table``, ``sort`` (its sort enum's
value, e.g. ``TransactionSort.DATE``) and ``descending`` before it is shown, implements
``reload`` (the id query for the current filters) and may override ``_on_payment_changed``
(a refund or a retry in the detail dialog). GUI thread.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, ClassVar

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QDialog, QTableView, QWidget

from app.gui.changes import RefreshOnChange
from app.gui.context import AppContext
from app.gui.payments.common import TestModeBanner

__all__ = ["PaymentListView"]


class PaymentListView(QWidget):
    #: Sorts that start descending when first chosen (newest, largest first).
    descending_first: ClassVar[frozenset[str]] = frozenset({"date", "amount"})
    #: The column whose indicator shows when a column that cannot sort is clicked.
    fallback_sort_column: ClassVar[int] = 0

    model: Any
    table: QTableView
    sort: Enum
    descending: bool

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.money_locale = context.locale
        self.detail_dialog: QDialog | None = None
        bus = context.changes()
        # A payment, refund or posting anywhere: the list shows it within a moment.
        RefreshOnChange(self, self.refresh_payments, bus.paymentsChanged, bus.postingsChanged)

    def reload(self) -> None:
        """Run the id query for the current filters (in a worker)."""
        raise NotImplementedError

    def showEvent(self, event: QShowEvent) -> None:
        """The gateway may have been connected (or switched to live keys) since this list
        was built: the TEST MODE banner looks again each time the list is shown."""
        super().showEvent(event)
        banner = getattr(self, "test_banner", None)
        if isinstance(banner, TestModeBanner):
            banner.follow(self.context)

    def refresh_payments(self, payment_ids: list[int]) -> None:
        """These payments changed (empty: some did). The list shows them again; a subclass
        whose rows are keyed by payment updates them in place."""
        self.reload()

    # --- sorting ---------------------------------------------------------------------------
    def _order(self) -> Qt.SortOrder:
        return Qt.SortOrder.DescendingOrder if self.descending else Qt.SortOrder.AscendingOrder

    @Slot(int)
    def _on_header_clicked(self, section: int) -> None:
        key = self.model.sort_key(section)
        header = self.table.horizontalHeader()
        if key is None:
            # Keep the indicator on the column the rows are really sorted by.
            current = next(
                (i for i, c in enumerate(self.model.columns()) if c.sort_key == self.sort.value),
                self.fallback_sort_column,
            )
            header.setSortIndicator(current, self._order())
            return
        new_sort = type(self.sort)(key)
        self.descending = (not self.descending if new_sort is self.sort
                           else str(new_sort.value) in self.descending_first)
        self.sort = new_sort
        header.setSortIndicator(section, self._order())
        self.reload()

    # --- the detail ------------------------------------------------------------------------
    def open_payment(self, payment_id: int) -> None:
        from app.gui.payments.detail import PaymentDetailDialog

        dialog = PaymentDetailDialog(self.context, payment_id, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dialog.paymentChanged.connect(self._on_payment_changed)
        dialog.open()
        self.detail_dialog = dialog

    @Slot(int)
    def _on_payment_changed(self, _payment_id: int) -> None:
        """A refund or a retry in the detail dialog: it announced the change on the bus, which
        refreshes this list; a subclass updates what else it shows."""
