"""The Settings area: how this PayDesk is set up, in words a bookkeeper can check.

It shows the facts that matter when something needs checking or support asks: the internal
currency (fixed once chosen), where the database is, where the logs are, how secrets are
kept, whether Autotask and the payment gateway are connected, and the version. Setup opens
from here too. Connection settings for Autotask and the gateway are changed in
Setup. The connection states are read in the background (database and keychain).
"""

from __future__ import annotations

from babel.numbers import get_currency_name
from PySide6.QtCore import Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QShowEvent
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app import __version__
from app.core.connections import load_autotask_connection
from app.core.gateways.connection import describe_missing_gateway, load_gateway_connection
from app.core.gateways.types import GatewayMode
from app.core.logs import LOG_FILENAME
from app.core.setup.steps import setup_status
from app.gui.context import AppContext
from app.gui.widgets.accessible import describe
from app.gui.workers import WorkerFailure, run_task


def create_settings_area(context: AppContext) -> QWidget:
    return SettingsArea(context)


def describe_connections(context: AppContext) -> tuple[str, str]:
    """Runs on a pool thread: (Autotask, payment gateway), each connected or what to do."""
    missing = dict(
        (requirement.key, problem)
        for requirement, problem in setup_status(context.engine, context.credentials).missing
    )
    connection = load_autotask_connection(context.engine)
    if "autotask" in missing or connection is None:
        autotask = f"{missing.get('autotask', '')} Run Setup… to connect Autotask.".strip()
    else:
        zone = f"; Autotask zone: {connection.zone_name}" if connection.zone_name else ""
        autotask = f"Connected as the API user {connection.username}{zone}."
    gateway = describe_missing_gateway(context.engine, context.credentials)
    if gateway is None:
        stored = load_gateway_connection(context.engine)
        assert stored is not None
        account = f", account {stored.account_name}" if stored.account_name else ""
        mode = (
            " With a test key: no real money moves."
            if stored.mode is GatewayMode.TEST
            else " With a live key: payments take real money."
            if stored.mode is GatewayMode.LIVE
            else ""
        )
        gateway = f"Connected to {stored.gateway_name}{account}.{mode}"
    return autotask, gateway


class SettingsArea(QWidget):
    """Read-only facts about this installation, with buttons for Setup and the log folder."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("areaPage")
        self.context = context

        title = QLabel("Settings")
        title.setObjectName("areaTitle")
        subtitle = QLabel("How this copy of PayDesk is set up.")
        subtitle.setObjectName("areaSubtitle")

        card = QFrame()
        card.setObjectName("card")
        self.form = QFormLayout(card)
        self.form.setContentsMargins(20, 16, 20, 16)
        self.form.setHorizontalSpacing(24)
        self.form.setVerticalSpacing(12)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        self.values: dict[str, QLabel] = {}
        for key, label in (
            ("currency", "Internal currency"),
            ("autotask", "Autotask"),
            ("gateway", "Payment gateway"),
            ("database", "Database"),
            ("profile", "Profile folder"),
            ("logs", "Log file"),
            ("secrets", "Passwords and keys"),
            ("version", "PayDesk version"),
        ):
            value = QLabel()
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setObjectName(f"setting_{key}")
            value.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
            name = QLabel(label)
            name.setObjectName("fieldLabel")
            name.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
            self.form.addRow(name, value)
            self.values[key] = value

        self.setup_button = QPushButton("Run Setup…")
        self.setup_button.setObjectName("primaryButton")
        self.setup_button.clicked.connect(self._open_setup)
        logs_button = QPushButton("Open Log Folder")
        logs_button.clicked.connect(self._open_logs)
        describe(self.setup_button, "Open Setup: the currency, Autotask, the payment gateway "
                 "and QuickBooks")
        describe(logs_button, "Show the folder with PayDesk's logs, for your IT support")
        buttons = QHBoxLayout()
        buttons.addWidget(self.setup_button)
        buttons.addWidget(logs_button)
        buttons.addStretch(1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(32, 28, 32, 28)
        layout.setSpacing(8)
        layout.addWidget(title)
        layout.addWidget(subtitle)
        layout.addSpacing(12)
        layout.addWidget(card)
        layout.addSpacing(12)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        context = self.context
        code = context.currency()
        if code is None:
            currency = "Not chosen yet. Setup asks for it; once chosen it never changes."
        else:
            name = get_currency_name(code, locale=context.locale)
            currency = f"{name} ({code}). Chosen at setup; it cannot be changed."
        self.values["currency"].setText(currency)
        self.values["database"].setText(context.profile.describe_database())
        self.values["profile"].setText(str(context.profile.folder))
        self.values["logs"].setText(str(context.profile.logs_folder / LOG_FILENAME))
        self.values["secrets"].setText(context.credentials.describe_backend())
        self.values["version"].setText(__version__)
        run_task(
            "read the connections",
            describe_connections,
            context,
            on_success=self._show_connections,
            on_failure=self._connections_failed,
            parent=self,
        )

    def _show_connections(self, texts: tuple[str, str]) -> None:
        self.values["autotask"].setText(texts[0])
        self.values["gateway"].setText(texts[1])

    def _connections_failed(self, failure: WorkerFailure) -> None:
        from app.gui.errors import describe_exception

        text = describe_exception(failure.exception)
        self.values["autotask"].setText(text)
        self.values["gateway"].setText(text)

    def showEvent(self, event: QShowEvent) -> None:
        self.refresh()
        super().showEvent(event)

    @Slot()
    def _open_setup(self) -> None:
        window = self.window()
        open_setup = getattr(window, "open_setup", None)
        if callable(open_setup):
            open_setup()
            closed = getattr(window, "setupClosed", None)
            if closed is not None:  # show what Setup changed once it closes
                closed.connect(self.refresh, Qt.ConnectionType.UniqueConnection)

    @Slot()
    def _open_logs(self) -> None:
        folder = self.context.profile.logs_folder
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
