"""Shared set-up for the QuickBooks Desktop tests: PayDesk's database holding the Autotask
sandbox's invoices for a seed (as a sync would leave it), the company file for the same seed,
PayDesk's Web Connector service on loopback, and a posting queue over the postings table.

The queue is the pull-channel contract (``claim_due`` / ``acknowledge`` / ``report_failure``)
written here over the Posting table with a clock the tests move; the outbox's own functions
take its place once they are merged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, and_, or_, select, update

from app.core.config import set_internal_currency, set_setting
from app.core.invoice_state import recompute_invoices
from app.core.money import Money
from app.core.posting.channels import (
    ClaimedPosting,
    PaymentRecorded,
    PostingError,
    PostingErrorKind,
    PostingWaiting,
    RefundRecorded,
    record_fact,
)
from app.core.quickbooks.desktop.channel import CONNECTION_SETTING
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
class TestClock:
    now: datetime = field(default_factory=lambda: datetime(2026, 6, 1, 12, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


LEASE = timedelta(minutes=2)


@dataclass
class TableQueue:
    """claim_due / acknowledge / report_failure over the postings table."""

    clock: TestClock
    claimed: list[int] = field(default_factory=list)

    def claim_due(self, engine: Engine, channel: str, limit: int) -> list[ClaimedPosting]:
        now = self.clock()
        out: list[ClaimedPosting] = []
        with session_scope(engine) as s:
            ids = list(s.scalars(select(Posting.id).where(
                Posting.channel == channel,
                or_(and_(Posting.state.in_(("pending", "waiting")),
                         Posting.next_attempt_at <= now),
                    and_(Posting.state == "delivering", Posting.next_attempt_at <= now)))
                .order_by(Posting.id).limit(limit)))
            for posting_id in ids:
                s.execute(update(Posting).where(Posting.id == posting_id).values(
                    state="delivering", attempts=Posting.attempts + 1,
                    next_attempt_at=now + LEASE))
                p = s.get(Posting, posting_id, populate_existing=True)
                assert p is not None
                out.append(ClaimedPosting(p.id, p.channel, p.target, p.key, dict(p.payload),
                                          p.attempts, p.payment_id, p.refund_id, p.invoice_id))
                self.claimed.append(p.id)
        return out

    def acknowledge(self, engine: Engine, posting_id: int, remote_id: str) -> None:
        with session_scope(engine) as s:
            p = s.get(Posting, posting_id)
            assert p is not None
            p.state, p.remote_id, p.delivered_at = "delivered", remote_id, self.clock()
            p.next_attempt_at = p.last_error = p.waiting_reason = None

    def report_failure(self, engine: Engine, posting_id: int,
                       error: PostingError | PostingWaiting) -> None:
        now = self.clock()
        with session_scope(engine) as s:
            p = s.get(Posting, posting_id)
            assert p is not None
            if isinstance(error, PostingWaiting):
                p.state, p.waiting_reason = "waiting", error.reason
                p.attempts = max(0, p.attempts - 1)
                p.next_attempt_at = now + error.retry_after
            elif error.kind == PostingErrorKind.RETRY:
                p.state, p.last_error = "pending", error.message
                p.next_attempt_at = now + timedelta(seconds=30)
            else:
                p.state, p.last_error, p.next_attempt_at = "failed", error.message, None


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
class Desk:
    engine: Engine
    company: CompanyFile
    clock: TestClock
    queue: TableQueue
    service: WebConnectorService
    server: WebConnectorServer
    _payments: int = 0

    def connector(self, faults: Faults | None = None) -> WebConnector:
        return WebConnector(self.server.url, USER, PASSWORD, self.company, faults=faults)

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

    def pay(self, allocations: list[tuple[Invoice, int]]) -> Payment:
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
                created_by="test", method_summary="Visa •••• 4242")
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

    def postings(self) -> list[Posting]:
        with session_scope(self.engine) as s:
            rows = list(s.scalars(select(Posting).order_by(Posting.id)))
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


@contextmanager
def open_desk(engine: Engine, credentials_password: str = PASSWORD, *, seed: int = 11,
              sizes: DataSizes = SIZES, page_size: int = 25,
              company: CompanyFile | None = None) -> Iterator[Desk]:
    set_internal_currency(engine, "USD", actor="test")
    set_setting(engine, CONNECTION_SETTING, {"username": USER}, actor="test")
    company = company or CompanyFile(seed=seed, sizes=sizes)
    mirror_autotask(engine, company)
    clock = TestClock()
    queue = TableQueue(clock)
    service = WebConnectorService(engine, username=USER, password=lambda: credentials_password,
                                  queue=queue, page_size=page_size, clock=clock)
    with WebConnectorServer(service) as server:
        yield Desk(engine, company, clock, queue, service, server)
