"""Read-only views of the payment ledger for the GUI: Transactions, Payment Search and a
payment's detail. Everything returned is a frozen dataclass; nothing holds a session.

Big lists follow "ids from SQL, rows on demand": ``*_ids`` runs one indexed query that
returns the ordered, filtered ids; ``*_rows`` fetches the rows for a page of those ids, in
the order given. Both are quick at 100,000 payments.

Threads: every function opens its own short session; call from a worker thread (or the GUI
thread for a page of rows, which takes milliseconds).
"""

from __future__ import annotations

import enum
import functools
import threading
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Engine,
    Executable,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    column,
    exists,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    table,
    union_all,
)
from sqlalchemy.orm import aliased

from app.core.money import Money
from app.core.payments.audit import RECOVERED_ACTION
from app.core.payments.states import PaymentState, RefundState
from app.core.posting.channels import get_channel, target_label
from app.core.posting.outbox import PostingState
from app.core.queries.export import ExportProgress, write_csv
from app.core.queries.scans import values_missing_from
from app.core.search_text import LIKE_ESCAPE, clean_search, contains_pattern
from app.core.storage.engine import read_connection, session_scope
from app.core.storage.models import (
    AuditEntry,
    Contact,
    Invoice,
    Organization,
    Payment,
    PaymentAllocation,
    Posting,
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
    "SALE_TAKEN_STATES",
    "AllocationView",
    "HistoryEntry",
    "PaymentDetail",
    "PaymentSearchCriteria",
    "PaymentSearchRow",
    "PaymentSearchTotals",
    "PostingStatus",
    "PostingView",
    "RefundView",
    "SearchKey",
    "SearchSort",
    "SearchType",
    "TransactionFilter",
    "TransactionRow",
    "TransactionSort",
    "export_payment_search_csv",
    "is_refund_key",
    "payment_detail",
    "payment_search_first_page",
    "payment_search_ids",
    "payment_search_rows",
    "payment_search_totals",
    "posting_status_of",
    "refund_key",
    "sale_key",
    "transaction_ids",
    "transaction_rows",
]


class PostingStatus(enum.StrEnum):
    """A payment's posting status, summarised over its postings to every channel."""

    NONE = "none"  # nothing to post (declined, processing, …)
    PENDING = "pending"
    POSTED = "posted"
    FAILING = "failing"
    DISMISSED = "dismissed"

    @property
    def label(self) -> str:
        return {
            PostingStatus.NONE: "—",
            PostingStatus.PENDING: "Waiting to post",
            PostingStatus.POSTED: "Posted",
            PostingStatus.FAILING: "Failing to post",
            PostingStatus.DISMISSED: "Dismissed",
        }[self]


def _channel_label(name: str) -> str:
    channel = get_channel(name)
    return channel.label if channel is not None else name


def posting_status_of(states: Sequence[str], errors: Sequence[str | None] = ()) -> PostingStatus:
    """Summarise postings' states: any failing (or retrying after an error) → failing."""
    if not states:
        return PostingStatus.NONE
    if PostingState.FAILED in states or any(
        s == PostingState.PENDING and e for s, e in zip(states, errors, strict=False)
    ):
        return PostingStatus.FAILING
    if (PostingState.PENDING in states or PostingState.DELIVERING in states
            or PostingState.WAITING in states):
        return PostingStatus.PENDING
    if PostingState.DISMISSED in states:
        return PostingStatus.DISMISSED  # someone chose not to post part of it
    return PostingStatus.POSTED


# --------------------------------------------------------------------------------------------
# Transactions
# --------------------------------------------------------------------------------------------


class TransactionFilter(enum.StrEnum):
    ALL = "all"
    FAILING_TO_POST = "failing"
    PENDING = "pending"  # outcome not known yet, a pay link, or a bank debit processing

    @property
    def label(self) -> str:
        return {"all": "All", "failing": "Failing to post", "pending": "Pending"}[self.value]


class TransactionSort(enum.StrEnum):
    DATE = "date"
    REFERENCE = "reference"
    ORGANIZATION = "organization"
    AMOUNT = "amount"
    TOTAL = "total"
    STATUS = "status"


@dataclass(frozen=True, slots=True)
class TransactionRow:
    payment_id: int
    date: datetime
    reference: str
    organization_id: int
    organization_name: str
    invoice_numbers: tuple[str, ...]
    method_summary: str | None
    amount: Money
    surcharge: Money
    total: Money
    refunded: Money
    state: PaymentState
    gateway_transaction_id: str | None
    posting_status: PostingStatus
    posting_error: str | None
    test_mode: bool
    #: When PayDesk's recovery finished this payment after an interruption, and why it
    #: ended as it did (None: it finished normally).
    recovered_at: datetime | None = None
    recovery_why: str | None = None

    @property
    def status_label(self) -> str:
        return self.state.label

    @property
    def invoices_text(self) -> str:
        return ", ".join(self.invoice_numbers)


def _failing_condition() -> ColumnElement[bool]:
    return exists(
        select(Posting.id).where(
            Posting.payment_id == Payment.id,
            or_(
                Posting.state == PostingState.FAILED,
                and_(Posting.state == PostingState.PENDING, Posting.last_error.is_not(None)),
            ),
        )
    )


def _fetch_all(connection: Connection, query: Select[Any]) -> list[tuple[Any, ...]]:
    """Every row of ``query`` straight from the DBAPI cursor (plain tuples of ints and
    strings: ids and keys need no type processing, and skipping SQLAlchemy's result rows
    halves the time of a 100,000-row id list)."""
    return list(connection.execute(query).cursor.fetchall())


