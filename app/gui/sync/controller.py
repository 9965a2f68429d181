"""The GUI side of the sync: one `SyncController` per window, shared by the Sync area and the
status-bar widget (kept in ``AppContext.services.sync``).

It runs scheduled syncs (every ``sync.interval_minutes`` from the database settings, 15 by
default; 0 = only on demand) and "Sync now" on the worker pool, relays progress, and emits
the ids of the rows that changed, per table, so open screens can refresh exactly those rows.

Threads: everything here runs on the GUI thread; the sync itself runs in a pool worker
(``app.gui.workers.run_task``) and reports back through queued signals.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from sqlalchemy import Engine

from app.core.clock import utcnow
from app.core.connections import (
    describe_missing_connection,
    load_autotask_client,
    load_autotask_connection,
)
from app.core.credentials import CredentialStore
from app.core.sync import (
    RunStatus,
    SyncError,
    SyncProgress,
    SyncResult,
    run_sync,
)
from app.core.sync.history import (
    SyncSchedule,
    last_success,
    load_sync_schedule,
    set_interval_minutes,
)
from app.gui.context import AppContext
from app.gui.invoices.formatting import datetime_text, time_text
from app.gui.workers import Task, WorkerFailure, run_task

log = logging.getLogger(__name__)


def install_quickbooks_sync(credentials: CredentialStore) -> None:
    """Register the QuickBooks Online read as a sync hook with this window's keychain store
    (it does nothing while QuickBooks Online is not connected)."""
    from app.core.quickbooks.online.read import quickbooks_sync_hook
    from app.core.sync.hooks import register_sync_hook

    register_sync_hook("quickbooks_online", quickbooks_sync_hook(credentials))

#: An overdue sync waits this long after start, so the window is up first.
STARTUP_DELAY_MS = 5_000
#: With syncs on demand only, data this old is refreshed at start (when run at start is on).
FRESH_AT_START_MINUTES = 10


def sync_job(engine: Engine, credentials: CredentialStore, full: bool, *,
             cancel: threading.Event,
             on_progress: Callable[[SyncProgress], None]) -> SyncResult:
    """Runs on a pool thread: build the Autotask client and run one sync."""
    client = load_autotask_client(engine, credentials)
    if client is None:
        raise SyncError(describe_missing_connection(engine, credentials, in_window=True)
                        or "PayDesk is not connected to Autotask yet.")
    install_quickbooks_sync(credentials)  # QuickBooks is read in the same sync, after Autotask
    try:
        return run_sync(engine, client, full=full, cancel=cancel, on_progress=on_progress)
    finally:
        client.close()


class SyncController(QObject):
    """Starts syncs and tells the screens what is happening. GUI thread only."""

    started = Signal()
    progress = Signal(object)  # SyncProgress
    finished = Signal(object)  # SyncResult
    failed = Signal(str)  # a message for people
    rows_changed = Signal(str, object)  # table name, tuple of ids
    schedule_changed = Signal(int)
    #: The schedule, the last sync or whether Autotask is connected were read (again).
    facts_changed = Signal()

    def __init__(self, context: AppContext, parent: QObject | None = None,
                 job: Callable[..., SyncResult] = sync_job) -> None:
        super().__init__(parent)
        self.context = context
        self._job = job
        self._task: Task | None = None
        self.last_progress: SyncProgress | None = None
        self.last_result: SyncResult | None = None
        self.last_error: str | None = None
        self.last_synced_at: datetime | None = None
        #: Whether an Autotask API user is stored (read in a worker by ``load_schedule``).
        self.is_connected = False
        #: The schedule, the last sync and the connection have been read.
        self.facts_loaded = False
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._scheduled)
        self._interval = 0
        self._run_at_start = True

    # ----------------------------------------------------------------- schedule

    def load_schedule(self) -> None:
        """Read the schedule (``sync.interval_minutes``, ``sync.run_at_start``), the last
        successful sync and whether Autotask is connected, in a worker. When PayDesk syncs at
        start and the data is not fresh (older than the interval; with syncs on demand only,
        older than ``FRESH_AT_START_MINUTES``), start a sync shortly, so the window is up
        first. The first sync of all is Setup's. ``facts_changed`` fires when they are known."""
        run_task("read the sync schedule", _read_facts, self.context.engine,
                 on_success=self._facts_read, on_failure=self._facts_failed)

    def refresh_connection(self) -> None:
        """Read again, in a worker, whether Autotask is connected (after Setup closed)."""
        run_task("read the Autotask connection", _read_connected, self.context.engine,
                 on_success=self._connected_read, on_failure=self._facts_failed)

    @Slot(object)
    def _facts_read(self, facts: object) -> None:
        assert isinstance(facts, _SyncFacts)
        schedule = facts.schedule
        self._interval = schedule.interval_minutes
        self._run_at_start = schedule.run_at_start
        self.last_synced_at = self.last_synced_at or facts.last_success
        self.is_connected = facts.connected
        self.facts_loaded = True
        self._apply_interval()
        fresh_minutes = self._interval or FRESH_AT_START_MINUTES
        if schedule.run_at_start and self.last_synced_at is not None and (
            utcnow() - self.last_synced_at
        ).total_seconds() >= fresh_minutes * 60:
            QTimer.singleShot(STARTUP_DELAY_MS, self._scheduled)
        self.schedule_changed.emit(self._interval)
        self.facts_changed.emit()

    @Slot(object)
    def _connected_read(self, connected: object) -> None:
        self.is_connected = bool(connected)
        self.facts_changed.emit()

    @Slot(object)
    def _facts_failed(self, failure: object) -> None:
        # An unreadable setting must not keep the window from working; the log says why.
        log.warning("Could not read the sync settings: %s", getattr(failure, "details", ""))

    def apply_schedule(self, schedule: SyncSchedule) -> None:
        """Follow a schedule just saved (by the Settings area): no database access."""
        self._run_at_start = schedule.run_at_start
        if schedule.interval_minutes != self._interval:
            self._interval = schedule.interval_minutes
            self._apply_interval()
            self.schedule_changed.emit(self._interval)

    @property
    def run_at_start(self) -> bool:
        return self._run_at_start

    @property
    def interval(self) -> int:
        return self._interval

    def set_interval(self, minutes: int) -> None:
        """Sync every ``minutes`` (0: only on demand); the setting is written in a worker."""
        self._interval = minutes
        self._apply_interval()
        self.schedule_changed.emit(minutes)
        run_task("save the sync schedule", set_interval_minutes, self.context.engine, minutes)

    def _apply_interval(self) -> None:
        self._timer.stop()
        if self._interval > 0:
            self._timer.start(self._interval * 60_000)

    @Slot()
    def _scheduled(self) -> None:
        # Before Setup stored an Autotask API user a scheduled sync could only fail.
        if not self.running and self.connected():
            self.sync_now()

    def connected(self) -> bool:
        """Whether an Autotask API user is stored, as last read (at start and after Setup;
        reads nothing itself)."""
        return self.is_connected

    # ----------------------------------------------------------------- runs

    @property
    def running(self) -> bool:
        return self._task is not None

    def sync_now(self, full: bool = False) -> bool:
        """Start a sync unless one is running; True when started."""
        if self._task is not None:
            return False
        self.last_error = None
        self.last_progress = None
        self._task = run_task(
            "sync with Autotask", self._job, self.context.engine, self.context.credentials,
            full, on_success=self._succeeded, on_failure=self._failed,
            on_progress=self._progressed,
        )
        self.started.emit()
        return True

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def _progressed(self, progress: object) -> None:
        if not isinstance(progress, SyncProgress):
            return
        self.last_progress = progress
        for table, ids in progress.changed_ids.items():
            if ids:
                self.rows_changed.emit(table, ids)
        self.progress.emit(progress)

    def _succeeded(self, result: object) -> None:
        self._task = None
        if not isinstance(result, SyncResult):
            return
        self.last_result = result
        self.is_connected = True  # a sync ran, so an API user is stored
        if result.status is RunStatus.SUCCEEDED:
            self.last_synced_at = result.finished_at
        elif result.status is RunStatus.FAILED:
            self.last_error = result.error or "The sync did not finish."
        self.finished.emit(result)
        self.context.changes().announce_sync(result)

    def _failed(self, failure: WorkerFailure) -> None:
        self._task = None
        error = failure.exception
        message = getattr(error, "message", None) or (
            "The sync stopped because of an unexpected problem. Details are in the log.")
        log.warning("Sync failed: %s", failure.details)
        self.last_error = str(message)
        self.failed.emit(self.last_error)


