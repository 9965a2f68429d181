"""What the QuickBooks screens read: the connection's state for the status bar, the Needs
matching list (ids first, rows on demand), the QuickBooks invoices a person can pick when
matching by hand, and one invoice's QuickBooks number, balance and address.

Plain frozen rows out, never ORM objects. The decisions themselves (match, unmatch, hand back
to the automatic pass) are :mod:`app.core.quickbooks.books`; this module only reads.

Threads: every function blocks on the database; call them off the GUI thread (the screens
run them in workers, except ``unmatched_rows`` — one primary-key page of at most a few hundred
rows, read when the table paints, the way the other big tables do).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import Engine, Select, and_, case, func, or_, select

from app.core.credentials import CredentialStore
from app.core.net import host_of, is_loopback_host
from app.core.quickbooks.books import SOURCE_DESKTOP, SOURCE_ONLINE, MatchMethod
from app.core.search_text import LIKE_ESCAPE, clean_search, contains_pattern
from app.core.storage.engine import session_scope
from app.core.storage.models import (
    Invoice,
    Organization,
    QuickBooksInvoice,
    QuickBooksInvoiceMatch,
)

__all__ = [
    "MatchFilter",
    "MatchRow",
    "QuickBooksCandidate",
    "QuickBooksLink",
    "QuickBooksState",
    "has_been_read",
    "match_candidates",
    "match_ids",
    "match_rows",
    "quickbooks_link",
    "quickbooks_state",
]


# --- the connection, for the status bar and the QuickBooks area ------------------------------


@dataclass(frozen=True, slots=True)
class QuickBooksState:
    """Which QuickBooks PayDesk keeps in step with, and whether that works right now."""

    #: ``online`` or ``desktop``; None while QuickBooks is not connected.
    source: str | None
    company_name: str = ""
    #: A sentence when a person must act (disconnected, secret missing); None when fine.
    problem: str | None = None
    #: True when the fix is to connect again (Reconnect in Setup).
    needs_reconnect: bool = False
    last_read_at: datetime | None = None
    #: The last read's failure that is not a disconnection (network, QuickBooks down).
    last_read_error: str | None = None

    @property
    def label(self) -> str:
        return "QuickBooks Online" if self.source == SOURCE_ONLINE else "QuickBooks Desktop"


def quickbooks_state(engine: Engine, credentials: CredentialStore) -> QuickBooksState:
    """The connected QuickBooks, and what (if anything) a person must do about it."""
    from app.core.quickbooks.online.connection import load_connection
    from app.core.quickbooks.online.read import last_read
    from app.core.quickbooks.online.setup import describe_missing_connection

    connection = load_connection(engine)
    if connection is None:
        return _desktop_state(engine)
    last = last_read(engine)
    missing = describe_missing_connection(engine, credentials)
    if missing is not None:
        return QuickBooksState(SOURCE_ONLINE, connection.company_name, missing, True, last.at)
    if last.status == "failed" and last.disconnected:
        message = last.message or "QuickBooks disconnected — Reconnect in Setup."
        return QuickBooksState(SOURCE_ONLINE, connection.company_name, message, True, last.at)
    error = last.message if last.status == "failed" else None
    return QuickBooksState(SOURCE_ONLINE, connection.company_name, None, False, last.at, error)


def _desktop_state(engine: Engine) -> QuickBooksState:
    """QuickBooks Desktop's state: set up once a ``.qwc`` file was written; the Web
    Connector's last exchange and error come from the service's status."""
    try:
        from app.core.quickbooks.desktop.qwc import load_connection as load_desktop
        from app.core.quickbooks.desktop.service import read_status
    except ModuleNotFoundError:
        return QuickBooksState(source=None)
    if load_desktop(engine) is None:
        return QuickBooksState(source=None)
    status = read_status(engine)
    name = status.company_name or status.company_file or ""
    error = status.describe() if status.state == "error" else None
    return QuickBooksState(SOURCE_DESKTOP, name, None, False, status.last_exchange_at, error)


# --- Needs matching ---------------------------------------------------------------------------


class MatchFilter(Enum):
    """Which Autotask invoices the Needs matching view lists."""

    NEEDS_MATCHING = "needs_matching"
    MATCHED_BY_HAND = "matched_by_hand"
    ALL_MATCHED = "all_matched"


def has_been_read(engine: Engine, source: str) -> bool:
    """Whether QuickBooks (``source``) has been read and matched at least once."""
    with session_scope(engine) as session:
        return session.scalar(select(QuickBooksInvoiceMatch.invoice_id).where(
            QuickBooksInvoiceMatch.source == source).limit(1)) is not None


@dataclass(frozen=True, slots=True)
class MatchRow:
    """One Autotask invoice and what PayDesk knows of its QuickBooks twin."""

    invoice_id: int
    invoice_number: str
    organization_name: str
    invoice_date: date | None
    total_minor: int
    balance_minor: int
    remote_id: str | None
    doc_number: str | None
    quickbooks_balance_minor: int | None
    method: str | None
    by_hand: bool
    reason: str
    decided_by: str
    decided_at: datetime

    @property
    def how(self) -> str:
        """How the match was made, in words."""
        if self.remote_id is None:
            return "Left unmatched by hand" if self.by_hand else "Not matched"
        return {
            MatchMethod.BY_NUMBER: "Same invoice number",
            MatchMethod.BY_CUSTOMER_DATE_TOTAL: "Same customer, date and total",
            MatchMethod.BY_HAND: f"By hand ({self.decided_by})",
        }.get(self.method or "", self.method or "")


#: Sort keys the id query understands.
SORT_KEYS = ("invoice_number", "organization", "invoice_date", "total", "reason")


def _match_select(source: str, which: MatchFilter) -> Select[Any]:
    stmt = (
        select(Invoice.id)
        .join(QuickBooksInvoiceMatch, and_(QuickBooksInvoiceMatch.invoice_id == Invoice.id,
                                           QuickBooksInvoiceMatch.source == source))
        .outerjoin(Organization, Organization.id == Invoice.organization_id)
    )
    if which is MatchFilter.NEEDS_MATCHING:
        # A voided invoice has nothing to post: it needs no QuickBooks twin.
        return stmt.where(QuickBooksInvoiceMatch.remote_id.is_(None),
                          Invoice.is_voided.is_not(True))
    stmt = stmt.where(QuickBooksInvoiceMatch.remote_id.is_not(None))
    if which is MatchFilter.MATCHED_BY_HAND:
        stmt = stmt.where(QuickBooksInvoiceMatch.by_hand.is_(True))
    return stmt


def match_ids(engine: Engine, source: str, which: MatchFilter = MatchFilter.NEEDS_MATCHING, *,
              sort: str = "invoice_date", descending: bool = True, search: str = "") -> list[int]:
    """The listed invoices' ids in display order (one query; ties broken by id)."""
    columns: dict[str, Any] = {
        "invoice_number": Invoice.invoice_number,
        "organization": Organization.name,
        "invoice_date": Invoice.invoice_date,
        "total": Invoice.total_minor,
        "reason": QuickBooksInvoiceMatch.reason,
    }
    key = columns.get(sort, Invoice.invoice_date)
    stmt = _match_select(source, which)
    if clean_search(search):  # literal: % and _ match themselves, a NUL is dropped
        pattern = contains_pattern(search)
        stmt = stmt.where(or_(
            func.lower(Invoice.invoice_number).like(pattern, escape=LIKE_ESCAPE),
            func.lower(Organization.name).like(pattern, escape=LIKE_ESCAPE),
            func.lower(Invoice.qb_doc_number).like(pattern, escape=LIKE_ESCAPE)))
    order = [key.desc(), Invoice.id.desc()] if descending else [key.asc(), Invoice.id.asc()]
    with session_scope(engine) as session:
        return [int(i) for i in session.scalars(stmt.order_by(*order))]


