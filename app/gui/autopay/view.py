"""The AutoPay area: the charges of the next 30 days with their total, the last run, and
what needs a person — with the reason and what to do.

Everything is read by :func:`app.core.autopay.load_autopay_overview` in a worker; "Run
AutoPay now" asks first (naming the amount), then runs :func:`app.core.autopay.run_autopay`
in a worker through the same pipeline as every payment. The area refreshes when shown, after
each round of the window's upkeep (which runs AutoPay on its own) and after a run. Runs on
the GUI thread except the functions handed to ``run_task``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import Engine

from app.core.autopay import AttentionRow, AutoPayOverview, AutoPayReport, PlannedCharge
from app.core.autopay import load_autopay_overview as _load_overview
from app.core.autopay import run_autopay as _run_autopay
from app.core.credentials import CredentialStore
from app.core.gateways import PaymentGateway
from app.core.gateways.connection import describe_missing_gateway, load_gateway
from app.gui.context import AppContext
from app.gui.payments.common import date_text, datetime_text
from app.gui.widgets import EmptyState, MoneyDelegate
from app.gui.widgets.accessible import describe
from app.gui.workers import Task, WorkerFailure, run_task

__all__ = ["AutoPayView", "create_autopay_area"]

Cell = Callable[[Any], object]


class _RowsModel(QAbstractTableModel):
    """A small read-only table over frozen rows (tens to a few thousand)."""

    def __init__(self, columns: Sequence[tuple[str, Cell]], money_columns: set[int],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.columns = list(columns)
        self.money_columns = money_columns
        self.rows: list[Any] = []

    def set_rows(self, rows: Sequence[Any]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        value = self.columns[index.column()][1](self.rows[index.row()])
        if role == Qt.ItemDataRole.DisplayRole:
            return value
        if role == Qt.ItemDataRole.ToolTipRole and isinstance(value, str) and len(value) > 40:
            return value
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() in self.money_columns:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section][0]
        if (orientation == Qt.Orientation.Horizontal
                and role == Qt.ItemDataRole.TextAlignmentRole
                and section in self.money_columns):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


def _table(name: str, model: _RowsModel, locale: str, *, title: str,
           description: str) -> QTableView:
    view = QTableView()
    view.setObjectName(name)
    describe(view, description, name=title)
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    view.verticalHeader().hide()
    for column in model.money_columns:
        view.setItemDelegateForColumn(column, MoneyDelegate(locale, view))
    header = view.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setStretchLastSection(True)
    return view


def _kind(row: PlannedCharge) -> str:
    return AutoPayOverview.kind_label(row.kind) + (" — over limit" if row.blocked else "")


UPCOMING_COLUMNS: list[tuple[str, Cell]] = [
    ("Charge date", lambda r: date_text(r.charge_on)),
    ("Organization", lambda r: r.organization_name),
    ("Invoices", lambda r: r.invoice_numbers),
    ("Type", _kind),
    ("Method", lambda r: r.method_summary),
    ("Amount", lambda r: r.amount),
]
ATTENTION_COLUMNS: list[tuple[str, Cell]] = [
    ("Date", lambda a: date_text(a.on)),
    ("Organization", lambda a: a.organization_name),
    ("Invoices", lambda a: a.invoice_numbers),
    ("Amount", lambda a: a.amount if a.amount.minor else ""),
    ("What happened", lambda a: a.reason),
    ("What to do", lambda a: a.action),
]


def load_overview(engine: Engine) -> AutoPayOverview:
    """Runs on a pool thread."""
    return _load_overview(engine)


class NoGateway(Exception):
    """No payment gateway is connected; the message says what to do."""


def run_now(engine: Engine, credentials: CredentialStore,
            gateway: PaymentGateway | None) -> tuple[PaymentGateway, AutoPayReport]:
    """Runs on a pool thread (the stored gateway is opened here, off the GUI thread).
    Another seat's (or this window's upkeep's) unfinished charges are left to them until
    stale: this run may overlap the upkeep's."""
    if gateway is None:
        gateway = load_gateway(engine, credentials)
    if gateway is None:
        raise NoGateway(describe_missing_gateway(engine, credentials) or (
            "The payment gateway could not be opened. Run Setup… to connect your payment "
            "gateway."))
    return gateway, _run_autopay(engine, gateway, mine_immediately=False)


