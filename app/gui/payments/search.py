"""Payment Search: every sale and refund, filtered the way Autotask's own page filters them.

Filters: date range, organization, invoice number, transaction id, type (Sale, Refund) and
status. Columns mirror Autotask's Payment Search: Type, Sale Amount, Payment Amount,
Applied Amount, Unapplied Amount, Refund Amount, Transaction ID, Date, Contact, Method —
plus PayDesk's reference, the organization and the status. So that the table fits the
default 1,280-pixel window without sideways scrolling, Type, Date, Organization, Sale Amount,
Refund Amount, Status and Reference show at first; the others are in the header's menu (the
choice is kept per seat). Export writes every matching row, every column, to CSV, amounts as
plain numbers.

Fast at a million payments: the model holds only the ordered keys from one SQL query
(``payment_search_ids``, run in a worker after the filters settle; its first page at once,
the whole list and the totals right after, see ``_search_listing``) and fetches rows a page
at a time (``payment_search_rows``, one statement) as the view paints them.

Everything here runs on the GUI thread except the functions handed to ``run_task``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from functools import partial
from pathlib import Path

from PySide6.QtCore import QDate, QModelIndex, Qt, QTimer, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QCompleter,
    QDateEdit,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import Engine

from app.core.clock import utcnow
from app.core.money import Money
from app.core.payments import (
    PaymentSearchCriteria,
    PaymentSearchRow,
    PaymentState,
    SearchKey,
    SearchSort,
    SearchType,
    export_payment_search_csv,
    payment_search_ids,
    payment_search_rows,
)
from app.core.queries.organizations import organizations_with_payments
from app.core.queries.payments import (
    PaymentSearchTotals,
    is_refund_key,
    payment_search_first_page,
    payment_search_totals,
)
from app.gui.context import AppContext
from app.gui.invoices.formatting import date_edit_format, money_text
from app.gui.payments.common import (
    PAYMENT_STATE_TONES,
    TestModeBanner,
    datetime_text,
)
from app.gui.payments.payment_list import PaymentListView
from app.gui.widgets import EmptyState, StatusPillDelegate, Tone
from app.gui.widgets.accessible import describe, tab_order
from app.gui.widgets.headers import add_area_header
from app.gui.widgets.keys import add_open_shortcut
from app.gui.widgets.lazy_table import (
    PAGE_SIZE,
    Align,
    Column,
    LazyTableModel,
    Listing,
    TextTone,
)
from app.gui.widgets.table_columns import ColumnFitter
from app.gui.workers import Task, run_task

#: Typing in a filter field waits this long before the search runs.
FILTER_DELAY_MS = 300

_REFUND_TONES = {
    "succeeded": Tone.NEUTRAL,
    "pending": Tone.INFO,
    "created": Tone.INFO,
    "unknown": Tone.WARNING,
    "failed": Tone.DANGER,
}

PERIODS: tuple[tuple[str, str], ...] = (
    ("any", "Any date"),
    ("today", "Today"),
    ("7", "Last 7 days"),
    ("30", "Last 30 days"),
    ("month", "This month"),
    ("last_month", "Last month"),
    ("year", "This year"),
    ("custom", "Between…"),
)

#: The statuses offered in the filter (a payment's state; refunds match on their own).
STATUS_CHOICES: tuple[PaymentState, ...] = (
    PaymentState.SUCCEEDED,
    PaymentState.PROCESSING,
    PaymentState.PARTIALLY_REFUNDED,
    PaymentState.REFUNDED,
    PaymentState.DECLINED,
    PaymentState.FAILED,
    PaymentState.RETURNED,
    PaymentState.VOIDED,
    PaymentState.AWAITING_CLIENT,
    PaymentState.EXPIRED,
    PaymentState.UNKNOWN,
)


def period_range(key: str, today: date) -> tuple[date | None, date | None]:
    """The inclusive date range a period choice stands for (``custom`` is handled by the view)."""
    if key == "today":
        return today, today
    if key in ("7", "30"):
        return today - timedelta(days=int(key) - 1), today
    if key == "month":
        return today.replace(day=1), today
    if key == "last_month":
        end = today.replace(day=1) - timedelta(days=1)
        return end.replace(day=1), end
    if key == "year":
        return today.replace(month=1, day=1), today
    return None, None


def search_columns(locale: str) -> list[Column[PaymentSearchRow]]:
    def money(value: Money | None) -> str:
        # The same text as ``Money.format``, from a cache (a page of rows has many amounts).
        return money_text(value.minor, value.currency, locale) if value is not None else ""

    def refund_tone(row: PaymentSearchRow) -> TextTone:
        return TextTone.ERROR if row.type is SearchType.REFUND else TextTone.NORMAL

    def test_mode_tip(row: PaymentSearchRow) -> str | None:
        return "Taken in test mode: no real money moved." if row.test_mode else None

    def test_mode_tone(row: PaymentSearchRow) -> TextTone:
        # Grey like Transactions' reference; Date is the column always in view.
        return TextTone.MUTED if row.test_mode else TextTone.NORMAL

    def status_tone(row: PaymentSearchRow) -> Tone:
        if row.type is SearchType.REFUND:
            return _REFUND_TONES.get(row.status, Tone.NEUTRAL)
        return PAYMENT_STATE_TONES.get(row.status, Tone.NEUTRAL)

    return [
        Column("Type", lambda r: r.type.label, sort_key=SearchSort.TYPE.value, tone=refund_tone),
        Column(
            "Date",
            lambda r: datetime_text(r.date),
            sort_key=SearchSort.DATE.value,
            tooltip=test_mode_tip,
            tone=test_mode_tone,
        ),
        Column(
            "Organization", lambda r: r.organization_name, tooltip=lambda r: r.organization_name,
            stretch=True,
        ),
        Column(
            "Sale Amount",
            lambda r: money(r.sale_amount),
            header="Sale\nAmount",
            align=Align.RIGHT,
            sort_key=SearchSort.AMOUNT.value,
            tooltip=lambda r: (
                f"{r.status_label}: nothing was charged."
                if r.type is SearchType.SALE
                and (r.sale_amount is None or r.sale_amount.minor == 0)
                else None
            ),
        ),
        Column(
            "Payment Amount",
            lambda r: money(r.payment_amount),
            align=Align.RIGHT,
            header="Payment\nAmount",
            shown=False,
        ),
        Column(
            "Applied Amount",
            lambda r: money(r.applied_amount),
            align=Align.RIGHT,
            header="Applied\nAmount",
            shown=False,
        ),
        Column(
            "Unapplied Amount",
            lambda r: money(r.unapplied_amount),
            header="Unapplied\nAmount",
            align=Align.RIGHT,
            tooltip=lambda r: (
                "Money that went to an invoice that was voided later."
                if r.unapplied_amount is not None and r.unapplied_amount.minor
                else None
            ),
            shown=False,
        ),
        Column(
            "Refund Amount",
            lambda r: money(r.refund_amount),
            header="Refund\nAmount",
            align=Align.RIGHT,
            tone=refund_tone,
        ),
        Column("Status", lambda r: r.status_label, pill=status_tone),
        Column(
            "Transaction ID",
            lambda r: r.transaction_id or "",
            sort_key=SearchSort.TRANSACTION_ID.value,
            shown=False,
        ),
        Column("Reference", lambda r: f"{r.reference} (test)" if r.test_mode else r.reference,
               tooltip=test_mode_tip, tone=test_mode_tone),
        Column("Contact", lambda r: r.contact or "", shown=False),
        Column("Method", lambda r: r.method or "", shown=False),
    ]


def _search_listing(engine: Engine, criteria: PaymentSearchCriteria, sort: SearchSort,
                    descending: bool, totals: PaymentSearchTotals | None = None
                    ) -> Listing[SearchKey]:
    """The first page of the rows' keys with their rows at once (one statement); the whole
    list and what it adds up to from ``rest``, which the model runs in a worker after the
    first rows are shown (``totals`` when the caller already has them for these criteria: a
    new order adds up to the same). A million keys take most of a second to read; a page,
    milliseconds. Runs in a worker."""
    first, rows = payment_search_first_page(engine, criteria, sort=sort,
                                            descending=descending, limit=PAGE_SIZE + 1)

    def rest() -> Listing[SearchKey]:
        keys = (first if len(first) <= PAGE_SIZE
                else payment_search_ids(engine, criteria, sort=sort, descending=descending))
        return Listing(keys, totals or payment_search_totals(engine, criteria))

    return Listing(first[:PAGE_SIZE] if len(first) > PAGE_SIZE else first, None, rest, rows)


def _fetch(engine: Engine, keys: Sequence[SearchKey]) -> dict[SearchKey, PaymentSearchRow]:
    return {row.key: row for row in payment_search_rows(engine, keys)}


class PaymentSearchView(PaymentListView):
    """The Payment Search area."""

    fallback_sort_column = 1
    sort: SearchSort

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.setObjectName("paymentSearchView")
        self.sort = SearchSort.DATE
        self.descending = True
        self.last_criteria = PaymentSearchCriteria()
        #: The totals last shown and the criteria they were added up for: a change of order
        #: reuses them; anything that changed payments forgets them.
        self._totals: tuple[PaymentSearchCriteria, PaymentSearchTotals] | None = None
        self._reordering = False
        self._reused: PaymentSearchTotals | None = None
        engine = context.engine
        self.model: LazyTableModel[SearchKey, PaymentSearchRow] = LazyTableModel(
            search_columns(self.money_locale),
            partial(_fetch, engine),
            self,
            task_name="search the payments",
        )
        self.model.loaded.connect(self._on_keys)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(FILTER_DELAY_MS)
        self._timer.timeout.connect(self.reload)
        self._build()
        self._load_organizations()
        self.reload()

    # --- building --------------------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(10)
        add_area_header(layout, "Payment Search",
                        "Every sale and refund, with the columns of Autotask's Payment Search "
                        "(right-click a column title to show more). Export what you find "
                        "to CSV.")

        self.test_banner = TestModeBanner()
        self.test_banner.setText(
            "TEST MODE — the payment gateway is connected with test keys; no real money "
            "moves. Sales and refunds taken in test mode say “test” after their reference."
        )
        self.test_banner.follow(self.context)
        layout.addWidget(self.test_banner)
        filters = QGridLayout()
        filters.setHorizontalSpacing(10)
        filters.setVerticalSpacing(6)
        self.period = QComboBox()
        self.period.setObjectName("searchPeriod")
        for period_key, period_label in PERIODS:
            self.period.addItem(period_label, period_key)
        self.period.currentIndexChanged.connect(self._on_period)
        self.date_from = QDateEdit()
        self.date_from.setObjectName("searchDateFrom")
        self.date_to = QDateEdit()
        self.date_to.setObjectName("searchDateTo")
        today = utcnow().astimezone().date()
        for edit, initial in ((self.date_from, today.replace(day=1)), (self.date_to, today)):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat(date_edit_format(self.money_locale))
            edit.setDate(QDate(initial.year, initial.month, initial.day))
            edit.setVisible(False)
            edit.dateChanged.connect(self._schedule)
        dates = QHBoxLayout()
        dates.setSpacing(6)
        dates.addWidget(self.period)
        dates.addWidget(self.date_from)
        self.and_label = QLabel("and")
        self.and_label.setVisible(False)
        dates.addWidget(self.and_label)
        dates.addWidget(self.date_to)
        dates.addStretch(1)

        self.organization = QComboBox()
        self.organization.setObjectName("searchOrganization")
        self.organization.setEditable(True)
        self.organization.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.organization.setMinimumWidth(220)
        self.organization.addItem("All organizations", None)
        completer = self.organization.completer()
        if completer is not None:
            completer.setFilterMode(Qt.MatchFlag.MatchContains)
            completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.organization.currentIndexChanged.connect(self._schedule)

        self.invoice_number = QLineEdit()
        self.invoice_number.setObjectName("searchInvoiceNumber")
        self.invoice_number.setPlaceholderText("Invoice number")
        self.invoice_number.setClearButtonEnabled(True)
        self.transaction_id = QLineEdit()
        self.transaction_id.setObjectName("searchTransactionId")
        self.transaction_id.setPlaceholderText("Transaction ID or reference")
        self.transaction_id.setClearButtonEnabled(True)
        for line_edit in (self.invoice_number, self.transaction_id):
            line_edit.textChanged.connect(self._schedule)
            line_edit.returnPressed.connect(self.reload)

        self.type_combo = QComboBox()
        self.type_combo.setObjectName("searchType")
        self.type_combo.addItem("Sales and refunds", None)
        for search_type in SearchType:
            self.type_combo.addItem(f"{search_type.label}s only", search_type.value)
        self.type_combo.currentIndexChanged.connect(self._schedule)
        self.status_combo = QComboBox()
        self.status_combo.setObjectName("searchStatus")
        self.status_combo.addItem("Any status", None)
        for state in STATUS_CHOICES:
            self.status_combo.addItem(state.label, state.value)
        self.status_combo.currentIndexChanged.connect(self._schedule)

        def label(text: str) -> QLabel:
            widget = QLabel(text)
            widget.setObjectName("fieldLabel")
            return widget

        filters.addWidget(label("Date"), 0, 0)
        filters.addLayout(dates, 0, 1, 1, 3)
        filters.addWidget(label("Organization"), 1, 0)
        filters.addWidget(self.organization, 1, 1)
        filters.addWidget(label("Invoice"), 1, 2)
        filters.addWidget(self.invoice_number, 1, 3)
        filters.addWidget(label("Type"), 2, 0)
        filters.addWidget(self.type_combo, 2, 1)
        filters.addWidget(label("Transaction"), 2, 2)
        filters.addWidget(self.transaction_id, 2, 3)
        filters.addWidget(label("Status"), 3, 0)
        filters.addWidget(self.status_combo, 3, 1)
        filters.setColumnStretch(1, 1)
        filters.setColumnStretch(3, 1)
        filters.setColumnStretch(4, 2)
        layout.addLayout(filters)

        bar = QHBoxLayout()
        self.count_label = QLabel()
        self.count_label.setObjectName("searchCount")
        bar.addWidget(self.count_label, 1)
        self.clear_button = QPushButton("Clear filters")
        self.clear_button.setObjectName("clearFiltersButton")
        self.clear_button.clicked.connect(self.clear_filters)
        self.export_button = QPushButton("Export to CSV…")
        self.export_button.setObjectName("exportCsvButton")
        self.export_button.clicked.connect(self.export_csv)
        bar.addWidget(self.clear_button)
        bar.addWidget(self.export_button)
        layout.addLayout(bar)
        describe(self.period, "The dates of the payments to list", "Date")
        describe(self.date_from, "First day of the payments to list", "From")
        describe(self.date_to, "Last day of the payments to list", "To")
        describe(self.organization, "Only this organization's payments (type to find it)",
                 "Organization")
        describe(self.invoice_number, "Only payments of the invoice with this number",
                 "Invoice number")
        describe(self.transaction_id, "Only the payment with this gateway transaction ID or "
                 "PayDesk reference", "Transaction ID or reference")
        describe(self.type_combo, "Sales, refunds, or both", "Type")
        describe(self.status_combo, "Only payments in this status", "Status")
        describe(self.clear_button, "Show every payment again")
        describe(self.export_button, "Save the payments listed here as a CSV file")

        self.table = QTableView()
        self.table.setTabKeyNavigation(False)  # Tab leaves the table (Tab order)
        self.table.setObjectName("paymentSearchTable")
        self.table.setAccessibleName("Payments and refunds")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(30)
        header = self.table.horizontalHeader()
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(True)
        header.setSortIndicator(1, Qt.SortOrder.DescendingOrder)
        header.sectionClicked.connect(self._on_header_clicked)
        pill = StatusPillDelegate(self.table)
        for index, column in enumerate(self.model.columns()):
            if column.pill is not None:
                self.table.setItemDelegateForColumn(index, pill)
        # Columns as wide as what they show; the organization takes the rest. The header's
        # menu chooses the columns; the layout is kept per seat.
        self.columns_fit = ColumnFitter(
            self.table, menu=True, remember=(self.context, "payment_search"))
        self.table.doubleClicked.connect(self._open_row)
        add_open_shortcut(self.table, self.open_current)  # Enter, as a double click
        describe(self.table, "Payments and refunds matching the filters. Enter opens one.",
                 "Payments found")

        self.empty = EmptyState("No payments yet", "")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty)
        layout.addWidget(self.stack, 1)
        self.status_label = QLabel()
        self.status_label.setObjectName("secondaryText")
        layout.addWidget(self.status_label)
        # Reading order: the date, then each row of filters from left to right.
        tab_order(self.period, self.date_from, self.date_to, self.organization,
                  self.invoice_number, self.type_combo, self.transaction_id,
                  self.status_combo, self.clear_button, self.export_button, self.table)

    # --- filters ------------------------------------------------------------------------------
    def _load_organizations(self) -> None:
        run_task(
            "list the organizations",
            organizations_with_payments,
            self.context.engine,
            on_success=self._fill_organizations,
            parent=self,
        )

    def _fill_organizations(self, organizations: list[tuple[int, str]]) -> None:
        current = self.organization.currentData()
        self.organization.blockSignals(True)
        self.organization.clear()
        self.organization.addItem("All organizations", None)
        for org_id, name in organizations:
            self.organization.addItem(name, org_id)
        index = self.organization.findData(current)
        self.organization.setCurrentIndex(max(index, 0))
        self.organization.blockSignals(False)

    @Slot(int)
    def _on_period(self, _index: int) -> None:
        custom = self.period.currentData() == "custom"
        for widget in (self.date_from, self.and_label, self.date_to):
            widget.setVisible(custom)
        self._schedule()

    @Slot()
    def _schedule(self) -> None:
        self._timer.start()

    @Slot()
    def clear_filters(self) -> None:
        for widget in (self.period, self.organization, self.type_combo, self.status_combo):
            widget.blockSignals(True)
            widget.setCurrentIndex(0)
            widget.blockSignals(False)
        for edit in (self.invoice_number, self.transaction_id):
            edit.blockSignals(True)
            edit.clear()
            edit.blockSignals(False)
        self._on_period(0)
        self.reload()

    def criteria(self) -> PaymentSearchCriteria:
        """The filters as the core's search criteria."""
        period = str(self.period.currentData())
        if period == "custom":
            start = self.date_from.date().toPython()
            end = self.date_to.date().toPython()
            date_from: date | None = start if isinstance(start, date) else None
            date_to: date | None = end if isinstance(end, date) else None
        else:
            date_from, date_to = period_range(period, utcnow().astimezone().date())
        org = self.organization.currentData()
        kind = self.type_combo.currentData()
        status = self.status_combo.currentData()
        return PaymentSearchCriteria(
            date_from=date_from,
            date_to=date_to,
            organization_id=int(org) if isinstance(org, int) else None,
            invoice_number=self.invoice_number.text().strip() or None,
            transaction_id=self.transaction_id.text().strip() or None,
            type=SearchType(kind) if isinstance(kind, str) else None,
            status=str(status) if status else None,
        )

    def _filtered(self) -> bool:
        return self.last_criteria != PaymentSearchCriteria()

    # --- loading ---------------------------------------------------------------------------------
    @Slot()
    def reload(self) -> None:
        self._timer.stop()
        self.last_criteria = self.criteria()
        known = self._totals
        reuse = (known[1] if self._reordering and known is not None
                 and known[0] == self.last_criteria else None)
        self._reused = reuse
        self.model.load(
            partial(
                _search_listing,
                self.context.engine,
                self.last_criteria,
                self.sort,
                self.descending,
                reuse,
            )
        )

    @Slot(int)
    def _on_header_clicked(self, section: int) -> None:
        self._reordering = True
        try:
            super()._on_header_clicked(section)
        finally:
            self._reordering = False

    def refresh_payments(self, payment_ids: list[int]) -> None:
        self._totals = None  # what changed may change them
        super().refresh_payments(payment_ids)

    @Slot(object)
    def _on_keys(self, info: object) -> None:
        shown = self.model.rowCount()
        if info is None and shown and self.model.is_partial():
            # The first rows are shown; the whole list and its totals follow within a second.
            self.count_label.setText("Counting…")
            self.export_button.setEnabled(bool(shown))
            self.stack.setCurrentWidget(self.table)
            return
        if isinstance(info, PaymentSearchTotals):
            if info is self._reused and info.sales + info.refunds != shown:
                # Payments changed since they were added up (another seat): add up again.
                self._totals = self._reused = None
                self.reload()
                return
            self._totals = (self.last_criteria, info)
            sales, refunds = info.sales, info.refunds
        else:
            sales = sum(1 for key in self.model.ids() if not is_refund_key(key))
            refunds = shown - sales
        text = (f"{sales:,} {'sale' if sales == 1 else 'sales'}, "
                f"{refunds:,} {'refund' if refunds == 1 else 'refunds'}")
        if isinstance(info, PaymentSearchTotals):
            currency, locale = self.context.currency() or "USD", self.money_locale
            text += (f"    Taken {money_text(info.sale_minor, currency, locale)}"
                     f"    Refunded {money_text(info.refund_minor, currency, locale)}"
                     f"    Net {money_text(info.net_minor, currency, locale)}")
        self.count_label.setText(text)
        self.export_button.setEnabled(bool(shown))
        if shown:
            self.stack.setCurrentWidget(self.table)
        else:
            if self._filtered():
                self.empty.set_content(
                    "Nothing matches these filters",
                    "Widen the date range or clear a filter to see more.",
                    None,
                )
            else:
                self.empty.set_content(
                    "No payments yet",
                    "Payments and refunds taken in PayDesk appear here. Select invoices in "
                    "Invoices and choose Pay… to take the first one.",
                )
            self.stack.setCurrentWidget(self.empty)

    @Slot()
    def open_current(self) -> None:
        """Open the current row's payment (Enter)."""
        index = self.table.currentIndex()
        if index.isValid():
            self._open_row(index)

    @Slot(QModelIndex)
    def _open_row(self, index: QModelIndex) -> None:
        row = self.model.row_at(index.row())
        if row is None:
            return
        self.open_payment(row.payment_id)

    # --- export ----------------------------------------------------------------------------------
    @Slot()
    def export_csv(self) -> None:
        today = utcnow().astimezone().date()
        suggested = str(Path.home() / f"PayDesk payments {today.isoformat()}.csv")
        name, _ = QFileDialog.getSaveFileName(
            self, "Export payments to CSV", suggested, "CSV files (*.csv)"
        )
        if not name:
            return
        self.export_to(Path(name if name.lower().endswith(".csv") else f"{name}.csv"))

    def export_to(self, path: Path) -> Task:
        self.export_button.setEnabled(False)
        self.status_label.setText("Exporting…")
        return run_task(
            "export the payments",
            export_payment_search_csv,
            self.context.engine,
            self.last_criteria,
            path,
            sort=self.sort,
            descending=self.descending,
            on_success=lambda count: self._on_exported(count, path),
            on_failure=self._on_export_failed,
            parent=self,
            busy_text="Exporting payments…",
        )

    def _on_exported(self, count: int, path: Path) -> None:
        self.export_button.setEnabled(True)
        self.status_label.setText(f"Exported {count:,} rows to {path}.")

    def _on_export_failed(self, failure: object) -> None:
        from app.gui.errors import describe_exception

        self.export_button.setEnabled(True)
        exc = getattr(failure, "exception", None)
        self.status_label.setText(
            f"The export did not finish. {describe_exception(exc) if exc else ''}"
        )


def create_payment_search_area(context: AppContext) -> QWidget:
    """The main window's Payment Search area."""
    return PaymentSearchView(context)
