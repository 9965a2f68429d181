"""AutoPay rules and the customer's authorization behind each one.

Creating a rule records the authorization in the same transaction: who agreed, when, how
(the gateway's hosted page or a signed form on file), for which saved method, the words
they agreed to and how they revoke it. A rule's terms never change once agreed; a change is
a new rule with a new authorization, and the old one is revoked. Revoking stops every future
charge and keeps the authorization: NACHA asks that a debit authorization be kept two years
after the last debit (and after it ends), so PayDesk never deletes one and stamps
``retain_until`` on it.

Threads: every function reads or writes the database; run on a worker thread.
"""

from __future__ import annotations

import contextlib
import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.autopay.defaults import AutoPayDefaults, load_autopay_defaults
from app.core.clock import utcnow
from app.core.config import current_actor, get_internal_currency
from app.core.money import Money
from app.core.payments.audit import audit
from app.core.payments.pipeline.base import method_summary
from app.core.receipt_identity import load_receipt_identity
from app.core.storage.engine import session_scope
from app.core.storage.models import (
    AutoPayAuthorization,
    AutoPayRule,
    Contact,
    Contract,
    Organization,
    PaymentMethod,
    PicklistValue,
)

__all__ = [
    "HOW_LABELS",
    "AuthorizationRecord",
    "AutoPayRefused",
    "RuleTerms",
    "RuleView",
    "SetupChoices",
    "active_rule",
    "authorization_html",
    "authorization_text",
    "contract_type_choices",
    "create_rule",
    "load_authorization",
    "load_setup_choices",
    "retain_until",
    "revoke_rule",
    "rules_for_organization",
]

HOW_LABELS = {
    "hosted_page": "On the payment gateway's secure page",
    "signed_form": "Signed authorization form on file",
}

DEFAULT_REVOKE_INSTRUCTIONS = (
    "You may cancel this authorization at any time by telling {company} in writing or by "
    "email at least 3 business days before the next charge. Cancelling does not affect "
    "charges already made."
)

TIMING_LABELS = {"due_date": "on the invoice's due date",
                 "after_invoice_date": "{n} days after the invoice date"}


