"""Settings › Connections: Autotask, the payment gateway and QuickBooks, each with its state,
Test (Setup's own connection test with the stored sign-in, in a worker) and Reconnect…
(Setup opened at that step; for QuickBooks, its connect flow on Setup's QuickBooks page).

The states are read in the background (database and keychain) when the section is shown
and again after Setup closes. Nothing here is stored; changing a connection is Setup's job.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget
from sqlalchemy import Engine

from app.core.credentials import CredentialStore
from app.core.setup.connection_checks import (
    CheckResult,
    ServiceState,
    connection_states,
    run_check,
)
from app.gui.context import AppContext
from app.gui.invoices.formatting import datetime_text
from app.gui.settings.page import SettingsPage
from app.gui.setup_opener import open_setup_then
from app.gui.theme import set_themed_style
from app.gui.widgets.pill import StatusPill, Tone
from app.gui.workers import WorkerFailure, run_task

__all__ = ["ConnectionsSection", "create_connections_section"]

SERVICES = (("autotask", "Autotask"), ("gateway", "Payment gateway"),
            ("quickbooks", "QuickBooks"))


def create_connections_section(context: AppContext) -> QWidget:
    return ConnectionsSection(context)


class ConnectionRow(QFrame):
    """One connection: name, state pill, sentence, Test and Reconnect…, the test's answer."""

    def __init__(self, section: ConnectionsSection, key: str, title: str) -> None:
        super().__init__()
        self.section = section
        self.key = key
        #: The last Test run here: None before one ran.
        self._last_test_ok: bool | None = None
        self.setObjectName(f"connection_{key}")
        self.name = QLabel(title)
        self.name.setStyleSheet("font-weight: 600; font-size: 11pt;")
        self.pill = StatusPill("Reading…", Tone.NEUTRAL)
        self.pill.setProperty("connection", key)  # its object name styles it as a pill
        self.summary = QLabel("")
        self.summary.setObjectName(f"connectionSummary_{key}")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result = QLabel("")
        self.result.setObjectName(f"connectionTest_{key}")
        self.result.setWordWrap(True)
        self.result.setVisible(False)
        self.test_button = QPushButton("Test")
        self.test_button.setObjectName(f"connectionTestButton_{key}")
        self.test_button.setToolTip("Sign in with what is stored, as Setup's Test Connection "
                                    "does. Nothing is changed.")
        self.test_button.setEnabled(False)
        self.test_button.clicked.connect(self.test)
        self.reconnect_button = QPushButton("Reconnect…")
        self.reconnect_button.setObjectName(f"connectionReconnect_{key}")
        self.reconnect_button.setToolTip("Open Setup at this step to sign in again or "
                                         "change the account.")
        self.reconnect_button.clicked.connect(self.reconnect)

        head = QHBoxLayout()
        head.addWidget(self.name)
        head.addWidget(self.pill, 0, Qt.AlignmentFlag.AlignVCenter)
        head.addStretch(1)
        head.addWidget(self.test_button)
        head.addWidget(self.reconnect_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 8)
        layout.setSpacing(6)
        layout.addLayout(head)
        layout.addWidget(self.summary)
        layout.addWidget(self.result)

    def show_state(self, state: ServiceState) -> None:
        named = self.key == "gateway" and state.name != "Payment gateway"
        self.name.setText(f"Payment gateway — {state.name}" if named else state.name)
        if state.connected and self._last_test_ok is False:
            # Stored, but the last Test here failed: say so rather than "Connected".
            self.pill.set_status("Not working", Tone.DANGER)
        else:
            self.pill.set_status("Connected" if state.connected else "Not connected",
                                 Tone.SUCCESS if state.connected else Tone.WARNING)
        tested = (f" Last tested {datetime_text(state.verified_at)}."
                  if state.verified_at is not None else "")
        self.summary.setText(state.summary + tested)
        self.test_button.setEnabled(state.testable)
        self.reconnect_button.setText("Reconnect…" if state.connected else "Connect…")

    @Slot()
    def test(self) -> None:
        self.test_button.setEnabled(False)
        self._show_result("Testing… this can take a few seconds.", None)
        run_task(f"test the {self.name.text()} connection", run_check, self.key,
                 self.section.context.engine, self.section.context.credentials,
                 on_success=self._tested, on_failure=self._failed, parent=self)

    def _tested(self, result: CheckResult) -> None:
        self.test_button.setEnabled(True)
        self._last_test_ok = result.ok
        self._show_result(("✓ " if result.ok else "✗ ") + result.message, result.ok)
        self.section.reload()  # a test may have found the zone, the account name …

    def _failed(self, failure: WorkerFailure) -> None:
        from app.gui.errors import describe_exception

        self.test_button.setEnabled(True)
        self._last_test_ok = False
        self._show_result(f"✗ {describe_exception(failure.exception)}", False)
        self.section.reload()

    def _show_result(self, text: str, ok: bool | None) -> None:
        self.result.setText(text)
        set_themed_style(self.result, "" if ok is None else
                         "color: #1D6B3B;" if ok else "color: #A02727;")
        self.result.setVisible(True)

    @Slot()
    def reconnect(self) -> None:
        # At that step; show what Setup changed once it closes.
        open_setup_then(self, self.section.reload, page_key=self.key)


class ConnectionsSection(SettingsPage):
    editable = False

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, "Connections",
                         "The services PayDesk signs in to. Test checks a connection with "
                         "what is stored; Reconnect opens Setup at that step.", parent)
        self.setObjectName("connectionsSection")
        self.rows: dict[str, ConnectionRow] = {}
        for index, (key, title) in enumerate(SERVICES):
            if index:
                line = QFrame()
                line.setFrameShape(QFrame.Shape.HLine)
                set_themed_style(line, "color: #E7EAEF;")
                self.body.addWidget(line)
            row = ConnectionRow(self, key, title)
            self.rows[key] = row
            self.body.addWidget(row)
        self.body.addWidget(self.note(
            "Passwords, secrets and tokens stay in this computer's keychain; each computer "
            "that uses this PayDesk database enters its own."))

    def load(self, engine: Engine, credentials: CredentialStore) -> tuple[ServiceState, ...]:
        return connection_states(engine, credentials)

    def show_value(self, value: tuple[ServiceState, ...]) -> None:
        for state in value:
            self.rows[state.key].show_state(state)

    def edited_value(self) -> object:
        return self._stored
