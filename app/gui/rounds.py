"""Background rounds while the window is open: one job on a worker, again and again.

:class:`WorkerRounds` is what the payment upkeep and the email upkeep share: a first round
shortly after the window opens, then one every interval — never two at once — with
``roundFinished(report)`` after each. A subclass says how to start a round
(:meth:`~WorkerRounds.start_round`) and what to do with its report
(:meth:`~WorkerRounds.after_round`). A failed round is logged and the next one tries again.
Runs on the GUI thread; each round runs on a worker.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from app.gui.context import AppContext
from app.gui.workers import Task, WorkerFailure

__all__ = ["WorkerRounds"]

log = logging.getLogger(__name__)


class WorkerRounds(QObject):
    """See the module docstring."""

    roundFinished = Signal(object)

    #: What the log calls these rounds when one fails ("Payment upkeep").
    title = "Background work"
    first_round_ms = 3_000
    round_interval_ms = 60_000

    def __init__(self, context: AppContext, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.last_report: object | None = None
        self._task: Task | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.run_now)

    def start(self, first_round_ms: int | None = None) -> None:
        self._timer.start(self.first_round_ms if first_round_ms is None else first_round_ms)

    def stop(self) -> None:
        self._timer.stop()

    @property
    def running(self) -> bool:
        return self._task is not None and self._task.is_running

    @Slot()
    def run_now(self) -> None:
        """Start a round now (unless one is running)."""
        if self.running:
            return
        self._task = self.start_round()

    def start_round(self) -> Task:
        """Start one round on a worker, reporting to :meth:`round_done` and
        :meth:`round_failed` (``run_task(..., on_success=self.round_done,
        on_failure=self.round_failed)``)."""
        raise NotImplementedError

    def after_round(self, report: object) -> None:
        """What the window does with a round's report (log it, announce changes)."""

    def round_done(self, report: object) -> None:
        self.last_report = report
        self.after_round(report)
        self.roundFinished.emit(report)
        self._timer.start(self.round_interval_ms)

    def round_failed(self, failure: WorkerFailure) -> None:
        # The next round tries again; the details are in the log.
        log.warning("%s failed: %s", self.title, failure.details)
        self._timer.start(self.round_interval_ms)