def match_rows(engine: Engine, source: str, ids: Sequence[int]) -> dict[int, MatchRow]:
    """The rows for ``ids`` (one page of the table)."""
    if not ids:
        return {}
    stmt = (
        select(Invoice.id, Invoice.invoice_number, Organization.name, Invoice.invoice_date,
               Invoice.total_minor, Invoice.balance_minor, QuickBooksInvoiceMatch.remote_id,
               QuickBooksInvoice.doc_number, QuickBooksInvoice.balance_minor,
               QuickBooksInvoiceMatch.method, QuickBooksInvoiceMatch.by_hand,
               QuickBooksInvoiceMatch.reason, QuickBooksInvoiceMatch.decided_by,
               QuickBooksInvoiceMatch.decided_at)
        .join(QuickBooksInvoiceMatch, and_(QuickBooksInvoiceMatch.invoice_id == Invoice.id,
                                           QuickBooksInvoiceMatch.source == source))
        .outerjoin(Organization, Organization.id == Invoice.organization_id)
        .outerjoin(QuickBooksInvoice, and_(QuickBooksInvoice.source == source,
                                           QuickBooksInvoice.remote_id
                                           == QuickBooksInvoiceMatch.remote_id))
        .where(Invoice.id.in_(list(ids)))
    )
    out: dict[int, MatchRow] = {}
    with session_scope(engine) as session:
        for (inv_id, number, org, when, total, balance, rid, doc, qb_balance, method, hand,
             reason, by, at) in session.execute(stmt):
            out[int(inv_id)] = MatchRow(
                int(inv_id), number or "", org or "", when, int(total), int(balance or 0),
                rid, doc, None if qb_balance is None else int(qb_balance), method, bool(hand),
                reason or "", by or "", at)
    return out


@dataclass(frozen=True, slots=True)
class QuickBooksCandidate:
    """A QuickBooks invoice a person may pick for an Autotask invoice."""

    remote_id: str
    doc_number: str
    customer_name: str
    txn_date: date | None
    total_minor: int
    balance_minor: int
    #: The Autotask invoice number it is matched to now, if any (picking it moves the match).
    matched_to: str | None
    #: Why it is offered first: "Same total and date", "Same customer"… ('' for the rest).
    likeness: str


