"""Shared set-up for the QuickBooks Desktop tests: PayDesk's database holding the Autotask
sandbox's invoices for a seed (as a sync would leave it), the company file for the same seed,
and PayDesk's Web Connector service on loopback, settling postings through the outbox's
pull-channel functions on a clock the tests move.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, select

from app.core.config import set_internal_currency, set_setting
from app.core.invoice_state import recompute_invoices
from app.core.money import Money
from app.core.posting.channels import (
    PaymentRecorded,
    RefundRecorded,
    RefundReversed,
    record_fact,
)
from app.core.quickbooks.desktop.channel import CHANNEL_NAME, CONNECTION_SETTING
from app.core.quickbooks.desktop.postings import OutboxQueue
from app.core.quickbooks.desktop.service import WebConnectorServer, WebConnectorService
from app.core.storage.engine import session_scope
from app.core.storage.models import (
    Invoice,
    Organization,
    Payment,
    PaymentAllocation,
    Posting,
    QuickBooksInvoice,
    QuickBooksInvoiceMatch,
    Refund,
    RefundAllocation,
)
from app.sandbox.autotask.data import DataSizes
from app.sandbox.quickbooks_desktop.company import CompanyFile
from app.sandbox.quickbooks_desktop.connector import Faults, WebConnector

USER = "paydesk-qbwc"
PASSWORD = "correct horse battery staple"
SIZES = DataSizes(companies=12, contacts=12, contracts=4, tickets=4, invoices=120)


@dataclass
class ManualClock:
    now: datetime = field(default_factory=lambda: datetime(2026, 6, 1, 12, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def mirror_autotask(engine: Engine, company: CompanyFile) -> None:
    """PayDesk's database as a sync of the Autotask sandbox (same seed) leaves it."""
    data = company.data
    now = datetime(2026, 6, 1, tzinfo=UTC)
    with data.lock:
        companies = list(data.companies.iter_from(None))
        invoices = list(data.invoices.iter_from(None))
    with session_scope(engine) as s:
        for c in companies:
            s.add(Organization(id=c["id"], name=c["companyName"], synced_at=now))
        for r in invoices:
            s.add(Invoice(
                id=r["id"], organization_id=r["companyID"], invoice_number=r["invoiceNumber"],
                invoice_date=date.fromisoformat(r["invoiceDateTime"][:10]),
                due_date=date.fromisoformat(r["dueDate"][:10]),
                total_minor=Money.from_decimal(Decimal(r["invoiceTotal"]), "USD").minor,
                is_voided=r["isVoided"],
                paid_date=date.fromisoformat(r["paidDate"][:10]) if r["paidDate"] else None,
                synced_at=now))
        s.flush()
        recompute_invoices(s, [r["id"] for r in invoices])