def controller_for(context: AppContext) -> SyncController:
    """The window's one controller (created, and its schedule loaded, on first use)."""
    controller = context.services.sync
    if controller is None:
        controller = SyncController(context)
        context.services.sync = controller
        controller.load_schedule()
    return controller


@dataclass(frozen=True, slots=True)
class _SyncFacts:
    schedule: SyncSchedule
    last_success: datetime | None
    connected: bool


def _read_facts(engine: Engine) -> _SyncFacts:
    """Worker thread."""
    return _SyncFacts(load_sync_schedule(engine), last_success(engine), _read_connected(engine))


def _read_connected(engine: Engine) -> bool:
    """Worker thread: whether an Autotask API user is stored."""
    return load_autotask_connection(engine) is not None


def describe_when(moment: datetime | None) -> str:
    """"3 minutes ago", "at 9:41 AM", "on Mar 2, 2026, 9:41 AM" — how the status bar speaks
    of a time (dates and times as every screen writes them)."""
    if moment is None:
        return "never"
    delta = (utcnow() - moment).total_seconds()
    if delta < 60:
        return "just now"
    if delta < 3600:
        minutes = int(delta // 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''} ago"
    local = moment.astimezone()
    if delta < 86_400:
        return f"at {time_text(local)}"
    return f"on {datetime_text(local)}"
