"""The QuickBooks step: QuickBooks Online, QuickBooks Desktop, or not now.

**Online.** The page explains how the MSP registers its own Intuit app and which redirect
address to enter, takes the app's Client ID and secret, and Connect runs the core's consent
flow (:mod:`app.core.quickbooks.online.setup`) in workers: open the flow (the loopback
listener, Intuit's discovery document), open the consent page in the browser, wait for the
answer on the listener — or take the address the person pastes — then trade the code for
tokens and run Test Connection (company, home currency; another currency is refused). Only
then does the core store anything. The page's state is one of ``ConnectState``; editing a
field while connected starts over.

**Desktop.** The steps for the QuickBooks Web Connector, the address it calls, Save .qwc…
(the core writes the file and makes the password, kept in the keychain) and a live status
read every two seconds (waiting for the Web Connector / connected to company file … / last
exchange at …).

**Not now.** Nothing is stored; Setup can be opened again later.

No network or database work runs on the GUI thread; results come back to slots.
Plugged into the wizard through `app.gui.wizard.plugins` (``PAGE`` below).
"""

from __future__ import annotations

import html
import logging
import threading
from dataclasses import dataclass
from enum import Enum
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from PySide6.QtCore import Qt, QTimer, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from app.core.credentials import CredentialStore, SecretName
from app.core.quickbooks.online.connection import QuickBooksOnlineConnection, load_connection
from app.core.quickbooks.online.errors import QuickBooksCurrencyError, QuickBooksError
from app.core.quickbooks.online.oauth import AuthorizationAnswer, ConsentFlow
from app.core.quickbooks.online.setup import CompanyReport, connect_company
from app.gui.context import AppContext
from app.gui.invoices.formatting import datetime_text
from app.gui.theme import set_themed_style
from app.gui.widgets.pill import Tone
from app.gui.wizard.notice import Notice
from app.gui.wizard.plugins import WizardPagePlugin
from app.gui.workers import Task, WorkerFailure, run_task

__all__ = ["PAGE", "ConnectState", "QuickBooksPage"]

log = logging.getLogger(__name__)

#: The loopback port suggested for Intuit's development keys (registered on the Intuit app).
DEVELOPMENT_PORT = 8725
DEFAULT_QWC_URL = "http://localhost:8765/qbwc"
#: How long Connect waits for Intuit's answer before asking for the pasted address only.
WAIT_SECONDS = 600.0
STATUS_POLL_MS = 2_000

KIND_ONLINE = "online"
KIND_DESKTOP = "desktop"
KIND_LATER = "later"

ENV_PRODUCTION = "production"
ENV_SANDBOX = "sandbox"


class ConnectState(Enum):
    IDLE = "idle"
    STARTING = "starting"  # opening the flow (listener, discovery document)
    WAITING = "waiting"  # the consent page is open; waiting for the answer or a paste
    FINISHING = "finishing"  # tokens and Test Connection
    CONNECTED = "connected"
    FAILED = "failed"


@dataclass(frozen=True)
class _FlowRequest:
    client_id: str
    client_secret: str
    environment: str
    api_base: str
    redirect_uri: str
    port: int
    #: Nothing typed: use the client secret kept in the keychain (read in the worker).
    stored_secret: bool = False


def _secret_of(request: _FlowRequest, credentials: CredentialStore) -> str:
    """Runs on a pool thread: the secret typed, or the one kept in the keychain."""
    if request.client_secret or not request.stored_secret:
        return request.client_secret
    return credentials.get(SecretName.QUICKBOOKS_CLIENT_SECRET) or ""


def _open_flow(request: _FlowRequest, credentials: CredentialStore) -> ConsentFlow:
    """Runs on a pool thread: the loopback listener and the library's client."""
    return ConsentFlow(request.client_id, _secret_of(request, credentials),
                       request.environment, redirect_uri=request.redirect_uri,
                       port=request.port)


def _wait_for_answer(flow: ConsentFlow, *, cancel: threading.Event) -> AuthorizationAnswer | None:
    """Runs on a pool thread: Intuit's answer on the listener, or None (cancelled, timed out)."""
    return flow.wait(WAIT_SECONDS, cancel)


def _finish(context: AppContext, flow: ConsentFlow, answer: AuthorizationAnswer,
            request: _FlowRequest) -> CompanyReport:
    """Runs on a pool thread: tokens, Test Connection, then the core stores the connection."""
    try:
        return connect_company(context.engine, context.credentials, flow, answer,
                               client_id=request.client_id,
                               client_secret=_secret_of(request, context.credentials),
                               environment=request.environment, api_base=request.api_base)
    finally:
        flow.close()


def _load_stored(context: AppContext) -> tuple[QuickBooksOnlineConnection | None, bool, Any]:
    """Runs on a pool thread: the stored Online connection, whether its secret is here, and
    the Desktop connection with its Web Connector password (or None)."""
    online = load_connection(context.engine)
    has_secret = context.credentials.has(SecretName.QUICKBOOKS_CLIENT_SECRET)
    desktop = None
    try:
        from app.core.quickbooks.desktop.qwc import load_connection as load_desktop

        found = load_desktop(context.engine)
        if found is not None:
            desktop = (found, context.credentials.get(SecretName.QUICKBOOKS_DESKTOP_PASSWORD))
    except ModuleNotFoundError:
        desktop = None
    return online, has_secret, desktop


