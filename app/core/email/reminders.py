"""Reminders for overdue invoices, on the schedule the MSP sets (off by default).

Each step of the schedule is a number of days after the due date (``1, 7, 14``). An invoice
with money still owed gets **one** email for the latest step it has reached, keyed
``reminder:<invoice>:<due date>:<step>`` — so a round run twice, or by two seats, sends it once;
an invoice already 60 days overdue when reminders are switched on gets one reminder, not three;
and a due date moved in Autotask starts the steps again.

Who it goes to: the contact who paid the organization's most recent payment, otherwise the
organization's first active contact with an email address (Autotask's order). An organization
with no contact email gets no reminder; :class:`ReminderReport` counts them so the settings
screen can say so.

Threads: blocks on the database; run it on a worker thread.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.core.clock import today_utc
from app.core.config import get_internal_currency
from app.core.email.outbox import queue_email
from app.core.email.settings import ReminderSchedule, is_valid_address, load_reminder_schedule
from app.core.email.templates import long_date
from app.core.money import Money
from app.core.storage.engine import session_scope
from app.core.storage.models import Contact, Invoice, Organization, OutboxEmail, Payment, Setting

__all__ = ["ReminderReport", "queue_overdue_reminders", "reminder_step"]


@dataclass(frozen=True, slots=True)
class ReminderReport:
    queued: int = 0
    without_contact: int = 0


def reminder_step(schedule: ReminderSchedule, due: date, today: date) -> int | None:
    """The latest step (days overdue) an invoice due on ``due`` has reached, or None."""
    overdue = (today - due).days
    reached = [d for d in schedule.days_overdue if d <= overdue]
    return max(reached) if reached else None


def _company_name(engine: Engine) -> str:
    with session_scope(engine) as session:
        row = session.get(Setting, "receipts.company")
        raw = row.value.get("v") if row is not None else None
    name = raw.get("name") if isinstance(raw, dict) else None
    return str(name) if name else ""


def queue_overdue_reminders(engine: Engine, *, today: date | None = None,
                            locale: str = "en_US", limit: int = 5_000) -> ReminderReport:
    """Queue the reminders due today (nothing when reminders are off)."""
    schedule = load_reminder_schedule(engine)
    currency = get_internal_currency(engine)
    if not schedule.enabled or not schedule.days_overdue or currency is None:
        return ReminderReport()
    today = today or today_utc()
    latest_due = today - timedelta(days=min(schedule.days_overdue))
    company = _company_name(engine)
    queued = without = 0
    with session_scope(engine) as session:
        invoices = session.execute(
            select(Invoice.id, Invoice.organization_id, Invoice.invoice_number,
                   Invoice.invoice_date, Invoice.due_date, Invoice.balance_minor)
            .where(Invoice.status.in_(("open", "partially_paid")),
                   Invoice.is_voided.is_(False),
                   Invoice.balance_minor > 0,
                   Invoice.due_date.is_not(None),
                   Invoice.due_date <= latest_due)
            .order_by(Invoice.due_date, Invoice.id).limit(limit)).all()
        if not invoices:
            return ReminderReport()
        wanted: dict[str, tuple[int, int]] = {}
        for row in invoices:
            step = reminder_step(schedule, row.due_date, today)
            if step is not None:
                wanted[f"reminder:{row.id}:{row.due_date.isoformat()}:{step}"] = (row.id, step)
        done = set(session.scalars(select(OutboxEmail.dedupe_key).where(
            OutboxEmail.invoice_id.in_([i for i, _ in wanted.values()]),
            OutboxEmail.reason == "reminder")))
        todo = {key: value for key, value in wanted.items() if key not in done}
        if not todo:
            return ReminderReport()
        by_id = {row.id: row for row in invoices}
        organizations = {by_id[i].organization_id for i, _ in todo.values()}
        recipients = reminder_recipients(session, organizations)
        names = dict(session.execute(select(Organization.id, Organization.name)
                                     .where(Organization.id.in_(organizations))).all())
        for key, (invoice_id, step) in todo.items():
            row = by_id[invoice_id]
            recipient = recipients.get(row.organization_id)
            if recipient is None:
                without += 1
                continue
            address, contact_name = recipient
            context = {
                "company_name": company, "organization": names.get(row.organization_id, ""),
                "contact_name": contact_name, "invoice_number": row.invoice_number or str(row.id),
                "invoice_date": long_date(row.invoice_date, locale) if row.invoice_date
                else "", "due_date": long_date(row.due_date, locale),
                "balance": Money(row.balance_minor, currency).format(locale),
                "days_overdue": str((today - row.due_date).days), "step": str(step),
            }
            if queue_email(session, reason="reminder", dedupe_key=key, to=address,
                           template="overdue_reminder", context=context,
                           organization_id=row.organization_id, invoice_id=invoice_id):
                queued += 1
    return ReminderReport(queued=queued, without_contact=without)


def reminder_recipients(session: Session, organizations: set[int]) -> dict[int, tuple[str, str]]:
    """Organization id → (address, name): the last payer with an address, else the first
    active contact with one."""
    contacts: dict[int, list[Contact]] = defaultdict(list)
    for contact in session.scalars(select(Contact).where(
            Contact.organization_id.in_(organizations), Contact.email.is_not(None))
            .order_by(Contact.id)):
        if contact.email and is_valid_address(contact.email):
            contacts[contact.organization_id].append(contact)
    last_payer: dict[int, int] = {}
    for organization_id, contact_id in session.execute(
            select(Payment.organization_id, Payment.contact_id)
            .where(Payment.organization_id.in_(organizations), Payment.contact_id.is_not(None))
            .order_by(Payment.created_at)):
        if contact_id is not None:
            last_payer[organization_id] = contact_id
    found: dict[int, tuple[str, str]] = {}
    for organization_id in organizations:
        choices = contacts.get(organization_id, [])
        payer = next((c for c in choices if c.id == last_payer.get(organization_id)), None)
        active = next((c for c in choices if c.is_active), None)
        chosen = payer or active
        if chosen is not None and chosen.email:
            name = " ".join(x for x in (chosen.first_name, chosen.last_name) if x) or "there"
            found[organization_id] = (chosen.email, name)
    return found
