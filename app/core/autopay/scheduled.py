"""Scheduled payments: one future charge of given invoices on a given date, set from the
Order Summary and charged by the AutoPay runner (:mod:`app.core.autopay.runner`) on that
day, once. Like AutoPay charges they carry no surcharge (see the runner's docstring).

Threads: reads and writes the database; run on a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import Engine, update

from app.core import clock
from app.core.autopay.rules import AutoPayRefused
from app.core.config import current_actor
from app.core.money import Money
from app.core.payments.audit import audit
from app.core.storage.engine import session_scope
from app.core.storage.models import PaymentMethod, ScheduledPayment

__all__ = ["cancel_scheduled_payment", "schedule_payment"]

#: A scheduled charge further ahead than this is more likely forgotten than wanted.
MAX_DAYS_AHEAD = 365


def schedule_payment(engine: Engine, *, organization_id: int, payment_method_id: int,
                     charge_on: date, allocations: Sequence[tuple[int, Money]],
                     memo: str | None = None, actor: str | None = None,
                     today: date | None = None) -> int:
    """Record a charge of ``allocations`` on ``charge_on``; returns its id. The amounts are
    charged as chosen, or less when less is owed on the day."""
    today = today or clock.today_utc()
    if charge_on <= today:
        raise AutoPayRefused("Choose a day after today. To charge today, use Pay.")
    if (charge_on - today).days > MAX_DAYS_AHEAD:
        raise AutoPayRefused("Choose a day within the next year.")
    if not allocations or any(a.minor <= 0 for _, a in allocations):
        raise AutoPayRefused("Choose the invoices and amounts to charge.")
    actor = actor or current_actor()
    with session_scope(engine) as s:
        method = s.get(PaymentMethod, payment_method_id)
        if (method is None or method.removed_at is not None
                or method.organization_id != organization_id):
            raise AutoPayRefused("Choose a card or bank account saved for this organization.")
        row = ScheduledPayment(
            organization_id=organization_id, payment_method_id=payment_method_id,
            charge_on=charge_on, currency=allocations[0][1].currency,
            allocations={str(i): a.minor for i, a in allocations}, state="scheduled",
            memo=(memo or "").strip() or None, created_at=clock.utcnow(), created_by=actor)
        s.add(row)
        s.flush()
        audit(s, actor=actor, action="autopay.scheduled", subject_type="organization",
              subject_id=organization_id,
              details={"scheduled": row.id, "on": charge_on.isoformat(),
                       "invoices": {str(i): a.plain() for i, a in allocations}})
        return row.id


def cancel_scheduled_payment(engine: Engine, scheduled_id: int,
                             actor: str | None = None) -> bool:
    """Cancel a scheduled payment not yet charged; False when it is already charging/done."""
    actor = actor or current_actor()
    with session_scope(engine) as s:
        done = s.execute(update(ScheduledPayment)
                         .where(ScheduledPayment.id == scheduled_id,
                                ScheduledPayment.state == "scheduled")
                         .values(state="cancelled", reason=f"Cancelled by {actor}.",
                                 settled_at=clock.utcnow())).rowcount  # type: ignore[attr-defined]
        if done:
            audit(s, actor=actor, action="autopay.schedule_cancelled",
                  subject_type="scheduled_payment", subject_id=scheduled_id, details={})
        return bool(done)
