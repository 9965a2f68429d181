"""Settings › Email: the mail server with Send Test Email, what PayDesk sends on its own
(receipts, overdue reminders), the emails' wording with a preview from real data, and the
email log with Retry and Dismiss.

Every read and write runs in a worker (:func:`app.gui.workers.run_task`); the widgets get
plain values back. The password field is never filled from the keychain: it says whether one is
stored, and a typed password replaces it. GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QFont, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import Engine

from app.core.credentials import CredentialStore
from app.core.email.outbox import EmailLogRow, EmailState, dismiss_emails, email_log, retry_emails
from app.core.email.preview import EmailPreview, preview_email
from app.core.email.sender import SendFailure, send_due_emails, send_test_email
from app.core.email.settings import (
    DEFAULT_PORTS,
    SECURITY_LABELS,
    SMTP_PASSWORD_SECRET,
    ReceiptEmailSettings,
    ReminderSchedule,
    SmtpSettings,
    is_valid_address,
    load_receipt_settings,
    load_reminder_schedule,
    load_smtp_settings,
    organization_names,
    parse_days,
    save_receipt_settings,
    save_reminder_schedule,
    save_smtp_settings,
    set_receipts_for_organization,
)
from app.core.email.templates import (
    TEMPLATES,
    EmailTemplate,
    TemplateProblem,
    load_template,
    reset_template,
    save_template,
)
from app.core.receipt_identity import load_receipt_identity
from app.gui.context import AppContext
from app.gui.invoices.formatting import datetime_text
from app.gui.workers import WorkerFailure, run_task

__all__ = ["EmailSection", "create_email_section"]


def create_email_section(context: AppContext) -> QWidget:
    return EmailSection(context)


# --- worker functions (plain values in, plain values out) ------------------------------------


@dataclass(frozen=True, slots=True)
class EmailSettingsState:
    smtp: SmtpSettings
    has_password: bool
    receipts: ReceiptEmailSettings
    reminders: ReminderSchedule
    company_name: str
    organizations: tuple[tuple[int, str], ...] = ()


def load_state(engine: Engine, credentials: CredentialStore) -> EmailSettingsState:
    return EmailSettingsState(
        smtp=load_smtp_settings(engine), has_password=credentials.has(SMTP_PASSWORD_SECRET),
        receipts=load_receipt_settings(engine), reminders=load_reminder_schedule(engine),
        company_name=load_receipt_identity(engine).name,
        organizations=tuple(organization_names(engine)))


def save_state(engine: Engine, credentials: CredentialStore, smtp: SmtpSettings,
               password: str, receipts_on: bool, reminders: ReminderSchedule,
               test_receipts: bool = False) -> str:
    """Validate everything first, then store; returns the sentence to show."""
    problems = smtp.problems() + reminders.problems()
    if problems:
        raise ValueError(" ".join(problems))
    if password:
        credentials.set(SMTP_PASSWORD_SECRET, password)
    save_smtp_settings(engine, smtp)
    receipts = load_receipt_settings(engine)
    if (receipts.enabled, receipts.test_payments) != (receipts_on, test_receipts):
        save_receipt_settings(engine, replace(receipts, enabled=receipts_on,
                                              test_payments=test_receipts))
    if load_reminder_schedule(engine) != reminders:
        save_reminder_schedule(engine, reminders)
    return "Saved. Every PayDesk sharing this database sends with these settings."


def run_test_email(engine: Engine, credentials: CredentialStore, smtp: SmtpSettings,
                   password: str, to: str) -> str:
    company = load_receipt_identity(engine).name or "PayDesk"
    return send_test_email(smtp, password or credentials.get(SMTP_PASSWORD_SECRET), to,
                           company_name=company)


def retry_and_send(engine: Engine, credentials: CredentialStore, ids: list[int]) -> str:
    count = retry_emails(engine, ids)
    if count == 0:
        return "Nothing had failed."
    report = send_due_emails(engine, credentials)
    if report.problem:
        return f"Queued again, not sent yet: {report.problem}"
    if report.failed:
        return f"{report.sent} sent; {report.failed} failed again — see the reason in the list."
    return f"{report.sent} sent." if report.sent else "Queued again; PayDesk will try shortly."


def save_and_preview(engine: Engine, key: str, subject: str, body: str) -> EmailPreview:
    save_template(engine, key, subject, body)
    return preview_email(engine, key, subject, body)


def reset_and_load(engine: Engine, key: str) -> EmailTemplate:
    reset_template(engine, key)
    return load_template(engine, key)


# --- the widget -------------------------------------------------------------------------------


def _card(title: str, note: str | None = None) -> tuple[QFrame, QVBoxLayout]:
    card = QFrame()
    card.setObjectName("card")
    layout = QVBoxLayout(card)
    layout.setContentsMargins(20, 16, 20, 16)
    layout.setSpacing(10)
    heading = QLabel(title)
    heading.setObjectName("sectionTitle")
    font = heading.font()
    font.setBold(True)
    font.setPointSizeF(font.pointSizeF() * 1.15)
    heading.setFont(font)
    layout.addWidget(heading)
    if note:
        text = QLabel(note)
        text.setWordWrap(True)
        text.setObjectName("areaSubtitle")
        layout.addWidget(text)
    return card, layout


def _form() -> QFormLayout:
    form = QFormLayout()
    form.setHorizontalSpacing(16)
    form.setVerticalSpacing(8)
    form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return form


class EmailSection(QWidget):
    """See the module docstring."""

    LOG_COLUMNS = ("When", "Why", "To", "Subject", "Status")

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("emailSection")
        self.context = context
        self._loaded = False
        self._state: EmailSettingsState | None = None
        self._log_rows: list[EmailLogRow] = []
        self._action_message = ""
        #: ``paydesk --demo``'s mailbox (app.sandbox.mailbox), when this is the demo.
        self.mailbox = getattr(context.demo, "mailbox", None)

        content = QWidget()
        column = QVBoxLayout(content)
        column.setContentsMargins(0, 0, 12, 0)
        column.setSpacing(16)
        column.addWidget(self._build_server_card())
        column.addWidget(self._build_sending_card())
        column.addWidget(self._build_templates_card())
        column.addWidget(self._build_log_card())
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(content)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)
        self.reload()

    # --- building ----------------------------------------------------------------------------
    def _build_server_card(self) -> QFrame:
        card, layout = _card("Mail server", "PayDesk sends receipts, pay links and reminders "
                             "through your own mail server (SMTP). Ask your email provider for "
                             "these details; Microsoft 365 uses smtp.office365.com, port 587, "
                             "STARTTLS.")
        form = _form()
        self.host_edit = QLineEdit()
        self.host_edit.setObjectName("smtpServer")
        self.host_edit.setPlaceholderText("smtp.yourcompany.com")
        self.port_spin = QSpinBox()
        self.port_spin.setObjectName("smtpPort")
        self.port_spin.setRange(1, 65535)
        self.port_spin.setValue(587)
        self.port_spin.setMaximumWidth(110)
        self.security_combo = QComboBox()
        self.security_combo.setObjectName("smtpSecurity")
        self.security_combo.setMaximumWidth(420)
        for key, label in SECURITY_LABELS.items():
            self.security_combo.addItem(label, key)
        self.security_combo.activated.connect(self._security_chosen)
        self.user_edit = QLineEdit()
        self.user_edit.setObjectName("smtpUser")
        self.user_edit.setPlaceholderText("Often the mailbox address; empty if no sign-in")
        self.password_edit = QLineEdit()
        self.password_edit.setObjectName("smtpPassword")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.from_edit = QLineEdit()
        self.from_edit.setObjectName("smtpFrom")
        self.from_edit.setPlaceholderText("billing@yourcompany.com")
        self.from_name_edit = QLineEdit()
        self.from_name_edit.setObjectName("smtpFromName")
        self.from_name_edit.setPlaceholderText("Your company's billing team")
        form.addRow("Server", self.host_edit)
        form.addRow("Port", self.port_spin)
        form.addRow("Security", self.security_combo)
        form.addRow("User name", self.user_edit)
        form.addRow("Password", self.password_edit)
        form.addRow("From address", self.from_edit)
        form.addRow("From name", self.from_name_edit)
        layout.addLayout(form)

        test_row = QHBoxLayout()
        self.test_to_edit = QLineEdit()
        self.test_to_edit.setObjectName("testEmailTo")
        self.test_to_edit.setPlaceholderText("Send a test to this address")
        self.test_button = QPushButton("Send Test Email")
        self.test_button.setObjectName("sendTestEmailButton")
        self.test_button.clicked.connect(self._send_test)
        test_row.addWidget(self.test_to_edit, 1)
        test_row.addWidget(self.test_button)
        layout.addLayout(test_row)
        self.server_status = QLabel()
        self.server_status.setObjectName("emailServerStatus")
        self.server_status.setWordWrap(True)
        self.server_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.server_status)
        return card

    def _build_sending_card(self) -> QFrame:
        card, layout = _card("What PayDesk sends on its own")
        self.receipts_check = QCheckBox(
            "Email the PDF receipt to the contact who paid, after each payment and refund")
        self.receipts_check.setObjectName("receiptEmailsEnabled")
        self.receipts_check.setChecked(True)
        layout.addWidget(self.receipts_check)
        self.test_receipts_check = QCheckBox(
            "Also for payments taken with test credentials (the receipt says TEST MODE)")
        self.test_receipts_check.setObjectName("testReceiptEmails")
        test_row = QHBoxLayout()
        test_row.addSpacing(24)
        test_row.addWidget(self.test_receipts_check)
        test_row.addStretch(1)
        layout.addLayout(test_row)
        self.receipts_check.toggled.connect(self.test_receipts_check.setEnabled)
        self.receipts_note = QLabel()
        self.receipts_note.setObjectName("areaSubtitle")
        self.receipts_note.setWordWrap(True)
        layout.addWidget(self.receipts_note)
        off_row = QHBoxLayout()
        off_row.addSpacing(24)
        off_row.addWidget(QLabel("No receipts for:"))
        self.receipts_off_combo = QComboBox()
        self.receipts_off_combo.setObjectName("receiptsOffOrganizations")
        self.receipts_off_combo.setMinimumWidth(240)
        off_row.addWidget(self.receipts_off_combo)
        self.receipts_on_button = QPushButton("Send them again")
        self.receipts_on_button.setObjectName("receiptsOnForOrganization")
        self.receipts_on_button.clicked.connect(self._receipts_on)
        off_row.addWidget(self.receipts_on_button)
        off_row.addSpacing(16)
        self.organization_edit = QLineEdit()
        self.organization_edit.setObjectName("receiptsOffFind")
        self.organization_edit.setPlaceholderText("Organization name…")
        self.organization_edit.setMinimumWidth(200)
        off_row.addWidget(self.organization_edit)
        self.receipts_off_button = QPushButton("Stop receipts")
        self.receipts_off_button.setObjectName("receiptsOffForOrganization")
        self.receipts_off_button.clicked.connect(self._receipts_off)
        off_row.addWidget(self.receipts_off_button)
        off_row.addStretch(1)
        layout.addLayout(off_row)
        self.reminders_check = QCheckBox("Remind clients of overdue invoices")
        self.reminders_check.setObjectName("remindersEnabled")
        layout.addWidget(self.reminders_check)
        days_row = QHBoxLayout()
        days_row.addSpacing(24)
        days_row.addWidget(QLabel("Days after the due date:"))
        self.days_edit = QLineEdit("1, 7, 14")
        self.days_edit.setObjectName("reminderDays")
        self.days_edit.setMaximumWidth(160)
        days_row.addWidget(self.days_edit)
        hint = QLabel("one reminder per invoice at each step")
        hint.setObjectName("areaSubtitle")
        days_row.addWidget(hint)
        days_row.addStretch(1)
        layout.addLayout(days_row)
        self.reminders_check.toggled.connect(self.days_edit.setEnabled)
        self.days_edit.setEnabled(False)

        buttons = QHBoxLayout()
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("primaryButton")
        self.save_button.clicked.connect(self._save)
        buttons.addWidget(self.save_button)
        self.save_status = QLabel()
        self.save_status.setObjectName("emailSaveStatus")
        self.save_status.setWordWrap(True)
        buttons.addWidget(self.save_status, 1)
        layout.addLayout(buttons)
        return card

    def _build_templates_card(self) -> QFrame:
        card, layout = _card("Email wording", "Each email is a template. Names in double "
                             "braces are filled in when the email is sent; the preview uses "
                             "your newest matching record.")
        top = QHBoxLayout()
        self.template_combo = QComboBox()
        self.template_combo.setObjectName("templateChoice")
        for template in TEMPLATES.values():
            self.template_combo.addItem(template.title, template.key)
        self.template_combo.currentIndexChanged.connect(self._template_chosen)
        top.addWidget(QLabel("Email:"))
        top.addWidget(self.template_combo)
        self.template_description = QLabel()
        self.template_description.setObjectName("areaSubtitle")
        self.template_description.setWordWrap(True)
        top.addWidget(self.template_description, 1)
        layout.addLayout(top)

        panes = QHBoxLayout()
        panes.setSpacing(16)
        editor = QVBoxLayout()
        self.subject_edit = QLineEdit()
        self.subject_edit.setObjectName("templateSubject")
        self.body_edit = QPlainTextEdit()
        self.body_edit.setObjectName("templateBody")
        self.body_edit.setMinimumHeight(220)
        self.names_label = QLabel()
        self.names_label.setObjectName("templateNames")
        self.names_label.setWordWrap(True)
        editor.addWidget(QLabel("Subject"))
        editor.addWidget(self.subject_edit)
        editor.addWidget(QLabel("Message"))
        editor.addWidget(self.body_edit, 1)
        editor.addWidget(self.names_label)
        buttons = QHBoxLayout()
        self.preview_button = QPushButton("Preview")
        self.preview_button.setObjectName("previewTemplateButton")
        self.preview_button.clicked.connect(self._preview)
        self.save_template_button = QPushButton("Save wording")
        self.save_template_button.setObjectName("saveTemplateButton")
        self.save_template_button.clicked.connect(self._save_template)
        self.reset_template_button = QPushButton("Reset to default")
        self.reset_template_button.setObjectName("resetTemplateButton")
        self.reset_template_button.clicked.connect(self._reset_template)
        buttons.addWidget(self.preview_button)
        buttons.addWidget(self.save_template_button)
        buttons.addWidget(self.reset_template_button)
        buttons.addStretch(1)
        editor.addLayout(buttons)
        panes.addLayout(editor, 1)

        self.preview = EmailPreviewView()
        panes.addWidget(self.preview, 1)
        layout.addLayout(panes)
        self.template_status = QLabel()
        self.template_status.setObjectName("templateStatus")
        self.template_status.setWordWrap(True)
        layout.addWidget(self.template_status)
        return card

    def _build_log_card(self) -> QFrame:
        card, layout = _card("Email log", "Every email PayDesk sent or will send, newest "
                             "first; failed ones at the top. A failed email is tried again by "
                             "Retry, or set aside by Dismiss when you reached the client "
                             "another way.")
        self.log_table = QTableWidget(0, len(self.LOG_COLUMNS))
        self.log_table.setObjectName("emailLogTable")
        self.log_table.setHorizontalHeaderLabels(list(self.LOG_COLUMNS))
        self.log_table.verticalHeader().setVisible(False)
        self.log_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.log_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.log_table.setMinimumHeight(220)
        header = self.log_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.log_table.itemSelectionChanged.connect(self._update_log_buttons)
        layout.addWidget(self.log_table)
        buttons = QHBoxLayout()
        self.retry_button = QPushButton("Retry")
        self.retry_button.setObjectName("retryEmailButton")
        self.retry_button.clicked.connect(self._retry)
        self.dismiss_button = QPushButton("Dismiss")
        self.dismiss_button.setObjectName("dismissEmailButton")
        self.dismiss_button.clicked.connect(self._dismiss)
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.reload_log)
        buttons.addWidget(self.retry_button)
        buttons.addWidget(self.dismiss_button)
        buttons.addWidget(refresh)
        self.show_received_button = QPushButton("Show received message…")
        self.show_received_button.setObjectName("showReceivedEmailButton")
        self.show_received_button.clicked.connect(self._show_received)
        self.show_received_button.setVisible(self.mailbox is not None)
        buttons.addWidget(self.show_received_button)
        if self.mailbox is not None:
            demo_note = QLabel("Demo: PayDesk sends to a mailbox inside this program on this "
                               "computer, not to the real addresses. Select a sent email and "
                               "choose Show received message… to read what arrived.")
            demo_note.setObjectName("demoMailboxNote")
            demo_note.setWordWrap(True)
            layout.addWidget(demo_note)
        self.log_status = QLabel()
        self.log_status.setObjectName("emailLogStatus")
        self.log_status.setWordWrap(True)
        buttons.addWidget(self.log_status, 1)
        layout.addLayout(buttons)
        self._update_log_buttons()
        return card

    # --- loading -----------------------------------------------------------------------------
    @Slot()
    def reload(self) -> None:
        run_task("read the email settings", load_state, self.context.engine,
                 self.context.credentials, parent=self, on_success=self._show_state)
        self._template_chosen()
        self.reload_log()

    def showEvent(self, event: QShowEvent) -> None:
        if self._loaded:
            self.reload_log()
        self._loaded = True
        super().showEvent(event)

    def _show_state(self, state: EmailSettingsState) -> None:
        self._state = state
        smtp = state.smtp
        self.host_edit.setText(smtp.host)
        self.port_spin.setValue(smtp.port)
        index = self.security_combo.findData(smtp.security)
        self.security_combo.setCurrentIndex(max(index, 0))
        self.user_edit.setText(smtp.username)
        self.password_edit.clear()
        self.password_edit.setPlaceholderText(
            "Stored in the system keychain — type to replace" if state.has_password
            else "Not stored yet")
        self.from_edit.setText(smtp.from_address)
        self.from_name_edit.setText(smtp.from_name or state.company_name)
        self.receipts_check.setChecked(state.receipts.enabled)
        self.test_receipts_check.setChecked(state.receipts.test_payments)
        self.test_receipts_check.setEnabled(state.receipts.enabled)
        self.receipts_note.setText(
            "Receipts go only to a contact with an email address; the receipt can always be "
            "printed or saved from the payment.")
        self._show_receipts_off(state.receipts)
        completer = QCompleter([name for _id, name in state.organizations], self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.organization_edit.setCompleter(completer)
        self.reminders_check.setChecked(state.reminders.enabled)
        self.days_edit.setText(", ".join(str(d) for d in state.reminders.days_overdue))
        self.days_edit.setEnabled(state.reminders.enabled)
        if not smtp.configured:
            self.server_status.setText("Email is not set up yet: nothing is sent until the "
                                       "server and From address are saved.")

    def _show_receipts_off(self, receipts: ReceiptEmailSettings) -> None:
        names = dict(self._state.organizations) if self._state is not None else {}
        self.receipts_off_combo.clear()
        for organization_id in sorted(receipts.off_for,
                                      key=lambda i: names.get(i, "").lower()):
            self.receipts_off_combo.addItem(names.get(organization_id,
                                                      f"Organization {organization_id}"),
                                            organization_id)
        if not receipts.off_for:
            self.receipts_off_combo.addItem("(none)")
        self.receipts_off_combo.setEnabled(bool(receipts.off_for))
        self.receipts_on_button.setEnabled(bool(receipts.off_for))

    @Slot()
    def _receipts_off(self) -> None:
        text = self.organization_edit.text().strip().lower()
        organizations = self._state.organizations if self._state is not None else ()
        matches = [i for i, name in organizations if name.lower() == text]
        if len(matches) != 1:
            self.save_status.setText("Choose the organization from the list as you type its "
                                     "name.")
            return
        self._set_receipts(matches[0], False)
        self.organization_edit.clear()

    @Slot()
    def _receipts_on(self) -> None:
        organization_id = self.receipts_off_combo.currentData()
        if organization_id is not None:
            self._set_receipts(int(organization_id), True)

    def _set_receipts(self, organization_id: int, on: bool) -> None:
        run_task("change who gets receipts", set_receipts_for_organization,
                 self.context.engine, organization_id, on, parent=self,
                 on_success=self._receipts_changed)

    def _receipts_changed(self, receipts: ReceiptEmailSettings) -> None:
        self._show_receipts_off(receipts)
        self.save_status.setText("Saved who gets receipts.")

    @Slot()
    def _security_chosen(self) -> None:
        key = str(self.security_combo.currentData())
        if self.port_spin.value() in DEFAULT_PORTS.values():
            self.port_spin.setValue(DEFAULT_PORTS[key])

    def _form_settings(self) -> SmtpSettings:
        return SmtpSettings(
            host=self.host_edit.text().strip(), port=self.port_spin.value(),
            security=str(self.security_combo.currentData()),
            username=self.user_edit.text().strip(), from_address=self.from_edit.text().strip(),
            from_name=self.from_name_edit.text().strip())

    # --- saving and testing ------------------------------------------------------------------
    @Slot()
    def _save(self) -> None:
        try:
            days = parse_days(self.days_edit.text())
        except ValueError as exc:
            self.save_status.setText(str(exc))
            return
        reminders = ReminderSchedule(self.reminders_check.isChecked(),
                                     days or ReminderSchedule().days_overdue)
        self.save_button.setEnabled(False)
        self.save_status.setText("Saving…")
        run_task("save the email settings", save_state, self.context.engine,
                 self.context.credentials, self._form_settings(), self.password_edit.text(),
                 self.receipts_check.isChecked(), reminders,
                 self.test_receipts_check.isChecked(), parent=self,
                 on_success=self._saved, on_failure=self._save_failed)

    def _saved(self, message: str) -> None:
        self.save_button.setEnabled(True)
        self.save_status.setText(message)
        self.reload()

    def _save_failed(self, failure: WorkerFailure) -> None:
        self.save_button.setEnabled(True)
        self.save_status.setText(str(failure.exception))

    @Slot()
    def _send_test(self) -> None:
        settings = self._form_settings()
        to = self.test_to_edit.text().strip()
        problems = settings.problems()
        if not is_valid_address(to):
            problems.append("Type the address to send the test email to.")
        if problems:
            self.server_status.setText(" ".join(problems))
            return
        self.test_button.setEnabled(False)
        self.server_status.setText(f"Sending a test email to {to}…")
        run_task("send the test email", run_test_email, self.context.engine,
                 self.context.credentials, settings, self.password_edit.text(), to,
                 parent=self, on_success=self._test_sent, on_failure=self._test_failed)

    def _test_sent(self, message: str) -> None:
        self.test_button.setEnabled(True)
        self.server_status.setText(message + " Press Save to keep these settings.")

    def _test_failed(self, failure: WorkerFailure) -> None:
        self.test_button.setEnabled(True)
        exc = failure.exception
        self.server_status.setText(exc.message if isinstance(exc, SendFailure) else str(exc))

    # --- templates ---------------------------------------------------------------------------
    def _template_key(self) -> str:
        return str(self.template_combo.currentData())

    @Slot()
    def _template_chosen(self) -> None:
        key = self._template_key()
        template = TEMPLATES[key]
        self.template_description.setText(template.description)
        self.names_label.setText("Names you can use: " + ", ".join(
            "{{ " + name + " }}" for name in template.example))
        self.template_status.clear()
        run_task("read the email wording", load_template, self.context.engine, key,
                 parent=self, on_success=self._show_template)

    def _show_template(self, template: EmailTemplate) -> None:
        if template.key != self._template_key():
            return
        self.subject_edit.setText(template.subject)
        self.body_edit.setPlainText(template.body)
        self.reset_template_button.setEnabled(template.customized)
        self._preview()

    @Slot()
    def _preview(self) -> None:
        run_task("preview the email", preview_email, self.context.engine, self._template_key(),
                 self.subject_edit.text(), self.body_edit.toPlainText(),
                 self.context.locale, parent=self, on_success=self.preview.show_preview)

    @Slot()
    def _save_template(self) -> None:
        run_task("save the email wording", save_and_preview, self.context.engine,
                 self._template_key(), self.subject_edit.text(), self.body_edit.toPlainText(),
                 parent=self, on_success=self._template_saved,
                 on_failure=self._template_failed)

    def _template_saved(self, preview: EmailPreview) -> None:
        self.preview.show_preview(preview)
        self.reset_template_button.setEnabled(True)
        self.template_status.setText("Saved. New emails use this wording.")

    def _template_failed(self, failure: WorkerFailure) -> None:
        exc = failure.exception
        self.template_status.setText(str(exc) if isinstance(exc, TemplateProblem | ValueError)
                                     else f"The wording was not saved: {exc}")

    @Slot()
    def _reset_template(self) -> None:
        run_task("reset the email wording", reset_and_load, self.context.engine,
                 self._template_key(), parent=self, on_success=self._template_reset)

    def _template_reset(self, template: EmailTemplate) -> None:
        self._show_template(template)
        self.template_status.setText("Back to PayDesk's wording.")

    # --- the log -----------------------------------------------------------------------------
    @Slot()
    def reload_log(self) -> None:
        run_task("read the email log", email_log, self.context.engine, parent=self,
                 on_success=self._show_log)

    def _show_log(self, rows: list[EmailLogRow]) -> None:
        self._log_rows = rows
        table = self.log_table
        table.setRowCount(len(rows))
        bold = QFont(table.font())
        bold.setBold(True)
        for r, row in enumerate(rows):
            when = datetime_text(row.sent_at or row.created_at)
            status = row.state_label
            if row.state == EmailState.PENDING and row.attempts:
                status = f"Will retry ({row.attempts} tries)"
            elif row.state == EmailState.SENT and self.mailbox is not None:
                status = "Delivered to the demo mailbox"
            values = (when, row.reason_label, row.to_address, row.subject, status)
            for c, value in enumerate(values):
                item = QTableWidgetItem(value)
                tip = row.last_error if row.state != EmailState.SENT else row.delivery_result
                if tip:
                    item.setToolTip(tip)
                if c == 4 and row.state == EmailState.FAILED:
                    item.setFont(bold)
                    item.setForeground(Qt.GlobalColor.darkRed)
                table.setItem(r, c, item)
        failed = sum(1 for r in rows if r.state == EmailState.FAILED)
        done, self._action_message = self._action_message, ""
        if done:
            self.log_status.setText(done)
        elif not rows:
            self.log_status.setText("No emails yet.")
        elif failed:
            first = next(r for r in rows if r.state == EmailState.FAILED)
            self.log_status.setText(f"{failed} failed. The newest: {first.last_error}")
        elif waiting := [r for r in rows if r.state == EmailState.PENDING and r.last_error]:
            self.log_status.setText(f"{len(waiting)} waiting to send: {waiting[0].last_error}")
        else:
            self.log_status.setText("")
        self._update_log_buttons()

    def _selected_failed(self) -> list[int]:
        rows = {index.row() for index in self.log_table.selectionModel().selectedRows()}
        return [self._log_rows[r].id for r in sorted(rows)
                if r < len(self._log_rows) and self._log_rows[r].state == EmailState.FAILED]

    def _selected_rows(self) -> list[EmailLogRow]:
        rows = {index.row() for index in self.log_table.selectionModel().selectedRows()}
        return [self._log_rows[r] for r in sorted(rows) if r < len(self._log_rows)]

    @Slot()
    def _update_log_buttons(self) -> None:
        failed = bool(self._selected_failed())
        self.retry_button.setEnabled(failed)
        self.dismiss_button.setEnabled(failed)
        sent = [r for r in self._selected_rows() if r.state == EmailState.SENT]
        self.show_received_button.setEnabled(len(sent) == 1)

    @Slot()
    def _show_received(self) -> None:
        sent = [r for r in self._selected_rows() if r.state == EmailState.SENT]
        if self.mailbox is None or len(sent) != 1:
            return
        received = self.mailbox.message_for_email(sent[0].id)
        if received is None:
            self.log_status.setText("The demo mailbox has no copy of this email (it was sent "
                                    "before this demo started).")
            return
        ReceivedEmailDialog(received, self).exec()

    @Slot()
    def _retry(self) -> None:
        ids = self._selected_failed()
        if ids:
            self.log_status.setText("Sending…")
            run_task("send the emails again", retry_and_send, self.context.engine,
                     self.context.credentials, ids, parent=self, on_success=self._log_done)

    @Slot()
    def _dismiss(self) -> None:
        ids = self._selected_failed()
        if ids:
            run_task("dismiss the emails", dismiss_emails, self.context.engine, ids,
                     parent=self, on_success=self._dismissed)

    def _dismissed(self, count: int) -> None:
        self._log_done(f"Dismissed {count} email{'s' if count != 1 else ''}: PayDesk will not "
                       "send them.")

    def _log_done(self, message: str) -> None:
        """Show what Retry or Dismiss did once the log is read again."""
        self._action_message = message
        self.reload_log()


class ReceivedEmailDialog(QDialog):
    """What the demo mailbox received: the headers, the attachments and the text."""

    def __init__(self, received: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("receivedEmailDialog")
        self.setWindowTitle("Received by the demo mailbox")
        self.resize(640, 560)
        message = received.message
        lines = [f"{name}: {message[name]}" for name in ("From", "To", "Date", "Subject")
                 if message[name]]
        for filename, content_type, data in received.attachments():
            lines.append(f"Attached: {filename} ({content_type}, {len(data):,} bytes)")
        text = QPlainTextEdit("\n".join(lines) + "\n\n" + received.body())
        text.setObjectName("receivedEmailText")
        text.setReadOnly(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        if received.path is not None:
            open_button = buttons.addButton("Open in my mail program",
                                            QDialogButtonBox.ButtonRole.ActionRole)
            open_button.clicked.connect(lambda: QDesktopServices.openUrl(
                QUrl.fromLocalFile(str(received.path))))
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(buttons)


class EmailPreviewView(QFrame):
    """An email as the client would see it: From, To, Subject, attachment, message."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("emailPreview")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 12, 14, 12)
        layout.setSpacing(6)
        self.source = QLabel()
        self.source.setObjectName("areaSubtitle")
        self.source.setWordWrap(True)
        self.headers = QLabel()
        self.headers.setObjectName("emailPreviewHeaders")
        self.headers.setTextFormat(Qt.TextFormat.RichText)
        self.headers.setWordWrap(True)
        self.body = QPlainTextEdit()
        self.body.setObjectName("emailPreviewBody")
        self.body.setReadOnly(True)
        self.body.setMinimumHeight(200)
        layout.addWidget(self.source)
        layout.addWidget(self.headers)
        layout.addWidget(self.body, 1)

    def show_preview(self, preview: EmailPreview) -> None:
        import html

        esc = html.escape
        self.source.setText(f"Preview with {preview.source}")
        rows = [("From", preview.sender), ("To", preview.to),
                ("Subject", preview.subject or "—")]
        if preview.attachment:
            rows.append(("Attached", preview.attachment))
        self.headers.setText("<table cellspacing='0' cellpadding='2'>" + "".join(
            f"<tr><td style='color:#666; padding-right:10px'>{esc(k)}</td>"
            f"<td><b>{esc(v)}</b></td></tr>" if k == "Subject" else
            f"<tr><td style='color:#666; padding-right:10px'>{esc(k)}</td>"
            f"<td>{esc(v)}</td></tr>" for k, v in rows) + "</table>")
        self.body.setPlainText(preview.problem or preview.body)
