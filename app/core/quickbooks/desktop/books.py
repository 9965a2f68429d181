"""QuickBooks Desktop's rows in the shared QuickBooks books (:mod:`app.core.quickbooks.books`,
``source = "desktop"``): what a qbXML page becomes there, the matching pass, and the matched
QuickBooks invoice (with its customer) a posting needs.

Matching is the shared one — by number, then customer + date + total, by hand never replaced —
so the reconciliation view works for Desktop as for Online.

Threads: every function blocks on the database; run on a worker (or the service's) thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.core.money import Money
from app.core.quickbooks import books as shared
from app.core.quickbooks.desktop.qbxml import CustomerRow, InvoiceRow
from app.core.storage.models import QuickBooksInvoice, QuickBooksInvoiceMatch

__all__ = [
    "SOURCE",
    "MatchedInvoice",
    "match_invoices",
    "matched_invoices",
    "store_customers",
    "store_invoices",
]

SOURCE = shared.SOURCE_DESKTOP


def _minor(value: Decimal | None, currency: str) -> int:
    return 0 if value is None else Money.from_decimal(value, currency, exact=False).minor


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def store_customers(session: Session, rows: Sequence[CustomerRow], *, currency: str,
                    now: datetime) -> None:
    """Insert or refresh one page of customers (idempotent)."""
    if rows:
        shared.upsert_customers(session, SOURCE, [shared.CustomerRecord(
            remote_id=r.list_id, display_name=r.full_name, company_name=r.company_name,
            currency=currency, balance_minor=_minor(r.balance, currency),
            is_active=r.is_active, sync_token=r.edit_sequence,
            last_updated=_utc(r.time_modified)) for r in rows], now)


def store_invoices(session: Session, rows: Sequence[InvoiceRow], *, currency: str,
                   now: datetime) -> None:
    """Insert or refresh one page of invoices (idempotent)."""
    if rows:
        shared.upsert_invoices(session, SOURCE, [shared.InvoiceRecord(
            remote_id=r.txn_id, doc_number=r.ref_number, customer_id=r.customer_list_id,
            customer_name=r.customer_name, txn_date=r.txn_date, due_date=r.due_date,
            total_minor=_minor(r.total, currency),
            balance_minor=_minor(r.balance_remaining, currency), currency=currency,
            sync_token=r.edit_sequence, last_updated=_utc(r.time_modified)) for r in rows], now)


def match_invoices(engine: Engine, *, currency: str) -> shared.MatchReport:
    """The shared automatic matching pass over Desktop's invoices."""
    return shared.match_invoices(engine, SOURCE, currency=currency)


@dataclass(frozen=True, slots=True)
class MatchedInvoice:
    invoice_id: int
    txn_id: str
    ref_number: str | None
    customer_list_id: str
    customer_name: str
    balance_minor: int


def matched_invoices(session: Session, invoice_ids: Sequence[int]) -> dict[int, MatchedInvoice]:
    """The QuickBooks Desktop invoice matched with each of ``invoice_ids`` (unmatched ones are
    absent)."""
    rows = session.execute(
        select(QuickBooksInvoiceMatch.invoice_id, QuickBooksInvoice)
        .join(QuickBooksInvoice, (QuickBooksInvoice.source == QuickBooksInvoiceMatch.source)
              & (QuickBooksInvoice.remote_id == QuickBooksInvoiceMatch.remote_id))
        .where(QuickBooksInvoiceMatch.source == SOURCE,
               QuickBooksInvoiceMatch.invoice_id.in_(list(invoice_ids))))
    out: dict[int, MatchedInvoice] = {}
    for invoice_id, qb in rows:
        if qb.customer_id:
            out[invoice_id] = MatchedInvoice(invoice_id, qb.remote_id, qb.doc_number,
                                             qb.customer_id, qb.customer_name or "",
                                             qb.balance_minor)
    return out