def transaction_ids(
    engine: Engine,
    *,
    organization_id: int | None = None,
    filter: TransactionFilter = TransactionFilter.ALL,
    sort: TransactionSort = TransactionSort.DATE,
    descending: bool = True,
    text: str | None = None,
    limit: int | None = None,
) -> array[int]:
    """Payment ids for the Transactions view (one organization's, or everyone's), as an
    ``array("q")``: a million of them take 8 MB. ``limit``: only the first ones."""
    query: Select[Any] = select(Payment.id)
    if organization_id is not None:
        query = query.where(Payment.organization_id == organization_id)
    if filter is TransactionFilter.FAILING_TO_POST:
        query = query.where(_failing_condition())
    elif filter is TransactionFilter.PENDING:
        query = query.where(
            Payment.state.in_(("created", "submitted", "unknown", "awaiting_client",
                               "processing"))
        )
    column: Any = {
        TransactionSort.DATE: Payment.created_at,
        TransactionSort.REFERENCE: Payment.reference,
        TransactionSort.AMOUNT: Payment.amount_minor,
        TransactionSort.TOTAL: Payment.total_minor,
        TransactionSort.STATUS: Payment.state,
        TransactionSort.ORGANIZATION: None,
    }[sort]
    with read_connection(engine) as connection:
        if text and clean_search(text):
            query = query.where(_payment_text_condition(text, capabilities(connection)))
        if sort is TransactionSort.ORGANIZATION:
            return _ids_by_organization(connection, query, descending, limit)
        order = column.desc() if descending else column.asc()
        tie = Payment.id.desc() if descending else Payment.id.asc()
        query = query.order_by(order, tie)
        if limit is not None:
            query = query.limit(limit)
        return _fetch_keys(connection, query)


def _ids_by_organization(
    connection: Connection, query: Select[Any], descending: bool, limit: int | None
) -> array[int]:
    """``query``'s payments by organization name (language-aware, then organization id,
    then payment id); payments whose organization is not known (yet) sort as an empty
    name. Two segments, each walking indexes — organizations by name
    (``ix_organizations_name_sort``), each one's payments by ``ix_payments_organization_id``
    — so a first page is read without sorting a million payments (3 ms instead of 170-270
    at a million)."""
    keys: list[Any] = [sorted_by_name(connection, Organization.name), Organization.id,
                       Payment.id]
    named = query.join(Organization, Organization.id == Payment.organization_id).order_by(
        *(key.desc() for key in keys) if descending else keys)
    unknown = _unknown_organization_ids(connection)
    orphans = query.where(
        or_(Payment.organization_id.is_(None), Payment.organization_id.in_(unknown))
        if unknown else Payment.organization_id.is_(None)
    ).order_by(Payment.id.desc() if descending else Payment.id.asc())
    found: array[int] = array("q")
    for segment in (named, orphans) if descending else (orphans, named):
        wanted = None if limit is None else limit - len(found)
        if wanted is not None and wanted <= 0:
            break
        found.extend(_fetch_keys(connection, segment if wanted is None else segment.limit(wanted)))
    return found


def _unknown_organization_ids(connection: Connection) -> list[int]:
    """The organization ids payments carry that are not among the organizations (not
    synced yet), by a loose index scan of ``ix_payments_organization_id``, not a test of
    every payment."""
    unknown = values_missing_from(Payment.organization_id, Organization.id,
                                  "payment_organizations")
    return [int(found) for found in connection.execute(unknown).scalars()]


#: Separates the values a row's list is joined with, and a posting's state from its error
#: (control characters: never in an invoice number, a state or an error message).
_ITEM, _PART = "\x1f", "\x1e"


def _joined(connection: Connection, value: Any, order: Any, where: Any) -> Any:
    """The values of ``value`` where ``where`` holds, in ``order``, as one string separated by
    ``_ITEM`` (NULL when there are none): a row's list read in the row's own query."""
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import aggregate_order_by

        return (select(func.string_agg(value, aggregate_order_by(literal(_ITEM), order)))
                .where(where).scalar_subquery())
    # SQLite joins the rows in the order its subquery gives them.
    ordered = (select(value.label("value")).where(where).order_by(order)
               .correlate(Payment).subquery())
    return select(func.group_concat(ordered.c.value, _ITEM)).scalar_subquery()


def transaction_rows(engine: Engine, payment_ids: Sequence[int]) -> list[TransactionRow]:
    """Rows for these payment ids, in the order given (missing ids are left out). One
    statement: a page of Transactions is one round trip, however far the database is."""
    ids = list(dict.fromkeys(payment_ids))
    if not ids:
        return []
    with read_connection(engine) as connection:
        numbers = _allocation_numbers(connection)
        postings = _joined(
            connection,
            Posting.state + literal(_PART) + func.coalesce(Posting.last_error, ""),
            Posting.id,
            Posting.payment_id == Payment.id,
        )
        # The last note of PayDesk's recovery finishing this payment, if any.
        entry = aliased(AuditEntry, name="recovery_entry")
        recovery = (
            select(entry.id)
            .where(entry.action == RECOVERED_ACTION, entry.subject_type == "payment",
                   entry.subject_id == cast(Payment.id, String))
            .order_by(entry.id.desc())
            .limit(1)
            .correlate(Payment)
            .scalar_subquery()
        )
        query = (
            select(
                Payment.id, Payment.created_at, Payment.reference, Payment.organization_id,
                Organization.name.label("organization_name"), Payment.method_summary,
                Payment.currency, Payment.amount_minor, Payment.surcharge_minor,
                Payment.total_minor, Payment.refunded_minor, Payment.state,
                Payment.gateway_transaction_id, Payment.test_mode,
                numbers.label("numbers"), postings.label("postings"),
                AuditEntry.at.label("recovered_at"), AuditEntry.details.label("recovery"),
            )
            .outerjoin(Organization, Organization.id == Payment.organization_id)
            .outerjoin(AuditEntry, AuditEntry.id == recovery)
            .where(Payment.id.in_(ids))
        )
        found = {r.id: r for r in connection.execute(query)}
    rows = []
    for pid in ids:
        p = found.get(pid)
        if p is None:
            continue
        c = p.currency
        plist = [tuple(item.split(_PART, 1)) for item in (p.postings or "").split(_ITEM)
                 if item] if p.postings else []
        states = [item[0] for item in plist]
        errors = [item[1] if len(item) > 1 and item[1] else None for item in plist]
        status = posting_status_of(states, errors)
        error = next((e for s, e in zip(states, errors, strict=True)
                      if e and s != PostingState.DELIVERED), None)
        details = p.recovery
        why = details.get("why") if isinstance(details, dict) else None
        rows.append(
            TransactionRow(
                payment_id=pid,
                date=p.created_at,
                reference=p.reference,
                organization_id=p.organization_id,
                organization_name=p.organization_name or f"Organization {p.organization_id}",
                invoice_numbers=tuple(p.numbers.split(_ITEM)) if p.numbers else (),
                method_summary=p.method_summary,
                amount=Money(p.amount_minor, c),
                surcharge=Money(p.surcharge_minor, c),
                total=Money(p.total_minor, c),
                refunded=Money(p.refunded_minor, c),
                state=PaymentState(p.state),
                gateway_transaction_id=p.gateway_transaction_id,
                posting_status=status,
                posting_error=error,
                test_mode=bool(p.test_mode),
                recovered_at=p.recovered_at,
                recovery_why=str(why) if why else None,
            )
        )
    return rows