class AutoPayView(QWidget):
    """See the module docstring. Object names: ``autopayTable`` (upcoming charges),
    ``autopayAttentionTable``, ``autopayRunButton``, ``autopaySummary``, ``autopayLastRun``."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("autopayArea")
        self.context = context
        self.overview: AutoPayOverview | None = None
        self.last_report: AutoPayReport | None = None
        self._task: Task | None = None
        self._run_task: Task | None = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(8)
        top = QHBoxLayout()
        titles = QVBoxLayout()
        title = QLabel("AutoPay")
        title.setObjectName("areaTitle")
        self.subtitle = QLabel("Invoices that pay themselves, with each client's recorded "
                               "authorization, and payments scheduled for a later day.")
        self.subtitle.setObjectName("areaSubtitle")
        self.subtitle.setWordWrap(True)
        titles.addWidget(title)
        titles.addWidget(self.subtitle)
        top.addLayout(titles, 1)
        self.run_button = QPushButton("Run AutoPay now…")
        self.run_button.setObjectName("autopayRunButton")
        self.run_button.setToolTip("Charge every AutoPay invoice and scheduled payment due "
                                   "today. PayDesk also does this on its own every 15 minutes "
                                   "while it is open.")
        self.run_button.clicked.connect(self.confirm_run)
        self.run_button.setEnabled(False)
        top.addWidget(self.run_button, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(top)

        self.stack = QStackedWidget()
        self.empty = EmptyState(
            "No AutoPay yet",
            "Set AutoPay up for a client on their organization page (Organizations › the "
            "client › AutoPay) once they have agreed, or schedule a payment for a later day "
            "from the Pay invoices window. Their upcoming charges then appear here.")
        self.empty.setObjectName("autopayEmpty")
        self.stack.addWidget(self.empty)

        content = QWidget()
        body = QVBoxLayout(content)
        body.setContentsMargins(0, 4, 0, 0)
        body.setSpacing(6)
        self.summary = QLabel()
        self.summary.setObjectName("autopaySummary")
        self.summary.setWordWrap(True)
        self.last_run = QLabel()
        self.last_run.setObjectName("autopayLastRun")
        self.last_run.setWordWrap(True)
        body.addWidget(self.summary)
        body.addWidget(self.last_run)
        upcoming_title = QLabel("Upcoming charges — next 30 days")
        upcoming_title.setObjectName("sectionTitle")
        body.addWidget(upcoming_title)
        self.upcoming_model = _RowsModel(UPCOMING_COLUMNS, {5}, self)
        self.table = _table(
            "autopayTable", self.upcoming_model, context.locale, title="Upcoming AutoPay charges",
            description="The charges AutoPay will make in the next 30 days")
        body.addWidget(self.table, 3)
        self.attention_title = QLabel("Needs attention")
        self.attention_title.setObjectName("sectionTitle")
        body.addWidget(self.attention_title)
        self.attention_model = _RowsModel(ATTENTION_COLUMNS, {3}, self)
        self.attention = _table(
            "autopayAttentionTable", self.attention_model, context.locale,
            title="AutoPay charges that need a person",
            description="Charges AutoPay stopped trying, with the reason and what to do")
        self.attention.setWordWrap(True)
        body.addWidget(self.attention, 2)
        self.stack.addWidget(content)
        self.content = content
        layout.addWidget(self.stack, 1)
        self.message = QLabel()
        self.message.setObjectName("autopayMessage")
        self.message.setWordWrap(True)
        layout.addWidget(self.message)

        upkeep = context.services.upkeep
        if upkeep is not None:
            upkeep.roundFinished.connect(self._on_upkeep_round)

    # --- loading --------------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.reload()

    @Slot()
    def reload(self) -> None:
        if self._task is not None and self._task.is_running:
            return
        self._task = run_task("read AutoPay's upcoming charges", load_overview,
                              self.context.engine, on_success=self._show,
                              on_failure=self._failed, parent=self)

    @Slot(object)
    def _on_upkeep_round(self, report: object) -> None:
        if getattr(report, "autopay", None) is not None and self.isVisible():
            self.reload()

    def _failed(self, failure: WorkerFailure) -> None:
        from app.gui.errors import describe_exception

        self.message.setText("PayDesk could not read AutoPay's charges. "
                             + describe_exception(failure.exception))

    def _show(self, overview: AutoPayOverview) -> None:
        self.overview = overview
        nothing = (not overview.active_rules and not overview.pending_schedules
                   and not overview.upcoming and not overview.attention)
        self.stack.setCurrentWidget(self.empty if nothing else self.content)
        self.upcoming_model.set_rows(overview.upcoming)
        self.attention_model.set_rows(overview.attention)
        for view, widths in ((self.table, (110, 240, 120, 170, 210)),
                             (self.attention, (110, 190, 80, 100, 300))):
            for column, width in enumerate(widths):
                view.setColumnWidth(column, width)
        self.attention.resizeRowsToContents()
        charges = [p for p in overview.upcoming if not p.blocked]
        locale = self.context.locale
        due_now = overview.due_now
        parts = [f"<b>{len(charges):,} charge{'s' if len(charges) != 1 else ''}</b> in the "
                 f"next {overview.days} days, <b>{overview.total.format(locale)}</b> in all"]
        parts.append(f"{due_now.format(locale)} due today" if due_now.minor
                     else "nothing due today")
        parts.append(f"{overview.active_rules:,} organization"
                     f"{'s' if overview.active_rules != 1 else ''} on AutoPay")
        if overview.pending_schedules:
            parts.append(f"{overview.pending_schedules:,} scheduled payment"
                         f"{'s' if overview.pending_schedules != 1 else ''}")
        self.summary.setText(" · ".join(parts))
        run = overview.last_run
        if run is None:
            self.last_run.setText("AutoPay has not run yet. It runs on its own while PayDesk "
                                  "is open, or with “paydesk payments autopay” from a "
                                  "scheduled task.")
        else:
            text = (f"Last run {datetime_text(run.finished_at or run.started_at)} by "
                    f"{run.actor}: {run.charged:,} charged "
                    f"({run.charged_amount.format(locale)}), {run.declined:,} declined, "
                    f"{run.needs_person:,} need{'s' if run.needs_person == 1 else ''} a "
                    "person.")
            if run.problems:
                text += " " + run.problems.splitlines()[0]
            self.last_run.setText(text)
        needs = sum(1 for a in overview.attention if a.needs_person)
        self.attention_title.setText(
            f"Needs attention ({needs})" if needs else
            "Needs attention — nothing right now" if not overview.attention else
            "Retries on their way")
        self.attention.setVisible(bool(overview.attention))
        self._update_run_button()

    def _update_run_button(self) -> None:
        overview = self.overview
        due = overview is not None and any(
            p.charge_on <= overview.today and not p.blocked for p in overview.upcoming)
        running = self._run_task is not None and self._run_task.is_running
        self.run_button.setEnabled(bool(due) and not running)

    # --- running ----------------------------------------------------------------------------
    @Slot()
    def confirm_run(self) -> None:
        overview = self.overview
        if overview is None:
            return
        due = [p for p in overview.upcoming if p.charge_on <= overview.today and not p.blocked]
        answer = QMessageBox.question(
            self, "Run AutoPay now",
            f"Charge {len(due):,} due payment{'s' if len(due) != 1 else ''} now, "
            f"{overview.due_now.format(self.context.locale)} in all? Each is charged once, to "
            "the method the client authorized.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        if answer == QMessageBox.StandardButton.Yes:
            self.start_run()

    def start_run(self) -> None:
        self.message.setText("Charging what is due…")
        self._run_task = run_task("run AutoPay", run_now, self.context.engine,
                                  self.context.credentials, self.context.services.gateway,
                                  on_success=self._ran, on_failure=self._run_failed,
                                  parent=self)
        self._update_run_button()

    def _ran(self, answer: tuple[PaymentGateway, AutoPayReport]) -> None:
        gateway, report = answer
        if self.context.services.gateway is None:
            self.context.services.gateway = gateway
        self.last_report = report
        self._run_task = None
        self.message.setText(report.summary)
        ids = [line.payment_id for line in (*report.charged, *report.declined)
               if line.payment_id is not None]
        if ids:
            self.context.changes().announce_payments(ids)
        self.reload()

    def _run_failed(self, failure: WorkerFailure) -> None:
        from app.gui.errors import describe_exception

        self._run_task = None
        if isinstance(failure.exception, NoGateway):
            self.message.setText(str(failure.exception))
        else:
            self.message.setText("AutoPay could not run. "
                                 + describe_exception(failure.exception))
        self._update_run_button()

    def attention_rows(self) -> tuple[AttentionRow, ...]:
        return self.overview.attention if self.overview is not None else ()


def create_autopay_area(context: AppContext) -> QWidget:
    """The main window's AutoPay area."""
    return AutoPayView(context)