def match_candidates(engine: Engine, source: str, invoice_id: int, search: str = "", *,
                     limit: int = 200) -> list[QuickBooksCandidate]:
    """QuickBooks invoices to pick from, the likeliest first: same total and date, then the
    same customer, then the rest; ``search`` narrows by number or customer name."""
    with session_scope(engine) as session:
        found = session.execute(
            select(Invoice.invoice_date, Invoice.total_minor, Organization.name)
            .outerjoin(Organization, Organization.id == Invoice.organization_id)
            .where(Invoice.id == invoice_id)).first()
        if found is None:
            return []
        when, total, org = found
        org_text = (org or "").strip().lower()
        same_total = and_(QuickBooksInvoice.total_minor == total,
                          QuickBooksInvoice.txn_date == when)
        same_customer = func.lower(QuickBooksInvoice.customer_name) == org_text
        rank = case((and_(same_total, same_customer), 3), (same_total, 2),
                    (same_customer, 1), else_=0)
        stmt = (
            select(QuickBooksInvoice.remote_id, QuickBooksInvoice.doc_number,
                   QuickBooksInvoice.customer_name, QuickBooksInvoice.txn_date,
                   QuickBooksInvoice.total_minor, QuickBooksInvoice.balance_minor,
                   Invoice.invoice_number, rank.label("rank"))
            .outerjoin(QuickBooksInvoiceMatch, and_(
                QuickBooksInvoiceMatch.source == source,
                QuickBooksInvoiceMatch.remote_id == QuickBooksInvoice.remote_id))
            .outerjoin(Invoice, Invoice.id == QuickBooksInvoiceMatch.invoice_id)
            .where(QuickBooksInvoice.source == source)
        )
        if clean_search(search):  # literal, as every search box
            pattern = contains_pattern(search)
            stmt = stmt.where(or_(
                func.lower(QuickBooksInvoice.doc_number).like(pattern, escape=LIKE_ESCAPE),
                func.lower(QuickBooksInvoice.customer_name).like(pattern,
                                                                 escape=LIKE_ESCAPE)))
        stmt = stmt.order_by(rank.desc(), QuickBooksInvoice.txn_date.desc(),
                             QuickBooksInvoice.remote_id).limit(limit)
        out = []
        for rid, doc, customer, txn, qtotal, qbalance, matched, score in session.execute(stmt):
            likeness = {3: "Same customer, date and total", 2: "Same date and total",
                        1: "Same customer"}.get(int(score or 0), "")
            out.append(QuickBooksCandidate(str(rid), doc or "", customer or "", txn,
                                           int(qtotal), int(qbalance), matched, likeness))
        return out


# --- one invoice's QuickBooks side (the invoice page) ----------------------------------------


@dataclass(frozen=True, slots=True)
class QuickBooksLink:
    """The QuickBooks invoice an Autotask invoice is matched to, as the invoice page shows it."""

    source: str
    remote_id: str
    doc_number: str
    balance_minor: int
    #: Where a person opens it in QuickBooks (Online only; Desktop has no addresses).
    url: str | None
    how: str


def quickbooks_link(engine: Engine, invoice_id: int) -> QuickBooksLink | None:
    """The matched QuickBooks invoice of ``invoice_id``, or None when it has none (yet)."""
    from app.core.quickbooks.online.connection import load_connection

    with session_scope(engine) as session:
        found = session.execute(
            select(QuickBooksInvoiceMatch.source, QuickBooksInvoice.remote_id,
                   QuickBooksInvoice.doc_number, QuickBooksInvoice.balance_minor,
                   QuickBooksInvoiceMatch.method, QuickBooksInvoiceMatch.decided_by)
            .join(QuickBooksInvoice, and_(
                QuickBooksInvoice.source == QuickBooksInvoiceMatch.source,
                QuickBooksInvoice.remote_id == QuickBooksInvoiceMatch.remote_id))
            .where(QuickBooksInvoiceMatch.invoice_id == invoice_id)
            .order_by(QuickBooksInvoiceMatch.source.desc())  # online before desktop
        ).first()
    if found is None:
        return None
    source, rid, doc, balance, method, by = found
    url = None
    if source == SOURCE_ONLINE:
        connection = load_connection(engine)
        if connection is not None and not is_loopback_host(host_of(connection.api_base)):
            # PayDesk's local sandbox has no QuickBooks web app to open.
            url = connection.company_url("invoice", str(rid))
    how = {MatchMethod.BY_NUMBER: "matched by invoice number",
           MatchMethod.BY_CUSTOMER_DATE_TOTAL: "matched by customer, date and total",
           MatchMethod.BY_HAND: f"matched by hand by {by}"}.get(method or "", "")
    assert source in (SOURCE_ONLINE, SOURCE_DESKTOP)
    return QuickBooksLink(str(source), str(rid), doc or "", int(balance), url, how)