def _save_qwc(context: AppContext, path: Path, app_url: str) -> tuple[Path, str, str | None]:
    """Runs on a pool thread: store the Web Connector connection, write the file, make the
    password, and start the service when it is on this computer."""
    from app.core.quickbooks.desktop.qwc import connect, ensure_password, write_qwc
    from app.gui.quickbooks.desktop_service import ensure_service

    connection = connect(context.engine, app_url=app_url)
    password = ensure_password(context.credentials)
    problem = ensure_service(context)
    server = context.services.quickbooks_desktop
    if problem is None and server is not None and server.url != connection.app_url:
        # Port 0 in the address means "any free port": the file names the one in use.
        connection = connect(context.engine, app_url=server.url)
    written = write_qwc(path, connection)
    return written, password, problem


def _read_desktop_status(context: AppContext) -> Any:
    """Runs on a pool thread."""
    from app.core.quickbooks.desktop.service import read_status

    return read_status(context.engine)


def desktop_available() -> bool:
    """Whether this build has QuickBooks Desktop (the Web Connector service and .qwc)."""
    import importlib.util

    try:
        return importlib.util.find_spec("app.core.quickbooks.desktop.qwc") is not None
    except ModuleNotFoundError:
        return False


def development_redirect(port: int = DEVELOPMENT_PORT) -> str:
    return f"http://localhost:{port}/callback"


def loopback_port(address: str) -> int | None:
    """The port of ``http://localhost:PORT/callback`` (development keys), else None."""
    parts = urlsplit(address.strip())
    if parts.scheme != "http" or parts.hostname not in ("localhost", "127.0.0.1"):
        return None
    if parts.path.rstrip("/") != "/callback":
        return None
    try:
        return parts.port
    except ValueError:
        return None


