"""Pay links by email: the gateway's payment page for an exact amount, mailed to the client
with a message, and what became of it (shown on the invoice page).

Only a gateway whose pay page works from any browser can have its link mailed
(``GatewayProvider.shareable_pay_links``): Stripe's Checkout page can; Authorize.Net's
Accept Hosted form cannot — it opens only with a token that PayDesk POSTs from a page on this
computer, so a link in an email would open nothing.

What PayDesk knows about a link: when it was emailed and whether the mail server accepted it
(the outbox), and whether the client paid or the link expired (the payment). Whether the client
*opened* the page is not known: neither Stripe nor Authorize.Net reports a visit to a checkout
page, so PayDesk does not claim it.

Threads: blocks on the database; run it on a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.core.email.outbox import EmailState, queue_email
from app.core.email.receipts import invoice_words
from app.core.email.settings import is_valid_address, load_smtp_settings
from app.core.email.templates import long_date
from app.core.gateways.providers import get_provider
from app.core.money import Money
from app.core.storage.engine import session_scope
from app.core.storage.models import (
    Contact,
    Invoice,
    Organization,
    OutboxEmail,
    Payment,
    PaymentAllocation,
    Setting,
)

__all__ = [
    "NOT_SHAREABLE",
    "PayLinkDraft",
    "PayLinkState",
    "organization_email_contacts",
    "pay_link_draft",
    "pay_link_states",
    "queue_pay_link_email",
]

OPENED_UNKNOWN = "The gateway does not tell PayDesk when the client opens the page."


def NOT_SHAREABLE(gateway_name: str) -> str:
    return (f"{gateway_name}'s payment form opens only from PayDesk on this computer (it needs "
            "a token posted from here), so its pay links cannot be emailed. Take the payment "
            "with the client on the phone, or connect Stripe for emailed pay links.")


@dataclass(frozen=True, slots=True)
class PayLinkDraft:
    """What the Email pay link dialog shows for one pay link."""

    payment_id: int
    reference: str
    organization: str
    amount: str
    invoices: str
    link: str
    contacts: tuple[tuple[str, str], ...]  # (name, address)
    default_to: str
    already_sent_to: tuple[str, ...]
    email_ready: bool
    problem: str | None = None


def _organization_contacts(session: Session, organization_id: int
                           ) -> tuple[tuple[str, str], ...]:
    found = []
    for contact in session.scalars(select(Contact).where(
            Contact.organization_id == organization_id, Contact.email.is_not(None))
            .order_by(Contact.is_active.desc(), Contact.last_name, Contact.first_name)):
        if contact.email and is_valid_address(contact.email):
            name = " ".join(x for x in (contact.first_name, contact.last_name) if x)
            found.append((name, contact.email))
    return tuple(found)


def organization_email_contacts(engine: Engine, organization_id: int
                                ) -> tuple[tuple[str, str], ...]:
    """(name, address) of the organization's contacts with an email address, active first."""
    with session_scope(engine) as session:
        return _organization_contacts(session, organization_id)


def pay_link_draft(engine: Engine, payment_id: int, locale: str = "en_US") -> PayLinkDraft:
    """The link of a pay-link payment, ready to email (or with ``problem`` saying why not)."""
    email_ready = load_smtp_settings(engine).configured
    with session_scope(engine) as session:
        payment = session.get(Payment, payment_id)
        if payment is None:
            raise LookupError(f"There is no payment {payment_id}.")
        organization = session.get(Organization, payment.organization_id)
        numbers = session.scalars(select(Invoice.invoice_number).join(
            PaymentAllocation, PaymentAllocation.invoice_id == Invoice.id)
            .where(PaymentAllocation.payment_id == payment_id)
            .order_by(PaymentAllocation.id)).all()
        contacts = _organization_contacts(session, payment.organization_id)
        payer = session.get(Contact, payment.contact_id) if payment.contact_id else None
        sent = tuple(session.scalars(select(OutboxEmail.to_address).where(
            OutboxEmail.payment_id == payment_id, OutboxEmail.reason == "pay_link",
            OutboxEmail.state != EmailState.DISMISSED)))
        provider = get_provider(payment.gateway)
        problem = None
        if provider is not None and not provider.shareable_pay_links:
            problem = NOT_SHAREABLE(provider.name)
        elif payment.channel != "pay_link" or not payment.hosted_url:
            problem = "This payment is not a pay link."
        elif payment.state != "awaiting_client":
            problem = ("The client has already paid this link." if payment.state in (
                "succeeded", "processing", "partially_refunded", "refunded")
                else "This pay link can no longer be paid. Make a new one from Pay….")
        elif not email_ready:
            problem = ("Email is not set up yet. Set up the mail server under Settings › Email, "
                       "or copy the link into your own email.")
        default_to = (payer.email if payer is not None and payer.email else
                      contacts[0][1] if contacts else "")
        return PayLinkDraft(
            payment_id=payment_id, reference=payment.reference,
            organization=organization.name if organization else "",
            amount=Money(payment.total_minor, payment.currency).format(locale),
            invoices=invoice_words(numbers), link=payment.hosted_url or "",
            contacts=contacts, default_to=default_to, already_sent_to=sent,
            email_ready=email_ready, problem=problem)


