"""What the AutoPay view shows, read in one go: the charges of the next 30 days with their
total, the last run, and everything that needs a person — with the reason and what to do.

Threads: reads the database; run on a worker thread. Returns frozen data only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Engine, func, select

from app.core import clock
from app.core.autopay.plan import PlannedCharge, plan_charges
from app.core.config import get_internal_currency
from app.core.money import Money
from app.core.storage.engine import session_scope
from app.core.storage.models import (
    AutoPayAttempt,
    AutoPayRule,
    AutoPayRun,
    Invoice,
    Organization,
    ScheduledPayment,
)

__all__ = ["AttentionRow", "AutoPayOverview", "LastRun", "load_autopay_overview"]

KIND_LABELS = {"autopay": "AutoPay", "retry": "AutoPay retry", "scheduled": "Scheduled"}


@dataclass(frozen=True, slots=True)
class AttentionRow:
    """A failure (or a retry on its way) with its reason and the action to take."""

    on: date
    organization_name: str
    invoice_numbers: str
    amount: Money
    reason: str
    action: str
    needs_person: bool


@dataclass(frozen=True, slots=True)
class LastRun:
    started_at: datetime
    finished_at: datetime | None
    actor: str
    charged: int
    charged_amount: Money
    declined: int
    needs_person: int
    problems: str | None


@dataclass(frozen=True, slots=True)
class AutoPayOverview:
    today: date
    days: int
    currency: str
    upcoming: tuple[PlannedCharge, ...]
    attention: tuple[AttentionRow, ...]
    last_run: LastRun | None
    active_rules: int
    pending_schedules: int

    @property
    def total(self) -> Money:
        return Money(sum(p.amount.minor for p in self.upcoming if not p.blocked),
                     self.currency)

    @property
    def due_now(self) -> Money:
        return Money(sum(p.amount.minor for p in self.upcoming
                         if not p.blocked and p.charge_on <= self.today), self.currency)

    @staticmethod
    def kind_label(kind: str) -> str:
        return KIND_LABELS.get(kind, kind)


def load_autopay_overview(engine: Engine, today: date | None = None,
                          days: int = 30) -> AutoPayOverview:
    today = today or clock.today_utc()
    currency = get_internal_currency(engine) or "USD"
    with session_scope(engine) as s:
        planned, problems = plan_charges(s, today, today + timedelta(days=days))
        attention: list[AttentionRow] = [
            AttentionRow(today, p.organization_name, "", Money.zero(currency), p.message,
                         "Revoke AutoPay on the organization page and set it up again.", True)
            for p in problems]
        attention += [
            AttentionRow(p.charge_on, p.organization_name, p.invoice_numbers, p.amount,
                         "More than the AutoPay limit.",
                         "Take it from the invoice page, or raise the limit with the "
                         "client's agreement.", True)
            for p in planned if p.blocked]
        rows = s.execute(
            select(AutoPayAttempt, Invoice.invoice_number, Organization.name)
            .join(AutoPayRule, AutoPayRule.id == AutoPayAttempt.rule_id)
            .join(Invoice, Invoice.id == AutoPayAttempt.invoice_id)
            .outerjoin(Organization, Organization.id == AutoPayRule.organization_id)
            .where(AutoPayAttempt.state.in_(("gave_up", "declined")),
                   Invoice.balance_minor > 0, Invoice.status.in_(("open", "partially_paid")))
            .order_by(AutoPayAttempt.settled_at.desc())).all()
        latest: dict[tuple[int, int], AutoPayAttempt] = {}
        names: dict[int, tuple[str, str]] = {}
        for attempt, number, org in rows:
            key = (attempt.rule_id, attempt.invoice_id)
            if key not in latest or attempt.attempt_no > latest[key].attempt_no:
                latest[key] = attempt
                names[attempt.id] = (number or str(attempt.invoice_id), org or "")
        newer = set(s.execute(
            select(AutoPayAttempt.rule_id, AutoPayAttempt.invoice_id)
            .where(AutoPayAttempt.state.in_(("succeeded", "processing", "charging",
                                             "stopped")))).all())
        revoked = set(s.scalars(select(AutoPayRule.id)
                                .where(AutoPayRule.revoked_at.is_not(None))).all())
        for key, attempt in latest.items():
            if key in newer:
                continue
            number, org = names[attempt.id]
            on = attempt.charged_on
            amount = Money(attempt.amount_minor, currency)
            if attempt.state == "declined" and attempt.rule_id not in revoked:
                attention.append(AttentionRow(
                    on, org, number, amount, attempt.reason or "Declined.",
                    f"Nothing to do: AutoPay tries again on {attempt.next_retry_on}. If the "
                    "client has a new card, set AutoPay up again with it.", False))
            elif attempt.state == "declined":
                attention.append(AttentionRow(
                    on, org, number, amount, (attempt.reason or "Declined.").split(
                        " AutoPay tries again")[0] + " AutoPay was revoked since.",
                    "Take the payment from the invoice page.", True))
            else:
                attention.append(AttentionRow(
                    on, org, number, amount, attempt.reason or "AutoPay stopped.",
                    "Ask the client for another card or bank account, then take it from "
                    "the invoice page.", True))
        for scheduled, org in s.execute(
            select(ScheduledPayment, Organization.name)
            .outerjoin(Organization, Organization.id == ScheduledPayment.organization_id)
            .where(ScheduledPayment.state.in_(("declined", "failed")))
            .order_by(ScheduledPayment.settled_at.desc()).limit(200)):
            owed = s.scalar(select(func.count()).select_from(Invoice).where(
                Invoice.id.in_([int(i) for i in scheduled.allocations]),
                Invoice.balance_minor > 0))
            if not owed:
                continue
            total = Money(sum(int(a) for a in scheduled.allocations.values()), currency)
            numbers = ", ".join(n or "" for n in s.scalars(select(Invoice.invoice_number).where(
                Invoice.id.in_([int(i) for i in scheduled.allocations]))).all())
            attention.append(AttentionRow(
                (scheduled.settled_at or scheduled.created_at).date(), org or "", numbers,
                total, scheduled.reason or "The scheduled payment did not go through.",
                "Ask the client for another card or bank account, then take the payment "
                "from the invoice page.", True))
        run = s.scalars(select(AutoPayRun).where(AutoPayRun.finished_at.is_not(None))
                        .order_by(AutoPayRun.started_at.desc()).limit(1)).first()
        last = None if run is None else LastRun(
            run.started_at, run.finished_at, run.actor, run.charged,
            Money(run.charged_minor, currency), run.declined, run.needs_person, run.problems)
        active = s.scalar(select(func.count()).select_from(AutoPayRule)
                          .where(AutoPayRule.revoked_at.is_(None))) or 0
        pending = s.scalar(select(func.count()).select_from(ScheduledPayment)
                           .where(ScheduledPayment.state == "scheduled")) or 0
    attention.sort(key=lambda a: (not a.needs_person, a.on), reverse=False)
    return AutoPayOverview(today=today, days=days, currency=currency, upcoming=tuple(planned),
                           attention=tuple(attention), last_run=last, active_rules=int(active),
                           pending_schedules=int(pending))
