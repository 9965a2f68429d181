"""The Autotask API user: fields, Save, and Test Connection as page state.

The fields map onto an `AutotaskForm`; `AutotaskStepState` (core) decides whether a test may
start and whether Next is allowed. Test Connection runs `run_connection_test` in a worker:
the button turns into Cancel and a busy bar shows while it runs; the result comes back as a
signal. Editing any field clears a result. Nothing here touches the network on the GUI
thread, and `validatePage` only stores what was already tested.

The secret goes only to the keychain (`app.core.connections.save_autotask_secret`). When a
secret is already stored the field stays empty and says so; leaving it empty keeps it.
"""

from __future__ import annotations

import html
import logging

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import Engine

from app.core.autotask import DEFAULT_DISCOVERY_URL
from app.core.autotask.client import ConnectionReport
from app.core.connections import (
    AutotaskConnection,
    load_autotask_connection,
    record_successful_test,
    save_autotask_connection,
    save_autotask_secret,
)
from app.core.credentials import CredentialStore, KeychainUnavailableError, SecretName
from app.core.setup.autotask_step import (
    AutotaskForm,
    AutotaskStepState,
    TestOutcome,
    TestState,
    run_connection_test,
)
from app.core.setup.outcomes import ConnectionFailure, FailureKind, describe_success
from app.core.setup.validation import typed_zone_notice
from app.gui.context import AppContext
from app.gui.theme import set_themed_style
from app.gui.widgets.pill import Tone
from app.gui.wizard.background import CHECKING_TEXT, SaveOnNext
from app.gui.wizard.connection_test_page import ConnectionTestPage
from app.gui.wizard.notice import Notice
from app.gui.workers import Task, WorkerFailure, run_task

log = logging.getLogger(__name__)

_FIELDS = ("username", "secret", "integration_code", "zone_url")


