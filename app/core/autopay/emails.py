"""AutoPay's two emails to the client, through the durable email outbox
(:func:`app.core.email.queue_email`, in the caller's transaction; a unique ``dedupe_key``
means nothing is sent twice for the same reason, by two seats or a rerun):

* a reminder ``reminder_days`` (``autopay.defaults``) before an AutoPay charge or a scheduled
  payment, with the amount, the method and how to change it (template ``autopay_upcoming``),
  keyed by the charge (rule, invoice, attempt / scheduled payment) — once per charge;
* a notice when an AutoPay charge or a scheduled payment is declined, with the reason in the
  client's words and the next try if there is one (template ``autopay_failed``), keyed by the
  attempt.

Who gets them: the person who signed the AutoPay authorization, when they left an address;
otherwise the organization's usual contact for reminders (the last payer, else the first
active contact with an address). No address: nothing is queued.

Threads: the database only; runs inside the AutoPay run (a worker thread or the CLI).
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.core.autopay.plan import PlannedCharge, plan_charges
from app.core.email import queue_email
from app.core.email.receipts import invoice_words
from app.core.email.reminders import reminder_recipients
from app.core.email.settings import is_valid_address
from app.core.email.templates import long_date
from app.core.money import Money
from app.core.receipt_identity import load_receipt_identity
from app.core.storage.engine import session_scope
from app.core.storage.models import (
    AutoPayAttempt,
    AutoPayAuthorization,
    AutoPayRule,
    Invoice,
    Payment,
    ScheduledPayment,
)

__all__ = ["client_reason", "company_name", "queue_failed_email", "queue_upcoming_reminders"]


def client_reason(message: str | None) -> str:
    """The gateway's decline in words for the client: its first sentence, without the
    advice meant for the bookkeeper ("the card was declined for insufficient funds")."""
    text = (message or "the payment was declined").strip()
    first = text.split(". ")[0].rstrip(".")
    return first[:1].lower() + first[1:] if first else "the payment was declined"


def _recipient(session: Session, organization_id: int,
               rule_id: int | None) -> tuple[str, str] | None:
    if rule_id is not None:
        row = session.execute(
            select(AutoPayAuthorization.signer_email, AutoPayAuthorization.signer_name)
            .join(AutoPayRule, AutoPayRule.authorization_id == AutoPayAuthorization.id)
            .where(AutoPayRule.id == rule_id)).first()
        if row is not None and row[0] and is_valid_address(row[0]):
            return str(row[0]), str(row[1])
    return reminder_recipients(session, {organization_id}).get(organization_id)


def company_name(engine: Engine) -> str:
    """Who the emails come from (the receipts' company name)."""
    return load_receipt_identity(engine).name or "PayDesk"


def queue_upcoming_reminders(engine: Engine, today: date, days_ahead: int, *,
                             company: str, locale: str = "en_US") -> int:
    """Queue the reminders of the charges due in the next ``days_ahead`` days (after
    today); returns how many were queued now (0 when they were queued before)."""
    if days_ahead <= 0:
        return 0
    queued = 0
    with session_scope(engine) as s:
        planned, _ = plan_charges(s, today, today + timedelta(days=days_ahead))
        for item in planned:
            if item.blocked or item.charge_on <= today or item.kind == "retry":
                continue
            if _queue_reminder(s, item, company, locale):
                queued += 1
    return queued


def _queue_reminder(s: Session, item: PlannedCharge, company: str, locale: str) -> bool:
    recipient = _recipient(s, item.organization_id, item.rule_id)
    if recipient is None:
        return False
    address, name = recipient
    if item.scheduled_id is not None:
        key = f"autopay-upcoming:scheduled:{item.scheduled_id}"
    else:
        invoice_id = item.invoices[0][0]
        key = f"autopay-upcoming:{item.rule_id}:{invoice_id}:{item.attempt_no}"
    context = {
        "company_name": company, "organization": item.organization_name,
        "contact_name": name or "there", "amount": item.amount.format(locale),
        "method": item.method_summary, "charge_date": long_date(item.charge_on, locale),
        "invoices": invoice_words([number for _, number, _ in item.invoices]),
    }
    return queue_email(
        s, reason="autopay_upcoming", dedupe_key=key, to=address, template="autopay_upcoming",
        context=context, organization_id=item.organization_id,
        invoice_id=item.invoices[0][0] if len(item.invoices) == 1 else None) is not None


def queue_failed_email(s: Session, row: AutoPayAttempt | ScheduledPayment, payment: Payment,
                       charged_on: date, next_try: date | None, *, company: str,
                       locale: str = "en_US") -> bool:
    """Queue the client's notice of a declined AutoPay charge, in the caller's transaction."""
    rule_id = row.rule_id if isinstance(row, AutoPayAttempt) else None
    recipient = _recipient(s, payment.organization_id, rule_id)
    if recipient is None:
        return False
    address, name = recipient
    if isinstance(row, AutoPayAttempt):
        ids = [row.invoice_id]
        key = f"autopay-failed:attempt:{row.id}"
    else:
        ids = [int(i) for i in row.allocations]
        key = f"autopay-failed:scheduled:{row.id}:{payment.id}"
    numbers = s.scalars(select(Invoice.invoice_number).where(Invoice.id.in_(ids))).all()
    context = {
        "company_name": company or "PayDesk", "contact_name": name or "there",
        "amount": Money(payment.total_minor, payment.currency).format(locale),
        "method": payment.method_summary or "your saved payment method",
        "invoices": invoice_words(list(numbers)),
        "charge_date": long_date(charged_on, locale),
        "reason": client_reason(payment.failure_message),
        "next_attempt": long_date(next_try, locale) if next_try else "",
    }
    return queue_email(
        s, reason="autopay_failed", dedupe_key=key, to=address, template="autopay_failed",
        context=context, organization_id=payment.organization_id, payment_id=payment.id,
        invoice_id=ids[0] if len(ids) == 1 else None) is not None