def _allocation_numbers(connection: Connection) -> Any:
    """A payment's invoice numbers, in the order of its allocations (an invoice not synced
    shows its id)."""
    number = func.coalesce(Invoice.invoice_number, cast(PaymentAllocation.invoice_id, String))
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import aggregate_order_by

        return (
            select(func.string_agg(number, aggregate_order_by(literal(_ITEM),
                                                              PaymentAllocation.id)))
            .select_from(PaymentAllocation)
            .outerjoin(Invoice, Invoice.id == PaymentAllocation.invoice_id)
            .where(PaymentAllocation.payment_id == Payment.id)
            .scalar_subquery()
        )
    ordered = (
        select(number.label("value"))
        .select_from(PaymentAllocation)
        .outerjoin(Invoice, Invoice.id == PaymentAllocation.invoice_id)
        .where(PaymentAllocation.payment_id == Payment.id)
        .order_by(PaymentAllocation.id)
        .correlate(Payment)
        .subquery()
    )
    return select(func.group_concat(ordered.c.value, _ITEM)).scalar_subquery()


# --------------------------------------------------------------------------------------------
# Payment Search
# --------------------------------------------------------------------------------------------


class SearchType(enum.StrEnum):
    SALE = "sale"
    REFUND = "refund"

    @property
    def label(self) -> str:
        return "Sale" if self is SearchType.SALE else "Refund"


class SearchSort(enum.StrEnum):
    DATE = "date"
    TYPE = "type"
    AMOUNT = "amount"
    TRANSACTION_ID = "transaction_id"


@dataclass(frozen=True, slots=True)
class PaymentSearchCriteria:
    """Payment Search's filters; ``None`` means "any". Dates are inclusive, in UTC."""

    date_from: date | None = None
    date_to: date | None = None
    organization_id: int | None = None
    invoice_number: str | None = None
    transaction_id: str | None = None
    type: SearchType | None = None
    status: str | None = None  # a PaymentState / RefundState value


#: Sales whose money the gateway took (see :class:`PaymentSearchRow`): these have a Sale Amount.
SALE_TAKEN_STATES: tuple[str, ...] = (
    PaymentState.SUCCEEDED.value,
    PaymentState.PROCESSING.value,
    PaymentState.PARTIALLY_REFUNDED.value,
    PaymentState.REFUNDED.value,
    PaymentState.VOIDED.value,
)

#: One row of Payment Search as one integer: a sale is its payment's id, a refund minus its
#: refund's id (ids are positive). A million rows' keys then fit in an ``array("q")`` of
#: 8 MB, where ``("sale", id)`` tuples took about 100 MB.
SearchKey = int


def sale_key(payment_id: int) -> SearchKey:
    return payment_id


def refund_key(refund_id: int) -> SearchKey:
    return -refund_id


def is_refund_key(key: SearchKey) -> bool:
    return key < 0


@dataclass(frozen=True, slots=True)
class PaymentSearchRow:
    """One row of Payment Search, mirroring Autotask's own page.

    Sale rows: Sale Amount is what was charged (surcharge included), Payment Amount what was
    meant for invoices, Applied what went to invoices that are not void, Unapplied the rest,
    Refund Amount what has been refunded of it. Refund rows carry the refund in Refund Amount.

    Only money the gateway took is a sale amount (:data:`SALE_TAKEN_STATES`). An attempt that
    took nothing — declined, failed, expired, returned by the bank, or not finished yet — has
    a Sale Amount of zero, so the column adds up to money actually received and a declined
    row cannot be read as money in the bank; its Payment Amount still says what was
    attempted, and Applied and Unapplied are zero. (Refund rows have no Sale Amount: None.)
    A voided bank debit keeps its Sale Amount because its void appears as a Refund row that
    offsets it. Sorting by amount sorts such attempts as zero, as shown.
    """

    key: SearchKey
    type: SearchType
    payment_id: int
    reference: str
    date: datetime
    organization_name: str
    sale_amount: Money | None
    payment_amount: Money | None
    applied_amount: Money | None
    unapplied_amount: Money | None
    refund_amount: Money | None
    transaction_id: str | None
    contact: str | None
    method: str | None
    status: str
    status_label: str
    #: Taken with the gateway's test keys: no real money moved (marked as in Transactions).
    test_mode: bool

    def as_csv(self) -> list[str]:
        def m(value: Money | None) -> str:
            return value.plain() if value is not None else ""

        return [
            self.type.label, self.reference, self.date.strftime("%Y-%m-%d %H:%M"),
            self.organization_name, m(self.sale_amount), m(self.payment_amount),
            m(self.applied_amount), m(self.unapplied_amount), m(self.refund_amount),
            self.transaction_id or "", self.contact or "", self.method or "",
            self.status_label, "Yes" if self.test_mode else "",
        ]


