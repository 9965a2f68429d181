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
from app.core.sync.history import interval_minutes, last_success, set_interval_minutes
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
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._scheduled)
        self._interval = 0

    # ----------------------------------------------------------------- schedule

    def load_schedule(self) -> None:
        """Read the interval and the last successful sync from the database; when a sync
        is already overdue (PayDesk was closed for a while), start one shortly."""
        self._interval = interval_minutes(self.context.engine)
        self.last_synced_at = last_success(self.context.engine)
        self._apply_interval()
        if self._interval > 0 and self.last_synced_at is not None and (
            utcnow() - self.last_synced_at
        ).total_seconds() >= self._interval * 60:
            QTimer.singleShot(STARTUP_DELAY_MS, self._scheduled)

    @property
    def interval(self) -> int:
        return self._interval

    def set_interval(self, minutes: int) -> None:
        set_interval_minutes(self.context.engine, minutes)
        self._interval = minutes
        self._apply_interval()
        self.schedule_changed.emit(minutes)

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
        """Whether an Autotask API user is stored (a short settings read)."""
        return load_autotask_connection(self.context.engine) is not None

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
        try:
            controller.load_schedule()
        except Exception:  # an unreadable setting must not keep the window from opening
            log.exception("Could not read the sync schedule")
    return controller


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
