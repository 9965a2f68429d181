"""The sync against the Autotask sandbox over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select

from app.core.clock import utcnow
from app.core.storage.engine import session_scope
from app.core.storage.models import (
    Invoice,
    Organization,
    PicklistValue,
    QuarantinedRecord,
    SyncRun,
    SyncState,
    Ticket,
)
from app.core.sync import (
    EntityPhase,
    RunStatus,
    SyncAlreadyRunningError,
    SyncKind,
    SyncOptions,
    SyncProgress,
    run_sync,
)
from app.core.sync.lock import SyncLock
from app.sandbox.autotask.server import AutotaskSandbox
from tests.integration.sync.support import (
    client_for,
    differences,
    prepare,
    small_sandbox,
    sync,
)


@pytest.fixture
def sandbox() -> Iterator[AutotaskSandbox]:
    with small_sandbox(bad_records=3) as running:
        yield running


def test_first_sync_copies_everything_exactly(engine: Engine,
                                              sandbox: AutotaskSandbox) -> None:
    prepare(engine)
    progress: list[SyncProgress] = []
    result = sync(engine, client_for(sandbox), progress=progress)

    assert result.status is RunStatus.SUCCEEDED, result.error
    assert result.kind is SyncKind.FULL
    assert differences(engine, sandbox) == {}
    by_entity = {e.entity: e for e in result.entities}
    assert by_entity["Tickets"].inserted == sandbox.count("Tickets")
    # The deliberately damaged invoices are quarantined with a reason, not synced.
    assert by_entity["Invoices"].quarantined == len(sandbox.bad_record_ids) > 0
    with session_scope(engine) as s:
        reasons = s.scalars(select(QuarantinedRecord.reason)).all()
        labels = s.scalar(select(func.count()).select_from(PicklistValue))
        run = s.get(SyncRun, result.run_id)
        assert run is not None and run.status == "succeeded" and run.requests > 0
    assert len(reasons) == len(sandbox.bad_record_ids) and all(reasons)
    assert labels and labels > 10
    # Progress arrived with totals, and every entity ended done.
    assert progress and progress[-1].entities
    assert all(e.phase is EntityPhase.DONE for e in progress[-1].entities)
    # Never more than Autotask's three requests at a time on one endpoint.
    assert sandbox.max_in_flight() <= 3


def test_incremental_sync_picks_up_exactly_the_changes(engine: Engine,
                                                       sandbox: AutotaskSandbox) -> None:
    prepare(engine)
    client = client_for(sandbox)
    assert sync(engine, client).status is RunStatus.SUCCEEDED

    company = sandbox.create_company(companyName="Brand New Client LLC")
    invoice = sandbox.create_invoice(company["id"], [("Setup", "2", "150.00")])
    with session_scope(engine) as s:
        open_ids = s.scalars(select(Invoice.id).where(Invoice.status == "open")
                             .order_by(Invoice.id)).all()
    voided, paid = open_ids[0], open_ids[1]
    sandbox.void_invoice(voided)
    sandbox.pay_invoice(paid, date(2020, 1, 15))  # back-dated: only the open-set check sees it

    result = sync(engine, client)

    assert result.status is RunStatus.SUCCEEDED, result.error
    assert result.kind is SyncKind.INCREMENTAL
    counts = {e.entity: e for e in result.entities}
    assert counts["Companies"].inserted == 1 and counts["Companies"].updated == 0
    assert counts["Invoices"].inserted == 1 and counts["Invoices"].updated == 2
    assert counts["Tickets"].inserted == counts["Tickets"].updated == 0
    assert differences(engine, sandbox) == {}
    with session_scope(engine) as s:
        assert s.get(Organization, company["id"]) is not None
        new = s.get(Invoice, invoice["id"])
        assert new is not None and new.total_minor == 30000 and new.status == "open"
        assert s.get(Invoice, voided).status == "void"  # type: ignore[union-attr]
        assert s.get(Invoice, paid).status == "paid"  # type: ignore[union-attr]


def test_nothing_changed_costs_a_few_requests(engine: Engine,
                                              sandbox: AutotaskSandbox) -> None:
    prepare(engine)
    client = client_for(sandbox)
    sync(engine, client)
    result = sync(engine, client)
    assert result.kind is SyncKind.INCREMENTAL
    assert all(e.requests <= 3 for e in result.entities), result.entities
    assert sum(e.inserted + e.updated + e.deleted for e in result.entities) == 0


def test_full_sync_removes_records_that_vanished(engine: Engine,
                                                 sandbox: AutotaskSandbox) -> None:
    prepare(engine)
    client = client_for(sandbox)
    sync(engine, client)
    # A ticket deleted in Autotask: the local copy has a row Autotask no longer returns.
    tickets = sandbox.records("Tickets")
    gone = next(t["id"] + 1 for t, n in itertools.pairwise(tickets)
                if n["id"] > t["id"] + 1)
    with session_scope(engine) as s:
        s.add(Ticket(id=gone, organization_id=tickets[0]["companyID"], title="Deleted",
                     synced_at=utcnow()))
    result = sync(engine, client, full=True)
    assert result.status is RunStatus.SUCCEEDED, result.error
    assert {e.entity: e.deleted for e in result.entities}["Tickets"] == 1
    assert differences(engine, sandbox) == {}


def test_cancelled_sync_resumes_where_it_stopped(engine: Engine,
                                                 sandbox: AutotaskSandbox) -> None:
    prepare(engine)
    client = client_for(sandbox)
    cancel = threading.Event()

    def stop_early(progress: SyncProgress) -> None:
        if sum(e.counts.fetched for e in progress.entities) > 500:
            cancel.set()

    sandbox.faults.latency_ms = 20
    first = run_sync(engine, client, cancel=cancel, on_progress=stop_early,
                     options=SyncOptions(page_size=100, progress_interval=0.0,
                                         group_seconds=0.0))
    sandbox.faults.latency_ms = 0
    assert first.status is RunStatus.CANCELLED
    with session_scope(engine) as s:
        checkpoints = s.scalars(select(SyncState).where(SyncState.phase == "full")).all()
    assert checkpoints  # some partitions stopped part way
    second = sync(engine, client)
    assert second.status is RunStatus.SUCCEEDED, second.error
    assert second.kind is SyncKind.FULL
    assert differences(engine, sandbox) == {}
    total_inserted = sum(e.inserted for e in first.entities + second.entities)
    with session_scope(engine) as s:
        stored = sum(s.scalar(select(func.count()).select_from(m)) or 0
                     for m in (Organization,))
    assert stored == sandbox.count("Companies")
    assert total_inserted >= stored


def test_second_sync_is_told_who_is_syncing(engine: Engine,
                                            sandbox: AutotaskSandbox) -> None:
    prepare(engine)
    holder = SyncLock(engine)
    holder.acquire()
    try:
        with pytest.raises(SyncAlreadyRunningError) as caught:
            sync(engine, client_for(sandbox))
        assert caught.value.holder is not None
        assert "already running" in caught.value.message
        assert caught.value.holder.host in caught.value.message
    finally:
        holder.release()
    assert sync(engine, client_for(sandbox)).status is RunStatus.SUCCEEDED


def test_amounts_are_exact_minor_units(engine: Engine, sandbox: AutotaskSandbox) -> None:
    prepare(engine)
    sync(engine, client_for(sandbox))
    record = next(r for r in sandbox.records("Invoices")
                  if r["id"] not in sandbox.bad_record_ids)
    with session_scope(engine) as s:
        stored = s.get(Invoice, record["id"])
    assert stored is not None
    assert stored.total_minor == int(Decimal(str(record["invoiceTotal"])) * 100)


def test_one_failing_kind_does_not_stop_the_others(engine: Engine,
                                                   sandbox: AutotaskSandbox) -> None:
    prepare(engine)
    client = client_for(sandbox)
    sandbox.fail_next(times=50, status=403, path_contains="Contracts",
                      message="You do not have permission to read contracts.")
    result = sync(engine, client)
    assert result.status is RunStatus.FAILED
    counts = {e.entity: e for e in result.entities}
    assert counts["Contracts"].error and "not allowed" in counts["Contracts"].error
    assert result.error and "Contracts: The Autotask API user is not allowed" in result.error
    assert counts["Tickets"].error is None
    assert counts["Tickets"].inserted == sandbox.count("Tickets")
    with session_scope(engine) as s:
        run = s.get(SyncRun, result.run_id)
        assert run is not None and run.status == "failed" and run.error == result.error
    sandbox.faults.scripted.clear()
    again = sync(engine, client)
    assert again.status is RunStatus.SUCCEEDED, again.error
    assert differences(engine, sandbox) == {}
