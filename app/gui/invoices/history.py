"""Invoice History: every invoice, found in a keystroke, sorted by any column.

``InvoiceHistoryView`` is the table with its search, filters, totals line and actions; it is
used by the Invoices area and, fixed to one organization, by the organization page. The
model (``InvoiceHistoryModel``) holds only ids; sorting and filtering are new SQL queries.

Extension points (for the Pay action and others, without editing this module):

* ``selectedInvoices()`` returns the selection as frozen ``InvoiceRow``s and
  ``selectionChangedInvoices(tuple)`` fires when it changes;
* ``add_action(action, toolbar=True, context_menu=True)`` puts an action on the toolbar and
  in the context menu;
* ``HISTORY_EXTENSIONS`` lists ``"module:function"`` paths called as
  ``function(view, context)`` when a view is built.

Column order, widths, sort, Show paid, status and date filters are kept per seat in the
GUI settings (``gui_settings``) under the view's ``settings_key``. Runs on the GUI thread.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

from PySide6.QtCore import (
    QDate,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPoint,
    QSettings,
    QSize,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import (
    QAction,
    QGuiApplication,
    QKeySequence,
    QResizeEvent,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.invoice_state import InvoiceStatus
from app.core.queries.export import ExportCancelled
from app.core.queries.invoices import (
    InvoiceColumn,
    InvoiceQuery,
    InvoiceRow,
    InvoiceTotals,
    any_quickbooks_numbers,
    export_invoices_csv,
    invoice_export_cell,
)
from app.gui.changes import RefreshOnChange
from app.gui.context import AppContext
from app.gui.invoices.formatting import date_edit_format, local_today, money_text
from app.gui.invoices.model import COLUMNS, InvoiceHistoryModel
from app.gui.widgets import EmptyState, SearchField
from app.gui.widgets.accessible import describe
from app.gui.widgets.keys import add_open_shortcut
from app.gui.widgets.table_columns import ColumnFitter
from app.gui.workers import Task, WorkerFailure, run_task

log = logging.getLogger(__name__)

#: ``"module:function"`` paths called as ``function(view, context)`` for every new view.
HISTORY_EXTENSIONS: tuple[str, ...] = ("app.gui.payments.actions:install_history_pay_action",)

ROW_HEIGHT = 30

_STATUS_CHOICES: tuple[tuple[str, InvoiceStatus | None], ...] = (
    ("All statuses", None),
    (InvoiceStatus.OPEN.label, InvoiceStatus.OPEN),
    (InvoiceStatus.PARTIALLY_PAID.label, InvoiceStatus.PARTIALLY_PAID),
    (InvoiceStatus.OVERDUE.label, InvoiceStatus.OVERDUE),
    (InvoiceStatus.PAID.label, InvoiceStatus.PAID),
    (InvoiceStatus.VOID.label, InvoiceStatus.VOID),
    (InvoiceStatus.CREDIT.label, InvoiceStatus.CREDIT),
)

#: Statuses that owe nothing: choosing one shows paid invoices.
_SETTLED = (InvoiceStatus.PAID.value, InvoiceStatus.VOID.value, InvoiceStatus.CREDIT.value)

_DATE_PRESETS = ("any", "this_month", "last_month", "last_90", "this_year", "last_year", "custom")
_DATE_PRESET_LABELS = {
    "any": "Any invoice date",
    "this_month": "This month",
    "last_month": "Last month",
    "last_90": "Last 90 days",
    "this_year": "This year",
    "last_year": "Last year",
    "custom": "Between…",
}



def preset_range(preset: str, today: date) -> tuple[date | None, date | None]:
    """The invoice-date range a preset stands for (``custom`` and ``any`` give no range)."""
    first_of_month = today.replace(day=1)
    if preset == "this_month":
        return first_of_month, None
    if preset == "last_month":
        last_month_end = first_of_month - timedelta(days=1)
        return last_month_end.replace(day=1), last_month_end
    if preset == "last_90":
        return today - timedelta(days=90), None
    if preset == "this_year":
        return today.replace(month=1, day=1), None
    if preset == "last_year":
        return date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)
    return None, None


def _qdate(value: date) -> QDate:
    return QDate(value.year, value.month, value.day)


def _pydate(value: QDate) -> date:
    return date(value.year(), value.month(), value.day())


class InvoiceHistoryView(QWidget):
    """The invoice table with search, filters, totals and actions.

    ``organization_id`` fixes the view to one organization (the organization page); the
    Organization column is then hidden and the organization filter cannot be cleared.
    """

    #: Open an invoice's page (its id).
    openInvoiceRequested = Signal(int)
    #: The selected invoices changed: a tuple of ``InvoiceRow``.
    selectionChangedInvoices = Signal(tuple)

    def __init__(
        self,
        context: AppContext,
        *,
        settings: QSettings | None = None,
        settings_key: str = "invoiceHistory",
        organization_id: int | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.context = context
        bus = context.changes()
        # Money moved or the sync ran: the balances shown are refreshed in place.
        RefreshOnChange(self, self._on_changes, bus.invoicesChanged)
        self.settings = settings
        self.settings_key = settings_key
        self._fixed_organization = organization_id
        self._organization_name = ""
        self._restoring = False
        #: Selection (ids) and current id to put back once the next id list has arrived.
        self._reselect: tuple[list[int], int | None] | None = None
        #: Where the view stood before a refresh: (top id, pixel offset, scroll value).
        self._scroll_anchor: tuple[int | None, int, int] | None = None
        #: The QuickBooks # column is shown by itself once an invoice has one, unless the
        #: person's saved layout says otherwise.
        self._quickbooks_column_auto = True
        currency = context.currency() or "USD"
        self.model = InvoiceHistoryModel(context.engine, currency, context.locale, parent=self)
        self._build()
        self._restore_settings()
        query = replace(
            self._query_from_controls(),
            sort=self.model.query().sort,
            descending=self.model.query().descending,
        )
        self.model.set_query(query)
        self._sync_sort_indicator()
        self._update_after_reset()
        for path in HISTORY_EXTENSIONS:
            from app.gui.main_window import resolve

            resolve(path)(self, context)

    # --- building ------------------------------------------------------------------------
    def _build(self) -> None:
        self.search = SearchField(
            "Search invoice # or QuickBooks #"
            if self._fixed_organization is not None
            else "Search invoice #, organization or QuickBooks #"
        )
        self.search.setObjectName("invoiceSearch")
        self.search.setMinimumWidth(300)
        self.search.searchRequested.connect(self._on_filters_changed)

        self.status_filter = QComboBox()
        self.status_filter.setObjectName("invoiceStatusFilter")
        self.status_filter.setAccessibleName("Status")
        for label, status in _STATUS_CHOICES:
            self.status_filter.addItem(label, status.value if status else "")
        self.status_filter.currentIndexChanged.connect(self._on_status_changed)

        self.date_filter = QComboBox()
        self.date_filter.setObjectName("invoiceDateFilter")
        self.date_filter.setAccessibleName("Invoice date")
        for key in _DATE_PRESETS:
            self.date_filter.addItem(_DATE_PRESET_LABELS[key], key)
        self.date_filter.currentIndexChanged.connect(self._on_date_preset_changed)
        today = local_today()
        self.date_from = QDateEdit(_qdate(today - timedelta(days=30)))
        self.date_from.setObjectName("invoiceDateFrom")
        self.date_to = QDateEdit(_qdate(today))
        self.date_to.setObjectName("invoiceDateTo")
        for edit in (self.date_from, self.date_to):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat(date_edit_format(self.model.locale))
            edit.dateChanged.connect(self._on_filters_changed)
            edit.setVisible(False)
        self.date_and = QLabel("and")
        self.date_and.setVisible(False)

        self.organization_chip = QToolButton()
        self.organization_chip.setObjectName("invoiceOrganizationFilter")
        self.organization_chip.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.organization_chip.setToolTip("Show every organization again")
        self.organization_chip.clicked.connect(self.clear_organization_filter)
        self.organization_chip.setVisible(False)
        self._organization_filter: int | None = self._fixed_organization

        self.show_paid = QCheckBox("Show paid")
        self.show_paid.setObjectName("showPaidSwitch")
        self.show_paid.setToolTip("Also list invoices that are paid in full or void")
        self.show_paid.toggled.connect(self._on_show_paid_toggled)

        filters = QHBoxLayout()
        filters.setSpacing(8)
        filters.addWidget(self.search, 3)
        filters.addWidget(self.status_filter)
        filters.addWidget(self.date_filter)
        filters.addWidget(self.date_from)
        filters.addWidget(self.date_and)
        filters.addWidget(self.date_to)
        filters.addWidget(self.organization_chip)
        filters.addStretch(1)
        filters.addWidget(self.show_paid)

        self.table = QTableView()
        self.table.setTabKeyNavigation(False)  # Tab leaves the table (Tab order)
        self.table.setObjectName("invoiceTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setSortingEnabled(False)  # the model sorts in SQL; see _on_sort_clicked
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._show_context_menu)
        # ``activated`` is Enter and double-click (or single click where the platform
        # opens items that way), so the table opens invoices the way the desktop does.
        self.table.activated.connect(self._on_activated)
        add_open_shortcut(self.table, self.open_current)
        self.search.set_results(self.table, self)
        self.table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        vertical = self.table.verticalHeader()
        vertical.setVisible(False)
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vertical.setDefaultSectionSize(ROW_HEIGHT)
        header = self.table.horizontalHeader()
        header.setSectionsMovable(True)
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(True)
        header.setHighlightSections(False)
        header.setStretchLastSection(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.sectionClicked.connect(self._on_sort_clicked)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._show_header_menu)
        # The QuickBooks number stays empty until the QuickBooks link fills it in: hide the
        # column until some invoice has one (the header's menu shows it at any time).
        self._quickbooks_column_waiting = True
        self.table.setColumnHidden(COLUMNS.index(InvoiceColumn.QB_NUMBER), True)
        self.reveal_quickbooks_numbers()
        if self._fixed_organization is not None:
            self.table.setColumnHidden(COLUMNS.index(InvoiceColumn.ORGANIZATION), True)
        self.table.setIconSize(QSize(160, 20))
        # Columns as wide as what they show; the Organization column (Terms on an
        # organization's page) takes the spare width, until the person drags a column edge.
        status_section = COLUMNS.index(InvoiceColumn.STATUS)
        widest_pill = max(int(p.width() / p.devicePixelRatio()) for p in self.model._pills.values())
        self.columns_fit = ColumnFitter(self.table, stretch=self._stretch_sections(),
                                        min_widths={status_section: widest_pill + 16})
        # Rows arriving from a worker bring the vertical scroll bar, narrowing the viewport:
        # fit again once the table has laid itself out.
        self.table.verticalScrollBar().rangeChanged.connect(self._on_scroll_range_changed)
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.model.idsReset.connect(self._update_after_reset)
        self.model.idsExtended.connect(self._reselect_after_rest)
        self.model.loaded.connect(self._after_load)
        self.model.refreshed.connect(self._after_refresh)
        self.model.totalsChanged.connect(self._show_totals)

        self.empty = EmptyState("", "", None)
        self.empty.actionTriggered.connect(self.clear_filters)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty)

        self.totals = QLabel()
        self.totals.setObjectName("invoiceTotals")
        self.totals.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # Hidden on an empty view, it keeps its room so the buttons stay their own size.
        policy = self.totals.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        self.totals.setSizePolicy(policy)

        # Actions
        self.open_action = QAction("Open invoice", self)
        self.open_action.triggered.connect(self.open_current)
        self.copy_action = QAction("Copy", self)
        self.copy_action.setShortcut(QKeySequence.StandardKey.Copy)
        self.copy_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.copy_action.triggered.connect(self.copy_selection)
        self.export_action = QAction("Export to CSV…", self)
        self.export_action.setToolTip("Save the invoices in this view, as shown, to a CSV file")
        self.export_action.triggered.connect(self._export_clicked)
        self.filter_organization_action = QAction("Show only this organization", self)
        self.filter_organization_action.triggered.connect(self._filter_to_current_organization)
        self.table.addAction(self.open_action)
        self.table.addAction(self.copy_action)
        self._context_actions: list[QAction] = [self.open_action, self.copy_action]

        self.toolbar = QHBoxLayout()
        self.toolbar.setSpacing(8)
        self.toolbar.addWidget(self.totals, 1)
        self.export_button = QPushButton("Export to CSV…")
        self.export_button.setObjectName("invoiceExport")
        self.export_button.clicked.connect(self._export_clicked)
        self.toolbar.addWidget(self.export_button)
        describe(self.export_button, "Save the invoices in this view, as shown, to a CSV file")
        describe(self.status_filter, "Only invoices in this status")
        describe(self.date_filter, "Only invoices dated in this period")
        describe(self.date_from, "First invoice date to list", "Invoices dated from")
        describe(self.date_to, "Last invoice date to list", "Invoices dated to")
        describe(self.organization_chip, "Show every organization again",
                 "Organization filter")
        describe(self.table, "Enter opens the selected invoice; Ctrl+P pays the selected "
                 "invoices.", "Invoices")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addLayout(filters)
        layout.addWidget(self.stack, 1)
        layout.addLayout(self.toolbar)
        self._update_open_actions()

    @property
    def _fit_organization(self) -> bool:
        """Whether the columns still fit themselves (no column edge dragged by a person)."""
        return self.columns_fit.auto

    @_fit_organization.setter
    def _fit_organization(self, value: bool) -> None:
        self.columns_fit.auto = value

    def _stretch_sections(self) -> list[int]:
        if self._fixed_organization is not None:
            return [COLUMNS.index(InvoiceColumn.TERMS)]
        return [COLUMNS.index(InvoiceColumn.ORGANIZATION)]

    @Slot(int, int)
    def _on_scroll_range_changed(self, _minimum: int, _maximum: int) -> None:
        self.columns_fit.schedule()

    def _fit_organization_column(self) -> None:
        self.columns_fit.schedule()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_organization_column()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._fit_organization_column()

    # --- extension points ----------------------------------------------------------------
    def add_action(
        self, action: QAction, *, toolbar: bool = True, context_menu: bool = True
    ) -> None:
        """Add an action (e.g. Pay…) to the bar under the table and to the context menu."""
        if toolbar:
            button = QToolButton()
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            self.toolbar.insertWidget(1, button)
        if context_menu:
            self._context_actions.append(action)
        self.table.addAction(action)

    def selectedInvoices(self) -> tuple[InvoiceRow, ...]:
        """The selected invoices, in table order, as frozen rows."""
        rows = sorted(index.row() for index in self.table.selectionModel().selectedRows())
        ids = [i for i in (self.model.id_at(r) for r in rows) if i is not None]
        return tuple(self.model.rows_for(ids))

    def selected_ids(self) -> list[int]:
        rows = sorted(index.row() for index in self.table.selectionModel().selectedRows())
        return [i for i in (self.model.id_at(r) for r in rows) if i is not None]

    # --- filters -------------------------------------------------------------------------
    def _query_from_controls(self) -> InvoiceQuery:
        status_value = self.status_filter.currentData()
        status = InvoiceStatus(status_value) if status_value else None
        preset = str(self.date_filter.currentData() or "any")
        date_from: date | None
        date_to: date | None
        if preset == "custom":
            start, end = _pydate(self.date_from.date()), _pydate(self.date_to.date())
            if end < start:
                start, end = end, start
            date_from, date_to = start, end
        else:
            date_from, date_to = preset_range(preset, local_today())
        current = self.model.query()
        return InvoiceQuery(
            search=self.search.query(),
            status=status,
            date_from=date_from,
            date_to=date_to,
            organization_id=self._organization_filter,
            show_paid=self.show_paid.isChecked(),
            sort=current.sort,
            descending=current.descending,
        )

    @Slot()
    def _on_filters_changed(self) -> None:
        if self._restoring:
            return
        query = self._query_from_controls()
        if query != self.model.query():
            self.model.set_query(query)
        self._save_settings()

    @Slot(int)
    def _on_status_changed(self, _index: int) -> None:
        # Asking for Paid, Void or Credit is asking to see them: turn Show paid on to match.
        value = self.status_filter.currentData()
        if value in _SETTLED:
            self.show_paid.blockSignals(True)
            self.show_paid.setChecked(True)
            self.show_paid.blockSignals(False)
        self._on_filters_changed()

    @Slot(bool)
    def _on_show_paid_toggled(self, checked: bool) -> None:
        value = self.status_filter.currentData()
        if not checked and value in _SETTLED:
            self.status_filter.blockSignals(True)
            self.status_filter.setCurrentIndex(0)
            self.status_filter.blockSignals(False)
        self._on_filters_changed()

    @Slot(int)
    def _on_date_preset_changed(self, _index: int) -> None:
        custom = self.date_filter.currentData() == "custom"
        for widget in (self.date_from, self.date_and, self.date_to):
            widget.setVisible(custom)
        self._on_filters_changed()

    def set_search(self, text: str) -> None:
        """Search at once (as if the person had typed and paused)."""
        self.search.setText(text)
        self.search.searchRequested.emit(text.strip())

    def set_status_filter(self, status: InvoiceStatus | None) -> None:
        index = self.status_filter.findData(status.value if status else "")
        self.status_filter.setCurrentIndex(max(index, 0))

    def set_organization_filter(self, organization_id: int | None, name: str = "") -> None:
        if self._fixed_organization is not None:
            return
        self._organization_filter = organization_id
        self._organization_name = name
        self.organization_chip.setText(f"Organization: {name}  ✕" if organization_id else "")
        self.organization_chip.setVisible(organization_id is not None)
        self._on_filters_changed()

    @Slot()
    def clear_organization_filter(self) -> None:
        self.set_organization_filter(None)

    @Slot()
    def clear_filters(self) -> None:
        """Back to the default view: no search, all statuses, any date (Show paid kept)."""
        self._restoring = True
        try:
            self.search.setText("")
            self.status_filter.setCurrentIndex(0)
            self.date_filter.setCurrentIndex(0)
            if self._fixed_organization is None:
                self._organization_filter = None
                self.organization_chip.setVisible(False)
        finally:
            self._restoring = False
        self._on_filters_changed()

    # --- sorting -------------------------------------------------------------------------
    @Slot(int)
    def _on_sort_clicked(self, section: int) -> None:
        column = COLUMNS[section]
        query = self.model.query()
        if query.sort is column:
            descending = not query.descending
        else:
            # Dates and amounts read best newest / largest first.
            descending = column not in (
                InvoiceColumn.NUMBER,
                InvoiceColumn.QB_NUMBER,
                InvoiceColumn.ORGANIZATION,
                InvoiceColumn.STATUS,
                InvoiceColumn.TERMS,
            )
        self.sort_by(column, descending)

    def sort_by(self, column: InvoiceColumn, descending: bool) -> None:
        """Sort by ``column`` (a new id query, in a worker); the selection follows."""
        self._reselect = (self.selected_ids(), None)
        self.model.set_query(replace(self.model.query(), sort=column, descending=descending))
        self._sync_sort_indicator()
        self._save_settings()

    def _sync_sort_indicator(self) -> None:
        query = self.model.query()
        order = Qt.SortOrder.DescendingOrder if query.descending else Qt.SortOrder.AscendingOrder
        self.table.horizontalHeader().setSortIndicator(COLUMNS.index(query.sort), order)

    # --- after each new id list ----------------------------------------------------------
    @Slot()
    def _update_after_reset(self) -> None:
        self.totals.setVisible(self.model.rowCount() > 0)
        if self.model.rowCount() > 0 or not self.model.has_loaded():
            self.stack.setCurrentWidget(self.table)
        else:
            self._show_empty_state()
            self.stack.setCurrentWidget(self.empty)
        if self._reselect is not None:
            selected, current = self._reselect
            self._select_ids(selected, current)
            if not self.model.is_partial() or len(self.selected_ids()) == len(selected):
                self._reselect = None  # otherwise again when the rest of the order is here
        self._update_open_actions()

    @Slot()
    def _reselect_after_rest(self) -> None:
        """The rest of a new order arrived: the selection made before it, when its rows were
        not among the first ones."""
        if self._reselect is not None:
            selected, current = self._reselect
            self._reselect = None
            self._select_ids(selected, current)
            self._update_open_actions()

    @Slot(object)
    def _after_load(self, _facts: object) -> None:
        if self._quickbooks_column_auto and self.model.any_quickbooks_numbers:
            self._quickbooks_column_auto = False
            self.table.setColumnHidden(COLUMNS.index(InvoiceColumn.QB_NUMBER), False)
            self._fit_organization_column()
        if self.model.rowCount() == 0:
            self._update_after_reset()  # the empty state's words depend on these facts

    def _show_empty_state(self) -> None:
        query = self.model.query()
        filtered = bool(
            query.search
            or query.status
            or query.date_from
            or query.date_to
            or (query.organization_id is not None and self._fixed_organization is None)
        )
        if filtered:
            self.empty.set_content(
                "No invoices match",
                "Nothing matches the search and filters above. Clear them to see every invoice.",
                "Clear search and filters",
            )
        elif self.model.has_invoices:
            who = "This organization owes" if self._fixed_organization else "Nobody owes"
            self.empty.set_content(
                "Nothing is owed",
                f"{who} anything: every invoice is paid or void. Turn on Show paid to see them.",
                None,
            )
        elif self._fixed_organization is not None:
            self.empty.set_content(
                "No invoices yet",
                "Autotask has not billed this organization yet, or its invoices have not been "
                "copied yet.",
                None,
            )
        elif self.context.currency() is None:
            self.empty.set_content(
                "No invoices yet",
                "PayDesk lists the invoices your company bills in Autotask, with what each "
                "client has paid and still owes. Run Setup to connect Autotask; the first "
                "sync brings in your whole invoice history.",
                None,
            )
        else:
            self.empty.set_content(
                "No invoices yet",
                "Invoices appear here once PayDesk has copied them from Autotask. "
                "Open Sync to bring in your invoice history.",
                None,
            )

    @Slot(object)
    def _show_totals(self, totals: InvoiceTotals | None) -> None:
        if totals is None:
            # A new filter on a large history: its first rows are shown, the whole list and
            # what it adds up to follow within a second.
            self.totals.setText("Counting…")
            self.totals.setToolTip("")
            self.totals.setAccessibleName("Counting the invoices")
            return
        currency = self.model.currency
        locale = self.model.locale
        noun = "invoice" if totals.count == 1 else "invoices"
        text = (
            f"{totals.count:,} {noun}    Total {money_text(totals.total_minor, currency, locale)}"
            f"    Balance {money_text(totals.balance_minor, currency, locale)}"
        )
        tip = ""
        if totals.held_back:
            held = "invoice" if totals.held_back == 1 else "invoices"
            text += f"    {totals.held_back:,} {held} held back — see Sync"
            tip = (f"{totals.held_back:,} {held} from Autotask were held back and are not "
                   "listed here. The Sync area says why and what to fix in Autotask.")
        self.totals.setText(text)
        self.totals.setToolTip(tip)
        self.totals.setAccessibleName(text)

    # --- selection -----------------------------------------------------------------------
    @Slot(QItemSelection, QItemSelection)
    def _on_selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        self._update_open_actions()
        self.selectionChangedInvoices.emit(self.selectedInvoices())

    def _update_open_actions(self) -> None:
        has_selection = self.table.selectionModel().hasSelection()
        self.open_action.setEnabled(has_selection)
        self.copy_action.setEnabled(has_selection)
        self.export_action.setEnabled(self.model.rowCount() > 0)
        self.export_button.setEnabled(self.model.rowCount() > 0)

    def _select_ids(self, ids: Iterable[int], current: int | None = None) -> None:
        selection = QItemSelection()
        last = self.model.columnCount() - 1
        for item_id in ids:
            row = self.model.row_of(item_id)
            if row is not None:
                selection.select(self.model.index(row, 0), self.model.index(row, last))
        selection_model = self.table.selectionModel()
        selection_model.select(
            selection,
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        if current is not None:
            row = self.model.row_of(current)
            if row is not None:
                selection_model.setCurrentIndex(
                    self.model.index(row, 0), QItemSelectionModel.SelectionFlag.NoUpdate
                )

    # --- precise refresh -----------------------------------------------------------------
    @Slot(object)
    def refresh_invoices(self, changed_ids: Iterable[int]) -> None:
        """After a sync or a payment: update these invoices in place, keeping selection and
        scroll. Only when the set of listed invoices changed is the model reset, and then the
        selection and the top row are put back by id (``_after_refresh``). The queries run
        in a worker."""
        current_index = self.table.currentIndex()
        current = self.model.id_at(current_index.row()) if current_index.isValid() else None
        top_row = self.table.rowAt(0)
        top_id = self.model.id_at(top_row) if top_row >= 0 else None
        scroll = self.table.verticalScrollBar().value()
        offset = scroll - top_row * ROW_HEIGHT if top_row >= 0 else 0
        self._refresh_selection = (self.selected_ids(), current)
        self._scroll_anchor = (top_id, offset, scroll)
        self.model.refresh_rows(changed_ids, top_row=max(top_row, 0))

    _refresh_selection: tuple[list[int], int | None] = ([], None)

    @Slot(bool)
    def _after_refresh(self, reset: bool) -> None:
        anchor, self._scroll_anchor = self._scroll_anchor, None
        if not reset or anchor is None:
            return
        selected, current = self._refresh_selection
        self._select_ids(selected, current)
        top_id, offset, scroll = anchor
        new_top = self.model.row_of(top_id) if top_id is not None else None
        if new_top is not None:
            self.table.verticalScrollBar().setValue(new_top * ROW_HEIGHT + offset)
        else:
            self.table.verticalScrollBar().setValue(scroll)

    def reload(self) -> None:
        self.refresh_invoices(())

    def _on_changes(self, invoice_ids: list[int]) -> None:
        self.refresh_invoices(invoice_ids or self.model.cached_keys())

    def reveal_quickbooks_numbers(self) -> None:
        """Show the QuickBooks # column hidden at start for want of numbers, once QuickBooks
        has filled some in (a column the person hid stays hidden)."""
        if self._quickbooks_column_waiting:
            run_task("look for QuickBooks numbers", any_quickbooks_numbers, self.context.engine,
                     on_success=self._on_quickbooks_numbers, parent=self)

    def _on_quickbooks_numbers(self, found: bool) -> None:
        if found and self._quickbooks_column_waiting:
            self._quickbooks_column_waiting = False
            self.table.setColumnHidden(COLUMNS.index(InvoiceColumn.QB_NUMBER), False)

    # --- actions -------------------------------------------------------------------------
    @Slot()
    def open_current(self) -> None:
        index = self.table.currentIndex()
        if not index.isValid():
            rows = self.table.selectionModel().selectedRows()
            if not rows:
                return
            index = rows[0]
        invoice_id = self.model.id_at(index.row())
        if invoice_id is not None:
            self.openInvoiceRequested.emit(invoice_id)

    @Slot(QModelIndex)
    def _on_activated(self, _index: QModelIndex) -> None:
        self.open_current()

    def visible_columns(self) -> list[InvoiceColumn]:
        """Columns as the person arranged them (visual order), hidden ones left out."""
        header = self.table.horizontalHeader()
        return [
            COLUMNS[header.logicalIndex(visual)]
            for visual in range(header.count())
            if not header.isSectionHidden(header.logicalIndex(visual))
        ]

    def _write_rows(
        self,
        out: io.TextIOBase | io.StringIO,
        rows: Iterable[InvoiceRow],
        *,
        header: bool,
        separator: str = ",",
    ) -> None:
        columns = self.visible_columns()
        writer = csv.writer(out, delimiter=separator, lineterminator="\n")
        if header:
            writer.writerow([c.heading for c in columns])
        for row in rows:
            writer.writerow(
                [invoice_export_cell(row, c, self.model.currency) for c in columns]
            )

    @Slot()
    def copy_selection(self) -> None:
        """Copy the selected rows as tab-separated text (pastes into a spreadsheet)."""
        rows = self.selectedInvoices()
        if not rows:
            return
        buffer = io.StringIO()
        self._write_rows(buffer, rows, header=len(rows) > 1, separator="\t")
        QGuiApplication.clipboard().setText(buffer.getvalue().rstrip("\n"))

    def export_csv(self, path: Path) -> Task:
        """Write every invoice of the current view, in its order and columns, to ``path``
        (in a worker, with a progress dialog for a long export). Amounts are plain numbers
        (``1234.50``) and dates ISO, so spreadsheets add them up and sort them. The task's
        outcome is the number of invoices written."""
        self.export_button.setEnabled(False)
        self._export_path = path
        return run_task(
            "export the invoices",
            export_invoices_csv,
            self.context.engine,
            self.model.ids(),
            self.visible_columns(),
            self.model.currency,
            path,
            today=local_today(),
            on_success=self._on_exported,
            on_failure=self._on_export_failed,
            parent=self,
            busy_text="Exporting invoices…",
        )

    @Slot()
    def _export_clicked(self) -> None:
        name = f"invoices-{local_today().isoformat()}.csv"
        target, _ = QFileDialog.getSaveFileName(
            self, "Export invoices", str(Path.home() / name), "CSV files (*.csv)"
        )
        if not target:
            return
        self.export_csv(Path(target))

    _export_path = Path()

    def _on_exported(self, count: int) -> None:
        self._update_open_actions()
        log.info("exported %d invoices to CSV", count)

    def _on_export_failed(self, failure: WorkerFailure) -> None:
        self._update_open_actions()
        path = self._export_path
        exc = failure.exception
        if isinstance(exc, ExportCancelled):
            return
        if isinstance(exc, OSError):
            message = (
                f"PayDesk could not write {path}: {exc.strerror or exc}. "
                "Choose another folder or close the file if a spreadsheet has it open."
            )
        else:
            from app.gui.errors import describe_exception

            message = describe_exception(exc)
        QMessageBox.warning(self, "Could not export", message)

    @Slot()
    def _filter_to_current_organization(self) -> None:
        rows = self.selectedInvoices()
        if rows:
            self.set_organization_filter(rows[0].organization_id, rows[0].organization_name)

    @Slot(QPoint)
    def _show_header_menu(self, position: QPoint) -> None:
        """Right-click on the column titles: choose which columns to show."""
        header = self.table.horizontalHeader()
        menu = QMenu(self)
        for section, column in enumerate(COLUMNS):
            if column is InvoiceColumn.ORGANIZATION and self._fixed_organization is not None:
                continue
            action = menu.addAction(column.heading)
            action.setCheckable(True)
            action.setChecked(not header.isSectionHidden(section))
            action.setData(section)
        menu.addSeparator()
        menu.addAction(self.columns_fit.fit_action)
        chosen = menu.exec(header.viewport().mapToGlobal(position))
        if chosen is not None and chosen.data() is not None:
            self.set_column_visible(COLUMNS[int(chosen.data())], chosen.isChecked())

    def set_column_visible(self, column: InvoiceColumn, visible: bool) -> None:
        self.columns_fit.set_shown(COLUMNS.index(column), visible)
        self._save_settings()

    @Slot(QPoint)
    def _show_context_menu(self, position: QPoint) -> None:
        if not self.table.selectionModel().hasSelection():
            return
        menu = QMenu(self)
        for action in self._context_actions:
            menu.addAction(action)
        menu.addSeparator()
        if self._fixed_organization is None:
            menu.addAction(self.filter_organization_action)
        menu.addAction(self.export_action)
        menu.exec(self.table.viewport().mapToGlobal(position))

    # --- settings ------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        if self.settings is None:
            return
        self._restoring = True
        try:
            s = self.settings
            s.beginGroup(self.settings_key)
            state = s.value("header")
            if state is not None and self.table.horizontalHeader().restoreState(state):
                self._quickbooks_column_auto = False
                self._fit_organization = str(s.value("fitOrganization", "true")) == "true"
            if self._fixed_organization is not None:
                self.table.setColumnHidden(COLUMNS.index(InvoiceColumn.ORGANIZATION), True)
            sort = str(s.value("sort", InvoiceColumn.INVOICE_DATE.value))
            descending = str(s.value("descending", "true")).lower() == "true"
            try:
                column = InvoiceColumn(sort)
            except ValueError:
                column = InvoiceColumn.INVOICE_DATE
            self.model._query = replace(self.model.query(), sort=column, descending=descending)
            self.show_paid.setChecked(str(s.value("showPaid", "false")).lower() == "true")
            index = self.status_filter.findData(str(s.value("status", "")))
            self.status_filter.setCurrentIndex(max(index, 0))
            preset = self.date_filter.findData(str(s.value("datePreset", "any")))
            self.date_filter.setCurrentIndex(max(preset, 0))
            for key, edit in (("dateFrom", self.date_from), ("dateTo", self.date_to)):
                text = s.value(key)
                if text:
                    parsed = QDate.fromString(str(text), Qt.DateFormat.ISODate)
                    if parsed.isValid():
                        edit.setDate(parsed)
            s.endGroup()
        finally:
            self._restoring = False

    def _save_settings(self) -> None:
        if self.settings is None or self._restoring:
            return
        s = self.settings
        s.beginGroup(self.settings_key)
        s.setValue("header", self.table.horizontalHeader().saveState())
        s.setValue("fitOrganization", "true" if self._fit_organization else "false")
        query = self.model.query()
        s.setValue("sort", query.sort.value)
        s.setValue("descending", "true" if query.descending else "false")
        s.setValue("showPaid", "true" if self.show_paid.isChecked() else "false")
        s.setValue("status", self.status_filter.currentData() or "")
        s.setValue("datePreset", self.date_filter.currentData() or "any")
        s.setValue("dateFrom", self.date_from.date().toString(Qt.DateFormat.ISODate))
        s.setValue("dateTo", self.date_to.date().toString(Qt.DateFormat.ISODate))
        s.endGroup()

    def save_layout(self) -> None:
        """Keep column order and widths (called when the area hides or the window closes)."""
        self._save_settings()

    def hideEvent(self, event: object) -> None:
        self._save_settings()
        super().hideEvent(event)  # type: ignore[arg-type]
