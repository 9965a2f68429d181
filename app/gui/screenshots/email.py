"""Scenes for Settings › Email (app.gui.settings.email_section): the settings with the email
log after the payment scene's receipts went to a demo mailbox (one address refused), and the
receipt email's preview from the newest payment."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from app.core.email.sender import send_due_emails
from app.core.email.settings import (
    ReminderSchedule,
    SmtpSettings,
    save_reminder_schedule,
    save_smtp_settings,
)
from app.core.receipt_identity import ReceiptIdentity, save_receipt_identity
from app.gui.screenshots import ScreenshotSession, register_screen, settle
from app.gui.screenshots.payments import payment_scene
from app.gui.settings.email_section import EmailSection
from app.sandbox.mailbox import DemoMailbox

SIZE = (1180, 1500)
_ready: set[int] = set()


def _email_scene(session: ScreenshotSession) -> None:
    """The payment scene's payments queue their receipts; they go to a demo mailbox, with the
    first address refused as a mail server would refuse an unknown mailbox."""
    if id(session) in _ready:
        return
    _ready.add(id(session))
    save_receipt_identity(session.engine, ReceiptIdentity(
        "Northwind IT Services", "200 Harbor Way, Suite 4\nSpringfield, IL 62701"))
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