class AutoPayRefused(Exception):
    """The rule cannot be made (or revoked) as asked; ``message`` is for the bookkeeper."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class RuleTerms:
    """What the bookkeeper sets up and the customer agreed to.

    ``contract_types`` / ``item_types`` empty: every invoice; otherwise an invoice is charged
    only when every line is for a contract of one of those types (or a billing item of one of
    those types). ``limit`` is the most one invoice may be charged; a larger invoice is left
    for a person.
    """

    organization_id: int
    payment_method_id: int
    timing: str  # due_date | after_invoice_date
    days_after_invoice: int
    limit: Money
    covers_from: date
    signer_name: str
    signer_email: str | None
    how: str  # hosted_page | signed_form
    evidence: str
    agreed_at: datetime
    contact_id: int | None = None
    contract_types: tuple[int, ...] = ()
    item_types: tuple[int, ...] = ()
    revoke_instructions: str | None = None

    def problem(self) -> str | None:
        if self.timing not in TIMING_LABELS:
            return "Choose when AutoPay charges."
        if self.timing == "after_invoice_date" and not 0 <= self.days_after_invoice <= 120:
            return "Days after the invoice date must be between 0 and 120."
        if self.limit.minor <= 0:
            return "Enter the most AutoPay may charge for one invoice."
        if not self.signer_name.strip():
            return "Enter the name of the person who agreed to AutoPay."
        if self.how not in HOW_LABELS:
            return "Choose how the client agreed: on the gateway's page or a signed form."
        if not self.evidence.strip():
            return ("Say where the proof is: the signed form's file name or location, or the "
                    "gateway's confirmation.")
        if self.agreed_at > utcnow():
            return "The date the client agreed cannot be in the future."
        return None


@dataclass(frozen=True, slots=True)
class AuthorizationRecord:
    """An authorization as it is kept (and printed)."""

    authorization_id: int
    rule_id: int
    organization_id: int
    organization_name: str
    method_summary: str
    signer_name: str
    signer_email: str | None
    agreed_at: datetime
    how: str
    evidence: str
    terms: str
    revoke_instructions: str
    recorded_at: datetime
    recorded_by: str
    revoked_at: datetime | None
    revoked_by: str | None
    revoke_reason: str | None
    last_debit_at: datetime | None
    retain_until: date

    @property
    def how_label(self) -> str:
        return HOW_LABELS.get(self.how, self.how)


@dataclass(frozen=True, slots=True)
class RuleView:
    """A rule as the organization page shows it."""

    rule_id: int
    authorization_id: int
    organization_id: int
    method_summary: str
    method_removed: bool
    timing: str
    days_after_invoice: int
    contract_types: tuple[int, ...]
    item_types: tuple[int, ...]
    limit: Money
    covers_from: date
    signer_name: str
    agreed_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def when_text(self) -> str:
        return when_text(self.timing, self.days_after_invoice)


def when_text(timing: str, days: int) -> str:
    return TIMING_LABELS.get(timing, timing).format(n=days)


def retain_until(agreed: datetime, last_debit: datetime | None,
                 revoked: datetime | None) -> date:
    """Two years after the latest of: agreed, the last debit, revoked (NACHA's retention)."""
    latest = max(d for d in (agreed, last_debit, revoked) if d is not None).date()
    try:
        return latest.replace(year=latest.year + 2)
    except ValueError:  # 29 February
        return latest.replace(year=latest.year + 2, day=28)


def terms_text(organization: str, method: str, terms: RuleTerms, currency: str,
               company: str) -> str:
    """The words the client agrees to (stored word for word with the authorization)."""
    which = "every invoice"
    if terms.contract_types or terms.item_types:
        which = "invoices for the agreed contract and billing types only"
    return (
        f"{organization} authorizes {company} to charge {method} automatically for "
        f"{which} dated on or after {terms.covers_from.isoformat()}, "
        f"{when_text(terms.timing, terms.days_after_invoice)}, for the amount owed on the "
        f"invoice, never more than {terms.limit.format()} ({currency}) for one invoice. "
        "No surcharge is added to these charges. If a charge is declined it may be tried "
        "again on later days as agreed with the client."
    )


def create_rule(engine: Engine, terms: RuleTerms, *, company: str = "",
                actor: str | None = None) -> int:
    """Record the authorization and the rule in one transaction; returns the rule's id.

    Raises :class:`AutoPayRefused` when the terms are incomplete, the method is not this
    organization's, or the organization already has an active rule (revoke it first).
    """
    problem = terms.problem()
    if problem:
        raise AutoPayRefused(problem)
    actor = actor or current_actor()
    currency = get_internal_currency(engine)
    if currency is None:
        raise AutoPayRefused("PayDesk's internal currency is not set yet. Finish the setup.")
    if terms.limit.currency != currency:
        raise AutoPayRefused(f"The limit must be in {currency}.")
    try:
        with session_scope(engine) as s:
            method = s.get(PaymentMethod, terms.payment_method_id)
            if (method is None or method.removed_at is not None
                    or method.organization_id != terms.organization_id):
                raise AutoPayRefused("That card or bank account is no longer saved for this "
                                     "organization. Choose another method.")
            org = s.get(Organization, terms.organization_id)
            org_name = org.name if org is not None else f"Organization {terms.organization_id}"
            summary = method_summary(method)
            now = utcnow()
            revoke = terms.revoke_instructions or DEFAULT_REVOKE_INSTRUCTIONS.format(
                company=company or "us")
            authorization = AutoPayAuthorization(
                organization_id=terms.organization_id,
                payment_method_id=method.id,
                method_summary=summary,
                signer_name=terms.signer_name.strip(),
                signer_email=(terms.signer_email or "").strip() or None,
                contact_id=terms.contact_id,
                agreed_at=terms.agreed_at,
                how=terms.how,
                evidence=terms.evidence.strip(),
                terms=terms_text(org_name, summary, terms, currency, company or "us"),
                revoke_instructions=revoke,
                recorded_at=now,
                recorded_by=actor,
                retain_until=retain_until(terms.agreed_at, None, None),
            )
            s.add(authorization)
            s.flush()
            rule = AutoPayRule(
                organization_id=terms.organization_id,
                authorization_id=authorization.id,
                payment_method_id=method.id,
                timing=terms.timing,
                days_after_invoice=terms.days_after_invoice
                if terms.timing == "after_invoice_date" else 0,
                contract_types=sorted(set(terms.contract_types)),
                item_types=sorted(set(terms.item_types)),
                limit_minor=terms.limit.minor,
                currency=currency,
                covers_from=terms.covers_from,
                created_at=now,
                created_by=actor,
            )
            s.add(rule)
            s.flush()
            audit(s, actor=actor, action="autopay.rule_created", subject_type="organization",
                  subject_id=terms.organization_id,
                  details={"rule": rule.id, "authorization": authorization.id,
                           "method": summary, "limit": terms.limit.plain(),
                           "how": terms.how, "signer": authorization.signer_name})
            return rule.id
    except IntegrityError as exc:
        raise AutoPayRefused(
            "This organization already has AutoPay. Revoke it first, then set it up again "
            "with the new terms.") from exc


def revoke_rule(engine: Engine, rule_id: int, reason: str, *,
                actor: str | None = None) -> None:
    """Stop the rule's future charges (retries too); the authorization is kept, stamped."""
    actor = actor or current_actor()
    reason = reason.strip()
    if not reason:
        raise AutoPayRefused("Say why AutoPay is revoked (for example: the client asked by "
                             "email on 3 May).")
    with session_scope(engine) as s:
        rule = s.get(AutoPayRule, rule_id)
        if rule is None:
            raise AutoPayRefused("That AutoPay rule no longer exists.")
        if rule.revoked_at is not None:
            return
        authorization = s.get(AutoPayAuthorization, rule.authorization_id)
        assert authorization is not None
        now = utcnow()
        rule.revoked_at = now
        authorization.revoked_at = now
        authorization.revoked_by = actor
        authorization.revoke_reason = reason
        authorization.retain_until = retain_until(
            authorization.agreed_at, authorization.last_debit_at, now)
        audit(s, actor=actor, action="autopay.rule_revoked", subject_type="organization",
              subject_id=rule.organization_id,
              details={"rule": rule.id, "authorization": authorization.id, "reason": reason})


def _rule_view(rule: AutoPayRule, auth: AutoPayAuthorization,
               method: PaymentMethod | None) -> RuleView:
    return RuleView(
        rule_id=rule.id, authorization_id=auth.id, organization_id=rule.organization_id,
        method_summary=auth.method_summary,
        method_removed=method is None or method.removed_at is not None,
        timing=rule.timing, days_after_invoice=rule.days_after_invoice,
        contract_types=tuple(rule.contract_types or ()),
        item_types=tuple(rule.item_types or ()),
        limit=Money(rule.limit_minor, rule.currency), covers_from=rule.covers_from,
        signer_name=auth.signer_name, agreed_at=auth.agreed_at, revoked_at=rule.revoked_at)


def rules_for_organization(engine: Engine, organization_id: int) -> list[RuleView]:
    """The organization's rules, the active one first, then revoked ones newest first."""
    with session_scope(engine) as s:
        rows = s.execute(
            select(AutoPayRule, AutoPayAuthorization, PaymentMethod)
            .join(AutoPayAuthorization, AutoPayAuthorization.id == AutoPayRule.authorization_id)
            .outerjoin(PaymentMethod, PaymentMethod.id == AutoPayRule.payment_method_id)
            .where(AutoPayRule.organization_id == organization_id)
        ).all()
        views = [_rule_view(r, a, m) for r, a, m in rows]
    return sorted(views, key=lambda v: (not v.active, -v.rule_id))


def active_rule(engine: Engine, organization_id: int) -> RuleView | None:
    return next((v for v in rules_for_organization(engine, organization_id) if v.active), None)


def contract_type_choices(engine: Engine, organization_id: int) -> list[int]:
    """The contract types this organization has contracts of (for the rule's filter)."""
    with session_scope(engine) as s:
        return sorted(t for t in s.scalars(
            select(Contract.contract_type).where(Contract.organization_id == organization_id)
            .distinct()) if t is not None)


def load_authorization(engine: Engine, authorization_id: int) -> AuthorizationRecord | None:
    with session_scope(engine) as s:
        auth = s.get(AutoPayAuthorization, authorization_id)
        if auth is None:
            return None
        rule_id = s.scalar(select(AutoPayRule.id)
                           .where(AutoPayRule.authorization_id == authorization_id))
        org = s.get(Organization, auth.organization_id)
        return AuthorizationRecord(
            authorization_id=auth.id, rule_id=int(rule_id or 0),
            organization_id=auth.organization_id,
            organization_name=org.name if org else f"Organization {auth.organization_id}",
            method_summary=auth.method_summary, signer_name=auth.signer_name,
            signer_email=auth.signer_email, agreed_at=auth.agreed_at, how=auth.how,
            evidence=auth.evidence, terms=auth.terms,
            revoke_instructions=auth.revoke_instructions, recorded_at=auth.recorded_at,
            recorded_by=auth.recorded_by, revoked_at=auth.revoked_at,
            revoked_by=auth.revoked_by, revoke_reason=auth.revoke_reason,
            last_debit_at=auth.last_debit_at, retain_until=auth.retain_until)


def _fields(record: AuthorizationRecord) -> Sequence[tuple[str, str]]:
    def when(d: datetime | None) -> str:
        return d.strftime("%Y-%m-%d %H:%M UTC") if d else "—"

    rows = [
        ("Organization", record.organization_name),
        ("Payment method", record.method_summary),
        ("Agreed by", record.signer_name + (f" <{record.signer_email}>"
                                            if record.signer_email else "")),
        ("Agreed on", when(record.agreed_at)),
        ("How", record.how_label),
        ("Proof", record.evidence),
        ("Recorded", f"{when(record.recorded_at)} by {record.recorded_by}"),
        ("Last AutoPay charge", when(record.last_debit_at)),
        ("Status", "Revoked " + when(record.revoked_at) + f" by {record.revoked_by}: "
         f"{record.revoke_reason}" if record.revoked_at else "Active"),
        ("Keep this record until", record.retain_until.isoformat()),
    ]
    return rows


def authorization_text(record: AuthorizationRecord) -> str:
    """The authorization as plain text (for the log, a file, or an email)."""
    lines = [f"AutoPay authorization no. {record.authorization_id}", ""]
    lines += [f"{label}: {value}" for label, value in _fields(record)]
    lines += ["", "Terms agreed to:", record.terms, "", "How to revoke:",
              record.revoke_instructions]
    return "\n".join(lines) + "\n"


def authorization_html(record: AuthorizationRecord) -> str:
    """The authorization as a small printable HTML page (Qt's rich text prints it)."""
    esc = html.escape
    rows = "".join(f"<tr><th align='left' style='padding-right:16px'>{esc(k)}</th>"
                   f"<td>{esc(v)}</td></tr>" for k, v in _fields(record))
    return (
        "<html><body>"
        f"<h2>AutoPay authorization no. {record.authorization_id}</h2>"
        f"<table cellspacing='4'>{rows}</table>"
        f"<h3>Terms agreed to</h3><p>{esc(record.terms)}</p>"
        f"<h3>How to revoke</h3><p>{esc(record.revoke_instructions)}</p>"
        "</body></html>"
    )


@dataclass(frozen=True, slots=True)
class SetupChoices:
    """What the set-up dialog offers: the organization's saved methods, its contacts (who
    may have agreed), the contract and billing item types to filter by (with Autotask's
    labels), the MSP's defaults and the company name the authorization names."""

    organization_name: str
    currency: str
    methods: tuple[tuple[int, str], ...]
    contacts: tuple[tuple[int, str, str | None], ...]
    contract_types: tuple[tuple[int, str], ...]
    item_types: tuple[tuple[int, str], ...]
    defaults: AutoPayDefaults
    company: str


def _labels(session: Session, entity: str, field_name: str) -> dict[int, str]:
    out: dict[int, str] = {}
    for value, label in session.execute(
            select(PicklistValue.value, PicklistValue.label)
            .where(PicklistValue.entity == entity, PicklistValue.field == field_name)):
        with contextlib.suppress(ValueError):
            out[int(value)] = label
    return out


def load_setup_choices(engine: Engine, organization_id: int) -> SetupChoices:
    """Read everything the set-up dialog needs (a worker thread)."""
    defaults = load_autopay_defaults(engine)
    company = load_receipt_identity(engine).name
    currency = get_internal_currency(engine) or "USD"
    with session_scope(engine) as s:
        org = s.get(Organization, organization_id)
        methods = tuple(
            (m.id, method_summary(m)) for m in s.scalars(
                select(PaymentMethod).where(PaymentMethod.organization_id == organization_id,
                                            PaymentMethod.removed_at.is_(None))
                .order_by(PaymentMethod.is_default.desc(), PaymentMethod.id)))
        contacts = tuple(
            (c.id, " ".join(p for p in (c.first_name, c.last_name) if p) or (c.email or ""),
             c.email)
            for c in s.scalars(select(Contact).where(
                Contact.organization_id == organization_id, Contact.is_active.is_(True))
                .order_by(Contact.last_name, Contact.first_name, Contact.id)))
        contract_labels = _labels(s, "Contracts", "contractType")
        item_labels = _labels(s, "BillingItems", "billingItemType")
        types = sorted(t for t in s.scalars(
            select(Contract.contract_type).where(Contract.organization_id == organization_id)
            .distinct()) if t is not None)
    return SetupChoices(
        organization_name=org.name if org else f"Organization {organization_id}",
        currency=currency, methods=methods, contacts=contacts,
        contract_types=tuple((t, contract_labels.get(t, f"Type {t}")) for t in types),
        item_types=tuple(sorted(item_labels.items(), key=lambda kv: kv[1].casefold())),
        defaults=defaults, company=company)
