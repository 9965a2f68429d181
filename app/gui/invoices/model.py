"""``InvoiceHistoryModel``: Invoice History's rows, from ``app.core.queries.invoices``.

Holds the ordered ids of the invoices the current ``InvoiceQuery`` selects and the totals of
that set; rows come a page at a time as the view paints them. Runs on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import date
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QPixmap
from sqlalchemy import Engine

from app.core.invoice_state import InvoiceStatus
from app.core.queries.invoices import (
    InvoiceColumn,
    InvoiceQuery,
    InvoiceRow,
    InvoiceTotals,
    invoice_ids,
    invoice_rows,
    invoice_totals,
)
from app.gui.invoices.formatting import date_text, local_today, money_text
from app.gui.invoices.status_delegate import status_pill_pixmap
from app.gui.invoices.table_model import IdTableModel
from app.gui.widgets import PILL_TONE_ROLE, invoice_status_tone

COLUMNS: tuple[InvoiceColumn, ...] = tuple(InvoiceColumn)

#: ``data(…, ROW_ROLE)`` gives the whole ``InvoiceRow``.
ROW_ROLE = int(Qt.ItemDataRole.UserRole) + 1

_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_LEFT = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
_ALIGNMENTS = tuple(_RIGHT if column.is_money else _LEFT for column in COLUMNS)
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_DECORATION = int(Qt.ItemDataRole.DecorationRole)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_ACCESSIBLE = int(Qt.ItemDataRole.AccessibleTextRole)
_HANDLED_ROLES = frozenset(
    (_DISPLAY, _ALIGNMENT, _DECORATION, _TOOLTIP, _ACCESSIBLE, PILL_TONE_ROLE, ROW_ROLE)
)
_STATUS_COLUMN = COLUMNS.index(InvoiceColumn.STATUS)
_ROW_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
#: Where ``status`` sits in a packed row (``InvoiceHistoryModel.pack_row``).
_STATUS_FIELD = InvoiceRow.__slots__.index("status")


def cell_text(row: InvoiceRow, column: InvoiceColumn, currency: str, locale: str) -> str:
    """What a person reads in one cell (also what Copy and the CSV export write)."""
    match column:
        case InvoiceColumn.NUMBER:
            return row.invoice_number
        case InvoiceColumn.QB_NUMBER:
            return row.qb_doc_number or ""
        case InvoiceColumn.ORGANIZATION:
            return row.organization_name
        case InvoiceColumn.INVOICE_DATE:
            return date_text(row.invoice_date, locale)
        case InvoiceColumn.DUE_DATE:
            return date_text(row.due_date, locale)
        case InvoiceColumn.TOTAL:
            return money_text(row.total_minor, currency, locale)
        case InvoiceColumn.PAID:
            return money_text(row.amount_paid_minor, currency, locale)
        case InvoiceColumn.BALANCE:
            return money_text(row.balance_minor, currency, locale)
        case InvoiceColumn.STATUS:
            return row.status.label
        case InvoiceColumn.TERMS:
            return row.payment_terms or ""
        case InvoiceColumn.LAST_PAYMENT:
            return date_text(row.last_payment_date, locale)


class InvoiceHistoryModel(IdTableModel[InvoiceRow]):
    """Invoice History's table. ``set_query`` runs a new id query and totals aggregate."""

    totalsChanged = Signal(object)  # InvoiceTotals

    def __init__(
        self,
        engine: Engine,
        currency: str,
        locale: str = "en_US",
        today: Callable[[], date] = local_today,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.engine = engine
        self.currency = currency
        self.locale = locale
        self._today = today
        self._query = InvoiceQuery()
        self._totals = InvoiceTotals(0, 0, 0)
        self._pills: dict[str, QPixmap] = {}
        self._texts: dict[int, tuple[str, ...]] = {}
        self._totals_stale = True
        self._refreshing = False

    # --- queries -------------------------------------------------------------------------
    def query(self) -> InvoiceQuery:
        return self._query

    def set_query(self, query: InvoiceQuery) -> None:
        # A new sort does not change which invoices are listed: keep the totals.
        self._totals_stale = self._totals_stale or replace(
            query, sort=self._query.sort, descending=self._query.descending
        ) != self._query
        self._query = query
        self.reload()

    def totals(self) -> InvoiceTotals:
        """Count, total and balance of the listed invoices."""
        return self._totals

    def query_ids(self) -> list[int]:
        today = self._today()
        with self.engine.connect() as connection:
            ids = invoice_ids(connection, self._query, today)
            if self._totals_stale or self._refreshing:
                # A new sort lists the same invoices: only a new filter or a sync needs them.
                self._totals = invoice_totals(connection, self._query, today)
                self._totals_stale = False
                self.totalsChanged.emit(self._totals)
        return ids

    def refresh(self, changed_ids: Iterable[int]) -> bool:
        self._refreshing = True
        try:
            return super().refresh(changed_ids)
        finally:
            self._refreshing = False

    def fetch_rows(self, ids: list[int]) -> dict[int, InvoiceRow]:
        with self.engine.connect() as connection:
            return invoice_rows(connection, ids, self._today())

    # --- Qt ------------------------------------------------------------------------------
    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        column = COLUMNS[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.heading
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _RIGHT if column.is_money else _LEFT
        if role == Qt.ItemDataRole.ToolTipRole and column is InvoiceColumn.TERMS:
            return "Payment terms"
        return None

    def pack_row(self, row: InvoiceRow) -> tuple[Any, ...]:
        # A tuple of ints, strings, dates and None (the status by its value), which the
        # garbage collector stops tracking: see ``IdTableModel``.
        values = [getattr(row, name) for name in InvoiceRow.__slots__]
        values[_STATUS_FIELD] = row.status.value
        return tuple(values)

    def unpack_row(self, packed: tuple[Any, ...]) -> InvoiceRow:
        values = list(packed)
        values[_STATUS_FIELD] = InvoiceStatus(values[_STATUS_FIELD])
        return InvoiceRow(*values)

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = _DISPLAY
    ) -> Any:
        # Called thousands of times per repaint: plain int comparisons, one dict lookup
        # for the common case, and each row's texts formatted once.
        if role not in _HANDLED_ROLES:  # font, colours, check state, size hint …
            return None
        column_number = index.column()
        if role == _DISPLAY:
            texts = self._texts_at(index.row())
            return texts[column_number] if texts is not None else None
        if role == _ALIGNMENT:
            return _ALIGNMENTS[column_number]
        if role == _DECORATION:
            if column_number != _STATUS_COLUMN:
                return None
            packed = self.packed_at(index.row())
            if packed is None:
                return None
            value: str = packed[_STATUS_FIELD]
            pill = self._pills.get(value)
            if pill is None:
                pill = self._pills[value] = status_pill_pixmap(InvoiceStatus(value))
            return pill
        if not index.isValid():
            return None
        row = self.row_at(index.row())
        if row is None:
            return None
        if role == ROW_ROLE:
            return row
        column = COLUMNS[column_number]
        if column is InvoiceColumn.STATUS:
            if role == _ACCESSIBLE:
                return row.status.label
            if role == PILL_TONE_ROLE:
                return invoice_status_tone(row.status).value
            if role == _TOOLTIP:
                if row.due_date is not None and row.is_payable:
                    return f"{row.status.label} — due {date_text(row.due_date, self.locale)}"
                return row.status.label
            return None
        if role == _TOOLTIP and column is InvoiceColumn.ORGANIZATION:
            return row.organization_name
        if role == _TOOLTIP and column is InvoiceColumn.TERMS:
            return row.payment_terms
        if role == _ACCESSIBLE:
            return cell_text(row, column, self.currency, self.locale)
        return None

    def _texts_at(self, row_number: int) -> tuple[str, ...] | None:
        item_id = self.id_at(row_number)
        if item_id is None:
            return None
        texts = self._texts.get(item_id)
        if texts is None:
            row = self.row_at(row_number)
            if row is None:
                return None
            texts = tuple(
                "" if column is InvoiceColumn.STATUS  # the pill carries the words
                else cell_text(row, column, self.currency, self.locale)
                for column in COLUMNS
            )
            if len(self._texts) >= 20_000:
                self._texts.clear()
            self._texts[item_id] = texts
        return texts

    def forget_rows(self, ids: Iterable[int] | None) -> None:
        super().forget_rows(ids)
        if ids is None:
            self._texts.clear()
        else:
            for item_id in ids:
                self._texts.pop(item_id, None)

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return _ROW_FLAGS

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(COLUMNS):
            return
        descending = order == Qt.SortOrder.DescendingOrder
        if self._query.sort is COLUMNS[column] and self._query.descending == descending:
            return
        self.set_query(replace(self._query, sort=COLUMNS[column], descending=descending))
