"""The compact sync status in the status bar: idle / syncing (entity, progress) / last synced
at / failed (why), with Sync now and Cancel; before Setup has stored an Autotask API user it
says so instead of offering a Sync now that can only fail. GUI thread only.

Screens that show synced rows follow ``SyncController.rows_changed`` themselves (see
``app.gui.invoices.sync_follow``).
"""

from __future__ import annotations

from PySide6.QtCore import QTimer, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QWidget,
)

from app.core.sync import RunStatus, SyncProgress, SyncResult
from app.gui.context import AppContext
from app.gui.sync.controller import SyncController, controller_for, describe_when
from app.gui.widgets.accessible import describe


class SyncStatusWidget(QWidget):
    def __init__(self, controller: SyncController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setFixedWidth(110)
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(10)
        self.sync_button = QPushButton("Sync now")
        self.cancel_button = QPushButton("Cancel")
        for button in (self.sync_button, self.cancel_button):
            button.setFlat(True)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.sync_button)
        layout.addWidget(self.cancel_button)
        self.sync_button.clicked.connect(self._sync_now)
        describe(self.sync_button, "Copy what changed in Autotask now", "Sync now")
        describe(self.cancel_button, "Stop the sync that is running", "Cancel the sync")
        self.cancel_button.clicked.connect(self._cancel)
        controller.started.connect(self._refresh)
        controller.progress.connect(self._on_progress)
        controller.finished.connect(self._on_finished)
        controller.failed.connect(self._on_failed)
        controller.facts_changed.connect(self._refresh)
        # "3 minutes ago" must keep being true.
        self._clock = QTimer(self)
        self._clock.timeout.connect(self._refresh)
        self._clock.start(30_000)
        self._refresh()

    def text(self) -> str:
        return self.label.text()

    @Slot()
    def refresh(self) -> None:
        """Show the current state again (the main window calls it after Setup closed): the
        connection is read again in a worker, and the widget follows ``facts_changed``."""
        self.controller.refresh_connection()
        self._refresh()

    def _connected(self) -> bool:
        """Whether an Autotask API user is stored, as the controller last read it."""
        return self.controller.connected()

    @Slot()
    def _sync_now(self) -> None:
        self.controller.sync_now()

    @Slot()
    def _cancel(self) -> None:
        self.controller.cancel()
        self.label.setText("Cancelling the sync…")

    @Slot(object)
    def _on_progress(self, _progress: SyncProgress) -> None:
        self._refresh()

    @Slot(object)
    def _on_finished(self, _result: SyncResult) -> None:
        self._refresh()

    @Slot(str)
    def _on_failed(self, _message: str) -> None:
        self._refresh()

    @Slot()
    def _refresh(self) -> None:
        c = self.controller
        running = c.running
        self.sync_button.setVisible(not running)
        self.cancel_button.setVisible(running)
        self.bar.setVisible(running)
        self.label.setToolTip("")
        if running:
            progress = c.last_progress
            current = progress.current if progress else None
            if current is None:
                self.label.setText("Syncing with Autotask…")
            elif current.total:
                self.label.setText(f"Syncing {current.label.lower()}: "
                                   f"{current.counts.fetched:,} of {current.total:,}")
            else:
                self.label.setText(f"Syncing {current.label.lower()}: "
                                   f"{current.counts.fetched:,}")
            fraction = progress.fraction if progress else None
            if fraction is None:
                self.bar.setRange(0, 0)
            else:
                self.bar.setRange(0, 1000)
                self.bar.setValue(int(fraction * 1000))
            return
        if not self._connected():
            self.sync_button.hide()
            self.label.setText("Not connected to Autotask")
            self.label.setToolTip("Run Setup… to connect Autotask; PayDesk then copies your "
                                  "invoices and organizations.")
            return
        if c.last_error:
            self.label.setText("Sync failed — see Sync for details")
            self.label.setToolTip(c.last_error)
            return
        result = c.last_result
        if result is not None and result.status is RunStatus.CANCELLED:
            self.label.setText("Sync cancelled; it carries on from there next time")
            return
        if c.last_synced_at is None:
            self.label.setText("Not synced yet")
        else:
            self.label.setText(f"Synced {describe_when(c.last_synced_at)}")


def create_sync_status(context: AppContext) -> QWidget:
    return SyncStatusWidget(controller_for(context))
