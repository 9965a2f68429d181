"""``InvoiceHistoryModel``: Invoice History's rows, from ``app.core.queries.invoices``.

A ``LazyTableModel`` with one declared column per ``InvoiceColumn``. ``set_query`` runs the
id query (and, when the filter changed, the totals aggregate) in a worker; rows come a page
at a time as the view paints them. Runs on the GUI thread; the loaders run on pool threads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QPixmap
from sqlalchemy import Engine

from app.core.invoice_state import InvoiceStatus
from app.core.queries.invoices import (
    InvoiceColumn,
    InvoiceFacts,
    InvoiceQuery,
    InvoiceRow,
    InvoiceTotals,
    invoice_facts,
    invoice_first_page,
    invoice_listing,
    invoice_rows,
)
from app.core.storage.engine import read_connection
from app.gui.invoices.formatting import date_text, local_today, money_text
from app.gui.invoices.status_delegate import status_pill_pixmap
from app.gui.widgets import invoice_status_tone
from app.gui.widgets.lazy_table import Align, Column, LazyTableModel, Listing

COLUMNS: tuple[InvoiceColumn, ...] = tuple(InvoiceColumn)

#: ``data(…, ROW_ROLE)`` gives the whole ``InvoiceRow``.
ROW_ROLE = LazyTableModel.RowRole

#: Where ``status`` sits in a packed row (``_pack``).
_STATUS_FIELD = InvoiceRow.__slots__.index("status")
#: Rows per page: a screenful or two, so a scroll step waits for little more than it shows.
PAGE_SIZE = 120


def cell_text(row: InvoiceRow, column: InvoiceColumn, currency: str, locale: str) -> str:
    """What a person reads in one cell (also what Copy writes)."""
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
        case InvoiceColumn.DAYS_OVERDUE:
            return str(row.days_overdue) if row.days_overdue is not None else ""
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


def _pack(row: InvoiceRow) -> tuple[Any, ...]:
    # A tuple of ints, strings, dates and None (the status by its value), which the garbage
    # collector stops tracking: see ``LazyTableModel``.
    values = [getattr(row, name) for name in InvoiceRow.__slots__]
    values[_STATUS_FIELD] = row.status.value
    return tuple(values)


def _unpack(packed: tuple[Any, ...]) -> InvoiceRow:
    values = list(packed)
    values[_STATUS_FIELD] = InvoiceStatus(values[_STATUS_FIELD])
    return InvoiceRow(*values)


def invoice_columns(currency: str, locale: str, pills: Mapping[str, QPixmap]) -> list[
    Column[InvoiceRow]
]:
    """Invoice History's columns, in ``COLUMNS`` order. The status cell is a pill picture
    (drawn by Qt's own delegate) that carries the words; its text stays empty."""

    def text_of(column: InvoiceColumn) -> Callable[[InvoiceRow], str]:
        return lambda row: cell_text(row, column, currency, locale)

    def status_tooltip(row: InvoiceRow) -> str:
        if row.due_date is not None and row.is_payable:
            return f"{row.status.label} — due {date_text(row.due_date, locale)}"
        return row.status.label

    columns: list[Column[InvoiceRow]] = []
    for column in COLUMNS:
        if column is InvoiceColumn.STATUS:
            columns.append(
                Column(
                    column.heading,
                    lambda row: "",
                    sort_key=column.value,
                    tooltip=status_tooltip,
                    accessible=lambda row: row.status.label,
                    decoration=lambda row: pills.get(row.status.value),
                    pill=lambda row: invoice_status_tone(row.status),
                )
            )
            continue
        tooltip: Callable[[InvoiceRow], str | None] | None = None
        if column is InvoiceColumn.ORGANIZATION:
            tooltip = lambda row: row.organization_name  # noqa: E731
        elif column is InvoiceColumn.TERMS:
            tooltip = lambda row: row.payment_terms  # noqa: E731
        columns.append(
            Column(
                column.heading,
                text_of(column),
                align=Align.RIGHT
                if column.is_money or column is InvoiceColumn.DAYS_OVERDUE
                else Align.LEFT,
                sort_key=column.value,
                tooltip=tooltip,
                header_tooltip="Payment terms" if column is InvoiceColumn.TERMS else "",
                stretch=column is InvoiceColumn.ORGANIZATION,
                # Paid is Total less Balance, and Last payment is empty for most open
                # invoices: both wait in the header's menu, leaving the width to names.
                shown=column not in (InvoiceColumn.PAID, InvoiceColumn.LAST_PAYMENT),
            )
        )
    return columns


@dataclass(frozen=True, slots=True)
class HistoryFacts:
    """What one load learnt besides the ids (built on a pool thread)."""

    totals: InvoiceTotals | None
    has_invoices: bool
    any_quickbooks_numbers: bool
    #: What the database said, kept for the next change of filter or sort.
    facts: InvoiceFacts | None = None


class InvoiceHistoryModel(LazyTableModel[int, InvoiceRow]):
    """Invoice History's table. ``set_query`` runs a new id query (and totals) in a worker."""

    totalsChanged = Signal(object)  # InvoiceTotals

    def __init__(
        self,
        engine: Engine,
        currency: str,
        locale: str = "en_US",
        today: Callable[[], date] = local_today,
        parent: QObject | None = None,
    ) -> None:
        self._pills: dict[str, QPixmap] = {
            status.value: status_pill_pixmap(status) for status in InvoiceStatus
        }
        super().__init__(
            invoice_columns(currency, locale, self._pills),
            self._fetch,
            parent,
            pack=_pack,
            unpack=_unpack,
            page_size=PAGE_SIZE,
            task_name="load the invoices",
        )
        self.engine = engine
        self.currency = currency
        self.locale = locale
        self._today = today
        self._query = InvoiceQuery()
        self._totals = InvoiceTotals(0, 0, 0)
        self._totals_stale = True
        #: Facts from the last load (None before it): any invoice at all (of the fixed
        #: organization), and any with a QuickBooks number.
        self.has_invoices: bool | None = None
        self._facts: InvoiceFacts | None = None
        self.any_quickbooks_numbers: bool | None = None
        self.loaded.connect(self._on_loaded_info)

    def on_theme_changed(self, dark: bool = False) -> None:
        """The pills drawn again in the new scheme's colours (the columns hold this very
        dict), then every row painted again."""
        for status in InvoiceStatus:
            self._pills[status.value] = status_pill_pixmap(status)
        super().on_theme_changed(dark)

    def _fetch(self, ids: Sequence[int]) -> dict[int, InvoiceRow]:
        """Runs on a pool thread (or for ``rows_for``)."""
        with read_connection(self.engine) as connection:
            return invoice_rows(connection, ids, self._today())

    # --- queries ---------------------------------------------------------------------------
    def query(self) -> InvoiceQuery:
        return self._query

    def set_query(self, query: InvoiceQuery) -> None:
        """Show what ``query`` selects (the id query runs in a worker)."""
        # A new sort does not change which invoices are listed: keep the totals.
        self._totals_stale = self._totals_stale or replace(
            query, sort=self._query.sort, descending=self._query.descending
        ) != self._query
        self._query = query
        # Another filter or sort lists other invoices, but the facts about the database
        # (any invoices at all, any QuickBooks numbers, held back) stay as last read: one
        # statement less per keystroke. A reload or refresh reads them again.
        self.load(self._loader(with_totals=self._totals_stale, facts=self._facts))

    def reload(self) -> None:
        self.load(self._loader(with_totals=True))

    def refresh_rows(self, changed_ids: Iterable[int], *, top_row: int = 0) -> None:
        """After a sync or a payment: ids and totals again, the changed rows replaced in
        place (``refreshed(bool)`` says whether the id list changed)."""
        self.refresh(self._loader(with_totals=True), changed_ids, prefetch_row=top_row)

    def _loader(
        self, *, with_totals: bool, facts: InvoiceFacts | None = None
    ) -> Callable[[], Listing[int]]:
        engine, query, today = self.engine, self._query, self._today()
        organization_id = query.organization_id
        known = facts

        def load() -> Listing[int]:  # runs on a pool thread
            # Two statements, and on PostgreSQL no BEGIN/ROLLBACK around them: what a
            # keystroke waits for on a shared server is counted in round trips.
            with read_connection(engine) as connection:
                # What the empty state and the QuickBooks # column need to know.
                facts = known or invoice_facts(connection, organization_id=organization_id)
                page = invoice_first_page(
                    connection, query, today, PAGE_SIZE, held_back=facts.held_back
                )

            def info(ids: Sequence[int], totals: InvoiceTotals | None) -> HistoryFacts:
                return HistoryFacts(
                    totals, bool(ids) or facts.has_invoices, facts.any_quickbooks_numbers, facts
                )

            if page.complete:
                return Listing(page.ids, info(page.ids, page.totals), rows=page.rows)

            def rest() -> Listing[int]:  # the whole order (and the totals), after the page
                with read_connection(engine) as connection:
                    ids, totals = invoice_listing(
                        connection, query, today, with_totals=with_totals,
                        held_back=facts.held_back,
                    )
                return Listing(ids, info(ids, totals))

            return Listing(page.ids, info(page.ids, None), rest, page.rows)

        return load

    def _on_loaded_info(self, facts: object) -> None:
        if not isinstance(facts, HistoryFacts):
            return
        self.has_invoices = facts.has_invoices
        self.any_quickbooks_numbers = facts.any_quickbooks_numbers
        if facts.facts is not None:
            self._facts = facts.facts
        if facts.totals is not None:
            self._totals = facts.totals
            self._totals_stale = False
            self.totalsChanged.emit(facts.totals)
        elif self._totals_stale:
            self.totalsChanged.emit(None)  # being counted: the rest of the listing brings them

    def totals(self) -> InvoiceTotals:
        """Count, total and balance of the listed invoices."""
        return self._totals

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(COLUMNS):
            return
        descending = order == Qt.SortOrder.DescendingOrder
        if self._query.sort is COLUMNS[column] and self._query.descending == descending:
            return
        self.set_query(replace(self._query, sort=COLUMNS[column], descending=descending))
