"""Overdue reminders: off by default, one email per invoice per schedule step (the latest step
reached), to the organization's contact, sent once through the outbox."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from sqlalchemy import Engine

from app.core.clock import utcnow
from app.core.config import set_internal_currency
from app.core.credentials import CredentialStore
from app.core.email import send_due_emails
from app.core.email.reminders import queue_overdue_reminders
from app.core.email.settings import (
    ReminderSchedule,
    SmtpSettings,
    save_reminder_schedule,
    save_smtp_settings,
)
from app.core.storage.engine import session_scope
from app.core.storage.models import Contact, Invoice, Organization
from app.sandbox.mailbox import DemoMailbox

TODAY = date(2026, 3, 20)


@pytest.fixture
def mailbox() -> Iterator[DemoMailbox]:
    with DemoMailbox() as box:
        yield box


def _seed(engine: Engine) -> None:
    set_internal_currency(engine, "USD")
    now = utcnow()
    with session_scope(engine) as s:
        s.add_all([
            Organization(id=1, name="Contoso Dental", synced_at=now),
            Organization(id=2, name="No Email Ltd", synced_at=now),
            Contact(id=10, organization_id=1, first_name="Maria", last_name="Lopez",
                    email="maria@contoso.example", is_active=True, synced_at=now),
        ])
        for invoice_id, org, due, status, balance in [
            (100, 1, TODAY - timedelta(days=3), "open", 120_000),      # step 1
            (101, 1, TODAY - timedelta(days=60), "partially_paid", 5_000),  # step 14 only
            (102, 1, TODAY - timedelta(days=10), "paid", 0),           # paid: none
            (103, 1, TODAY, "open", 9_900),                            # not overdue
            (104, 2, TODAY - timedelta(days=8), "open", 7_700),        # no contact
        ]:
            s.add(Invoice(id=invoice_id, organization_id=org, invoice_number=f"INV-{invoice_id}",
                          invoice_date=due - timedelta(days=30), due_date=due,
                          total_minor=max(balance, 1), balance_minor=balance, status=status,
                          synced_at=now))


def test_reminders_follow_the_schedule_once_per_step(engine: Engine, mailbox: DemoMailbox,
                                                     memory_keyring: object) -> None:
    _seed(engine)
    assert queue_overdue_reminders(engine, today=TODAY).queued == 0  # off by default

    save_reminder_schedule(engine, ReminderSchedule(enabled=True, days_overdue=(1, 7, 14)))
    report = queue_overdue_reminders(engine, today=TODAY)
    assert (report.queued, report.without_contact) == (2, 1)
    assert queue_overdue_reminders(engine, today=TODAY).queued == 0  # once per step

    save_smtp_settings(engine, SmtpSettings(host="127.0.0.1", port=mailbox.port,
                                            security="none",
                                            from_address="billing@northwind.example"))
    credentials = CredentialStore("reminders")
    assert send_due_emails(engine, credentials).sent == 2
    subjects = sorted(m.subject for m in mailbox.received)
    assert subjects == ["Reminder: invoice INV-100 is 3 days overdue",
                        "Reminder: invoice INV-101 is 60 days overdue"]
    body = next(m.body() for m in mailbox.received if "INV-100" in m.subject)
    assert "$1,200.00 is still open" in body and "Hello Maria Lopez" in body

    # Four days later invoice 100 reaches the 7-day step and 103 the 1-day step; 101 has had
    # its last.
    later = TODAY + timedelta(days=4)
    assert queue_overdue_reminders(engine, today=later).queued == 2
    assert send_due_emails(engine, credentials).sent == 2
    assert sorted(m.subject for m in mailbox.received[2:]) == [
        "Reminder: invoice INV-100 is 7 days overdue",
        "Reminder: invoice INV-103 is 4 days overdue"]
    assert queue_overdue_reminders(engine, today=TODAY + timedelta(days=5)).queued == 0


def test_schedule_days_are_checked() -> None:
    assert ReminderSchedule(enabled=True, days_overdue=()).problems()
    assert ReminderSchedule(enabled=True, days_overdue=(0,)).problems()
    assert not ReminderSchedule(enabled=True, days_overdue=(1, 30)).problems()