CSV_HEADER = [
    "Type", "Reference", "Date", "Organization", "Sale Amount", "Payment Amount",
    "Applied Amount", "Unapplied Amount", "Refund Amount", "Transaction ID", "Contact",
    "Method", "Status", "Test Mode",
]


def _paying(invoice_number: str) -> Any:
    """Ids of payments with money on this invoice number (from the invoice-number index,
    not a scan of every payment)."""
    query: Any = (
        select(PaymentAllocation.payment_id)
        .join(Invoice, Invoice.id == PaymentAllocation.invoice_id)
        .where(Invoice.invoice_number == clean_search(invoice_number))
    )
    return query


_PAYMENTS_FTS = table("payments_fts", column("rowid"), column("payments_fts"))
_REFUNDS_FTS = table("refunds_fts", column("rowid"), column("refunds_fts"))


def _payment_text_condition(text: str, caps: SearchCapabilities) -> ColumnElement[bool]:
    """The payment's reference, gateway transaction id or gateway payment id contains
    ``text`` (any case).

    A substring can start anywhere, so a B-tree cannot seek to it. Terms of three characters
    or more are answered by the trigram index of ``app.core.storage.search``: SQLite's
    ``payments_fts``, PostgreSQL's ``ix_payments_search_trgm`` (which serves the ``ILIKE``
    below). Shorter terms match much of the history anyway and are scanned.
    """
    phrase = trigram_phrase(clean_search(text))
    if phrase is not None and caps.sqlite_payments_fts:
        return Payment.id.in_(
            select(_PAYMENTS_FTS.c.rowid).where(_PAYMENTS_FTS.c.payments_fts.op("MATCH")(phrase))
        )
    like = contains_pattern(text)
    return or_(Payment.gateway_transaction_id.ilike(like, escape=LIKE_ESCAPE),
               Payment.reference.ilike(like, escape=LIKE_ESCAPE),
               Payment.gateway_payment_id.ilike(like, escape=LIKE_ESCAPE))


def _refund_text_condition(text: str, caps: SearchCapabilities) -> ColumnElement[bool]:
    """The refund's reference or gateway refund id contains ``text``, or its payment's
    reference or gateway ids do (as ``_payment_text_condition``, from the same indexes:
    one branch each, so that neither is a scan of every refund)."""
    phrase = trigram_phrase(clean_search(text))
    own = aliased(Refund, name="refund_by_text")
    of_payment = aliased(Refund, name="refund_by_payment")
    matching_payments = select(Payment.id).where(_payment_text_condition(text, caps))
    by_payment = select(of_payment.id).where(of_payment.payment_id.in_(matching_payments))
    if phrase is not None and caps.sqlite_payments_fts:
        by_own = select(_REFUNDS_FTS.c.rowid).where(
            _REFUNDS_FTS.c.refunds_fts.op("MATCH")(phrase))
    else:
        like = contains_pattern(text)
        by_own = select(own.id).where(or_(own.gateway_refund_id.ilike(like, escape=LIKE_ESCAPE),
                                          own.reference.ilike(like, escape=LIKE_ESCAPE)))
    return Refund.id.in_(union_all(by_own, by_payment))


def _sale_query(criteria: PaymentSearchCriteria, caps: SearchCapabilities) -> Select[Any]:
    query: Any = select(
        literal("sale").label("kind"),
        Payment.id.label("id"),
        Payment.id.label("key"),
        Payment.created_at.label("at"),
        Payment.sale_amount_minor.label("amount"),
        # '' written into the statement, not bound: only then is the expression the one
        # ``ix_payments_transaction_sort`` holds (SQLite matches expressions literally).
        func.coalesce(Payment.gateway_transaction_id, literal_column("''")).label("txn"),
    ).where(Payment.state.not_in(("created",)))
    if criteria.organization_id is not None:
        query = query.where(Payment.organization_id == criteria.organization_id)
    if criteria.status:
        query = query.where(Payment.state == criteria.status)
    if criteria.transaction_id and clean_search(criteria.transaction_id):
        query = query.where(_payment_text_condition(criteria.transaction_id, caps))
    if criteria.invoice_number:
        query = query.where(Payment.id.in_(_paying(criteria.invoice_number)))
    return _dates(query, Payment.created_at, criteria)


def _refund_query(criteria: PaymentSearchCriteria, caps: SearchCapabilities) -> Select[Any]:
    query: Any = (
        select(
            literal("refund").label("kind"),
            Refund.id.label("id"),
            (-Refund.id).label("key"),
            Refund.created_at.label("at"),
            Refund.amount_minor.label("amount"),
            func.coalesce(Refund.gateway_refund_id, "").label("txn"),
        )
    )
    if criteria.organization_id is not None:
        # Only then joined to its payment: a join of every refund to a million payments
        # made the first page of an unfiltered sort read every payment on PostgreSQL.
        query = query.join(Payment, Payment.id == Refund.payment_id).where(
            Payment.organization_id == criteria.organization_id)
    if criteria.status:
        query = query.where(Refund.state == criteria.status)
    if criteria.transaction_id and clean_search(criteria.transaction_id):
        query = query.where(_refund_text_condition(criteria.transaction_id, caps))
    if criteria.invoice_number:
        query = query.where(Refund.payment_id.in_(_paying(criteria.invoice_number)))
    return _dates(query, Refund.created_at, criteria)


def _dates(query: Select[Any], column: Any, criteria: PaymentSearchCriteria) -> Select[Any]:
    from datetime import UTC

    if criteria.date_from is not None:
        query = query.where(column >= datetime.combine(criteria.date_from, time.min, UTC))
    if criteria.date_to is not None:
        end = datetime.combine(criteria.date_to + timedelta(days=1), time.min, UTC)
        query = query.where(column < end)
    return query


