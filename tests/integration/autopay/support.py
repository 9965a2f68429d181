"""AutoPay test helpers on top of the payment test world (real database, the Autotask and
Stripe stand-ins over HTTP): a rule with a recorded authorization, the gateway's charges
per invoice, and the project clock moved to a given day."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from app.core import clock
from app.core.autopay import RuleTerms, create_rule
from app.core.storage.engine import session_scope
from app.core.storage.models import Payment, PaymentAllocation
from tests.integration.payments.support import PayWorld, usd

START = date(2000, 1, 1)


def make_rule(world: PayWorld, method: str = "approve", limit: str = "10000.00",
              timing: str = "after_invoice_date", days: int = 0) -> int:
    return create_rule(world.engine, RuleTerms(
        organization_id=world.company_id, payment_method_id=world.method(method),
        timing=timing, days_after_invoice=days, limit=usd(limit), covers_from=START,
        signer_name="Dana Client", signer_email="dana@acme.example", how="signed_form",
        evidence="AutoPay form signed 2026-11-30, scanned to the client folder",
        agreed_at=datetime.now(UTC) - timedelta(days=1)), company="Northwind IT Services",
        actor="bookkeeper@frontdesk")


def charges_per_invoice(world: PayWorld) -> Counter[int]:
    """How many charges the gateway really made for each invoice (through PayDesk's
    payments and their references, so a second charge would show as 2)."""
    counts: Counter[int] = Counter()
    with session_scope(world.engine) as s:
        rows = s.execute(select(Payment.reference, PaymentAllocation.invoice_id)
                         .join(PaymentAllocation)).tuples().all()
    for reference, invoice_id in rows:
        counts[invoice_id] += len(world.charges(reference))
    return counts


def set_today(monkeypatch: pytest.MonkeyPatch, day: date) -> None:
    """Move the project clock's day (AutoPay's "today") to ``day``."""
    monkeypatch.setattr(clock, "today_utc", lambda: day)
