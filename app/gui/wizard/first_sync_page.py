"""First sync: download everything from Autotask while the bookkeeper watches, or not.

The page asks the window's `SyncController` (``app.gui.sync``, shared with the Sync area and
the status bar) to start the sync as soon as it is shown, and draws each progress snapshot:
one row per kind of record (organizations, invoices, …) with its own bar and count, an
overall bar and the time left. Because the controller owns the run, Finish simply closes the
wizard: the sync goes on in the background and the status bar keeps showing it.
"""

from __future__ import annotations

import html
import logging
from functools import partial
from typing import Any

import shiboken6
from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QGridLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)
from sqlalchemy import Engine

from app.core.sync import current_holder
from app.core.sync.history import last_success
from app.core.sync.lock import LockHolder
from app.gui.context import AppContext
from app.gui.sync.controller import SyncController, controller_for
from app.gui.widgets.pill import Tone
from app.gui.wizard.background import CHECKING_TEXT
from app.gui.wizard.notice import Notice
from app.gui.workers import run_task

log = logging.getLogger(__name__)


def describe_eta(seconds: float | None) -> str:
    if seconds is None:
        return "working out how long it will take…"
    if seconds < 50:
        return "less than a minute left"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"about {minutes} minute{'s' if minutes != 1 else ''} left"
    hours = round(seconds / 3600, 1)
    return f"about {hours:g} hours left"


class _EntityRow:
    def __init__(self, grid: QGridLayout, row: int, entity: str, label: str,
                 parent: QWidget) -> None:
        self.name = QLabel(label, parent)
        self.bar = QProgressBar(parent)
        self.bar.setObjectName(f"syncProgress{entity}")
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(10)
        self.bar.setAccessibleName(f"{label} downloaded")
        self.count = QLabel(parent)
        self.count.setMinimumWidth(170)
        grid.addWidget(self.name, row, 0)
        grid.addWidget(self.bar, row, 1)
        grid.addWidget(self.count, row, 2)


