"""Email: the MSP's mail server, templates, and a durable outbox that is also the email log.

* :func:`queue_email` — record an email in the caller's transaction (unique ``dedupe_key``:
  nothing is sent twice for the same reason).
* :func:`send_due_emails` — send what is due (background upkeep, ``paydesk email send``),
  retrying temporary failures with backoff and leaving the rest for a person
  (:func:`retry_emails`, :func:`dismiss_emails`).
* :mod:`~app.core.email.settings` — SMTP settings (password in the keychain only), receipts
  on/off, the reminder schedule; :mod:`~app.core.email.templates` — the editable wording.
"""

from app.core.email.outbox import (
    Attachment,
    EmailLogRow,
    EmailState,
    FileAttachment,
    ReceiptAttachment,
    dismiss_emails,
    email_log,
    queue_email,
    retry_emails,
)
from app.core.email.sender import EmailSendReport, SendFailure, send_due_emails, send_test_email

__all__ = [
    "Attachment",
    "EmailLogRow",
    "EmailSendReport",
    "EmailState",
    "FileAttachment",
    "ReceiptAttachment",
    "SendFailure",
    "dismiss_emails",
    "email_log",
    "queue_email",
    "retry_emails",
    "send_due_emails",
    "send_test_email",
]