@dataclass
class Ledger:
    """PayDesk's side: records payments, refunds and reversals as the pipeline does, and
    reads postings and balances."""

    engine: Engine
    company: CompanyFile
    clock: ManualClock
    _payments: int = field(default=0, init=False)

    def open_invoices(self, count: int, *, one_organization: bool = False) -> list[Invoice]:
        """Open PayDesk invoices that QuickBooks has open too (matched by number); with
        ``one_organization``, all of the same organization."""
        with session_scope(self.engine) as s:
            rows = s.scalars(select(Invoice).where(Invoice.status == "open",
                                                   Invoice.is_voided.is_(False))
                             .order_by(Invoice.id)).all()
            wanted = []
            for invoice in rows:
                qb = self.company.invoice_for_autotask(invoice.id)
                if (qb is None or qb["RefNumber"] != invoice.invoice_number
                        or qb["BalanceRemaining"] <= 0):
                    continue
                s.expunge(invoice)
                wanted.append(invoice)
            if one_organization:
                by_org: dict[int, list[Invoice]] = {}
                for invoice in wanted:
                    by_org.setdefault(invoice.organization_id, []).append(invoice)
                return next(v[:count] for v in by_org.values() if len(v) >= count)
            return wanted[:count]

    def pay(self, allocations: list[tuple[Invoice, int]], *,
            method_type: str = "card") -> Payment:
        """A succeeded payment recorded with its ledger fact (as the pipeline does)."""
        self._payments += 1
        amount = sum(minor for _, minor in allocations)
        now = self.clock()
        with session_scope(self.engine) as s:
            payment = Payment(
                reference=f"PD-T{self._payments:06d}", idempotency_key=f"k{self._payments}",
                organization_id=allocations[0][0].organization_id, currency="USD",
                amount_minor=amount, surcharge_minor=0, total_minor=amount,
                gateway="stripe", state="succeeded", created_at=now, completed_at=now,
                created_by="test", method_type=method_type,
                method_summary="Visa •••• 4242" if method_type == "card" else "Bank •••• 6789")
            s.add(payment)
            s.flush()
            for invoice, minor in allocations:
                s.add(PaymentAllocation(payment_id=payment.id, invoice_id=invoice.id,
                                        amount_minor=minor))
            s.flush()
            recompute_invoices(s, [i.id for i, _ in allocations])
            record_fact(s, PaymentRecorded(payment.id, tuple((i.id, m) for i, m in allocations),
                                           (), now), now)
            s.expunge(payment)
            return payment

    def refund(self, payment: Payment, allocations: list[tuple[Invoice, int]]) -> Refund:
        now = self.clock()
        amount = sum(m for _, m in allocations)
        with session_scope(self.engine) as s:
            refund = Refund(payment_id=payment.id, reference=f"RF-{payment.id}-{amount}",
                            idempotency_key=f"rk-{payment.id}-{amount}", amount_minor=amount,
                            state="succeeded", created_at=now, completed_at=now,
                            created_by="test")
            s.add(refund)
            s.flush()
            for invoice, minor in allocations:
                s.add(RefundAllocation(refund_id=refund.id, invoice_id=invoice.id,
                                       amount_minor=minor))
            s.flush()
            recompute_invoices(s, [i.id for i, _ in allocations])
            record_fact(s, RefundRecorded(payment.id, refund.id,
                                          tuple((i.id, m) for i, m in allocations), (), now),
                        now)
            s.expunge(refund)
            return refund

    def reverse(self, refund: Refund) -> None:
        """The refund failed at the gateway: the money stayed, the invoices count it again."""
        now = self.clock()
        with session_scope(self.engine) as s:
            row = s.get(Refund, refund.id)
            assert row is not None
            row.state = "failed"
            pairs = [(a.invoice_id, a.amount_minor) for a in s.scalars(
                select(RefundAllocation).where(RefundAllocation.refund_id == refund.id))]
            s.flush()
            recompute_invoices(s, [i for i, _ in pairs])
            record_fact(s, RefundReversed(refund.payment_id, refund.id, tuple(pairs), (), now),
                        now)

    def postings(self) -> list[Posting]:
        """This channel's postings, oldest first."""
        with session_scope(self.engine) as s:
            rows = list(s.scalars(select(Posting).where(Posting.channel == CHANNEL_NAME)
                                  .order_by(Posting.id)))
            for r in rows:
                s.expunge(r)
            return rows

    def balances(self, invoice_ids: list[int]) -> dict[int, tuple[int, int]]:
        """PayDesk's balance and QuickBooks' (as last read) for each invoice."""
        with session_scope(self.engine) as s:
            ours = {r.id: r.balance_minor for r in s.execute(
                select(Invoice.id, Invoice.balance_minor).where(Invoice.id.in_(invoice_ids)))}
            theirs = {r.invoice_id: r.balance_minor for r in s.execute(
                select(QuickBooksInvoiceMatch.invoice_id, QuickBooksInvoice.balance_minor)
                .join(QuickBooksInvoice,
                      (QuickBooksInvoice.source == QuickBooksInvoiceMatch.source)
                      & (QuickBooksInvoice.remote_id == QuickBooksInvoiceMatch.remote_id))
                .where(QuickBooksInvoiceMatch.source == "desktop",
                       QuickBooksInvoiceMatch.invoice_id.in_(invoice_ids)))}
        return {i: (ours[i], theirs[i]) for i in invoice_ids}


@dataclass(kw_only=True)
class Desk(Ledger):
    """The ledger with PayDesk's Web Connector service serving it."""

    queue: OutboxQueue
    service: WebConnectorService
    server: WebConnectorServer

    def connector(self, faults: Faults | None = None) -> WebConnector:
        return WebConnector(self.server.url, USER, PASSWORD, self.company, faults=faults)


@contextmanager
def open_desk(engine: Engine, credentials_password: str = PASSWORD, *, seed: int = 11,
              sizes: DataSizes = SIZES, page_size: int = 25,
              company: CompanyFile | None = None) -> Iterator[Desk]:
    set_internal_currency(engine, "USD", actor="test")
    set_setting(engine, CONNECTION_SETTING, {"username": USER}, actor="test")
    company = company or CompanyFile(seed=seed, sizes=sizes)
    mirror_autotask(engine, company)
    clock = ManualClock()
    queue = OutboxQueue(clock)
    service = WebConnectorService(engine, username=USER, password=lambda: credentials_password,
                                  queue=queue, page_size=page_size, clock=clock)
    with WebConnectorServer(service) as server:
        yield Desk(engine, company, clock, queue=queue, service=service, server=server)
