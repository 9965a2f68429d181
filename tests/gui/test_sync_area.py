"""The Sync area and the status-bar widget, driving real syncs against the Autotask sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import func, select

from app.core.connections import (
    AutotaskConnection,
    save_autotask_connection,
    save_autotask_secret,
)
from app.core.storage.engine import session_scope
from app.core.storage.models import Organization
from app.core.sync import RunStatus, SyncResult
from app.core.sync.history import interval_minutes
from app.gui.context import AppContext
from app.gui.sync import SyncArea, SyncController, SyncStatusWidget, controller_for
from app.sandbox.autotask.server import AutotaskSandbox
from tests.gui.conftest import wait_for_background_tasks


@pytest.fixture
def sandbox() -> Iterator[AutotaskSandbox]:
    with AutotaskSandbox(companies=30, contacts=60, contracts=10, tickets=200, invoices=300,
                         bad_records=2) as running:
        yield running


@pytest.fixture
def connected(set_up_context: AppContext, sandbox: AutotaskSandbox) -> AppContext:
    c = sandbox.credentials
    save_autotask_connection(set_up_context.engine, AutotaskConnection(
        username=c.username, integration_code=c.integration_code, discovery_url=sandbox.url))
    save_autotask_secret(set_up_context.credentials, c.secret)
    return set_up_context


def _run(qtbot: QtBot, controller: SyncController) -> SyncResult:
    with qtbot.waitSignal(controller.finished, timeout=30_000) as blocker:
        assert controller.sync_now()
    result = blocker.args[0]
    assert isinstance(result, SyncResult)
    return result


def test_sync_now_fills_the_area_and_the_status_bar(qtbot: QtBot, connected: AppContext,
                                                    sandbox: AutotaskSandbox) -> None:
    controller = controller_for(connected)
    area = SyncArea(controller)
    status = SyncStatusWidget(controller)
    qtbot.addWidget(area)
    qtbot.addWidget(status)
    qtbot.waitUntil(lambda: controller.facts_loaded, timeout=5000)  # read in a worker
    assert status.text() == "Not synced yet"
    changed: list[tuple[str, tuple[int, ...]]] = []
    controller.rows_changed.connect(lambda table, ids: changed.append((table, ids)))

    result = _run(qtbot, controller)

    assert result.status is RunStatus.SUCCEEDED, result.error
    assert status.text() == "Synced just now"
    assert status.sync_button.isVisibleTo(status) and not status.cancel_button.isVisibleTo(
        status)
    # The ids of the new organizations were announced so open screens can refresh them.
    announced = {i for table, ids in changed if table == "organizations" for i in ids}
    with session_scope(connected.engine) as s:
        assert len(announced) == s.scalar(select(func.count()).select_from(Organization))
    wait_for_background_tasks(qtbot)
    qtbot.waitUntil(lambda: area.history_table.rowCount() == 1, timeout=5_000)
    assert area.history_table.item(0, 2).text() == "Finished"  # type: ignore[union-attr]
    # The damaged invoices are listed with their reasons.
    assert area.quarantine_table.rowCount() == 2
    reasons = [area.quarantine_table.item(r, 3).text()  # type: ignore[union-attr]
               for r in range(2)]
    assert all(reasons)
    labels = [area.progress_table.item(r, 0).text()  # type: ignore[union-attr]
              for r in range(area.progress_table.rowCount())]
    assert "Organizations" in labels and "Invoices" in labels


def test_cancel_stops_the_sync_and_says_so(qtbot: QtBot, connected: AppContext,
                                           sandbox: AutotaskSandbox) -> None:
    sandbox.faults.latency_ms = 150
    controller = controller_for(connected)
    status = SyncStatusWidget(controller)
    area = SyncArea(controller)
    qtbot.addWidget(status)
    qtbot.addWidget(area)
    header = area.progress_table.horizontalHeaderItem
    assert [item.text() for item in (header(3), header(8)) if item] == ["Of about", "Time left"]
    assert area.progress_table.isColumnHidden(3) and area.progress_table.isColumnHidden(8)
    with qtbot.waitSignal(controller.progress, timeout=10_000):
        controller.sync_now()
    assert status.cancel_button.isVisibleTo(status)
    assert status.text().startswith("Syncing")
    # While it runs the area shows how many records to expect and how long is left ...
    assert not area.progress_table.isColumnHidden(3)
    assert not area.progress_table.isColumnHidden(8)
    with qtbot.waitSignal(controller.finished, timeout=30_000) as blocker:
        status.cancel_button.click()
    assert blocker.args[0].status is RunStatus.CANCELLED
    assert "cancelled" in status.text()
    # ... and once it has stopped those columns, which would only say "—", are hidden.
    assert area.progress_table.isColumnHidden(3) and area.progress_table.isColumnHidden(8)
    wait_for_background_tasks(qtbot)


def test_without_a_connection_the_failure_says_what_to_do(qtbot: QtBot,
                                                          set_up_context: AppContext) -> None:
    controller = controller_for(set_up_context)
    status = SyncStatusWidget(controller)
    qtbot.addWidget(status)
    # Before Setup connected Autotask the status bar offers no Sync now that can only fail.
    assert status.text() == "Not connected to Autotask"
    assert "Run Setup" in status.label.toolTip()
    assert not status.sync_button.isVisibleTo(status)
    with qtbot.waitSignal(controller.failed, timeout=10_000) as blocker:
        controller.sync_now()  # the scheduler, or the Sync area's button
    assert "Run Setup…" in blocker.args[0] and "paydesk setup" not in blocker.args[0]
    assert status.text() == "Not connected to Autotask"


def test_before_setup_the_area_offers_setup_and_the_schedule_waits(
        qtbot: QtBot, set_up_context: AppContext, sandbox: AutotaskSandbox) -> None:
    controller = controller_for(set_up_context)
    area = SyncArea(controller)
    qtbot.addWidget(area)
    qtbot.waitUntil(lambda: controller.facts_loaded, timeout=5000)  # read in a worker
    assert "Run Setup…" in area.summary.text() and "Click Sync now" not in area.summary.text()
    assert area.setup_button.isVisibleTo(area)
    assert not area.sync_button.isEnabled() and not area.full_button.isEnabled()
    controller._scheduled()  # the 15-minute timer firing
    assert not controller.running and controller.last_error is None

    c = sandbox.credentials
    save_autotask_connection(set_up_context.engine, AutotaskConnection(
        username=c.username, integration_code=c.integration_code, discovery_url=sandbox.url))
    save_autotask_secret(set_up_context.credentials, c.secret)
    area.refresh_connection()  # what closing Setup does (read in a worker)
    qtbot.waitUntil(lambda: not area.setup_button.isVisibleTo(area), timeout=5000)
    assert area.sync_button.isEnabled() and area.full_button.isEnabled()
    assert "Click Sync now" in area.summary.text()
    with qtbot.waitSignal(controller.finished, timeout=30_000):
        controller._scheduled()
    wait_for_background_tasks(qtbot)


def test_schedule_is_kept_in_the_database(qtbot: QtBot, set_up_context: AppContext) -> None:
    controller = controller_for(set_up_context)
    area = SyncArea(controller)
    qtbot.addWidget(area)
    qtbot.waitUntil(lambda: controller.facts_loaded, timeout=5000)  # read in a worker
    assert area.interval.currentData() == 15
    area.interval.setCurrentIndex(area.interval.findData(60))
    wait_for_background_tasks(qtbot)  # written in a worker
    assert interval_minutes(set_up_context.engine) == 60
    assert controller._timer.interval() == 60 * 60_000
    area.interval.setCurrentIndex(area.interval.findData(0))
    assert not controller._timer.isActive()


def test_open_invoice_history_gets_the_changed_rows(qtbot: QtBot, connected: AppContext,
                                                    sandbox: AutotaskSandbox) -> None:
    from app.gui.main_window import MainWindow

    window = MainWindow(connected)
    qtbot.addWidget(window)
    controller = controller_for(connected)
    invoices = window.show_area("invoices")
    received: list[list[int]] = []
    original = invoices.refresh_invoices  # type: ignore[attr-defined]

    def spy(ids: list[int]) -> None:
        received.append(list(ids))
        original(ids)

    invoices.refresh_invoices = spy  # type: ignore[attr-defined]
    follower = invoices.sync_changes  # type: ignore[attr-defined]
    assert _run(qtbot, controller).status is RunStatus.SUCCEEDED
    # Everything the first sync changed has been handed over.
    qtbot.waitUntil(lambda: bool(received) and not follower.timer.isActive()
                    and not follower.pending, timeout=5_000)
    received.clear()
    target = next(r["id"] for r in sandbox.records("Invoices")
                  if not r["isVoided"] and not r["paidDate"]
                  and r["id"] not in sandbox.bad_record_ids)
    sandbox.void_invoice(target)
    assert _run(qtbot, controller).status is RunStatus.SUCCEEDED
    qtbot.waitUntil(lambda: bool(received), timeout=5_000)
    assert received == [[target]]
    wait_for_background_tasks(qtbot)
