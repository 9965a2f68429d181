"""Derived invoice state — the one place that decides what an invoice's paid amount, balance
and status are. Every screen and report reads the stored result.

The rules:
* A voided invoice is **Void**: nothing is owed.
* An invoice Autotask marks paid (``paidDate``) is **Paid** in full, whoever took the money.
* Otherwise the paid amount is what PayDesk's own ledger applied to it: allocations of
  payments that succeeded or are still processing (a bank debit in flight is not owed twice),
  less what refunds took back. Balance = total − paid. **Open** when nothing is paid,
  **Partially paid** when some is, **Paid** when nothing is left.
* **Overdue** is not stored: it is an open or partially paid invoice whose due date has
  passed, decided when asked (``display_status_sql``), so it is right on any day.
* **Credit** is not stored either: an invoice with a negative total (a credit note) owes
  nothing, like a paid one, but a person must not mistake it for a paid invoice.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import date

from sqlalchemy import ColumnElement, and_, case, func, literal, select
from sqlalchemy.orm import Session

from app.core.storage.models import (
    Invoice,
    Payment,
    PaymentAllocation,
    Refund,
    RefundAllocation,
)


class InvoiceStatus(enum.StrEnum):
    OPEN = "open"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    OVERDUE = "overdue"
    VOID = "void"
    CREDIT = "credit"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    InvoiceStatus.OPEN: "Open",
    InvoiceStatus.PARTIALLY_PAID: "Partially paid",
    InvoiceStatus.PAID: "Paid",
    InvoiceStatus.OVERDUE: "Overdue",
    InvoiceStatus.VOID: "Void",
    InvoiceStatus.CREDIT: "Credit",
}

#: Payment states whose allocations count as money received (or on its way).
COUNTED_PAYMENT_STATES = ("succeeded", "processing", "partially_refunded", "refunded")
#: Refund states that have given money back.
COUNTED_REFUND_STATES = ("succeeded", "pending")
#: Stored statuses that still owe money.
PAYABLE_STATUSES = (InvoiceStatus.OPEN.value, InvoiceStatus.PARTIALLY_PAID.value)


def derive(
    *, total_minor: int, is_voided: bool, paid_date: date | None, ledger_paid_minor: int
) -> tuple[int, int, InvoiceStatus]:
    """``(amount_paid, balance, stored status)`` for one invoice. Pure; unit-tested."""
    if is_voided:
        return ledger_paid_minor, 0, InvoiceStatus.VOID
    if total_minor <= 0:
        # Credit notes and zero invoices owe nothing.
        return ledger_paid_minor, 0, InvoiceStatus.PAID
    if paid_date is not None:
        return total_minor, 0, InvoiceStatus.PAID
    paid = max(0, min(ledger_paid_minor, total_minor))
    balance = total_minor - paid
    if balance == 0:
        return paid, 0, InvoiceStatus.PAID
    return paid, balance, InvoiceStatus.PARTIALLY_PAID if paid else InvoiceStatus.OPEN


def recompute_invoices(session: Session, invoice_ids: Iterable[int]) -> None:
    """Recompute and store the derived state of these invoices (in the caller's transaction)."""
    ids = sorted(set(invoice_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        paid = dict(
            session.execute(
                select(PaymentAllocation.invoice_id, func.sum(PaymentAllocation.amount_minor))
                .join(Payment, Payment.id == PaymentAllocation.payment_id)
                .where(
                    PaymentAllocation.invoice_id.in_(chunk),
                    Payment.state.in_(COUNTED_PAYMENT_STATES),
                )
                .group_by(PaymentAllocation.invoice_id)
            ).all()
        )
        refunded = dict(
            session.execute(
                select(RefundAllocation.invoice_id, func.sum(RefundAllocation.amount_minor))
                .join(Refund, Refund.id == RefundAllocation.refund_id)
                .where(
                    RefundAllocation.invoice_id.in_(chunk),
                    Refund.state.in_(COUNTED_REFUND_STATES),
                )
                .group_by(RefundAllocation.invoice_id)
            ).all()
        )
        last_paid = dict(
            session.execute(
                select(PaymentAllocation.invoice_id, func.max(Payment.created_at))
                .join(Payment, Payment.id == PaymentAllocation.payment_id)
                .where(
                    PaymentAllocation.invoice_id.in_(chunk),
                    Payment.state.in_(COUNTED_PAYMENT_STATES),
                )
                .group_by(PaymentAllocation.invoice_id)
            ).all()
        )
        for invoice in session.scalars(select(Invoice).where(Invoice.id.in_(chunk))):
            ledger = int(paid.get(invoice.id) or 0) - int(refunded.get(invoice.id) or 0)
            amount_paid, balance, status = derive(
                total_minor=invoice.total_minor,
                is_voided=invoice.is_voided,
                paid_date=invoice.paid_date,
                ledger_paid_minor=ledger,
            )
            invoice.amount_paid_minor = amount_paid
            invoice.balance_minor = balance
            invoice.status = status.value
            last = last_paid.get(invoice.id)
            candidates = [d for d in (invoice.paid_date, last.date() if last else None) if d]
            invoice.last_payment_date = max(candidates) if candidates else None


def derive_sql_columns() -> dict[str, ColumnElement[object]]:
    """For bulk upserts of invoices without PayDesk allocations (the sync's fast path):
    SQL expressions equal to ``derive`` with ``ledger_paid_minor = 0``."""
    total = Invoice.total_minor
    settled = (Invoice.is_voided.is_(True)) | (total <= 0) | (Invoice.paid_date.is_not(None))
    return {
        "amount_paid_minor": case(
            (Invoice.is_voided.is_(True), literal(0)),
            (total <= 0, literal(0)),
            (Invoice.paid_date.is_not(None), total),
            else_=literal(0),
        ),
        "balance_minor": case((settled, literal(0)), else_=total),
        "status": case(
            (Invoice.is_voided.is_(True), literal(InvoiceStatus.VOID.value)),
            (total <= 0, literal(InvoiceStatus.PAID.value)),
            (Invoice.paid_date.is_not(None), literal(InvoiceStatus.PAID.value)),
            else_=literal(InvoiceStatus.OPEN.value),
        ),
    }


def display_status_sql(today: date) -> ColumnElement[str]:
    """The status a person sees, with Overdue decided against ``today`` and credit notes
    (negative totals) shown as Credit."""
    return case(
        (
            and_(Invoice.status.in_(PAYABLE_STATUSES), Invoice.due_date < today),
            literal(InvoiceStatus.OVERDUE.value),
        ),
        (
            and_(Invoice.status == InvoiceStatus.PAID.value, Invoice.total_minor < 0),
            literal(InvoiceStatus.CREDIT.value),
        ),
        else_=Invoice.status,
    )


def display_status(stored: str, due_date: date | None, today: date,
                   total_minor: int = 0) -> InvoiceStatus:
    """Python twin of ``display_status_sql`` for a single row."""
    if stored in PAYABLE_STATUSES and due_date is not None and due_date < today:
        return InvoiceStatus.OVERDUE
    if stored == InvoiceStatus.PAID.value and total_minor < 0:
        return InvoiceStatus.CREDIT
    return InvoiceStatus(stored)
