"""The email outbox: every email is a row before it is sent, and the rows are the email log.

:func:`queue_email` adds a row in the caller's transaction — the one that records the payment,
the refund or the pay link — so an email exists exactly when the thing it tells about does.
Its ``dedupe_key`` is unique: queuing the same reason twice (a payment recorded by recovery
after the dialog already recorded it, two seats running reminders) keeps the first row and
sends once.

The sender (:mod:`app.core.email.sender`) claims due rows with one conditional UPDATE (so two
seats never send the same email), renders the template, sends, and records ``sent`` with the
server's answer. A temporary failure (the server busy, the network down, a 4xx reply) is
retried with backoff; a permanent one (a 5xx reply: no such mailbox; a template with a
mistake), or too many temporary ones, leaves the email ``failed`` for a person to Retry or
Dismiss, as with postings.

Threads: everything here blocks on the database; run it on a worker thread.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.clock import utcnow
from app.core.config import current_actor
from app.core.email.settings import is_valid_address
from app.core.email.templates import TEMPLATES
from app.core.storage.engine import session_scope
from app.core.storage.models import AuditEntry, OutboxEmail

__all__ = [
    "MAX_ATTEMPTS",
    "Attachment",
    "EmailLogRow",
    "EmailState",
    "FileAttachment",
    "ReceiptAttachment",
    "backoff_delay",
    "dismiss_emails",
    "email_log",
    "queue_email",
    "retry_emails",
]


class EmailState:
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    DISMISSED = "dismissed"

    LABELS: Mapping[str, str] = {
        "pending": "Waiting to send",
        "sending": "Sending",
        "sent": "Sent",
        "failed": "Failed",
        "dismissed": "Dismissed",
    }


REASON_LABELS: Mapping[str, str] = {
    "receipt": "Receipt",
    "refund_receipt": "Refund receipt",
    "pay_link": "Pay link",
    "reminder": "Overdue reminder",
    "autopay_upcoming": "AutoPay notice",
    "autopay_failed": "AutoPay failed",
    "test": "Test email",
}


@dataclass(frozen=True, slots=True)
class ReceiptAttachment:
    """The PDF receipt of a payment, made when the email is sent (so it shows the payment as
    it is then, refunds included)."""

    payment_id: int

    def to_json(self) -> dict[str, Any]:
        return {"kind": "payment_receipt", "payment_id": self.payment_id}


@dataclass(frozen=True, slots=True)
class FileAttachment:
    """A file attached as it is (kept in the database until sent: keep it small)."""

    filename: str
    content_type: str
    data: bytes

    def to_json(self) -> dict[str, Any]:
        return {"kind": "file", "filename": self.filename, "content_type": self.content_type,
                "data_base64": base64.b64encode(self.data).decode("ascii")}


Attachment = ReceiptAttachment | FileAttachment

MAX_ATTEMPTS = 6
BASE_DELAY = timedelta(minutes=1)
MAX_DELAY = timedelta(hours=2)
LEASE = timedelta(minutes=5)


def backoff_delay(attempts: int) -> timedelta:
    """Delay before the next try after ``attempts`` failed ones: 1 min doubling, ≤ 2 h."""
    seconds = BASE_DELAY.total_seconds() * (2 ** max(0, attempts - 1))
    return min(timedelta(seconds=seconds), MAX_DELAY)


def queue_email(
    session: Session,
    *,
    reason: str,
    dedupe_key: str,
    to: str,
    template: str,
    context: Mapping[str, object],
    attachments: Sequence[Attachment] = (),
    organization_id: int | None = None,
    payment_id: int | None = None,
    invoice_id: int | None = None,
    now: datetime | None = None,
) -> OutboxEmail | None:
    """Queue an email in the caller's transaction; ``None`` when ``dedupe_key`` was queued
    before (nothing is sent twice for the same reason).

    ``context`` is what the template's ``{{ names }}`` are filled with; it is stored as JSON,
    so give plain values (money already formatted: ``"$1,236.00"``). Raises ``ValueError``
    for an unknown template or an address that is not one — a programming or data mistake
    the caller should see, not a send failure.

    The insert runs in a savepoint, so a key another seat queued a moment ago leaves the
    caller's transaction intact.
    """
    if template not in TEMPLATES:
        raise ValueError(f"There is no email template {template!r}.")
    address = to.strip()
    if not is_valid_address(address):
        raise ValueError(f"{to!r} is not an email address.")
    if session.scalar(select(OutboxEmail.id).where(OutboxEmail.dedupe_key == dedupe_key)):
        return None
    now = now or utcnow()
    row = OutboxEmail(
        dedupe_key=dedupe_key, reason=reason, to_address=address, template=template,
        context=dict(context), attachments=[a.to_json() for a in attachments],
        organization_id=organization_id, payment_id=payment_id, invoice_id=invoice_id,
        state=EmailState.PENDING, attempts=0, next_attempt_at=now, created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    return row


# --- the email log ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EmailLogRow:
    """One email as the log shows it."""

    id: int
    created_at: datetime
    sent_at: datetime | None
    reason: str
    reason_label: str
    to_address: str
    subject: str
    state: str
    state_label: str
    attempts: int
    last_error: str | None
    delivery_result: str | None
    next_attempt_at: datetime | None
    invoice_id: int | None
    payment_id: int | None


def _row(email: OutboxEmail) -> EmailLogRow:
    template = TEMPLATES.get(email.template)
    return EmailLogRow(
        id=email.id, created_at=email.created_at, sent_at=email.sent_at, reason=email.reason,
        reason_label=REASON_LABELS.get(email.reason, email.reason.replace("_", " ").title()),
        to_address=email.to_address,
        subject=email.subject or (template.title if template else email.template),
        state=email.state, state_label=EmailState.LABELS.get(email.state, email.state),
        attempts=email.attempts, last_error=email.last_error,
        delivery_result=email.delivery_result, next_attempt_at=email.next_attempt_at,
        invoice_id=email.invoice_id, payment_id=email.payment_id,
    )


def email_log(engine: Engine, *, limit: int = 200, states: Sequence[str] | None = None,
              invoice_id: int | None = None, reason: str | None = None) -> list[EmailLogRow]:
    """The newest emails first (failed ones first of all when ``states`` is not given)."""
    with session_scope(engine) as session:
        query = select(OutboxEmail)
        if states:
            query = query.where(OutboxEmail.state.in_(list(states)))
        if invoice_id is not None:
            query = query.where(OutboxEmail.invoice_id == invoice_id)
        if reason is not None:
            query = query.where(OutboxEmail.reason == reason)
        query = query.order_by((OutboxEmail.state == EmailState.FAILED).desc(),
                               OutboxEmail.created_at.desc(), OutboxEmail.id.desc()).limit(limit)
        return [_row(e) for e in session.scalars(query)]


def _audit(session: Session, action: str, email_id: int, actor: str,
           details: Mapping[str, Any]) -> None:
    session.add(AuditEntry(at=utcnow(), actor=actor, action=action, subject_type="email",
                           subject_id=str(email_id), details=dict(details)))


def retry_emails(engine: Engine, email_ids: Sequence[int], actor: str | None = None) -> int:
    """Put failed emails back in the queue to send now. Returns how many."""
    actor = actor or current_actor()
    with session_scope(engine) as session:
        rows = list(session.scalars(select(OutboxEmail).where(
            OutboxEmail.id.in_(list(email_ids)), OutboxEmail.state == EmailState.FAILED)))
        for row in rows:
            row.state = EmailState.PENDING
            row.attempts = 0
            row.next_attempt_at = utcnow()
            _audit(session, "email.retry", row.id, actor, {"to": row.to_address})
        return len(rows)


def dismiss_emails(engine: Engine, email_ids: Sequence[int], actor: str | None = None) -> int:
    """Stop trying to send failed emails (the person contacted the client another way)."""
    actor = actor or current_actor()
    with session_scope(engine) as session:
        rows = list(session.scalars(select(OutboxEmail).where(
            OutboxEmail.id.in_(list(email_ids)), OutboxEmail.state == EmailState.FAILED)))
        for row in rows:
            row.state = EmailState.DISMISSED
            _audit(session, "email.dismiss", row.id, actor,
                   {"to": row.to_address, "last_error": row.last_error})
        return len(rows)


# --- claiming (used by the sender) -----------------------------------------------------------


def due_email_ids(engine: Engine, now: datetime, limit: int) -> list[int]:
    due = or_(
        and_(OutboxEmail.state == EmailState.PENDING, OutboxEmail.next_attempt_at <= now),
        # Left "sending" by a crash: taken again once its lease ran out.
        and_(OutboxEmail.state == EmailState.SENDING, OutboxEmail.next_attempt_at <= now),
    )
    with session_scope(engine) as session:
        return list(session.scalars(select(OutboxEmail.id).where(due)
                                    .order_by(OutboxEmail.next_attempt_at, OutboxEmail.id)
                                    .limit(limit)))


def claim(engine: Engine, email_id: int, now: datetime) -> bool:
    """Take one due email for sending (one conditional UPDATE: one seat wins)."""
    with session_scope(engine) as session:
        result = session.execute(
            update(OutboxEmail)
            .where(OutboxEmail.id == email_id,
                   OutboxEmail.state.in_((EmailState.PENDING, EmailState.SENDING)),
                   OutboxEmail.next_attempt_at <= now)
            .values(state=EmailState.SENDING, next_attempt_at=now + LEASE,
                    attempts=OutboxEmail.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))
