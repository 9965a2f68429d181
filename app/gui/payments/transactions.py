"""Transactions: every payment PayDesk took — for everyone, or for one organization.

Columns: date, reference, organization, invoices, method, amount, surcharge, status, gateway
transaction id and the posting status (Autotask and the books). Filters "Failing to post" and
"Pending" are one click away, because those are the rows a bookkeeper has to act on. A payment
whose postings failed can be retried (``retryPostingButton``) or dismissed once it was recorded
by hand where it failed; double-clicking a row (or Enter) opens the payment's detail.

The table follows "ids from SQL, rows on demand" (``LazyTableModel``): the id query runs in a
worker after every filter, search or sort change; rows are fetched a page at a time.

Everything here runs on the GUI thread except the functions handed to ``run_task``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial

from PySide6.QtCore import QModelIndex, QPoint, Qt, Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import Engine

from app.core.payments import (
    PostingStatus,
    TransactionFilter,
    TransactionRow,
    TransactionSort,
    transaction_ids,
    transaction_rows,
)
from app.core.payments.maintenance import MaintenanceReport
from app.core.posting.actions import PostingActionResult
from app.gui.context import AppContext
from app.gui.invoices.formatting import money_text
from app.gui.payments.common import (
    PAYMENT_STATE_TONES,
    POSTING_STATE_TONES,
    TestModeBanner,
    datetime_text,
)
from app.gui.payments.payment_list import PaymentListView
from app.gui.payments.posting_actions import PostingActions
from app.gui.payments.upkeep import PaymentUpkeep
from app.gui.theme import set_themed_style
from app.gui.widgets import EmptyState, SearchField, StatusPillDelegate, Tone
from app.gui.widgets.accessible import describe
from app.gui.widgets.headers import FilterButtons, add_area_header
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

log = logging.getLogger(__name__)

_POSTING_TONES = {
    PostingStatus.NONE: Tone.NEUTRAL,
    PostingStatus.PENDING: POSTING_STATE_TONES["pending"],
    PostingStatus.POSTED: POSTING_STATE_TONES["delivered"],
    PostingStatus.FAILING: POSTING_STATE_TONES["failed"],
    PostingStatus.DISMISSED: POSTING_STATE_TONES["dismissed"],
}


def transaction_columns(
    locale: str, *, with_organization: bool = True
) -> list[Column[TransactionRow]]:
    """The Transactions columns (the organization's page leaves out the organization)."""

    def status_text(row: TransactionRow) -> str:
        if row.recovered_at is not None:
            return f"{row.state.label} (recovered)"
        return row.state.label

    def status_tip(row: TransactionRow) -> str | None:
        lines = []
        if row.recovered_at is not None:
            lines.append(recovery_note(row.recovered_at, row.recovery_why))
        if row.refunded.minor:
            lines.append(f"{row.refunded.format(locale)} refunded")
        return "\n".join(lines) or None

    columns: list[Column[TransactionRow]] = [
        Column("Date", lambda r: datetime_text(r.date), sort_key=TransactionSort.DATE.value),
        Column(
            "Reference",
            # Test-mode payments say so in words, not only in grey.
            lambda r: f"{r.reference} (test)" if r.test_mode else r.reference,
            sort_key=TransactionSort.REFERENCE.value,
            tooltip=lambda r: (
                "Taken in test mode: no real money moved." if r.test_mode else None
            ),
            tone=lambda r: TextTone.MUTED if r.test_mode else TextTone.NORMAL,
        ),
    ]
    if with_organization:
        columns.append(
            Column(
                "Organization",
                lambda r: r.organization_name,
                sort_key=TransactionSort.ORGANIZATION.value,
                tooltip=lambda r: r.organization_name,
                stretch=True,
            )
        )
    columns += [
        # On an organization's page (no Organization column) the invoices take the room.
        Column("Invoices", lambda r: r.invoices_text, tooltip=lambda r: r.invoices_text,
               stretch=not with_organization),
        Column(
            "Amount",
            lambda r: money_text(r.amount.minor, r.amount.currency, locale),
            align=Align.RIGHT,
            sort_key=TransactionSort.AMOUNT.value,
        ),
        Column(
            "Status",
            status_text,
            sort_key=TransactionSort.STATUS.value,
            pill=lambda r: PAYMENT_STATE_TONES.get(r.state.value, Tone.NEUTRAL),
            tooltip=status_tip,
        ),
        Column(
            "Posting",
            lambda r: r.posting_status.label if r.posting_status is not PostingStatus.NONE else "",
            pill=lambda r: _POSTING_TONES[r.posting_status],
            tooltip=lambda r: r.posting_error,
        ),
        # Beside every organization's name there is no room for it: it is in the payment's
        # detail and in the header's menu. An organization's page has the room.
        Column("Method", lambda r: r.method_summary or "", tooltip=lambda r: r.method_summary,
               shown=not with_organization),
        Column(
            "Surcharge",
            lambda r: money_text(r.surcharge.minor, r.surcharge.currency, locale),
            align=Align.RIGHT,
            tone=lambda r: TextTone.NORMAL if r.surcharge.minor else TextTone.MUTED,
            # Only where a card surcharge is charged: in the header's menu, and the detail.
            shown=False,
        ),
        # In the payment's detail; a column to choose in the header's menu.
        Column("Gateway transaction ID", lambda r: r.gateway_transaction_id or "", shown=False),
    ]
    return columns


def recovery_note(at: datetime, why: str | None) -> str:
    """What a payment's row says when recovery finished it."""
    when = datetime_text(at)
    return (f"Completed by PayDesk on {when}, after an interruption left it unfinished. "
            f"{why or ''}").strip()


def recovery_message(report: MaintenanceReport) -> str:
    """The status bar's sentence after an upkeep round that finished interrupted payments."""
    recovery = report.recovery
    if recovery is None or not recovery.resolved:
        return ""
    outcomes = recovery.resolved
    if len(outcomes) == 1:
        o = outcomes[0]
        return (f"PayDesk finished payment {o.reference}, which an interruption had left "
                f"unfinished: {o.state.label.lower()}. See Transactions for why.")
    return (f"PayDesk finished {len(outcomes)} payments an interruption had left unfinished "
            f"({', '.join(o.reference for o in outcomes[:3])}"
            f"{'…' if len(outcomes) > 3 else ''}). See Transactions for each one.")


def _fetch_rows(engine: Engine, ids: Sequence[int]) -> dict[int, TransactionRow]:
    return {row.payment_id: row for row in transaction_rows(engine, ids)}


def _first_page_then_rest(ids: Callable[..., Sequence[int]]) -> Listing[int]:
    """The first page of ``ids`` at once and the whole list from ``rest``, which the table's
    model runs in a worker once the first rows are shown: a million ids take most of a
    second to read, a page milliseconds. Runs in a worker."""
    first = ids(limit=PAGE_SIZE + 1)
    if len(first) <= PAGE_SIZE:
        return Listing(first)
    return Listing(first[:PAGE_SIZE], None, ids)


class TransactionsView(PaymentListView):
    """The Transactions table with its filters and posting actions.

    ``organization_id`` limits it to one organization (the organization page's history);
    ``compact`` drops the title row for embedding.
    """

    sort: TransactionSort

    def __init__(
        self,
        context: AppContext,
        organization_id: int | None = None,
        parent: QWidget | None = None,
        *,
        compact: bool = False,
    ) -> None:
        super().__init__(context, parent)
        self.setObjectName(
            "transactionsView" if organization_id is None else "organizationPayments"
        )
        self.organization_id = organization_id
        self.filter = TransactionFilter.ALL
        self.search_text = ""
        self.sort = TransactionSort.DATE
        self.descending = True
        self._total_known: int | None = None
        self._shown_once = False

        engine = context.engine
        self.model: LazyTableModel[int, TransactionRow] = LazyTableModel(
            transaction_columns(self.money_locale, with_organization=organization_id is None),
            partial(_fetch_rows, engine),
            self,
            task_name="list the payments",
        )
        self.model.loaded.connect(self._on_ids)
        # Rows come from workers: Retry / Dismiss follow the selected rows as they arrive.
        self.model.dataChanged.connect(self._on_rows_changed)
        self._build(compact)
        self.reload()

    # --- building ---------------------------------------------------------------------------
    def _build(self, compact: bool) -> None:
        layout = QVBoxLayout(self)
        if compact:
            layout.setContentsMargins(8, 8, 8, 4)
        else:
            layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(10)
        if not compact:
            # The order is the header's to show (its arrow), so the words never contradict it.
            add_area_header(layout, "Transactions",
                            "Every payment taken in PayDesk, with whether it has been posted "
                            "to Autotask and your books. Click a column title to sort by it.")

        self.test_banner = TestModeBanner()
        self.test_banner.setText(
            "TEST MODE — the payment gateway is connected with test keys; no real money "
            "moves. Payments taken in test mode say “test” after their reference."
        )
        self.test_banner.follow(self.context)
        layout.addWidget(self.test_banner)
        bar = QHBoxLayout()
        bar.setSpacing(6)
        self.filters = FilterButtons(((v, v.label) for v in TransactionFilter),
                                     selected=TransactionFilter.ALL, object_prefix="filter_")
        self.filter_buttons = self.filters.buttons
        self.filters.chosen.connect(self.set_filter)
        bar.addWidget(self.filters)
        self.search = SearchField("Search reference or transaction ID")
        self.search.setMinimumWidth(260)
        self.search.searchRequested.connect(self._on_search)
        bar.addSpacing(12)
        bar.addWidget(self.search)
        bar.addStretch(1)
        self.open_button = QPushButton("Open…")
        self.open_button.setObjectName("openPaymentButton")
        self.open_button.setToolTip("Show the payment's detail and history (Enter)")
        self.open_button.clicked.connect(self.open_selected)
        self.posting_actions = PostingActions(self, self.context)
        self.posting_actions.started.connect(self._posting_started)
        self.posting_actions.finished.connect(self._on_posting_action)
        self.posting_actions.failed.connect(self._on_posting_action_failed)
        self.retry_button = self.posting_actions.retry_button
        self.dismiss_button = self.posting_actions.dismiss_button
        for button in (self.open_button, self.retry_button, self.dismiss_button):
            bar.addWidget(button)
        layout.addLayout(bar)

        self.table = QTableView()
        self.table.setTabKeyNavigation(False)  # Tab leaves the table (Tab order)
        self.table.setObjectName("transactionsTable")
        self.table.setAccessibleName("Transactions")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setSortingEnabled(False)  # sorting is a new SQL query, see _on_header_clicked
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(30)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._show_menu)
        self.table.doubleClicked.connect(self._on_double_clicked)
        header = self.table.horizontalHeader()
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(True)
        header.setSortIndicator(0, Qt.SortOrder.DescendingOrder)
        header.sectionClicked.connect(self._on_header_clicked)
        header.setStretchLastSection(False)
        pill = StatusPillDelegate(self.table)
        for index, column in enumerate(self.model.columns()):
            if column.pill is not None:
                self.table.setItemDelegateForColumn(index, pill)
        # Columns as wide as what they show (pills included); the organization takes the
        # rest. The header's menu chooses the columns; the layout is kept per seat.
        self.columns_fit = ColumnFitter(
            self.table, menu=True,
            remember=(self.context, "transactions" if self.organization_id is None
                      else "organization_transactions"))
        self.table.selectionModel().selectionChanged.connect(self._update_actions)
        add_open_shortcut(self.table, self.open_selected)
        self.search.set_results(self.table, self)
        describe(self.table, "Enter opens the selected payment's detail, where it can be "
                 "refunded.")
        filter_descriptions = {
            TransactionFilter.ALL: "List every payment",
            TransactionFilter.FAILING_TO_POST: "List the payments that could not be posted "
            "to Autotask or your books",
            TransactionFilter.PENDING: "List the payments still waiting for an outcome",
        }
        for value, button in self.filter_buttons.items():
            describe(button, filter_descriptions[value])

        self.empty = EmptyState("No payments yet", "")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty)
        layout.addWidget(self.stack, 1)

        self.status_label = QLabel()
        self.status_label.setObjectName("secondaryText")
        self.status_label.setWordWrap(True)
        layout.addWidget(self.status_label)
        self.upkeep_label = QLabel()
        self.upkeep_label.setObjectName("upkeepProblem")
        self.upkeep_label.setWordWrap(True)
        set_themed_style(self.upkeep_label, "color: #85520A;")
        self.upkeep_label.setVisible(False)
        layout.addWidget(self.upkeep_label)
        self._update_actions()

    # --- loading -------------------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:
        """Payments may have been taken elsewhere since this view was last shown."""
        super().showEvent(event)
        if self._shown_once:
            self.reload()
        self._shown_once = True

    @Slot()
    def reload(self) -> None:
        """Run the id query for the current filter, search and sort (in the background)."""
        self._selected_before = set(self.selected_payment_ids())
        self.model.load(self._loader())

    def refresh_payments(self, payment_ids: list[int]) -> None:
        """Show these payments as they are now: their rows in place, keeping selection and
        scroll, unless a filter no longer lists them (or some unnamed ones changed)."""
        if not payment_ids:
            self.reload()
            return
        self._selected_before = set(self.selected_payment_ids())
        self.model.refresh(self._loader(), payment_ids)

    def _loader(self) -> Callable[[], Listing[int]]:
        return partial(
            _first_page_then_rest,
            partial(
                transaction_ids,
                self.context.engine,
                organization_id=self.organization_id,
                filter=self.filter,
                sort=self.sort,
                descending=self.descending,
                text=self.search_text or None,
            ),
        )

    _selected_before: set[int] = set()  # noqa: RUF012 - replaced, never mutated

    @Slot(object)
    def _on_ids(self, _info: object) -> None:
        selected = self._selected_before
        shown = self.model.rowCount()
        if (self.filter is TransactionFilter.ALL and not self.search_text
                and not self.model.is_partial()):
            self._total_known = shown
        if shown:
            self.stack.setCurrentWidget(self.table)
            # Only when something was selected: copying a million ids is not free.
            for row, payment_id in enumerate(self.model.ids() if selected else ()):
                if payment_id in selected:
                    self.table.selectRow(row)
        else:
            self._show_empty()
            self.stack.setCurrentWidget(self.empty)
        self._update_actions()

    def _show_empty(self) -> None:
        if self.search_text:
            self.empty.set_content(
                "No payments match", f"No payment reference or transaction ID contains "
                f"“{self.search_text}”."
            )
        elif self.filter is TransactionFilter.FAILING_TO_POST:
            self.empty.set_content(
                "Nothing is failing to post",
                "Every payment has been posted, or is on its way.",
            )
        elif self.filter is TransactionFilter.PENDING:
            self.empty.set_content(
                "Nothing pending",
                "No payment is waiting for a client, a bank or the gateway's answer.",
            )
        elif self.organization_id is not None:
            self.empty.set_content(
                "No payments yet",
                "Payments taken for this organization in PayDesk appear here, newest first.",
            )
        else:
            self.empty.set_content(
                "No payments yet",
                "Every payment and refund you take in PayDesk is listed here. Select invoices "
                "in Invoices and choose Pay… to take the first one.",
            )

    # --- background upkeep -----------------------------------------------------------------------
    def follow(self, upkeep: PaymentUpkeep) -> None:
        """Refresh after each upkeep round and say what stopped it, if anything did."""
        upkeep.roundFinished.connect(self._on_upkeep_round)

    @Slot(object)
    def _on_upkeep_round(self, report: MaintenanceReport) -> None:
        self.upkeep_label.setText(" ".join(report.problems))
        self.upkeep_label.setVisible(bool(report.problems))
        finished = recovery_message(report)
        window = self.window()
        if finished and isinstance(window, QMainWindow):
            window.statusBar().showMessage(finished)
        self.reload()

    # --- filters, search and sorting -------------------------------------------------------------
    def set_filter(self, value: TransactionFilter) -> None:
        self.filter = value
        self.filters.select(value)
        self.reload()

    @Slot(str)
    def _on_search(self, text: str) -> None:
        self.search_text = text
        self.reload()

    # --- selection and actions -------------------------------------------------------------------
    def selected_rows(self) -> list[TransactionRow]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        found = [self.model.row_at(r) for r in rows]
        return [row for row in found if row is not None]

    def shown_states(self) -> list[str]:
        """The payment states of the listed rows, in order (for tests and diagnostics)."""
        rows = (self.model.row_at(r) for r in range(self.model.rowCount()))
        return [row.state.value for row in rows if row is not None]

    def selected_payment_ids(self) -> list[int]:
        return [row.payment_id for row in self.selected_rows()]

    def _on_rows_changed(self, *_changed: object) -> None:
        self._update_actions()

    @Slot()
    def _update_actions(self) -> None:
        rows = self.selected_rows()
        failing = [r for r in rows if r.posting_status is PostingStatus.FAILING]
        self.open_button.setEnabled(len(rows) == 1)
        self.posting_actions.set_payments([r.payment_id for r in failing],
                                          [r.reference for r in failing])

    @Slot(QPoint)
    def _show_menu(self, point: QPoint) -> None:
        index = self.table.indexAt(point)
        if not index.isValid():
            return
        if index.row() not in {i.row() for i in self.table.selectionModel().selectedRows()}:
            self.table.selectRow(index.row())
        menu = QMenu(self)
        menu.addAction("Open…", self.open_selected).setEnabled(self.open_button.isEnabled())
        menu.addSeparator()
        menu.addAction("Retry posting", self.retry_selected).setEnabled(
            self.retry_button.isEnabled()
        )
        menu.addAction("Dismiss…", self.dismiss_selected).setEnabled(
            self.dismiss_button.isEnabled()
        )
        menu.popup(self.table.viewport().mapToGlobal(point))

    @Slot(QModelIndex)
    def _on_double_clicked(self, index: QModelIndex) -> None:
        payment_id = self.model.id_at(index.row())
        if payment_id is not None:
            self.open_payment(payment_id)

    @Slot()
    def open_selected(self) -> None:
        ids = self.selected_payment_ids()
        if len(ids) == 1:
            self.open_payment(ids[0])

    @Slot(int)
    def _on_payment_changed(self, payment_id: int) -> None:
        # At once here, where the person acted; the other screens follow the change bus.
        self.refresh_payments([payment_id])
        self._update_actions()

    @Slot()
    def retry_selected(self) -> None:
        self.posting_actions.retry()

    @Slot()
    def dismiss_selected(self) -> None:
        self.posting_actions.dismiss()

    def _on_posting_action(self, result: PostingActionResult) -> None:
        self.status_label.setText(result.message)
        # At once here, where the person acted; the other screens follow the change bus.
        self.refresh_payments(list(result.payment_ids))
        self._update_actions()

    @Slot()
    def _posting_started(self) -> None:
        self.status_label.setText("Posting…")

    def _on_posting_action_failed(self, message: str) -> None:
        self.status_label.setText(message)
        self._update_actions()


def create_transactions_area(context: AppContext) -> QWidget:
    """The main window's Transactions area, following the window's payment upkeep (made with
    the window; made here only when the area is shown on its own, as in tests)."""
    from app.gui.payments.upkeep import payment_upkeep

    view = TransactionsView(context)
    view.follow(payment_upkeep(context, view))
    return view
