"""The payment gateway: which gateway, its credentials, and Test Connection as page state.

The gateways offered, their fields, labels, hints and rules come from the gateway providers
(:mod:`app.core.gateways.providers`): the page draws the chosen provider's main secret in the
secret box and its other fields below the gateway choice; nothing here names one gateway.

The fields map onto a `GatewayForm`; `GatewayStepState` (core) decides whether a test may
start and whether Next is allowed. Test Connection runs `run_gateway_test` in a worker; the
result comes back as a signal. Editing the key clears a result. Whether the key is a test
key or a live key is shown as soon as it is typed, and again in the result.

Leaving the key empty means "connect a gateway later": Next is allowed and nothing is
stored. A typed key must pass Test Connection first. The key goes only to the keychain
(`app.core.gateways.connection.save_gateway_secret`); when one is stored, the field stays
empty and says so.

Plugged into the wizard through `app.gui.wizard.plugins` (``PAGE`` below).
"""

from __future__ import annotations

import html

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import Engine

from app.core.credentials import CredentialStore, KeychainUnavailableError
from app.core.gateways import GatewayMode, PaymentGateway
from app.core.gateways.connection import (
    GatewayConnection,
    gateway_names,
    load_gateway_connection,
    open_gateway,
    record_gateway_test,
    save_gateway_secret,
    secret_name,
)
from app.core.gateways.providers import (
    CredentialField,
    GatewayProvider,
    get_provider,
    main_secret,
    plain_fields,
)
from app.core.gateways.setup_step import (
    GatewayForm,
    GatewayStepState,
    GatewayTestOutcome,
    TestState,
    run_gateway_test,
)
from app.core.gateways.types import GatewayAccountInfo
from app.gui.context import AppContext
from app.gui.widgets import StatusPill, Tone
from app.gui.widgets.accessible import describe
from app.gui.wizard.background import CHECKING_TEXT, SaveOnNext
from app.gui.wizard.connection_test_page import ConnectionTestPage
from app.gui.wizard.plugins import WizardPagePlugin
from app.gui.workers import Task, WorkerFailure, run_task
from app.sandbox.demo import demo_gateway

__all__ = ["PAGE", "GatewayPage"]


def _mode_text(mode: GatewayMode) -> tuple[str, Tone]:
    if mode is GatewayMode.LIVE:
        return "Live key — payments take real money", Tone.DANGER
    return "Test key — no real money moves", Tone.WARNING


