"""Which AutoPay charges and scheduled payments fall on which day: the plan the runner
charges from (everything due on or before today) and the AutoPay view lists (the next 30
days). Reads only; nothing here writes or calls a gateway.

An invoice is AutoPay's when its organization has an active rule, it is dated on or after
the rule's ``covers_from``, it is open or partly paid with something owed, and — when the
rule names contract or billing item types — every line of it is of one of those types.
Its charge day is its due date (or its invoice date when it has none), or its invoice date
plus the rule's days. After a decline it is due again on the attempt's ``next_retry_on``.
An invoice already charged by the rule (succeeded, processing), given up after its retries,
or stopped, is never planned again: each invoice is charged once, ever.

Threads: reads the database; run on a worker thread.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.money import Money
from app.core.payments.pipeline.base import method_summary
from app.core.storage.models import (
    AutoPayAttempt,
    AutoPayAuthorization,
    AutoPayRule,
    Contract,
    Invoice,
    InvoiceLine,
    Organization,
    PaymentMethod,
    ScheduledPayment,
)

__all__ = ["PlannedCharge", "RuleProblem", "plan_charges"]

OPEN_STATUSES = ("open", "partially_paid")
#: An attempt in one of these states ends AutoPay for that invoice under that rule.
FINAL_ATTEMPT_STATES = frozenset({"succeeded", "processing", "gave_up", "stopped"})
CHUNK = 500

T = TypeVar("T")


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


@dataclass(frozen=True, slots=True)
class PlannedCharge:
    """One charge on one day: an AutoPay invoice (``rule_id``, ``attempt_no``) or a scheduled
    payment (``scheduled_id``, possibly several invoices). ``blocked`` says why it will not
    be charged automatically (over the rule's limit), in words with what to do."""

    kind: str  # autopay | retry | scheduled
    charge_on: date
    organization_id: int
    organization_name: str
    invoices: tuple[tuple[int, str, Money], ...]  # (id, number, amount)
    amount: Money
    method_id: int
    method_summary: str
    rule_id: int | None = None
    attempt_no: int = 0
    scheduled_id: int | None = None
    blocked: str | None = None

    @property
    def invoice_numbers(self) -> str:
        return ", ".join(number for _, number, _ in self.invoices)


@dataclass(frozen=True, slots=True)
class RuleProblem:
    """A rule that cannot charge at all (its saved method was removed)."""

    rule_id: int
    organization_id: int
    organization_name: str
    message: str


def charge_day(timing: str, days: int, invoice_date: date | None,
               due_date: date | None) -> date | None:
    if timing == "after_invoice_date":
        return invoice_date + timedelta(days=days) if invoice_date else None
    return due_date or invoice_date


def _lines_ok(session: Session, rule: AutoPayRule, invoice_ids: Sequence[int]) -> set[int]:
    """Of ``invoice_ids``, those every line of which matches the rule's type filters."""
    contract_types = set(rule.contract_types or ())
    item_types = set(rule.item_types or ())
    if not contract_types and not item_types:
        return set(invoice_ids)
    types: dict[int, int | None] = dict(session.execute(
        select(Contract.id, Contract.contract_type)
        .where(Contract.organization_id == rule.organization_id)).all())
    good: dict[int, bool] = {}
    for part in chunks(invoice_ids):
        for invoice_id, contract_id, item_type in session.execute(
            select(InvoiceLine.invoice_id, InvoiceLine.contract_id, InvoiceLine.item_type)
            .where(InvoiceLine.invoice_id.in_(part))
        ):
            if invoice_id is None:
                continue
            ok = True
            if contract_types:
                ok = contract_id is not None and types.get(contract_id) in contract_types
            if ok and item_types:
                ok = item_type in item_types
            good[invoice_id] = good.get(invoice_id, True) and ok
    return {i for i, ok in good.items() if ok}


def plan_charges(session: Session, today: date, until: date) -> tuple[
        list[PlannedCharge], list[RuleProblem]]:
    """Every charge due on or before ``until`` (those due on or before ``today`` are due now:
    a charge day missed while PayDesk was closed is charged at the next run)."""
    planned: list[PlannedCharge] = []
    problems: list[RuleProblem] = []
    rules = session.execute(
        select(AutoPayRule, AutoPayAuthorization.method_summary, PaymentMethod.removed_at,
               Organization.name)
        .join(AutoPayAuthorization, AutoPayAuthorization.id == AutoPayRule.authorization_id)
        .outerjoin(PaymentMethod, PaymentMethod.id == AutoPayRule.payment_method_id)
        .outerjoin(Organization, Organization.id == AutoPayRule.organization_id)
        .where(AutoPayRule.revoked_at.is_(None))
        .order_by(AutoPayRule.id)
    ).all()
    for rule, summary, removed_at, org_name in rules:
        name = org_name or f"Organization {rule.organization_id}"
        if removed_at is not None:
            problems.append(RuleProblem(
                rule.id, rule.organization_id, name,
                f"AutoPay for {name} cannot charge: its saved method {summary} was removed. "
                "Revoke AutoPay and set it up again with the client's new card or bank "
                "account."))
            continue
        planned.extend(_plan_rule(session, rule, summary, name, today, until))
    planned.extend(_plan_scheduled(session, today, until))
    planned.sort(key=lambda p: (p.charge_on, p.organization_name.casefold(), p.invoice_numbers))
    return planned, problems


def _plan_rule(session: Session, rule: AutoPayRule, summary: str, name: str, today: date,
               until: date) -> Iterable[PlannedCharge]:
    candidates = session.execute(
        select(Invoice.id, Invoice.invoice_number, Invoice.invoice_date, Invoice.due_date,
               Invoice.balance_minor)
        .where(Invoice.organization_id == rule.organization_id,
               Invoice.status.in_(OPEN_STATUSES), Invoice.is_voided.is_(False),
               Invoice.balance_minor > 0, Invoice.invoice_date >= rule.covers_from)
        .order_by(Invoice.id)
    ).all()
    if not candidates:
        return []
    ids = [row[0] for row in candidates]
    allowed = _lines_ok(session, rule, ids)
    attempts: dict[int, list[tuple[int, str, date | None]]] = defaultdict(list)
    for part in chunks(ids):
        for invoice_id, attempt_no, state, retry_on in session.execute(
            select(AutoPayAttempt.invoice_id, AutoPayAttempt.attempt_no, AutoPayAttempt.state,
                   AutoPayAttempt.next_retry_on)
            .where(AutoPayAttempt.rule_id == rule.id, AutoPayAttempt.invoice_id.in_(part))
        ):
            attempts[invoice_id].append((attempt_no, state, retry_on))
    out: list[PlannedCharge] = []
    limit = Money(rule.limit_minor, rule.currency)
    for invoice_id, number, invoice_date, due_date, balance in candidates:
        if invoice_id not in allowed:
            continue
        tried = sorted(attempts.get(invoice_id, ()))
        kind = "autopay"
        if tried:
            last_no, last_state, retry_on = tried[-1]
            if last_state in FINAL_ATTEMPT_STATES or last_state == "charging":
                continue
            if retry_on is None:
                continue
            when: date | None = retry_on
            attempt_no = last_no + 1
            kind = "retry" if last_state == "declined" else "autopay"
        else:
            when = charge_day(rule.timing, rule.days_after_invoice, invoice_date, due_date)
            attempt_no = 1
        if when is None or when > until:
            continue
        amount = Money(balance, rule.currency)
        label = number or str(invoice_id)
        blocked = None
        if amount > limit:
            blocked = (f"Invoice {label} is {amount.format()}, more than the AutoPay limit of "
                       f"{limit.format()}; AutoPay leaves it alone. Take the payment from the "
                       "invoice page, or raise the limit with the client's agreement.")
        out.append(PlannedCharge(
            kind=kind, charge_on=max(when, today),
            organization_id=rule.organization_id, organization_name=name,
            invoices=((invoice_id, label, amount),), amount=amount,
            method_id=rule.payment_method_id, method_summary=summary, rule_id=rule.id,
            attempt_no=attempt_no, blocked=blocked))
    return out


def _plan_scheduled(session: Session, today: date, until: date) -> Iterable[PlannedCharge]:
    rows = session.execute(
        select(ScheduledPayment, Organization.name, PaymentMethod)
        .outerjoin(Organization, Organization.id == ScheduledPayment.organization_id)
        .outerjoin(PaymentMethod, PaymentMethod.id == ScheduledPayment.payment_method_id)
        .where(ScheduledPayment.state == "scheduled", ScheduledPayment.charge_on <= until)
    ).all()
    out = []
    for scheduled, org_name, method in rows:
        ids = [int(i) for i in scheduled.allocations]
        numbers = dict(session.execute(
            select(Invoice.id, Invoice.invoice_number).where(Invoice.id.in_(ids))
        ).all())
        invoices = tuple(
            (int(i), numbers.get(int(i)) or str(i), Money(int(a), scheduled.currency))
            for i, a in scheduled.allocations.items())
        total = Money(sum(a.minor for _, _, a in invoices), scheduled.currency)
        out.append(PlannedCharge(
            kind="scheduled", charge_on=max(scheduled.charge_on, today),
            organization_id=scheduled.organization_id,
            organization_name=org_name or f"Organization {scheduled.organization_id}",
            invoices=invoices, amount=total, method_id=scheduled.payment_method_id,
            method_summary=method_summary(method) if method is not None else "(removed)",
            scheduled_id=scheduled.id))
    return out