def queue_pay_link_email(engine: Engine, payment_id: int, to: str, message: str,
                         locale: str = "en_US") -> int:
    """Queue the pay link to ``to`` (once per address). Returns the outbox row's id; raises
    ``ValueError`` with a sentence when it cannot be sent."""
    draft = pay_link_draft(engine, payment_id, locale)
    address = to.strip()
    if draft.problem:
        raise ValueError(draft.problem)
    if not is_valid_address(address):
        raise ValueError(f"“{to}” is not an email address.")
    if address.lower() in (a.lower() for a in draft.already_sent_to):
        raise ValueError(f"This link was already emailed to {address}.")
    with session_scope(engine) as session:
        payment = session.get(Payment, payment_id)
        assert payment is not None
        name = next((n for n, a in draft.contacts if a.lower() == address.lower()), "")
        company_row = session.get(Setting, "receipts.company")
        raw = company_row.value.get("v") if company_row is not None else None
        company = str(raw.get("name") or "") if isinstance(raw, dict) else ""
        row = queue_email(
            session, reason="pay_link", dedupe_key=f"pay_link:{payment_id}:{address.lower()}",
            to=address, template="pay_link",
            context={"company_name": company, "organization": draft.organization,
                     "contact_name": name or "there", "amount": draft.amount,
                     "invoices": draft.invoices, "link": draft.link,
                     "message": message.strip()},
            organization_id=payment.organization_id, payment_id=payment_id)
        if row is None:
            raise ValueError(f"This link was already emailed to {address}.")
        session.flush()
        return row.id


@dataclass(frozen=True, slots=True)
class PayLinkState:
    """One pay link of an invoice, as the invoice page says it."""

    reference: str
    amount: str
    created_at: datetime
    payment_state: str
    emails: tuple[tuple[str, str, datetime | None], ...]  # (to, email state, sent at)

    @property
    def text(self) -> str:
        paid = {"succeeded": "paid", "processing": "paid (bank payment processing)",
                "partially_refunded": "paid", "refunded": "paid, then refunded",
                "awaiting_client": "not paid yet", "expired": "expired unpaid",
                "voided": "voided", "declined": "declined", "failed": "failed",
                "returned": "paid, then returned by the bank"}.get(
            self.payment_state, self.payment_state.replace("_", " "))
        if self.emails:
            sent = "; ".join(
                f"emailed to {to}" + (f" on {long_date(at)}" if at else "") +
                ("" if state == EmailState.SENT else f" ({EmailState.LABELS.get(state, state)})")
                for to, state, at in self.emails)
        else:
            sent = "not emailed"
        return f"Pay link {self.reference} for {self.amount}: {sent} — {paid}."


def pay_link_states(engine: Engine, invoice_id: int, locale: str = "en_US"
                    ) -> Sequence[PayLinkState]:
    """The invoice's pay links, newest first."""
    with session_scope(engine) as session:
        payments = session.scalars(select(Payment).join(
            PaymentAllocation, PaymentAllocation.payment_id == Payment.id)
            .where(PaymentAllocation.invoice_id == invoice_id, Payment.channel == "pay_link")
            .order_by(Payment.created_at.desc())).all()
        states = []
        for payment in payments:
            emails = tuple((e.to_address, e.state, e.sent_at) for e in session.scalars(
                select(OutboxEmail).where(OutboxEmail.payment_id == payment.id,
                                          OutboxEmail.reason == "pay_link")
                .order_by(OutboxEmail.created_at)))
            states.append(PayLinkState(
                payment.reference, Money(payment.total_minor, payment.currency).format(locale),
                payment.created_at, payment.state, emails))
        return states
