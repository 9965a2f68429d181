"""QuickBooks in the status bar: silent while all is well; when the connection needs a
person (revoked, expired, its secret missing here) it says so and offers Reconnect…; when the
last read failed for another reason it says that, with the reason in the tooltip.

The state is read in a worker every minute, after every sync and after Setup closed. GUI
thread only.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer, Slot
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QWidget

from app.core.quickbooks.review import QuickBooksState, quickbooks_state
from app.gui.context import AppContext
from app.gui.widgets import StatusPill, Tone
from app.gui.workers import Task, run_task

__all__ = ["QuickBooksStatusWidget", "create_quickbooks_status"]

REFRESH_MS = 60_000


class QuickBooksStatusWidget(QWidget):
    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("quickbooksStatusBar")
        self.context = context
        self.state: QuickBooksState | None = None
        self._task: Task | None = None
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        self.pill = StatusPill("", Tone.DANGER)
        self.pill.setObjectName("quickbooksStatusPill")
        self.reconnect_button = QPushButton("Reconnect…")
        self.reconnect_button.setObjectName("quickbooksStatusReconnect")
        self.reconnect_button.setFlat(True)
        self.reconnect_button.setToolTip("Open Setup on the QuickBooks page to connect again")
        self.reconnect_button.clicked.connect(self._reconnect)
        layout.addWidget(self.pill)
        layout.addWidget(self.reconnect_button)
        self.setVisible(False)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.refresh)
        self._timer.start(REFRESH_MS)
        context.changes().syncFinished.connect(self.refresh)
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        if self._task is not None and self._task.is_running:
            return
        self._task = run_task("read the QuickBooks connection", quickbooks_state,
                              self.context.engine, self.context.credentials,
                              on_success=self.show_state, on_failure=lambda _f: None,
                              parent=self)

    def show_state(self, state: QuickBooksState) -> None:
        self.state = state
        if state.source is None:
            self.setVisible(False)
            return
        if state.problem:
            self.pill.set_status(f"{state.label} disconnected", Tone.DANGER)
            self.pill.setToolTip(state.problem + " Payments are kept and posted once "
                                 "QuickBooks is connected again.")
            self.reconnect_button.setVisible(True)
            self.setVisible(True)
        elif state.last_read_error:
            self.pill.set_status(f"{state.label} not read", Tone.WARNING)
            self.pill.setToolTip(state.last_read_error)
            self.reconnect_button.setVisible(False)
            self.setVisible(True)
        else:
            self.setVisible(False)

    @Slot()
    def _reconnect(self) -> None:
        from app.gui.quickbooks import open_setup_from

        open_setup_from(self)


def create_quickbooks_status(context: AppContext) -> QWidget:
    return QuickBooksStatusWidget(context)
