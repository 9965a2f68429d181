"""The QuickBooks area: Needs matching and Reconciliation as two tabs.

Shown with its tabs only when QuickBooks is connected; otherwise an empty state says what the
area is for and offers Run Setup…. A connection that needs a person (revoked, expired, a
secret missing from this computer's keychain) is said above the tabs with Reconnect…: the
lists still show what PayDesk last read.

The connection's state is read in a worker (``quickbooks_state``); everything else here runs
on the GUI thread.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.quickbooks.books import SOURCE_ONLINE
from app.core.quickbooks.review import QuickBooksState, quickbooks_state
from app.gui.context import AppContext
from app.gui.setup_opener import open_setup_then
from app.gui.theme import set_themed_style
from app.gui.widgets import EmptyState, Tone
from app.gui.widgets.accessible import describe
from app.gui.widgets.pill import TONE_COLOURS
from app.gui.workers import run_task

__all__ = ["QuickBooksArea", "create_quickbooks_area", "open_setup_from"]


def open_setup_from(widget: QWidget, page_key: str = "quickbooks") -> None:
    """Open Setup on its QuickBooks page (Reconnect, Connect QuickBooks) when the steps
    before it are done, else from the start (:func:`app.gui.setup_opener.open_setup_then`)."""
    open_setup_then(widget, page_key=page_key)


class QuickBooksArea(QWidget):
    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("quickbooksArea")
        self.context = context
        self.state: QuickBooksState | None = None
        self.matching: QWidget | None = None
        self.reconciliation: QWidget | None = None
        self.deposits: QWidget | None = None
        self._watching_setup = False
        self.service_problem: str | None = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(8)
        self.title = QLabel("QuickBooks")
        self.title.setObjectName("areaTitle")
        self.subtitle = QLabel()
        self.subtitle.setObjectName("areaSubtitle")
        layout.addWidget(self.title)
        layout.addWidget(self.subtitle)

        self.problem = QFrame()
        self.problem.setObjectName("quickbooksProblem")
        background, foreground = TONE_COLOURS[Tone.DANGER]
        set_themed_style(self.problem,
            f"QFrame#quickbooksProblem {{ background: {background}; border-radius: 6px; }} "
            f"QFrame#quickbooksProblem QLabel {{ color: {foreground}; }}")
        self.problem_text = QLabel()
        self.problem_text.setWordWrap(True)
        self.reconnect_button = QPushButton("Reconnect…")
        self.reconnect_button.setObjectName("quickbooksReconnectButton")
        self.reconnect_button.clicked.connect(self._open_setup)
        describe(self.reconnect_button, "Sign in to QuickBooks again in Setup")
        row = QHBoxLayout(self.problem)
        row.setContentsMargins(12, 8, 12, 8)
        row.addWidget(self.problem_text, 1)
        row.addWidget(self.reconnect_button)
        self.problem.hide()
        layout.addWidget(self.problem)

        self.empty = EmptyState(
            "QuickBooks is not connected",
            "Connect QuickBooks and PayDesk pairs every Autotask invoice with its QuickBooks "
            "invoice, records each payment there too, and shows here where Autotask, PayDesk "
            "and QuickBooks disagree. Run Setup and choose QuickBooks Online or QuickBooks "
            "Desktop.",
            "Run Setup…")
        self.empty.setObjectName("quickbooksNotConnected")
        self.empty.actionTriggered.connect(self._open_setup)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("quickbooksTabs")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.tabs)
        layout.addWidget(self.stack, 1)
        self._show_state(None)
        self.refresh()
        # QuickBooks is read (and matched) at the end of every sync.
        from app.gui.sync.controller import controller_for

        controller_for(context).finished.connect(self._after_sync)

    @Slot(object)
    def _after_sync(self, _result: object) -> None:
        self.refresh()
        for view in (self.matching, self.reconciliation):
            reload = getattr(view, "reload", None)
            if callable(reload) and view is not None and view.isVisible():
                reload()

    @Slot()
    def refresh(self) -> None:
        """Read the connection again (after Setup closed, or when shown)."""
        run_task("read the QuickBooks connection", quickbooks_state, self.context.engine,
                 self.context.credentials, on_success=self._show_state, parent=self)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._watching_setup:
            window = self.window()
            closed = getattr(window, "setupClosed", None)
            if closed is not None:
                closed.connect(self.refresh)
                self._watching_setup = True

    @Slot()
    def _open_setup(self) -> None:
        open_setup_from(self)

    def _show_state(self, state: QuickBooksState | None) -> None:
        self.state = state
        if state is None or state.source is None:
            self.subtitle.setText("Keep QuickBooks in step with Autotask and PayDesk.")
            self.problem.hide()
            self.stack.setCurrentWidget(self.empty)
            return
        company = f" — {state.company_name}" if state.company_name else ""
        if state.problem:
            self.subtitle.setText(f"{state.label}{company}: not connected right now.")
        else:
            self.subtitle.setText(f"Connected to {state.label}{company}.")
        if state.problem:
            self.reconnect_button.show()
            self.problem_text.setText(
                f"<b>{html.escape(state.problem)}</b><br>Payments are kept and posted to "
                "QuickBooks once it is connected again. The lists below show what PayDesk "
                "last read.")
            self.problem.show()
        elif not self.service_problem:
            self.problem.hide()
        if self.matching is None:
            from app.gui.quickbooks.matching import NeedsMatchingView
            from app.gui.quickbooks.reconciliation import ReconciliationView

            source = state.source
            matching = NeedsMatchingView(self.context, source)
            reconciliation = ReconciliationView(self.context, source)
            matching.matchChanged.connect(reconciliation.reload)
            reconciliation.matchingRequested.connect(self.show_matching)
            self.tabs.addTab(matching, "Needs matching")
            self.tabs.addTab(reconciliation, "Reconciliation")
            self.matching, self.reconciliation = matching, reconciliation
            if source == SOURCE_ONLINE:
                from app.gui.quickbooks.deposits import DepositsView

                self.deposits = DepositsView(self.context)
                self.tabs.addTab(self.deposits, "Deposits")
        self.stack.setCurrentWidget(self.tabs)

    def show_service_problem(self, problem: str | None) -> None:
        """Why the window does not answer the Web Connector (None: it does, or no Desktop)."""
        self.service_problem = problem
        if problem:
            self.problem_text.setText(f"<b>{html.escape(problem)}</b>")
            self.reconnect_button.hide()
            self.problem.show()

    @Slot(str)
    def show_matching(self, invoice_number: str = "") -> None:
        """Open the Needs matching tab, searching for ``invoice_number``."""
        if self.matching is None:
            return
        self.tabs.setCurrentWidget(self.matching)
        search = getattr(self.matching, "search", None)
        if search is not None and invoice_number:
            search.setText(invoice_number)


def create_quickbooks_area(context: AppContext) -> QWidget:
    from app.gui.quickbooks.desktop_service import ensure_service

    area = QuickBooksArea(context)
    # QuickBooks Desktop's Web Connector calls PayDesk while the window is open.
    run_task("start the QuickBooks Web Connector service", ensure_service, context,
             on_success=area.show_service_problem, parent=area)
    return area
