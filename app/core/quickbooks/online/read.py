"""Reading QuickBooks Online's customers and invoices into the local database.

Per entity (Customer, Invoice) a checkpoint row in ``quickbooks_sync_state``:

* **Full read** — the first time, when asked, or when the last read is older than change
  data capture reaches back (30 days; PayDesk uses 29 to keep a margin). Pages of 1,000 with
  ``STARTPOSITION``/``MAXRESULTS`` (ordered by Id); each page is stored in the same
  transaction as the position to resume from, so a read that was stopped or killed resumes
  where it stood. At the end, rows that the read did not see (deleted in QuickBooks) go, and
  the watermark becomes the moment the read started.
* **Incremental read** — one ``cdc`` request for both entities since the watermark (minus a
  few minutes against clock differences); deleted objects are removed. CDC gives at most
  1,000 objects per entity: when an answer is full, a full read of that entity follows.

After reading, the automatic matching pass runs (:func:`app.core.quickbooks.books.match_invoices`).

Threads: :func:`read_quickbooks_online` blocks; it runs inside the background sync (see
:func:`quickbooks_sync_hook`) or on the caller's thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, delete

from app.core.clock import utcnow
from app.core.config import get_internal_currency, get_setting, set_setting
from app.core.credentials import CredentialStore
from app.core.money import Money
from app.core.quickbooks.books import (
    SOURCE_ONLINE,
    CustomerRecord,
    InvoiceRecord,
    MatchReport,
    delete_customers,
    delete_invoices,
    match_invoices,
    upsert_customers,
    upsert_invoices,
)
from app.core.quickbooks.online.client import MAX_PAGE, QuickBooksOnlineClient
from app.core.quickbooks.online.errors import QuickBooksError
from app.core.storage.engine import session_scope
from app.core.storage.models import QuickBooksCustomer, QuickBooksInvoice, QuickBooksSyncState

__all__ = [
    "CDC_REACH",
    "LAST_READ_SETTING",
    "LastRead",
    "ReadResult",
    "customer_record",
    "invoice_record",
    "last_read",
    "quickbooks_sync_hook",
    "read_quickbooks_online",
]

log = logging.getLogger(__name__)

#: How far back change data capture may reach (QuickBooks allows 30 days).
CDC_REACH = timedelta(days=29)
OVERLAP = timedelta(minutes=5)
ENTITIES = ("Customer", "Invoice")
LAST_READ_SETTING = "quickbooks_online.last_read"


@dataclass(frozen=True, slots=True)
class LastRead:
    """How the last read of QuickBooks Online ended (kept in ``LAST_READ_SETTING``)."""

    at: datetime | None = None
    #: "succeeded" or "failed"; None before the first read.
    status: str | None = None
    message: str | None = None
    #: It failed because QuickBooks refused the connection (revoked, expired): reconnect.
    disconnected: bool = False


def last_read(engine: Engine) -> LastRead:
    """The last read's outcome as the sync hook recorded it (an unreadable value: none)."""
    value = get_setting(engine, LAST_READ_SETTING)
    if not isinstance(value, dict):
        return LastRead()
    try:
        at = datetime.fromisoformat(value["at"]) if isinstance(value.get("at"), str) else None
    except ValueError:
        at = None
    status = value.get("status")
    message = value.get("message")
    return LastRead(at, str(status) if status else None,
                    str(message) if message else None, bool(value.get("disconnected")))


def _money(value: Any, currency: str) -> int:
    if value is None or value == "":
        return 0
    amount = value if isinstance(value, Decimal) else Decimal(str(value))
    return Money.from_decimal(amount, currency, exact=False).minor


