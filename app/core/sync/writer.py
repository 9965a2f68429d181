"""The sync's one database writer.

Fetcher threads convert pages and put `Batch`es on a bounded queue; this thread applies each
batch in **one transaction together with its checkpoint**, so a kill at any moment leaves
either the whole page and its checkpoint or neither. It also keeps the per-entity counts and
sends progress snapshots (throttled) to the caller's callback.

Threads: `Writer.run` is the body of the writer thread; `put` is called by fetcher threads.
"""

from __future__ import annotations

import contextlib
import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    true,
    union,
    update,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from app.core.clock import utcnow
from app.core.invoice_state import recompute_invoices
from app.core.storage import search
from app.core.storage.models import (
    Invoice,
    Organization,
    PaymentAllocation,
    PicklistValue,
    QuarantinedRecord,
    RefundAllocation,
    SyncState,
)
from app.core.sync import bulk
from app.core.sync.progress import (
    EntityCounts,
    EntityPhase,
    EntityProgress,
    SyncKind,
    SyncProgress,
)
from app.core.sync.specs import SPECS_BY_ENTITY, EntitySpec

log = logging.getLogger(__name__)

#: SQLite page cache of the writer's connection, in KiB.
SQLITE_CACHE_KIB = 65_536
#: A transaction that groups pages ends when no page arrived for this long.
GROUP_IDLE_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class PartitionPlan:
    partition: int
    last_id: int
    upper_id: int | None  # exclusive; None: no upper end


@dataclass(slots=True)
class Batch:
    """One unit of work for the writer: a page and the bookkeeping that goes with it."""

    spec: EntitySpec
    rows: list[dict[str, Any]] = field(default_factory=list)
    raw_ids: list[int] = field(default_factory=list)
    quarantined: list[tuple[int | None, str, dict[str, Any]]] = field(default_factory=list)
    #: Full passes: the id range ``(after, up_to]`` this page covers completely; stored rows
    #: in it that Autotask did not return have vanished.
    id_range: tuple[int, int | None] | None = None
    partition: int | None = None
    checkpoint: int | None = None
    partition_done: bool = False
    plan: tuple[PartitionPlan, ...] | None = None
    pass_started: datetime | None = None
    #: Finish a full pass (when every partition is done) or an incremental one.
    finish_full: bool = False
    finish_incremental: datetime | None = None  # the new watermark
    picklists: list[tuple[str, str, list[tuple[str, str, bool, int | None]]]] | None = None
    #: ``rows`` in the driver's form (`bulk.prepare_upsert`), made by the fetcher thread.
    upsert_sql: str | None = None
    upsert_params: list[Any] = field(default_factory=list)
    #: A full pass's range handed in part to another thread: (partition, its new end
    #: (exclusive), the new partition, which reads from that end up to the old one).
    split: tuple[int, int, int, int | None] | None = None
    #: Quarantine invoices whose organization Autotask did not return (end of a run).
    orphans: bool = False
    #: With ``orphans``: Autotask's currencies and PayDesk's internal one; invoices of
    #: organizations billed in another currency than PayDesk's are held back too.
    currencies: CurrencyCheck | None = None


@dataclass(frozen=True)
class CurrencyCheck:
    """What the currency check compares: Autotask's currencies (id → code), which of them is
    Autotask's internal one (what an organization without ``currencyID`` is billed in), and
    PayDesk's internal currency — the one locked in Setup, which every amount is stored in."""

    autotask_internal: int
    names: dict[int, str]
    paydesk: str

    def home_ids(self) -> list[int]:
        """Autotask's ids of PayDesk's internal currency (normally one)."""
        return [i for i, code in self.names.items()
                if code.strip().upper() == self.paydesk.upper()]


class _Tracker:
    def __init__(self, spec: EntitySpec) -> None:
        self.spec = spec
        self.phase = EntityPhase.WAITING
        self.total: int | None = None
        self.counts = EntityCounts(spec.entity, spec.label)
        self.fetch_started: float | None = None
        self.fetched_at_start = 0


