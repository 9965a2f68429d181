"""Invoice History and the Invoice page, as SQL.

``invoice_ids`` answers "which invoices, in which order" with one query that returns only
ids: every sortable column has an index whose last column is ``id``, so the order is stable
(ties broken by id) and the database walks the index instead of sorting. ``invoice_rows``
then loads the handful of rows a screen shows, ``invoice_totals`` adds up the whole filtered
set in one aggregate, and ``invoice_detail`` gathers one invoice with its lines and the
payments PayDesk applied to it.

Status is never re-derived here: the stored ``status`` comes from ``app.core.invoice_state``
and Overdue is decided against ``today`` with ``display_status_sql``.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    and_,
    case,
    column,
    func,
    literal,
    or_,
    select,
    table,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from app.core.invoice_state import (
    PAYABLE_STATUSES,
    InvoiceStatus,
    display_status,
    display_status_sql,
)
from app.core.money import Money, currency_exponent, line_amount
from app.core.queries.export import ExportProgress, write_csv
from app.core.queries.scans import values_missing_from
from app.core.search_text import clean_search, contains_pattern
from app.core.storage.models import (
    InternalCurrency,
    Invoice,
    InvoiceLine,
    Organization,
    Payment,
    PaymentAllocation,
    PaymentTerm,
    Posting,
    QuarantinedRecord,
    Refund,
    RefundAllocation,
)
from app.core.storage.search import (
    SearchCapabilities,
    capabilities,
    sorted_by_name,
    trigram_phrase,
)

__all__ = [
    "AppliedPayment",
    "InvoiceColumn",
    "InvoiceDetail",
    "InvoiceFacts",
    "InvoiceLineRow",
    "InvoicePage",
    "InvoiceQuery",
    "InvoiceRow",
    "InvoiceTotals",
    "any_quickbooks_numbers",
    "export_invoices_csv",
    "invoice_detail",
    "invoice_export_cell",
    "invoice_facts",
    "invoice_first_page",
    "invoice_ids",
    "invoice_listing",
    "invoice_rows",
    "invoice_totals",
    "invoices_exist",
    "posting_status_label",
]

#: Largest number of ids put in one ``IN (…)`` list (SQLite's default limit is 32,766).
_IN_CHUNK = 900


class InvoiceColumn(enum.StrEnum):
    """The columns of Invoice History, in their default order. Each one sorts."""

    NUMBER = "number"
    QB_NUMBER = "qb_number"
    ORGANIZATION = "organization"
    INVOICE_DATE = "invoice_date"
    DUE_DATE = "due_date"
    DAYS_OVERDUE = "days_overdue"
    TOTAL = "total"
    PAID = "paid"
    BALANCE = "balance"
    STATUS = "status"
    TERMS = "terms"
    LAST_PAYMENT = "last_payment"

    @property
    def heading(self) -> str:
        return _COLUMN_TITLES[self]

    @property
    def is_money(self) -> bool:
        return self in (InvoiceColumn.TOTAL, InvoiceColumn.PAID, InvoiceColumn.BALANCE)


_COLUMN_TITLES = {
    InvoiceColumn.NUMBER: "Invoice #",
    InvoiceColumn.QB_NUMBER: "QuickBooks #",
    InvoiceColumn.ORGANIZATION: "Organization",
    InvoiceColumn.INVOICE_DATE: "Invoice date",
    InvoiceColumn.DUE_DATE: "Due date",
    InvoiceColumn.DAYS_OVERDUE: "Days overdue",
    InvoiceColumn.TOTAL: "Total",
    InvoiceColumn.PAID: "Paid",
    InvoiceColumn.BALANCE: "Balance",
    InvoiceColumn.STATUS: "Status",
    InvoiceColumn.TERMS: "Terms",
    InvoiceColumn.LAST_PAYMENT: "Last payment",
}


@dataclass(frozen=True, slots=True)
class InvoiceQuery:
    """What Invoice History shows: filters plus the sort. Immutable, so it can be compared
    and handed between threads.

    ``show_paid`` off (the default, like Autotask's client portal) keeps only invoices that
    still owe money. ``status`` narrows to one displayed status; asking for Paid or Void
    shows them even with ``show_paid`` off, since that is plainly what was asked for.
    """

    search: str = ""
    status: InvoiceStatus | None = None
    date_from: date | None = None
    date_to: date | None = None
    organization_id: int | None = None
    show_paid: bool = False
    sort: InvoiceColumn = InvoiceColumn.INVOICE_DATE
    descending: bool = True


@dataclass(frozen=True, slots=True)
class InvoiceRow:
    """One row of Invoice History. Also what the selection hands to the Pay action."""

    id: int
    invoice_number: str
    qb_doc_number: str | None
    organization_id: int
    organization_name: str
    invoice_date: date | None
    due_date: date | None
    total_minor: int
    amount_paid_minor: int
    balance_minor: int
    status: InvoiceStatus
    payment_terms: str | None
    last_payment_date: date | None
    #: Days past the due date of an invoice that still owes money (None when not overdue).
    days_overdue: int | None = None

    @property
    def is_payable(self) -> bool:
        return self.balance_minor > 0 and self.status in (
            InvoiceStatus.OPEN,
            InvoiceStatus.PARTIALLY_PAID,
            InvoiceStatus.OVERDUE,
        )


@dataclass(frozen=True, slots=True)
class InvoiceTotals:
    count: int
    total_minor: int
    balance_minor: int
    #: Invoices Autotask sent that PayDesk holds back (quarantined): never in the list, so
    #: the screen says they exist.
    held_back: int = 0


@dataclass(frozen=True, slots=True)
class InvoiceLineRow:
    """One line as Autotask billed it: the unit price (``rate``) and the amounts exactly,
    in major units (12.3456 stays 12.3456; ``app.core.money.format_exact`` shows them)."""

    id: int
    item_date: date | None
    description: str
    quantity: Decimal | None
    rate: Decimal | None
    amount: Decimal
    tax: Decimal
    total: Decimal


@dataclass(frozen=True, slots=True)
class AppliedPayment:
    """A payment (or a refund, with a negative amount) PayDesk applied to one invoice."""

    payment_id: int
    kind: str  # "payment" | "refund"
    at: datetime
    amount_minor: int
    currency: str
    method: str
    reference: str
    state: str
    posting_status: str


@dataclass(frozen=True, slots=True)
class InvoiceDetail:
    row: InvoiceRow
    from_date: date | None
    to_date: date | None
    tax_minor: int
    is_voided: bool
    paid_date: date | None
    comments: str | None
    tax_region: str | None
    lines: tuple[InvoiceLineRow, ...]
    payments: tuple[AppliedPayment, ...]
    #: The internal currency's decimal places (the invoice's totals are in its minor units).
    currency_exponent: int = 2

    @property
    def lines_amount(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))

    @property
    def lines_tax(self) -> Decimal:
        return sum((line.tax for line in self.lines), Decimal(0))

    @property
    def lines_total(self) -> Decimal:
        """The lines' totals added up, exactly (may hold more places than the currency)."""
        return sum((line.total for line in self.lines), Decimal(0))

    @property
    def total(self) -> Decimal:
        """The invoice total in major units."""
        return Decimal(self.row.total_minor).scaleb(-self.currency_exponent)

    @property
    def lines_add_up(self) -> bool:
        """True when the lines' amounts and tax make the invoice total (as Autotask billed)."""
        return self.lines_total == self.total


# --------------------------------------------------------------------------------------------
# Filtering and sorting
# --------------------------------------------------------------------------------------------

_STATUS_RANK = {
    InvoiceStatus.OVERDUE.value: 0,
    InvoiceStatus.PARTIALLY_PAID.value: 1,
    InvoiceStatus.OPEN.value: 2,
    InvoiceStatus.PAID.value: 3,
    InvoiceStatus.VOID.value: 4,
    InvoiceStatus.CREDIT.value: 5,
}


def _overdue_condition(today: date) -> ColumnElement[bool]:
    """Still owes money and is past its due date (what ``days_overdue`` counts)."""
    return and_(Invoice.status.in_(PAYABLE_STATUSES), Invoice.balance_minor > 0,
                Invoice.due_date < today)


def days_overdue(status: InvoiceStatus, due_date: date | None, balance_minor: int,
                 today: date) -> int | None:
    """Days past ``due_date`` of an invoice that still owes money; None when not overdue."""
    if due_date is None or balance_minor <= 0 or due_date >= today:
        return None
    if status not in (InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.OVERDUE):
        return None
    return (today - due_date).days


def _not_overdue(today: date) -> ColumnElement[bool]:
    return or_(Invoice.due_date.is_(None), Invoice.due_date >= today)


def _status_condition(status: InvoiceStatus, today: date) -> ColumnElement[bool]:
    if status is InvoiceStatus.OVERDUE:
        return and_(Invoice.status.in_(PAYABLE_STATUSES), Invoice.due_date < today)
    if status.value in PAYABLE_STATUSES:
        return and_(Invoice.status == status.value, _not_overdue(today))
    if status is InvoiceStatus.CREDIT:
        return and_(Invoice.status == InvoiceStatus.PAID.value, Invoice.total_minor < 0)
    if status is InvoiceStatus.PAID:
        return and_(Invoice.status == status.value, Invoice.total_minor >= 0)
    return Invoice.status == status.value


def _like_pattern(term: str) -> str:
    return contains_pattern(term)


def _search_condition(
    term: str, caps: SearchCapabilities, invoices: Any = Invoice
) -> ColumnElement[bool]:
    """Invoice number, QuickBooks number or organization name contains ``term`` (any case).

    A substring (``%term%``) can start anywhere, so no B-tree index can seek to it. Terms of
    three characters or more are answered by the trigram indexes of
    ``app.core.storage.search`` (SQLite FTS5, PostgreSQL pg_trgm): the matching invoices by
    number, plus every invoice of the matching organizations through
    ``ix_invoices_organization_id``. Shorter terms (the first keystrokes) match a large part
    of the history anyway; they scan the narrow ``ix_invoices_search`` index (both numbers,
    lower-cased, with the organization, status, amounts and id) instead of the wide rows.
    ``invoices``: where the invoices' columns are read (another selection of them).
    """
    # The key separates the two numbers with a tab; a term never spans them.
    term = term.replace("\t", " ")
    pattern = _like_pattern(term)
    phrase = trigram_phrase(term)
    by_number = aliased(Invoice, name="by_number")
    by_organization = aliased(Invoice, name="by_organization")
    if phrase is not None and caps.sqlite_fts:
        invoices_fts = table("invoices_fts", column("rowid"), column("invoices_fts"))
        organizations_fts = table("organizations_fts", column("rowid"), column("organizations_fts"))
        in_matches: ColumnElement[bool] = invoices.id.in_(
            union_all(
                select(invoices_fts.c.rowid).where(invoices_fts.c.invoices_fts.op("MATCH")(phrase)),
                select(by_organization.id).where(
                    by_organization.organization_id.in_(
                        select(organizations_fts.c.rowid).where(
                            organizations_fts.c.organizations_fts.op("MATCH")(phrase)
                        )
                    )
                ),
            )
        )
        return in_matches
    matching_organizations = select(Organization.id).where(
        func.lower(Organization.name).like(pattern, escape="\\")
    )
    if phrase is not None:
        # PostgreSQL: each branch can use its pg_trgm index (a plain scan without it).
        in_matches = invoices.id.in_(
            union_all(
                select(by_number.id).where(by_number.search_key.like(pattern, escape="\\")),
                select(by_organization.id).where(
                    by_organization.organization_id.in_(matching_organizations)
                ),
            )
        )
        return in_matches
    return or_(
        invoices.search_key.like(pattern, escape="\\"),
        invoices.organization_id.in_(matching_organizations),
    )


def _conditions(
    query: InvoiceQuery, today: date, caps: SearchCapabilities
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if query.status is not None:
        conditions.append(_status_condition(query.status, today))
    elif not query.show_paid:
        conditions.append(Invoice.status.in_(PAYABLE_STATUSES))
    if query.organization_id is not None:
        conditions.append(Invoice.organization_id == query.organization_id)
    if query.date_from is not None:
        conditions.append(Invoice.invoice_date >= query.date_from)
    if query.date_to is not None:
        conditions.append(Invoice.invoice_date <= query.date_to)
    term = clean_search(query.search)
    if term:
        conditions.append(_search_condition(term, caps))
    return conditions


def _ordered_ids(query: InvoiceQuery, today: date, caps: SearchCapabilities) -> Select[Any]:
    stmt = select(Invoice.id).where(*_conditions(query, today, caps))
    keys: list[Any]
    column = query.sort
    if column is InvoiceColumn.ORGANIZATION:
        stmt = stmt.join(Organization, Organization.id == Invoice.organization_id, isouter=True)
        keys = [_name_key(caps), Invoice.organization_id]
    elif column is InvoiceColumn.TERMS:
        stmt = stmt.join(PaymentTerm, PaymentTerm.id == Invoice.payment_term_id, isouter=True)
        keys = [PaymentTerm.name]
    elif column is InvoiceColumn.STATUS:
        keys = [case(_STATUS_RANK, value=display_status_sql(today), else_=literal(9))]
    elif column is InvoiceColumn.DAYS_OVERDUE:
        # Fewest days first: invoices not overdue, then the latest due date first (ties by
        # id, the same way round, so both directions walk ``ix_invoices_due_date``).
        overdue = case((_overdue_condition(today), literal(1)), else_=literal(0))
        keys = [overdue, Invoice.due_date.desc(), Invoice.id.desc()]
        if query.descending:
            return stmt.order_by(overdue.desc(), Invoice.due_date, Invoice.id)
        return stmt.order_by(*keys)
    else:
        keys = [_SIMPLE_SORT_KEYS[column]]
    keys.append(Invoice.id)
    if query.descending:
        return stmt.order_by(*(key.desc() for key in keys))
    return stmt.order_by(*keys)


_SIMPLE_SORT_KEYS: dict[InvoiceColumn, Any] = {
    InvoiceColumn.NUMBER: Invoice.invoice_number,
    InvoiceColumn.QB_NUMBER: Invoice.qb_doc_number,
    InvoiceColumn.INVOICE_DATE: Invoice.invoice_date,
    InvoiceColumn.DUE_DATE: Invoice.due_date,
    InvoiceColumn.TOTAL: Invoice.total_minor,
    InvoiceColumn.PAID: Invoice.amount_paid_minor,
    InvoiceColumn.BALANCE: Invoice.balance_minor,
    InvoiceColumn.LAST_PAYMENT: Invoice.last_payment_date,
}


def _id_list(connection: Connection, stmt: Select[Any], limit: int | None = None) -> list[int]:
    # Ids need no type processing, so they are read straight from the DBAPI cursor: at
    # 200,000 rows this halves the time compared with going through Result rows.
    if limit is not None:
        stmt = stmt.limit(limit)
    cursor = connection.execute(stmt).cursor
    return list(map(itemgetter(0), cursor.fetchall()))


def invoice_ids(
    connection: Connection, query: InvoiceQuery, today: date, *, limit: int | None = None
) -> list[int]:
    """The ids of every invoice ``query`` selects, in its order (ties broken by id); with
    ``limit``, only the first ones (the database stops walking its index there).

    Sorting by organization walks organizations by name and each one's invoices through
    ``ix_invoices_organization_id`` instead of sorting every row; invoices whose organization
    has not been synced yet come last, in a second query.
    """
    ids: list[int] = []
    for statement in _order_segments(connection, query, today):
        wanted = None if limit is None else limit - len(ids)
        if wanted is not None and wanted <= 0:
            break
        ids += _id_list(connection, statement, wanted)
    return ids


def _order_segments(connection: Connection, query: InvoiceQuery, today: date) -> list[Select[Any]]:
    """The listing as statements of ids to be read one after the other, each in its own
    order: one for a plain column, one per status, per payment term, and so on, so that
    each walks an index instead of sorting every invoice on a computed value."""
    caps = capabilities(connection)
    if query.sort is InvoiceColumn.STATUS:
        return _status_segments(query, today, caps)
    if query.sort is InvoiceColumn.TERMS:
        return _terms_segments(connection, query, today, caps)
    if query.sort is InvoiceColumn.DAYS_OVERDUE:
        return _days_overdue_segments(query, today, caps)
    if query.sort is not InvoiceColumn.ORGANIZATION:
        return [_ordered_ids(query, today, caps)]
    conditions = _conditions(query, today, caps)
    keys: list[Any] = [sorted_by_name(connection, Organization.name), Organization.id, Invoice.id]
    named = (
        select(Invoice.id)
        .join(Organization, Organization.id == Invoice.organization_id)
        .where(*conditions)
        .order_by(*(key.desc() for key in keys) if query.descending else keys)
    )
    orphan_keys: list[Any] = [Invoice.organization_id, Invoice.id]
    orphans = (
        select(Invoice.id)
        .where(*conditions, Invoice.organization_id.in_(_unknown_organization_ids()))
        .order_by(*(key.desc() for key in orphan_keys) if query.descending else orphan_keys)
    )
    return [named, orphans]


def _unknown_organization_ids() -> Select[Any]:
    """The organization ids invoices carry that are not among the organizations (not synced
    yet, or held back), by a loose index scan of ``ix_invoices_organization_id``: testing
    every invoice instead cost 150-270 ms at a million, even when a first page needed none
    of them."""
    return values_missing_from(Invoice.organization_id, Organization.id,
                               "invoice_organizations")


@dataclass(frozen=True, slots=True)
class InvoicePage:
    """The first invoices of a listing, in order: what a screen shows before the rest."""

    ids: list[int]
    #: True when ``ids`` is the whole listing.
    complete: bool
    #: The listing's totals when ``complete`` (they were added up from the page itself).
    totals: InvoiceTotals | None
    #: The page's rows, read in the same statement as the ids.
    rows: dict[int, InvoiceRow]


def invoice_first_page(
    connection: Connection,
    query: InvoiceQuery,
    today: date,
    size: int,
    *,
    held_back: int = 0,
) -> InvoicePage:
    """The first ``size`` invoices ``query`` lists, in its order, with their rows — one
    statement (one round trip to a shared server) for most sorts.

    The database walks the sort column's index and stops after ``size + 1`` rows (the extra
    one says whether there are more), so a new sort or filter shows its first rows without
    reading a million ids; ``invoice_listing`` then reads the whole order. A listing that
    fits in the page is complete, and its totals are added up from its rows.
    """
    caps = capabilities(connection)
    if query.sort in _SIMPLE_SORT_KEYS and clean_search(query.search):
        found = _first_matches_nearby(connection, query, today, caps, size, held_back)
        if found is not None:
            return found
        segments = [_ordered_with_amounts(query, today, caps)]
    else:
        segments = _order_segments(connection, query, today)
    rows = [row for row, _ in _page_rows(connection, segments, size + 1, today)]
    return _page(rows, size, held_back)


def _page(rows: list[InvoiceRow], size: int, held_back: int) -> InvoicePage:
    if len(rows) > size:
        rows = rows[:size]
        return InvoicePage([row.id for row in rows], False, None, {row.id: row for row in rows})
    totals = InvoiceTotals(len(rows), sum(row.total_minor for row in rows),
                           sum(row.balance_minor for row in rows), held_back)
    return InvoicePage([row.id for row in rows], True, totals, {row.id: row for row in rows})


def _page_rows(
    connection: Connection,
    segments: Sequence[Select[Any]],
    limit: int,
    today: date,
    extra: Any = None,
) -> list[tuple[InvoiceRow, Any]]:
    """The rows of the first ``limit`` ids the ``segments`` give one after the other (each
    in its own order), in one statement: each segment limited and numbered in the order it
    gives (``row_number() OVER ()`` over an ordered, limited subquery), all joined to the
    row columns and ordered by segment and place. ``extra``: one more column (read once
    per row) returned beside each row."""
    parts = []
    for number, segment in enumerate(segments):
        ordered = segment.limit(limit).subquery(f"segment_{number}")
        parts.append(
            select(
                literal(number).label("segment"),
                ordered.c.id.label("id"),
                func.row_number().over().label("place"),
            ).select_from(ordered)
        )
    page = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery("page")
    stmt = (
        _row_select(today)
        .add_columns(extra if extra is not None else literal(None))
        .join(page, page.c.id == Invoice.id)
        .order_by(page.c.segment, page.c.place)
        .limit(limit)
    )
    rows: dict[int, InvoiceRow] = {}
    found: list[tuple[InvoiceRow, Any]] = []
    for values in connection.execute(stmt):
        row = _to_row(tuple(values)[:-1], today)
        rows[row.id] = row
        found.append((row, values[-1]))
    named = _name_held_back_organizations(connection, rows)
    return [(named[row.id], value) for row, value in found]


#: How many invoices, in the listing's order without the search, a search looks through
#: first for its first page (see ``_first_matches_nearby``).
_NEARBY = 5_000


def _first_matches_nearby(
    connection: Connection, query: InvoiceQuery, today: date, caps: SearchCapabilities,
    size: int, held_back: int,
) -> InvoicePage | None:
    """The first page of a search when it is found among the first ``_NEARBY`` invoices of
    the listing without the search; None when it is not (look through every match).

    The first keystrokes ("h", "4") match a large part of a million invoices: collecting
    every match to sort them would read them all, while the first page is among the first
    few thousand in the order. The matches among the first ``_NEARBY`` invoices in order
    are the first matches overall, so when there are more than a page of them, they are
    the page. When the listing has fewer than ``_NEARBY`` invoices at all, the matches
    found are the whole listing and come with their totals. One statement.
    """
    ordered = (
        _ordered_ids(replace(query, search=""), today, caps)
        .add_columns(Invoice.search_key, Invoice.organization_id)
        .limit(_NEARBY)
        .subquery()
    )
    nearby = (
        select(ordered.c.id, ordered.c.search_key, ordered.c.organization_id,
               func.row_number().over().label("place"))
        .cte("nearby")
        .prefix_with("MATERIALIZED")
    )
    seen = select(func.count()).select_from(nearby).scalar_subquery()
    # The search is tested on the few thousand nearby invoices as they were read (so no
    # planner can turn it into a search of every invoice), and they keep their order.
    near = aliased(Invoice, nearby)
    matches = (
        select(near.id)
        .where(_search_condition(clean_search(query.search), caps, near))
        .order_by(nearby.c.place)
    )
    found = _page_rows(connection, [matches], size + 1, today, seen)
    if len(found) > size:
        return _page([row for row, _ in found], size, held_back)
    if found and found[0][1] < _NEARBY:
        # The whole listing was looked through: these are all the matches.
        return _page([row for row, _ in found], size, held_back)
    return None  # too few matches nearby (or none): look through them all


def invoice_listing(
    connection: Connection,
    query: InvoiceQuery,
    today: date,
    *,
    with_totals: bool = True,
    held_back: int | None = None,
) -> tuple[list[int], InvoiceTotals | None]:
    """``invoice_ids`` and, when asked, ``invoice_totals``.

    Without a search the totals are one aggregate the database answers from an index: at a
    million invoices, reading each invoice's total and balance along with its id costs four
    times the ids themselves (measured: 1.0 s against 0.2 s of CPU), the aggregate 0.1 s.
    With a search, where the sort allows it (a plain column), the id query also returns each
    match's total and balance and they are added up here, instead of the database finding
    the matches a second time for the aggregate."""
    if not with_totals:
        return invoice_ids(connection, query, today), None
    if query.sort in _SIMPLE_SORT_KEYS and clean_search(query.search):
        rows = connection.execute(
            _ordered_with_amounts(query, today, capabilities(connection))
        ).cursor.fetchall()
        ids = list(map(itemgetter(0), rows))
        totals = InvoiceTotals(
            len(ids), sum(map(itemgetter(1), rows)), sum(map(itemgetter(2), rows)),
            held_back_invoices(connection) if held_back is None else held_back,
        )
        return ids, totals
    return invoice_ids(connection, query, today), invoice_totals(
        connection, query, today, held_back=held_back
    )


def _ordered_with_amounts(
    query: InvoiceQuery, today: date, caps: SearchCapabilities
) -> Select[Any]:
    """Ids in order with each invoice's total and balance (a plain sort column only).

    Without a search the database walks the sort column's index. With one, the matches are
    collected first in one pass over the table (a materialized CTE) and only they are
    sorted: walking the sort index would look up every invoice's row, in index order, just
    to test the search — measured at 200,000 invoices, twice the work for a rare term.
    """
    if not query.search.strip():
        return _ordered_ids(query, today, caps).add_columns(
            Invoice.total_minor, Invoice.balance_minor
        )
    matches = (
        select(
            Invoice.id.label("id"),
            _SIMPLE_SORT_KEYS[query.sort].label("sort_key"),
            Invoice.total_minor.label("total_minor"),
            Invoice.balance_minor.label("balance_minor"),
        )
        .where(*_conditions(query, today, caps))
        .cte("matches")
        .prefix_with("MATERIALIZED")
    )
    keys: list[Any] = [matches.c.sort_key, matches.c.id]
    return select(matches.c.id, matches.c.total_minor, matches.c.balance_minor).order_by(
        *(key.desc() for key in keys) if query.descending else keys
    )


@dataclass(frozen=True, slots=True)
class InvoiceFacts:
    """What Invoice History needs besides its rows, read in one statement (one round trip
    on a shared server): whether there are invoices at all (of the organization shown),
    whether any has a QuickBooks number, and how many invoices are held back."""

    has_invoices: bool
    any_quickbooks_numbers: bool
    held_back: int


def invoice_facts(connection: Connection, *, organization_id: int | None = None) -> InvoiceFacts:
    some = select(Invoice.id)
    if organization_id is not None:
        some = some.where(Invoice.organization_id == organization_id)
    has_invoices, quickbooks, held_back = connection.execute(
        select(
            some.exists(),
            select(Invoice.id).where(Invoice.qb_doc_number.is_not(None)).exists(),
            select(func.count())
            .select_from(QuarantinedRecord)
            .where(QuarantinedRecord.entity == "Invoices")
            .scalar_subquery(),
        )
    ).one()
    return InvoiceFacts(bool(has_invoices), bool(quickbooks), int(held_back))


def invoices_exist(
    connection: Connection,
    *,
    organization_id: int | None = None,
    with_quickbooks_number: bool = False,
) -> bool:
    """Whether the database holds any invoice (of this organization; with a QuickBooks
    number), paid or not."""
    stmt = select(Invoice.id).limit(1)
    if organization_id is not None:
        stmt = stmt.where(Invoice.organization_id == organization_id)
    if with_quickbooks_number:
        stmt = stmt.where(Invoice.qb_doc_number.is_not(None))
    return connection.execute(stmt).first() is not None


def _segment_statements(
    conditions: list[ColumnElement[bool]],
    extras: Iterable[ColumnElement[bool]],
    keys: list[Any],
    descending: bool,
) -> list[Select[Any]]:
    """One id statement per segment (``conditions`` and one of ``extras``), each in the
    order of ``keys``."""
    order = [k.desc() for k in keys] if descending else keys
    return [select(Invoice.id).where(*conditions, extra).order_by(*order) for extra in extras]


def _status_segments(
    query: InvoiceQuery, today: date, caps: SearchCapabilities
) -> list[Select[Any]]:
    """Overdue, Partially paid, Open, Paid, Void — and within each, by due date then id.

    One indexed query per status (``ix_invoices_status`` is status, due date, id) instead of
    sorting every row on a computed status.
    """
    statuses = sorted(InvoiceStatus, key=lambda s: _STATUS_RANK[s.value], reverse=query.descending)
    return _segment_statements(
        _conditions(query, today, caps),
        (_status_condition(status, today) for status in statuses),
        [Invoice.due_date, Invoice.id],
        query.descending,
    )


def _days_overdue_segments(
    query: InvoiceQuery, today: date, caps: SearchCapabilities
) -> list[Select[Any]]:
    """Invoices not overdue, then the overdue ones, each by due date (latest first) then
    id — the order ``_ordered_ids`` gives, read as two segments that each walk
    ``ix_invoices_due_date`` instead of sorting a million rows on a computed flag."""
    overdue = _overdue_condition(today)
    not_overdue = or_(
        Invoice.due_date.is_(None),
        Invoice.due_date >= today,
        Invoice.balance_minor <= 0,
        Invoice.status.not_in(PAYABLE_STATUSES),
    )
    extras = [overdue, not_overdue] if query.descending else [not_overdue, overdue]
    keys: list[Any] = [Invoice.due_date, Invoice.id]
    return _segment_statements(
        _conditions(query, today, caps), extras, keys, not query.descending
    )


def _terms_in_order(connection: Connection) -> tuple[list[int], list[int]]:
    """The payment terms by name, and the term ids invoices use that are not among them
    (not synced yet) — one statement; the ids in use are found by a loose index scan of
    ``ix_invoices_payment_term`` (``values_missing_from``) rather than by reading every
    invoice."""
    unknown = values_missing_from(Invoice.payment_term_id, PaymentTerm.id, "invoice_terms")
    known = select(literal(0).label("kind"), PaymentTerm.id.label("term"),
                   PaymentTerm.name.label("name"))
    missing = unknown.subquery("missing")
    both = union_all(
        known, select(literal(1), missing.c.value, literal(None))
    ).subquery("terms")
    terms: list[int] = []
    not_synced: list[int] = []
    for kind, term, _name in connection.execute(
        select(both).order_by(both.c.kind, both.c.name, both.c.term)
    ):
        (not_synced if kind else terms).append(int(term))
    return terms, not_synced


def _terms_segments(
    connection: Connection, query: InvoiceQuery, today: date, caps: SearchCapabilities
) -> list[Select[Any]]:
    """By payment terms name (then id): one indexed query per term, in name order; invoices
    without terms (or with terms not synced yet) first, as SQL sorts missing values."""
    # Terms not synced (yet) sort with the invoices without terms; knowing their ids makes
    # that segment an index range too instead of a test of every invoice.
    terms, unknown = _terms_in_order(connection)
    extras: list[ColumnElement[bool]] = [
        or_(Invoice.payment_term_id.is_(None), Invoice.payment_term_id.in_(unknown))
        if unknown
        else Invoice.payment_term_id.is_(None)
    ]
    extras += [Invoice.payment_term_id == term for term in terms]
    if query.descending:
        extras.reverse()
    return _segment_statements(
        _conditions(query, today, caps), extras, [Invoice.id], query.descending
    )


def invoice_totals(
    connection: Connection | Session,
    query: InvoiceQuery,
    today: date,
    *,
    held_back: int | None = None,
) -> InvoiceTotals:
    """Count, total and balance of the whole filtered set, in one aggregate."""
    stmt = select(
        func.count(Invoice.id),
        func.coalesce(func.sum(Invoice.total_minor), 0),
        func.coalesce(func.sum(Invoice.balance_minor), 0),
    ).where(*_conditions(query, today, _capabilities_of(connection)))
    count, total, balance = connection.execute(stmt).one()
    if held_back is None:
        held_back = held_back_invoices(connection)
    return InvoiceTotals(int(count), int(total), int(balance), held_back)


def _capabilities_of(connection: Connection | Session) -> SearchCapabilities:
    if isinstance(connection, Session):
        return capabilities(connection.connection())
    return capabilities(connection)


def _name_key(caps: SearchCapabilities) -> Any:
    if caps.name_collation is None:
        return Organization.name
    return Organization.name.collate(caps.name_collation)


def any_quickbooks_numbers(engine: Engine) -> bool:
    """Whether any invoice has its QuickBooks number yet (the QuickBooks link filled it in)."""
    with engine.connect() as connection:
        found = connection.execute(
            select(Invoice.id).where(Invoice.qb_doc_number.is_not(None)).limit(1)).first()
    return found is not None


def held_back_invoices(connection: Connection | Session) -> int:
    """How many invoices from Autotask could not be stored (quarantined by the sync)."""
    return int(connection.execute(
        select(func.count()).select_from(QuarantinedRecord).where(
            QuarantinedRecord.entity == "Invoices")).scalar_one())


def _row_select(today: date) -> Select[*tuple[Any, ...]]:
    return (
        select(
            Invoice.id,
            Invoice.invoice_number,
            Invoice.qb_doc_number,
            Invoice.organization_id,
            Organization.name,
            Invoice.invoice_date,
            Invoice.due_date,
            Invoice.total_minor,
            Invoice.amount_paid_minor,
            Invoice.balance_minor,
            Invoice.status,
            PaymentTerm.name,
            Invoice.last_payment_date,
        )
        .join(Organization, Organization.id == Invoice.organization_id, isouter=True)
        .join(PaymentTerm, PaymentTerm.id == Invoice.payment_term_id, isouter=True)
    )


def _to_row(values: Sequence[object], today: date) -> InvoiceRow:
    (
        invoice_id,
        number,
        qb_number,
        organization_id,
        organization_name,
        invoice_date,
        due_date,
        total,
        paid,
        balance,
        status,
        terms,
        last_payment,
    ) = values
    assert isinstance(invoice_id, int) and isinstance(organization_id, int)
    assert isinstance(total, int) and isinstance(paid, int) and isinstance(balance, int)
    assert isinstance(status, str)
    due = due_date if isinstance(due_date, date) else None
    shown_status = display_status(status, due, today, total)
    return InvoiceRow(
        id=invoice_id,
        invoice_number=str(number) if number is not None else str(invoice_id),
        qb_doc_number=str(qb_number) if qb_number else None,
        organization_id=organization_id,
        organization_name=str(organization_name)
        if organization_name is not None
        else f"Organization {organization_id}",
        invoice_date=invoice_date if isinstance(invoice_date, date) else None,
        due_date=due,
        total_minor=total,
        amount_paid_minor=paid,
        balance_minor=balance,
        status=shown_status,
        payment_terms=str(terms) if terms is not None else None,
        last_payment_date=last_payment if isinstance(last_payment, date) else None,
        days_overdue=days_overdue(shown_status, due, balance, today),
    )


def invoice_rows(
    connection: Connection | Session, ids: Iterable[int], today: date
) -> dict[int, InvoiceRow]:
    """The rows of these invoices by id (ids that no longer exist are simply absent)."""
    wanted = list(dict.fromkeys(ids))
    rows: dict[int, InvoiceRow] = {}
    base = _row_select(today)
    for start in range(0, len(wanted), _IN_CHUNK):
        chunk = wanted[start : start + _IN_CHUNK]
        for values in connection.execute(base.where(Invoice.id.in_(chunk))):
            row = _to_row(tuple(values), today)
            rows[row.id] = row
    return _name_held_back_organizations(connection, rows)


def _name_held_back_organizations(connection: Connection | Session,
                                  rows: dict[int, InvoiceRow]) -> dict[int, InvoiceRow]:
    """Invoices of an organization PayDesk holds back (quarantined for a flaw of its own)
    are listed; they carry the name Autotask sent, and say the organization is held back."""
    missing = {r.organization_id for r in rows.values()
               if r.organization_name == f"Organization {r.organization_id}"}
    if not missing:
        return rows
    names: dict[int, str] = {}
    for record_id, payload in connection.execute(
        select(QuarantinedRecord.record_id, QuarantinedRecord.payload).where(
            QuarantinedRecord.entity == "Companies",
            QuarantinedRecord.record_id.in_(sorted(missing)[:_IN_CHUNK]))
    ):
        name = payload.get("companyName") if isinstance(payload, dict) else None
        text = name.strip()[:200] if isinstance(name, str) and name.strip() else \
            f"Organization {record_id}"
        names[int(record_id)] = f"{text} (held back — see Sync)"
    if not names:
        return rows
    return {i: replace(r, organization_name=names[r.organization_id])
            if r.organization_id in names else r for i, r in rows.items()}


# --------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------


def invoice_export_cell(row: InvoiceRow, column: InvoiceColumn, currency: str) -> str:
    """One CSV (or clipboard) cell: amounts as plain numbers (``1234.50``) and dates as ISO,
    so spreadsheets add them up and sort them."""
    match column:
        case InvoiceColumn.NUMBER:
            return row.invoice_number
        case InvoiceColumn.QB_NUMBER:
            return row.qb_doc_number or ""
        case InvoiceColumn.ORGANIZATION:
            return row.organization_name
        case InvoiceColumn.INVOICE_DATE:
            return row.invoice_date.isoformat() if row.invoice_date else ""
        case InvoiceColumn.DUE_DATE:
            return row.due_date.isoformat() if row.due_date else ""
        case InvoiceColumn.DAYS_OVERDUE:
            return str(row.days_overdue) if row.days_overdue is not None else ""
        case InvoiceColumn.TOTAL:
            return Money(row.total_minor, currency).plain()
        case InvoiceColumn.PAID:
            return Money(row.amount_paid_minor, currency).plain()
        case InvoiceColumn.BALANCE:
            return Money(row.balance_minor, currency).plain()
        case InvoiceColumn.STATUS:
            return row.status.label
        case InvoiceColumn.TERMS:
            return row.payment_terms or ""
        case InvoiceColumn.LAST_PAYMENT:
            return row.last_payment_date.isoformat() if row.last_payment_date else ""


def export_invoices_csv(
    engine: Engine,
    ids: Sequence[int],
    columns: Sequence[InvoiceColumn],
    currency: str,
    destination: Path | TextIO,
    *,
    today: date,
    on_progress: Callable[[ExportProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> int:
    """Invoice History's export: these invoices, in this order, with these columns (as the
    person arranged them); ``today`` decides which are overdue. Runs in a worker; returns
    the number of invoices written."""
    day = today

    def fetch(chunk: Sequence[int]) -> dict[int, InvoiceRow]:
        with engine.connect() as connection:
            return invoice_rows(connection, chunk, day)

    return write_csv(
        destination,
        [column.heading for column in columns],
        ids,
        fetch,
        lambda row: [invoice_export_cell(row, column, currency) for column in columns],
        encoding="utf-8-sig",
        on_progress=on_progress,
        cancel=cancel,
    )


# --------------------------------------------------------------------------------------------
# One invoice
# --------------------------------------------------------------------------------------------

_POSTING_LABELS = {
    "delivered": "Posted",
    "pending": "Waiting to post",
    "delivering": "Posting…",
    "failed": "Posting failed",
    "dismissed": "Posting dismissed",
}


def posting_status_label(states: Iterable[str]) -> str:
    """One phrase for a payment's postings to Autotask and QuickBooks, worst first."""
    found = set(states)
    if not found:
        return "Not posted"
    for state in ("failed", "delivering", "pending", "dismissed"):
        if state in found:
            return _POSTING_LABELS[state]
    return _POSTING_LABELS["delivered"]


def invoice_detail(session: Session, invoice_id: int, today: date) -> InvoiceDetail | None:
    """The invoice, its lines in billing order and what PayDesk's ledger applied to it."""
    values = session.execute(_row_select(today).where(Invoice.id == invoice_id)).first()
    if values is None:
        return None
    row = _to_row(tuple(values), today)
    row = _name_held_back_organizations(session, {row.id: row})[row.id]
    invoice = session.get(Invoice, invoice_id)
    assert invoice is not None
    lines = tuple(
        InvoiceLineRow(
            id=line.id,
            item_date=line.item_date.date() if line.item_date else None,
            description=line.description or "",
            quantity=line.quantity,
            rate=line.rate,
            amount=line_amount(line.extended_price_e4),
            tax=line_amount(line.tax_e4),
            total=line_amount(line.total_e4),
        )
        for line in session.scalars(
            select(InvoiceLine)
            .where(InvoiceLine.invoice_id == invoice_id)
            .order_by(InvoiceLine.item_date, InvoiceLine.id)
        )
    )
    return InvoiceDetail(
        row=row,
        from_date=invoice.from_date,
        to_date=invoice.to_date,
        tax_minor=invoice.tax_minor,
        is_voided=invoice.is_voided,
        paid_date=invoice.paid_date,
        comments=invoice.comments,
        tax_region=invoice.tax_region_name,
        lines=lines,
        payments=_applied_payments(session, invoice_id),
        currency_exponent=_internal_exponent(session),
    )


def _internal_exponent(session: Session) -> int:
    code = session.scalar(select(InternalCurrency.code).where(InternalCurrency.id == 1))
    return currency_exponent(code) if code else 2


def _posting_states(session: Session, payment_ids: list[int]) -> dict[int, list[str]]:
    states: dict[int, list[str]] = {}
    if not payment_ids:
        return states
    for payment_id, state in session.execute(
        select(Posting.payment_id, Posting.state).where(
            Posting.payment_id.in_(payment_ids), Posting.refund_id.is_(None)
        )
    ):
        if payment_id is not None:
            states.setdefault(payment_id, []).append(state)
    return states


def _applied_payments(session: Session, invoice_id: int) -> tuple[AppliedPayment, ...]:
    payments = session.execute(
        select(
            Payment.id,
            Payment.created_at,
            PaymentAllocation.amount_minor,
            Payment.currency,
            Payment.method_summary,
            Payment.method_type,
            Payment.reference,
            Payment.state,
        )
        .join(PaymentAllocation, PaymentAllocation.payment_id == Payment.id)
        .where(PaymentAllocation.invoice_id == invoice_id)
    ).all()
    refunds = session.execute(
        select(
            Refund.id,
            Refund.payment_id,
            Refund.created_at,
            RefundAllocation.amount_minor,
            Payment.currency,
            Payment.method_summary,
            Payment.method_type,
            Refund.reference,
            Refund.state,
        )
        .join(RefundAllocation, RefundAllocation.refund_id == Refund.id)
        .join(Payment, Payment.id == Refund.payment_id)
        .where(RefundAllocation.invoice_id == invoice_id)
    ).all()
    posting = _posting_states(session, [p[0] for p in payments])
    refund_posting: dict[int, list[str]] = {}
    if refunds:
        for refund_id, state in session.execute(
            select(Posting.refund_id, Posting.state).where(
                Posting.refund_id.in_([r[0] for r in refunds])
            )
        ):
            if refund_id is not None:
                refund_posting.setdefault(refund_id, []).append(state)
    entries = [
        AppliedPayment(
            payment_id=pid,
            kind="payment",
            at=created,
            amount_minor=amount,
            currency=currency,
            method=summary or _method_words(method_type),
            reference=reference,
            state=_payment_state_label(state),
            posting_status=posting_status_label(posting.get(pid, ())),
        )
        for pid, created, amount, currency, summary, method_type, reference, state in payments
    ]
    entries.extend(
        AppliedPayment(
            payment_id=payment_id,
            kind="refund",
            at=created,
            amount_minor=-amount,
            currency=currency,
            method=summary or _method_words(method_type),
            reference=reference,
            state=_refund_state_label(state),
            posting_status=posting_status_label(refund_posting.get(rid, ())),
        )
        for (
            rid, payment_id, created, amount, currency, summary, method_type, reference, state
        ) in refunds
    )
    entries.sort(key=lambda entry: (entry.at, entry.kind), reverse=True)
    return tuple(entries)


def _method_words(method_type: str | None) -> str:
    return {"card": "Card", "us_bank_account": "Bank account (ACH)"}.get(
        method_type or "", method_type or "—"
    )


_PAYMENT_STATE_LABELS = {
    "succeeded": "Succeeded",
    "processing": "Processing",
    "partially_refunded": "Partly refunded",
    "refunded": "Refunded",
    "failed": "Failed",
    "canceled": "Cancelled",
    "cancelled": "Cancelled",
    "created": "Not sent",
    "submitting": "Sending…",
    "requires_action": "Waiting for the customer",
    "unknown": "Outcome unknown",
}


def _payment_state_label(state: str) -> str:
    """The words every payment screen uses for this state ("Approved", not "Succeeded")."""
    from app.core.payments.states import PaymentState

    try:
        return PaymentState(state).label
    except ValueError:
        return _PAYMENT_STATE_LABELS.get(state, state.replace("_", " ").capitalize())


def _refund_state_label(state: str) -> str:
    return {"succeeded": "Refunded", "pending": "Refund pending", "failed": "Refund failed"}.get(
        state, state.replace("_", " ").capitalize()
    )
