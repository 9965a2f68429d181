"""One round of email upkeep: queue the overdue reminders that are due, then send what is due.

The window's background upkeep runs it every minute (reminders at most hourly), and
``paydesk email send`` runs it once for a scheduled task; both do the same thing.

Threads: blocks on the network and the database; never call it on the GUI thread.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from sqlalchemy import Engine

from app.core.credentials import CredentialStore
from app.core.email.reminders import ReminderReport, queue_overdue_reminders
from app.core.email.sender import EmailSendReport, send_due_emails

__all__ = ["EmailUpkeepReport", "run_email_upkeep"]


@dataclass(frozen=True, slots=True)
class EmailUpkeepReport:
    reminders: ReminderReport
    sending: EmailSendReport

    @property
    def summary(self) -> str:
        text = f"Email: {self.sending.summary}"
        if self.reminders.queued:
            text += f" {self.reminders.queued} overdue reminder(s) queued."
        if self.reminders.without_contact:
            text += (f" {self.reminders.without_contact} overdue invoice(s) have no contact "
                     "with an email address.")
        return text


def run_email_upkeep(engine: Engine, credentials: CredentialStore, *, reminders: bool = True,
                     ssl_context: ssl.SSLContext | None = None) -> EmailUpkeepReport:
    queued = queue_overdue_reminders(engine) if reminders else ReminderReport()
    return EmailUpkeepReport(queued, send_due_emails(engine, credentials,
                                                     ssl_context=ssl_context))
