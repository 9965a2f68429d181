"""A small world for the payment screens' tests: one organization with contacts and open
invoices in a real SQLite database, and a gateway's stand-in over real HTTP (Stripe or
Authorize.Net, through the payment test kit :mod:`tests.integration.payments.gateways`) with
the organization's saved test cards, by what charging them ends in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import Engine

from app.core.gateways import PaymentGateway
from app.core.gateways.repository import SavedMethods, StoredMethod
from app.core.storage.engine import session_scope
from app.core.storage.models import Contact, Invoice, Organization
from app.gui.context import AppContext
from tests.integration.payments.gateways import GatewayKit

ORG_ID = 1001

#: For a test that takes a payment only to get to what it is about, and that about is the same
#: code for every gateway (posting, filters, layout), or is something only Stripe has: it runs
#: once, with Stripe's stand-in, instead of for every gateway.
stripe_only = pytest.mark.parametrize("gateway_key", ["stripe"])
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@dataclass
class PaymentWorld:
    context: AppContext
    kit: GatewayKit
    gateway: PaymentGateway
    invoice_ids: list[int]
    #: The saved test methods by outcome (``approve``, ``decline``, ...).
    saved: dict[str, StoredMethod]
    organization_id: int = ORG_ID

    @property
    def sandbox(self) -> Any:
        """The gateway's stand-in server (for what only one gateway's tests use)."""
        return self.kit.sandbox

    @property
    def methods(self) -> list[StoredMethod]:
        return list(self.saved.values())

    def method(self, outcome: str = "approve") -> StoredMethod:
        """The saved method whose charges end as ``outcome``."""
        return self.saved[outcome]

    def summary(self, outcome: str = "approve") -> str:
        """How PayDesk names that method ("Visa •••• 4242")."""
        return self.kit.summaries[outcome]


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
    context: AppContext, kit: GatewayKit, outcomes: tuple[str, ...] = ("approve", "decline"),
    *, organization_id: int = ORG_ID,
) -> PaymentWorld:
    """Seed the organization, connect the gateway and save the organization's test cards
    (one per outcome, :data:`~tests.integration.payments.gateways.OUTCOMES`)."""
    invoice_ids = seed_organization(context.engine, organization_id=organization_id)
    gateway = kit.gateway()
    context.services.gateway = gateway
    tokens = {outcome: kit.save_method(context.engine, gateway, organization_id, outcome)
              for outcome in outcomes}
    stored = SavedMethods(context.engine, gateway).refresh(organization_id)
    saved = {outcome: next(m for m in stored if m.token == token)
             for outcome, token in tokens.items()}
    return PaymentWorld(context, kit, gateway, invoice_ids, saved, organization_id)


def pay(world: PaymentWorld, invoice_ids: list[int], outcome: str = "approve",
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
        payment_method_id=world.method(outcome).id,
        contact_id=world.organization_id * 10 + 1,
    )
    return PaymentPipeline(engine, world.gateway).pay(request).payment_id