class AutotaskPage(ConnectionTestPage[AutotaskForm, TestOutcome]):
    fields = _FIELDS
    state: AutotaskStepState

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.setObjectName("autotaskPage")
        self.setTitle("Autotask API user")
        self.setSubTitle("The API user PayDesk signs in to Autotask with. Test Connection "
                         "checks it before you go on.")
        self._discovery_url = DEFAULT_DISCOVERY_URL
        self.state = AutotaskStepState(AutotaskForm())
        #: What is stored has been read (in a worker) since the page opened.
        self.loaded = False
        self.saving = SaveOnNext(self, "save the Autotask connection",
                                 on_saved=self._after_store, on_failed=self._store_failed)

        self.username = QLineEdit(self)
        self.username.setObjectName("autotaskUsername")
        self.username.setPlaceholderText("api.paydesk@yourcompany.com")
        self.secret = QLineEdit(self)
        self.secret.setObjectName("autotaskSecret")
        self.secret.setEchoMode(QLineEdit.EchoMode.Password)
        self.show_secret = QCheckBox("Show", self)
        self.show_secret.setObjectName("autotaskSecretShow")
        self.show_secret.setToolTip("Show the secret while you type it")
        self.integration_code = QLineEdit(self)
        self.integration_code.setObjectName("autotaskIntegrationCode")
        self.zone_url = QLineEdit(self)
        self.zone_url.setObjectName("autotaskZoneUrl")
        self.zone_url.setPlaceholderText("Leave empty: PayDesk finds your zone")
        self.advanced = QToolButton(self)
        self.advanced.setObjectName("autotaskAdvanced")
        self.advanced.setText("Advanced")
        self.advanced.setCheckable(True)
        self.advanced.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced.setAutoRaise(True)
        set_themed_style(self.advanced, "QToolButton#autotaskAdvanced { border: none; "
                                    "background: transparent; padding: 2px 0px; }")

        self.errors = {name: self._error_label(f"{name}Error") for name in _FIELDS}

        self.secret_note = QLabel(self)
        self.secret_note.setObjectName("autotaskSecretStored")
        set_themed_style(self.secret_note, "color: #4A5465;")
        self.secret_note.setWordWrap(True)
        self.secret_note.hide()

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._row(form, "&User name:", self.username,
                  self._stack(self.username, self.errors["username"]))
        secret_box = self._with_show(self.secret, self.show_secret)
        self._row(form, "&Secret:", self.secret,
                  self._stack(secret_box, self.secret_note, self.errors["secret"]))
        self._row(form, "API &integration code:", self.integration_code,
                  self._stack(self.integration_code, self.errors["integration_code"]))
        # A typed zone off Autotask's servers is shown for what it is before it is tested.
        self.zone_notice = QLabel(self)
        self.zone_notice.setObjectName("zoneNotice")
        self.zone_notice.setWordWrap(True)
        set_themed_style(self.zone_notice, "color: #85520A;")
        self.zone_notice.hide()
        self.zone_label = QLabel("&Zone address:", self)
        self.zone_label.setBuddy(self.zone_url)
        self.zone_box = self._stack(
            self.zone_url,
            self._hint("Only when PayDesk cannot find your zone by itself, for example "
                       "https://webservices15.autotask.net/ATServicesRest/"),
            self.errors["zone_url"], self.zone_notice)
        form.addRow(self.advanced)
        form.addRow(self.zone_label, self.zone_box)

        self.save_button = QPushButton("&Save", self)
        self.save_button.setObjectName("saveButton")
        self.save_button.setToolTip("Store these details (the secret goes to the system "
                                    "keychain) without testing them")
        self.save_button.setAutoDefault(False)
        buttons = self._make_test_controls("testConnectionButton", "testConnectionProgress")
        buttons.addWidget(self.save_button)
        self._make_status("connectionStatus")

        layout = QVBoxLayout(self)
        if not context.credentials.is_secure:
            keychain = Notice(
                html.escape(context.credentials.describe_backend()), Tone.WARNING, self)
            keychain.setObjectName("keychainWarning")
            layout.addWidget(keychain)
        self._add_sections(layout, form, buttons)

        self._set_advanced(False)
        self._connect_fields()
        self.advanced.toggled.connect(self._set_advanced)
        self.save_button.clicked.connect(self._save_clicked)

    # -- layout helpers ----------------------------------------------------------------------

    @Slot(bool)
    def _set_advanced(self, shown: bool) -> None:
        self.advanced.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        self.zone_label.setVisible(shown)
        self.zone_box.setVisible(shown)

    # -- filling in --------------------------------------------------------------------------

    def initializePage(self) -> None:
        """Read what is stored in a worker ("Checking…" until then), then pre-fill from it
        or from the demo's sandbox user."""
        self.loaded = False
        self.status.set_message(CHECKING_TEXT, Tone.NEUTRAL)
        self.status.show()
        self.completeChanged.emit()
        run_task("read the Autotask connection", _read_stored, self.context.engine,
                 self.context.credentials, on_success=self._fill, parent=self)

    @Slot(object)
    def _fill(self, loaded: object) -> None:
        assert isinstance(loaded, tuple)
        stored: AutotaskConnection | None = loaded[0]
        self._stored_secret = loaded[1]
        self.loaded = True
        if self.status.text() == CHECKING_TEXT:
            self.status.hide()
        values = {name: "" for name in _FIELDS}
        if stored is not None:
            values.update(username=stored.username, integration_code=stored.integration_code,
                          zone_url=stored.zone_url)
            self._discovery_url = stored.discovery_url
        elif self.context.demo is not None and self.context.demo.autotask is not None:
            demo = self.context.demo.autotask
            values.update(username=demo.username, integration_code=demo.integration_code,
                          secret=demo.secret)
            self._discovery_url = demo.url
        if self.state.state is not TestState.UNTESTED or any(
            getattr(self, name).text() for name in _FIELDS
        ):
            self._refresh()
            return  # coming back with Back: keep what is on the page
        self._loading = True
        try:
            for name, value in values.items():
                getattr(self, name).setText(value)
        finally:
            self._loading = False
        self._set_advanced(bool(values["zone_url"]))
        self.advanced.setChecked(bool(values["zone_url"]))
        self.state = AutotaskStepState(self._form(), self._stored_secret)
        self._refresh()

    def _form(self) -> AutotaskForm:
        return AutotaskForm(
            username=self.username.text(),
            secret=self.secret.text(),
            integration_code=self.integration_code.text(),
            zone_url=self.zone_url.text(),
            discovery_url=self._discovery_url,
            secret_stored=bool(self._stored_secret),
        )

    def _apply_edit(self, form: AutotaskForm) -> bool:
        return self.state.edit(
            username=form.username, secret=form.secret,
            integration_code=form.integration_code, zone_url=form.zone_url)

    # -- Test Connection ---------------------------------------------------------------------

    def _start_worker(self, ticket: int) -> Task:
        return run_task(
            "test the Autotask connection",
            run_connection_test,
            self.state.form,
            self._stored_secret,
            parent=self,
            **self._worker_callbacks(ticket),
        )

    def _testing_message(self) -> str:
        return "Testing the connection to Autotask…"

    def _test_recorded(self, outcome: TestOutcome) -> None:
        if outcome.report is not None:
            log.info("Test Connection succeeded for %s (zone %s)", self.state.form.username,
                     outcome.report.zone_name)
        elif outcome.failure is not None:
            log.info("Test Connection failed for %s: %s", self.state.form.username,
                     outcome.failure.kind.value)

    def _crash_outcome(self, failure: WorkerFailure) -> TestOutcome:
        """Something other than Autotask went wrong (a bug, or the computer): say so."""
        from app.gui.errors import describe_exception

        return TestOutcome(failure=ConnectionFailure(
            FailureKind.AUTOTASK_PROBLEM,
            "The test could not be finished.",
            describe_exception(failure.exception),
        ))

    def _show_outcome(self, outcome: TestOutcome) -> None:
        if outcome.report is not None:
            rows = "".join(
                f"<tr><td style='padding-right:14px'>{html.escape(k)}</td>"
                f"<td><b>{html.escape(v)}</b></td></tr>"
                for k, v in describe_success(outcome.report)
            )
            self.status.set_message(
                "<b>Connected to Autotask.</b> Press Next to continue."
                f"<table style='margin-top:6px'>{rows}</table>", Tone.SUCCESS)
        elif outcome.failure is not None:
            failure = outcome.failure
            said = (f"<br><span style='color:#4A5465'>Autotask said: "
                    f"{html.escape(failure.autotask_said)}</span>"
                    if failure.autotask_said else "")
            self.status.set_message(
                f"<b>{html.escape(failure.headline)}</b><br>{html.escape(failure.fix)}{said}",
                Tone.DANGER)
            if failure.field == "zone_url" and self.zone_url.text():
                self.advanced.setChecked(True)
            target = getattr(self, failure.field) if failure.field else None
            if isinstance(target, QLineEdit) and target.isVisible():
                target.setFocus()
        self.status.show()

    # -- Save --------------------------------------------------------------------------------

    @Slot()
    def _save_clicked(self) -> None:
        self._touched.update(_FIELDS)
        form = self._form()
        errors = form.errors()
        if errors:
            self._refresh()
            return
        self.save_button.setEnabled(False)
        outcome = self.state.outcome
        report = (outcome.report if self.state.can_advance() and outcome is not None
                  else None)
        run_task("save the Autotask connection", _store_connection, self.context.engine,
                 self.context.credentials, form, report, on_success=self._saved_only,
                 on_failure=self._store_failed, parent=self)

    @Slot(object)
    def _saved_only(self, warning: object) -> None:
        self._after_store(warning)
        if self.state.state is not TestState.PASSED:
            self.status.set_message(
                "Saved. The secret is kept in this computer's keychain. Press Test "
                "Connection to check the details before you go on.", Tone.INFO)
            self.status.show()

    def _after_store(self, warning: object) -> None:
        """The connection was stored (a worker): the secret is the stored one now."""
        form = self.state.form
        if form.secret:
            self._stored_secret = form.secret
            self.state.secret_saved(form.secret)
        if isinstance(warning, str) and warning:
            self.status.set_message(html.escape(warning), Tone.WARNING)
            self.status.show()
        self._refresh()

    def _store_failed(self, failure: WorkerFailure) -> None:
        from app.gui.errors import describe_exception

        self.status.set_message(html.escape(describe_exception(failure.exception)),
                                Tone.DANGER)
        self.status.show()
        self._refresh()

    # -- gating ------------------------------------------------------------------------------

    def _refresh(self) -> None:
        notice = typed_zone_notice(self.state.form.zone_url)
        self.zone_notice.setText(notice or "")
        self.zone_notice.setVisible(bool(notice))
        errors = self.state.form.errors()
        for name, label_widget in self.errors.items():
            message = errors.get(name) if name in self._touched else None
            label_widget.setText(message or "")
            label_widget.setVisible(bool(message))
        if self._stored_secret and not self.secret.text():
            self.secret.setPlaceholderText("A secret is stored — leave empty to keep it")
            self.secret_note.setText("A secret is stored in this computer's keychain. Type a "
                                     "new one only to replace it.")
            self.secret_note.show()
        else:
            self.secret.setPlaceholderText("")
            self.secret_note.hide()
        testing = self._refresh_test_controls(self.state.can_test())
        self.save_button.setEnabled(not testing)
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self.loaded and not self.saving.running and self.state.can_advance()

    def validatePage(self) -> bool:
        """Store the tested details (database and keychain, in a worker; no network). Next
        moves on by itself once they are stored."""
        if not self.state.can_advance():
            return False
        outcome = self.state.outcome
        report = outcome.report if outcome is not None else None
        moving_on = self.saving.validate(_store_connection, self.context.engine,
                                         self.context.credentials, self.state.form, report)
        self.completeChanged.emit()
        return moving_on


def _read_stored(engine: Engine, credentials: CredentialStore) -> tuple[
        AutotaskConnection | None, str | None]:
    """Worker thread: the stored connection and secret."""
    return load_autotask_connection(engine), credentials.get(SecretName.AUTOTASK_SECRET)


def _store_connection(engine: Engine, credentials: CredentialStore, form: AutotaskForm,
                      report: ConnectionReport | None) -> str:
    """Worker thread: save the connection (with the test's report when it passed), and the
    secret to the keychain (and only there). Returns a warning to show, or ""."""
    warning = ""
    if form.secret:
        try:
            save_autotask_secret(credentials, form.secret)
        except KeychainUnavailableError as exc:
            warning = str(exc)
    connection: AutotaskConnection = form.connection()
    if report is not None:
        record_successful_test(engine, connection, report)
    else:
        save_autotask_connection(engine, connection)
    return warning
