"""Shared pieces for PayDesk's QuickBooks Online tests against the sandboxes over HTTP:
an Autotask sandbox and a QuickBooks Online sandbox seeded alike (as Autotask's export would
have made QuickBooks), a database synced from Autotask, and a stored QuickBooks connection."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select

from app.core.config import set_internal_currency
from app.core.credentials import CredentialStore
from app.core.invoice_state import recompute_invoices
from app.core.posting.channels import (
    PaymentRecorded,
    RefundRecorded,
    RefundReversed,
    record_fact,
)
from app.core.quickbooks.online.client import QuickBooksOnlineClient
from app.core.quickbooks.online.setup import connect_sandbox, open_quickbooks_client
from app.core.storage.engine import session_scope
from app.core.storage.models import (
    Invoice,
    Payment,
    PaymentAllocation,
    Posting,
    Refund,
    RefundAllocation,
)
from app.core.sync import run_sync
from app.sandbox.autotask.server import AutotaskSandbox
from app.sandbox.quickbooks_online.server import QuickBooksOnlineSandbox
from tests.integration.payments.support import autotask_client

USD = "USD"
SIZES: dict[str, Any] = {"companies": 12, "contacts": 12, "contracts": 2, "tickets": 6,
                         "invoices": 1000, "lines_per_invoice": 1.0, "seed": 11}


@contextmanager
def sandboxes(*, currency: str = USD, **qbo: Any) -> Iterator[tuple[AutotaskSandbox,
                                                                    QuickBooksOnlineSandbox]]:
    with AutotaskSandbox(**SIZES) as autotask, QuickBooksOnlineSandbox(
            currency=currency, **SIZES, **qbo) as quickbooks:
        yield autotask, quickbooks


def sync_autotask(engine: Engine, autotask: AutotaskSandbox) -> None:
    set_internal_currency(engine, USD)
    result = run_sync(engine, autotask_client(autotask), cancel=threading.Event())
    assert result.status.value == "succeeded", result.error


def store_connection(engine: Engine, credentials: CredentialStore,
                     quickbooks: QuickBooksOnlineSandbox) -> None:
    """What a completed connect stores: keys, refresh token, the company."""
    connect_sandbox(engine, credentials, quickbooks, actor="test")


def client_for(engine: Engine, credentials: CredentialStore, **options: Any
               ) -> QuickBooksOnlineClient:
    options.setdefault("sleep", lambda _s: None)
    client = open_quickbooks_client(engine, credentials, **options)
    assert client is not None
    return client


@dataclass(frozen=True)
class Recorded:
    payment_id: int
    reference: str


_counter = iter(range(1, 10**6))


def record_payment(engine: Engine, allocations: Sequence[tuple[int, int]], *,
                   surcharge: int = 0, method_type: str = "card") -> Recorded:
    """A succeeded payment as the pipeline records it, with its ledger fact (and so its
    QuickBooks postings) in the same transaction."""
    n = next(_counter)
    now = datetime.now(UTC)
    with session_scope(engine) as s:
        org = s.scalar(select(Invoice.organization_id).where(Invoice.id == allocations[0][0]))
        amount = sum(a for _, a in allocations)
        payment = Payment(
            reference=f"P-T{n:05d}-{now.microsecond:06d}", idempotency_key=f"idem-{n}-{now}",
            organization_id=org, currency=USD, amount_minor=amount, surcharge_minor=surcharge,
            total_minor=amount + surcharge, method_type=method_type,
            method_summary="Visa •••• 4242" if method_type == "card" else "Bank •••• 6789",
            gateway="stripe", test_mode=True, gateway_transaction_id=f"ch_test_{n:06d}",
            state="succeeded", created_at=now, submitted_at=now, completed_at=now,
            created_by="dana@frontdesk")
        s.add(payment)
        s.flush()
        for invoice_id, minor in allocations:
            s.add(PaymentAllocation(payment_id=payment.id, invoice_id=invoice_id,
                                    amount_minor=minor))
        s.flush()
        recompute_invoices(s, [i for i, _ in allocations])
        record_fact(s, PaymentRecorded(payment_id=payment.id, allocations=tuple(allocations),
                                       invoices=(), at=now), now)
        return Recorded(payment.id, payment.reference)


def record_refund(engine: Engine, payment_id: int, allocations: Sequence[tuple[int, int]]
                  ) -> int:
    n = next(_counter)
    now = datetime.now(UTC)
    with session_scope(engine) as s:
        amount = sum(a for _, a in allocations)
        refund = Refund(payment_id=payment_id, reference=f"R-T{n:05d}-{now.microsecond:06d}",
                        idempotency_key=f"refund-{n}-{now}", amount_minor=amount,
                        reason="Test", kind="refund", state="succeeded",
                        gateway_refund_id=f"re_test_{n:06d}", created_at=now,
                        completed_at=now, created_by="dana@frontdesk")
        s.add(refund)
        s.flush()
        for invoice_id, minor in allocations:
            s.add(RefundAllocation(refund_id=refund.id, invoice_id=invoice_id,
                                   amount_minor=minor))
        payment = s.get(Payment, payment_id)
        assert payment is not None
        payment.refunded_minor += amount
        s.flush()
        recompute_invoices(s, [i for i, _ in allocations])
        record_fact(s, RefundRecorded(payment_id=payment_id, refund_id=refund.id,
                                      allocations=tuple(allocations), invoices=(), at=now), now)
        return int(refund.id)


def postings(engine: Engine, channel: str = "quickbooks_online") -> list[Posting]:
    with session_scope(engine) as s:
        rows = list(s.scalars(select(Posting).where(Posting.channel == channel)
                              .order_by(Posting.id)))
        for row in rows:
            s.expunge(row)
        return rows


def open_invoices(engine: Engine, count: int, *, matched: bool = True) -> list[Invoice]:
    """Open Autotask invoices of one client (matched to QuickBooks, or not), a payment's
    worth."""
    with session_scope(engine) as s:
        stmt = select(Invoice).where(Invoice.status == "open", Invoice.balance_minor > 0)
        stmt = stmt.where(Invoice.qb_invoice_id.is_not(None) if matched
                          else Invoice.qb_invoice_id.is_(None))
        by_org: dict[int, list[Invoice]] = {}
        for row in s.scalars(stmt.order_by(Invoice.id)):
            group = by_org.setdefault(row.organization_id, [])
            group.append(row)
            if len(group) == count:
                for item in group:
                    s.expunge(item)
                return group
        return []


def count_payments(quickbooks: QuickBooksOnlineSandbox) -> int:
    return len(quickbooks.store.ids("Payment"))


def invoice_balance_minor(quickbooks: QuickBooksOnlineSandbox, remote_id: str) -> int:
    record = quickbooks.record("Invoice", remote_id)
    assert record is not None
    from decimal import Decimal

    return int(Decimal(str(record["Balance"])) * 100)


def paydesk_balance(engine: Engine, invoice_id: int) -> int:
    with session_scope(engine) as s:
        return int(s.scalar(select(Invoice.balance_minor).where(Invoice.id == invoice_id)) or 0)


def count_rows(engine: Engine, model: Any) -> int:
    with session_scope(engine) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def record_refund_reversed(engine: Engine, refund_id: int) -> None:
    """The gateway returned a refund: the money stayed, the invoices count it as paid again."""
    now = datetime.now(UTC)
    with session_scope(engine) as s:
        refund = s.get(Refund, refund_id)
        assert refund is not None
        refund.state = "failed"
        allocations = tuple((int(a.invoice_id), int(a.amount_minor)) for a in s.scalars(
            select(RefundAllocation).where(RefundAllocation.refund_id == refund_id)))
        payment = s.get(Payment, refund.payment_id)
        assert payment is not None
        payment.refunded_minor -= refund.amount_minor
        s.flush()
        recompute_invoices(s, [i for i, _ in allocations])
        record_fact(s, RefundReversed(payment_id=payment.id, refund_id=refund_id,
                                      allocations=allocations, invoices=(), at=now), now)
