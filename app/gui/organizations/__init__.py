"""The Organization view: every client with what it owes, and one client's page.

``OrganizationListModel`` holds the ordered ids of ``app.core.queries.organizations`` and
fetches rows (open balance, overdue, last payment) a page at a time. ``OrganizationPage``
shows contacts, contracts, open tickets and the organization's invoices (Invoice History
fixed to it). Other screens add sections with ``OrganizationPage.add_section`` or through
``ORGANIZATION_PAGE_EXTENSIONS`` (``"module:function"`` paths called as
``function(page, context)`` when the page is built): the transaction history and the saved
payment methods plug in that way. Runs on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import partial

from PySide6.QtCore import (
    QItemSelectionModel,
    QObject,
    QSettings,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QStackedWidget,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import Engine

from app.core.connections import load_autotask_connection
from app.core.queries.organizations import (
    OrganizationColumn,
    OrganizationDetail,
    OrganizationQuery,
    OrganizationRow,
    OrganizationTotals,
    organization_detail,
    organization_ids,
    organization_rows,
    organization_totals,
)
from app.core.storage.engine import session_scope
from app.gui.changes import RefreshOnChange
from app.gui.context import AppContext
from app.gui.invoices.formatting import date_text, local_today, money_text
from app.gui.invoices.history import InvoiceHistoryView
from app.gui.invoices.page import InvoicePage
from app.gui.invoices.sync_follow import ChangedRows, follow_sync
from app.gui.setup_opener import open_setup_then
from app.gui.widgets import EmptyState, SearchField
from app.gui.widgets.accessible import describe
from app.gui.widgets.headers import PageHeader
from app.gui.widgets.keys import add_open_shortcut
from app.gui.widgets.lazy_table import Align, Column, LazyTableModel, Listing
from app.gui.widgets.table_columns import ColumnFitter
from app.gui.workers import Task, run_task

__all__ = [
    "ORGANIZATION_PAGE_EXTENSIONS",
    "OrganizationListModel",
    "OrganizationListView",
    "OrganizationPage",
    "OrganizationsArea",
    "create_organizations_area",
]

#: ``"module:function"`` paths called as ``function(page, context)`` for each new page.
ORGANIZATION_PAGE_EXTENSIONS: tuple[str, ...] = (
    "app.gui.payments.actions:install_organization_payments",
    "app.gui.payment_methods:add_to_organization_page",
    "app.gui.autopay:add_to_organization_page",
)

COLUMNS: tuple[OrganizationColumn, ...] = tuple(OrganizationColumn)
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_LEFT = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
ROW_HEIGHT = 30


@dataclass(frozen=True, slots=True)
class OrganizationListFacts:
    """What a load of the list learnt besides the ids (built on a pool thread)."""

    autotask_connected: bool
    #: What the listed organizations owe together.
    totals: OrganizationTotals | None = None


class OrganizationListModel(LazyTableModel[int, OrganizationRow]):
    """The organization list: ids from ``organization_ids`` (in a worker), rows on demand."""

    def __init__(
        self,
        engine: Engine,
        currency: str,
        locale: str = "en_US",
        today: Callable[[], date] = local_today,
        parent: QObject | None = None,
    ) -> None:
        self.engine = engine
        self.currency = currency
        self.locale = locale
        self._today = today
        self._query = OrganizationQuery()
        #: From the last load: whether Setup has connected Autotask (None before a load).
        self.autotask_connected: bool | None = None
        #: From the last load: what the listed organizations owe together.
        self.totals: OrganizationTotals | None = None
        super().__init__(
            [
                Column(
                    column.heading,
                    partial(self.cell_text, column=column),
                    align=Align.LEFT if column is OrganizationColumn.NAME else Align.RIGHT,
                    sort_key=column.value,
                    color=partial(self.cell_color, column=column),
                    tooltip=(lambda row: row.name) if column is OrganizationColumn.NAME else None,
                    stretch=column is OrganizationColumn.NAME,
                )
                for column in COLUMNS
            ],
            self._fetch,
            parent,
            task_name="load the organizations",
        )
        self.loaded.connect(self._on_loaded_facts)

    def _fetch(self, ids: Sequence[int]) -> dict[int, OrganizationRow]:
        """Runs on a pool thread (or for ``rows_for``)."""
        with self.engine.connect() as connection:
            return organization_rows(connection, ids, self._today())

    def query(self) -> OrganizationQuery:
        return self._query

    def set_query(self, query: OrganizationQuery) -> None:
        """Show what ``query`` selects (the id query runs in a worker)."""
        # Another order of the same organizations adds up to the same: keep the totals.
        same_set = self.totals is not None and replace(
            query, sort=self._query.sort, descending=self._query.descending
        ) == self._query
        self._query = query
        self.load(self._loader(with_totals=not same_set))

    def reload(self) -> None:
        self.load(self._loader())

    def refresh_rows(self, changed_ids: Iterable[int], *, top_row: int = 0) -> None:
        self.refresh(self._loader(), changed_ids, prefetch_row=top_row)

    def _loader(self, *, with_totals: bool = True) -> Callable[[], Listing[int]]:
        engine, query, today = self.engine, self._query, self._today()

        def load() -> Listing[int]:  # runs on a pool thread
            with engine.connect() as connection:
                ids = organization_ids(connection, query, today)
                totals = organization_totals(connection, query, today) if with_totals else None
            # Only an empty list needs to know (to offer Setup or Sync).
            connected = True if ids else load_autotask_connection(engine) is not None
            return Listing(ids, OrganizationListFacts(connected, totals))

        return load

    def _on_loaded_facts(self, facts: object) -> None:
        if isinstance(facts, OrganizationListFacts):
            self.autotask_connected = facts.autotask_connected
            if facts.totals is not None:
                self.totals = facts.totals

    def cell_text(self, row: OrganizationRow, column: OrganizationColumn) -> str:
        match column:
            case OrganizationColumn.NAME:
                return row.name if row.is_active else f"{row.name} (inactive)"
            # Zero reads as 0 and $0.00, as everywhere in PayDesk (greyed, so the
            # organizations that do owe something stand out).
            case OrganizationColumn.OPEN_INVOICES:
                return f"{row.open_invoices:,}"
            case OrganizationColumn.OPEN_BALANCE:
                return money_text(row.open_balance_minor, self.currency, self.locale)
            case OrganizationColumn.OVERDUE:
                return money_text(row.overdue_minor, self.currency, self.locale)
            case OrganizationColumn.LAST_PAYMENT:
                return date_text(row.last_payment_date, self.locale) or "Never"

    @staticmethod
    def cell_color(row: OrganizationRow, column: OrganizationColumn) -> QColor | None:
        """Inactive organizations are grey throughout (their overdue amount too); an
        active one's overdue amount is red."""
        if not row.is_active:
            return QColor("#6B7280")
        if column is OrganizationColumn.OVERDUE and row.overdue_minor:
            return QColor("#A02727")
        zero = {
            OrganizationColumn.OPEN_INVOICES: row.open_invoices == 0,
            OrganizationColumn.OPEN_BALANCE: row.open_balance_minor == 0,
            OrganizationColumn.OVERDUE: row.overdue_minor == 0,
        }.get(column, False)
        return QColor("#6B7280") if zero else None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if 0 <= column < len(COLUMNS):
            self.set_query(
                replace(
                    self._query,
                    sort=COLUMNS[column],
                    descending=order == Qt.SortOrder.DescendingOrder,
                )
            )


