"""Needs matching: the Autotask invoices PayDesk could not pair with a QuickBooks invoice,
each with why — and a person's match, unmatch or "let PayDesk decide again".

A payment on an unmatched invoice waits before it is posted to QuickBooks, so this list is
the bookkeeper's to-do. The filters also list invoices already matched (all, or by hand) so a
wrong match can be undone. Every decision is the core's (:mod:`app.core.quickbooks.books`:
remembered and audited); this module maps clicks onto it.

The table follows "ids from SQL, rows on demand" (``LazyTableModel``): the id query runs in a
worker after every filter, search or sort change; rows are read a page at a time.

Everything here runs on the GUI thread except the functions handed to ``run_task``.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt, Signal, Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import Engine

from app.core.quickbooks.books import forget_hand_decision, match_by_hand, match_invoices
from app.core.quickbooks.books import unmatch_by_hand as core_unmatch
from app.core.quickbooks.review import (
    MatchFilter,
    MatchRow,
    QuickBooksCandidate,
    has_been_read,
    match_candidates,
    match_ids,
    match_rows,
)
from app.gui.context import AppContext
from app.gui.invoices.formatting import date_text, money_text
from app.gui.widgets import EmptyState, SearchField
from app.gui.widgets.headers import FilterButtons
from app.gui.widgets.lazy_table import Align, Column, LazyTableModel, TextTone
from app.gui.widgets.table_columns import ColumnFitter
from app.gui.workers import Task, run_task

__all__ = ["MatchDialog", "NeedsMatchingView"]

_FILTER_LABELS = {
    MatchFilter.NEEDS_MATCHING: "Needs matching",
    MatchFilter.MATCHED_BY_HAND: "Matched by hand",
    MatchFilter.ALL_MATCHED: "All matched",
}
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


def match_columns(currency: str, locale: str) -> list[Column[MatchRow]]:
    def money(minor: int | None) -> str:
        return "" if minor is None else money_text(minor, currency, locale)

    return [
        Column("Invoice #", lambda r: r.invoice_number, sort_key="invoice_number", bold=True),
        Column("Organization", lambda r: r.organization_name, sort_key="organization"),
        Column("Date", lambda r: date_text(r.invoice_date, locale), sort_key="invoice_date"),
        Column("Total", lambda r: money(r.total_minor), Align.RIGHT, sort_key="total"),
        Column("QuickBooks #", lambda r: r.doc_number or "—"),
        Column("QuickBooks balance", lambda r: money(r.quickbooks_balance_minor), Align.RIGHT),
        Column("How", lambda r: r.how,
               tone=lambda r: TextTone.WARNING if r.remote_id is None else TextTone.NORMAL),
        Column("Why", lambda r: r.reason, sort_key="reason", tooltip=lambda r: r.reason or None,
               tone=lambda r: TextTone.MUTED, stretch=True),
    ]


def _load_ids(engine: Engine, source: str, which: MatchFilter, sort: str, descending: bool,
              search: str) -> tuple[list[int], bool]:
    """Runs on a pool thread: the listed ids, and whether QuickBooks was ever read."""
    return (match_ids(engine, source, which, sort=sort, descending=descending, search=search),
            has_been_read(engine, source))


def _match_and_report(engine: Engine, source: str, invoice_id: int, remote_id: str) -> int:
    """Runs on a pool thread."""
    match_by_hand(engine, source, invoice_id, remote_id)
    return invoice_id


def _unmatch(engine: Engine, source: str, invoice_id: int) -> int:
    """Runs on a pool thread."""
    core_unmatch(engine, source, invoice_id)
    return invoice_id


def _decide_again(engine: Engine, source: str, invoice_id: int, currency: str) -> int:
    """Runs on a pool thread: forget the person's decision and run the automatic pass."""
    forget_hand_decision(engine, source, invoice_id)
    match_invoices(engine, source, currency=currency)
    return invoice_id


