"""A first sync fills empty tables without their secondary indexes and builds them once at
the end; whatever happens to the run, its tables have every index again when it is over.
Its id ranges are shared out again when one turns out longer than the others."""

from __future__ import annotations

import threading

from sqlalchemy import Engine, Table, select

from app.core.storage.models import Invoice, SyncState
from app.core.sync import RunStatus, SyncOptions, SyncProgress, run_sync
from app.core.sync.bulk import drop_secondary_indexes, index_names
from app.core.sync.specs import SPECS
from tests.integration.sync.support import client_for, differences, prepare, small_sandbox, sync


def _missing(engine: Engine) -> set[str]:
    wanted = {str(i.name) for spec in SPECS for i in spec.table.indexes}
    with engine.connect() as connection:
        return wanted - index_names(connection)


def _invoice_index_names() -> set[str]:
    table = Invoice.__table__
    assert isinstance(table, Table)
    return {str(i.name) for i in table.indexes}


def test_first_sync_builds_the_indexes_once_at_the_end(engine: Engine) -> None:
    prepare(engine)
    seen_missing: set[str] = set()

    def watch(progress: SyncProgress) -> None:
        # Progress is sent between the writer's transactions: what is committed now.
        seen_missing.update(_missing(engine))

    with small_sandbox() as sandbox:
        result = run_sync(engine, client_for(sandbox), cancel=threading.Event(),
                          on_progress=watch,
                          options=SyncOptions(page_size=100, progress_interval=0.0,
                                              group_seconds=0.0))
        assert result.status is RunStatus.SUCCEEDED, result.error
        assert differences(engine, sandbox) == {}
    # While invoices were being filled, their indexes were not there; now they all are.
    assert _invoice_index_names() <= seen_missing
    assert _missing(engine) == set()
    # A second, incremental run on the filled tables leaves the indexes alone.
    with small_sandbox() as sandbox:
        assert sync(engine, client_for(sandbox)).status is RunStatus.SUCCEEDED
    assert _missing(engine) == set()


def test_cancelled_first_sync_leaves_every_index_in_place(engine: Engine) -> None:
    prepare(engine)
    cancel = threading.Event()

    def stop_early(progress: SyncProgress) -> None:
        if sum(e.counts.fetched for e in progress.entities) > 500:
            cancel.set()

    with small_sandbox() as sandbox:
        sandbox.faults.latency_ms = 20
        first = run_sync(engine, client_for(sandbox), cancel=cancel, on_progress=stop_early,
                         options=SyncOptions(page_size=100, progress_interval=0.0,
                                             group_seconds=0.0))
        assert first.status is RunStatus.CANCELLED
        assert _missing(engine) == set()
        sandbox.faults.latency_ms = 0
        second = sync(engine, client_for(sandbox))
        assert second.status is RunStatus.SUCCEEDED, second.error
        assert differences(engine, sandbox) == {}
    assert _missing(engine) == set()


def test_indexes_a_killed_first_sync_left_out_come_back_with_the_next_run(
        engine: Engine) -> None:
    prepare(engine)
    with small_sandbox() as sandbox:
        assert sync(engine, client_for(sandbox)).status is RunStatus.SUCCEEDED
        # What a kill between a first page and the end of its pass leaves behind.
        table = Invoice.__table__
        assert isinstance(table, Table)
        with engine.begin() as connection:
            assert set(drop_secondary_indexes(connection, table)) == _invoice_index_names()
        assert _missing(engine) == _invoice_index_names()
        assert sync(engine, client_for(sandbox)).status is RunStatus.SUCCEEDED
        assert differences(engine, sandbox) == {}
    assert _missing(engine) == set()


def test_a_thread_done_early_takes_over_part_of_a_longer_range(engine: Engine) -> None:
    """The invoice lines' ids are uneven (eight per invoice, one to five used), so the
    first page's estimate leaves one partition longer: threads done early share it out,
    each new range recorded first, and the copy is still exact; a run cancelled after
    such a split resumes from the recorded ranges."""
    prepare(engine)
    partitions: set[int] = set()

    def watch(progress: SyncProgress) -> None:
        with engine.connect() as connection:
            partitions.update(connection.scalars(
                select(SyncState.partition).where(SyncState.entity == "BillingItems")))
        if max(partitions, default=0) >= 3:
            cancel.set()

    cancel = threading.Event()
    with small_sandbox(invoices=1500, lines_per_invoice=3.0) as sandbox:
        sandbox.faults.latency_ms = 5
        first = run_sync(engine, client_for(sandbox), cancel=cancel, on_progress=watch,
                         options=SyncOptions(page_size=50, progress_interval=0.0,
                                             group_seconds=0.0))
        assert max(partitions) >= 3  # a range beyond the three planned ones was recorded
        assert first.status is RunStatus.CANCELLED
        sandbox.faults.latency_ms = 0
        second = run_sync(engine, client_for(sandbox), cancel=threading.Event(),
                          options=SyncOptions(page_size=50))
        assert second.status is RunStatus.SUCCEEDED, second.error
        assert differences(engine, sandbox) == {}
        third = run_sync(engine, client_for(sandbox), cancel=threading.Event(),
                         full=True, options=SyncOptions(page_size=50))
        assert third.status is RunStatus.SUCCEEDED, third.error
        assert {e.entity: e.deleted for e in third.entities}["BillingItems"] == 0
        assert differences(engine, sandbox) == {}
