"""A deterministic payment history in bulk, for the Payment Search and Transactions tests and
for ``benchmarks/payments_benchmark.py``.

``build_payment_history(engine, payments=100_000)`` writes organizations, one paid invoice
per payment, the payments (one minute apart, the newest last) with their allocations, and a
partial refund on every ``REFUND_EVERY``-th payment. Every value is a pure function of the
payment's number ``n`` (1-based; it is also its invoice's id), so a test
can say what a search must return without reading the database back; the helpers below
(``reference``, ``invoice_number``, ``transaction_id``, ``sale_minor``, ...) are those
functions.

Rows go in with executemany in chunks, one transaction per table, and are generated as they
are written, so 100,000 payments take seconds and little memory on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from sqlalchemy import Engine, Table, insert, select

from app.core.storage.models import Invoice, Organization, Payment, PaymentAllocation, Refund

__all__ = [
    "REFUND_EVERY",
    "START",
    "PaymentHistory",
    "build_payment_history",
    "created_at",
    "invoice_number",
    "organization_of",
    "reference",
    "refund_minor",
    "refunded_payments",
    "sale_minor",
    "transaction_id",
]

#: The first payment's time; payment ``n`` is taken ``n`` minutes later.
START = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
#: Payments ``1, 1 + REFUND_EVERY, 1 + 2 * REFUND_EVERY, ...`` are partly refunded 30 seconds
#: after they were taken (before the next payment, so "newest first" stays easy to state).
REFUND_EVERY = 40

_CHUNK = 5_000


@dataclass(frozen=True)
class PaymentHistory:
    """What ``build_payment_history`` wrote."""

    organizations: int
    payments: int
    refunds: int


def reference(n: int) -> str:
    return f"PD-{n:08d}"


def invoice_number(n: int) -> str:
    return str(100_000 + n)


def transaction_id(n: int) -> str:
    return f"ch_{n:012d}"


def organization_of(n: int, organizations: int) -> int:
    return n % organizations + 1


def sale_minor(n: int) -> int:
    """The amount of payment ``n`` (and of its invoice), between $10.00 and $5,009.99."""
    return 1_000 + (n * 7919) % 500_000


def created_at(n: int) -> datetime:
    return START + timedelta(minutes=n)


def refunded_payments(payments: int) -> range:
    """The numbers of the payments that have a refund (refund ``k`` is on the ``k``-th)."""
    return range(1, payments + 1, REFUND_EVERY)


def refund_minor(n: int) -> int:
    """A tenth of the payment, refunded."""
    return sale_minor(n) // 10


def build_payment_history(
    engine: Engine, *, payments: int = 100_000, organizations: int = 200
) -> PaymentHistory:
    """Write the history into an empty, migrated database (any PayDesk database URL)."""
    refunded = set(refunded_payments(payments))
    synced = START
    _insert(
        engine,
        Organization.__table__,  # type: ignore[arg-type]
        (
            {"id": o, "name": f"Client {o:03d}", "is_active": True, "synced_at": synced}
            for o in range(1, organizations + 1)
        ),
    )
    _insert(
        engine,
        Invoice.__table__,  # type: ignore[arg-type]
        (
            {
                "id": n,
                "organization_id": organization_of(n, organizations),
                "invoice_number": invoice_number(n),
                "invoice_date": created_at(n).date(),
                "total_minor": sale_minor(n),
                "tax_minor": 0,
                "is_voided": False,
                "amount_paid_minor": sale_minor(n),
                "balance_minor": 0,
                "status": "paid",
                "last_payment_date": created_at(n).date(),
                "synced_at": synced,
            }
            for n in range(1, payments + 1)
        ),
    )
    _insert(
        engine,
        Payment.__table__,  # type: ignore[arg-type]
        (
            {
                "reference": reference(n),
                "idempotency_key": f"history-{n}",
                "organization_id": organization_of(n, organizations),
                "currency": "USD",
                "amount_minor": sale_minor(n),
                "surcharge_minor": 0,
                "total_minor": sale_minor(n),
                "refunded_minor": refund_minor(n) if n in refunded else 0,
                "method_type": "card",
                "method_summary": "Visa •••• 4242",
                "gateway": "stripe",
                "test_mode": True,
                "gateway_transaction_id": transaction_id(n),
                "state": "partially_refunded" if n in refunded else "succeeded",
                "created_at": created_at(n),
                "completed_at": created_at(n),
                "created_by": "bookkeeper@example.com",
                "channel": "saved_method",
            }
            for n in range(1, payments + 1)
        ),
    )
    # Payment, allocation and refund ids come from the database (its sequences must stay
    # ahead of them for the payments a test or a benchmark takes afterwards).
    with engine.connect() as connection:
        payment_id = dict(connection.execute(select(Payment.reference, Payment.id)).all())
    _insert(
        engine,
        PaymentAllocation.__table__,  # type: ignore[arg-type]
        (
            {"payment_id": payment_id[reference(n)], "invoice_id": n,
             "amount_minor": sale_minor(n)}
            for n in range(1, payments + 1)
        ),
    )
    _insert(
        engine,
        Refund.__table__,  # type: ignore[arg-type]
        (
            {
                "payment_id": payment_id[reference(n)],
                "reference": f"RF-{k:08d}",
                "idempotency_key": f"history-refund-{k}",
                "amount_minor": refund_minor(n),
                "reason": "Credit for a duplicate line",
                "kind": "refund",
                "state": "succeeded",
                "gateway_refund_id": f"re_{n:012d}",
                "created_at": created_at(n) + timedelta(seconds=30),
                "completed_at": created_at(n) + timedelta(seconds=30),
                "created_by": "bookkeeper@example.com",
            }
            for k, n in enumerate(refunded_payments(payments), start=1)
        ),
    )
    return PaymentHistory(organizations=organizations, payments=payments, refunds=len(refunded))


def _chunks(rows: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, _CHUNK)):
        yield chunk


def _insert(engine: Engine, table: Table, rows: Iterable[dict[str, Any]]) -> None:
    with engine.begin() as connection:
        for chunk in _chunks(rows):
            connection.execute(insert(table), chunk)