class NeedsMatchingView(QWidget):
    """The list, its filters and the Match… / Unmatch / Let PayDesk decide buttons."""

    #: An invoice's match changed (its id): the invoice page and reconciliation may refresh.
    matchChanged = Signal(int)

    def __init__(self, context: AppContext, source: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("needsMatchingView")
        self.context = context
        self.source = source
        self.currency = context.currency() or "USD"
        self.filter = MatchFilter.NEEDS_MATCHING
        self.search_text = ""
        self.sort = "invoice_date"
        self.descending = True
        self._ids_task: Task | None = None
        self._reload_again = False
        self._shown_once = False
        self.quickbooks_read = False
        engine = context.engine
        self.model: LazyTableModel[int, MatchRow] = LazyTableModel(
            match_columns(self.currency, context.locale),
            lambda ids: match_rows(engine, source, ids), self)
        self._build()
        self.reload()

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 14, 16, 12)
        layout.setSpacing(10)
        intro = QLabel(
            "Autotask invoices PayDesk could not pair with an invoice in QuickBooks, and why. "
            "A payment on one of them is posted to QuickBooks once it is matched. Select an "
            "invoice and choose Match… to pick its QuickBooks invoice.")
        intro.setObjectName("secondaryText")
        intro.setWordWrap(True)
        layout.addWidget(intro)

        bar = QHBoxLayout()
        bar.setSpacing(6)
        self.filters = FilterButtons(_FILTER_LABELS.items(), selected=self.filter,
                                     object_prefix="matchFilter_")
        self.filter_buttons = self.filters.buttons
        self.filters.chosen.connect(self.set_filter)
        bar.addWidget(self.filters)
        self.search = SearchField("Search invoice # or organization")
        self.search.setMinimumWidth(320)
        self.search.searchRequested.connect(self._on_search)
        bar.addSpacing(12)
        bar.addWidget(self.search)
        bar.addStretch(1)
        self.match_button = QPushButton("Match…")
        self.match_button.setObjectName("matchButton")
        self.match_button.setToolTip("Pick the QuickBooks invoice this Autotask invoice is")
        self.match_button.clicked.connect(self.match_selected)
        self.unmatch_button = QPushButton("Unmatch")
        self.unmatch_button.setObjectName("unmatchButton")
        self.unmatch_button.setToolTip(
            "This is not the right QuickBooks invoice: keep the Autotask invoice unmatched")
        self.unmatch_button.clicked.connect(self.unmatch_selected)
        self.decide_button = QPushButton("Let PayDesk match it")
        self.decide_button.setObjectName("automaticMatchButton")
        self.decide_button.setToolTip(
            "Forget the decision made by hand; PayDesk matches the invoice by number, or by "
            "customer, date and total, as it does for the others")
        self.decide_button.clicked.connect(self.decide_again_selected)
        layout.addLayout(bar)

        self.table = QTableView()
        self.table.setTabKeyNavigation(False)  # Tab leaves the table (Tab order)
        self.table.setObjectName("needsMatchingTable")
        self.table.setAccessibleName("Needs matching")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(True)  # "why" takes two lines
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(
            self.table.fontMetrics().lineSpacing() * 2 + 12)
        self.table.doubleClicked.connect(self._on_double_clicked)
        header = self.table.horizontalHeader()
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(True)
        header.setSortIndicator(2, Qt.SortOrder.DescendingOrder)
        header.sectionClicked.connect(self._on_header_clicked)
        # Columns as wide as what they show; "Why" (two lines) takes the rest. The header's
        # menu chooses the columns; the layout is kept per seat.
        self.columns_fit = ColumnFitter(self.table, menu=True,
                                        remember=(self.context, "quickbooks_matching"))
        self.table.selectionModel().selectionChanged.connect(self._update_actions)
        # Rows come from workers: the actions follow the selected row as it arrives.
        self.model.dataChanged.connect(self._update_actions)

        self.empty = EmptyState("Everything is matched", "")
        self.empty.setObjectName("needsMatchingEmpty")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty)
        layout.addWidget(self.stack, 1)
        self.detail = QLabel()
        self.detail.setObjectName("matchDetail")
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.detail)
        self.detail.hide()
        self.count_label = QLabel()
        self.count_label.setObjectName("secondaryText")
        actions = QHBoxLayout()
        actions.setSpacing(6)
        actions.addWidget(self.count_label)
        actions.addStretch(1)
        for button in (self.match_button, self.unmatch_button, self.decide_button):
            actions.addWidget(button)
        layout.addLayout(actions)
        self._update_actions()

    # --- loading ------------------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._shown_once:
            self.reload()
        self._shown_once = True

    @Slot()
    def reload(self) -> None:
        if self._ids_task is not None and self._ids_task.is_running:
            self._reload_again = True
            return
        self._ids_task = run_task(
            "list the invoices that need matching", _load_ids, self.context.engine,
            self.source, self.filter, self.sort, self.descending, self.search_text,
            on_success=self._on_loaded, parent=self)
        self._ids_task.done.connect(self._after_ids)

    def _show_columns(self) -> None:
        """Unmatched invoices have no QuickBooks side: show why instead of empty columns."""
        unmatched = self.filter is MatchFilter.NEEDS_MATCHING
        for index, column in enumerate(self.model.columns()):
            if column.title in ("QuickBooks #", "QuickBooks balance", "How"):
                self.table.setColumnHidden(index, unmatched)

    def _on_loaded(self, loaded: tuple[list[int], bool]) -> None:
        ids, self.quickbooks_read = loaded
        self._on_ids(ids)

    def _on_ids(self, ids: list[int]) -> None:
        self._show_columns()
        selected = self.selected_row()
        self.model.set_ids(ids)
        if ids:
            self.stack.setCurrentWidget(self.table)
            if selected is not None and selected.invoice_id in ids:
                self.table.selectRow(ids.index(selected.invoice_id))
        else:
            self._show_empty()
            self.stack.setCurrentWidget(self.empty)
        noun = "invoice" if len(ids) == 1 else "invoices"
        self.count_label.setText(f"{len(ids):,} {noun}")
        self._update_actions()

    @Slot()
    def _after_ids(self) -> None:
        if self._reload_again:
            self._reload_again = False
            self.reload()

    def _show_empty(self) -> None:
        if not self.quickbooks_read:
            self.empty.set_content(
                "QuickBooks has not been read yet",
                "PayDesk reads QuickBooks' invoices and matches them with Autotask's during "
                "the sync. Start a sync (Sync now, in the status bar) and come back.")
        elif self.search_text:
            self.empty.set_content("Nothing matches the search",
                                   f"No listed invoice has “{self.search_text}” in its number "
                                   "or organization.")
        elif self.filter is MatchFilter.NEEDS_MATCHING:
            self.empty.set_content(
                "Everything is matched",
                "Every Autotask invoice PayDesk has read is paired with its QuickBooks "
                "invoice. New invoices are matched after each sync.")
        elif self.filter is MatchFilter.MATCHED_BY_HAND:
            self.empty.set_content("Nothing matched by hand",
                                   "Invoices you match yourself are listed here.")
        else:
            self.empty.set_content("Nothing matched yet",
                                   "PayDesk matches invoices after it has read QuickBooks. "
                                   "Start a sync to read it.")

    # --- filters, search and sorting ------------------------------------------------------------
    def set_filter(self, value: MatchFilter) -> None:
        self.filter = value
        self.filters.select(value)
        self.reload()

    @Slot(str)
    def _on_search(self, text: str) -> None:
        self.search_text = text
        self.reload()

    @Slot(int)
    def _on_header_clicked(self, section: int) -> None:
        key = self.model.sort_key(section)
        header = self.table.horizontalHeader()
        if key is None:
            header.setSortIndicator(
                self._sort_section(),
                Qt.SortOrder.DescendingOrder if self.descending else Qt.SortOrder.AscendingOrder)
            return
        self.descending = not self.descending if key == self.sort else key in (
            "invoice_date", "total")
        self.sort = key
        order = Qt.SortOrder.DescendingOrder if self.descending else Qt.SortOrder.AscendingOrder
        header.setSortIndicator(section, order)
        self.reload()

    def _sort_section(self) -> int:
        for index, column in enumerate(self.model.columns()):
            if column.sort_key == self.sort:
                return index
        return 0

    # --- actions --------------------------------------------------------------------------------
    def selected_row(self) -> MatchRow | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return self.model.row_at(rows[0].row()) if rows else None

    @Slot()
    def _update_actions(self) -> None:
        row = self.selected_row()
        self.detail.setText("" if row is None else (
            f"Invoice {row.invoice_number}: {row.reason}" if row.remote_id is None else
            f"Invoice {row.invoice_number} is QuickBooks invoice {row.doc_number or '—'} "
            f"({row.how.lower()})."))
        self.detail.setVisible(row is not None)
        self.match_button.setEnabled(row is not None)
        self.unmatch_button.setEnabled(row is not None and row.remote_id is not None)
        self.decide_button.setEnabled(row is not None and row.by_hand)

    @Slot(QModelIndex)
    def _on_double_clicked(self, _index: QModelIndex) -> None:
        self.match_selected()

    @Slot()
    def match_selected(self) -> None:
        row = self.selected_row()
        if row is None:
            return
        dialog = MatchDialog(self.context, self.source, row, self)
        if dialog.exec() != QDialog.DialogCode.Accepted or dialog.chosen is None:
            return
        run_task("match the invoice", _match_and_report, self.context.engine, self.source,
                 row.invoice_id, dialog.chosen.remote_id, on_success=self._on_changed,
                 parent=self)

    @Slot()
    def unmatch_selected(self) -> None:
        row = self.selected_row()
        if row is None or row.remote_id is None:
            return
        answer = QMessageBox.question(
            self, "Unmatch the invoice",
            f"Autotask invoice {row.invoice_number} is matched to QuickBooks invoice "
            f"{row.doc_number or row.remote_id}. Unmatch them?\n\nPayDesk then keeps it "
            "unmatched, and payments on it wait, until you match it again or choose "
            "“Let PayDesk match it”.")
        if answer != QMessageBox.StandardButton.Yes:
            return
        run_task("unmatch the invoice", _unmatch, self.context.engine, self.source,
                 row.invoice_id, on_success=self._on_changed, parent=self)

    @Slot()
    def decide_again_selected(self) -> None:
        row = self.selected_row()
        if row is None or not row.by_hand:
            return
        run_task("match the invoice again", _decide_again, self.context.engine, self.source,
                 row.invoice_id, self.currency, on_success=self._on_changed, parent=self,
                 busy_text="Matching the invoices again…")

    def _on_changed(self, invoice_id: int) -> None:
        self.model.update_rows([invoice_id])
        self.matchChanged.emit(invoice_id)
        self.reload()