#: Refunds whose money went back to the client (they count in the refunds total).
REFUND_GIVEN_STATES: tuple[str, ...] = (RefundState.PENDING.value, RefundState.SUCCEEDED.value)


@dataclass(frozen=True, slots=True)
class PaymentSearchTotals:
    """What the rows Payment Search lists add up to (minor units, internal currency)."""

    sales: int
    refunds: int
    #: Money the gateway took (the Sale Amount column's sum).
    sale_minor: int
    #: Money given back (refunds pending or done).
    refund_minor: int

    @property
    def net_minor(self) -> int:
        return self.sale_minor - self.refund_minor


def payment_search_totals(engine: Engine, criteria: PaymentSearchCriteria) -> PaymentSearchTotals:
    """Counts and money totals of every row matching ``criteria``, added up in the database
    with the same filters as ``payment_search_ids``. Runs in a worker."""
    sales = refunds = sale_minor = refund_minor = 0
    with read_connection(engine) as connection:
        caps = capabilities(connection)
        parts: list[Select[Any]] = []
        if criteria.type in (None, SearchType.SALE):
            sold = _sale_query(criteria, caps).subquery()
            parts.append(select(literal("sale").label("kind"), func.count().label("count"),
                                func.coalesce(func.sum(sold.c.amount), 0).label("total")))
        if criteria.type in (None, SearchType.REFUND):
            given = _refund_query(criteria, caps).add_columns(
                Refund.state.label("state")).subquery()
            amount = case((given.c.state.in_(REFUND_GIVEN_STATES), given.c.amount), else_=0)
            parts.append(select(literal("refund").label("kind"), func.count().label("count"),
                                func.coalesce(func.sum(amount), 0).label("total")))
        # One statement (one round trip) for both.
        for kind, count, total in connection.execute(
            union_all(*parts) if len(parts) > 1 else parts[0]
        ):
            if kind == "sale":
                sales, sale_minor = int(count or 0), int(total or 0)
            else:
                refunds, refund_minor = int(count or 0), int(total or 0)
    return PaymentSearchTotals(sales, refunds, sale_minor, refund_minor)


def payment_search_ids(
    engine: Engine,
    criteria: PaymentSearchCriteria,
    *,
    sort: SearchSort = SearchSort.DATE,
    descending: bool = True,
    limit: int | None = None,
) -> array[int]:
    """The ordered keys of every row matching ``criteria`` (sales and refunds together), or
    of the first ``limit`` of them. Rows that tie on the sort order come in the order of
    their ids (the direction of the sort)."""
    with read_connection(engine) as connection:
        query = _search_ids_query(criteria, capabilities(connection), sort, descending, limit)
        if limit is None and connection.dialect.name == "postgresql":
            # PostgreSQL sorts a whole UNION ALL anyway (no merge of the parts' indexes):
            # sending back only the keys keeps the driver's copy of a million rows small.
            rows = query.order_by(None).subquery("listing")  # type: ignore[attr-defined]
            query = select(rows.c.key).order_by(*_ordering(rows.c, descending))
        return _fetch_keys(connection, query)


def _ordering(columns: Any, descending: bool) -> list[Any]:
    """Payment Search's order: the sort column, then the row's id, then its key."""
    return [
        columns.sort_value.desc() if descending else columns.sort_value.asc(),
        columns.row_id.desc() if descending else columns.row_id.asc(),
        columns.key.desc() if descending else columns.key.asc(),
    ]


def _search_ids_query(criteria: PaymentSearchCriteria, caps: SearchCapabilities,
                      sort: SearchSort, descending: bool, limit: int | None) -> Executable:
    parts: list[Select[Any]] = []
    if criteria.type in (None, SearchType.SALE):
        parts.append(_sale_query(criteria, caps))
    if criteria.type in (None, SearchType.REFUND):
        parts.append(_refund_query(criteria, caps))
    # Each part narrowed to its key and what it is sorted by, and the parts merged by an
    # ORDER BY on the compound itself: the database walks the sales in that order from an
    # index that also holds the state (``ix_payments_created_at``,
    # ``ix_payments_sale_amount``; by type, the primary key: every sale has the same type),
    # so the wide payment rows are not read, sorts the few refunds, and merges the two,
    # instead of sorting a million rows. With ``limit`` it stops after that many rows.
    name = {
        SearchSort.DATE: "at",
        SearchSort.AMOUNT: "amount",
        SearchSort.TYPE: "kind",
        SearchSort.TRANSACTION_ID: "txn",
    }[sort]
    narrowed = [
        part.with_only_columns(
            part.selected_columns.key,
            part.selected_columns[name].label("sort_value"),
            part.selected_columns.id.label("row_id"),
        )
        for part in parts
    ]
    def ordered(columns: Any) -> list[Any]:
        return _ordering(columns, descending)

    if limit is not None and len(narrowed) > 1:
        # The first rows only: the first ``limit`` of each part (each read from its index,
        # or the few refunds sorted), then those merged. PostgreSQL plans an ORDER BY over
        # a UNION ALL as a sort of every row, never as a merge of the parts' indexes.
        firsts = []
        for part in narrowed:
            # By type, every row of a part has the same type: its ids give the order.
            order = ordered(part.selected_columns)[1 if sort is SearchSort.TYPE else 0:]
            first = part.order_by(*order).limit(limit).subquery()
            firsts.append(select(first.c.key, first.c.sort_value, first.c.row_id))
        both = union_all(*firsts).subquery("first_rows")
        return (select(both.c.key, both.c.sort_value, both.c.row_id)
                .order_by(*ordered(both.c)).limit(limit))
    merged: Any = union_all(*narrowed) if len(narrowed) > 1 else narrowed[0]
    query: Any = merged.order_by(*ordered(merged.selected_columns))
    if limit is not None:
        query = query.limit(limit)
    return query  # type: ignore[no-any-return]


