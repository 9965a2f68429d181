"""A small world for the payment screens' tests: one organization with contacts and open
invoices in a real SQLite database, and the sandbox gateway over real HTTP with the
organization's saved cards (Stripe's ``pm_card_*`` test methods)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import Engine

from app.core.gateways.repository import SavedMethods, StoredMethod
from app.core.gateways.stripe_gateway import StripeGateway
from app.core.storage.engine import session_scope
from app.core.storage.models import Contact, Invoice, Organization
from app.gui.context import AppContext
from app.sandbox.gateway import GatewaySandbox
from tests.integration.gateway.support import attach_test_method, make_gateway

ORG_ID = 1001
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@dataclass
class PaymentWorld:
    context: AppContext
    sandbox: GatewaySandbox
    gateway: StripeGateway
    invoice_ids: list[int]
    methods: list[StoredMethod]
    organization_id: int = ORG_ID

    def method(self, last4: str) -> StoredMethod:
        return next(m for m in self.methods if m.method.last4 == last4)


def seed_organization(
    engine: Engine,
    *,
    organization_id: int = ORG_ID,
    name: str = "Acme Dental Group",
    invoices: tuple[tuple[str, int, date], ...] = (
        ("1045", 120_000, date(2026, 9, 30)),
        ("1046", 45_050, date(2026, 10, 31)),
        ("1047", 9_999, date(2026, 11, 30)),
    ),
) -> list[int]:
    """One organization with two contacts and open invoices (number, total cents, due)."""
    ids = []
    with session_scope(engine) as s:
        s.add(Organization(id=organization_id, name=name, is_active=True, synced_at=NOW))
        s.add(Contact(id=organization_id * 10 + 1, organization_id=organization_id,
                      first_name="Dana", last_name="Reyes", email="dana@acme.test",
                      is_active=True, synced_at=NOW))
        s.add(Contact(id=organization_id * 10 + 2, organization_id=organization_id,
                      first_name="Sam", last_name="Okafor", email="ap@acme.test",
                      is_active=True, synced_at=NOW))
        for offset, (number, total, due) in enumerate(invoices):
            invoice_id = organization_id * 100 + offset
            s.add(Invoice(
                id=invoice_id, organization_id=organization_id, invoice_number=number,
                invoice_date=date(due.year, due.month, 1), due_date=due, total_minor=total,
                tax_minor=0, is_voided=False, amount_paid_minor=0, balance_minor=total,
                status="open", synced_at=NOW,
            ))
            ids.append(invoice_id)
    return ids


def build_world(
    context: AppContext, sandbox: GatewaySandbox, aliases: tuple[str, ...] = (
        "pm_card_visa", "pm_card_chargeDeclinedInsufficientFunds",
    ), *, organization_id: int = ORG_ID,
) -> PaymentWorld:
    """Seed the organization, connect the gateway and save the organization's test cards."""
    invoice_ids = seed_organization(context.engine, organization_id=organization_id)
    gateway = make_gateway(sandbox)
    context.services.gateway = gateway
    saved = SavedMethods(context.engine, gateway)
    customer = saved.customer_for(organization_id)
    for alias in aliases:
        attach_test_method(sandbox, customer, alias)
    methods = saved.refresh(organization_id)
    return PaymentWorld(context, sandbox, gateway, invoice_ids, methods, organization_id)


def pay(world: PaymentWorld, invoice_ids: list[int], last4: str = "4242",
        amount: str | None = None) -> int:
    """Take a real payment through the pipeline (as the dialog does); returns its id."""
    from app.core.payments import (
        PaymentPipeline,
        PaymentRequest,
        compute_order_summary,
        load_payable_invoices,
    )

    engine = world.context.engine
    invoices = load_payable_invoices(engine, invoice_ids, "USD")
    summary = compute_order_summary(invoices, currency="USD", amount=amount)
    request = PaymentRequest.from_summary(
        summary, organization_id=world.organization_id,
        payment_method_id=world.method(last4).id,
        contact_id=world.organization_id * 10 + 1,
    )
    return PaymentPipeline(engine, world.gateway).pay(request).payment_id