class MatchDialog(QDialog):
    """Pick the QuickBooks invoice for one Autotask invoice; the likeliest are listed first."""

    def __init__(self, context: AppContext, source: str, row: MatchRow,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("matchDialog")
        self.setWindowTitle(f"Match invoice {row.invoice_number}")
        self.context = context
        self.source = source
        self.row = row
        self.currency = context.currency() or "USD"
        self.chosen: QuickBooksCandidate | None = None
        self.candidates: list[QuickBooksCandidate] = []
        self._task: Task | None = None
        self.resize(820, 480)

        summary = QLabel(
            f"Autotask invoice <b>{row.invoice_number}</b> for {row.organization_name or '—'}, "
            f"dated {date_text(row.invoice_date, context.locale) or '—'}, total "
            f"<b>{money_text(row.total_minor, self.currency, context.locale)}</b>.<br>"
            "Choose the QuickBooks invoice that is the same invoice. Those with the same "
            "customer, date or total are listed first.")
        summary.setWordWrap(True)
        self.search = SearchField("Search QuickBooks # or customer")
        self.search.setObjectName("matchSearch")
        self.search.searchRequested.connect(self.load)
        self.table = QTableWidget(0, 7)
        self.table.setTabKeyNavigation(False)  # Tab leaves the table (Tab order)
        self.table.setObjectName("matchCandidates")
        self.table.setHorizontalHeaderLabels(
            ["QuickBooks #", "Customer", "Date", "Total", "Balance", "Looks like", "Matched to"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for column in (3, 4):
            item = self.table.horizontalHeaderItem(column)
            if item is not None:
                item.setTextAlignment(_RIGHT)
        self.table.itemSelectionChanged.connect(self._update)
        self.table.itemDoubleClicked.connect(self._double_clicked)
        self.note = QLabel()
        self.note.setObjectName("secondaryText")
        self.note.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText("Match")
        ok.setObjectName("confirmMatchButton")
        self.buttons.accepted.connect(self.accept_choice)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(summary)
        layout.addWidget(self.search)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.note)
        layout.addWidget(self.buttons)
        self._update()
        self.load("")

    @Slot(str)
    def load(self, text: str) -> None:
        self._task = run_task("list the QuickBooks invoices", match_candidates,
                              self.context.engine, self.source, self.row.invoice_id, text,
                              on_success=self._show, parent=self)

    def _show(self, candidates: list[QuickBooksCandidate]) -> None:
        self.candidates = candidates
        self.table.setRowCount(len(candidates))
        locale = self.context.locale
        for r, c in enumerate(candidates):
            texts = (c.doc_number or "—", c.customer_name, date_text(c.txn_date, locale),
                     money_text(c.total_minor, self.currency, locale),
                     money_text(c.balance_minor, self.currency, locale), c.likeness,
                     c.matched_to or "")
            for col, text in enumerate(texts):
                item = QTableWidgetItem(text)
                if col in (3, 4):
                    item.setTextAlignment(_RIGHT)
                self.table.setItem(r, col, item)
        if not candidates:
            self.note.setText("No QuickBooks invoice fits the search. PayDesk lists the "
                              "invoices it read from QuickBooks at the last sync.")
        else:
            self.note.setText("")
        self._update()

    def _selected(self) -> QuickBooksCandidate | None:
        rows = {i.row() for i in self.table.selectedIndexes()}
        return self.candidates[min(rows)] if rows else None

    @Slot()
    def _update(self) -> None:
        chosen = self._selected()
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(chosen is not None)
        if chosen is not None and chosen.matched_to:
            self.note.setText(
                f"QuickBooks invoice {chosen.doc_number} is matched to Autotask invoice "
                f"{chosen.matched_to} now. Matching it here unmatches {chosen.matched_to}.")
        elif chosen is not None:
            self.note.setText("")

    @Slot(QTableWidgetItem)
    def _double_clicked(self, _item: QTableWidgetItem) -> None:
        self.accept_choice()

    @Slot()
    def accept_choice(self) -> None:
        self.chosen = self._selected()
        if self.chosen is not None:
            self.accept()

    def select_doc_number(self, doc_number: str) -> bool:
        """Select the candidate with this QuickBooks number (tests, keyboard users)."""
        for r, c in enumerate(self.candidates):
            if c.doc_number == doc_number:
                self.table.selectRow(r)
                return True
        return False