#: Rows taken from the cursor at a time while filling a key array.
_KEY_CHUNK = 20_000


def _fetch_keys(connection: Connection, query: Executable) -> array[int]:
    """The first integer column of ``query``, straight from the DBAPI cursor into an
    ``array("q")`` a chunk at a time: never a million Python tuples at once."""
    return _keys_from(connection.execute(query).cursor)


def _keys_from(cursor: Any) -> array[int]:
    keys: array[int] = array("q")
    while chunk := cursor.fetchmany(_KEY_CHUNK):
        keys.extend([row[0] for row in chunk])
    return keys


def _page_query(sale_ids: Any, refund_ids: Any) -> Select[Any]:
    """One statement for a page of Payment Search rows: the sales and the refunds (with
    their payments), each with its organization's name and its contact, and a sale's amount
    applied to invoices that are not void. One round trip per page, however far the
    database is. The ids: lists, or selects of them; None leaves that part out."""
    applied = (
        select(func.coalesce(func.sum(PaymentAllocation.amount_minor), 0))
        .join(Invoice, Invoice.id == PaymentAllocation.invoice_id)
        .where(PaymentAllocation.payment_id == Payment.id, Invoice.is_voided.is_(False))
        .scalar_subquery()
    )

    def nothing(type_: Any) -> Any:
        return cast(null(), type_)

    sales = select(
        Payment.id.label("key"),
        Payment.id.label("payment_id"),
        Payment.reference.label("reference"),
        Payment.created_at.label("at"),
        Payment.organization_id.label("organization_id"),
        Payment.currency.label("currency"),
        Payment.state.label("state"),
        Payment.total_minor.label("total_minor"),
        Payment.amount_minor.label("amount_minor"),
        Payment.refunded_minor.label("refund_minor"),
        Payment.gateway_transaction_id.label("txn"),
        Payment.gateway_payment_id.label("txn_other"),
        nothing(String).label("kind"),
        Payment.contact_id.label("contact_id"),
        Payment.method_summary.label("method"),
        Payment.test_mode.label("test_mode"),
        applied.label("applied"),
    ).where(Payment.id.in_(sale_ids if sale_ids is not None else []))
    refunds = (
        select(
            (-Refund.id).label("key"),
            Payment.id.label("payment_id"),
            Refund.reference.label("reference"),
            Refund.created_at.label("at"),
            Payment.organization_id.label("organization_id"),
            Payment.currency.label("currency"),
            Refund.state.label("state"),
            nothing(BigInteger).label("total_minor"),
            nothing(BigInteger).label("amount_minor"),
            Refund.amount_minor.label("refund_minor"),
            Refund.gateway_refund_id.label("txn"),
            nothing(String).label("txn_other"),
            Refund.kind.label("kind"),
            Payment.contact_id.label("contact_id"),
            Payment.method_summary.label("method"),
            Payment.test_mode.label("test_mode"),
            nothing(BigInteger).label("applied"),
        )
        .join(Payment, Payment.id == Refund.payment_id)
        .where(Refund.id.in_(refund_ids if refund_ids is not None else []))
    )
    parts = ([sales] if sale_ids is not None else []) + (
        [refunds] if refund_ids is not None else [])
    rows = (union_all(*parts) if len(parts) > 1 else parts[0]).subquery("page")
    return (
        select(rows, Organization.name.label("organization_name"),
               Contact.id.label("contact_found"), Contact.first_name, Contact.last_name,
               Contact.email)
        .outerjoin(Organization, Organization.id == rows.c.organization_id)
        .outerjoin(Contact, Contact.id == rows.c.contact_id)
    )


def payment_search_rows(engine: Engine, keys: Sequence[SearchKey]) -> list[PaymentSearchRow]:
    """The rows for these keys, in the order given (one query: see ``_page_query``)."""
    sale_ids = [k for k in keys if k > 0]
    refund_ids = [-k for k in keys if k < 0]
    if not sale_ids and not refund_ids:
        return []
    # Only the columns a row shows, as plain rows rather than ORM objects: a page of 200
    # rows is read while the table scrolls.
    with read_connection(engine) as connection:
        found = {r.key: r for r in connection.execute(
            _page_by_ids(bool(sale_ids), bool(refund_ids)),
            {"sale_ids": sale_ids, "refund_ids": refund_ids})}
    return [_search_row(found[key]) for key in keys if key in found]


@functools.cache
def _page_by_ids(sales: bool, refunds: bool) -> Select[Any]:
    """``_page_query`` for lists of ids, built once with the ids as parameters. Building the
    statement anew for every page (hundreds of expression objects in reference cycles)
    left tens of thousands of objects a second for the garbage collector while the table
    scrolled, and its passes on the GUI thread (20-30 ms each) were the slowest steps."""
    return _page_query(
        bindparam("sale_ids", expanding=True) if sales else None,
        bindparam("refund_ids", expanding=True) if refunds else None,
    )


def payment_search_first_page(
    engine: Engine,
    criteria: PaymentSearchCriteria,
    *,
    sort: SearchSort = SearchSort.DATE,
    descending: bool = True,
    limit: int,
) -> tuple[array[int], dict[SearchKey, PaymentSearchRow]]:
    """The first ``limit`` keys of ``payment_search_ids`` and their rows, read in one
    statement (one round trip to a shared server for a keystroke or a sort)."""
    with read_connection(engine) as connection:
        ordered: Any = _search_ids_query(criteria, capabilities(connection), sort, descending,
                                         limit)
        first = ordered.cte("first_keys")
        page = _page_query(select(first.c.key).where(first.c.key > 0),
                           select(-first.c.key).where(first.c.key < 0)).subquery("page")
        query = (select(page, first.c.sort_value, first.c.row_id)
                 .join(first, first.c.key == page.c.key)
                 .order_by(*_ordering(first.c, descending)))
        found = list(connection.execute(query))
    keys: array[int] = array("q", [r.key for r in found])
    return keys, {r.key: _search_row(r) for r in found}


