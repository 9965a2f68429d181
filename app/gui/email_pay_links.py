"""Email a pay link: the dialog opened from the Order Summary's "Email link…" and the invoice
page's "Email pay link…", and the invoice page's line saying what became of its pay links.

From the Order Summary the link exists already (``payment_id``). From the invoice page the
dialog makes one for the amount typed (the invoice's balance by default) through the payment
pipeline, then emails it — only when the connected gateway's pay page can be opened from any
browser (``shareable_pay_links``; Authorize.Net's cannot, and the dialog says why). The email
goes through the outbox (the email log records it) and is sent at once when the mail server
answers. Reads and writes run in workers. GUI thread.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from functools import partial
from urllib.parse import quote

from PySide6.QtCore import QObject, Qt, QUrl, Slot
from PySide6.QtGui import QAction, QDesktopServices
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import Engine

from app.core.credentials import CredentialStore
from app.core.email.pay_links import (
    NOT_SHAREABLE,
    OPENED_UNKNOWN,
    PayLinkDraft,
    PayLinkState,
    organization_email_contacts,
    pay_link_draft,
    pay_link_states,
    queue_pay_link_email,
)
from app.core.email.sender import send_due_emails
from app.core.email.settings import load_smtp_settings
from app.core.gateways.protocol import PaymentGateway
from app.core.gateways.providers import get_provider
from app.core.money import Money
from app.gui.context import AppContext
from app.gui.workers import WorkerFailure, run_task

__all__ = ["PayLinkEmailDialog", "install_invoice_page_pay_link_email",
           "open_pay_link_email"]


def _send(engine: Engine, credentials: CredentialStore, payment_id: int, to: str,
          message: str, locale: str) -> str:
    """Queue, then try to send now (worker thread). Returns the sentence to show."""
    queue_pay_link_email(engine, payment_id, to, message, locale)
    report = send_due_emails(engine, credentials)
    if report.problem:
        return (f"The email to {to} is queued; PayDesk will send it when the mail server "
                f"answers. {report.problem}")
    return f"The pay link was emailed to {to}."


def _make_link(engine: Engine, gateway: PaymentGateway, organization_id: int,
               invoice_id: int, amount: str, currency: str, locale: str) -> PayLinkDraft:
    """Make a pay link for ``amount`` of the invoice (worker thread)."""
    from app.core.payments import (
        PaymentPipeline,
        PaymentRequest,
        compute_order_summary,
        load_payable_invoices,
    )

    invoices = load_payable_invoices(engine, [invoice_id], currency)
    summary = compute_order_summary(invoices, currency=currency, amount=amount, locale=locale)
    if not summary.can_pay:
        raise ValueError(summary.error or "This amount cannot be paid.")
    request = PaymentRequest.from_summary(summary, organization_id=organization_id,
                                          payment_method_id=None)
    hosted = PaymentPipeline(engine, gateway).start_hosted_payment(request, purpose="pay_link")
    return pay_link_draft(engine, hosted.payment_id, locale)


def _contacts_and_readiness(engine: Engine, organization_id: int
                            ) -> tuple[tuple[tuple[str, str], ...], bool]:
    """The organization's email contacts, and whether a mail server is set up (worker)."""
    return (organization_email_contacts(engine, organization_id),
            load_smtp_settings(engine).configured)


