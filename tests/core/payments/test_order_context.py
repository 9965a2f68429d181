"""What the Order Summary dialog loads before its first summary, read by the core: the
organization's name, its active contacts by name, the invoices with their balances, the
surcharge rule, and why payments cannot be taken without a gateway."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import Engine

from app.core.money import Money
from app.core.payments import (
    SurchargeSettings,
    load_order_context,
    save_surcharge_settings,
)
from app.core.storage.engine import session_scope
from app.core.storage.models import Contact, Invoice, Organization

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _seed(engine: Engine) -> None:
    with session_scope(engine) as s:
        s.add(Organization(id=7, name="Birch Legal", is_active=True, synced_at=T0))
        s.add_all([
            Contact(id=71, organization_id=7, first_name="Sam", last_name="Okafor",
                    email="ap@birch.test", is_active=True, synced_at=T0),
            Contact(id=72, organization_id=7, first_name="Dana", last_name="Adams",
                    email="dana@birch.test", is_active=True, synced_at=T0),
            Contact(id=73, organization_id=7, first_name=None, last_name=None,
                    email="billing@birch.test", is_active=True, synced_at=T0),
            Contact(id=74, organization_id=7, first_name="Gone", last_name="Away",
                    is_active=False, synced_at=T0),
            Contact(id=81, organization_id=8, first_name="Other", last_name="Org",
                    is_active=True, synced_at=T0),
        ])
        s.add_all([
            Invoice(id=701, organization_id=7, invoice_number="2001", total_minor=12_000,
                    balance_minor=4_000, due_date=date(2026, 3, 31), status="partially_paid",
                    synced_at=T0),
            Invoice(id=702, organization_id=7, invoice_number="2002", total_minor=5_000,
                    balance_minor=0, is_voided=True, status="void", synced_at=T0),
        ])


def test_the_order_context_without_a_gateway_says_what_to_do(engine: Engine) -> None:
    _seed(engine)
    save_surcharge_settings(engine, SurchargeSettings(enabled=True, percent=Decimal("2.5")))

    order = load_order_context(engine, "USD", 7, [701, 702], None)

    assert order.organization_name == "Birch Legal"
    # Active contacts of this organization only, by last name (an e-mail when there is no
    # name), the same on SQLite and PostgreSQL.
    assert [c.name for c in order.contacts] == ["Dana Adams", "billing@birch.test",
                                               "Sam Okafor"]
    assert [c.contact_id for c in order.contacts] == [72, 73, 71]
    balances = {i.invoice_number: i.balance for i in order.invoices}
    assert balances == {"2001": Money(4_000, "USD"), "2002": Money(0, "USD")}
    void = next(i for i in order.invoices if i.invoice_number == "2002")
    assert void.blocked_reason and "void" in void.blocked_reason
    assert order.surcharge.enabled and order.surcharge.percent == Decimal("2.5")
    assert order.methods == ()
    assert order.problems == (
        "No payment gateway is connected yet. Run Setup… to connect your payment gateway.",)
    # The caller's own reason (describe_missing_gateway's) is kept as it is.
    why = "The Stripe secret key is not stored on this computer."
    assert load_order_context(engine, "USD", 7, [701], None, why).problems == (why,)


def test_an_unknown_organization_is_named_by_its_id(engine: Engine) -> None:
    order = load_order_context(engine, "USD", 99, [], None)
    assert order.organization_name == "Organization 99"
    assert order.contacts == () and order.invoices == ()