class Writer:
    """Applies batches; see the module docstring."""

    def __init__(
        self,
        engine: Engine,
        specs: tuple[EntitySpec, ...],
        *,
        run_id: int,
        kind: SyncKind,
        started_at: datetime,
        on_progress: Callable[[SyncProgress], None],
        requests: Callable[[], int],
        stop: threading.Event,
        queue_size: int = 8,
        progress_interval: float = 0.25,
        group_pages: int = 64,
        group_seconds: float = 0.5,
    ) -> None:
        self.engine = engine
        self.run_id = run_id
        self.kind = kind
        self.started_at = started_at
        self.on_progress = on_progress
        self.requests = requests
        self.stop = stop
        self.queue: queue.Queue[Batch | None] = queue.Queue(maxsize=queue_size)
        self.progress_interval = progress_interval
        self.group_pages = max(1, group_pages)
        self.group_seconds = group_seconds
        self.trackers = {s.entity: _Tracker(s) for s in specs}
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._changed: dict[str, list[int]] = {}
        self._last_emit = 0.0
        self._quarantined_ids: dict[str, set[int]] = {}
        #: Entities whose full pass began in this run on an empty table (`_write_plan`):
        #: a page's id range holds no stored rows to compare with or to find vanished.
        self._fresh: set[str] = set()
        self._is_sqlite = engine.dialect.name == "sqlite"
        self._load_quarantined()

    # ----------------------------------------------------------------- called by fetchers

    def put(self, batch: Batch) -> None:
        """Queue a batch (blocks while the queue is full; gives up when the sync stops)."""
        while True:
            if self.error is not None:
                raise RuntimeError("the database writer stopped")
            try:
                self.queue.put(batch, timeout=0.2)
                return
            except queue.Full:
                continue

    def set_phase(self, entity: str, phase: EntityPhase, total: int | None = None) -> None:
        with self._lock:
            tracker = self.trackers[entity]
            tracker.phase = phase
            if total is not None:
                tracker.total = total
            if phase is EntityPhase.FETCHING and tracker.fetch_started is None:
                tracker.fetch_started = time.monotonic()
                tracker.fetched_at_start = tracker.counts.fetched

    def fail_entity(self, entity: str, message: str, phase: EntityPhase) -> None:
        with self._lock:
            tracker = self.trackers[entity]
            tracker.phase = phase
            if phase is EntityPhase.FAILED:
                tracker.counts = replace(tracker.counts, error=message)

    def counts(self) -> tuple[EntityCounts, ...]:
        with self._lock:
            return tuple(t.counts for t in self.trackers.values())

    # ----------------------------------------------------------------- the thread

    def run(self) -> None:
        """Body of the writer thread: apply batches until `None` arrives.

        Batches arriving in quick succession share a transaction (each page still with its
        own checkpoint) for up to `group_seconds`: with the mirror tables' many indexes,
        every commit rewrites the index pages it touched, so fewer commits make a first
        sync much faster. A kill loses at most that uncommitted stretch, which the next
        run reads again.
        """
        closing = False
        # One connection for the whole run: only it gets the large page cache, which it
        # gives back before it returns to the pool (see `_own_connection`).
        with self._own_connection() as connection:
            while not closing:
                try:
                    first = self.queue.get(timeout=0.5)
                except queue.Empty:
                    self._emit(force=False)
                    continue
                if first is None:
                    break
                if self.error is not None:
                    continue  # after an error: drain without writing
                try:
                    closing = self._apply_group(connection, first)
                except BaseException as exc:  # reported by run_sync; fetchers stop
                    log.exception("The sync could not write to the database")
                    self.error = exc
                    self.stop.set()
                self._emit(force=False)
        self._restore_indexes()
        self._emit(force=True)

    @contextlib.contextmanager
    def _own_connection(self) -> Iterator[Connection]:
        """The writer's connection. On SQLite it gets a bigger page cache for the run: the
        mirror tables' indexes are large, and the default 2 MB makes every page of a first
        sync re-read them; the cache goes back to its size (and its memory is freed) when
        the run is over, before the connection returns to the pool."""
        with self.engine.connect() as connection:
            previous = None
            if self._is_sqlite:
                previous = connection.exec_driver_sql("PRAGMA cache_size").scalar()
                connection.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
                connection.commit()
            try:
                yield connection
            finally:
                if previous is not None:
                    with contextlib.suppress(Exception):
                        connection.rollback()
                        connection.exec_driver_sql(f"PRAGMA cache_size={int(previous)}")
                        connection.commit()

    def _restore_indexes(self) -> None:
        """Put back any index a first pass left out: one that did not finish in this run
        (cancelled, failed) or in one that was killed. The mirror tables then always have
        their indexes once a run is over."""
        try:
            with self.engine.begin() as connection:
                created = bulk.restore_secondary_indexes(
                    connection, [t.spec.table for t in self.trackers.values()])
        except Exception:  # the run's own error (if any) is what the caller reports
            log.exception("The sync could not rebuild the indexes of its tables; the next "
                          "sync tries again")
            return
        if created:
            log.info("Rebuilt %d indexes a first sync had left out", len(created))

    def close(self) -> None:
        self.queue.put(None)

    # ----------------------------------------------------------------- applying

    def _load_quarantined(self) -> None:
        with self.engine.connect() as connection:
            for entity, record_id in connection.execute(
                select(QuarantinedRecord.entity, QuarantinedRecord.record_id)
            ):
                if record_id is not None:
                    self._quarantined_ids.setdefault(entity, set()).add(record_id)

    def _apply_group(self, connection: Connection, first: Batch) -> bool:
        """Apply ``first`` and the batches that follow it closely in one transaction;
        True when the end-of-run marker arrived meanwhile."""
        now = utcnow()
        started = time.monotonic()
        group = [first]
        closing = False
        with connection.begin():
            outcomes = [self._apply(connection, first, now)]
            while (len(group) < self.group_pages
                   and time.monotonic() - started < self.group_seconds):
                try:
                    item = self.queue.get(timeout=GROUP_IDLE_SECONDS)
                except queue.Empty:
                    break
                if item is None:
                    closing = True
                    break
                group.append(item)
                outcomes.append(self._apply(connection, item, now))
        for batch, outcome in zip(group, outcomes, strict=True):
            self._count(batch, *outcome)
        return closing

    def _apply(self, connection: Connection, batch: Batch,
               now: datetime) -> tuple[list[int], list[int], list[int]]:
        spec = batch.spec
        naive_now = now.replace(tzinfo=None)
        inserted: list[int] = []
        updated: list[int] = []
        vanished: list[int] = []
        if batch.plan is not None:
            self._write_plan(connection, spec, batch.plan, batch.pass_started, now)
        if batch.split is not None:
            self._write_split(connection, spec, batch.split, now)
        if batch.picklists is not None:
            self._write_picklists(connection, batch.picklists, now)
        if batch.rows or batch.id_range is not None:
            inserted, updated, vanished = self._write_rows(connection, batch, naive_now)
        if (batch.quarantined or batch.rows) and not batch.orphans:
            self._write_quarantine(connection, batch, now)
        if batch.partition is not None and (
            batch.checkpoint is not None or batch.partition_done
        ):
            values: dict[str, Any] = {"e": spec.entity, "p": batch.partition,
                                      "updated_at": now}
            if batch.checkpoint is not None:
                values["last_id"] = batch.checkpoint
            if batch.partition_done:
                values["phase"] = "done"
            connection.execute(_checkpoint_statement(tuple(sorted(values))), values)
        if batch.orphans:
            batch.quarantined = self._quarantine_orphans(connection, now, batch.currencies)
        if batch.finish_full:
            self._finish_full(connection, spec, now)
        if batch.finish_incremental is not None:
            self._finish_incremental(connection, spec, batch.finish_incremental, now)
        return inserted, updated, vanished

    def _count(self, batch: Batch, inserted: list[int], updated: list[int],
               vanished: list[int]) -> None:
        spec = batch.spec
        with self._lock:
            tracker = self.trackers["Invoices" if batch.orphans else spec.entity]
            c = tracker.counts
            tracker.counts = replace(
                c,
                fetched=c.fetched + len(batch.raw_ids) + sum(
                    1 for q in batch.quarantined if q[0] is None),
                inserted=c.inserted + len(inserted),
                updated=c.updated + len(updated),
                deleted=c.deleted + len(vanished),
                quarantined=c.quarantined + len(batch.quarantined),
            )
            if inserted or updated or vanished:
                self._changed.setdefault(spec.table_name, []).extend(
                    inserted + updated + vanished)

    def _write_rows(
        self, connection: Connection, batch: Batch, naive_now: datetime
    ) -> tuple[list[int], list[int], list[int]]:
        spec = batch.spec
        table = bulk.plain_table(spec.table)
        columns = spec.compare_columns
        stored: dict[int, tuple[Any, ...]]
        if batch.id_range is not None and spec.entity in self._fresh:
            stored = {}
        elif batch.id_range is not None:
            stored = bulk.existing_rows(connection, table, columns, id_range=batch.id_range)
        else:
            stored = bulk.existing_rows(connection, table, columns,
                                        ids=[r["id"] for r in batch.rows])
        inserted: list[int] = []
        updated: list[int] = []
        chosen: list[int] = []
        for index, row in enumerate(batch.rows):
            old = stored.get(row["id"])
            if old is None:
                inserted.append(row["id"])
            elif tuple(row[c] for c in columns) != old:
                updated.append(row["id"])
            else:
                continue
            chosen.append(index)
        if chosen:
            with search.bulk_maintained(connection, spec.table_name,
                                        [batch.rows[i]["id"] for i in chosen], updated):
                refused = self._upsert_chosen(connection, batch, table, chosen, naive_now)
            if refused:
                inserted = [i for i in inserted if i not in refused]
                updated = [i for i in updated if i not in refused]
        vanished: list[int] = []
        if batch.id_range is not None and stored:
            seen = set(batch.raw_ids)
            vanished = [i for i in stored if i not in seen]
            if vanished and spec.model is Invoice:
                vanished = self._deletable_invoices(connection, vanished)
            if vanished:
                bulk.delete_ids(connection, table, vanished)
        if spec.model is Invoice and (inserted or updated):
            self._recompute_with_allocations(connection, inserted + updated)
        return inserted, updated, vanished

    def _upsert_chosen(self, connection: Connection, batch: Batch, table: Table,
                       chosen: list[int], naive_now: datetime) -> set[int]:
        """Write the chosen rows of a page; returns the ids the database refused.

        The converters refuse every value they know a database cannot hold, so a refusal
        here is rare. When it happens, the page is written row by row and only the rows
        the database refuses are quarantined, with the database's reason: one bad record
        never stops the sync. (On PostgreSQL an error spoils the transaction, so each
        attempt runs in a savepoint; SQLite keeps the transaction and the upsert is
        idempotent, so rows that went in before the failing one are simply written again.)
        """
        if batch.upsert_sql is None:
            for index in chosen:
                batch.rows[index]["synced_at"] = naive_now
            sql, params = bulk.prepare_upsert(connection.dialect, table,
                                              [batch.rows[i] for i in chosen])
        else:
            sql, every = batch.upsert_sql, batch.upsert_params
            params = every if len(chosen) == len(every) else [every[i] for i in chosen]
        try:
            self._guarded(connection, sql, params)
            return set()
        except _RowRefused:
            pass
        refused: set[int] = set()
        for index, param in zip(chosen, params, strict=True):
            row = batch.rows[index]
            try:
                self._guarded(connection, sql, [param])
            except _RowRefused as refusal:
                refused.add(row["id"])
                batch.quarantined.append((row["id"], refusal.reason, _row_payload(row)))
                log.warning("The database refused %s record %s: %s", batch.spec.entity,
                            row["id"], refusal.reason)
        return refused

    def _guarded(self, connection: Connection, sql: str, params: list[Any]) -> None:
        """Run the upsert; a refusal of the data (not a failing database) raises
        `_RowRefused` and leaves the transaction usable."""
        savepoint = None if self._is_sqlite else connection.begin_nested()
        try:
            bulk.execute_upsert(connection, sql, params)
        except Exception as exc:
            if not _is_data_refusal(exc):
                raise
            if savepoint is not None:
                savepoint.rollback()
            raise _RowRefused(_refusal_reason(exc)) from exc
        if savepoint is not None:
            savepoint.commit()

    def _quarantine_orphans(
        self, connection: Connection, now: datetime,
        currencies: CurrencyCheck | None = None,
    ) -> list[tuple[int | None, str, dict[str, Any]]]:
        """Invoices that name an organization Autotask does not have cannot be shown or paid,
        nor can invoices billed in another currency than the internal one: they move to
        quarantine (PayDesk's own payments keep theirs)."""
        found = self._orphans(connection)
        if currencies is not None:
            found += self._foreign_currency(connection, currencies)
        if not found:
            return []
        ids = [f[0] for f in found if f[0] is not None]
        invoices = bulk.plain_table(Invoice.__table__)
        bulk.delete_ids(connection, invoices, ids)
        spec = SPECS_BY_ENTITY["Invoices"]
        self._write_quarantine(connection, Batch(spec=spec, quarantined=found), now)
        with self._lock:
            self._changed.setdefault(spec.table_name, []).extend(ids)
        return found

    def _foreign_currency(
        self, connection: Connection, currencies: CurrencyCheck
    ) -> list[tuple[int | None, str, dict[str, Any]]]:
        """Invoices billed in another currency than PayDesk's internal one: an
        organization's own ``currencyID``, or Autotask's internal currency for one without."""
        invoices = bulk.plain_table(Invoice.__table__)
        organizations = bulk.plain_table(Organization.__table__)
        billed_in = func.coalesce(organizations.c.currency_id, currencies.autotask_internal)
        home = currencies.home_ids()
        rows = connection.execute(
            select(invoices.c.id, invoices.c.organization_id, invoices.c.invoice_number,
                   invoices.c.is_voided, invoices.c.paid_date, billed_in,
                   organizations.c.name)
            .join(organizations, organizations.c.id == invoices.c.organization_id)
            .where(billed_in.not_in(home) if home else true())
        ).all()
        if not rows:
            return []
        keep = set(self._deletable_invoices(connection, [r[0] for r in rows]))
        names = currencies.names
        return [
            (r[0], f"The invoice is in {names.get(r[5], f'currency {r[5]}')}, the currency "
                   f"{r[6]} is billed in, but PayDesk takes payments in "
                   f"{currencies.paydesk} only. Take this payment outside PayDesk.",
             {"id": r[0], "companyID": r[1], "invoiceNumber": r[2], "isVoided": bool(r[3]),
              "paidDate": r[4].isoformat() if r[4] else None, "currencyID": r[5]})
            for r in rows if r[0] in keep
        ]

    def _orphans(self, connection: Connection) -> list[tuple[int | None, str, dict[str, Any]]]:
        invoices = bulk.plain_table(Invoice.__table__)
        organizations = bulk.plain_table(Organization.__table__)
        quarantine = cast(Table, QuarantinedRecord.__table__)
        # An organization Autotask did return but PayDesk holds back (a flaw of its own)
        # is not missing: its invoices are fine and stay (quarantine does not cascade).
        held_back = select(quarantine.c.record_id).where(
            quarantine.c.entity == "Companies", quarantine.c.record_id.is_not(None))
        orphans = connection.execute(
            select(invoices.c.id, invoices.c.organization_id, invoices.c.invoice_number,
                   invoices.c.is_voided, invoices.c.paid_date)
            .where(invoices.c.organization_id.not_in(select(organizations.c.id)),
                   invoices.c.organization_id.not_in(held_back))
        ).all()
        if not orphans:
            return []
        keep = set(self._deletable_invoices(connection, [o[0] for o in orphans]))
        return [
            (o[0], f"The invoice belongs to organization {o[1]}, which Autotask did not "
                   "return.", {"id": o[0], "companyID": o[1], "invoiceNumber": o[2],
                               "isVoided": bool(o[3]),
                               "paidDate": o[4].isoformat() if o[4] else None})
            for o in orphans if o[0] in keep
        ]

    @staticmethod
    def _deletable_invoices(connection: Connection, ids: list[int]) -> list[int]:
        """Invoices PayDesk took payments on are kept even if Autotask stops returning them."""
        keep = set(
            connection.scalars(
                union(
                    select(PaymentAllocation.invoice_id).where(
                        PaymentAllocation.invoice_id.in_(ids)),
                    select(RefundAllocation.invoice_id).where(
                        RefundAllocation.invoice_id.in_(ids)),
                )
            )
        )
        return [i for i in ids if i not in keep]

    @staticmethod
    def _recompute_with_allocations(connection: Connection, ids: list[int]) -> None:
        with_ledger: list[int] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            with_ledger.extend(
                connection.scalars(
                    select(PaymentAllocation.invoice_id)
                    .where(PaymentAllocation.invoice_id.in_(chunk))
                    .distinct()
                )
            )
        if with_ledger:
            with Session(bind=connection) as session:
                recompute_invoices(session, with_ledger)
                session.flush()

    def _write_quarantine(self, connection: Connection, batch: Batch, now: datetime) -> None:
        entity = batch.spec.entity
        known = self._quarantined_ids.setdefault(entity, set())
        table = cast(Table, QuarantinedRecord.__table__)
        cleared = [row["id"] for row in batch.rows if row["id"] in known]
        if batch.id_range is not None and known:
            after, up_to = batch.id_range
            seen = set(batch.raw_ids)
            cleared += [i for i in known if i > after and (up_to is None or i <= up_to)
                        and i not in seen]
        new_ids = [q[0] for q in batch.quarantined if q[0] is not None]
        stale = cleared + [i for i in new_ids if i in known]
        for start in range(0, len(stale), 500):
            connection.execute(
                delete(table).where(
                    table.c.entity == entity,
                    table.c.record_id.in_(stale[start : start + 500]),
                )
            )
        known.difference_update(cleared)
        if batch.quarantined:
            connection.execute(
                insert(table),
                [
                    {"run_id": self.run_id, "entity": entity, "record_id": rid,
                     "reason": _json_safe(reason), "payload": _json_safe(payload),
                     "created_at": now}
                    for rid, reason, payload in batch.quarantined
                ],
            )
            known.update(new_ids)

    def _write_plan(self, connection: Connection, spec: EntitySpec,
                    plan: tuple[PartitionPlan, ...], started: datetime | None,
                    now: datetime) -> None:
        if bulk.is_empty(connection, bulk.plain_table(spec.table)):
            # A first pass into an empty table: its secondary indexes are built once at the
            # end of the pass (`_finish_full`; after a kill, by the end of the next run)
            # instead of row by row, and no page needs to look up stored rows.
            dropped = bulk.drop_secondary_indexes(connection, spec.table)
            if dropped:
                log.info("First sync of %s: %d indexes are built when it ends", spec.entity,
                         len(dropped))
            self._fresh.add(spec.entity)
        previous = connection.execute(
            select(SyncState.full_completed_at, SyncState.last_reconciled_at).where(
                SyncState.entity == spec.entity, SyncState.partition == 0)
        ).first()
        connection.execute(delete(SyncState).where(SyncState.entity == spec.entity))
        connection.execute(
            insert(SyncState),
            [
                {"entity": spec.entity, "partition": p.partition, "phase": "full",
                 "last_id": p.last_id, "upper_id": p.upper_id, "watermark": started,
                 "full_completed_at": previous[0] if previous else None,
                 "last_reconciled_at": previous[1] if previous else None,
                 "updated_at": now}
                for p in plan
            ],
        )

    @staticmethod
    def _write_split(connection: Connection, spec: EntitySpec,
                     split: tuple[int, int, int, int | None], now: datetime) -> None:
        partition, bound, new, upper = split
        mine = (SyncState.entity == spec.entity, SyncState.partition == partition)
        row = connection.execute(
            select(SyncState.watermark, SyncState.full_completed_at,
                   SyncState.last_reconciled_at).where(*mine)).first()
        connection.execute(update(SyncState).where(*mine).values(upper_id=bound,
                                                                 updated_at=now))
        connection.execute(insert(SyncState).values(
            entity=spec.entity, partition=new, phase="full", last_id=bound - 1,
            upper_id=upper, watermark=row[0] if row else None,
            full_completed_at=row[1] if row else None,
            last_reconciled_at=row[2] if row else None, updated_at=now))

    def _finish_full(self, connection: Connection, spec: EntitySpec, now: datetime) -> None:
        states = connection.execute(
            select(SyncState.partition, SyncState.phase, SyncState.watermark).where(
                SyncState.entity == spec.entity)
        ).all()
        if not states or any(phase == "full" for _, phase, _ in states):
            return  # a partition did not finish; the next run resumes it
        started = min((w for _, _, w in states if w is not None), default=now)
        watermark = started
        if spec.watermark_column is not None:
            table = bulk.plain_table(spec.table)
            newest = connection.scalar(select(func.max(table.c[spec.watermark_column])))
            if newest is not None:
                watermark = min(started, newest.replace(tzinfo=started.tzinfo))
        connection.execute(
            delete(SyncState).where(SyncState.entity == spec.entity, SyncState.partition != 0))
        connection.execute(
            update(SyncState)
            .where(SyncState.entity == spec.entity, SyncState.partition == 0)
            .values(phase="incremental", last_id=0, upper_id=None, watermark=watermark,
                    full_completed_at=now, last_reconciled_at=now, updated_at=now)
        )
        self._fresh.discard(spec.entity)
        bulk.restore_secondary_indexes(connection, [spec.table])

    @staticmethod
    def _finish_incremental(connection: Connection, spec: EntitySpec, watermark: datetime,
                            now: datetime) -> None:
        connection.execute(
            update(SyncState)
            .where(SyncState.entity == spec.entity, SyncState.partition == 0)
            .values(watermark=watermark, updated_at=now)
        )

    @staticmethod
    def _write_picklists(
        connection: Connection,
        picklists: list[tuple[str, str, list[tuple[str, str, bool, int | None]]]],
        now: datetime,
    ) -> None:
        table = cast(Table, PicklistValue.__table__)
        for entity, field_name, values in picklists:
            connection.execute(
                delete(table).where(table.c.entity == entity, table.c.field == field_name))
            if values:
                connection.execute(
                    insert(table),
                    [{"entity": entity, "field": field_name, "value": v, "label": label,
                      "is_active": active, "sort_order": order}
                     for v, label, active, order in values],
                )
        state = cast(Table, SyncState.__table__)
        exists = connection.scalar(
            select(func.count()).select_from(state).where(
                state.c.entity == "Picklists", state.c.partition == 0))
        if exists:
            connection.execute(
                update(state).where(state.c.entity == "Picklists", state.c.partition == 0)
                .values(updated_at=now, full_completed_at=now))
        else:
            connection.execute(insert(state).values(
                entity="Picklists", partition=0, phase="incremental", last_id=0,
                full_completed_at=now, updated_at=now))

    # ----------------------------------------------------------------- progress

    def snapshot(self, changed: dict[str, tuple[int, ...]] | None = None) -> SyncProgress:
        now = time.monotonic()
        with self._lock:
            entities = []
            for tracker in self.trackers.values():
                eta = None
                fetched = tracker.counts.fetched
                if (tracker.phase is EntityPhase.FETCHING and tracker.total
                        and tracker.fetch_started is not None):
                    elapsed = now - tracker.fetch_started
                    done = fetched - tracker.fetched_at_start
                    if done > 0 and elapsed > 0:
                        eta = max(0.0, (tracker.total - fetched) / (done / elapsed))
                entities.append(EntityProgress(tracker.spec.entity, tracker.spec.label,
                                               tracker.phase, tracker.counts, tracker.total,
                                               eta))
        etas = [e.eta_seconds for e in entities if e.eta_seconds is not None]
        return SyncProgress(
            run_id=self.run_id, kind=self.kind, started_at=self.started_at,
            entities=tuple(entities), requests=self.requests(),
            eta_seconds=max(etas) if etas else None, changed_ids=changed or {},
        )

    def _emit(self, *, force: bool) -> None:
        now = time.monotonic()
        if not force and now - self._last_emit < self.progress_interval:
            return
        self._last_emit = now
        with self._lock:
            changed = {k: tuple(v) for k, v in self._changed.items() if v}
            self._changed = {}
        try:
            self.on_progress(self.snapshot(changed))
        except Exception:  # a broken listener must not stop the sync
            log.exception("A sync progress listener failed")


