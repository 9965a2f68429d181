"""What PayDesk knows of the QuickBooks Desktop company file: customers and invoices as last
read, and which PayDesk invoice each QuickBooks invoice is.

Reads arrive a page at a time (:func:`store_customers`, :func:`store_invoices`, each in the
caller's transaction, idempotent: a page read twice after a cut session changes nothing).
:func:`match_invoices` then pairs QuickBooks invoices with PayDesk's:

1. **by number** — QuickBooks' ``RefNumber`` is the Autotask invoice number (what the export
   writes), when exactly one invoice on each side has it;
2. **by customer, date and total** — for a QuickBooks invoice whose number was changed: its
   customer's other invoices say which organization it is, and exactly one unmatched PayDesk
   invoice of that organization has the same date and total;
3. **by hand** (:func:`match_by_hand`) — never replaced by 1 or 2.

Threads: every function takes a session or engine; run on a worker thread.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import cast

from sqlalchemy import Engine, Table, bindparam, select, update
from sqlalchemy.orm import Session

from app.core.money import Money
from app.core.quickbooks.desktop.qbxml import CustomerRow, InvoiceRow
from app.core.storage.engine import session_scope
from app.core.storage.models import (
    Invoice,
    QuickBooksDesktopCustomer,
    QuickBooksDesktopInvoice,
)

__all__ = [
    "MatchKind",
    "MatchReport",
    "MatchedInvoice",
    "match_by_hand",
    "match_invoices",
    "matched_invoices",
    "store_customers",
    "store_invoices",
]


class MatchKind:
    NUMBER = "number"
    CUSTOMER_DATE_TOTAL = "customer_date_total"
    HAND = "hand"


def _minor(value: Decimal | None, currency: str) -> int | None:
    return None if value is None else Money.from_decimal(value, currency, exact=False).minor


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def store_customers(session: Session, rows: Sequence[CustomerRow], *, currency: str,
                    now: datetime) -> None:
    """Insert or refresh one page of customers."""
    if not rows:
        return
    existing = {c.list_id: c for c in session.scalars(
        select(QuickBooksDesktopCustomer).where(
            QuickBooksDesktopCustomer.list_id.in_([r.list_id for r in rows])))}
    for row in rows:
        record = existing.get(row.list_id)
        if record is None:
            record = QuickBooksDesktopCustomer(list_id=row.list_id)
            session.add(record)
            existing[row.list_id] = record
        record.full_name = row.full_name
        record.company_name = row.company_name
        record.is_active = row.is_active
        record.edit_sequence = row.edit_sequence
        record.time_modified = _utc(row.time_modified)
        record.balance_minor = _minor(row.balance, currency)
        record.read_at = now


def store_invoices(session: Session, rows: Sequence[InvoiceRow], *, currency: str,
                   now: datetime) -> None:
    """Insert or refresh one page of invoices (a match made earlier is kept)."""
    if not rows:
        return
    existing = {i.txn_id: i for i in session.scalars(
        select(QuickBooksDesktopInvoice).where(
            QuickBooksDesktopInvoice.txn_id.in_([r.txn_id for r in rows])))}
    for row in rows:
        record = existing.get(row.txn_id)
        if record is None:
            record = QuickBooksDesktopInvoice(txn_id=row.txn_id)
            session.add(record)
            existing[row.txn_id] = record
        elif record.ref_number != row.ref_number and record.match_kind == MatchKind.NUMBER:
            # Its number changed in QuickBooks: the number match no longer holds.
            record.invoice_id = None
            record.match_kind = None
        record.ref_number = row.ref_number
        record.customer_list_id = row.customer_list_id
        record.customer_name = row.customer_name
        record.txn_date = row.txn_date
        record.due_date = row.due_date
        record.total_minor = Money.from_decimal(row.total, currency, exact=False).minor
        record.balance_minor = Money.from_decimal(row.balance_remaining, currency,
                                                  exact=False).minor
        record.is_paid = row.is_paid
        record.edit_sequence = row.edit_sequence
        record.time_modified = _utc(row.time_modified)
        record.read_at = now


@dataclass(frozen=True, slots=True)
class MatchReport:
    by_number: int
    by_customer_date_total: int
    by_hand: int
    unmatched: int


def match_invoices(session: Session) -> MatchReport:
    """Match every QuickBooks invoice not matched by hand (see the module docstring)."""
    qb_rows = session.execute(select(
        QuickBooksDesktopInvoice.txn_id, QuickBooksDesktopInvoice.ref_number,
        QuickBooksDesktopInvoice.customer_list_id, QuickBooksDesktopInvoice.txn_date,
        QuickBooksDesktopInvoice.total_minor, QuickBooksDesktopInvoice.invoice_id,
        QuickBooksDesktopInvoice.match_kind)).all()
    local = session.execute(select(
        Invoice.id, Invoice.invoice_number, Invoice.organization_id, Invoice.invoice_date,
        Invoice.total_minor).where(Invoice.is_voided.is_(False))).all()

    by_hand_local = {r.invoice_id for r in qb_rows if r.match_kind == MatchKind.HAND}
    local_by_number: dict[str, list[int]] = defaultdict(list)
    organization_of: dict[int, int] = {}
    for inv in local:
        organization_of[inv.id] = inv.organization_id
        if inv.invoice_number and inv.id not in by_hand_local:
            local_by_number[inv.invoice_number].append(inv.id)
    qb_number_counts = Counter(r.ref_number for r in qb_rows if r.ref_number
                               and r.match_kind != MatchKind.HAND)

    decided: dict[str, tuple[int | None, str | None]] = {}
    taken: set[int] = {i for i in by_hand_local if i is not None}
    for r in qb_rows:
        if r.match_kind == MatchKind.HAND:
            continue
        candidates = local_by_number.get(r.ref_number or "", [])
        if r.ref_number and len(candidates) == 1 and qb_number_counts[r.ref_number] == 1:
            decided[r.txn_id] = (candidates[0], MatchKind.NUMBER)
            taken.add(candidates[0])

    # Which organization each QuickBooks customer is, from its invoices matched so far.
    votes: dict[str, Counter[int]] = defaultdict(Counter)
    for r in qb_rows:
        invoice_id = (r.invoice_id if r.match_kind == MatchKind.HAND
                      else decided.get(r.txn_id, (None, None))[0])
        if invoice_id is not None and invoice_id in organization_of:
            votes[r.customer_list_id][organization_of[invoice_id]] += 1
    customer_org = {cust: counts.most_common(1)[0][0] for cust, counts in votes.items()
                    if counts}
    free: dict[tuple[int, date | None, int], list[int]] = defaultdict(list)
    for inv in local:
        if inv.id not in taken:
            free[(inv.organization_id, inv.invoice_date, inv.total_minor)].append(inv.id)
    for r in qb_rows:
        if r.match_kind == MatchKind.HAND or r.txn_id in decided:
            continue
        org = customer_org.get(r.customer_list_id)
        found = free.get((org, r.txn_date, r.total_minor), []) if org is not None else []
        if len(found) == 1:
            decided[r.txn_id] = (found[0], MatchKind.CUSTOMER_DATE_TOTAL)
            taken.add(found[0])
            found.clear()
        else:
            decided[r.txn_id] = (None, None)

    changed = [
        {"b_txn": r.txn_id, "b_inv": decided[r.txn_id][0], "b_kind": decided[r.txn_id][1]}
        for r in qb_rows
        if r.txn_id in decided and (r.invoice_id, r.match_kind) != decided[r.txn_id]
    ]
    if changed:
        table = cast(Table, QuickBooksDesktopInvoice.__table__)
        # Core executemany (not ORM bulk update): one statement for every changed match.
        session.connection().execute(
            update(table).where(table.c.txn_id == bindparam("b_txn"))
            .values(invoice_id=bindparam("b_inv"), match_kind=bindparam("b_kind")),
            changed,
        )
    kinds = Counter(kind for _inv, kind in decided.values())
    hand = sum(1 for r in qb_rows if r.match_kind == MatchKind.HAND)
    return MatchReport(kinds[MatchKind.NUMBER], kinds[MatchKind.CUSTOMER_DATE_TOTAL], hand,
                       kinds[None])


def match_by_hand(engine: Engine, txn_id: str, invoice_id: int | None) -> None:
    """Pair a QuickBooks invoice with a PayDesk invoice by hand (``None`` undoes it). Any
    other QuickBooks invoice matched to the same PayDesk invoice loses that match."""
    with session_scope(engine) as session:
        record = session.get(QuickBooksDesktopInvoice, txn_id)
        if record is None:
            raise LookupError(f"QuickBooks invoice {txn_id} has not been read")
        if invoice_id is not None:
            for other in session.scalars(select(QuickBooksDesktopInvoice).where(
                    QuickBooksDesktopInvoice.invoice_id == invoice_id,
                    QuickBooksDesktopInvoice.txn_id != txn_id)):
                other.invoice_id = None
                other.match_kind = None
        record.invoice_id = invoice_id
        record.match_kind = MatchKind.HAND if invoice_id is not None else None


@dataclass(frozen=True, slots=True)
class MatchedInvoice:
    invoice_id: int
    txn_id: str
    ref_number: str | None
    customer_list_id: str
    customer_name: str
    balance_minor: int


def matched_invoices(session: Session, invoice_ids: Sequence[int]) -> dict[int, MatchedInvoice]:
    """The QuickBooks invoice matched with each of ``invoice_ids`` (missing ones are absent)."""
    rows = session.scalars(select(QuickBooksDesktopInvoice).where(
        QuickBooksDesktopInvoice.invoice_id.in_(list(invoice_ids))))
    return {r.invoice_id: MatchedInvoice(r.invoice_id, r.txn_id, r.ref_number,
                                         r.customer_list_id, r.customer_name, r.balance_minor)
            for r in rows if r.invoice_id is not None}
