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

from PySide6.QtCore import QObject

from app.core.email.upkeep import EmailUpkeepReport, run_email_upkeep
from app.gui.context import AppContext
from app.gui.rounds import WorkerRounds
from app.gui.workers import Task, run_task

log = logging.getLogger(__name__)

FIRST_ROUND_MS = 5_000
ROUND_INTERVAL_MS = 60_000
REMINDERS_EVERY_S = 3_600.0


class EmailUpkeep(WorkerRounds):
    """See the module docstring. ``roundFinished(EmailUpkeepReport)`` after each round."""

    title = "Email upkeep"
    first_round_ms = FIRST_ROUND_MS
    round_interval_ms = ROUND_INTERVAL_MS

    def __init__(self, context: AppContext, parent: QObject | None = None) -> None:
        super().__init__(context, parent)
        self._reminders_at = 0.0

    def start_round(self) -> Task:
        reminders = time.monotonic() - self._reminders_at >= REMINDERS_EVERY_S
        if reminders:
            self._reminders_at = time.monotonic()
        return run_task("send the due emails", run_email_upkeep, self.context.engine,
                        self.context.credentials, reminders=reminders,
                        on_success=self.round_done, on_failure=self.round_failed)

    def after_round(self, report: object) -> None:
        assert isinstance(report, EmailUpkeepReport)
        if report.sending.sent or report.sending.failed or report.sending.problem:
            log.info("%s", report.summary)


def start_email_upkeep(context: AppContext, parent: QObject) -> EmailUpkeep:
    """The window's email upkeep, started; it lives as long as ``parent``."""
    upkeep = EmailUpkeep(context, parent)
    upkeep.start()
    return upkeep
