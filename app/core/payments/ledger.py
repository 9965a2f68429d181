"""Reading and reserving invoice balances — the database side of "never overpaid".

Two seats sharing one PostgreSQL database may try to pay the same invoice at the same
moment. The guarantee is made by the database, not by the dialog:

* :func:`lock_invoices` takes a write lock on the invoices being paid — ``SELECT … FOR
  UPDATE`` (in id order, so two payments never deadlock) on PostgreSQL, ``BEGIN
  IMMEDIATE`` on SQLite, where one writer at a time holds the whole database.
* Under that lock the balance is read again and every payment still in flight
  (``created``, ``submitted``, ``unknown``, ``awaiting_client``) that touches the invoice
  blocks it. The new payment and its allocations are inserted in the same transaction, so
  the next seat, once it gets the lock, sees them and is refused with a clear message.

Every function here runs in the caller's session and transaction, on the caller's thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.core.invoice_state import InvoiceStatus
from app.core.money import Money
from app.core.payments.states import IN_FLIGHT_STATES
from app.core.payments.summary import PayableInvoice
from app.core.storage.engine import session_scope
from app.core.storage.models import Invoice, Payment, PaymentAllocation

__all__ = [
    "InFlight",
    "begin_write",
    "blocked_reason",
    "in_flight_payments",
    "load_payable_invoices",
    "lock_invoices",
    "payable_invoices",
]


@dataclass(frozen=True, slots=True)
class InFlight:
    """A payment still running that touches an invoice."""

    invoice_id: int
    payment_id: int
    reference: str
    state: str


def begin_write(session: Session) -> None:
    """Start the session's transaction as a writer.

    On SQLite this is ``BEGIN IMMEDIATE``: the database's write lock is taken now, before
    anything is read, so what is read cannot change until the commit. On PostgreSQL the
    row locks of :func:`lock_invoices` do that job and nothing is needed here.
    """
    if session.get_bind().dialect.name != "sqlite":
        return
    connection = session.connection()
    raw = connection.connection.dbapi_connection
    # pysqlite opens its own transaction only before the first write; until then the
    # connection is outside any transaction and BEGIN IMMEDIATE can be issued.
    if raw is not None and not getattr(raw, "in_transaction", True):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def lock_invoices(session: Session, invoice_ids: Iterable[int]) -> dict[int, Invoice]:
    """The invoices, locked for writing until the transaction ends (see the module doc)."""
    ids = sorted(set(invoice_ids))
    begin_write(session)
    query = select(Invoice).where(Invoice.id.in_(ids)).order_by(Invoice.id)
    if session.get_bind().dialect.name != "sqlite":
        query = query.with_for_update()
    # populate_existing: the rows must be the ones read under the lock, not a stale copy.
    rows = session.scalars(query.execution_options(populate_existing=True)).all()
    return {row.id: row for row in rows}


def in_flight_payments(
    session: Session, invoice_ids: Iterable[int], *, exclude_payment_id: int | None = None
) -> list[InFlight]:
    """Payments still running (outcome not known) with money allocated to these invoices."""
    ids = sorted(set(invoice_ids))
    if not ids:
        return []
    query = (
        select(PaymentAllocation.invoice_id, Payment.id, Payment.reference, Payment.state)
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .where(PaymentAllocation.invoice_id.in_(ids), Payment.state.in_(IN_FLIGHT_STATES))
        .order_by(Payment.id)
    )
    if exclude_payment_id is not None:
        query = query.where(Payment.id != exclude_payment_id)
    return [InFlight(int(a), int(b), str(c), str(d)) for a, b, c, d in session.execute(query)]


def blocked_reason(invoice: Invoice, running: Sequence[InFlight]) -> str | None:
    """Why this invoice cannot be paid now, for the bookkeeper; ``None`` when it can."""
    number = invoice.invoice_number or str(invoice.id)
    if invoice.is_voided or invoice.status == InvoiceStatus.VOID.value:
        return f"Invoice {number} is void and cannot be paid."
    if running:
        first = running[0]
        if first.state == "awaiting_client":
            return (
                f"Invoice {number} has a pay link ({first.reference}) the client has not used "
                "yet. Cancel the pay link to take a payment here."
            )
        return (
            f"Invoice {number} is in payment {first.reference}, which is still running. "
            "Wait for it to finish."
        )
    if invoice.total_minor <= 0:
        return f"Invoice {number} is a credit or zero invoice; nothing is owed on it."
    if invoice.balance_minor <= 0 or invoice.status == InvoiceStatus.PAID.value:
        return f"Invoice {number} is already paid."
    return None


def payable_invoices(
    session: Session, invoice_ids: Iterable[int], currency: str
) -> list[PayableInvoice]:
    """The invoices as the Order Summary needs them, with why each cannot be paid (if so).

    Read-only; the authoritative check happens again under lock when the payment is made.
    """
    ids = sorted(set(invoice_ids))
    invoices = session.scalars(select(Invoice).where(Invoice.id.in_(ids))).all()
    running: dict[int, list[InFlight]] = {}
    for item in in_flight_payments(session, ids):
        running.setdefault(item.invoice_id, []).append(item)
    result = []
    for inv in invoices:
        result.append(
            PayableInvoice(
                invoice_id=inv.id,
                invoice_number=inv.invoice_number,
                organization_id=inv.organization_id,
                invoice_date=inv.invoice_date,
                due_date=inv.due_date,
                total=Money(inv.total_minor, currency),
                balance=Money(max(inv.balance_minor, 0), currency),
                blocked_reason=blocked_reason(inv, running.get(inv.id, [])),
            )
        )
    return result


def load_payable_invoices(
    engine: Engine, invoice_ids: Iterable[int], currency: str
) -> tuple[PayableInvoice, ...]:
    """:func:`payable_invoices` in its own short session — what the Order Summary dialog
    loads when it opens (and again before Pay, to catch changes made meanwhile)."""
    with session_scope(engine) as session:
        return tuple(payable_invoices(session, invoice_ids, currency))