def _search_row(r: Any) -> PaymentSearchRow:
    """A row of Payment Search from a row of ``_page_query``."""
    key = int(r.key)
    c = r.currency
    organization = r.organization_name or f"Organization {r.organization_id}"
    contact = (" ".join(x for x in (r.first_name, r.last_name) if x) or (r.email or "")
               if r.contact_found is not None else None)
    if key > 0:
        state = PaymentState(r.state)
        counted = state.money_received
        applied_minor = int(r.applied or 0) if counted else 0
        return PaymentSearchRow(
            key=key,
            type=SearchType.SALE,
            payment_id=r.payment_id,
            reference=r.reference,
            date=r.at,
            organization_name=organization,
            sale_amount=Money(r.total_minor if r.state in SALE_TAKEN_STATES else 0, c),
            payment_amount=Money(r.amount_minor, c),
            applied_amount=Money(applied_minor, c),
            unapplied_amount=Money(r.amount_minor - applied_minor, c)
            if counted else Money(0, c),
            refund_amount=Money(r.refund_minor, c),
            transaction_id=r.txn or r.txn_other,
            contact=contact,
            method=r.method,
            status=r.state,
            status_label=state.label,
            test_mode=bool(r.test_mode),
        )
    return PaymentSearchRow(
        key=key,
        type=SearchType.REFUND,
        payment_id=r.payment_id,
        reference=r.reference,
        date=r.at,
        organization_name=organization,
        sale_amount=None,
        payment_amount=None,
        applied_amount=None,
        unapplied_amount=None,
        refund_amount=Money(r.refund_minor, c),
        transaction_id=r.txn,
        contact=contact,
        method=r.method,
        status=r.state,
        status_label=("Voided" if r.kind == "void" and r.state == "succeeded"
                      else RefundState(r.state).label),
        test_mode=bool(r.test_mode),
    )


