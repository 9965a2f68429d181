"""The Sync area: live progress per kind of item with counts and time left, the past syncs,
and the items Autotask sent that PayDesk held back (with why, and what to do). Before the
first sync it says only that: nothing has been copied yet. GUI thread only; reads happen in
workers."""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.sync import EntityPhase, SyncProgress, SyncResult
from app.core.sync.history import (
    INTERVAL_CHOICES,
    QuarantineRow,
    RunRow,
    quarantined_records,
    recent_runs,
)
from app.core.sync.specs import SPECS
from app.gui.context import AppContext
from app.gui.invoices.formatting import datetime_text
from app.gui.setup_opener import open_setup_then
from app.gui.sync.controller import SyncController, controller_for
from app.gui.theme import set_themed_style
from app.gui.widgets.accessible import describe
from app.gui.workers import run_task

_PHASES = {
    EntityPhase.WAITING: "Waiting",
    EntityPhase.COUNTING: "Counting",
    EntityPhase.FETCHING: "Copying",
    EntityPhase.DONE: "Done",
    EntityPhase.FAILED: "Failed",
    EntityPhase.CANCELLED: "Cancelled",
}
_KINDS = {"full": "Full sync", "incremental": "Changes", "reconcile": "Full check"}
_STATUSES = {"running": "Running", "succeeded": "Finished", "failed": "Failed",
             "cancelled": "Cancelled"}
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
#: The progress table's "Of about" and "Time left" columns, shown only while a sync runs.
_LIVE_COLUMNS = (3, 8)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1:
        return "under 1 s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _item(text: str, right: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    if right:
        item.setTextAlignment(_RIGHT)
    return item


def _table(headers: list[str], stretch: int) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setTabKeyNavigation(False)  # Tab leaves the table (Tab order)
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setAlternatingRowColors(True)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    return table


