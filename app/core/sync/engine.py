"""The sync engine: Autotask → local database, full, incremental, resumable.

`run_sync` decides per entity what to do, runs the entities in parallel threads that page
through Autotask, and hands every converted page to the one database writer
(`app.core.sync.writer`), which commits it with its checkpoint.

* **Full pass** (first sync, ``full=True``, the periodic reconciliation, or a pass that was
  interrupted): the entity's id range is read with ``id gt <checkpoint>``. A large entity is
  split into up to three id-range partitions read at the same time — never more than the
  client's per-endpoint limit. Each page also covers an id range completely, so stored rows
  in that range that Autotask no longer returns are removed (records that vanished).
  Checkpoints are per partition: after a kill the pass resumes where each partition stood.
* **Incremental pass**: records whose change-tracking fields moved since the entity's
  watermark (minus an overlap window against clock skew), plus every id above the newest
  stored one. Invoices have no modified field: new ids, invoices paid or voided since the
  watermark, and a check of the open (unpaid, unvoided) set — when Autotask's count of
  open invoices differs from ours, the open set is compared id by id and the differences
  are read again. Payment terms are read in full every time; picklists once a day.

Threads: `run_sync` blocks; it runs on the caller's thread (a GUI worker or the CLI) and
starts its own fetcher threads and writer thread, all finished before it returns.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select, update

from app.core.autotask import (
    AutotaskClient,
    AutotaskError,
    AutotaskServerError,
)
from app.core.autotask.dates import format_autotask_datetime
from app.core.clock import utcnow
from app.core.config import current_actor, get_internal_currency, get_setting
from app.core.storage.engine import session_scope
from app.core.storage.models import Invoice, QuarantinedRecord, SyncRun, SyncState
from app.core.sync import bulk
from app.core.sync.hooks import run_sync_hooks
from app.core.sync.lock import SyncError, SyncLock
from app.core.sync.progress import (
    EntityCounts,
    EntityPhase,
    RunStatus,
    SyncKind,
    SyncProgress,
    SyncResult,
)
from app.core.sync.specs import (
    INT64,
    PICKLIST_FIELDS,
    SPECS,
    SPECS_BY_ENTITY,
    ChangeMode,
    ConvertContext,
    EntitySpec,
    InvalidRecord,
    record_id,
)
from app.core.sync.writer import Batch, CurrencyCheck, PartitionPlan, Writer

log = logging.getLogger(__name__)

RECONCILE_HOURS_SETTING = "sync.reconcile_hours"
DEFAULT_RECONCILE_HOURS = 24
PICKLIST_REFRESH = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class SyncOptions:
    """Tuning knobs; the defaults are what PayDesk uses."""

    overlap: timedelta = timedelta(minutes=10)
    max_partitions: int = 3
    page_size: int = 500
    queue_pages: int = 8
    progress_interval: float = 0.25
    #: Pages arriving within this long of each other share one transaction.
    group_seconds: float = 0.5
    #: Reconcile (a full pass that finds vanished records) when the last one is older.
    #: None: read the ``sync.reconcile_hours`` setting.
    reconcile_every: timedelta | None = None


class _Stop(Exception):
    """The run is stopping (cancelled, or the writer failed)."""


def _ignore(_progress: SyncProgress) -> None:
    return None


def run_sync(
    engine: Engine,
    client: AutotaskClient,
    *,
    full: bool = False,
    cancel: threading.Event | None = None,
    on_progress: Callable[[SyncProgress], None] = _ignore,
    options: SyncOptions | None = None,
) -> SyncResult:
    """Bring the local database in step with Autotask; see the module docstring.

    Raises `SyncAlreadyRunningError` when another sync holds the database's lock and
    `SyncError` when the sync cannot start; failures during the run are reported in the
    returned `SyncResult` (``status`` failed, ``error`` in plain words).
    """
    options = options or SyncOptions()
    cancel = cancel or threading.Event()
    currency = get_internal_currency(engine)
    if currency is None:
        raise SyncError(
            "Choose PayDesk's internal currency in Setup before the first sync: invoice "
            "amounts are stored in it."
        )
    lock = SyncLock(engine)
    lock.acquire()
    try:
        result = _Run(engine, client, full=full, cancel=cancel, on_progress=on_progress,
                      options=options, ctx=ConvertContext.for_currency(currency)).execute()
        run_sync_hooks(engine, cancel)  # QuickBooks and other books, after Autotask
        return result
    finally:
        lock.release()


class _Run:
    def __init__(self, engine: Engine, client: AutotaskClient, *, full: bool,
                 cancel: threading.Event, on_progress: Callable[[SyncProgress], None],
                 options: SyncOptions, ctx: ConvertContext) -> None:
        self.engine = engine
        self.client = client
        self.full = full
        self.cancel = cancel
        self.on_progress = on_progress
        self.options = options
        self.ctx = ctx
        self.stop = threading.Event()
        self.started_at = utcnow()
        self.requests_at_start = client.request_count
        self.by_entity_at_start = dict(client.stats().by_entity)
        #: Autotask entity (or "Picklists") → what went wrong, in plain words.
        self.errors: dict[str, str] = {}
        self.writer: Writer
        #: Autotask's currencies and PayDesk's internal one (None: Autotask's not known).
        self.currencies: CurrencyCheck | None = None
        self.sizes = _Sizes(0)

    # ----------------------------------------------------------------- the run

    def execute(self) -> SyncResult:
        self._close_abandoned_runs()
        states = self._load_states()
        plans = self._decide(states)
        self.sizes = _Sizes(sum(1 for spec, mode in plans if mode in ("full", "reconcile")
                                and spec.mode is not ChangeMode.SMALL))
        kind = self._kind(plans)
        run_id = self._open_run(kind)
        self.writer = Writer(
            self.engine, SPECS, run_id=run_id, kind=kind, started_at=self.started_at,
            on_progress=self.on_progress, requests=self._requests, stop=self.stop,
            queue_size=self.options.queue_pages,
            progress_interval=self.options.progress_interval,
            group_seconds=self.options.group_seconds,
        )
        writer_thread = threading.Thread(target=self.writer.run, name="paydesk-sync-writer",
                                         daemon=True)
        writer_thread.start()
        watcher = threading.Thread(target=self._watch_cancel, name="paydesk-sync-cancel",
                                   daemon=True)
        watcher.start()
        threads = [
            threading.Thread(target=self._entity, args=(spec, mode, states.get(spec.entity)),
                             name=f"paydesk-sync-{spec.entity}", daemon=True)
            for spec, mode in plans
        ]
        if self._picklists_due(states, kind):
            threads.append(threading.Thread(target=self._picklists, name="paydesk-sync-lists",
                                            daemon=True))
        with ThreadPoolExecutor(max_workers=1,
                                thread_name_prefix="paydesk-sync-currencies") as side:
            currencies: Future[CurrencyCheck | None] | None = None
            if not self._preflight():
                threads = []
            else:
                # Needed at the end only (the currency check): read while entities are.
                currencies = side.submit(self._read_currencies)
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            if currencies is not None:
                self.currencies = currencies.result()
        if not self.stop.is_set() and not ({"Companies", "Invoices"} & set(self.errors)):
            with contextlib.suppress(RuntimeError):
                self.writer.put(Batch(spec=SPECS_BY_ENTITY["Invoices"], orphans=True,
                                      currencies=self.currencies))
        self.writer.close()
        writer_thread.join()
        self.stop.set()
        watcher.join()
        return self._close_run(run_id, kind)

    def _preflight(self) -> bool:
        """Read Autotask's request budget once before the entity threads start.

        One request tells whether Autotask answers at all before any entity starts. (The
        client retries reads Autotask answered with a passing 500 itself.)
        """
        try:
            self.client.threshold_information()
        except AutotaskError as exc:
            self.errors["Autotask"] = exc.message
            for spec in SPECS:
                self.writer.fail_entity(spec.entity, "", EntityPhase.CANCELLED)
            return False
        return True

    def _read_currencies(self) -> CurrencyCheck | None:
        """Autotask's currencies (a handful): which is Autotask's internal one, and each
        one's code — to compare with PayDesk's internal currency (the one locked in Setup).

        Invoices carry no currency in Autotask; an organization's ``currencyID`` says what
        its invoices are billed in, and an organization without one is billed in Autotask's
        internal currency. Without this list (an API user not allowed to read it) the
        currency check is skipped, and the log says so.
        """
        try:
            rows = self.client.query_page(
                "Currencies", [{"op": "gt", "field": "id", "value": 0}],
                ["id", "name", "isInternalCurrency"], max_records=500)
        except AutotaskError as exc:
            log.warning("Autotask's currencies could not be read (%s); invoices are not "
                        "checked for their currency in this sync", exc.message)
            return None
        names: dict[int, str] = {}
        internal: int | None = None
        for row in rows:
            try:
                currency_id = record_id(row)
            except InvalidRecord:
                continue
            names[currency_id] = str(row.get("name") or currency_id)[:20]
            if row.get("isInternalCurrency") is True:
                internal = currency_id
        if internal is None:
            return None
        return CurrencyCheck(internal, names, self.ctx.currency)

    def _watch_cancel(self) -> None:
        while not self.stop.is_set():
            if self.cancel.wait(0.1):
                self.stop.set()
                return

    def _requests(self) -> int:
        return self.client.request_count - self.requests_at_start

    def _decide(self, states: dict[str, list[dict[str, Any]]]) -> list[tuple[EntitySpec, str]]:
        reconcile_every = self.options.reconcile_every or timedelta(
            hours=float(get_setting(self.engine, RECONCILE_HOURS_SETTING,
                                    DEFAULT_RECONCILE_HOURS)))
        now = utcnow()
        plans = []
        for spec in SPECS:
            rows = states.get(spec.entity, [])
            first = next((r for r in rows if r["partition"] == 0), None)
            if spec.mode is ChangeMode.SMALL:
                mode = "full"
            elif any(r["phase"] in ("full", "done") for r in rows):
                mode = "resume"
            elif first is None or first["full_completed_at"] is None or self.full:
                mode = "full"
            elif (first["last_reconciled_at"] is None
                  or now - first["last_reconciled_at"] >= reconcile_every):
                mode = "reconcile"
            else:
                mode = "incremental"
            plans.append((spec, mode))
        return plans

    @staticmethod
    def _kind(plans: list[tuple[EntitySpec, str]]) -> SyncKind:
        modes = {mode for spec, mode in plans if spec.mode is not ChangeMode.SMALL}
        if modes & {"full", "resume"}:
            return SyncKind.FULL
        if "reconcile" in modes:
            return SyncKind.RECONCILE
        return SyncKind.INCREMENTAL

    def _load_states(self) -> dict[str, list[dict[str, Any]]]:
        states: dict[str, list[dict[str, Any]]] = {}
        with session_scope(self.engine) as session:
            for state in session.scalars(select(SyncState)):
                states.setdefault(state.entity, []).append({
                    "partition": state.partition, "phase": state.phase,
                    "last_id": state.last_id, "upper_id": state.upper_id,
                    "watermark": state.watermark,
                    "full_completed_at": state.full_completed_at,
                    "last_reconciled_at": state.last_reconciled_at,
                    "updated_at": state.updated_at,
                })
        return states

    def _close_abandoned_runs(self) -> None:
        """Runs left 'running' by a process that was killed: we hold the lock, so they ended."""
        with session_scope(self.engine) as session:
            session.execute(
                update(SyncRun)
                .where(SyncRun.status == RunStatus.RUNNING.value)
                .values(status=RunStatus.FAILED.value,
                        error="This sync stopped unexpectedly (PayDesk was closed or the "
                              "computer restarted). The next sync carried on from where it "
                              "stopped.")
            )

    def _open_run(self, kind: SyncKind) -> int:
        with session_scope(self.engine) as session:
            run = SyncRun(kind=kind.value, started_at=self.started_at,
                          status=RunStatus.RUNNING.value, counts={}, requests=0,
                          host=f"{current_actor()} (pid {os.getpid()})"[:200])
            session.add(run)
            session.flush()
            return int(run.id)

    def _close_run(self, run_id: int, kind: SyncKind) -> SyncResult:
        finished = utcnow()
        stats = self.client.stats().by_entity
        counts = tuple(
            EntityCounts(
                c.entity, c.label, c.fetched, c.inserted, c.updated, c.deleted, c.quarantined,
                stats.get(c.entity, 0) - self.by_entity_at_start.get(c.entity, 0),
                self.errors.get(c.entity),
            )
            for c in self.writer.counts()
        )
        error: str | None = None
        if self.writer.error is not None:
            status = RunStatus.FAILED
            error = ("PayDesk could not write to its database during the sync: "
                     f"{type(self.writer.error).__name__}. Check the disk or the database "
                     "server, then sync again.")
        elif self.errors:
            status = RunStatus.FAILED
            labels = {spec.entity: spec.label for spec in SPECS}
            error = " ".join(text if name == "Autotask" else f"{labels.get(name, name)}: {text}"
                             for name, text in self.errors.items())
        elif self.cancel.is_set():
            status = RunStatus.CANCELLED
        else:
            status = RunStatus.SUCCEEDED
        requests = self._requests()
        with session_scope(self.engine) as session:
            session.execute(
                update(SyncRun).where(SyncRun.id == run_id).values(
                    finished_at=finished, status=status.value, requests=requests, error=error,
                    counts={c.entity: c.as_dict() for c in counts},
                )
            )
        return SyncResult(run_id, kind, status, self.started_at, finished, requests, counts,
                          error)

    # ----------------------------------------------------------------- per entity

    def _entity(self, spec: EntitySpec, mode: str, rows: list[dict[str, Any]] | None) -> None:
        try:
            if mode in ("full", "reconcile"):
                self._full_pass(spec, None)
            elif mode == "resume":
                self._full_pass(spec, rows or [])
            elif spec.mode is ChangeMode.INVOICES:
                self._incremental_invoices(spec, rows or [])
            else:
                self._incremental(spec, rows or [])
            if not self.stop.is_set():
                self.writer.set_phase(spec.entity, EntityPhase.DONE)
            else:
                self.writer.fail_entity(spec.entity, "", EntityPhase.CANCELLED)
        except _Stop:
            self.writer.fail_entity(spec.entity, "", EntityPhase.CANCELLED)
        except AutotaskError as exc:
            self._entity_failed(spec, exc.message)
        except RuntimeError as exc:
            if self.writer.error is None:
                log.exception("Sync of %s failed", spec.entity)
                self._entity_failed(spec, f"An unexpected problem stopped this part of the "
                                          f"sync ({type(exc).__name__}).")
            else:
                self.writer.fail_entity(spec.entity, "", EntityPhase.CANCELLED)
        except Exception as exc:
            log.exception("Sync of %s failed", spec.entity)
            self._entity_failed(spec, f"An unexpected problem stopped this part of the sync "
                                      f"({type(exc).__name__}).")

    def _entity_failed(self, spec: EntitySpec, message: str) -> None:
        self.errors[spec.entity] = message
        self.writer.fail_entity(spec.entity, message, EntityPhase.FAILED)

    # ----------------------------------------------------------------- reading

    def _query_page(self, entity: str, filters: list[dict[str, Any]], fields: list[str],
                    *, max_records: int) -> list[dict[str, Any]]:
        page: list[dict[str, Any]] = self.client.query_page(entity, filters, fields,
                                                              max_records=max_records)
        return page

    def _count(self, entity: str, filters: list[dict[str, Any]] | None = None) -> int:
        return int(self.client.count(entity, filters or []))

    def _pages(self, entity: str, filters: list[dict[str, Any]], fields: list[str], *,
               after_id: int, page_size: int | None = None) -> Iterator[list[dict[str, Any]]]:
        """Every matching record, a page at a time, by ``id gt <last id seen>`` (Autotask's
        safe paging) until a short page."""
        size = page_size or self.options.page_size
        last = after_id
        while True:
            page = self._query_page(
                entity, [*filters, {"op": "gt", "field": "id", "value": last}], fields,
                max_records=size)
            if page:
                ids = _page_ids(page)
                newest = max(ids, default=last)
                if newest <= last and (ids or len(page) >= size):
                    raise AutotaskServerError(
                        "Autotask returned records out of order while PayDesk was reading "
                        f"{entity}; the sync stopped so nothing is skipped. Try again.")
                yield page
                last = newest
            if len(page) < size:
                return

    def _wait_for(self, event: threading.Event) -> None:
        while not event.wait(0.1):
            self._check()
        self._check()

    def _check(self) -> None:
        if self.cancel.is_set():
            self.stop.set()
        if self.stop.is_set():
            raise _Stop

    def _convert(self, spec: EntitySpec, page: Sequence[dict[str, Any]]) -> Batch:
        batch = Batch(spec=spec)
        convert = spec.convert
        ctx = self.ctx
        rows = batch.rows
        for record in page:
            try:
                rows.append(convert(record, ctx))
            except InvalidRecord as exc:
                try:
                    rid: int | None = record_id(record)
                except InvalidRecord:
                    rid = None
                batch.quarantined.append((rid, exc.reason, dict(record)))
                if rid is not None:
                    batch.raw_ids.append(rid)
                continue
            batch.raw_ids.append(rows[-1]["id"])
        if len(batch.raw_ids) != len(set(batch.raw_ids)):
            self._hold_back_duplicates(batch, page)
        if rows:
            synced_at = utcnow().replace(tzinfo=None)
            for row in rows:
                row["synced_at"] = synced_at
            batch.upsert_sql, batch.upsert_params = bulk.prepare_upsert(
                self.engine.dialect, bulk.plain_table(spec.table), rows)
        return batch

    @staticmethod
    def _hold_back_duplicates(batch: Batch, page: Sequence[dict[str, Any]]) -> None:
        """Autotask sent the same id more than once in one answer: which copy is right is
        not PayDesk's guess. The id is reported in quarantine (every copy kept as sent) and
        the local row stays as it was until an answer holds the record once."""
        seen: dict[int, int] = {}
        for rid in batch.raw_ids:
            seen[rid] = seen.get(rid, 0) + 1
        repeated = {rid: n for rid, n in seen.items() if n > 1}
        batch.rows[:] = [row for row in batch.rows if row["id"] not in repeated]
        batch.quarantined[:] = [q for q in batch.quarantined if q[0] not in repeated]
        for rid, times in repeated.items():
            copies = []
            for record in page:
                try:
                    if record_id(record) == rid:
                        copies.append(dict(record))
                except InvalidRecord:
                    continue
            alike = all(copy == copies[0] for copy in copies)
            batch.quarantined.append((
                rid,
                f"Autotask sent this record {times} times in one answer"
                f"{' (the copies are identical)' if alike else ', and the copies differ'}. "
                "PayDesk keeps what it stored before and tries again on the next sync; if "
                "this repeats, report it to Autotask support.",
                {"id": rid, "copies": copies},
            ))
        # Each id once: the writer counts what Autotask returned.
        batch.raw_ids[:] = list(dict.fromkeys(batch.raw_ids))

    # ----------------------------------------------------------------- full passes

    def _full_pass(self, spec: EntitySpec, resume: list[dict[str, Any]] | None) -> None:
        entity = spec.entity
        self.writer.set_phase(entity, EntityPhase.COUNTING)
        self._check()
        if not resume and spec.mode is not ChangeMode.SMALL:
            try:
                parts, first, ranges = self._plan_partitions(spec)
            finally:
                self.sizes.report(entity, 0)  # no-op when the count was reported
            if not parts:
                self.writer.put(Batch(spec=spec, finish_full=True))
                return
        elif resume:
            pending = [r for r in resume if r["phase"] == "full"]
            if not pending:
                self.writer.put(Batch(spec=spec, finish_full=True))
                return
            after = min(r["last_id"] for r in pending)
            total = self._count(entity, [{"op": "gt", "field": "id", "value": after}])
            self.writer.set_phase(entity, EntityPhase.FETCHING, total=total)
            parts = [PartitionPlan(r["partition"], r["last_id"], r["upper_id"]) for r in pending]
            first = None
            # Done partitions may lie above ``after``: the count does not tell what is left
            # of the open-ended partition, so only ranges with both ends are shared out.
            ranges = _Ranges(self.options.page_size, None, None,
                             max(r["partition"] for r in resume) + 1)
        else:
            parts, first, ranges = self._plan_partitions(spec)
            if not parts:
                self.writer.put(Batch(spec=spec, finish_full=True))
                return
        self._run_partitions(spec, parts, first, ranges)
        self._check()
        self.writer.put(Batch(spec=spec, finish_full=True))

    def _plan_partitions(self, spec: EntitySpec
                         ) -> tuple[list[PartitionPlan], Batch | None, _Ranges]:
        """Read the first page and split the rest of the id range into partitions.

        The boundaries are estimated from the first page's id density and the total count;
        the last partition is open-ended, so a wrong estimate only unbalances the work.
        Returns the plan and the first page's batch, which carries the plan to the writer
        (``[]`` when the first page was all there is; it is then queued already).
        """
        entity = spec.entity
        size = self.options.page_size
        limit = max(1, min(self.options.max_partitions, self.client.pacing.max_in_flight))
        total: int | None = None
        if spec.mode is ChangeMode.SMALL:
            self.writer.set_phase(entity, EntityPhase.FETCHING)
            page = self._query_page(entity, [{"op": "gt", "field": "id", "value": 0}],
                                    list(spec.fields), max_records=size)
        else:
            # The count and the first page at the same time: each costs a round trip.
            with ThreadPoolExecutor(max_workers=1,
                                    thread_name_prefix=f"paydesk-sync-count-{entity}") as pool:
                counting = pool.submit(self._count, entity)
                page = self._query_page(entity, [{"op": "gt", "field": "id", "value": 0}],
                                        list(spec.fields), max_records=size)
                total = counting.result()
            self.writer.set_phase(entity, EntityPhase.FETCHING, total=total)
            # How long the largest entity takes sets the pace: a smaller one is read with
            # no more partitions than it needs to finish well within that (each partition
            # ends with a part-filled page, one request more).
            self.sizes.report(entity, math.ceil(total / size))
            largest = self.sizes.largest()
            pace = max(1.0, 0.75 * math.ceil(largest / limit))
            limit = max(1, min(limit, math.ceil(math.ceil(total / size) / pace)))
        self._check()
        batch = self._convert(spec, page)
        started = self.started_at
        if len(page) < size:
            batch.plan = (PartitionPlan(0, 0, None),)
            batch.pass_started = started
            batch.id_range = (0, None)
            batch.partition = 0
            batch.checkpoint = max(_page_ids(page), default=0)
            batch.partition_done = True
            self.writer.put(batch)
            return [], None, _Ranges(size, None, None, 1)
        ids = _page_ids(page) or [0]
        first, last = min(ids), max(ids)
        remaining = max(0, (total or 0) - len(page))
        count = max(1, min(limit, math.ceil(remaining / size)))
        density = max(1.0, (last - first) / max(1, len(page) - 1))
        plan: list[PartitionPlan] = []
        if count == 1:
            plan.append(PartitionPlan(0, last, None))
        else:
            span = remaining * density
            bounds = [last + 1 + int(span * i / count) for i in range(1, count)]
            lower = last
            for index, bound in enumerate(bounds):
                plan.append(PartitionPlan(index, lower, bound))
                lower = bound - 1
            plan.append(PartitionPlan(count - 1, lower, None))
        batch.plan = tuple(plan)
        batch.pass_started = started
        batch.id_range = (0, last)
        batch.partition = 0
        batch.checkpoint = last
        ranges = _Ranges(size, remaining if total is not None else None, density, len(plan))
        return plan, batch, ranges

    def _run_partitions(self, spec: EntitySpec, parts: list[PartitionPlan],
                        first: Batch | None, ranges: _Ranges) -> None:
        """Read the partitions at the same time. Their pages may arrive before the writer
        has room for ``first`` (which carries the plan): they wait for it to be queued.

        A thread whose partition is done takes over the upper half of the partition with
        the most left to read (`_Ranges.split`), so that one partition whose estimate was
        short does not leave Autotask's other threads idle at the end."""
        failures: list[BaseException] = []
        planned = threading.Event()
        if first is None:
            planned.set()

        def work(part: PartitionPlan) -> None:
            try:
                current: PartitionPlan | None = part
                while current is not None:
                    self._read_partition(spec, current, planned, ranges)
                    self._check()
                    current = ranges.split(self.writer, spec)
            except BaseException as exc:
                failures.append(exc)
                ranges.abandon()
                if not isinstance(exc, _Stop | AutotaskError):
                    self.stop.set()

        for part in parts:
            ranges.add(part)
        threads = [threading.Thread(target=work, args=(p,), daemon=True,
                                    name=f"paydesk-sync-{spec.entity}-{p.partition}")
                   for p in parts]
        for thread in threads:
            thread.start()
        if first is not None:
            try:
                self.writer.put(first)
            except RuntimeError as exc:
                failures.append(exc)
                self.stop.set()
            planned.set()
        for thread in threads:
            thread.join()
        for failure in failures:
            if not isinstance(failure, _Stop):
                raise failure
        if failures:
            raise _Stop

    def _read_partition(self, spec: EntitySpec, part: PartitionPlan,
                        planned: threading.Event, ranges: _Ranges) -> None:
        """Page through one id range. The next request goes out as soon as a page has
        arrived; converting it and handing it to the writer happen meanwhile on a converter
        thread (one per partition, so pages reach the writer in order). The range's upper
        end may come down meanwhile (another thread took over the rest): each request asks
        for the range as it is then, and a page's records at or above a new end are left
        to the thread that took them over."""
        size = self.options.page_size
        fields = list(spec.fields)
        last = part.last_id
        finished = False
        self._check()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix=(
                f"paydesk-sync-{spec.entity}-{part.partition}-convert")) as converter:
            staged: deque[Future[None]] = deque()
            try:
                while not finished:
                    upper = ranges.upper(part.partition)
                    filters: list[dict[str, Any]] = (
                        [{"op": "lt", "field": "id", "value": upper}] if upper is not None
                        else [])
                    page = self._query_page(
                        spec.entity, [*filters, {"op": "gt", "field": "id", "value": last}],
                        fields, max_records=size)
                    self._check()
                    ids = _page_ids(page)
                    if page and max(ids, default=last) <= last and (ids or len(page) >= size):
                        raise AutotaskServerError(
                            "Autotask returned records out of order while PayDesk was "
                            f"reading {spec.entity}; the sync stopped so nothing is skipped. "
                            "Try again.")
                    short = len(page) < size
                    page, upper, cut = ranges.received(part.partition, page, ids, short)
                    if not page:
                        break  # nothing more in the range: the closing batch below says so
                    finished = short or cut
                    up_to = upper - 1 if upper is not None else None
                    page_last = max(_page_ids(page) if cut else ids, default=last)
                    covered = (last, up_to) if finished else (last, page_last)
                    staged.append(converter.submit(self._stage, spec, page, part.partition,
                                                   page_last, covered, finished, planned))
                    last = page_last
                    while len(staged) > 2:  # bounded: at most two pages waiting here
                        staged.popleft().result()
                while staged:
                    staged.popleft().result()
            except BaseException:
                # Report the first failure: pages still waiting are dropped (their
                # checkpoints were not written, so the next run reads them again).
                for future in staged:
                    future.cancel()
                for future in staged:
                    with contextlib.suppress(BaseException):
                        future.result()
                raise
        if not finished:
            self._wait_for(planned)
            upper = ranges.upper(part.partition)
            up_to = upper - 1 if upper is not None else None
            self.writer.put(Batch(spec=spec, id_range=(last, up_to), partition=part.partition,
                                  partition_done=True))
        ranges.done(part.partition)

    def _stage(self, spec: EntitySpec, page: list[dict[str, Any]], partition: int,
               checkpoint: int, covered: tuple[int, int | None], done: bool,
               planned: threading.Event) -> None:
        """Convert one page of a partition and queue it for the writer (converter thread)."""
        self._check()
        batch = self._convert(spec, page)
        self._wait_for(planned)
        batch.partition = partition
        batch.checkpoint = checkpoint
        batch.id_range = covered
        batch.partition_done = done
        self.writer.put(batch)

    # ----------------------------------------------------------------- incremental passes

    def _state(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        return next((r for r in rows if r["partition"] == 0), {})

    def _max_id(self, spec: EntitySpec) -> int:
        table = bulk.plain_table(spec.table)
        with self.engine.connect() as connection:
            return int(connection.scalar(select(func.max(table.c.id))) or 0)

    def _incremental(self, spec: EntitySpec, rows: list[dict[str, Any]]) -> None:
        state = self._state(rows)
        watermark: datetime | None = state.get("watermark")
        items: list[dict[str, Any]] = [
            {"op": "gt", "field": "id", "value": self._max_id(spec)}]
        if watermark is not None:
            since = format_autotask_datetime(watermark - self.options.overlap)
            items += [{"op": "gte", "field": f, "value": since} for f in spec.tracking_fields]
        newest = self._read_filtered(spec, [{"op": "or", "items": items}])
        self._check()
        if spec.watermark_column is None:
            watermark = self.started_at if watermark is None else max(watermark,
                                                                       self.started_at)
        elif newest is not None:
            candidate = min(newest, self.started_at)
            if watermark is None or candidate > watermark:
                watermark = candidate
        self.writer.put(Batch(spec=spec, finish_incremental=watermark or self.started_at))

    def _read_filtered(self, spec: EntitySpec, filters: list[dict[str, Any]]) -> datetime | None:
        """Read every record matching ``filters``; returns the newest watermark value seen."""
        self.writer.set_phase(spec.entity, EntityPhase.FETCHING)
        column = spec.watermark_column
        newest = None
        for page in self._pages(spec.entity, filters, list(spec.fields),
                                          after_id=0, page_size=self.options.page_size):
            self._check()
            batch = self._convert(spec, page)
            if column is not None:
                values = [r[column] for r in batch.rows if r[column] is not None]
                if values:
                    top = max(values)
                    newest = top if newest is None or top > newest else newest
            self.writer.put(batch)
        return newest.replace(tzinfo=self.started_at.tzinfo) if newest is not None else None

    def _incremental_invoices(self, spec: EntitySpec, rows: list[dict[str, Any]]) -> None:
        state = self._state(rows)
        watermark: datetime = state.get("watermark") or self.started_at
        since = watermark - self.options.overlap
        max_id = self._max_id(spec)
        self.writer.set_phase(spec.entity, EntityPhase.FETCHING)
        # 1. Is our open set still Autotask's open set? One count answers it in most runs.
        open_filter: list[dict[str, Any]] = [
            {"op": "eq", "field": "isVoided", "value": False},
            {"op": "notExist", "field": "paidDate"},
            {"op": "lte", "field": "id", "value": max_id},
        ]
        local_open = self._local_open(max_id)
        if self._count(spec.entity, open_filter) != len(local_open):
            self._check()
            remote_open: set[int] = set()
            for page in self._pages(spec.entity, open_filter, ["id"], after_id=0):
                self._check()
                remote_open.update(_page_ids(page))
            differing = sorted(remote_open.symmetric_difference(local_open))
            for start in range(0, len(differing), self.options.page_size):
                self._check()
                chunk = differing[start : start + self.options.page_size]
                self._read_filtered(spec, [{"op": "in", "field": "id", "value": chunk}])
        self._check()
        # 2. New invoices, and those paid or voided since the last sync.
        paid_since = (since - timedelta(days=1)).date().isoformat()
        items = [
            {"op": "gt", "field": "id", "value": max_id},
            {"op": "gte", "field": "paidDate", "value": paid_since},
            {"op": "gte", "field": "voidedDate", "value": format_autotask_datetime(since)},
        ]
        self._read_filtered(spec, [{"op": "or", "items": items}])
        self._check()
        self.writer.put(Batch(spec=spec, finish_incremental=max(watermark, self.started_at)))

    def _local_open(self, max_id: int) -> set[int]:
        """Open invoices as PayDesk knows them — quarantined ones included, as Autotask
        sent them, so that a damaged open invoice does not look like a change every run."""
        table = bulk.plain_table(Invoice.__table__)
        with self.engine.connect() as connection:
            found = set(connection.scalars(
                select(table.c.id).where(table.c.is_voided.is_(False),
                                         table.c.paid_date.is_(None), table.c.id <= max_id)))
            for record_id, payload in connection.execute(
                select(QuarantinedRecord.record_id, QuarantinedRecord.payload).where(
                    QuarantinedRecord.entity == "Invoices",
                    QuarantinedRecord.record_id <= max_id)):
                if (isinstance(payload, dict) and payload.get("isVoided") in (False, None)
                        and not payload.get("paidDate")):
                    found.add(int(record_id))
        return found

    # ----------------------------------------------------------------- picklists

    def _picklists_due(self, states: dict[str, list[dict[str, Any]]], kind: SyncKind) -> bool:
        if kind is not SyncKind.INCREMENTAL:
            return True
        row = self._state(states.get("Picklists", []))
        done = row.get("full_completed_at")
        return done is None or utcnow() - done >= PICKLIST_REFRESH

    def _picklists(self) -> None:
        try:
            lists: list[tuple[str, str, list[tuple[str, str, bool, int | None]]]] = []
            refreshed: set[str] = set()
            for entity, field_name in PICKLIST_FIELDS:
                if self.stop.is_set():
                    return
                fields = self.client.entity_fields(entity, refresh=entity not in refreshed)
                refreshed.add(entity)
                info = next((f for f in fields if f.name.lower() == field_name.lower()), None)
                if info is None:
                    continue
                lists.append((entity, info.name, [
                    (p.value, p.label[:255], p.is_active, p.sort_order) for p in info.picklist]))
            self.writer.put(Batch(spec=SPECS[0], picklists=lists))
        except AutotaskError as exc:
            self.errors["Picklists"] = exc.message
        except RuntimeError:
            return



def _page_ids(page: Sequence[dict[str, Any]]) -> list[int]:
    """The valid ids of a page. A record without one cannot steer the paging; it is
    quarantined by the converter ("the record has no valid id") like any other flaw."""
    quick: list[Any] = [record.get("id") for record in page]
    # The usual page: every id a whole number in range, checked without a call per record.
    if quick and set(map(type, quick)) == {int} and min(quick) > 0 and max(quick) < INT64:
        return quick
    ids = []
    for record in page:
        try:
            ids.append(record_id(record))
        except InvalidRecord:
            continue
    return ids


class _Sizes:
    """The size (pages) of each entity a run reads in full, as their counts come in: the
    largest sets how many partitions the others need. Every entity that plans reports
    once (0 when it failed before its count), so nobody waits for a count that never
    comes; and none waits longer than `WAIT_SECONDS` for the others."""

    WAIT_SECONDS = 3.0

    def __init__(self, expected: int) -> None:
        self._expected = expected
        self._pages: dict[str, int] = {}
        self._changed = threading.Condition()

    def report(self, entity: str, pages: int) -> None:
        with self._changed:
            if entity not in self._pages:
                self._pages[entity] = pages
                self._changed.notify_all()

    def largest(self) -> int:
        """The largest entity's pages, once every entity reported (or the wait is over)."""
        with self._changed:
            self._changed.wait_for(lambda: len(self._pages) >= self._expected,
                                   timeout=self.WAIT_SECONDS)
            return max(self._pages.values(), default=0)


class _Range:
    __slots__ = ("finished", "last", "partition", "read", "start", "upper")

    def __init__(self, part: PartitionPlan) -> None:
        self.partition = part.partition
        self.start = part.last_id
        self.last = part.last_id
        self.upper = part.upper_id
        self.read = 0
        self.finished = False


class _Ranges:
    """The id ranges one entity's full pass reads at the same time, shared by its threads.

    When a thread's range is done, `split` gives it the upper part of the range with the
    most records left (estimated from what each range has read so far, and for the
    open-ended one from Autotask's count): that range's end comes down, and the new range
    is recorded with the writer **before** either side writes anything that depends on
    it, so a kill at any moment leaves checkpoints that together still cover every id.
    """

    #: A range is split only when this many pages or more are estimated to be left in it:
    #: each split costs about one request (two ranges end in a short page instead of one).
    MIN_PAGES_TO_SPLIT = 4

    def __init__(self, page_size: int, left: int | None, density: float | None,
                 next_partition: int) -> None:
        self._lock = threading.Lock()
        self._ranges: dict[int, _Range] = {}
        self._page_size = page_size
        self._left = left  # records left when the ranges started (None: not known)
        self._density = density  # ids per record, from the first page
        self._next = next_partition
        self._read = 0
        self._stopped = False

    def add(self, part: PartitionPlan) -> None:
        with self._lock:
            self._ranges[part.partition] = _Range(part)

    def upper(self, partition: int) -> int | None:
        with self._lock:
            return self._ranges[partition].upper

    def received(self, partition: int, page: list[dict[str, Any]], ids: list[int],
                 short: bool) -> tuple[list[dict[str, Any]], int | None, bool]:
        """Note a page of ``partition``; returns the page less any records at or above the
        range's end as it is now (another thread reads those), that end, and whether
        records were left out (the range is then done)."""
        with self._lock:
            rng = self._ranges[partition]
            upper = rng.upper
            cut = upper is not None and bool(ids) and max(ids) >= upper
            if cut:
                assert upper is not None
                page = [record for record in page if _id_below(record, upper)]
                ids = _page_ids(page)
            rng.read += len(page)
            self._read += len(page)
            rng.last = max(ids, default=rng.last)
            if short or cut or not page:
                rng.finished = True
            return page, upper, cut

    def done(self, partition: int) -> None:
        with self._lock:
            self._ranges[partition].finished = True

    def abandon(self) -> None:
        """A thread failed: no more ranges are handed out."""
        with self._lock:
            self._stopped = True

    def _estimate(self, rng: _Range) -> tuple[float, float] | None:
        """Records left in a range with both ends, and its ids per record."""
        if rng.read >= self._page_size:
            density = max(1.0, (rng.last - rng.start) / rng.read)
        elif self._density is not None:
            density = self._density
        else:
            return None
        if rng.upper is None:
            return None
        return max(0.0, (rng.upper - 1 - rng.last) / density), density

    def split(self, writer: Writer, spec: EntitySpec) -> PartitionPlan | None:
        """The upper half of the range with the most left, as a new range for the calling
        thread (recorded with ``writer`` first), or None when nothing is worth sharing."""
        with self._lock:
            if self._stopped:
                return None
            running = [r for r in self._ranges.values() if not r.finished]
            estimates: dict[int, tuple[float, float]] = {}
            open_ended: _Range | None = None
            for rng in running:
                if rng.upper is None:
                    open_ended = rng
                    continue
                found = self._estimate(rng)
                if found is not None:
                    estimates[rng.partition] = found
            if open_ended is not None and self._left is not None:
                density = (max(1.0, (open_ended.last - open_ended.start) / open_ended.read)
                           if open_ended.read >= self._page_size else self._density)
                if density is not None:
                    bounded = sum(left for left, _ in estimates.values())
                    left = self._left - self._read - bounded
                    estimates[open_ended.partition] = (max(0.0, left), density)
            if not estimates:
                return None
            victim_id, (left, density) = max(estimates.items(), key=lambda e: e[1][0])
            if left < self.MIN_PAGES_TO_SPLIT * self._page_size:
                return None
            victim = self._ranges[victim_id]
            # Threads without work soon: this one, and those whose range is nearly done.
            # With two of them, this one takes two thirds and the next one half of that.
            idle = 1 + sum(1 for p, (rest, _) in estimates.items()
                           if p != victim_id and rest < 2 * self._page_size)
            # The victim's next page may be on its way already: leave it room for it.
            ahead = int(1.5 * self._page_size * density) + 1
            bound = victim.last + 1 + max(ahead, int(left / (idle + 1) * density))
            if victim.upper is not None and bound >= victim.upper - ahead:
                return None
            new = PartitionPlan(self._next, bound - 1, victim.upper)
            # Recorded before the victim can see its new end (it asks under this lock) and
            # before the new range is read.
            writer.put(Batch(spec=spec, split=(victim.partition, bound, new.partition,
                                               victim.upper)))
            self._next += 1
            victim.upper = bound
            self._ranges[new.partition] = _Range(new)
            return new


def _id_below(record: dict[str, Any], bound: int) -> bool:
    """Whether a record stays in a range ending below ``bound`` (one without a valid id
    stays, to be quarantined where it arrived)."""
    try:
        return record_id(record) < bound
    except InvalidRecord:
        return True