class QuickBooksPage(QWizardPage):
    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.setObjectName("quickbooksPage")
        self.setTitle("QuickBooks")
        self.setSubTitle("Where your company keeps its books. PayDesk pairs each Autotask "
                         "invoice with its QuickBooks invoice and records every payment there "
                         "too.")
        self.connect_state = ConnectState.IDLE
        self.report: CompanyReport | None = None
        self.stored: QuickBooksOnlineConnection | None = None
        self._secret_stored = False
        self._flow: ConsentFlow | None = None
        self._request: _FlowRequest | None = None
        self._wait_task: Task | None = None
        self._ticket = 0
        self._loading = False
        self._initialized = False
        self._desktop_connection: Any = None
        self._desktop_problem: str | None = None
        self._desktop_saved_to: Path | None = None
        self._messages: dict[str, tuple[str, Tone]] = {}
        self.desktop_status: Any = None
        self._status_task: Task | None = None
        #: How the consent page is opened; tests replace it.
        self.open_browser = self._open_in_browser
        #: The local QuickBooks Online sandbox (``--demo``): its discovery document and API.
        demo = getattr(context.demo, "quickbooks", None) if context.demo is not None else None
        self.demo = demo if getattr(demo, "kind", "online") == "online" else None

        self.kind = QComboBox(self)
        self.kind.setObjectName("quickbooksKind")
        self.kind.addItem("QuickBooks Online", KIND_ONLINE)
        if desktop_available():
            self.kind.addItem("QuickBooks Desktop (Pro, Premier, Enterprise)", KIND_DESKTOP)
        self.kind.addItem("Not now — connect QuickBooks later", KIND_LATER)
        kind_row = QFormLayout()
        kind_row.addRow("&Your books are in:", self.kind)
        self.kind_label = kind_row.labelForField(self.kind)

        # Only the chosen kind's panel is shown (hidden panels take no room).
        self.online_panel = self._build_online()
        self.desktop_panel = self._build_desktop()
        self.later_panel = self._build_later()

        self.status = Notice("", Tone.NEUTRAL, self)
        self.status.setObjectName("quickbooksStatus")
        self.status.hide()

        body = QWidget()
        body.setObjectName("quickbooksPageBody")
        column = QVBoxLayout(body)
        column.setContentsMargins(0, 0, 8, 0)
        column.addLayout(kind_row)
        column.addSpacing(4)
        for panel in (self.online_panel, self.desktop_panel, self.later_panel):
            column.addWidget(panel)
        column.addWidget(self.status)
        column.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setObjectName("quickbooksPageScroll")
        set_themed_style(scroll, "QScrollArea#quickbooksPageScroll, QWidget#quickbooksPageBody "
                             "{ background: transparent; }")
        scroll.viewport().setAutoFillBackground(False)
        scroll.setWidget(body)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)

        self._status_timer = QTimer(self)
        self._status_timer.setInterval(STATUS_POLL_MS)
        self._status_timer.timeout.connect(self._poll_desktop_status)
        # Closing Setup while PayDesk waits for QuickBooks' answer stops the waiting (and
        # frees the listener's port).
        closed = getattr(parent, "finished", None)
        if closed is not None:
            closed.connect(self._wizard_closed)
        # Until the stored choice is read: "not now", so Next never waits on a read.
        self.kind.setCurrentIndex(self.kind.findData(KIND_LATER))
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self._kind_changed()

    # -- building ----------------------------------------------------------------------------

    @staticmethod
    def _hint(text: str) -> QLabel:
        label = QLabel(text)
        label.setWordWrap(True)
        set_themed_style(label, "color: #4A5465;")
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setOpenExternalLinks(True)
        return label

    @staticmethod
    def _steps(items: list[str]) -> QLabel:
        rows = "".join(f"<li style='margin-bottom:4px'>{item}</li>" for item in items)
        label = QLabel(f"<ol style='margin-left:-18px'>{rows}</ol>")
        label.setObjectName("quickbooksSteps")
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setOpenExternalLinks(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        return label

    def _build_online(self) -> QWidget:
        panel = QWidget(self)
        self.online_steps = self._steps([
            "Sign in at <a href='https://developer.intuit.com'>developer.intuit.com</a> with "
            "your Intuit account. Choose <b>Dashboard &gt; Create an app &gt; QuickBooks "
            "Online and Payments</b>, name it (for example “PayDesk”) and tick "
            "<b>Accounting</b>.",
            "Open the app's <b>Keys &amp; credentials</b>. Use the <b>Production</b> keys for "
            "your real books; the <b>Development</b> keys only open Intuit's practice "
            "companies.",
            "Under <b>Redirect URIs</b>, add the <b>redirect address</b> shown below, exactly "
            "as written, and save.",
            "Copy the Client ID and Client Secret into the boxes below and press "
            "<b>Connect</b>. Your browser opens QuickBooks: sign in, choose your company and "
            "click <b>Connect</b> there.",
        ])
        self.keys = QComboBox(panel)
        self.keys.setObjectName("quickbooksKeys")
        self.keys.addItem("Production keys — your real books", ENV_PRODUCTION)
        self.keys.addItem("Development keys — Intuit's practice companies", ENV_SANDBOX)
        self.client_id = QLineEdit(panel)
        self.client_id.setObjectName("quickbooksClientId")
        self.client_id.setPlaceholderText("From Keys & credentials, e.g. ABx8…")
        self.client_secret = QLineEdit(panel)
        self.client_secret.setObjectName("quickbooksClientSecret")
        self.client_secret.setEchoMode(QLineEdit.EchoMode.Password)
        self.show_secret = QCheckBox("Show", panel)
        self.show_secret.setObjectName("quickbooksSecretShow")
        self.show_secret.toggled.connect(self._reveal_secret)
        self.secret_note = self._hint("")
        self.secret_note.hide()
        self.redirect = QLineEdit(panel)
        self.redirect.setObjectName("quickbooksRedirectUri")
        self.redirect_hint = self._hint("")
        self.redirect_error = QLabel(panel)
        self.redirect_error.setObjectName("quickbooksRedirectError")
        set_themed_style(self.redirect_error, "color: #A02727;")
        self.redirect_error.setWordWrap(True)
        self.redirect_error.hide()
        self.sandbox_note = self._hint("")
        self.sandbox_note.setObjectName("quickbooksSandboxNote")
        self.sandbox_note.hide()

        secret_row = QHBoxLayout()
        secret_row.setContentsMargins(0, 0, 0, 0)
        secret_row.addWidget(self.client_secret, 1)
        secret_row.addWidget(self.show_secret)
        secret_box = QWidget(panel)
        secret_box.setLayout(secret_row)
        secret_stack = self._column(panel, secret_box, self.secret_note)
        redirect_stack = self._column(panel, self.redirect, self.redirect_hint,
                                      self.redirect_error)
        self.redirect_box = redirect_stack

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("&Keys:", self.keys)
        self.keys_label = form.labelForField(self.keys)
        form.addRow("Client &ID:", self.client_id)
        form.addRow("Client &secret:", secret_stack)
        form.addRow("&Redirect address:", redirect_stack)
        self.redirect_label = form.labelForField(redirect_stack)
        # Their labels name the boxes around them: screen readers need the field's own name.
        self.client_secret.setAccessibleName("Client secret")
        self.redirect.setAccessibleName("Redirect address")

        self.connect_button = QPushButton("&Connect to QuickBooks", panel)
        self.connect_button.setObjectName("quickbooksConnectButton")
        self.connect_button.setAutoDefault(False)
        self.connect_button.clicked.connect(self._connect_clicked)
        self.busy = QProgressBar(panel)
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.busy.setMaximumWidth(140)
        self.busy.hide()
        buttons = QHBoxLayout()
        buttons.addWidget(self.connect_button)
        buttons.addWidget(self.busy)
        buttons.addStretch(1)

        self.paste_box = QWidget(panel)
        self.paste_box.setObjectName("quickbooksPasteBox")
        self.pasted = QLineEdit(self.paste_box)
        self.pasted.setObjectName("quickbooksPastedAddress")
        self.pasted.setAccessibleName("Address the browser showed after signing in")
        self.pasted.setPlaceholderText("https://…?code=…&state=…&realmId=…")
        self.use_pasted = QPushButton("Use this address", self.paste_box)
        self.use_pasted.setObjectName("quickbooksUsePastedButton")
        self.use_pasted.setAutoDefault(False)
        self.use_pasted.clicked.connect(self._pasted_clicked)
        paste_row = QHBoxLayout()
        paste_row.setContentsMargins(0, 0, 0, 0)
        paste_row.addWidget(self.pasted, 1)
        paste_row.addWidget(self.use_pasted)
        paste_column = QVBoxLayout(self.paste_box)
        paste_column.setContentsMargins(0, 4, 0, 0)
        paste_column.addWidget(self._hint(
            "<b>Did the browser not come back to PayDesk?</b> After you clicked Connect in "
            "QuickBooks, copy the whole address from the browser's address bar — even if the "
            "page shows an error — and paste it here."))
        paste_column.addLayout(paste_row)
        self.paste_box.hide()

        self.company = QLabel(panel)
        self.company.setObjectName("quickbooksCompany")
        self.company.setTextFormat(Qt.TextFormat.RichText)
        self.company.setWordWrap(True)
        self.company.hide()

        layout = QVBoxLayout(panel)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self.online_steps)
        layout.addWidget(self._hint("Books in QuickBooks Desktop, or no QuickBooks? Choose "
                                    "it above, or <b>Not now</b>."))
        layout.addWidget(self.sandbox_note)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.paste_box)
        layout.addWidget(self.company)
        for edit in (self.client_id, self.client_secret, self.redirect):
            edit.textChanged.connect(self._online_edited)
        self.keys.currentIndexChanged.connect(self._keys_changed)
        return panel

    def _build_desktop(self) -> QWidget:
        panel = QWidget(self)
        self.desktop_steps = self._steps([
            "On the PC where QuickBooks Desktop runs, make sure the <b>QuickBooks Web "
            "Connector</b> is installed (it comes with QuickBooks; Intuit also offers it as a "
            "free download).",
            "Press <b>Save .qwc…</b> below and save the file where you can find it.",
            "Open QuickBooks as the administrator, with your company file. Open the Web "
            "Connector and choose <b>File &gt; Add an application</b>, pick the file and "
            "allow access when QuickBooks asks (“Yes, always”).",
            "In the Web Connector, type the <b>password</b> shown below into PayDesk's "
            "Password box, tick <b>Auto-Run</b> and press <b>Update Selected</b>. The status "
            "below then says which company file PayDesk is connected to.",
        ])
        self.qwc_url = QLineEdit(DEFAULT_QWC_URL, panel)
        self.qwc_url.setObjectName("quickbooksQwcUrl")
        self.qwc_url.setAccessibleName("Web Connector address")
        self.qwc_button = QPushButton("Save .qwc…", panel)
        self.qwc_button.setObjectName("quickbooksQwcButton")
        self.qwc_button.setAutoDefault(False)
        self.qwc_button.clicked.connect(self._save_qwc_clicked)
        self.qwc_password = QLineEdit(panel)
        self.qwc_password.setObjectName("quickbooksQwcPassword")
        self.qwc_password.setReadOnly(True)
        self.qwc_password.setPlaceholderText("Shown after you save the .qwc file")
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("&Address:", self._column(panel, self.qwc_url, self._hint(
            "Keep it as it is when QuickBooks runs on this computer. For QuickBooks on another "
            "PC the address must start with https:// and needs a certificate (see PayDesk's "
            "QuickBooks Desktop notes).")))
        buttons = QHBoxLayout()
        buttons.addWidget(self.qwc_button)
        buttons.addStretch(1)
        form.addRow("", buttons)
        form.addRow("Web Connector &password:", self.qwc_password)
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self.desktop_steps)
        layout.addLayout(form)
        return panel

    def _build_later(self) -> QWidget:
        panel = QWidget(self)
        self.later_text = text = QLabel(
            "Nothing is connected now. PayDesk records every payment in Autotask as usual. "
            "You can connect QuickBooks whenever you like: open <b>Setup…</b> again (in the "
            "PayDesk menu or at the bottom of the sidebar) and come back to this page. "
            "Payments taken before then are not recorded in QuickBooks by PayDesk.")
        text.setObjectName("quickbooksLaterText")
        text.setWordWrap(True)
        text.setTextFormat(Qt.TextFormat.RichText)
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(text)
        return panel

    @staticmethod
    def _column(parent: QWidget, *widgets: QWidget) -> QWidget:
        box = QWidget(parent)
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(3)
        for widget in widgets:
            column.addWidget(widget)
        return box

    @Slot(bool)
    def _reveal_secret(self, shown: bool) -> None:
        self.client_secret.setEchoMode(
            QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password)

    # -- filling in --------------------------------------------------------------------------

    def initializePage(self) -> None:
        if self._initialized:
            self._refresh()
            return
        self._initialized = True
        self._refresh()
        run_task("read the QuickBooks settings", _load_stored, self.context,
                 on_success=self._fill, parent=self)

    def _fill(self, loaded: tuple[QuickBooksOnlineConnection | None, bool, Any]) -> None:
        online, has_secret, desktop = loaded
        self.stored = online
        self._secret_stored = has_secret
        self._desktop_connection = desktop
        self._loading = True
        try:
            if online is not None:
                self.client_id.setText(online.client_id)
                env = online.environment
                index = self.keys.findData(env)
                if index >= 0:
                    self.keys.setCurrentIndex(index)
                if online.redirect_uri and not online.redirect_uri.startswith("http://"):
                    self.redirect.setText(online.redirect_uri)
            elif self.demo is not None:
                self.client_id.setText(self.demo.client_id)
                self.client_secret.setText(self.demo.client_secret)
            if desktop is not None:
                self.qwc_url.setText(desktop[0].app_url)
                self.qwc_password.setText(desktop[1] or "")
            if not self.redirect.text():
                self._default_redirect()
            # What is connected; the demo's sandbox company; else "not now" (a first Setup
            # goes on without QuickBooks, and the person may choose one here).
            if online is not None or self.demo is not None:
                self._select_kind(KIND_ONLINE)
            elif desktop is not None:
                self._select_kind(KIND_DESKTOP)
        finally:
            self._loading = False
        if online is not None:
            self.connect_state = ConnectState.IDLE
        self._refresh()

    def _select_kind(self, kind: str) -> None:
        index = self.kind.findData(kind)
        if index >= 0:
            self.kind.setCurrentIndex(index)

    def _environment(self) -> str:
        if self.demo is not None and (self.stored is None
                                      or self.stored.environment == self.demo.environment):
            return str(self.demo.environment)
        return str(self.keys.currentData() or ENV_PRODUCTION)

    def _local_sandbox(self) -> bool:
        env = self._environment()
        return env not in (ENV_PRODUCTION, ENV_SANDBOX)

    def _default_redirect(self) -> None:
        if self._environment() == ENV_SANDBOX:
            self.redirect.setText(development_redirect())
        else:
            self.redirect.setText("")

    @Slot()
    def _keys_changed(self) -> None:
        if self._loading:
            return
        self._loading = True
        try:
            current = self.redirect.text().strip()
            if self._environment() == ENV_SANDBOX and not current.startswith("http://"):
                self.redirect.setText(development_redirect())
            elif self._environment() == ENV_PRODUCTION and current.startswith("http://"):
                self.redirect.setText("")
        finally:
            self._loading = False
        self._online_edited()

    def kind_value(self) -> str:
        return str(self.kind.currentData() or KIND_LATER)

    @Slot()
    def _kind_changed(self) -> None:
        kind = self.kind_value()
        panel = {KIND_ONLINE: self.online_panel, KIND_DESKTOP: self.desktop_panel}.get(
            kind, self.later_panel)
        for each in (self.online_panel, self.desktop_panel, self.later_panel):
            each.setVisible(each is panel)
        message = self._messages.get(kind)
        if message is None:
            self.status.hide()
        else:
            self.status.set_message(*message)
            self.status.show()
        if kind == KIND_DESKTOP:
            self._status_timer.start()
            self._poll_desktop_status()
        else:
            self._status_timer.stop()
        self._refresh()

    # -- Online: the redirect address --------------------------------------------------------

    def redirect_problem(self) -> str | None:
        """Why the redirect address cannot be used (None when it can)."""
        if self._local_sandbox():
            return None
        text = self.redirect.text().strip()
        if self._environment() == ENV_SANDBOX:
            if loopback_port(text) is None:
                return ("For development keys, enter http://localhost:PORT/callback (for "
                        f"example {development_redirect()}), the same as on the Intuit app.")
            return None
        if not text:
            return ("Production keys need an https address: the relay page your company "
                    "hosts (see the hint).")
        if not text.lower().startswith("https://"):
            return "Intuit accepts only addresses starting with https:// for production keys."
        return None

    def _flow_request(self) -> _FlowRequest:
        env = self._environment()
        secret = self.client_secret.text().strip()
        stored_secret = not secret and self.stored is not None and self._secret_stored
        api_base = str(self.demo.api_base) if self._local_sandbox() and self.demo else ""
        redirect = "" if self._local_sandbox() else self.redirect.text().strip()
        port = 0
        if env == ENV_SANDBOX:
            port = loopback_port(redirect) or DEVELOPMENT_PORT
            redirect = ""  # the listener's own http://localhost:PORT/callback
        return _FlowRequest(self.client_id.text().strip(), secret, env, api_base, redirect,
                            port, stored_secret=bool(stored_secret))

    def can_connect(self) -> bool:
        have_secret = bool(self.client_secret.text().strip()) or (
            self._secret_stored and self.stored is not None)
        return (bool(self.client_id.text().strip()) and have_secret
                and self.redirect_problem() is None)

    @Slot()
    def _online_edited(self) -> None:
        if self._loading:
            return
        if self.connect_state in (ConnectState.CONNECTED, ConnectState.FAILED):
            # A new attempt starts from the fields as they are now.
            self.connect_state = ConnectState.IDLE
            self.report = None
            self.status.hide()
        self._refresh()

    # -- Online: Connect ---------------------------------------------------------------------

    @Slot()
    def _connect_clicked(self) -> None:
        if self.connect_state in (ConnectState.STARTING, ConnectState.WAITING):
            self.cancel_connect()
            return
        if not self.can_connect():
            self._refresh()
            return
        self._ticket += 1
        self._request = self._flow_request()
        self.connect_state = ConnectState.STARTING
        self.report = None
        self._say("Preparing the connection to QuickBooks…", Tone.NEUTRAL)
        run_task("open the QuickBooks sign-in", _open_flow, self._request,
                 self.context.credentials,
                 on_success=partial(self._flow_opened, self._ticket),
                 on_failure=partial(self._failed, self._ticket), parent=self)
        self._refresh()

    def _flow_opened(self, ticket: int, flow: ConsentFlow) -> None:
        if ticket != self._ticket or self.connect_state is not ConnectState.STARTING:
            run_task("close the QuickBooks sign-in", flow.close)
            return
        self._flow = flow
        self.connect_state = ConnectState.WAITING
        url = flow.consent_url
        self.open_browser(url)
        self._say(
            "Your browser shows QuickBooks' sign-in page. Sign in, choose your company and "
            f"click Connect there. <a href='{html.escape(url)}'>Open the page again</a> if "
            "the browser did not open it.", Tone.INFO)
        self._wait_task = run_task(
            "wait for QuickBooks' answer", _wait_for_answer, flow,
            on_success=partial(self._answered, ticket),
            on_failure=partial(self._failed, ticket), parent=self)
        self._refresh()

    def _open_in_browser(self, url: str) -> None:
        QDesktopServices.openUrl(QUrl(url))

    def _answered(self, ticket: int, answer: AuthorizationAnswer | None) -> None:
        if ticket != self._ticket or self.connect_state is not ConnectState.WAITING:
            return
        if answer is None:
            self._say("No answer came from QuickBooks yet. If the browser shows the "
                      "QuickBooks page, finish there; or paste the address the browser "
                      "landed on below.", Tone.WARNING)
            return
        self._finish_with(answer)

    @Slot()
    def _pasted_clicked(self) -> None:
        flow = self._flow
        if flow is None or self.connect_state is not ConnectState.WAITING:
            return
        try:
            answer = flow.accept_pasted(self.pasted.text())  # reads the text only
        except QuickBooksError as exc:
            self._say(f"<b>PayDesk did not use that address.</b><br>"
                      f"{html.escape(exc.message)}", Tone.DANGER)
            return
        self._finish_with(answer)

    def _finish_with(self, answer: AuthorizationAnswer) -> None:
        flow, request = self._flow, self._request
        if flow is None or request is None:
            return
        if self._wait_task is not None:
            self._wait_task.cancel()
            self._wait_task = None
        self._flow = None
        self.connect_state = ConnectState.FINISHING
        self._say("Connecting to the company and checking its currency…", Tone.NEUTRAL)
        run_task("connect QuickBooks Online", _finish, self.context, flow, answer, request,
                 on_success=partial(self._connected, self._ticket),
                 on_failure=partial(self._failed, self._ticket), parent=self)
        self._refresh()

    def _connected(self, ticket: int, report: CompanyReport) -> None:
        if ticket != self._ticket:
            return
        self.report = report
        self.connect_state = ConnectState.CONNECTED
        self._secret_stored = True
        self._say("<b>Connected to QuickBooks Online.</b> PayDesk reads its invoices at the "
                  "next sync. Press Next to continue.", Tone.SUCCESS)
        self._loading = True  # the secret is in the keychain now; the field empties
        try:
            self.client_secret.clear()
        finally:
            self._loading = False
        run_task("read the QuickBooks settings", _load_stored, self.context,
                 on_success=self._stored_again, parent=self)
        self._refresh()

    def _stored_again(self, loaded: tuple[QuickBooksOnlineConnection | None, bool, Any]
                      ) -> None:
        self.stored, self._secret_stored, self._desktop_connection = loaded
        self._refresh()

    def _failed(self, ticket: int, failure: WorkerFailure) -> None:
        if ticket != self._ticket:
            return
        flow, self._flow = self._flow, None
        if flow is not None:
            run_task("close the QuickBooks sign-in", flow.close)
        self.connect_state = ConnectState.FAILED
        exc = failure.exception
        if isinstance(exc, QuickBooksCurrencyError):
            headline = "PayDesk did not connect this company: its currency is different."
            text = exc.message
        elif isinstance(exc, QuickBooksError):
            headline = "PayDesk could not connect QuickBooks."
            text = exc.message
        elif isinstance(exc, OSError):
            headline = "PayDesk could not wait for QuickBooks' answer."
            port = self._request.port if self._request else 0
            text = (f"Another program uses port {port} on this computer. Change the port in "
                    "the redirect address here and on the Intuit app, then press Connect."
                    if port else str(exc))
        else:
            from app.gui.errors import describe_exception

            headline = "PayDesk could not connect QuickBooks."
            text = describe_exception(exc)
        self._say(f"<b>{html.escape(headline)}</b><br>{html.escape(text)}", Tone.DANGER)
        self._refresh()

    def cancel_connect(self) -> None:
        """Stop waiting (Cancel, Back, closing the wizard); nothing was stored."""
        if self.connect_state not in (ConnectState.STARTING, ConnectState.WAITING):
            return
        self._ticket += 1
        if self._wait_task is not None:
            self._wait_task.cancel()
            self._wait_task = None
        flow, self._flow = self._flow, None
        if flow is not None:
            run_task("close the QuickBooks sign-in", flow.close)
        self.connect_state = ConnectState.IDLE
        self._say("Connecting was cancelled; nothing was changed. Press Connect to start "
                  "again.", Tone.NEUTRAL)
        self._refresh()

    @Slot(int)
    def _wizard_closed(self, _result: int) -> None:
        self.cancel_connect()
        self._status_timer.stop()

    def _say(self, text: str, tone: Tone, kind: str = KIND_ONLINE) -> None:
        self._messages[kind] = (text, tone)
        if self.kind_value() == kind:
            self.status.set_message(text, tone)
            self.status.show()

    # -- Desktop -----------------------------------------------------------------------------

    @Slot()
    def _save_qwc_clicked(self) -> None:
        url = self.qwc_url.text().strip()
        path, _filter = QFileDialog.getSaveFileName(
            self, "Save the Web Connector file", str(Path.home() / "PayDesk.qwc"),
            "Web Connector files (*.qwc)")
        if not path:
            return
        self.qwc_button.setEnabled(False)
        run_task("save the .qwc file", _save_qwc, self.context, Path(path), url,
                 on_success=self._qwc_saved, on_failure=self._qwc_failed, parent=self)

    def save_qwc_to(self, path: Path) -> Task:
        """Save without the file dialog (tests, and the screenshot scenes)."""
        self.qwc_button.setEnabled(False)
        return run_task("save the .qwc file", _save_qwc, self.context, path,
                        self.qwc_url.text().strip(), on_success=self._qwc_saved,
                        on_failure=self._qwc_failed, parent=self)

    def _qwc_saved(self, result: tuple[Path, str, str | None]) -> None:
        path, password, problem = result
        self.qwc_button.setEnabled(True)
        self._desktop_connection = True
        self.qwc_password.setText(password)
        self._desktop_problem = problem
        self._desktop_saved_to = path
        self._poll_desktop_status()
        self._refresh()

    def _qwc_failed(self, failure: WorkerFailure) -> None:
        from app.gui.errors import describe_exception

        self.qwc_button.setEnabled(True)
        self._say(f"<b>The .qwc file was not saved.</b><br>"
                  f"{html.escape(describe_exception(failure.exception))}", Tone.DANGER,
                  KIND_DESKTOP)

    @Slot()
    def _poll_desktop_status(self) -> None:
        if self.kind_value() != KIND_DESKTOP:
            return
        if self._status_task is not None and self._status_task.is_running:
            return
        self._status_task = run_task("read the Web Connector status", _read_desktop_status,
                                     self.context, on_success=self._show_desktop_status,
                                     on_failure=lambda _f: None, parent=self)

    def _show_desktop_status(self, status: Any) -> None:
        if self.kind_value() != KIND_DESKTOP:
            return
        self.desktop_status = status
        saved = self._desktop_saved_to
        prefix = (f"Saved {html.escape(str(saved))}. Add it to the Web Connector (steps 3 and "
                  "4).<br>" if saved else "")
        if self._desktop_problem:
            self._say(prefix + html.escape(self._desktop_problem), Tone.WARNING, KIND_DESKTOP)
            return
        state = getattr(status, "state", "stopped")
        text = html.escape(status.describe())
        name = status.company_file or status.company_name
        if state == "waiting" and status.last_exchange_at is not None and name:
            when = datetime_text(status.last_exchange_at)
            self._say(f"{prefix}<b>The Web Connector is connected to company file "
                      f"{html.escape(name)}.</b> Last exchange on {when}; "
                      "PayDesk answers it again at its next update.", Tone.SUCCESS, KIND_DESKTOP)
            return
        if state == "connected":
            self._say(f"{prefix}<b>{text}</b>", Tone.SUCCESS, KIND_DESKTOP)
        elif state == "error":
            self._say(f"{prefix}<b>{text}</b>", Tone.DANGER, KIND_DESKTOP)
        elif state == "stopped" and not saved and self._desktop_connection is None:
            self._say("Not set up yet: press Save .qwc… to begin.", Tone.NEUTRAL, KIND_DESKTOP)
        else:
            self._say(prefix + text, Tone.INFO, KIND_DESKTOP)

    # -- gating ------------------------------------------------------------------------------

    def _refresh(self) -> None:
        kind = self.kind_value()
        local = self._local_sandbox()
        for widget in (self.keys, self.keys_label):
            if widget is not None:
                widget.setVisible(not local)
        for widget in (self.redirect_label,):
            if widget is not None:
                widget.setVisible(not local)
        self.redirect_box.setVisible(not local)
        if local and self.demo is not None:
            self.sandbox_note.setText(
                f"PayDesk's QuickBooks Online sandbox at {html.escape(str(self.demo.api_base))} "
                "stands in for QuickBooks here (demo): nothing reaches Intuit.")
            self.sandbox_note.show()
        else:
            self.sandbox_note.hide()
        if self._environment() == ENV_SANDBOX:
            self.redirect.setPlaceholderText(development_redirect())
            self.redirect_hint.setText(
                "Add exactly this address under <b>Development &gt; Redirect URIs</b>. PayDesk "
                "waits for QuickBooks' answer on this computer at that port.")
        else:
            self.redirect.setPlaceholderText("https://www.your-company.com/paydesk/relay.html")
            self.redirect_hint.setText(
                "Intuit sends production answers only to https addresses. Put PayDesk's relay "
                "page (the file <b>relay.html</b> in PayDesk's resources/quickbooks folder) on "
                "your company's website, then enter its address here and under "
                "<b>Production &gt; Redirect URIs</b>. It passes QuickBooks' answer back to "
                "PayDesk on this computer.")
        problem = self.redirect_problem()
        show_problem = bool(problem) and bool(self.redirect.text().strip())
        self.redirect_error.setText(problem or "")
        self.redirect_error.setVisible(show_problem)
        if self._secret_stored and self.stored is not None and not self.client_secret.text():
            self.secret_note.setText("A client secret is stored in this computer's keychain. "
                                     "Type a new one only to replace it.")
            self.secret_note.show()
            self.client_secret.setPlaceholderText("Stored — leave empty to keep it")
        else:
            self.secret_note.hide()
            self.client_secret.setPlaceholderText("")

        state = self.connect_state
        waiting = state in (ConnectState.STARTING, ConnectState.WAITING)
        busy = waiting or state is ConnectState.FINISHING
        connected = self.stored is not None or state is ConnectState.CONNECTED
        self.connect_button.setText(
            "Cancel" if waiting else ("&Reconnect" if connected else "&Connect to QuickBooks"))
        self.connect_button.setEnabled(waiting or (not busy and self.can_connect()))
        self.busy.setVisible(busy)
        self.paste_box.setVisible(state is ConnectState.WAITING)
        for edit in (self.client_id, self.client_secret, self.redirect, self.keys):
            edit.setEnabled(not busy)
        self.kind.setEnabled(not busy)
        self._show_company()
        if self.stored is not None or self._desktop_connection is not None:
            self.later_text.setText(
                "PayDesk leaves QuickBooks as it is set up now and carries on recording "
                "payments there. Choose QuickBooks Online or Desktop above to change it.")
        if kind == KIND_LATER:
            self.status.hide()
        self.completeChanged.emit()

    def _show_company(self) -> None:
        report = self.report
        stored = self.stored
        if report is not None:
            rows = (("Company", report.company_name or report.realm_id),
                    ("Home currency", report.home_currency or "—"),
                    ("Multicurrency", "On" if report.multicurrency else "Off"))
            title = "Connected company"
        elif stored is not None:
            rows = (("Company", stored.company_name or stored.realm_id),
                    ("Home currency", stored.home_currency or "—"),
                    ("Multicurrency", "On" if stored.multicurrency else "Off"))
            title = "Connected now"
        else:
            self.company.hide()
            return
        table = "".join(f"<tr><td style='padding-right:14px'>{html.escape(k)}</td>"
                        f"<td><b>{html.escape(v)}</b></td></tr>" for k, v in rows)
        self.company.setText(f"<b>{title}</b><table style='margin-top:4px'>{table}</table>")
        self.company.show()

    def isComplete(self) -> bool:
        kind = self.kind_value()
        if kind == KIND_LATER:
            return True
        if kind == KIND_DESKTOP:
            return True  # the Web Connector connects on its own schedule, after Setup
        if self.connect_state is ConnectState.CONNECTED:
            return True
        return self.connect_state is ConnectState.IDLE and self.stored is not None

    def validatePage(self) -> bool:
        """Everything was stored when it connected; nothing else to do (no network)."""
        return self.isComplete()

    def cleanupPage(self) -> None:
        self.cancel_connect()
        self._status_timer.stop()


PAGE = WizardPagePlugin(
    key="quickbooks",
    factory=QuickBooksPage,
    checklist_item="Your QuickBooks company (optional)\n"
    "QuickBooks Online: your Intuit app's Client ID and secret (developer.intuit.com > "
    "Keys & credentials). QuickBooks Desktop: the QuickBooks Web Connector on the QuickBooks "
    "PC. You can also connect QuickBooks later.",
)
