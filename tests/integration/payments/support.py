"""A small world for payment tests: the Autotask sandbox with one client's invoices synced
into a real database, a gateway's stand-in with PayDesk's adapter (Stripe or Authorize.Net,
through :mod:`tests.integration.payments.gateways`), the pipeline and the outbox — all over
real HTTP on loopback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, func, select

from app.core.autotask import AutotaskClient, RetryPolicy
from app.core.config import set_internal_currency
from app.core.gateways import PaymentGateway
from app.core.gateways.repository import SavedMethods
from app.core.money import Money
from app.core.payments import (
    PaymentPipeline,
    PaymentRequest,
    compute_order_summary,
    load_payable_invoices,
)
from app.core.posting import PostingOutbox
from app.core.posting.autotask_channel import AutotaskDeliverer
from app.core.storage.engine import session_scope
from app.core.storage.models import Invoice, Payment, PaymentAllocation, Posting
from app.core.sync import run_sync
from app.sandbox.autotask.server import AutotaskSandbox
from tests.integration.payments.gateways import GatewayKit, start_kit

TIMEOUT = (2.0, 10.0)
USD = "USD"


def usd(text: str) -> Money:
    return Money.from_decimal(Decimal(text), USD)


def autotask_client(sandbox: AutotaskSandbox) -> AutotaskClient:
    return AutotaskClient(
        sandbox.client_credentials(), discovery_url=sandbox.url,
        retry=RetryPolicy(attempts=3, backoff_base=0.01, backoff_max=0.05,
                          retry_after_max=0.05),
    )


def small_autotask() -> AutotaskSandbox:
    return AutotaskSandbox(companies=2, contacts=4, contracts=1, tickets=2, invoices=2,
                           lines_per_invoice=1.0, seed=5)


def seed_invoices(sandbox: AutotaskSandbox, amounts: list[str]) -> tuple[int, list[int]]:
    """A fresh client company with one invoice per amount, oldest first; (company, ids)."""
    company = sandbox.create_company(companyName="Acme Dental Group")
    ids = []
    start = date.today() - timedelta(days=90)
    for n, amount in enumerate(amounts):
        record = sandbox.create_invoice(
            int(company["id"]), [("Managed services", "1", amount)],
            invoice_day=start + timedelta(days=20 * n),
        )
        ids.append(int(record["id"]))
    return int(company["id"]), ids


def sync_into(engine: Engine, sandbox: AutotaskSandbox) -> None:
    set_internal_currency(engine, USD)
    result = run_sync(engine, autotask_client(sandbox), cancel=threading.Event())
    assert result.status.value == "succeeded", result.error


@dataclass
class PayWorld:
    engine: Engine
    autotask: AutotaskSandbox
    kit: GatewayKit
    gateway: PaymentGateway
    company_id: int
    invoice_ids: list[int]
    methods: dict[str, int] = field(default_factory=dict)

    @property
    def gateway_sandbox(self) -> Any:
        """The stand-in server itself (for what only one gateway's tests use)."""
        return self.kit.sandbox

    def charges(self, reference: str) -> list[str]:
        """The charges the gateway really made for a PayDesk reference."""
        return self.kit.charges(reference)

    @property
    def pipeline(self) -> PaymentPipeline:
        return PaymentPipeline(self.engine, self.gateway, actor="dana@frontdesk")

    @property
    def outbox(self) -> PostingOutbox:
        deliverer = AutotaskDeliverer(self.engine, autotask_client(self.autotask))
        return PostingOutbox(self.engine, {"autotask": deliverer}, actor="dana@frontdesk")

    def method(self, outcome: str) -> int:
        """The saved-method row id of a test method whose charges end as ``outcome``
        (:data:`~tests.integration.payments.gateways.OUTCOMES`; for Stripe also one of its
        ``pm_*`` names), saved on the client at the gateway and refreshed into PayDesk."""
        if outcome not in self.methods:
            token = self.kit.save_method(self.engine, self.gateway, self.company_id, outcome)
            stored = SavedMethods(self.engine, self.gateway).refresh(self.company_id)
            self.methods[outcome] = next(m.id for m in stored if m.token == token)
        return self.methods[outcome]

    def request(self, invoice_ids: list[int], amount: str | None = None,
                edits: dict[int, str] | None = None, method: str | None = "approve",
                method_id: int | None = None) -> PaymentRequest:
        """What the dialog would send for this amount (via the real order summary)."""
        invoices = load_payable_invoices(self.engine, invoice_ids, USD)
        summary = compute_order_summary(invoices, currency=USD, amount=amount,
                                        allocation_edits=edits or {})
        assert summary.can_pay, summary.error
        return PaymentRequest.from_summary(
            summary, organization_id=self.company_id,
            payment_method_id=method_id if method_id is not None
            else self.method(method) if method else None,
        )

    def balances(self) -> dict[int, int]:
        with session_scope(self.engine) as s:
            return dict(s.execute(select(Invoice.id, Invoice.balance_minor)
                                  .where(Invoice.id.in_(self.invoice_ids))).all())

    def statuses(self) -> dict[int, str]:
        with session_scope(self.engine) as s:
            return dict(s.execute(select(Invoice.id, Invoice.status)
                                  .where(Invoice.id.in_(self.invoice_ids))).all())

    def postings(self) -> list[tuple[str, str, str]]:
        with session_scope(self.engine) as s:
            return [(p.target, p.key, p.state) for p in s.scalars(
                select(Posting).order_by(Posting.id))]

    def notes_for(self, marker: str) -> list[dict[str, Any]]:
        return [n for n in self.autotask.notes()
                if str(n.get("description", "")).startswith(marker + "\n")]

    def paid_date_patches(self, invoice_id: int) -> list[Any]:
        return [p["fields"].get("paidDate") for p in self.autotask.patches()
                if p["entity"].lower() == "invoices" and int(p["id"]) == invoice_id]

    def ledger_is_consistent(self) -> None:
        """Every counted payment's allocations add up to its amount, and no invoice is paid
        beyond its total."""
        with session_scope(self.engine) as s:
            for payment in s.scalars(select(Payment)):
                applied = s.scalar(select(func.sum(PaymentAllocation.amount_minor)).where(
                    PaymentAllocation.payment_id == payment.id)) or 0
                assert applied == payment.amount_minor, payment.reference
            for invoice in s.scalars(select(Invoice).where(Invoice.id.in_(self.invoice_ids))):
                assert 0 <= invoice.balance_minor <= invoice.total_minor
                assert invoice.amount_paid_minor + invoice.balance_minor == invoice.total_minor


@contextmanager
def pay_world(engine: Engine, amounts: list[str], gateway: str = "stripe") -> Iterator[PayWorld]:
    """The world for ``amounts`` (one invoice each), paying through ``gateway``'s stand-in."""
    with small_autotask() as autotask, start_kit(gateway) as kit:
        company_id, ids = seed_invoices(autotask, amounts)
        sync_into(engine, autotask)
        yield PayWorld(engine, autotask, kit, kit.gateway(), company_id, ids)


def add_bank_account(world: PayWorld) -> int:
    """Save a bank account through the gateway's hosted setup page; its method row id."""
    pipeline = world.pipeline
    hosted = pipeline.start_method_setup(world.company_id)
    assert world.kit.submit_bank(hosted.url)
    method_id = pipeline.finish_method_setup(world.company_id, hosted.session_id)
    assert method_id is not None
    return method_id


def autotask_invoice(world: PayWorld, invoice_id: int) -> dict[str, Any]:
    record = world.autotask.record("Invoices", invoice_id)
    assert record is not None
    return record