class GatewayPage(ConnectionTestPage[GatewayForm, GatewayTestOutcome]):
    fields = ("secret_key", "return_url")
    stack_spacing = 3
    state: GatewayStepState

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.setObjectName("gatewayPage")
        self.setTitle("Payment gateway")
        self.setSubTitle("The account PayDesk charges cards and bank accounts through. "
                         "Test Connection checks the key before you go on.")
        self._api_base = ""
        self.state = GatewayStepState(GatewayForm())
        #: What is stored has been read (in a worker) since the page opened.
        self.loaded = False
        self._stored: GatewayConnection | None = None
        self._stored_secrets: dict[str, str | None] = {}
        self.saving = SaveOnNext(self, "store the payment gateway account",
                                 on_saved=self._stored_now, on_failed=self._store_failed)

        self.kind = QComboBox(self)
        self.kind.setObjectName("gatewayKind")
        for key, name in gateway_names().items():
            self.kind.addItem(name, key)
        #: The provider's fields that are not secret, drawn below the gateway when chosen.
        self._extra: dict[str, QLineEdit | QComboBox] = {}
        self._extra_errors: dict[str, QLabel] = {}
        self._extra_rows: list[QWidget] = []
        self.secret_key = QLineEdit(self)
        self.secret_key.setEchoMode(QLineEdit.EchoMode.Password)
        self.show_key = QCheckBox("Show", self)
        self.mode_pill = StatusPill("", Tone.NEUTRAL, self)
        self.mode_pill.hide()
        self.key_note = self._hint("")
        self.key_note.hide()
        self.key_error = self._error_label("secretKeyError")
        self.return_url = QLineEdit(self)
        self.return_url.setObjectName("gatewayReturnUrl")
        self.return_url.setPlaceholderText("https://www.yourcompany.com")
        self.return_error = self._error_label("returnUrlError")
        self.sandbox_note = self._hint("")
        self.sandbox_note.setObjectName("gatewaySandboxNote")
        self.sandbox_note.hide()

        key_box = self._with_show(self.secret_key, self.show_key)
        pill_row = QHBoxLayout()
        pill_row.setContentsMargins(0, 2, 0, 0)
        pill_row.addWidget(self.mode_pill)
        pill_row.addStretch(1)
        pill_box = QWidget(self)
        pill_box.setLayout(pill_row)

        self.secret_label = QLabel(self)
        self.secret_label.setBuddy(self.secret_key)
        self.secret_hint = self._hint("")
        self.return_hint = self._hint("")
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._row(form, "&Gateway:", self.kind, self.kind)
        self.main_form = form
        form.addRow(self.secret_label, self._stack(
            key_box, pill_box, self.key_note, self.key_error, self.secret_hint,
            self.sandbox_note))
        self._row(form, "After the secure &form:", self.return_url, self._stack(
            self.return_url, self.return_error, self.return_hint))

        buttons = self._make_test_controls("gatewayTestButton", "gatewayTestProgress")
        self._make_status("gatewayStatus")

        layout = QVBoxLayout(self)
        self._add_sections(layout, form, buttons)

        self._connect_fields()
        self._show_provider()
        self.kind.currentIndexChanged.connect(self._provider_chosen)

    # -- the chosen provider -----------------------------------------------------------------

    @property
    def provider(self) -> GatewayProvider:
        provider = get_provider(str(self.kind.currentData() or "stripe"))
        assert provider is not None
        return provider

    def _show_provider(self, values: dict[str, str] | None = None) -> None:
        """Draw the chosen provider's fields, labels and hints."""
        provider = self.provider
        secret = main_secret(provider)
        self.secret_key.setObjectName(f"{provider.key}SecretKey")
        self.show_key.setObjectName(f"{provider.key}SecretKeyShow")
        self.secret_label.setText(f"&{secret.label}:")
        self.secret_hint.setText(secret.help or provider.where_to_find)
        # Fields drawn for the chosen gateway, after Setup named and described the page's
        # controls: each gets its name and description here (the provider's help).
        describe(self.secret_key, _field_description(provider, secret), secret.label)
        self.return_hint.setText(
            f"Optional. The web page clients see after entering a card on {provider.name}'s "
            "secure page, usually your company's website.")
        for row in self._extra_rows:
            self.main_form.removeRow(row)
        self._extra_rows.clear()
        self._extra.clear()
        self._extra_errors.clear()
        for position, spec in enumerate(plain_fields(provider), start=1):
            widget = self._extra_widget(spec, (values or {}).get(spec.name))
            describe(widget, _field_description(provider, spec), spec.label)
            self._extra[spec.name] = widget
            label = QLabel(f"{spec.label}:", self)
            label.setBuddy(widget)
            error = self._error_label(f"gatewayFieldError_{spec.name}")
            self._extra_errors[spec.name] = error
            parts = [widget, error] + ([self._hint(spec.help)] if spec.help else [])
            field = self._stack(*parts)
            self.main_form.insertRow(position, label, field)
            self._extra_rows.append(field)

    def _extra_widget(self, spec: CredentialField, value: str | None) -> QLineEdit | QComboBox:
        if spec.choices:
            combo = QComboBox(self)
            for choice, label in spec.choices:
                combo.addItem(label, choice)
            index = combo.findData(value or spec.default or spec.choices[0][0])
            combo.setCurrentIndex(max(index, 0))
            combo.setObjectName(f"gatewayField_{spec.name}")
            combo.currentIndexChanged.connect(self._fields_changed)
            return combo
        line = QLineEdit(self)
        line.setObjectName(f"gatewayField_{spec.name}")
        line.setPlaceholderText(spec.placeholder)
        line.setText(value if value is not None else spec.default)
        line.textChanged.connect(self._fields_changed)
        return line

    def _extra_values(self) -> tuple[tuple[str, str], ...]:
        values = []
        for name, widget in self._extra.items():
            text = (str(widget.currentData() or "") if isinstance(widget, QComboBox)
                    else widget.text())
            values.append((name, text))
        return tuple(values)

    @Slot()
    def _provider_chosen(self) -> None:
        """Another gateway: its own fields and key (a stored secret of the other gateway
        does not apply); in the demo, its sandbox account."""
        if self._loading:
            return
        demo = demo_gateway(self.context.demo, self.provider.key)
        stored = self._stored
        self._stored_secret = self._stored_secrets.get(self.provider.key)
        mine = stored if stored is not None and stored.gateway == self.provider.key else None
        self._loading = True
        try:
            self._show_provider(dict(mine.settings) if mine is not None
                                else dict(demo.settings) if demo is not None else None)
            self.secret_key.setText(demo.key if demo is not None and not self._stored_secret
                                    else "")
        finally:
            self._loading = False
        self._api_base = (mine.api_base if mine is not None
                          else demo.url if demo is not None else "")
        self._show_sandbox_note()
        self.state = GatewayStepState(self._form(), self._stored_secret)
        self.status.hide()
        self._refresh()

    # -- filling in --------------------------------------------------------------------------

    def initializePage(self) -> None:
        """Read what is stored in a worker ("Checking…" until then), then pre-fill from it
        or from the demo's sandbox gateway."""
        self.loaded = False
        self.status.set_message(CHECKING_TEXT, Tone.NEUTRAL)
        self.status.show()
        self.completeChanged.emit()
        run_task("read the payment gateway connection", _read_stored, self.context.engine,
                 self.context.credentials, on_success=self._fill, parent=self)

    @Slot(object)
    def _fill(self, loaded: object) -> None:
        assert isinstance(loaded, tuple)
        self._stored, self._stored_secrets = loaded[0], loaded[1]
        self.loaded = True
        if self.status.text() == CHECKING_TEXT:
            self.status.hide()
        stored = self._stored
        key, return_url = "", ""
        if stored is not None:
            self._api_base = stored.api_base
            return_url = stored.return_url
            if self.state.state is TestState.UNTESTED and not self.secret_key.text():
                self._loading = True
                try:
                    self.kind.setCurrentIndex(max(self.kind.findData(stored.gateway), 0))
                    self._show_provider(dict(stored.settings))
                finally:
                    self._loading = False
        self._stored_secret = self._stored_secrets.get(self.provider.key)
        demo = demo_gateway(self.context.demo, self.provider.key)
        if demo is not None and (stored is None or stored.api_base == demo.url):
            self._api_base = demo.url
            if not self._stored_secret:
                key = demo.key
        if self.state.state is not TestState.UNTESTED or self.secret_key.text():
            self._refresh()
            return  # coming back with Back: keep what is on the page
        self._loading = True
        try:
            if demo is not None and stored is None and demo.settings:
                self._show_provider(dict(demo.settings))
            self.secret_key.setText(key)
            self.return_url.setText(return_url)
        finally:
            self._loading = False
        self._show_sandbox_note()
        self.state = GatewayStepState(self._form(), self._stored_secret)
        self._refresh()

    def _show_sandbox_note(self) -> None:
        self.sandbox_note.setText(
            f"PayDesk's sandbox gateway at {self._api_base} stands in for "
            f"{self.provider.name} here (demo): nothing reaches a real payment service.")
        self.sandbox_note.setVisible(bool(self._api_base))

    def _form(self) -> GatewayForm:
        return GatewayForm(
            gateway=str(self.kind.currentData() or "stripe"),
            secret_key=self.secret_key.text(),
            secret_stored=bool(self._stored_secret),
            return_url=self.return_url.text(),
            api_base=self._api_base,
            fields=self._extra_values(),
        )

    def _skipping(self) -> bool:
        """No key typed and none stored: the gateway is connected later."""
        return not self.secret_key.text().strip() and not self._stored_secret

    def _apply_edit(self, form: GatewayForm) -> bool:
        return self.state.edit(secret_key=form.secret_key, return_url=form.return_url,
                               fields=form.fields)

    # -- Test Connection ---------------------------------------------------------------------

    def _start_worker(self, ticket: int) -> Task:
        return run_task(
            "test the payment gateway connection",
            run_gateway_test,
            self.state.form,
            self._stored_secret,
            internal_currency=self.context.currency(),
            parent=self,
            **self._worker_callbacks(ticket),
        )

    def _testing_message(self) -> str:
        return f"Testing the connection to {self.provider.name}…"

    def _crash_outcome(self, failure: WorkerFailure) -> GatewayTestOutcome:
        from app.gui.errors import describe_exception

        return GatewayTestOutcome(
            message=f"The test could not be finished. {describe_exception(failure.exception)}")

    def _show_outcome(self, outcome: GatewayTestOutcome) -> None:
        info = outcome.info
        if info is not None:
            mode_text, _tone = _mode_text(info.mode)
            rows = (("Account", info.display_name), ("Mode", mode_text),
                    ("Default currency", info.default_currency))
            table = "".join(
                f"<tr><td style='padding-right:14px'>{html.escape(k)}</td>"
                f"<td><b>{html.escape(v)}</b></td></tr>" for k, v in rows)
            warning = (f"<br><b>Note:</b> {html.escape(outcome.warning)}"
                       if outcome.warning else "")
            tone = Tone.WARNING if outcome.warning else Tone.SUCCESS
            self.status.set_message(
                f"<b>Connected to {html.escape(self.provider.name)}.</b> Press Next to continue."
                f"<table style='margin-top:6px'>{table}</table>{warning}", tone)
        else:
            self.status.set_message(
                f"<b>PayDesk could not connect to {html.escape(self.provider.name)}.</b><br>"
                f"{html.escape(outcome.message or '')}", Tone.DANGER)
            self.secret_key.setFocus()
        self.status.show()

    # -- storing -----------------------------------------------------------------------------

    def _stored_now(self, opened: object) -> None:
        """The tested account is stored (a worker): it is the gateway PayDesk uses now."""
        form = self.state.form
        assert isinstance(opened, tuple)
        gateway: PaymentGateway = opened[0]
        warning: str = opened[1]
        if form.secret_key.strip():
            secret = form.secret_key.strip()
            self._stored_secret = secret
            self._stored_secrets[form.gateway] = secret
            self.state.secret_saved(secret)
        if warning:
            self.status.set_message(html.escape(warning), Tone.WARNING)
            self.status.show()
        self.context.services.gateway = gateway
        self.context.services.gateway_missing = None
        self.context.changes().gatewayChanged.emit()

    def _store_failed(self, failure: WorkerFailure) -> None:
        from app.gui.errors import describe_exception

        self.status.set_message(html.escape(describe_exception(failure.exception)),
                                Tone.DANGER)
        self.status.show()
        self._refresh()

    # -- gating ------------------------------------------------------------------------------

    def _refresh(self) -> None:
        errors = self.state.form.errors()
        if self._skipping():
            errors.pop("secret_key", None)
        for name, label in (("secret_key", self.key_error), ("return_url", self.return_error)):
            message = errors.get(name) if name in self._touched else None
            label.setText(message or "")
            label.setVisible(bool(message))
        # The provider's other fields: said once something was typed there, or a key was.
        typed_key = bool(self.secret_key.text().strip())
        for name, label in self._extra_errors.items():
            widget = self._extra[name]
            typed = isinstance(widget, QLineEdit) and bool(widget.text().strip())
            message = errors.get(name) if (typed or typed_key) else None
            label.setText(message or "")
            label.setVisible(bool(message))
        # Test or live is shown once there is a key to speak of (typed or stored).
        mode = (self.state.form.mode()
                if self.secret_key.text().strip() or self._stored_secret else None)
        if mode is not None:
            text, tone = _mode_text(mode)
            self.mode_pill.set_status(text, tone)
        self.mode_pill.setVisible(mode is not None)
        if self._stored_secret and not self.secret_key.text():
            what = main_secret(self.provider).label.lower()
            self.secret_key.setPlaceholderText("A key is stored — leave empty to keep it")
            self.key_note.setText(f"A {what} is stored in this computer's keychain. "
                                  "Type a new one only to replace it.")
            self.key_note.show()
        else:
            self.secret_key.setPlaceholderText(main_secret(self.provider).placeholder)
            if self._skipping():
                self.key_note.setText("No key yet? Leave it empty and press Next: PayDesk "
                                      "shows your invoices, and you can connect a gateway "
                                      "later in Setup before taking payments.")
                self.key_note.show()
            else:
                self.key_note.hide()
        self._refresh_test_controls(self.state.can_test() and not self._skipping())
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        if self.state.state is TestState.TESTING or not self.loaded or self.saving.running:
            return False
        return self._skipping() or self.state.can_advance()

    def validatePage(self) -> bool:
        """Store the tested account (database and keychain, in a worker; no network). Next
        moves on by itself once it is stored."""
        if self._skipping():
            return True
        outcome = self.state.outcome
        if not self.state.can_advance() or outcome is None or outcome.info is None:
            return False
        moving_on = self.saving.validate(
            _store_account, self.context.engine, self.context.credentials, self.state.form,
            self._stored_secret or "", outcome.info)
        self.completeChanged.emit()
        return moving_on


