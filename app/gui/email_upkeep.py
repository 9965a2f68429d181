"""Email in the background while PayDesk is open: send due emails every minute, and queue the
overdue reminders that are due at most once an hour.

``EmailUpkeep`` runs the core's :func:`~app.core.email.upkeep.run_email_upkeep` on a worker —
never two rounds at once — starting with the window's payment upkeep (it is made beside it
by :func:`app.gui.payments.upkeep.payment_upkeep`). ``roundFinished(EmailUpkeepReport)`` lets
the email log refresh. Nothing happens until a mail server is set up: a round then costs one
small query. Runs on the GUI thread; the round itself runs on a worker.
"""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from app.core.email.upkeep import EmailUpkeepReport, run_email_upkeep
from app.gui.context import AppContext
from app.gui.workers import Task, WorkerFailure, run_task

log = logging.getLogger(__name__)

FIRST_ROUND_MS = 5_000
ROUND_INTERVAL_MS = 60_000
REMINDERS_EVERY_S = 3_600.0


class EmailUpkeep(QObject):
    """See the module docstring."""

    roundFinished = Signal(object)

    def __init__(self, context: AppContext, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.last_report: EmailUpkeepReport | None = None
        self._task: Task | None = None
        self._reminders_at = 0.0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.run_now)

    def start(self, first_round_ms: int = FIRST_ROUND_MS) -> None:
        self._timer.start(first_round_ms)

    def stop(self) -> None:
        self._timer.stop()

    @Slot()
    def run_now(self) -> None:
        if self._task is not None and self._task.is_running:
            return
        reminders = time.monotonic() - self._reminders_at >= REMINDERS_EVERY_S
        if reminders:
            self._reminders_at = time.monotonic()
        self._task = run_task("send the due emails", run_email_upkeep, self.context.engine,
                              self.context.credentials, reminders=reminders,
                              on_success=self._on_done, on_failure=self._on_failed)

    def _on_done(self, report: EmailUpkeepReport) -> None:
        self.last_report = report
        if report.sending.sent or report.sending.failed or report.sending.problem:
            log.info("%s", report.summary)
        self.roundFinished.emit(report)
        self._timer.start(ROUND_INTERVAL_MS)

    def _on_failed(self, failure: WorkerFailure) -> None:
        log.warning("Email upkeep failed: %s", failure.details)
        self._timer.start(ROUND_INTERVAL_MS)


def start_email_upkeep(context: AppContext, parent: QObject) -> EmailUpkeep:
    """The window's email upkeep, started; it lives as long as ``parent``."""
    upkeep = EmailUpkeep(context, parent)
    upkeep.start()
    return upkeep
