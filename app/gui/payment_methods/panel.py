"""An organization's saved payment methods: list, add on the gateway's page, default, remove.

``SavedMethodsPanel`` is a self-contained widget: give it the ``AppContext`` and an
organization id. It shows the local copy at once, then refreshes it from the gateway in the
background. "Add payment method…" opens the gateway's secure page in the default browser and
waits — visibly, and cancellably — until the client has completed it; PayDesk never sees the
card or account number.

Everything that touches the network or the database runs in workers (``run_task``) through
:class:`app.core.gateways.repository.SavedMethods`; results come back as frozen
``StoredMethod``s on the GUI thread.

The gateway is the one PayDesk keeps for every screen (``app.gui.payments.common``:
``current_gateway``, opened once in a worker by ``use_gateway``); the panel follows
``changes().gatewayChanged``, so a gateway connected in Setup while it is open is used at
once. A gateway handed to the panel (``gateway=``, for tests and tools) is used instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial

import shiboken6
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.gateways import (
    GatewayError,
    GatewayMode,
    HostedSession,
    HostedSessionState,
    HostedSessionStatus,
    MethodType,
    PaymentGateway,
)
from app.core.gateways.repository import SavedMethods, StoredMethod
from app.gui.context import AppContext
from app.gui.errors import describe_exception
from app.gui.invoices.formatting import time_text
from app.gui.payments.common import current_gateway, gateway_known, use_gateway
from app.gui.theme import readable_text, set_themed_style
from app.gui.widgets import PILL_TONE_ROLE, EmptyState, StatusPill, StatusPillDelegate, Tone
from app.gui.widgets.accessible import describe
from app.gui.widgets.pill import TONE_COLOURS
from app.gui.widgets.secure_page import SecurePageLink, open_in_browser, pages_are_shareable
from app.gui.workers import Task, WorkerFailure, run_task

__all__ = ["SavedMethodsPanel"]

_COLUMNS = ("Method", "Expires", "Name on it", "")


def _message_style(tone: Tone) -> str:
    background, foreground = TONE_COLOURS[tone]
    return (f"QLabel {{ background: {background}; color: {foreground}; border-radius: 6px; "
            "padding: 8px 10px; }")


class SavedMethodsPanel(QWidget):
    """Saved cards and bank accounts of one organization.

    ``methodsChanged`` fires (GUI thread) whenever the list changed: a method was added,
    removed or made the default. ``open_url`` opens the hosted page; tests replace it.
    """

    methodsChanged = Signal()

    def __init__(
        self,
        context: AppContext,
        organization_id: int | None = None,
        *,
        gateway: PaymentGateway | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("savedMethodsPanel")
        self.context = context
        self.organization_id = organization_id
        #: A gateway handed in by the caller; None: the one PayDesk keeps for every screen.
        self._own_gateway = gateway
        self._gateway = gateway
        #: Waiting for the shared gateway to be opened (``gatewayChanged``).
        self._awaiting_gateway = False
        self._saved: SavedMethods | None = None
        self._methods: list[StoredMethod] = []
        self._session: HostedSession | None = None
        self._poll_task: Task | None = None
        self._busy_tasks = 0
        self._loaded_for: int | None = None
        #: How often the hosted page is polled while waiting (milliseconds).
        self.poll_interval_ms = 2_000
        self.open_url: Callable[[str], bool] = open_in_browser

        title = QLabel("Payment methods", self)
        title.setObjectName("dialogHeading")
        self.mode_pill = StatusPill("", Tone.NEUTRAL, self)
        self.mode_pill.hide()
        header = QHBoxLayout()
        header.addWidget(title)
        header.addWidget(self.mode_pill)
        header.addStretch(1)

        self.table = QTableWidget(0, len(_COLUMNS), self)
        self.table.setTabKeyNavigation(False)  # Tab leaves the table (Tab order)
        self.table.setObjectName("savedMethodsTable")
        self.table.setHorizontalHeaderLabels(list(_COLUMNS))
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(False)
        header_view = self.table.horizontalHeader()
        header_view.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header_view.setHighlightSections(False)
        header_view.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2, 3):
            header_view.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setItemDelegateForColumn(3, StatusPillDelegate(self.table))
        self.table.itemSelectionChanged.connect(self._update_buttons)

        self.empty = EmptyState(
            "No saved payment methods",
            "Add a card or bank account on the payment gateway's secure page. "
            "PayDesk keeps only the brand, the last four digits and the expiry date.",
            None, self)
        self.no_gateway = EmptyState(
            "No payment gateway is connected",
            "Connect a payment gateway in Setup… to save cards and bank accounts for your "
            "clients.",
            None, self)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.no_gateway)

        self.add_button = QPushButton("Add payment method…", self)
        self.add_button.setObjectName("primaryButton")
        self.add_button.setAccessibleName("Add payment method")
        self.add_button.setToolTip("Open the gateway's secure page in your browser, where the "
                                   "client's card or bank account is entered")
        self.default_button = QPushButton("Make default", self)
        self.default_button.setObjectName("makeDefaultButton")
        self.remove_button = QPushButton("Remove…", self)
        self.remove_button.setObjectName("removeMethodButton")
        describe(self.default_button, "Use the selected method first when this organization "
                 "pays")
        describe(self.remove_button, "Remove the selected method from the gateway and PayDesk")
        describe(self.table, "The organization's saved cards and bank accounts",
                 "Saved payment methods")
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addStretch(1)
        buttons.addWidget(self.default_button)
        buttons.addWidget(self.remove_button)

        # The waiting state: shown while the client fills in the hosted page.
        self.waiting = QWidget(self)
        self.waiting.setObjectName("waitingForForm")
        self.waiting_label = QLabel(self.waiting)
        self.waiting_label.setObjectName("waitingText")
        self.waiting_label.setWordWrap(True)
        set_themed_style(self.waiting_label, _message_style(Tone.INFO))
        self.waiting_bar = QProgressBar(self.waiting)
        self.waiting_bar.setRange(0, 0)
        self.waiting_bar.setTextVisible(False)
        self.waiting_bar.setMaximumHeight(6)
        # The address with Copy and Open again, shared with the Order Summary.
        self.page_link = SecurePageLink(self.waiting, open_url=lambda url: self.open_url(url))
        self.cancel_wait_button = QPushButton("Stop waiting", self.waiting)
        self.cancel_wait_button.setObjectName("cancelWaitButton")
        describe(self.cancel_wait_button, "Stop waiting for the client to finish the secure "
                 "page")
        wait_buttons = QHBoxLayout()
        wait_buttons.addStretch(1)
        wait_buttons.addWidget(self.cancel_wait_button)
        wait_layout = QVBoxLayout(self.waiting)
        wait_layout.setContentsMargins(0, 0, 0, 0)
        wait_layout.addWidget(self.waiting_label)
        wait_layout.addWidget(self.waiting_bar)
        wait_layout.addWidget(self.page_link)
        wait_layout.addLayout(wait_buttons)
        self.waiting.hide()

        self.message = QLabel(self)
        self.message.setObjectName("methodsMessage")
        self.message.setWordWrap(True)
        self.message.hide()

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.message)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.waiting)
        layout.addLayout(buttons)

        self._poll_timer = QTimer(self)
        self._poll_timer.setSingleShot(True)
        self._poll_timer.timeout.connect(self._poll)

        self.add_button.clicked.connect(self.add_method)
        self.default_button.clicked.connect(self.make_selected_default)
        self.remove_button.clicked.connect(self.remove_selected)
        self.page_link.copied.connect(self._copied)
        self.cancel_wait_button.clicked.connect(self.stop_waiting)
        self._update_buttons()
        if organization_id is not None:
            self.set_organization(organization_id)

    # --- public -----------------------------------------------------------------------
    @property
    def methods(self) -> list[StoredMethod]:
        return list(self._methods)

    @property
    def is_waiting(self) -> bool:
        return self._session is not None

    def set_organization(self, organization_id: int) -> None:
        """Show another organization's methods (stops waiting for a form of the previous)."""
        if self._session is not None and organization_id != self.organization_id:
            self.stop_waiting()
        self.organization_id = organization_id
        self._methods = []
        self._show_methods([])
        self._load()

    # --- gateway ----------------------------------------------------------------------
    def _load(self) -> None:
        if self.organization_id is None:
            return
        organization_id = self.organization_id
        if self._own_gateway is not None:
            self._use_gateway(self._own_gateway, organization_id)
            return
        if not self._following_gateway:
            # Follow the shared gateway from now on: opened at start, or after Setup.
            self._following_gateway = True
            self.context.changes().gatewayChanged.connect(self._on_gateway_changed)
        gateway = current_gateway(self.context)
        if gateway is not None:
            self._use_gateway(gateway, organization_id)
        elif gateway_known(self.context):
            self._show_no_gateway()
        elif not self._awaiting_gateway:
            self._awaiting_gateway = True
            self._busy(True)
            use_gateway(self.context)  # opened in a worker; gatewayChanged follows

    _following_gateway = False

    @Slot()
    def _on_gateway_changed(self) -> None:
        """The shared gateway was opened (at start, after Setup), or found missing. GUI
        thread."""
        if not shiboken6.isValid(self):
            return
        if self._awaiting_gateway:
            self._awaiting_gateway = False
            self._busy(False)
        gateway = current_gateway(self.context)
        if gateway is None:
            if gateway_known(self.context):
                self._show_no_gateway()
            return
        if gateway is not self._gateway and self.organization_id is not None:
            self._use_gateway(gateway, self.organization_id)

    def _show_no_gateway(self) -> None:
        self._gateway = None
        self._saved = None
        self.mode_pill.hide()
        self.stack.setCurrentWidget(self.no_gateway)
        self._update_buttons()

    def _use_gateway(self, gateway: PaymentGateway, organization_id: int) -> None:
        self._gateway = gateway
        self._saved = SavedMethods(self.context.engine, gateway)
        live = gateway.mode is GatewayMode.LIVE
        self.mode_pill.set_status("Live" if live else "Test mode — no real money moves",
                                  Tone.SUCCESS if live else Tone.WARNING)
        self.mode_pill.show()
        if organization_id != self.organization_id:
            return
        saved = self._saved
        self._busy(True)
        run_task("show the saved payment methods", saved.local, organization_id,
                 on_success=partial(self._local_loaded, organization_id),
                 on_failure=self._failed, parent=self)

    def _local_loaded(self, organization_id: int, methods: list[StoredMethod]) -> None:
        self._busy(False)
        if organization_id != self.organization_id or self._saved is None:
            return
        self._show_methods(methods)
        self._busy(True)
        run_task("update the saved payment methods from the gateway", self._saved.refresh,
                 organization_id, on_success=partial(self._refreshed, organization_id),
                 on_failure=self._refresh_failed, parent=self)

    def _refreshed(self, organization_id: int, methods: list[StoredMethod]) -> None:
        self._busy(False)
        if organization_id == self.organization_id:
            self._show_methods(methods)

    def _refresh_failed(self, failure: WorkerFailure) -> None:
        """Offline or the gateway is down: keep showing the local copy, and say so."""
        self._busy(False)
        reason = describe_exception(failure.exception)
        self._say(f"Showing the methods saved on this computer. {reason}", Tone.WARNING)

    def _failed(self, failure: WorkerFailure) -> None:
        self._busy(False)
        self._say(describe_exception(failure.exception), Tone.DANGER)
        self._update_buttons()

    # --- drawing ----------------------------------------------------------------------
    def _show_methods(self, methods: Sequence[StoredMethod]) -> None:
        selected = self._selected()
        self._methods = list(methods)
        self.table.setRowCount(len(methods))
        today = datetime.now().astimezone().date()  # expiry is read in local time
        for row, stored in enumerate(methods):
            method = stored.method
            kind = "Card" if method.method_type is MethodType.CARD else "Bank account"
            summary = QTableWidgetItem(method.summary)
            summary.setToolTip(f"{kind}, saved at the payment gateway")
            expiry = QTableWidgetItem(method.expiry or "—")
            if method.is_expired(today.year, today.month):
                expiry.setText(f"Expired {method.expiry}")
                expiry.setForeground(readable_text(QColor(TONE_COLOURS[Tone.DANGER][1])))
                expiry.setToolTip("This card has expired; ask the client for a new one.")
            holder = QTableWidgetItem(method.holder_name or "")
            default = QTableWidgetItem("Default" if method.is_default else "")
            default.setData(PILL_TONE_ROLE, Tone.INFO.value)
            for column, item in enumerate((summary, expiry, holder, default)):
                self.table.setItem(row, column, item)
            if selected is not None and stored.token == selected.token:
                self.table.selectRow(row)
        if self._saved is not None:
            self.stack.setCurrentWidget(self.table if methods else self.empty)
        self._update_buttons()

    def _selected(self) -> StoredMethod | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows or rows[0].row() >= len(self._methods):
            return None
        return self._methods[rows[0].row()]

    def _busy(self, running: bool) -> None:
        self._busy_tasks = max(0, self._busy_tasks + (1 if running else -1))
        self._update_buttons()

    @Slot()
    def _update_buttons(self) -> None:
        selected = self._selected()
        ready = self._saved is not None and self.organization_id is not None
        idle = self._busy_tasks == 0
        self.add_button.setEnabled(ready and self._session is None)
        self.default_button.setEnabled(ready and idle and selected is not None
                                       and not selected.is_default)
        self.remove_button.setEnabled(ready and idle and selected is not None)

    def _say(self, text: str, tone: Tone) -> None:
        self.message.setText(text)
        set_themed_style(self.message, _message_style(tone))
        self.message.setVisible(bool(text))

    # --- default and remove -------------------------------------------------------------
    @Slot()
    def make_selected_default(self) -> None:
        selected = self._selected()
        if selected is None or self._saved is None or self.organization_id is None:
            return
        self._busy(True)
        run_task("make the payment method the default", self._saved.set_default,
                 self.organization_id, selected,
                 on_success=partial(self._changed, f"{selected.summary} is now the default."),
                 on_failure=self._failed, parent=self)

    @Slot()
    def remove_selected(self) -> None:
        selected = self._selected()
        if selected is None or self._saved is None or self.organization_id is None:
            return
        answer = QMessageBox.question(
            self, "Remove payment method",
            f"Remove {selected.summary}? It is removed at the payment gateway too and can no "
            "longer be charged. Payments already made with it are not affected.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel)
        if answer != QMessageBox.StandardButton.Yes:
            return
        self._busy(True)
        run_task("remove the payment method", self._saved.remove, self.organization_id,
                 selected,
                 on_success=partial(self._changed, f"{selected.summary} was removed."),
                 on_failure=self._failed, parent=self)

    def _changed(self, text: str, methods: list[StoredMethod]) -> None:
        self._busy(False)
        self._show_methods(methods)
        self._say(text, Tone.SUCCESS)
        self.methodsChanged.emit()

    # --- adding on the hosted page --------------------------------------------------------
    @Slot()
    def add_method(self) -> None:
        if self._saved is None or self.organization_id is None or self._session is not None:
            return
        self._say("", Tone.NEUTRAL)
        self.add_button.setEnabled(False)
        self._busy(True)
        run_task("open the secure payment form", self._saved.start_adding,
                 self.organization_id,
                 on_success=partial(self._form_opened, self.organization_id),
                 on_failure=self._failed, parent=self)

    def _form_opened(self, organization_id: int, session: HostedSession) -> None:
        self._busy(False)
        if organization_id != self.organization_id:
            return
        self._session = session
        self.waiting.show()
        self._update_buttons()
        self.waiting_label.setText(
            "<b>Waiting for the form to be completed…</b><br>The card or bank account is "
            "entered on the gateway's secure page; this list updates by itself when it is done.")
        self.page_link.open(session.url, shareable=pages_are_shareable(self._gateway))
        self._poll_timer.start(self.poll_interval_ms)

    @Slot()
    def _copied(self) -> None:
        if self.page_link.shareable:
            self._say("The link to the secure page is copied. Send it to the client; this "
                      "list updates by itself when they have finished.", Tone.INFO)
        else:
            self._say("The address of the secure page is copied. Open it in a browser on this "
                      "computer (this gateway's page opens only from here); this list updates "
                      "by itself when the form is done.", Tone.INFO)

    @Slot()
    def _poll(self) -> None:
        if self._session is None or self._saved is None or self.organization_id is None:
            return
        session = self._session
        self._poll_task = run_task(
            "check the secure payment form", self._saved.check_adding, self.organization_id,
            session.session_id,
            on_success=partial(self._polled, session.session_id),
            on_failure=partial(self._poll_failed, session.session_id), parent=self)

    def _polled(self, session_id: str, status: HostedSessionStatus) -> None:
        self._poll_task = None
        if self._session is None or self._session.session_id != session_id:
            return  # the wait was stopped meanwhile
        if status.state is HostedSessionState.OPEN:
            self._poll_timer.start(self.poll_interval_ms)
            return
        self._finish_wait(status)

    def _poll_failed(self, session_id: str, failure: WorkerFailure) -> None:
        """A hiccup while checking is not the end of the wait: say so and keep checking."""
        self._poll_task = None
        if self._session is None or self._session.session_id != session_id:
            return
        exc = failure.exception
        if isinstance(exc, GatewayError) and exc.retryable:
            self._say(f"{exc.message} PayDesk keeps checking.", Tone.WARNING)
            self._poll_timer.start(self.poll_interval_ms * 2)
            return
        self._end_wait()
        self._failed(failure)

    @Slot()
    def stop_waiting(self) -> None:
        """Stop waiting: the page is closed at the gateway unless the client just finished."""
        if self._session is None or self._saved is None or self.organization_id is None:
            return
        session = self._session
        self._poll_timer.stop()
        self.cancel_wait_button.setEnabled(False)
        run_task("close the secure payment form", self._saved.cancel_adding,
                 self.organization_id, session.session_id,
                 on_success=self._finish_wait, on_failure=self._stop_failed, parent=self)

    def _stop_failed(self, failure: WorkerFailure) -> None:
        self._end_wait()
        self._say("Stopped waiting, but the form could not be closed at the gateway: "
                  f"{describe_exception(failure.exception)}", Tone.WARNING)

    def _finish_wait(self, status: HostedSessionStatus) -> None:
        self._end_wait()
        if status.state is HostedSessionState.COMPLETE:
            added = status.method.summary if status.method is not None else "The method"
            self._say(f"{added} was added.", Tone.SUCCESS)
            if self._saved is not None and self.organization_id is not None:
                self._busy(True)
                run_task("show the saved payment methods", self._saved.local,
                         self.organization_id,
                         on_success=partial(self._added, self.organization_id),
                         on_failure=self._failed, parent=self)
        elif status.state is HostedSessionState.OPEN:
            # The gateway cannot withdraw its form (Authorize.Net's stays usable until its
            # token expires): say so rather than "nothing was saved".
            until = (f" until {time_text(status.expires_at)}"
                     if status.expires_at is not None else " for a few minutes")
            self._say(f"Stopped waiting. The gateway keeps the form usable{until}: a card or "
                      "bank account entered on it by then is saved and shows here the next "
                      "time this list is opened.", Tone.NEUTRAL)
        else:
            self._say("Stopped waiting. Nothing was saved; the form can no longer be used.",
                      Tone.NEUTRAL)

    def _added(self, organization_id: int, methods: list[StoredMethod]) -> None:
        self._busy(False)
        if organization_id == self.organization_id:
            self._show_methods(methods)
            self.methodsChanged.emit()

    def _end_wait(self) -> None:
        self._session = None
        self._poll_timer.stop()
        self.cancel_wait_button.setEnabled(True)
        self.waiting.hide()
        self._update_buttons()