def _checklist_item() -> str:
    names = list(gateway_names().values())
    which = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    where = " ".join(p.where_to_find for key in gateway_names()
                     if (p := get_provider(key)) is not None)
    return (f"Your payment gateway's API credentials ({which}), to take payments\n{where} "
            "You can also skip this step and connect a gateway later in Setup; PayDesk shows "
            "your invoices either way.")


PAGE = WizardPagePlugin(
    key="gateway",
    factory=GatewayPage,
    checklist_item=_checklist_item(),
)


def _read_stored(engine: Engine, credentials: CredentialStore) -> tuple[
        GatewayConnection | None, dict[str, str | None]]:
    """Worker thread: the stored connection, and each gateway's main secret (or None)."""
    secrets = {}
    for key in gateway_names():
        provider = get_provider(key)
        if provider is not None:
            secrets[key] = credentials.get(secret_name(key, main_secret(provider).name))
    return load_gateway_connection(engine), secrets


def _store_account(engine: Engine, credentials: CredentialStore, form: GatewayForm,
                   stored_secret: str, info: GatewayAccountInfo) -> tuple[PaymentGateway, str]:
    """Worker thread: keep the tested account — the key in the keychain only, the rest in the
    database — and open it. Returns the gateway and a warning to show (or "")."""
    warning = ""
    secret = form.secret_key.strip() or stored_secret
    if form.secret_key.strip():
        try:
            save_gateway_secret(credentials, form.gateway, secret)
        except KeychainUnavailableError as exc:
            warning = str(exc)
    connection = record_gateway_test(engine, form.connection(), info)
    return open_gateway(connection, secret), warning


def _field_description(provider: GatewayProvider, spec: CredentialField) -> str:
    """What a screen reader says after a gateway field's name: the provider's help for it."""
    if spec.help:
        return spec.help
    kept = " It is kept in this computer's keychain." if spec.secret else ""
    return f"The {spec.label.lower()} of your {provider.name} account.{kept}"
