"""No Settings section queries the database on the GUI thread: every section is opened, edited,
saved and reverted while a SQLAlchemy listener records any statement run on the GUI thread
(the technique of tests/gui/test_screen_data_access.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication
from pytestqt.qtbot import QtBot
from sqlalchemy import event

from app.core.config import set_setting
from app.core.payments import load_surcharge_settings
from app.core.receipt_identity import load_receipt_identity
from app.core.sync.history import load_sync_schedule
from app.gui.context import AppContext
from app.gui.settings import SettingsArea
from app.gui.settings.page import SettingsPage
from app.gui.settings.payments_section import PaymentsSection
from app.gui.settings.receipts_section import ReceiptsSection
from app.gui.settings.sections import SECTIONS
from app.gui.settings.sync_section import SyncSection
from tests.gui.conftest import wait_for_background_tasks


class GuiThreadQueries:
    def __init__(self) -> None:
        self.found: list[str] = []

    def check(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if threading.current_thread() is threading.main_thread():
            self.found.append(statement.split("\n")[0][:120])


@pytest.fixture
def watched(set_up_context: AppContext) -> Iterator[tuple[AppContext, GuiThreadQueries]]:
    from app.gui.sync.controller import controller_for

    # What the composition root reads once at start (see test_screen_data_access).
    set_up_context.currency()
    controller_for(set_up_context)
    set_setting(set_up_context.engine, "sync.interval_minutes", 15, actor="setup")
    watch = GuiThreadQueries()
    event.listen(set_up_context.engine, "before_cursor_execute", watch.check)
    try:
        yield set_up_context, watch
    finally:
        event.remove(set_up_context.engine, "before_cursor_execute", watch.check)


def _settle(qtbot: QtBot) -> None:
    for _ in range(3):
        QCoreApplication.processEvents()
        wait_for_background_tasks(qtbot)


def test_no_section_queries_the_database_on_the_gui_thread(
    qtbot: QtBot, watched: tuple[AppContext, GuiThreadQueries]
) -> None:
    context, watch = watched
    area = SettingsArea(context)
    qtbot.addWidget(area)
    area.resize(1200, 800)
    area.show()
    for spec in SECTIONS:
        widget = area.show_section(spec.key)
        _settle(qtbot)
        if isinstance(widget, SettingsPage):
            assert widget._has_stored, spec.key

    sync = area.show_section("sync")
    assert isinstance(sync, SyncSection)
    sync.interval.setCurrentIndex(sync.interval.findData(30))
    with qtbot.waitSignal(sync.saved, timeout=10_000):
        sync.save_button.click()
    _settle(qtbot)

    payments = area.show_section("payments")
    assert isinstance(payments, PaymentsSection)
    payments.enabled.setChecked(True)
    payments.percent.setText("2")
    with qtbot.waitSignal(payments.saved, timeout=10_000):
        payments.save_button.click()
    _settle(qtbot)

    receipts = area.show_section("receipts")
    assert isinstance(receipts, ReceiptsSection)
    receipts.name.setText("Northwind IT Services")
    with qtbot.waitSignal(receipts.saved, timeout=10_000):
        receipts.save_button.click()
    receipts.name.setText("Something else")
    receipts.revert_button.click()
    _settle(qtbot)

    assert watch.found == [], f"queries on the GUI thread: {watch.found}"
    # The saves did land (the test's own reads, after the check).
    assert load_sync_schedule(context.engine).interval_minutes == 30
    assert load_surcharge_settings(context.engine).enabled
    assert load_receipt_identity(context.engine).name == "Northwind IT Services"