@cache
def _checkpoint_statement(keys: tuple[str, ...]) -> Any:
    """``UPDATE sync_state SET ...`` for one partition, built once per set of columns."""
    state = cast(Table, SyncState.__table__)
    return (
        update(state)
        .where(state.c.entity == bindparam("e"), state.c.partition == bindparam("p"))
        .values({k: bindparam(k) for k in keys if k not in ("e", "p")})
    )


class _RowRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _is_data_refusal(exc: BaseException) -> bool:
    """The database refused the values (not: the database is unreachable, full or locked)."""
    if isinstance(exc, sa_exc.DataError | sa_exc.IntegrityError):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        return False
    return isinstance(exc, sa_exc.StatementError | OverflowError | ValueError)


def _refusal_reason(exc: BaseException) -> str:
    cause = exc.orig if isinstance(exc, sa_exc.StatementError) and exc.orig else exc
    text = str(cause).lower()
    if isinstance(cause, OverflowError) or "out of range" in text or "too large" in text:
        what = "a number in it is too large"
    elif "nul" in text or "0x00" in text:
        what = "it contains a NUL character"
    elif isinstance(cause, UnicodeError) or "encod" in text:
        what = "it contains characters that cannot be stored"
    else:
        what = f"{type(cause).__name__}"
    return (f"PayDesk's database refused this record ({what}). Correct the record in "
            "Autotask; the next sync stores it.")


def _row_payload(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime | date) else v)
            for k, v in row.items() if k != "synced_at"}


def _json_safe(value: Any) -> Any:
    """A record as the quarantine can always store it: Decimals as text, NaN and infinities
    as text, NUL and broken characters spelled out (PostgreSQL refuses them)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        if not value.isascii():
            value = value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value.replace("\x00", "\\x00") if "\x00" in value else value
    if isinstance(value, dict):
        return {_json_safe(str(k)): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value