class PayLinkEmailDialog(QDialog):
    """See the module docstring. Give ``payment_id`` (a link that exists) or
    ``invoice`` = (organization id, invoice id, balance) to make one."""

    def __init__(self, context: AppContext, parent: QWidget | None = None, *,
                 payment_id: int | None = None,
                 invoice: tuple[int, int, Money] | None = None,
                 invoice_label: str = "") -> None:
        super().__init__(parent)
        self.setObjectName("payLinkEmailDialog")
        self.setWindowTitle("Email a pay link")
        self.setMinimumWidth(520)
        self.context = context
        self.invoice = invoice
        self.draft: PayLinkDraft | None = None
        self._invoice_words = ""

        self.intro = QLabel()
        self.intro.setWordWrap(True)
        self.amount_edit = QLineEdit()
        self.amount_edit.setObjectName("payLinkAmount")
        self.to_combo = QComboBox()
        self.to_combo.setObjectName("payLinkTo")
        self.to_combo.setEditable(True)
        self.message_edit = QPlainTextEdit()
        self.message_edit.setObjectName("payLinkMessage")
        self.message_edit.setPlaceholderText("A line for the client (optional)")
        self.message_edit.setMaximumHeight(90)
        form = QFormLayout()
        self.amount_label = QLabel("Amount")
        form.addRow(self.amount_label, self.amount_edit)
        form.addRow("To", self.to_combo)
        form.addRow("Message", self.message_edit)
        self.status = QLabel()
        self.status.setObjectName("payLinkStatus")
        self.status.setWordWrap(True)
        self.buttons = QDialogButtonBox()
        self.send_button = QPushButton("Send")
        self.send_button.setObjectName("sendPayLinkButton")
        self.send_button.setDefault(True)
        self.mail_program_button = QPushButton("Open in my mail program")
        self.mail_program_button.setObjectName("mailProgramButton")
        self.buttons.addButton(self.send_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(self.mail_program_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.mail_program_button.setVisible(False)  # after addButton, which shows it
        self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.buttons.rejected.connect(self.reject)
        self.send_button.clicked.connect(self._send)
        self.mail_program_button.clicked.connect(self._open_mail_program)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)

        if payment_id is not None:
            self.amount_edit.setReadOnly(True)
            self.send_button.setEnabled(False)
            self.intro.setText("Reading the pay link…")
            run_task("read the pay link", pay_link_draft, context.engine, payment_id,
                     context.locale, parent=self, on_success=self._show_draft)
        elif invoice is not None:
            _org, _invoice_id, balance = invoice
            self.amount_edit.setText(str(balance.to_decimal()))
            self.amount_label.setText(f"Amount ({balance.currency})")
            self._invoice_words = (f"{invoice_label or 'This invoice'} has "
                                   f"{balance.format(context.locale)} to pay. ")
            self._check_gateway()
            run_task("read the contacts", _contacts_and_readiness, context.engine, _org,
                     parent=self, on_success=self._show_invoice_contacts)
        else:
            raise ValueError("a payment or an invoice is needed")

    def _check_gateway(self) -> None:
        gateway = self.context.services.gateway
        # The account key names the provider: "stripe:test:acct_…".
        provider = (get_provider(str(gateway.account_key).split(":", 1)[0])
                    if gateway is not None else None)
        if gateway is None:
            self._refuse("No payment gateway is connected. Run Setup… to connect one.")
            return
        if provider is not None and not provider.shareable_pay_links:
            self._refuse(NOT_SHAREABLE(provider.name))
            return
        self.intro.setText(self._invoice_words + "PayDesk makes a secure payment page for the "
                           "amount below on the gateway and emails its link. The invoice is "
                           "updated when the client pays. " + OPENED_UNKNOWN)

    def _refuse(self, text: str) -> None:
        self.intro.setText(text)
        self.send_button.setEnabled(False)
        self.amount_edit.setEnabled(False)

    def _show_invoice_contacts(self, found: tuple[tuple[tuple[str, str], ...], bool]) -> None:
        contacts, email_ready = found
        self._show_contacts(contacts)
        if not email_ready:
            self._refuse(self._invoice_words + "Email is not set up yet: set up the mail "
                         "server under Settings › Email first. (Pay… can also make a pay link "
                         "to copy into your own email.)")

    def _show_contacts(self, contacts: tuple[tuple[str, str], ...],
                       default_to: str = "") -> None:
        current = self.to_combo.currentText()
        self.to_combo.clear()
        for name, address in contacts:
            self.to_combo.addItem(f"{address}" if not name else f"{name} <{address}>", address)
        index = self.to_combo.findData(default_to)
        if index >= 0:
            self.to_combo.setCurrentIndex(index)
        if current:
            self.to_combo.setEditText(current)

    def _show_draft(self, draft: PayLinkDraft) -> None:
        self.draft = draft
        self.amount_edit.setText(draft.amount)
        self._show_contacts(draft.contacts, draft.default_to)
        sent = (f" Already emailed to {', '.join(draft.already_sent_to)}."
                if draft.already_sent_to else "")
        self.intro.setText(f"Pay link {draft.reference} for {draft.amount} ({draft.invoices}) "
                           f"of {draft.organization}.{sent} {OPENED_UNKNOWN}")
        if draft.problem:
            self.status.setText(draft.problem)
            self.send_button.setEnabled(False)
            self.mail_program_button.setVisible(bool(draft.link) and not draft.email_ready)
        else:
            self.send_button.setEnabled(True)

    def _address(self) -> str:
        data = self.to_combo.currentData()
        text = self.to_combo.currentText().strip()
        if data and text == self.to_combo.itemText(self.to_combo.currentIndex()):
            return str(data)
        return text.split("<")[-1].rstrip(">").strip()

    @Slot()
    def _send(self) -> None:
        to = self._address()
        if not to:
            self.status.setText("Choose or type the address to send the link to.")
            return
        self.send_button.setEnabled(False)
        message = self.message_edit.toPlainText()
        if self.draft is not None:
            self.status.setText("Sending…")
            run_task("email the pay link", _send, self.context.engine, self.context.credentials,
                     self.draft.payment_id, to, message, self.context.locale, parent=self,
                     on_success=self._sent, on_failure=self._failed)
            return
        assert self.invoice is not None
        gateway = self.context.services.gateway
        if gateway is None:
            return
        organization_id, invoice_id, balance = self.invoice
        try:
            amount = Decimal(self.amount_edit.text().replace(",", "").strip())
        except InvalidOperation:
            self.status.setText("Type the amount as a number, for example 250.00.")
            self.send_button.setEnabled(True)
            return
        self.status.setText("Making the pay link…")
        run_task("make the pay link", _make_link, self.context.engine, gateway,
                 organization_id, invoice_id, str(amount), balance.currency,
                 self.context.locale, parent=self,
                 on_success=partial(self._made, to, message), on_failure=self._failed)

    def _made(self, to: str, message: str, draft: PayLinkDraft) -> None:
        self.draft = draft
        self.amount_edit.setReadOnly(True)
        self.context.changes().announce_payments([draft.payment_id])
        if draft.problem:
            self.status.setText(draft.problem)
            self.mail_program_button.setVisible(bool(draft.link) and not draft.email_ready)
            return
        self.status.setText("Sending…")
        run_task("email the pay link", _send, self.context.engine, self.context.credentials,
                 draft.payment_id, to, message, self.context.locale, parent=self,
                 on_success=self._sent, on_failure=self._failed)

    def _sent(self, text: str) -> None:
        self.status.setText(text)
        self.send_button.setVisible(False)

    def _failed(self, failure: WorkerFailure) -> None:
        self.status.setText(str(failure.exception))
        self.send_button.setEnabled(True)

    @Slot()
    def _open_mail_program(self) -> None:
        draft = self.draft
        if draft is None:
            return
        subject = f"Pay {draft.amount} online"
        body = (f"Hello,\n\n{self.message_edit.toPlainText().strip()}\n\nYou can pay "
                f"{draft.amount} for {draft.invoices} securely at this link:\n\n{draft.link}"
                "\n\nThank you.")
        QDesktopServices.openUrl(QUrl(
            f"mailto:{quote(self._address())}?subject={quote(subject)}&body={quote(body)}"))


def open_pay_link_email(parent: QWidget, context: AppContext, payment_id: int
                        ) -> PayLinkEmailDialog:
    """The dialog for an existing pay link (the Order Summary's "Email link…")."""
    dialog = PayLinkEmailDialog(context, parent, payment_id=payment_id)
    dialog.show()
    return dialog


# --- the invoice page ------------------------------------------------------------------------


class _InvoicePagePayLinks(QObject):
    """"Email pay link…" on the invoice page, and the line about its pay links."""

    def __init__(self, page: QWidget, context: AppContext) -> None:
        super().__init__(page)
        self.page = page
        self.context = context
        self._ticket = 0
        self.action = QAction("Email pay link…", page)
        self.action.setObjectName("emailPayLinkAction")
        self.action.setIconText("Email pay link…")
        self.action.triggered.connect(self.open_dialog)
        bar = getattr(page, "actions_bar", None)
        if isinstance(bar, QHBoxLayout):
            # Right after Pay… (the first action), before the page's own ones.
            button = QToolButton()
            button.setObjectName("emailPayLinkButton")
            button.setDefaultAction(self.action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            bar.insertWidget(min(1, bar.count()), button)
        self.label = QLabel(page)
        self.label.setObjectName("payLinkStates")
        self.label.setWordWrap(True)
        self.label.setVisible(False)
        layout = page.layout()
        if isinstance(layout, QVBoxLayout):
            layout.insertWidget(1, self.label)
        self.dialog: PayLinkEmailDialog | None = None

    @Slot(int)
    def invoice_shown(self, invoice_id: int) -> None:
        detail = getattr(self.page, "detail", None)
        row = getattr(detail, "row", None)
        gateway = self.context.services.gateway
        provider = (get_provider(str(gateway.account_key).split(":", 1)[0])
                    if gateway is not None else None)
        if not getattr(row, "is_payable", False):
            self.action.setEnabled(False)
            self.action.setToolTip("This invoice has nothing left to pay.")
        elif gateway is None:
            self.action.setEnabled(False)
            self.action.setToolTip("Connect a payment gateway (Setup…) to email pay links.")
        elif provider is not None and not provider.shareable_pay_links:
            self.action.setEnabled(False)
            self.action.setToolTip(NOT_SHAREABLE(provider.name))
        else:
            self.action.setEnabled(True)
            self.action.setToolTip("Email the client a link to pay this invoice online")
        self._ticket += 1
        run_task("read the invoice's pay links", pay_link_states, self.context.engine,
                 invoice_id, self.context.locale, on_success=partial(self._show, self._ticket),
                 on_failure=lambda _failure: None)

    def _show(self, ticket: int, states: list[PayLinkState]) -> None:
        if ticket != self._ticket:
            return
        self.label.setText("\n".join(s.text for s in states[:3]))
        self.label.setVisible(bool(states))

    @Slot()
    def open_dialog(self) -> None:
        detail = getattr(self.page, "detail", None)
        row = getattr(detail, "row", None)
        if row is None or not getattr(row, "is_payable", False):
            return
        currency = self.context.currency() or "USD"
        balance = Money(int(row.balance_minor), currency)
        self.dialog = PayLinkEmailDialog(self.context, self.page.window(),
                                         invoice=(row.organization_id, row.id, balance),
                                         invoice_label=f"Invoice {row.invoice_number}")
        self.dialog.finished.connect(self._closed)
        self.dialog.show()

    @Slot()
    def _closed(self) -> None:
        reload = getattr(self.page, "reload", None)
        if callable(reload):
            reload()


def install_invoice_page_pay_link_email(page: QWidget, context: AppContext) -> None:
    """Extension for ``InvoicePage`` (``INVOICE_PAGE_EXTENSIONS``)."""
    extension = _InvoicePagePayLinks(page, context)
    shown = getattr(page, "invoiceShown", None)
    if shown is not None:
        shown.connect(extension.invoice_shown)
