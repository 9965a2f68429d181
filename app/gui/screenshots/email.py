"""Scenes for Settings › Email (app.gui.settings.email_section): the settings with the email
log after the payment scene's receipts went to a demo mailbox (one address refused), and the
receipt email's preview from the newest payment."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from app.core.email.sender import send_due_emails
from app.core.email.settings import (
    ReceiptEmailSettings,
    ReminderSchedule,
    SmtpSettings,
    save_receipt_settings,
    save_reminder_schedule,
    save_smtp_settings,
)
from app.core.receipt_identity import ReceiptIdentity, save_receipt_identity
from app.gui.screenshots import ScreenshotSession, register_screen, settle
from app.gui.screenshots.payments import payment_scene
from app.gui.settings.email_section import EmailSection
from app.sandbox.mailbox import DemoMailbox

SIZE = (1180, 1760)
_ready: set[int] = set()


def _email_scene(session: ScreenshotSession) -> None:
    """The payment scene's payments queue their receipts; they go to a demo mailbox, with the
    first address refused as a mail server would refuse an unknown mailbox."""
    if id(session) in _ready:
        return
    _ready.add(id(session))
    save_receipt_identity(session.engine, ReceiptIdentity(
        "Northwind IT Services", "200 Harbor Way, Suite 4\nSpringfield, IL 62701"))
    save_receipt_settings(session.engine, ReceiptEmailSettings(test_payments=True))
    payment_scene(session)
    mailbox = DemoMailbox().start()
    holder = session.keep(QWidget())
    holder.destroyed.connect(mailbox.stop)
    save_smtp_settings(session.engine, SmtpSettings(
        host="127.0.0.1", port=mailbox.port, security="none",
        from_address="billing@northwind.example", from_name="Northwind IT Services"))
    save_reminder_schedule(session.engine, ReminderSchedule(enabled=True,
                                                            days_overdue=(3, 10, 30)))
    mailbox.refuse_next("550 5.1.1 Mailbox unavailable: no such user", stage="rcpt")
    send_due_emails(session.engine, session.credentials)


def email_settings(session: ScreenshotSession) -> QWidget:
    _email_scene(session)
    section = EmailSection(session.context)
    section.setObjectName("areaPage")
    session.keep(section)
    section.resize(*SIZE)
    section.show()
    settle()
    return section


def email_preview(session: ScreenshotSession) -> QWidget:
    _email_scene(session)
    section = EmailSection(session.context)
    session.keep(section)
    section.resize(1180, 900)
    section.show()
    settle()
    return section.preview


register_screen("settings-email", email_settings, size=SIZE)
register_screen("settings-email-preview", email_preview, size=(560, 520))


def invoice_page_pay_link(session: ScreenshotSession) -> QWidget:
    """An invoice whose pay link was emailed: the line under its title says so."""
    from sqlalchemy import select

    from app.core.email.pay_links import queue_pay_link_email
    from app.core.payments import (
        PaymentPipeline,
        PaymentRequest,
        compute_order_summary,
        load_payable_invoices,
    )
    from app.core.storage.engine import session_scope
    from app.core.storage.models import Contact

    _email_scene(session)
    scene = payment_scene(session)
    organization_id = scene.organizations[0]
    invoice_id = scene.invoices[organization_id][0]
    currency = session.context.currency() or "USD"
    summary = compute_order_summary(load_payable_invoices(session.engine, [invoice_id],
                                                          currency), currency=currency)
    with session_scope(session.engine) as s:
        contact_id, address = s.execute(
            select(Contact.id, Contact.email).where(Contact.organization_id == organization_id,
                                                    Contact.email.is_not(None))
            .order_by(Contact.id).limit(1)).one()
    hosted = PaymentPipeline(session.engine, scene.gateway).start_hosted_payment(
        PaymentRequest.from_summary(summary, organization_id=organization_id,
                                    payment_method_id=None, contact_id=contact_id),
        purpose="pay_link")
    queue_pay_link_email(session.engine, hosted.payment_id, str(address),
                         "As discussed on the phone, here is the link for the March invoice.")
    send_due_emails(session.engine, session.credentials)
    window = session.main_window(area="invoices")
    area = window.show_area("invoices")  # type: ignore[attr-defined]
    area.open_invoice(invoice_id)
    return window


register_screen("invoice-page-pay-link", invoice_page_pay_link, late=True)


def pay_link_email_dialog(session: ScreenshotSession) -> QWidget:
    """Email pay link… from the invoice page, filled in, before Send."""
    from app.core.money import Money
    from app.gui.email_pay_links import PayLinkEmailDialog

    _email_scene(session)
    scene = payment_scene(session)
    organization_id = scene.organizations[0]
    invoice_id = scene.invoices[organization_id][-1]
    from app.core.storage.engine import session_scope
    from app.core.storage.models import Invoice

    with session_scope(session.engine) as s:
        invoice = s.get(Invoice, invoice_id)
        assert invoice is not None
        balance = Money(invoice.balance_minor, session.context.currency() or "USD")
        number = invoice.invoice_number
    dialog = PayLinkEmailDialog(session.context, invoice=(organization_id, invoice_id, balance),
                                invoice_label=f"Invoice {number}")
    session.keep(dialog)
    dialog.message_edit.setPlainText("As discussed, here is the link for the March invoice.")
    dialog.show()
    settle()
    return dialog


register_screen("pay-link-email-dialog", pay_link_email_dialog, size=(560, 360),
                late=True)