class OrganizationListView(QWidget):
    """Searchable, sortable list of organizations with what each owes."""

    openOrganizationRequested = Signal(int)

    def __init__(
        self,
        context: AppContext,
        settings: QSettings | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.model = OrganizationListModel(
            context.engine, context.currency() or "USD", context.locale, parent=self
        )
        self.search = SearchField("Search organizations")
        self.search.setObjectName("organizationSearch")
        self.search.setMaximumWidth(420)
        self.search.searchRequested.connect(self._on_search)
        self.table = QTableView()
        self.table.setTabKeyNavigation(False)  # Tab leaves the table (Tab order)
        self.table.setObjectName("organizationTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        vertical = self.table.verticalHeader()
        vertical.setVisible(False)
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vertical.setDefaultSectionSize(ROW_HEIGHT)
        header = self.table.horizontalHeader()
        header.setSortIndicatorShown(True)
        header.setSectionsClickable(True)
        header.setHighlightSections(False)
        header.setSectionsMovable(True)
        header.sectionClicked.connect(self._on_sort_clicked)
        # Columns as wide as their content; the name takes the rest. The header's menu
        # chooses the columns, and the layout is remembered per seat.
        self.columns_fit = ColumnFitter(
            self.table, menu=True, remember=(context, "organization_list"))
        self.table.activated.connect(self._open_current)
        add_open_shortcut(self.table, self._open_current)
        describe(self.table, "Enter opens the selected organization's page", "Organizations")
        self.search.set_results(self.table, self)
        self.context = context
        self.empty = EmptyState(
            "No organizations yet",
            "Your clients appear here once PayDesk has copied them from Autotask. "
            "Open Sync to bring them in.",
        )
        self.empty.actionTriggered.connect(self._open_setup)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty)
        self.count_label = QLabel()
        self.count_label.setObjectName("organizationCount")
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addStretch(1)
        top.addWidget(self.count_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addWidget(self.stack, 1)
        self.model.idsReset.connect(self._show_listing)
        self.model.loaded.connect(self._show_listing)
        self.model.refreshed.connect(self._after_refresh)
        self._restore()
        self.model.reload()
        self._sync_indicator()

    def _restore(self) -> None:
        if self.settings is None:
            return
        sort = str(self.settings.value("organizations/sort", OrganizationColumn.NAME.value))
        descending = str(self.settings.value("organizations/descending", "false")) == "true"
        try:
            column = OrganizationColumn(sort)
        except ValueError:
            column = OrganizationColumn.NAME
        self.model._query = replace(self.model.query(), sort=column, descending=descending)

    @Slot(str)
    def _on_search(self, text: str) -> None:
        self.model.set_query(replace(self.model.query(), search=text))

    @Slot(int)
    def _on_sort_clicked(self, section: int) -> None:
        column = COLUMNS[section]
        query = self.model.query()
        descending = (
            not query.descending if query.sort is column else column is not OrganizationColumn.NAME
        )
        self.model.set_query(replace(query, sort=column, descending=descending))
        self._sync_indicator()
        if self.settings is not None:
            self.settings.setValue("organizations/sort", column.value)
            self.settings.setValue("organizations/descending", "true" if descending else "false")

    def _sync_indicator(self) -> None:
        query = self.model.query()
        order = Qt.SortOrder.DescendingOrder if query.descending else Qt.SortOrder.AscendingOrder
        self.table.horizontalHeader().setSortIndicator(COLUMNS.index(query.sort), order)

    @Slot()
    def _after_reset(self) -> None:
        """Look again (after Setup closed: Autotask may be connected now)."""
        self.model.reload()

    @Slot()
    @Slot(object)
    def _show_listing(self, _facts: object = None) -> None:
        if not self.model.has_loaded():
            return  # the first id query is on its way
        count = self.model.rowCount()
        noun = "organization" if count == 1 else "organizations"
        totals = self.model.totals
        text = f"{count:,} {noun}"
        if totals is not None:
            currency, locale = self.model.currency, self.model.locale
            text += (f"    Open balance {money_text(totals.open_balance_minor, currency, locale)}"
                     f"    Overdue {money_text(totals.overdue_minor, currency, locale)}")
        self.count_label.setText(text)
        if count:
            self.stack.setCurrentWidget(self.table)
        else:
            if self.model.query().search:
                self.empty.set_content(
                    "No organizations match",
                    "No organization's name contains that text. Check the spelling, or clear "
                    "the search.",
                )
            elif self.model.autotask_connected is False:
                # Nothing can sync before Setup has connected Autotask.
                self.empty.set_content(
                    "No organizations yet",
                    "Your clients appear here once PayDesk has copied them from Autotask. "
                    "Run Setup… to connect PayDesk to Autotask first.",
                    "Run Setup…",
                )
            else:
                self.empty.set_content(
                    "No organizations yet",
                    "Your clients appear here once PayDesk has copied them from Autotask. "
                    "Open Sync to bring them in.",
                )
            self.stack.setCurrentWidget(self.empty)

    @Slot()
    def _open_setup(self) -> None:
        # Say "Open Sync" once Setup connected Autotask.
        open_setup_then(self, self._after_reset)

    @Slot()
    def _open_current(self) -> None:
        index = self.table.currentIndex()
        item_id = self.model.id_at(index.row()) if index.isValid() else None
        if item_id is not None:
            self.openOrganizationRequested.emit(item_id)

    def visible_ids(self) -> list[int]:
        """The organizations whose rows are on screen now."""
        first = self.table.rowAt(0)
        if first < 0:
            return []
        last = self.table.rowAt(self.table.viewport().height() - 1)
        last = self.model.rowCount() - 1 if last < 0 else last
        return [i for i in (self.model.id_at(r) for r in range(first, last + 1)) if i is not None]

    def refresh_organizations(self, changed_ids: list[int]) -> None:
        """After a sync: the id query again (in a worker), changed rows replaced in place;
        if the list itself changed, the current organization and the scroll are kept."""
        current = self.table.currentIndex()
        self._keep = (
            self.model.id_at(current.row()) if current.isValid() else None,
            self.table.verticalScrollBar().value(),
        )
        self.model.refresh_rows(changed_ids, top_row=max(self.table.rowAt(0), 0))

    _keep: tuple[int | None, int] = (None, 0)

    @Slot(bool)
    def _after_refresh(self, reset: bool) -> None:
        current_id, scroll = self._keep
        if not reset or current_id is None:
            return
        row = self.model.row_of(current_id)
        if row is not None:
            self.table.selectionModel().setCurrentIndex(
                self.model.index(row, 0),
                QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows,
            )
        self.table.verticalScrollBar().setValue(scroll)


def _item(text: str, align: Qt.AlignmentFlag | None = None) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    if align is not None:
        item.setTextAlignment(align)
    return item


def _small_table(headers: list[str], stretch: int) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setTabKeyNavigation(False)  # Tab leaves the table (Tab order)
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setAlternatingRowColors(True)
    table.setShowGrid(False)
    table.setWordWrap(False)
    header = table.horizontalHeader()
    header.setHighlightSections(False)
    for column in range(len(headers)):
        header.setSectionResizeMode(
            column,
            QHeaderView.ResizeMode.Stretch
            if column == stretch
            else QHeaderView.ResizeMode.ResizeToContents,
        )
    return table


class OrganizationPage(QWidget):
    """One organization: what it owes, who to talk to, its contracts and its invoices."""

    backRequested = Signal()
    openInvoiceRequested = Signal(int)

    def __init__(
        self, context: AppContext, organization_id: int, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("organizationPage")
        self.context = context
        bus = context.changes()
        RefreshOnChange(self, lambda _ids: self.reload(), bus.invoicesChanged,
                        bus.syncFinished)
        self.organization_id = organization_id
        self.currency = context.currency() or "USD"
        self.locale_name = context.locale
        self.detail: OrganizationDetail | None = None

        self.header = PageHeader()
        self.header.backRequested.connect(self.backRequested)
        self.back_button, self.title = self.header.back_button, self.header.title
        self.header.row.addStretch(1)

        self.facts: dict[str, QLabel] = {}
        left = QFormLayout()
        right = QFormLayout()
        for form in (left, right):
            form.setHorizontalSpacing(16)
            form.setVerticalSpacing(6)
        for key, form in (
            ("Phone", left),
            ("Address", left),
            ("Open tickets", left),
            ("Open balance", right),
            ("Overdue", right),
            ("Last payment", right),
        ):
            label = QLabel()
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            if form is right:
                label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                label.setMinimumWidth(120)
            self.facts[key] = label
            caption = QLabel(key)
            caption.setMinimumWidth(caption.fontMetrics().horizontalAdvance(key) + 12)
            form.addRow(caption, label)
        facts = QGridLayout()
        facts.addLayout(left, 0, 0)
        facts.addLayout(right, 0, 1)
        facts.setColumnStretch(2, 1)
        facts.setHorizontalSpacing(56)

        self.invoices = InvoiceHistoryView(
            context,
            settings=_settings(context),
            settings_key="organizationInvoices",
            organization_id=organization_id,
        )
        self.invoices.openInvoiceRequested.connect(self.openInvoiceRequested)
        self.contacts = _small_table(["Name", "Email", "Phone"], 1)
        self.contacts.setObjectName("organizationContacts")
        self.contracts = _small_table(["Contract", "Status", "Starts", "Ends"], 0)
        self.contracts.setObjectName("organizationContracts")
        describe(self.contacts, "The organization's contacts in Autotask", "Contacts")
        describe(self.contracts, "The organization's contracts in Autotask", "Contracts")
        self.tabs = QTabWidget()
        self.tabs.setObjectName("organizationTabs")
        self.tabs.addTab(self.invoices, "Invoices")
        self.tabs.addTab(self.contacts, "Contacts")
        self.tabs.addTab(self.contracts, "Contracts")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(12)
        layout.addWidget(self.header)
        layout.addLayout(facts)
        layout.addWidget(self.tabs, 1)
        self.reload()
        for path in ORGANIZATION_PAGE_EXTENSIONS:
            from app.gui.main_window import resolve

            resolve(path)(self, context)

    # --- extension point -----------------------------------------------------------------
    def add_section(self, title: str, widget: QWidget) -> None:
        """Add a tab (e.g. Transactions, Saved payment methods) after the built-in ones."""
        self.tabs.addTab(widget, title)

    # --- loading -------------------------------------------------------------------------
    def reload(self) -> Task:
        """Load the organization's detail in a worker and show it when it arrives."""
        return run_task(
            "open the organization",
            load_organization_detail,
            self.context.engine,
            self.organization_id,
            local_today(),
            on_success=self._show_detail,
            parent=self,
        )

    def _show_detail(self, detail: OrganizationDetail | None) -> None:
        if detail is None:
            self.title.setText("This organization is no longer in Autotask")
            return
        self.detail = detail
        row = detail.row
        self.title.setText(row.name if row.is_active else f"{row.name} (inactive)")
        self.facts["Phone"].setText(detail.phone or "—")
        self.facts["Address"].setText(", ".join(detail.address_lines) or "—")
        self.facts["Open tickets"].setText(f"{detail.open_tickets:,}")
        self.facts["Open balance"].setText(
            money_text(row.open_balance_minor, self.currency, self.locale_name)
        )
        self.facts["Overdue"].setText(
            money_text(row.overdue_minor, self.currency, self.locale_name)
        )
        self.facts["Last payment"].setText(
            date_text(row.last_payment_date, self.locale_name) or "Never"
        )
        self.contacts.setRowCount(len(detail.contacts))
        for r, contact in enumerate(detail.contacts):
            self.contacts.setItem(r, 0, _item(contact.name))
            self.contacts.setItem(r, 1, _item(contact.email or ""))
            self.contacts.setItem(r, 2, _item(contact.phone or ""))
        self.contracts.setRowCount(len(detail.contracts))
        for r, contract in enumerate(detail.contracts):
            self.contracts.setItem(r, 0, _item(contract.name))
            self.contracts.setItem(r, 1, _item(contract.status))
            self.contracts.setItem(r, 2, _item(date_text(contract.start_date, self.locale_name)))
            self.contracts.setItem(r, 3, _item(date_text(contract.end_date, self.locale_name)))
        self.tabs.setTabText(1, f"Contacts ({len(detail.contacts)})")
        self.tabs.setTabText(2, f"Contracts ({len(detail.contracts)})")


def load_organization_detail(
    engine: Engine, organization_id: int, today: date
) -> OrganizationDetail | None:
    """Runs on a pool thread: the organization page's facts, contacts and contracts."""
    with session_scope(engine) as session:
        return organization_detail(session, organization_id, today)


def _settings(context: AppContext) -> QSettings:
    from app.gui.widgets.remembered import gui_settings

    return gui_settings(context)


class OrganizationsArea(QWidget):
    """The organization list; an organization's page and its invoices open in its place."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.list = OrganizationListView(context, _settings(context))
        self.stack = QStackedWidget()
        self.stack.addWidget(self.list)
        self.page: OrganizationPage | None = None
        self.invoice_page = InvoicePage(context)
        self.invoice_page.backRequested.connect(self._back_from_invoice)
        self.invoice_page.invoiceShown.connect(self._on_invoice_shown)
        self.invoice_page.openOrganizationRequested.connect(self.show_organization)
        self.stack.addWidget(self.invoice_page)
        self.list.openOrganizationRequested.connect(self.show_organization)
        self.sync_changes = ChangedRows(
            frozenset({"invoices", "organizations", "contacts", "contracts", "tickets"}),
            self._on_synced,
            self,
        )
        follow_sync(context, self.sync_changes)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 12)
        layout.addWidget(self.stack)

    @Slot(int)
    def show_organization(self, organization_id: int) -> None:
        if self.page is not None and self.page.organization_id == organization_id:
            self.page.reload()
        else:
            if self.page is not None:
                self.stack.removeWidget(self.page)
                self.page.deleteLater()
            self.page = OrganizationPage(self.context, organization_id)
            self.page.backRequested.connect(self.show_list)
            self.page.openInvoiceRequested.connect(self._open_invoice)
            self.stack.addWidget(self.page)
        self.stack.setCurrentWidget(self.page)

    def _on_synced(self, changed: dict[str, set[int]]) -> None:
        """After a sync: balances may have moved with any invoice, so the list's rows are
        fetched again (the id list is re-queried; selection and scroll are kept), and the
        open organization's page and its invoices are brought up to date."""
        listing = self.list
        visible = set(listing.visible_ids())
        # Rows off screen are fetched again when next painted; those on screen are
        # replaced in place by the refresh, so nothing the person looks at blanks out.
        listing.model.forget_rows(set(listing.model.cached_keys()) - visible)
        listing.refresh_organizations(sorted(set(changed.get("organizations", ())) | visible))
        if self.page is not None:
            self.page.reload()
            self.page.invoices.refresh_invoices(sorted(changed.get("invoices", ())))
        if self.invoice_page.detail is not None and (
            self.invoice_page.detail.row.id in changed.get("invoices", set())
        ):
            self.invoice_page.reload()

    @Slot()
    def show_list(self) -> None:
        self.stack.setCurrentWidget(self.list)

    @Slot(int)
    def _open_invoice(self, invoice_id: int) -> None:
        self._opening = invoice_id
        self.invoice_page.show_invoice(invoice_id)

    _opening: int | None = None

    @Slot(int)
    def _on_invoice_shown(self, invoice_id: int) -> None:
        if invoice_id == self._opening:
            self._opening = None
            self.stack.setCurrentWidget(self.invoice_page)

    @Slot()
    def _back_from_invoice(self) -> None:
        self.stack.setCurrentWidget(self.page if self.page is not None else self.list)


def create_organizations_area(context: AppContext) -> QWidget:
    return OrganizationsArea(context)