class FirstSyncPage(QWizardPage):
    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.setObjectName("firstSyncPage")
        self.setTitle("First sync")
        self.setSubTitle(
            "PayDesk is downloading your organizations, contracts, tickets and invoices from "
            "Autotask. You can press Finish at any time: the download carries on in the "
            "background."
        )
        self.controller: SyncController | None = None
        self.result: Any = None
        self.failure: str | None = None
        self._rows: dict[str, _EntityRow] = {}
        self._detached = False
        self._checking = False
        #: Whether PayDesk synced before has been read (or nothing is being read).
        self.checked = True

        self.summary = QLabel("Starting…", self)
        self.summary.setObjectName("syncSummary")
        self.summary.setWordWrap(True)
        self.overall = QProgressBar(self)
        self.overall.setObjectName("syncOverallProgress")
        self.overall.setRange(0, 0)
        self.overall.setTextVisible(True)
        self.grid = QGridLayout()
        self.grid.setColumnStretch(1, 1)
        self.grid.setHorizontalSpacing(14)
        self.outcome = Notice("", Tone.SUCCESS, self)
        self.outcome.setObjectName("syncResult")
        self.outcome.hide()
        self.retry = QPushButton("Try Again", self)
        self.retry.setObjectName("syncRetryButton")
        self.retry.hide()
        self.retry.clicked.connect(self.start)

        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.overall)
        layout.addSpacing(10)
        layout.addLayout(self.grid)
        layout.addSpacing(10)
        layout.addWidget(self.outcome)
        layout.addWidget(self.retry)
        layout.addStretch(1)

    def initializePage(self) -> None:
        """Whether PayDesk synced before is read in a worker ("Checking…" meanwhile); then
        the sync starts."""
        if self.controller is None and self.result is None and not self._checking:
            self._checking = True
            self.checked = False
            self.summary.setText(CHECKING_TEXT)
            run_task("read the last sync", _has_synced_before, self.context.engine,
                     on_success=self._checked, on_failure=self._check_failed, parent=self)

    @Slot(object)
    def _checked(self, synced_before: object) -> None:
        self._checking = False
        self.checked = True
        if synced_before:  # Setup run again from Settings
            self.setTitle("Sync")
            self.setSubTitle("PayDesk is fetching what changed in Autotask since the last "
                             "sync. You can press Finish at any time: it carries on in the "
                             "background.")
        if not self._detached and self.controller is None:
            self.start()

    @Slot(object)
    def _check_failed(self, failure: object) -> None:
        log.warning("Could not read the last sync: %s", getattr(failure, "details", ""))
        self._checked(False)

    def detach(self) -> None:
        """Stop drawing the sync (the page is going away; the sync itself carries on)."""
        self._detached = True

    def is_running(self) -> bool:
        return self.controller is not None and self.controller.running

    @Slot()
    def start(self) -> None:
        """Start the sync through the shared controller (or follow the one it is running)."""
        controller = controller_for(self.context)
        if self.controller is None:
            self.controller = controller
            controller.progress.connect(self._controller_progress)
            controller.finished.connect(self._controller_finished)
            controller.failed.connect(self._controller_failed)
        self.result = None
        self.failure = None
        self.outcome.hide()
        self.retry.hide()
        self.overall.setRange(0, 0)
        self.summary.setText("Connecting to Autotask…")
        if not controller.sync_now(full=False) and controller.last_progress is not None:
            self.show_progress(controller.last_progress)  # already running: join it
        self._update_buttons()

    @Slot(object)
    def _controller_progress(self, progress: object) -> None:
        if not self._detached and shiboken6.isValid(self):
            self.show_progress(progress)

    @Slot(object)
    def _controller_finished(self, result: object) -> None:
        if not self._detached and shiboken6.isValid(self):
            self._finished(result)

    @Slot(str)
    def _controller_failed(self, message: str) -> None:
        if not self._detached and shiboken6.isValid(self):
            self._failed(message)

    def show_progress(self, progress: Any) -> None:
        """Draw one `SyncProgress` snapshot (GUI thread)."""
        for entity in progress.entities:
            row = self._rows.get(entity.entity)
            if row is None:
                row = _EntityRow(self.grid, len(self._rows), entity.entity, entity.label, self)
                self._rows[entity.entity] = row
            fetched = entity.counts.fetched
            phase = str(getattr(entity.phase, "value", entity.phase))
            if phase == "done":
                row.bar.setRange(0, 1)
                row.bar.setValue(1)
                row.count.setText(f"{fetched:,} — done")
            elif entity.total:
                row.bar.setRange(0, max(entity.total, 1))
                row.bar.setValue(min(fetched, entity.total))
                row.count.setText(f"{fetched:,} of {entity.total:,}")
            elif phase in ("waiting", "counting"):
                row.bar.setRange(0, 1)
                row.bar.setValue(0)
                row.count.setText("waiting" if phase == "waiting" else "counting…")
            else:
                row.bar.setRange(0, 0)
                row.count.setText(f"{fetched:,}")
            if phase == "failed":
                row.count.setText(f"{fetched:,} — stopped")
        fraction = progress.fraction
        if fraction is None:
            self.overall.setRange(0, 0)
        else:
            self.overall.setRange(0, 1000)
            self.overall.setValue(int(fraction * 1000))
        fetched_all = sum(e.counts.fetched for e in progress.entities)
        self.summary.setText(
            f"Copied {fetched_all:,} items — {describe_eta(progress.eta_seconds)}")

    def _finished(self, result: Any) -> None:
        self.result = result
        status = str(getattr(result.status, "value", result.status))
        counts = {e.entity: e.fetched for e in result.entities}
        organizations = counts.get("Companies", 0)
        invoices = counts.get("Invoices", 0)
        self.overall.setRange(0, 1)
        self.overall.setValue(1 if status == "succeeded" else 0)
        if status == "succeeded":
            self.setSubTitle("PayDesk has downloaded your Autotask data. From now on it "
                             "fetches only what changed, in the background.")
            self.summary.setText("Your Autotask data is on this computer.")
            quarantined = (
                f"<br>{result.quarantined:,} items were held back and are listed under "
                "Sync for you to check." if result.quarantined else ""
            )
            self.outcome.set_message(
                f"<b>Done.</b> {organizations:,} organizations and {invoices:,} invoices "
                f"downloaded in {_duration(result.seconds)}. Press Finish to see your "
                f"invoices.{quarantined}", Tone.SUCCESS)
        else:
            reason = html.escape(result.error or "The sync stopped before it was complete.")
            self.summary.setText("The first sync did not finish.")
            self.outcome.set_message(f"<b>The sync stopped.</b> {reason}", Tone.DANGER)
            self.retry.show()
        self.outcome.show()
        self._update_buttons()

    def _failed(self, message: str) -> None:
        self.failure = message
        self.overall.setRange(0, 1)
        self.overall.setValue(0)
        run_task("see who is syncing", current_holder, self.context.engine,
                 on_success=partial(self._show_failure, message),
                 on_failure=lambda _f: self._show_failure(message, None), parent=self)

    def _show_failure(self, message: str, holder: LockHolder | None) -> None:
        """Worker result: another seat syncing is no failure; anything else is."""
        if self._detached or not shiboken6.isValid(self) or self.failure != message:
            return
        if holder is not None:
            # Not a failure: another seat (or another PayDesk window) is syncing right now.
            self.summary.setText("Another sync is already running.")
            self.outcome.set_message(
                f"A sync is already running ({html.escape(holder.describe())}). You can "
                "press Finish: your data arrives as that sync goes on.", Tone.INFO)
            self.outcome.show()
            self._update_buttons()
            return
        self.summary.setText("The first sync could not run.")
        self.outcome.set_message(
            f"<b>The sync stopped.</b> {html.escape(message)} PayDesk will try again later; "
            "you can also press Try Again.", Tone.DANGER)
        self.outcome.show()
        self.retry.show()
        self._update_buttons()

    def _update_buttons(self) -> None:
        text = "Continue in Background" if self.is_running() else "&Finish"
        self.setButtonText(QWizard.WizardButton.FinishButton, text)
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return True


def _has_synced_before(engine: Engine) -> bool:
    """Worker thread."""
    return last_success(engine) is not None


def _duration(seconds: float) -> str:
    if seconds < 1.5:
        return "a second"
    if seconds < 90:
        return f"{round(seconds)} seconds"
    return f"{round(seconds / 60)} minutes"
