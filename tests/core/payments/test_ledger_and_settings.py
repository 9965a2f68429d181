"""What the Order Summary loads from the database (why an invoice cannot be paid) and the
shared surcharge setting."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from app.core.money import Money
from app.core.payments import (
    SurchargeSettings,
    load_payable_invoices,
    load_surcharge_settings,
    save_surcharge_settings,
)
from app.core.storage.engine import session_scope
from app.core.storage.models import Invoice, Payment, PaymentAllocation

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_blocked_reasons(engine: Engine) -> None:
    with session_scope(engine) as s:
        s.add_all([
            Invoice(id=1, organization_id=5, invoice_number="1001", total_minor=100,
                    balance_minor=0, is_voided=True, status="void", synced_at=T0),
            Invoice(id=2, organization_id=5, invoice_number="1002", total_minor=100,
                    balance_minor=0, status="paid", synced_at=T0),
            Invoice(id=3, organization_id=5, invoice_number="1003", total_minor=9_000,
                    balance_minor=9_000, status="open", synced_at=T0),
            Invoice(id=4, organization_id=5, invoice_number="1004", total_minor=7_000,
                    balance_minor=7_000, status="open", synced_at=T0),
        ])
        s.add(Payment(id=1, reference="PD-RUNNING1", idempotency_key="k", organization_id=5,
                      currency="USD", amount_minor=100, surcharge_minor=0, total_minor=100,
                      gateway="stripe-test", state="unknown", created_at=T0, created_by="x"))
        s.flush()
        s.add(PaymentAllocation(payment_id=1, invoice_id=3, amount_minor=100))

    found = {i.invoice_id: i for i in load_payable_invoices(engine, [1, 2, 3, 4], "USD")}

    assert found[1].blocked_reason == "Invoice 1001 is void and cannot be paid."
    assert found[2].blocked_reason == "Invoice 1002 is already paid."
    assert found[3].blocked_reason == (
        "Invoice 1003 is in payment PD-RUNNING1, which is still running. Wait for it to finish.")
    assert found[4].blocked_reason is None and found[4].balance == Money(7_000, "USD")


def test_surcharge_setting_is_off_until_saved(sqlite_engine: Engine) -> None:
    assert load_surcharge_settings(sqlite_engine) == SurchargeSettings()
    assert not load_surcharge_settings(sqlite_engine).enabled

    save_surcharge_settings(sqlite_engine, SurchargeSettings(enabled=True,
                                                             percent=Decimal("2.75")))
    loaded = load_surcharge_settings(sqlite_engine)
    assert loaded.enabled and loaded.percent == Decimal("2.75")
    assert "2.75%" in loaded.disclosure_text()

    with pytest.raises(ValueError, match="at most 3%"):
        save_surcharge_settings(sqlite_engine, SurchargeSettings(enabled=True,
                                                                 percent=Decimal("3.5")))
    with pytest.raises(ValueError, match="disclosure"):
        save_surcharge_settings(sqlite_engine, SurchargeSettings(
            enabled=True, percent=Decimal(2), disclosure=" "))
