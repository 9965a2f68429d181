"""What Autotask must be told about a payment or a refund: the Autotask channel's postings.

The builders here are the Autotask channel's rules (:mod:`app.core.posting.autotask_channel`),
called through :func:`app.core.posting.channels.record_fact` **inside the transaction** that
records a success or a refund, so a committed payment always has its postings and a
rolled-back one never does. Each posting has a stable key derived from the payment's or
refund's reference; inserting the same key twice is refused by the database, so a repeated
recording cannot queue a second note.

Everything the note will say is decided here and stored in the posting's payload. The
worker (:mod:`app.core.posting.outbox`) then only delivers; what it sends does not depend on
when it runs.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.money import Money
from app.core.posting.channels import NewPosting
from app.core.storage.models import Contact, Invoice, Payment, Refund

__all__ = [
    "NOTE_ACTION_GENERAL",
    "PostingTarget",
    "note_marker",
    "paid_date_posting",
    "payment_note",
    "refund_failed_note",
    "refund_note",
]


class PostingTarget(enum.StrEnum):
    AUTOTASK_NOTE = "autotask_note"
    AUTOTASK_PAID_DATE = "autotask_paid_date"

    @property
    def label(self) -> str:
        return {
            PostingTarget.AUTOTASK_NOTE: "Autotask note",
            PostingTarget.AUTOTASK_PAID_DATE: "Autotask invoice paid date",
        }[self]


#: Autotask's "General" note action type.
NOTE_ACTION_GENERAL = 1


def note_marker(kind: str, reference: str) -> str:
    """The first words of a note; the outbox looks for them before creating a note again."""
    return f"{kind} {reference}"


def _contact_name(session: Session, contact_id: int | None) -> str | None:
    if contact_id is None:
        return None
    contact = session.get(Contact, contact_id)
    if contact is None:
        return None
    name = " ".join(p for p in (contact.first_name, contact.last_name) if p)
    return name or contact.email


def _invoice_labels(session: Session, ids: Iterable[int]) -> dict[int, str]:
    rows = session.execute(
        select(Invoice.id, Invoice.invoice_number).where(Invoice.id.in_(sorted(set(ids))))
    )
    return {int(i): (n or str(i)) for i, n in rows}


def _add(
    *,
    target: PostingTarget,
    key: str,
    payload: dict[str, Any],
    payment_id: int | None = None,
    refund_id: int | None = None,
    invoice_id: int | None = None,
) -> NewPosting:
    return NewPosting(target=target.value, key=key, payload=payload, payment_id=payment_id,
                      refund_id=refund_id, invoice_id=invoice_id)


def _formatter(currency: str) -> Callable[[int], str]:
    def fmt(minor: int) -> str:
        return Money(minor, currency).format()

    return fmt


def _invoice_amount_lines(
    session: Session, allocations: list[tuple[int, int]], fmt: Callable[[int], str]
) -> list[str]:
    labels = _invoice_labels(session, (i for i, _ in allocations))
    return [
        f"  Invoice {labels.get(invoice_id, invoice_id)}: {fmt(amount)}"
        for invoice_id, amount in allocations
    ]


def _queue_note(
    session: Session,
    payment: Payment,
    *,
    marker: str,
    title: str,
    lines: list[str],
    key: str,
    refund_id: int | None = None,
) -> NewPosting:
    """A company note on the payment's organization; every note ends the same way."""
    if payment.test_mode:
        lines.append("Test mode — no real money moved.")
    lines.append("Recorded by PayDesk.")
    payload = {
        "company_id": payment.organization_id,
        "title": title,
        "description": "\n".join(lines),
        "marker": marker,
        "contact_id": payment.contact_id,
    }
    return _add(
        target=PostingTarget.AUTOTASK_NOTE,
        key=key,
        payload=payload,
        payment_id=payment.id,
        refund_id=refund_id,
    )


