"""Previews of the emails with real data: the newest payment for a receipt, the newest refund,
the most overdue invoice for a reminder, the newest pay link — or the template's example values
(said so) when there is no such record yet.

Threads: blocks on the database; run it on a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select

from app.core.clock import today_utc
from app.core.config import get_internal_currency
from app.core.email.receipts import invoice_words, receipt_context
from app.core.email.reminders import reminder_recipients
from app.core.email.settings import load_smtp_settings
from app.core.email.templates import TEMPLATES, TemplateProblem, long_date, render
from app.core.money import Money
from app.core.storage.engine import session_scope
from app.core.storage.models import (
    Contact,
    Invoice,
    Organization,
    Payment,
    PaymentAllocation,
    Refund,
    Setting,
)

__all__ = ["EmailPreview", "preview_context", "preview_email"]


@dataclass(frozen=True, slots=True)
class EmailPreview:
    sender: str
    to: str
    subject: str
    body: str
    #: Where the values came from ("Payment PD-1042 of Contoso Dental", "example values").
    source: str
    attachment: str | None = None
    #: Set instead of subject/body when the template cannot be filled in.
    problem: str | None = None


def _company(session: Any) -> str:
    row = session.get(Setting, "receipts.company")
    raw = row.value.get("v") if row is not None else None
    name = raw.get("name") if isinstance(raw, dict) else None
    return str(name) if name else "PayDesk"


def _contact_text(contact: Contact | None) -> str:
    if contact is None or not contact.email:
        return "(the contact who paid; this payment has no contact with an email address)"
    return contact.email


def preview_context(engine: Engine, key: str, locale: str = "en_US"
                    ) -> tuple[dict[str, Any], str, str, str | None]:
    """(context, to, source, attachment name) for a preview of template ``key``."""
    example = dict(TEMPLATES[key].example)
    with session_scope(engine) as session:
        company = _company(session)
        example["company_name"] = company
        if key == "receipt":
            payment = session.scalars(select(Payment).where(
                Payment.state.in_(("succeeded", "partially_refunded", "refunded")))
                .order_by(Payment.created_at.desc(), Payment.id.desc()).limit(1)).first()
            if payment is not None:
                contact = session.get(Contact, payment.contact_id) if payment.contact_id else None
                return (receipt_context(session, payment, contact, locale=locale),
                        _contact_text(contact), f"Payment {payment.reference}",
                        f"Receipt {payment.reference}.pdf")
        elif key == "refund_receipt":
            found = session.execute(select(Refund, Payment).join(
                Payment, Payment.id == Refund.payment_id).where(Refund.state == "succeeded")
                .order_by(Refund.created_at.desc()).limit(1)).first()
            if found is not None:
                refund, payment = found
                contact = session.get(Contact, payment.contact_id) if payment.contact_id else None
                context = receipt_context(session, payment, contact, locale=locale)
                context["refund_amount"] = Money(refund.amount_minor,
                                                 payment.currency).format(locale)
                return (context, _contact_text(contact), f"Refund {refund.reference}",
                        f"Receipt {payment.reference}.pdf")
        elif key == "overdue_reminder":
            currency = get_internal_currency(engine)
            today = today_utc()
            invoice = session.scalars(select(Invoice).where(
                Invoice.status.in_(("open", "partially_paid")), Invoice.balance_minor > 0,
                Invoice.due_date < today)
                .order_by(Invoice.due_date, Invoice.id).limit(1)).first()
            if invoice is not None and currency is not None and invoice.due_date is not None:
                recipient = reminder_recipients(session, {invoice.organization_id}).get(
                    invoice.organization_id)
                organization = session.get(Organization, invoice.organization_id)
                context = {
                    "company_name": company,
                    "organization": organization.name if organization else "",
                    "contact_name": recipient[1] if recipient else "there",
                    "invoice_number": invoice.invoice_number or str(invoice.id),
                    "invoice_date": long_date(invoice.invoice_date, locale)
                    if invoice.invoice_date else "",
                    "due_date": long_date(invoice.due_date, locale),
                    "balance": Money(invoice.balance_minor, currency).format(locale),
                    "days_overdue": str((today - invoice.due_date).days), "step": "1",
                }
                to = recipient[0] if recipient else "(no contact with an email address)"
                return context, to, f"Invoice {context['invoice_number']}", None
        elif key == "pay_link":
            payment = session.scalars(select(Payment).where(
                Payment.channel == "pay_link", Payment.hosted_url.is_not(None))
                .order_by(Payment.created_at.desc()).limit(1)).first()
            if payment is not None and payment.hosted_url:
                numbers = session.scalars(select(Invoice.invoice_number).join(
                    PaymentAllocation, PaymentAllocation.invoice_id == Invoice.id)
                    .where(PaymentAllocation.payment_id == payment.id)).all()
                contact = session.get(Contact, payment.contact_id) if payment.contact_id else None
                context = {
                    "company_name": company, "contact_name": (
                        " ".join(x for x in (contact.first_name, contact.last_name) if x)
                        if contact else "") or "there",
                    "organization": "", "amount": Money(payment.total_minor,
                                                        payment.currency).format(locale),
                    "invoices": invoice_words(numbers), "link": payment.hosted_url,
                    "message": "",
                }
                return context, _contact_text(contact), f"Pay link {payment.reference}", None
        elif key == "test":
            settings = load_smtp_settings(engine)
            example["server"] = f"{settings.host}:{settings.port}" if settings.host else \
                "(the mail server)"
            return example, "(the address you type)", "your settings", None
    return example, "maria@contoso.example", "example values (no such record yet)", (
        "Receipt PD-1042.pdf" if key in ("receipt", "refund_receipt") else None)


def preview_email(engine: Engine, key: str, subject: str, body: str,
                  locale: str = "en_US") -> EmailPreview:
    """The email as it would go out with the (possibly unsaved) ``subject`` and ``body``."""
    context, to, source, attachment = preview_context(engine, key, locale)
    settings = load_smtp_settings(engine)
    sender = (f"{settings.from_name} <{settings.from_address}>" if settings.from_name
              else settings.from_address) or "(the From address under Mail server)"
    try:
        rendered = render(subject, body, context, title=f"The “{TEMPLATES[key].title}” template")
    except TemplateProblem as exc:
        return EmailPreview(sender, to, "", "", source, attachment, problem=str(exc))
    return EmailPreview(sender, to, rendered.subject, rendered.body, source, attachment)
