"""Payment upkeep while PayDesk is open: finish what a crash or a lost answer left open, and
post them to Autotask and the books, in the background.

``PaymentUpkeep`` runs the core's ``run_payment_maintenance`` (recover unfinished payments
by their keys, follow bank debits, deliver due postings with backoff) shortly after the
window opens and then every minute — never two rounds at once. Screens listen to
``roundFinished`` to refresh, and show the round's problems (a missing Autotask connection,
an unreachable gateway) in words a bookkeeper can act on.

One upkeep per window, kept in ``AppContext.services.upkeep``; the main window starts it when
it opens. After each round it announces the payments and postings it settled on the change
bus. Runs on the GUI thread; the round itself runs on a worker.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject
from shiboken6 import isValid

from app.core.payments.maintenance import MaintenanceReport, run_payment_maintenance
from app.gui.context import AppContext
from app.gui.email_upkeep import start_email_upkeep
from app.gui.rounds import WorkerRounds
from app.gui.workers import Task, run_task

log = logging.getLogger(__name__)

#: The first round waits for the window to settle; later rounds follow every minute.
FIRST_ROUND_MS = 3_000
ROUND_INTERVAL_MS = 60_000
#: AutoPay (app.core.autopay) runs in the first round and then every this many rounds.
AUTOPAY_EVERY_ROUNDS = 15


class PaymentUpkeep(WorkerRounds):
    """See the module docstring. ``roundFinished(MaintenanceReport)`` after each round."""

    title = "Payment upkeep"
    first_round_ms = FIRST_ROUND_MS
    round_interval_ms = ROUND_INTERVAL_MS

    def __init__(self, context: AppContext, parent: QObject | None = None) -> None:
        super().__init__(context, parent)
        self._rounds = 0

    def start_round(self) -> Task:
        autopay = self._rounds % AUTOPAY_EVERY_ROUNDS == 0
        self._rounds += 1
        return run_task(
            "check unfinished payments and post them",
            run_payment_maintenance,
            self.context.engine,
            self.context.credentials,
            autopay=autopay,
            on_success=self.round_done,
            on_failure=self.round_failed,
        )

    def after_round(self, report: object) -> None:
        assert isinstance(report, MaintenanceReport)
        if report.problems:
            log.info("Payment upkeep: %s", " ".join(report.problems))
        changes = self.context.changes()
        if report.recovery is not None and report.recovery.resolved:
            changes.announce_payments([o.payment_id for o in report.recovery.resolved])
        if report.autopay is not None and (report.autopay.charged or report.autopay.declined):
            changes.announce_payments(
                [line.payment_id for line in (*report.autopay.charged, *report.autopay.declined)
                 if line.payment_id is not None])
        if report.delivery is not None and (report.delivery.delivered
                                             or report.delivery.failed):
            changes.announce_postings([])


def existing_upkeep(context: AppContext) -> PaymentUpkeep | None:
    upkeep = context.services.upkeep
    return upkeep if upkeep is not None and isValid(upkeep) else None


def payment_upkeep(context: AppContext, parent: QObject | None = None) -> PaymentUpkeep:
    """The window's upkeep, created (and started) on first use; it lives as long as
    ``parent`` (a closed window's upkeep is replaced by the next window's)."""
    upkeep = existing_upkeep(context)
    if upkeep is not None:
        return upkeep
    upkeep = PaymentUpkeep(context, parent)
    context.services.upkeep = upkeep
    upkeep.start()
    start_email_upkeep(context, upkeep)  # receipts, pay links, reminders: app.gui.email_upkeep
    return upkeep