def export_payment_search_csv(
    engine: Engine,
    criteria: PaymentSearchCriteria,
    destination: Path | TextIO,
    *,
    sort: SearchSort = SearchSort.DATE,
    descending: bool = True,
    page_size: int = 2000,
    on_progress: Callable[[ExportProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> int:
    """Write every matching row as CSV (amounts as plain numbers); returns the row count.
    Runs in a worker, through the one CSV path (``app.core.queries.export.write_csv``)."""
    keys = payment_search_ids(engine, criteria, sort=sort, descending=descending)

    def fetch(chunk: Sequence[SearchKey]) -> dict[SearchKey, PaymentSearchRow]:
        return {row.key: row for row in payment_search_rows(engine, chunk)}

    return write_csv(
        destination,
        CSV_HEADER,
        keys,
        fetch,
        PaymentSearchRow.as_csv,
        chunk_size=page_size,
        on_progress=on_progress,
        cancel=cancel,
    )


# --------------------------------------------------------------------------------------------
# A payment's detail
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AllocationView:
    invoice_id: int
    invoice_number: str
    amount: Money
    refunded: Money
    invoice_balance: Money
    invoice_status: str


@dataclass(frozen=True, slots=True)
class RefundView:
    refund_id: int
    reference: str
    kind: str
    amount: Money
    state: RefundState
    reason: str | None
    gateway_refund_id: str | None
    created_at: datetime
    created_by: str
    failure_message: str | None


@dataclass(frozen=True, slots=True)
class PostingView:
    posting_id: int
    target: str
    target_label: str
    #: The channel it goes to, as a bookkeeper reads it: "Autotask", "QuickBooks Online".
    channel_label: str
    key: str
    state: str
    state_label: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    remote_id: str | None
    invoice_id: int | None
    #: Why a waiting posting cannot go yet (an invoice not matched in QuickBooks yet).
    waiting_reason: str | None = None

    @property
    def can_retry(self) -> bool:
        return self.state in (PostingState.FAILED, PostingState.PENDING) and bool(
            self.last_error
        )

    @property
    def can_dismiss(self) -> bool:
        return self.state in (PostingState.FAILED, PostingState.PENDING) and bool(
            self.last_error
        )


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    at: datetime
    actor: str
    action: str
    text: str


@dataclass(frozen=True, slots=True)
class PaymentDetail:
    """Everything about one payment for its detail view and its receipt."""

    payment_id: int
    reference: str
    state: PaymentState
    organization_id: int
    organization_name: str
    contact: str | None
    amount: Money
    surcharge: Money
    total: Money
    refunded: Money
    method_summary: str | None
    channel: str
    gateway: str
    gateway_payment_id: str | None
    gateway_transaction_id: str | None
    test_mode: bool
    memo: str | None
    failure_message: str | None
    created_at: datetime
    completed_at: datetime | None
    created_by: str
    pay_link_url: str | None
    allocations: tuple[AllocationView, ...]
    refunds: tuple[RefundView, ...]
    postings: tuple[PostingView, ...]
    history: tuple[HistoryEntry, ...]

    @property
    def refundable(self) -> Money:
        if self.state in (PaymentState.SUCCEEDED, PaymentState.PARTIALLY_REFUNDED):
            return self.total - self.refunded
        return Money.zero(self.total.currency)

    @property
    def can_refund(self) -> bool:
        return self.refundable.minor > 0 and not self.refund_running

    @property
    def can_void(self) -> bool:
        """A bank debit that has not settled is voided (in full) instead of refunded."""
        return self.state is PaymentState.PROCESSING and not self.refund_running

    @property
    def refund_running(self) -> bool:
        return any(r.state in (RefundState.CREATED, RefundState.UNKNOWN) for r in self.refunds)

    @property
    def posting_status(self) -> PostingStatus:
        return posting_status_of([p.state for p in self.postings],
                                 [p.last_error for p in self.postings])


_ACTION_TEXT = {
    "payment.created": "Payment recorded, before contacting the gateway",
    "payment.submitted": "Sent to the gateway",
    "payment.awaiting_client": "Payment page opened; waiting for the client",
    "payment.succeeded": "Approved by the gateway",
    "payment.processing": "Accepted; the bank payment is processing",
    "payment.declined": "Declined",
    "payment.failed": "Failed",
    "payment.unknown": "Answer from the gateway lost; checking",
    "payment.returned": "Returned by the bank",
    "payment.voided": "Voided",
    "payment.expired": "Payment page closed without a payment",
    "payment.partially_refunded": "Partially refunded",
    "payment.refunded": "Refunded in full",
    "refund.created": "Refund requested",
    "refund.succeeded": "Refund done",
    "refund.pending": "Refund accepted by the gateway",
    "refund.failed": "Refund failed",
    "refund.unknown": "Answer to the refund lost; checking",
    "posting.delivered": "Posted to Autotask",
    "posting.failed": "Posting to Autotask failed",
    "posting.retry": "Posting retried",
    "posting.dismissed": "Posting dismissed",
}


def _history_text(action: str, details: dict[str, Any]) -> str:
    text = _ACTION_TEXT.get(action, action)
    extra = []
    for key in ("reason", "error", "refund", "transaction_id", "posting"):
        value = details.get(key)
        if value:
            extra.append(f"{key.replace('_', ' ')}: {value}")
    return text + (f" ({'; '.join(extra)})" if extra else "")


def payment_detail(engine: Engine, payment_id: int) -> PaymentDetail | None:
    """The payment with its allocations, refunds, postings and full history."""
    with session_scope(engine) as session:
        p = session.get(Payment, payment_id)
        if p is None:
            return None
        c = p.currency
        org = session.get(Organization, p.organization_id)
        contact_name = None
        if p.contact_id is not None:
            contact = session.get(Contact, p.contact_id)
            if contact is not None:
                contact_name = " ".join(
                    x for x in (contact.first_name, contact.last_name) if x
                ) or contact.email
        refunded_by_invoice: dict[int, int] = {}
        for invoice_id, minor in session.execute(
            select(RefundAllocation.invoice_id, RefundAllocation.amount_minor)
            .join(Refund, Refund.id == RefundAllocation.refund_id)
            .where(Refund.payment_id == payment_id,
                   Refund.state.in_(("succeeded", "pending")))
        ):
            key = int(invoice_id)
            refunded_by_invoice[key] = refunded_by_invoice.get(key, 0) + int(minor)
        allocations = tuple(
            AllocationView(
                invoice_id=int(a.invoice_id),
                invoice_number=number or str(a.invoice_id),
                amount=Money(a.amount_minor, c),
                refunded=Money(refunded_by_invoice.get(a.invoice_id, 0), c),
                invoice_balance=Money(balance or 0, c),
                invoice_status=status or "",
            )
            for a, number, balance, status in session.execute(
                select(PaymentAllocation, Invoice.invoice_number, Invoice.balance_minor,
                       Invoice.status)
                .outerjoin(Invoice, Invoice.id == PaymentAllocation.invoice_id)
                .where(PaymentAllocation.payment_id == payment_id)
                .order_by(PaymentAllocation.id)
            ).all()
        )
        refunds = tuple(
            RefundView(
                refund_id=r.id, reference=r.reference, kind=r.kind,
                amount=Money(r.amount_minor, c), state=RefundState(r.state), reason=r.reason,
                gateway_refund_id=r.gateway_refund_id, created_at=r.created_at,
                created_by=r.created_by, failure_message=r.failure_message,
            )
            for r in session.scalars(
                select(Refund).where(Refund.payment_id == payment_id).order_by(Refund.id)
            )
        )
        postings = tuple(
            PostingView(
                posting_id=x.id, target=x.target,
                target_label=target_label(x.target),
                channel_label=_channel_label(x.channel),
                waiting_reason=x.waiting_reason,
                key=x.key, state=x.state,
                state_label=PostingState.LABELS.get(x.state, x.state),
                attempts=x.attempts, last_error=x.last_error,
                next_attempt_at=x.next_attempt_at, delivered_at=x.delivered_at,
                remote_id=x.remote_id, invoice_id=x.invoice_id,
            )
            for x in session.scalars(
                select(Posting).where(Posting.payment_id == payment_id).order_by(Posting.id)
            )
        )
        history = tuple(
            HistoryEntry(at=e.at, actor=e.actor, action=e.action,
                         text=_history_text(e.action, dict(e.details or {})))
            for e in session.scalars(
                select(AuditEntry)
                .where(AuditEntry.subject_type == "payment",
                       AuditEntry.subject_id == str(payment_id))
                .order_by(AuditEntry.at, AuditEntry.id)
            )
        )
        return PaymentDetail(
            payment_id=p.id, reference=p.reference, state=PaymentState(p.state),
            organization_id=p.organization_id,
            organization_name=org.name if org else f"Organization {p.organization_id}",
            contact=contact_name,
            amount=Money(p.amount_minor, c), surcharge=Money(p.surcharge_minor, c),
            total=Money(p.total_minor, c), refunded=Money(p.refunded_minor, c),
            method_summary=p.method_summary, channel=p.channel, gateway=p.gateway,
            gateway_payment_id=p.gateway_payment_id,
            gateway_transaction_id=p.gateway_transaction_id, test_mode=p.test_mode,
            memo=p.memo, failure_message=p.failure_message, created_at=p.created_at,
            completed_at=p.completed_at, created_by=p.created_by,
            pay_link_url=p.hosted_url if p.state == "awaiting_client" else None,
            allocations=allocations, refunds=refunds, postings=postings, history=history,
        )