def _date(value: Any) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _instant(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def _ref(row: Mapping[str, Any], key: str) -> tuple[str | None, str | None]:
    ref = row.get(key)
    if not isinstance(ref, Mapping):
        return None, None
    value = ref.get("value")
    name = ref.get("name")
    return (str(value) if value is not None else None, str(name) if name is not None else None)


def invoice_record(row: Mapping[str, Any], home_currency: str) -> InvoiceRecord:
    currency = _ref(row, "CurrencyRef")[0] or home_currency
    customer_id, customer_name = _ref(row, "CustomerRef")
    meta = row.get("MetaData") or {}
    return InvoiceRecord(
        remote_id=str(row["Id"]),
        doc_number=(str(row["DocNumber"]) if row.get("DocNumber") else None),
        customer_id=customer_id,
        customer_name=customer_name,
        txn_date=_date(row.get("TxnDate")),
        due_date=_date(row.get("DueDate")),
        total_minor=_money(row.get("TotalAmt"), currency),
        balance_minor=_money(row.get("Balance"), currency),
        currency=currency,
        sync_token=str(row.get("SyncToken")) if row.get("SyncToken") is not None else None,
        last_updated=_instant(meta.get("LastUpdatedTime") if isinstance(meta, Mapping) else None),
    )


def customer_record(row: Mapping[str, Any], home_currency: str) -> CustomerRecord:
    currency = _ref(row, "CurrencyRef")[0] or home_currency
    meta = row.get("MetaData") or {}
    return CustomerRecord(
        remote_id=str(row["Id"]),
        display_name=str(row.get("DisplayName") or row.get("FullyQualifiedName") or ""),
        company_name=str(row["CompanyName"]) if row.get("CompanyName") else None,
        currency=currency,
        balance_minor=_money(row.get("Balance"), currency),
        is_active=bool(row.get("Active", True)),
        sync_token=str(row.get("SyncToken")) if row.get("SyncToken") is not None else None,
        last_updated=_instant(meta.get("LastUpdatedTime") if isinstance(meta, Mapping) else None),
    )


@dataclass(slots=True)
class ReadResult:
    full: list[str] = field(default_factory=list)
    incremental: bool = False
    read: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    match: MatchReport | None = None


class _Cancelled(Exception):
    pass


def _state(engine: Engine, entity: str) -> QuickBooksSyncState | None:
    with session_scope(engine) as session:
        row = session.get(QuickBooksSyncState, (SOURCE_ONLINE, entity))
        if row is not None:
            session.expunge(row)
        return row


def _store(session: Any, entity: str, rows: list[dict[str, Any]], home: str,
           now: datetime) -> None:
    if entity == "Invoice":
        upsert_invoices(session, SOURCE_ONLINE, [invoice_record(r, home) for r in rows], now)
    else:
        upsert_customers(session, SOURCE_ONLINE, [customer_record(r, home) for r in rows], now)


def _full_read(engine: Engine, client: QuickBooksOnlineClient, entity: str, home: str,
               state: QuickBooksSyncState | None, cancel: threading.Event,
               on_progress: Callable[[str, int], None], result: ReadResult,
               page_size: int = MAX_PAGE) -> None:
    now = utcnow()
    if state is None or state.phase != "full" or state.full_started_at is None:
        with session_scope(engine) as session:
            row = session.get(QuickBooksSyncState, (SOURCE_ONLINE, entity))
            if row is None:
                row = QuickBooksSyncState(source=SOURCE_ONLINE, entity=entity)
                session.add(row)
            row.phase = "full"
            row.next_position = 1
            row.full_started_at = now
            row.updated_at = now
        started, position = now, 1
    else:
        started, position = state.full_started_at, state.next_position
    result.full.append(entity)
    count = 0
    for start, page in client.query_all(entity, start=position, page_size=page_size):
        if cancel.is_set():
            raise _Cancelled
        moment = utcnow()
        with session_scope(engine) as session:
            _store(session, entity, page, home, moment)
            row = session.get(QuickBooksSyncState, (SOURCE_ONLINE, entity))
            assert row is not None
            row.next_position = start + len(page)
            row.updated_at = moment
        count += len(page)
        on_progress(entity, count)
    with session_scope(engine) as session:
        model: Any = QuickBooksInvoice if entity == "Invoice" else QuickBooksCustomer
        gone = session.execute(delete(model).where(
            model.source == SOURCE_ONLINE, model.read_at < started))
        result.deleted[entity] = result.deleted.get(entity, 0) + int(
            getattr(gone, "rowcount", 0) or 0)
        row = session.get(QuickBooksSyncState, (SOURCE_ONLINE, entity))
        assert row is not None
        row.phase = "incremental"
        row.watermark = started
        row.full_completed_at = utcnow()
        row.updated_at = utcnow()
    result.read[entity] = result.read.get(entity, 0) + count


def read_quickbooks_online(
    engine: Engine,
    client: QuickBooksOnlineClient,
    *,
    full: bool = False,
    cancel: threading.Event | None = None,
    on_progress: Callable[[str, int], None] | None = None,
    match: bool = True,
    page_size: int = MAX_PAGE,
) -> ReadResult:
    """Bring the local copy of QuickBooks in step (see the module docstring), then match."""
    cancel = cancel or threading.Event()
    progress = on_progress or (lambda _e, _n: None)
    home = get_internal_currency(engine) or "USD"
    result = ReadResult()
    requests_before = client.request_count
    now = utcnow()
    states = {entity: _state(engine, entity) for entity in ENTITIES}
    needs_full = [
        entity for entity, st in states.items()
        if full or st is None or st.phase == "full" or st.watermark is None
        or now - st.watermark > CDC_REACH
    ]
    try:
        for entity in needs_full:
            _full_read(engine, client, entity, home, states[entity], cancel, progress, result,
                       page_size)
        rest = [e for e in ENTITIES if e not in needs_full]
        if rest:
            if cancel.is_set():
                raise _Cancelled
            since = min(st.watermark for e in rest if (st := states[e]) is not None
                        and st.watermark is not None) - OVERLAP
            asked_at = utcnow()
            changes = client.cdc(rest, since)
            result.incremental = True
            overflow = [e for e in rest if len(changes.get(e, [])) >= MAX_PAGE]
            with session_scope(engine) as session:
                for entity in rest:
                    if entity in overflow:
                        continue
                    rows = changes.get(entity, [])
                    gone = [str(r["Id"]) for r in rows if str(r.get("status", "")) == "Deleted"]
                    live = [r for r in rows if str(r.get("status", "")) != "Deleted"]
                    _store(session, entity, live, home, asked_at)
                    if entity == "Invoice":
                        delete_invoices(session, SOURCE_ONLINE, gone)
                    else:
                        delete_customers(session, SOURCE_ONLINE, gone)
                    result.read[entity] = len(live)
                    result.deleted[entity] = len(gone)
                    row = session.get(QuickBooksSyncState, (SOURCE_ONLINE, entity))
                    assert row is not None
                    row.watermark = asked_at
                    row.updated_at = asked_at
            for entity in overflow:
                _full_read(engine, client, entity, home, None, cancel, progress, result,
                           page_size)
    except _Cancelled:
        result.requests = client.request_count - requests_before
        return result
    result.requests = client.request_count - requests_before
    if match:
        result.match = match_invoices(engine, SOURCE_ONLINE, currency=home)
    return result


def quickbooks_sync_hook(credentials: CredentialStore) -> Callable[[Engine, threading.Event], None]:
    """The hook the background sync runs after Autotask (register it with
    :func:`app.core.sync.hooks.register_sync_hook`). Does nothing while QuickBooks Online is
    not connected; a failure is logged and kept in the ``quickbooks_online.last_read``
    setting (status and plain message) for the status bar, and never fails the Autotask sync."""

    def hook(engine: Engine, cancel: threading.Event) -> None:
        from app.core.quickbooks.online.setup import open_quickbooks_client

        client = open_quickbooks_client(engine, credentials)
        if client is None:
            return
        started = utcnow()
        try:
            with client:
                result = read_quickbooks_online(engine, client, cancel=cancel)
        except QuickBooksError as exc:
            log.warning("QuickBooks Online read failed: %s", exc.message)
            set_setting(engine, LAST_READ_SETTING, {
                "status": "failed", "at": started.isoformat(), "message": exc.message,
                "disconnected": exc.code == "auth"}, actor="PayDesk", audit=False)
            return
        set_setting(engine, LAST_READ_SETTING, {
            "status": "succeeded", "at": started.isoformat(), "requests": result.requests,
            "read": result.read, "matched": result.match.matched if result.match else None,
            "unmatched": result.match.unmatched if result.match else None}, actor="PayDesk",
            audit=False)

    return hook

