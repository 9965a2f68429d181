"""Receipts by email: after a payment or a refund, the PDF receipt to the contact who paid.

:func:`queue_receipt_email` runs inside the transaction that records the money (the ledger
fact, :func:`app.core.posting.channels.record_fact`), so the email exists exactly when the
payment does and is queued once (its dedupe key is the payment's or the refund's). It is on by
default and can be switched off for everyone or per organization
(:class:`~app.core.email.settings.ReceiptEmailSettings`). Nothing is queued when the payment
has no contact with an email address: the receipt can still be printed or saved.

The PDF itself is made when the email is sent (:func:`app.core.receipts.render_receipt_pdf`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.core.email.outbox import ReceiptAttachment, queue_email
from app.core.email.settings import (
    RECEIPTS_KEY,
    ReceiptEmailSettings,
    is_valid_address,
    receipt_settings_from_json,
)
from app.core.email.templates import long_date
from app.core.money import Money
from app.core.storage.models import (
    Contact,
    Invoice,
    Organization,
    Payment,
    PaymentAllocation,
    Refund,
    Setting,
)

__all__ = ["invoice_words", "queue_receipt_email", "receipt_context"]


def _receipt_settings(session: Session) -> ReceiptEmailSettings:
    row = session.get(Setting, RECEIPTS_KEY)
    return receipt_settings_from_json(row.value.get("v") if row is not None else None)


def _company_name(session: Session) -> str:
    row = session.get(Setting, "receipts.company")
    raw = row.value.get("v") if row is not None else None
    name = raw.get("name") if isinstance(raw, dict) else None
    return str(name) if name else "PayDesk"


def receipt_context(session: Session, payment: Payment, contact: Contact | None, *,
                    locale: str = "en_US") -> dict[str, Any]:
    """What the receipt templates' names stand for, for this payment (also the preview's)."""
    organization = session.get(Organization, payment.organization_id)
    currency = payment.currency
    numbers = session.scalars(
        select(Invoice.invoice_number).join(
            PaymentAllocation, PaymentAllocation.invoice_id == Invoice.id)
        .where(PaymentAllocation.payment_id == payment.id).order_by(PaymentAllocation.id)).all()
    context: dict[str, Any] = {
        "company_name": _company_name(session),
        "organization": organization.name if organization else "",
        "contact_name": (" ".join(x for x in (contact.first_name, contact.last_name) if x)
                         if contact is not None else "") or "there",
        "reference": payment.reference,
        "total": Money(payment.total_minor, currency).format(locale),
        "amount": Money(payment.amount_minor, currency).format(locale),
        "surcharge": (Money(payment.surcharge_minor, currency).format(locale)
                      if payment.surcharge_minor else ""),
        "surcharge_disclosure": "",
        "paid_on": long_date(payment.completed_at or payment.created_at, locale),
        "invoices": invoice_words(numbers),
        "method": payment.method_summary or "",
    }
    if payment.surcharge_minor:
        from app.core.payments.summary import load_surcharge_settings

        bind = session.get_bind()
        if isinstance(bind, Engine):
            context["surcharge_disclosure"] = load_surcharge_settings(bind).disclosure_text()
    return context


def invoice_words(numbers: Sequence[str | None]) -> str:
    """"invoice 1045", "invoices 1045 and 1046", "invoices 1045, 1046 and 1047"."""
    shown = [n for n in numbers if n]
    if not shown:
        return "your invoices"
    if len(shown) == 1:
        return f"invoice {shown[0]}"
    return "invoices " + ", ".join(shown[:-1]) + " and " + shown[-1]


def queue_receipt_email(session: Session, payment_id: int, refund_id: int | None = None,
                        *, locale: str = "en_US") -> bool:
    """Queue the receipt of a payment (or of a refund of it) in the caller's transaction.
    Returns True when an email was queued. Never raises for missing data: a payment must be
    recorded whether or not its receipt can be mailed."""
    payment = session.get(Payment, payment_id)
    if payment is None:
        return False
    settings = _receipt_settings(session)
    if not settings.sends_to(payment.organization_id) or (
            payment.test_mode and not settings.test_payments):
        return False
    contact = session.get(Contact, payment.contact_id) if payment.contact_id else None
    if contact is None or not contact.email or not is_valid_address(contact.email):
        return False
    context = receipt_context(session, payment, contact, locale=locale)
    currency = payment.currency
    if refund_id is None:
        reason, key, template = "receipt", f"receipt:payment:{payment_id}", "receipt"
    else:
        refund = session.get(Refund, refund_id)
        if refund is None:
            return False
        context["refund_amount"] = Money(refund.amount_minor, currency).format(locale)
        reason, key, template = "refund_receipt", f"receipt:refund:{refund_id}", "refund_receipt"
    queued = queue_email(
        session, reason=reason, dedupe_key=key, to=contact.email, template=template,
        context=context, attachments=(ReceiptAttachment(payment_id),),
        organization_id=payment.organization_id, payment_id=payment_id)
    return queued is not None
