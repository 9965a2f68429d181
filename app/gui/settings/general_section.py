"""Settings › General: the facts about this installation that support asks for — the internal
currency (fixed once chosen), where the database, profile and log file are, how passwords
are kept, and the version. Nothing here is edited; the currency can never change.
"""

from __future__ import annotations

from dataclasses import dataclass

from babel.numbers import get_currency_name
from PySide6.QtCore import Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QPushButton, QWidget
from sqlalchemy import Engine

from app import __version__
from app.core.config import CurrencyLock, internal_currency_lock
from app.core.credentials import CredentialStore
from app.core.logs import LOG_FILENAME
from app.gui.context import AppContext
from app.gui.settings.page import SettingsPage
from app.gui.setup_opener import open_setup_then
from app.gui.widgets.accessible import describe

__all__ = ["GeneralSection", "create_general_section"]

FACTS = (
    ("currency", "Internal currency"),
    ("database", "Database"),
    ("profile", "Profile folder"),
    ("logs", "Log file"),
    ("secrets", "Passwords and keys"),
    ("version", "PayDesk version"),
)


@dataclass(frozen=True)
class InstallationFacts:
    currency: CurrencyLock | None
    secrets: str


def create_general_section(context: AppContext) -> QWidget:
    return GeneralSection(context)


class GeneralSection(SettingsPage):
    editable = False

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, "About this installation",
                         "How this copy of PayDesk is set up: what support asks for when "
                         "something needs checking.", parent)
        self.setObjectName("generalSection")
        form = QFormLayout()
        form.setHorizontalSpacing(24)
        form.setVerticalSpacing(12)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        self.values: dict[str, QLabel] = {}
        for key, label in FACTS:
            value = QLabel("…")
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setObjectName(f"setting_{key}")
            name = QLabel(label)
            name.setObjectName("fieldLabel")
            form.addRow(name, value)
            self.values[key] = value
        self.body.addLayout(form)

        self.setup_button = QPushButton("Run Setup…")
        self.setup_button.setToolTip("Change the Autotask user, the payment gateway or "
                                     "QuickBooks step by step.")
        self.setup_button.clicked.connect(self._open_setup)
        describe(self.setup_button, self.setup_button.toolTip())
        logs_button = QPushButton("Open Log Folder")
        logs_button.setObjectName("openLogsButton")
        describe(logs_button, "Open the folder with PayDesk's log file, for support")
        logs_button.clicked.connect(self._open_logs)
        row = QHBoxLayout()
        row.addWidget(self.setup_button)
        row.addWidget(logs_button)
        row.addStretch(1)
        self.body.addLayout(row)

    def load(self, engine: Engine, credentials: CredentialStore) -> InstallationFacts:
        """Pool thread: the currency lock (database) and the keychain's description."""
        return InstallationFacts(internal_currency_lock(engine), credentials.describe_backend())

    def show_value(self, value: InstallationFacts) -> None:
        context = self.context
        lock = value.currency
        if lock is None:
            currency = "Not chosen yet. Setup asks for it; once chosen it never changes."
        else:
            name = get_currency_name(lock.code, locale=context.locale)
            currency = (f"{name} ({lock.code}). Chosen at setup by {lock.locked_by}; "
                        "it cannot be changed.")
        self.values["currency"].setText(currency)
        self.values["database"].setText(context.profile.describe_database())
        self.values["profile"].setText(str(context.profile.folder))
        self.values["logs"].setText(str(context.profile.logs_folder / LOG_FILENAME))
        self.values["secrets"].setText(value.secrets)
        self.values["version"].setText(__version__)

    def edited_value(self) -> object:
        return self._stored

    @Slot()
    def _open_setup(self) -> None:
        # Show what Setup changed once it closes.
        open_setup_then(self, self.reload)

    @Slot()
    def _open_logs(self) -> None:
        folder = self.context.profile.logs_folder
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