def payment_note(
    session: Session, payment: Payment, allocations: list[tuple[int, int]], now: datetime
) -> NewPosting:
    """The company note for a successful payment: "Payment <reference>", amount, each
    invoice and what was applied to it, method, gateway transaction id, date, contact."""
    fmt = _formatter(payment.currency)
    marker = note_marker("Payment", payment.reference)
    lines = [marker, f"Amount: {fmt(payment.amount_minor)}"]
    if payment.surcharge_minor:
        lines.append(
            f"Surcharge: {fmt(payment.surcharge_minor)} (total charged {fmt(payment.total_minor)})"
        )
    lines.append("Applied to:")
    lines.extend(_invoice_amount_lines(session, allocations, fmt))
    lines.append(f"Method: {payment.method_summary or 'Not recorded'}")
    transaction = payment.gateway_transaction_id or payment.gateway_payment_id or "—"
    lines.append(f"Gateway transaction: {transaction}")
    when = (payment.completed_at or now).date()
    lines.append(f"Date: {when.isoformat()}")
    contact = _contact_name(session, payment.contact_id)
    if contact:
        lines.append(f"Contact: {contact}")
    if payment.memo:
        lines.append(f"Memo: {payment.memo}")
    return _queue_note(
        session,
        payment,
        marker=marker,
        title=f"{marker} — {fmt(payment.amount_minor)}",
        lines=lines,
        key=f"autotask_note:{payment.reference}",
    )


def refund_note(
    session: Session,
    payment: Payment,
    refund: Refund,
    allocations: list[tuple[int, int]],
    now: datetime,
) -> NewPosting:
    """The reversal note for a refund (or the void of a payment that was already posted)."""
    fmt = _formatter(payment.currency)
    marker = note_marker("Refund", refund.reference)
    lines = [
        marker,
        f"Reverses payment {payment.reference}",
        f"Amount refunded: {fmt(refund.amount_minor)}",
    ]
    if allocations:
        lines.append("Taken back from:")
        lines.extend(_invoice_amount_lines(session, allocations, fmt))
    lines.append(f"Method: {payment.method_summary or 'Not recorded'}")
    lines.append(f"Gateway refund: {refund.gateway_refund_id or '—'}")
    lines.append(f"Date: {(refund.completed_at or now).date().isoformat()}")
    if refund.reason:
        lines.append(f"Reason: {refund.reason}")
    return _queue_note(
        session,
        payment,
        marker=marker,
        title=f"{marker} — {fmt(refund.amount_minor)} of payment {payment.reference}",
        lines=lines,
        key=f"autotask_note:{refund.reference}",
        refund_id=refund.id,
    )


def refund_failed_note(
    session: Session,
    payment: Payment,
    refund: Refund,
    allocations: list[tuple[int, int]],
    now: datetime,
) -> NewPosting:
    """A refund the gateway had accepted (and PayDesk had posted as a reversal) failed later:
    the money stayed with the merchant, so the invoices count it as paid again."""
    fmt = _formatter(payment.currency)
    marker = note_marker("Refund failed", refund.reference)
    lines = [
        marker,
        f"Refund {refund.reference} of payment {payment.reference} did not go through; "
        "the money was not returned.",
        f"Amount: {fmt(refund.amount_minor)}",
    ]
    if allocations:
        lines.append("Counted as paid again on:")
        lines.extend(_invoice_amount_lines(session, allocations, fmt))
    if refund.failure_message:
        lines.append(f"Reason: {refund.failure_message}")
    lines.append(f"Date: {now.date().isoformat()}")
    return _queue_note(
        session,
        payment,
        marker=marker,
        title=f"{marker} — {fmt(refund.amount_minor)} of payment {payment.reference}",
        lines=lines,
        key=f"autotask_note:{refund.reference}:failed",
        refund_id=refund.id,
    )


def paid_date_posting(
    *,
    invoice_id: int,
    paid_date: date | None,
    because_of: str,
    payment_id: int | None = None,
    refund_id: int | None = None,
) -> NewPosting:
    """Set (``paid_date``) or clear (``None``) an invoice's paidDate in Autotask.

    ``because_of`` is the payment's or refund's reference; it makes the key unique per event.
    """
    return _add(
        target=PostingTarget.AUTOTASK_PAID_DATE,
        key=f"autotask_paid_date:{invoice_id}:{because_of}",
        payload={
            "invoice_id": invoice_id,
            "paid_date": paid_date.isoformat() if paid_date else None,
        },
        payment_id=payment_id,
        refund_id=refund_id,
        invoice_id=invoice_id,
    )