class SyncArea(QWidget):
    def __init__(self, controller: SyncController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.setSpacing(10)

        top = QHBoxLayout()
        title = QLabel("Sync with Autotask")
        title.setObjectName("areaTitle")
        title.setStyleSheet("font-size: 18px; font-weight: 600;")
        self.summary = QLabel()
        self.sync_button = QPushButton("Sync now")
        self.full_button = QPushButton("Full sync")
        self.full_button.setToolTip("Read everything again and remove what Autotask no "
                                    "longer has. Takes longer than a normal sync.")
        self.cancel_button = QPushButton("Cancel")
        self.setup_button = QPushButton("Run Setup…")
        self.setup_button.setToolTip("Connect PayDesk to Autotask so it can copy your "
                                     "invoices and organizations.")
        self._connected = controller.connected()
        self.interval = QComboBox()
        for minutes in INTERVAL_CHOICES:
            self.interval.addItem("Only when I click Sync now" if minutes == 0
                                  else f"Every {minutes} minutes" if minutes < 60
                                  else f"Every {minutes // 60} hour{'s' if minutes > 60 else ''}",
                                  minutes)
        top.addWidget(title)
        top.addStretch(1)
        # Before Autotask is connected the schedule waits, and says so.
        self.interval_label = QLabel("Sync automatically:")
        self.interval_label.setObjectName("syncIntervalLabel")
        top.addWidget(self.interval_label)
        top.addWidget(self.interval)
        top.addWidget(self.setup_button)
        top.addWidget(self.sync_button)
        top.addWidget(self.full_button)
        top.addWidget(self.cancel_button)
        layout.addLayout(top)
        layout.addWidget(self.summary)

        self.progress_heading = self._heading("Last sync")
        layout.addWidget(self.progress_heading)
        self.progress_table = _table(["What", "Status", "Copied", "Of about", "New",
                                      "Updated", "Removed", "Held back", "Time left"], 0)
        # Tall enough for every kind of record without scrolling.
        self.progress_table.setFixedHeight(
            self.progress_table.horizontalHeader().sizeHint().height()
            + len(SPECS) * self.progress_table.verticalHeader().defaultSectionSize() + 6)
        layout.addWidget(self.progress_table)
        self._show_live_columns(False)

        self.history_heading = self._heading("Past syncs")
        layout.addWidget(self.history_heading)
        self.history_table = _table(["Started", "Kind", "Result", "Took", "Copied",
                                     "New", "Updated", "Held back", "Problem"], 8)
        layout.addWidget(self.history_table, 3)

        self.quarantine_heading = self._heading("Held back for you to check")
        layout.addWidget(self.quarantine_heading)
        self.quarantine_table = _table(["What", "Item", "Seen", "Why, and what to do"], 3)
        self.quarantine_table.setWordWrap(True)
        layout.addWidget(self.quarantine_table, 2)
        self.quarantine_empty = QLabel("Nothing — everything Autotask sent was copied.")
        self.quarantine_empty.setObjectName("quarantineEmpty")
        set_themed_style(self.quarantine_empty, "color: #5B6472;")
        layout.addWidget(self.quarantine_empty)
        # Before the first sync: one plain sentence instead of empty tables.
        self.nothing_yet = QLabel("Nothing has been copied from Autotask yet. Past syncs, and "
                                  "anything PayDesk holds back for you to check, appear here "
                                  "after the first sync.")
        self.nothing_yet.setObjectName("syncNothingYet")
        self.nothing_yet.setWordWrap(True)
        set_themed_style(self.nothing_yet, "color: #5B6472;")
        layout.addWidget(self.nothing_yet)
        # Spare height under the sentence before the first sync; the tables take it after.
        layout.addStretch(1)
        self._spare = layout.count() - 1
        self._has_runs = False
        self._show_sections()

        describe(self.interval, "How often PayDesk copies what changed in Autotask",
                 "Sync automatically")
        describe(self.sync_button, "Copy what changed in Autotask now")
        describe(self.cancel_button, "Stop the sync that is running", "Cancel the sync")
        describe(self.progress_table, "What the last sync copied, by kind of record",
                 "Last sync")
        describe(self.history_table, "Earlier syncs and how they ended", "Past syncs")
        describe(self.quarantine_table, "Records from Autotask PayDesk could not store, with "
                 "why and what to do", "Records PayDesk could not store")
        self.sync_button.clicked.connect(self._sync_now)
        self.full_button.clicked.connect(self._full_sync)
        self.cancel_button.clicked.connect(self._cancel)
        self.setup_button.clicked.connect(self._open_setup)
        self.interval.currentIndexChanged.connect(self._interval_chosen)
        controller.started.connect(self._on_started)
        controller.progress.connect(self._on_progress)
        controller.finished.connect(self._on_finished)
        controller.failed.connect(self._on_failed)
        controller.schedule_changed.connect(self._select_interval)  # set in Settings
        controller.facts_changed.connect(self._on_facts_changed)
        self._select_interval(controller.interval)
        self._update_buttons()
        self._show_summary()
        if controller.last_progress is not None:
            self._on_progress(controller.last_progress)
        self.reload_history()

    @staticmethod
    def _heading(text: str) -> QLabel:
        label = QLabel(text)
        label.setStyleSheet("font-weight: 600; margin-top: 6px;")
        return label

    def showEvent(self, event: QShowEvent) -> None:
        self.refresh_connection()
        super().showEvent(event)

    @Slot()
    def refresh_connection(self) -> None:
        """Read again whether Autotask is connected (on show, and when Setup closes), in a
        worker; the area follows the controller's ``facts_changed``."""
        self.controller.refresh_connection()

    @Slot()
    def _on_facts_changed(self) -> None:
        self._connected = self.controller.connected()
        self._select_interval(self.controller.interval)
        self._update_buttons()
        self._show_summary()

    def _show_live_columns(self, shown: bool) -> None:
        for column in _LIVE_COLUMNS:
            self.progress_table.setColumnHidden(column, not shown)

    # ----------------------------------------------------------------- actions

    @Slot()
    def _open_setup(self) -> None:
        # Offer Sync now once Setup connected Autotask.
        open_setup_then(self, self.refresh_connection)

    @Slot()
    def _sync_now(self) -> None:
        self.controller.sync_now()

    @Slot()
    def _full_sync(self) -> None:
        self.controller.sync_now(full=True)

    @Slot()
    def _cancel(self) -> None:
        self.controller.cancel()
        self.summary.setText("Cancelling — the pages already copied are kept.")

    @Slot(int)
    def _interval_chosen(self, index: int) -> None:
        minutes = int(self.interval.itemData(index))
        if minutes != self.controller.interval:
            self.controller.set_interval(minutes)  # one small settings row

    def _select_interval(self, minutes: int) -> None:
        index = self.interval.findData(minutes)
        if index < 0:
            self.interval.addItem(f"Every {minutes} minutes", minutes)
            index = self.interval.count() - 1
        self.interval.blockSignals(True)
        self.interval.setCurrentIndex(index)
        self.interval.blockSignals(False)

    def _show_sections(self) -> None:
        """Tables once there is something to show; before the first sync, one sentence."""
        running = self.controller.running
        shown = self._has_runs or running
        self.progress_heading.setVisible(shown)
        self.progress_table.setVisible(shown)
        for widget in (self.history_heading, self.history_table, self.quarantine_heading):
            widget.setVisible(self._has_runs)
        if not self._has_runs:
            self.quarantine_table.setVisible(False)
            self.quarantine_empty.setVisible(False)
        self.nothing_yet.setVisible(not shown)
        layout = self.layout()
        if isinstance(layout, QVBoxLayout):
            layout.setStretch(self._spare, 0 if self._has_runs else 1)

    def _update_buttons(self) -> None:
        running = self.controller.running
        ready = self._connected or running
        self.interval_label.setText("Sync automatically:" if self._connected
                                    else "Once connected, sync automatically:")
        self.sync_button.setEnabled(ready and not running)
        self.full_button.setEnabled(ready and not running)
        self.cancel_button.setEnabled(running)
        self.setup_button.setVisible(not ready)

    def _show_summary(self) -> None:
        c = self.controller
        if c.running:
            progress = c.last_progress
            eta = progress.eta_seconds if progress else None
            self.summary.setText("Syncing…" + (f" About {_duration(eta)} left." if eta else ""))
        elif not self._connected:
            self.summary.setText("PayDesk is not connected to Autotask yet, so nothing is "
                                 "synced, automatically or otherwise. Click Run Setup… to "
                                 "connect it; PayDesk then copies your invoices and "
                                 "organizations.")
        elif c.last_error:
            self.summary.setText(f"The last sync failed: {c.last_error}")
        elif c.last_synced_at is not None:
            self.summary.setText(f"Last synced {datetime_text(c.last_synced_at)}.")
        else:
            self.summary.setText("No sync has finished yet. Click Sync now to copy your "
                                 "Autotask data into PayDesk.")

    # ----------------------------------------------------------------- signals

    @Slot()
    def _on_started(self) -> None:
        self._update_buttons()
        self._show_summary()
        self._show_sections()

    @Slot(object)
    def _on_progress(self, progress: SyncProgress) -> None:
        self.progress_heading.setText("This sync")
        self._show_live_columns(self.controller.running)
        table = self.progress_table
        table.setRowCount(len(progress.entities))
        for row, e in enumerate(progress.entities):
            c = e.counts
            values = [
                (e.label, False), (_PHASES[e.phase], False), (f"{c.fetched:,}", True),
                (f"{e.total:,}" if e.total else "—", True), (f"{c.inserted:,}", True),
                (f"{c.updated:,}", True), (f"{c.deleted:,}", True),
                (f"{c.quarantined:,}", True),
                (_duration(e.eta_seconds) if e.eta_seconds is not None else "—", True),
            ]
            for column, (text, right) in enumerate(values):
                table.setItem(row, column, _item(text, right))
            status_item = table.item(row, 1)
            if c.error and status_item is not None:
                status_item.setToolTip(c.error)
        self._show_summary()

    @Slot(object)
    def _on_finished(self, result: SyncResult) -> None:
        self._show_live_columns(False)
        self._update_buttons()
        self._show_summary()
        self.reload_history()

    @Slot(str)
    def _on_failed(self, _message: str) -> None:
        self._show_live_columns(False)
        self._update_buttons()
        self._show_summary()
        self.reload_history()

    # ----------------------------------------------------------------- history

    def reload_history(self) -> None:
        engine = self.controller.context.engine
        run_task("load the sync history", _load_history, engine,
                 on_success=self._show_history, parent=self)

    def _show_history(self, loaded: object) -> None:
        if isinstance(loaded, tuple):
            self._fill_runs(loaded[0])
            self._fill_quarantine(loaded[1])

    def _fill_runs(self, runs: list[RunRow]) -> None:
        self._has_runs = bool(runs)
        self._show_sections()
        if not self.controller.running and runs and runs[0].entities:
            self._show_last_run(runs[0])
        table = self.history_table
        table.setRowCount(len(runs))
        for row, r in enumerate(runs):
            values = [
                (datetime_text(r.started_at), False), (_KINDS.get(r.kind, r.kind), False),
                (_STATUSES.get(r.status, r.status), False), (_duration(r.seconds), True),
                (f"{r.fetched:,}", True), (f"{r.inserted:,}", True), (f"{r.updated:,}", True),
                (f"{r.quarantined:,}", True), (r.error or "", False),
            ]
            for column, (text, right) in enumerate(values):
                item = _item(text, right)
                if column == 8 and text:
                    item.setToolTip(text)
                table.setItem(row, column, item)

    def _show_last_run(self, run: RunRow) -> None:
        """Between syncs the table shows what the last one did, per kind of record."""
        self.progress_heading.setText(
            f"Last sync — {_KINDS.get(run.kind, run.kind).lower()} on "
            f"{datetime_text(run.started_at)}")
        self._show_live_columns(False)
        table = self.progress_table
        table.setRowCount(len(run.entities))
        for row, c in enumerate(run.entities):
            status = "Failed" if c.error else _STATUSES.get(run.status, run.status)
            values = [(c.label, False), (status, False), (f"{c.fetched:,}", True),
                      ("—", True), (f"{c.inserted:,}", True), (f"{c.updated:,}", True),
                      (f"{c.deleted:,}", True), (f"{c.quarantined:,}", True), ("—", True)]
            for column, (text, right) in enumerate(values):
                item = _item(text, right)
                if column == 1 and c.error:
                    item.setToolTip(c.error)
                table.setItem(row, column, item)

    def _fill_quarantine(self, rows: list[QuarantineRow]) -> None:
        table = self.quarantine_table
        if rows:
            self.quarantine_heading.setVisible(True)
            self.nothing_yet.setVisible(False)
        table.setVisible(bool(rows))
        self.quarantine_empty.setVisible(not rows and self._has_runs)
        table.setRowCount(len(rows))
        labels = {s.entity: s.label for s in SPECS}
        for row, q in enumerate(rows):
            why = f"{q.reason}\n{q.fix}" if q.fix else q.reason
            values = [(labels.get(q.entity, q.entity), False),
                      (q.record or str(q.record_id or "—"), False),
                      (datetime_text(q.created_at), False), (why, False)]
            for column, (text, right) in enumerate(values):
                item = _item(text, right)
                if column == 3:
                    item.setToolTip(why)
                table.setItem(row, column, item)
        table.resizeRowsToContents()


def _load_history(engine: object) -> tuple[list[RunRow], list[QuarantineRow]]:
    """Runs on a pool thread."""
    return recent_runs(engine), quarantined_records(engine)  # type: ignore[arg-type]


def create_sync_area(context: AppContext) -> QWidget:
    return SyncArea(controller_for(context))
