"""Reconciliation: Autotask, PayDesk's ledger and QuickBooks side by side, for the invoices
where they disagree, each with why — what a bookkeeper checks at month end.

The core decides what disagrees (:func:`app.core.quickbooks.reconcile.reconcile`, run in a
worker); this view lists its rows through the shared ``LazyTableModel`` (ids in the report's
order, rows formatted when painted) with a filter per kind of disagreement. Double-clicking an
invoice that is not matched opens Needs matching on it.

Everything here runs on the GUI thread except the functions handed to ``run_task``.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QModelIndex, Qt, Signal, Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.core.quickbooks.reconcile import ReconcileReport, ReconcileRow, reconcile
from app.gui.context import AppContext
from app.gui.invoices.formatting import money_text
from app.gui.widgets import EmptyState
from app.gui.widgets.lazy_table import Align, Column, LazyTableModel, TextTone
from app.gui.widgets.table_columns import ColumnFitter
from app.gui.workers import Task, run_task

__all__ = ["ReconciliationView"]

#: Filter labels by disagreement code (the core's codes), in the order a bookkeeper acts.
KIND_LABELS: dict[str, str] = {
    "payment_not_posted": "Payment not posted yet",
    "paid_in_quickbooks": "Paid in QuickBooks outside PayDesk",
    "quickbooks_shows_less_paid": "QuickBooks shows less paid",
    "amounts_differ": "Amounts differ",
    "not_matched": "Not matched",
    "not_in_quickbooks": "Not in QuickBooks yet",
}

_AUTOTASK_STATES = {"open": "Open", "paid": "Paid", "void": "Void"}


def reconcile_columns(currency: str, locale: str) -> list[Column[ReconcileRow]]:
    def money(minor: int | None) -> str:
        return "—" if minor is None else money_text(minor, currency, locale)

    def why(row: ReconcileRow) -> str:
        return " ".join(d.text for d in row.disagreements)

    return [
        Column("Invoice #", lambda r: r.invoice_number or "", bold=True),
        Column("Organization", lambda r: r.organization or ""),
        Column("Autotask", lambda r: _AUTOTASK_STATES.get(r.autotask_state, r.autotask_state),
               header="Autotask\nstate"),
        Column("PayDesk balance", lambda r: money(r.paydesk_balance_minor), Align.RIGHT,
               header="PayDesk\nbalance"),
        Column("QuickBooks #", lambda r: r.quickbooks_doc_number or "—",
               header="QuickBooks\n#"),
        Column("QuickBooks balance", lambda r: money(r.quickbooks_balance_minor), Align.RIGHT,
               header="QuickBooks\nbalance",
               tone=lambda r: TextTone.WARNING if r.quickbooks_balance_minor is not None
               and r.quickbooks_balance_minor != r.paydesk_balance_minor else TextTone.NORMAL),
        Column("Why they disagree", why, tooltip=why, stretch=True),
    ]


class ReconciliationView(QWidget):
    """The disagreeing invoices, with a filter by kind and Check again."""

    #: Ask to open Needs matching (an invoice that is not matched was double-clicked).
    matchingRequested = Signal(str)

    def __init__(self, context: AppContext, source: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reconciliationView")
        self.context = context
        self.source = source
        self.currency = context.currency() or "USD"
        self.report: ReconcileReport | None = None
        self._rows: dict[int, ReconcileRow] = {}
        self._task: Task | None = None
        self._shown_once = False
        self.model: LazyTableModel[int, ReconcileRow] = LazyTableModel(
            reconcile_columns(self.currency, context.locale), self._fetch, self)
        self._build()
        self.reload()

    def _fetch(self, ids: Sequence[int]) -> dict[int, ReconcileRow]:
        return {i: self._rows[i] for i in ids if i in self._rows}

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 14, 16, 12)
        layout.setSpacing(10)
        intro = QLabel(
            "Each invoice where Autotask, PayDesk and QuickBooks do not agree, with why. "
            "Invoices where all three agree are not listed. QuickBooks' figures are as of the "
            "last sync.")
        intro.setObjectName("secondaryText")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Show:"))
        self.kind = QComboBox()
        self.kind.setObjectName("reconcileKind")
        self.kind.addItem("Every disagreement", "")
        for code, label in KIND_LABELS.items():
            self.kind.addItem(label, code)
        self.kind.currentIndexChanged.connect(self._apply_filter)
        bar.addWidget(self.kind)
        bar.addStretch(1)
        self.check_button = QPushButton("Check again")
        self.check_button.setObjectName("reconcileAgainButton")
        self.check_button.setToolTip("Compare the three again with what PayDesk holds now")
        self.check_button.clicked.connect(self.reload)
        bar.addWidget(self.check_button)
        layout.addLayout(bar)

        self.table = QTableView()
        self.table.setTabKeyNavigation(False)  # Tab leaves the table (Tab order)
        self.table.setObjectName("reconciliationTable")
        self.table.setAccessibleName("Reconciliation")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(True)  # "why" takes two lines
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(
            self.table.fontMetrics().lineSpacing() * 2 + 12)
        self.table.doubleClicked.connect(self._on_double_clicked)
        # Columns as wide as what they show; "Why they disagree" (two lines) takes the rest.
        # The header's menu chooses the columns; the layout is kept per seat.
        self.columns_fit = ColumnFitter(self.table, menu=True,
                                        remember=(self.context, "quickbooks_reconciliation"))
        self.empty = EmptyState("The books agree", "")
        self.empty.setObjectName("reconciliationEmpty")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty)
        layout.addWidget(self.stack, 1)
        self.detail = QLabel()
        self.detail.setObjectName("reconcileDetail")
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.detail)
        self.detail.hide()
        self.table.selectionModel().selectionChanged.connect(self._show_detail)
        # Rows come from workers: the detail follows the selected row as it arrives.
        self.model.dataChanged.connect(self._show_detail)
        self.summary = QLabel()
        self.summary.setObjectName("secondaryText")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._shown_once:
            self.reload()
        self._shown_once = True

    @Slot()
    def reload(self) -> None:
        if self._task is not None and self._task.is_running:
            return
        self.check_button.setEnabled(False)
        self._task = run_task("compare the books", reconcile, self.context.engine, self.source,
                              self.currency, on_success=self._on_report, parent=self)
        self._task.done.connect(self._after)

    @Slot()
    def _after(self) -> None:
        self.check_button.setEnabled(True)

    def _on_report(self, report: ReconcileReport) -> None:
        self.report = report
        self._rows = {row.invoice_id: row for row in report.rows}
        counts = report.counts()
        for index in range(1, self.kind.count()):
            code = str(self.kind.itemData(index))
            self.kind.setItemText(index, f"{KIND_LABELS[code]} ({counts.get(code, 0):,})")
        self.kind.setItemText(0, f"Every disagreement ({len(report.rows):,})")
        self.summary.setText(
            f"{report.checked:,} invoices compared; {len(report.rows):,} disagree.")
        self._apply_filter()

    @Slot()
    def _apply_filter(self) -> None:
        if self.report is None:
            return
        code = str(self.kind.currentData() or "")
        ids = [row.invoice_id for row in self.report.rows
               if not code or any(d.code == code for d in row.disagreements)]
        self.model.set_ids(ids)
        if ids:
            self.stack.setCurrentWidget(self.table)
        else:
            if not self.report.quickbooks_read:
                self.empty.set_content(
                    "QuickBooks has not been read yet",
                    "PayDesk compares the books once it has read QuickBooks. Start a sync "
                    "(status bar > Sync now) and come back.")
            elif code:
                self.empty.set_content("None of these", "No invoice disagrees in this way.")
            else:
                self.empty.set_content(
                    "The books agree",
                    "Autotask, PayDesk and QuickBooks show the same amounts for every invoice.")
            self.stack.setCurrentWidget(self.empty)

    @Slot()
    def _show_detail(self) -> None:
        """The selected invoice's reasons in full (the table shows two lines)."""
        rows = self.table.selectionModel().selectedRows()
        row = self.model.row_at(rows[0].row()) if rows else None
        self.detail.setVisible(row is not None)
        if row is None:
            self.detail.setText("")
            return
        self.detail.setText(f"Invoice {row.invoice_number or row.invoice_id}: "
                            + " ".join(d.text for d in row.disagreements))

    def disagreement_codes(self) -> dict[str, set[str]]:
        """Invoice number → the codes listed for it (tests and the summary)."""
        if self.report is None:
            return {}
        return {r.invoice_number or str(r.invoice_id): {d.code for d in r.disagreements}
                for r in self.report.rows}

    @Slot(QModelIndex)
    def _on_double_clicked(self, index: QModelIndex) -> None:
        row = self.model.row_at(index.row())
        if row is not None and row.quickbooks_id is None:
            self.matchingRequested.emit(row.invoice_number or "")
