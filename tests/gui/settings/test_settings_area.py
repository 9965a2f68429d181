"""The Settings area: sections listed on the left, the chosen one on the right; facts about
the installation; Sync settings saved for every seat, audited, followed by the controller;
unsaved changes are not lost by choosing another section."""

from __future__ import annotations

from unittest.mock import patch

import pytest
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from app.core.config import set_internal_currency, setting_history
from app.core.sync.history import SyncSchedule, load_sync_schedule
from app.gui.context import AppContext
from app.gui.settings import SettingsArea
from app.gui.settings.general_section import GeneralSection
from app.gui.settings.page import SettingsPage
from app.gui.settings.sections import SECTIONS
from app.gui.settings.sync_section import SyncSection
from app.gui.sync.controller import controller_for
from tests.gui.conftest import wait_for_background_tasks


def _area(qtbot: QtBot, context: AppContext) -> SettingsArea:
    area = SettingsArea(context)
    qtbot.addWidget(area)
    area.resize(1100, 700)
    area.show()
    qtbot.waitExposed(area)
    return area


def _loaded(qtbot: QtBot, page: SettingsPage) -> None:
    qtbot.waitUntil(lambda: page._has_stored, timeout=10_000)
    wait_for_background_tasks(qtbot)


def test_the_sections_are_listed_and_general_shows_the_installation(
    qtbot: QtBot, app_context: AppContext
) -> None:
    set_internal_currency(app_context.engine, "CAD", actor="jane@office")
    area = _area(qtbot, app_context)
    titles = [area.section_list.item(i).text() for i in range(area.section_list.count())]
    assert titles == [s.title for s in SECTIONS]
    assert titles[:2] == ["General", "Sync"]
    general = area.stack.currentWidget()
    assert isinstance(general, GeneralSection)
    _loaded(qtbot, general)
    assert general.values["currency"].text() == (
        "Canadian Dollar (CAD). Chosen at setup by jane@office; it cannot be changed.")
    assert general.values["database"].text() == app_context.profile.describe_database()
    assert not general.save_button.isVisible()  # nothing here is edited


def test_sync_settings_are_saved_audited_and_followed_by_the_controller(
    qtbot: QtBot, app_context: AppContext
) -> None:
    from app.gui.sync.area import SyncArea

    controller = controller_for(app_context)
    sync_area = SyncArea(controller)  # the Sync area's own interval choice follows
    qtbot.addWidget(sync_area)
    area = _area(qtbot, app_context)
    page = area.show_section("sync")
    assert isinstance(page, SyncSection)
    _loaded(qtbot, page)
    assert "defaults are in use" in page.change_label.text()
    assert not page.save_button.isEnabled()

    page.interval.setCurrentIndex(page.interval.findData(60))
    page.run_at_start.setChecked(False)
    assert page.has_unsaved_changes() and page.save_button.isEnabled()
    with qtbot.waitSignal(page.saved, timeout=10_000):
        page.save_button.click()
    _loaded(qtbot, page)
    assert load_sync_schedule(app_context.engine) == SyncSchedule(60, False)
    assert controller.interval == 60 and controller.run_at_start is False
    assert sync_area.interval.currentData() == 60
    assert not page.has_unsaved_changes()
    assert "Last changed on" in page.change_label.text()
    history = setting_history(app_context.engine, "sync.interval_minutes")
    assert (history[0].before, history[0].after) == (None, 60)

    page.interval.setCurrentIndex(page.interval.findData(5))
    page.revert_button.click()
    assert page.interval.currentData() == 60 and not page.has_unsaved_changes()


def test_leaving_a_section_with_unsaved_changes_asks_first(
    qtbot: QtBot, app_context: AppContext
) -> None:
    area = _area(qtbot, app_context)
    page = area.show_section("sync")
    assert isinstance(page, SyncSection)
    _loaded(qtbot, page)
    page.interval.setCurrentIndex(page.interval.findData(120))

    with patch.object(QMessageBox, "question",
                      return_value=QMessageBox.StandardButton.Cancel) as asked:
        area.section_list.setCurrentRow(0)
    assert asked.called and area.current_key() == "sync"
    assert page.interval.currentData() == 120

    with patch.object(QMessageBox, "question",
                      return_value=QMessageBox.StandardButton.Discard):
        area.section_list.setCurrentRow(0)
    assert area.current_key() == "general" and not page.has_unsaved_changes()
    assert load_sync_schedule(app_context.engine).interval_minutes == 15

    area.show_section("sync")
    page.interval.setCurrentIndex(page.interval.findData(30))
    with patch.object(QMessageBox, "question", return_value=QMessageBox.StandardButton.Save):
        area.section_list.setCurrentRow(0)
    qtbot.waitUntil(lambda: load_sync_schedule(app_context.engine).interval_minutes == 30,
                    timeout=10_000)
    wait_for_background_tasks(qtbot)


@pytest.mark.parametrize(("run_at_start", "synced_minutes_ago", "starts"), [
    (True, 120, True),
    (False, 120, False),
    (True, 2, False),  # fresh enough: the last sync is more recent than the interval
])
def test_the_controller_honours_run_at_start(
    qtbot: QtBot, set_up_context: AppContext, monkeypatch: pytest.MonkeyPatch,
    run_at_start: bool, synced_minutes_ago: int, starts: bool,
) -> None:
    from datetime import timedelta

    from app.core.clock import utcnow
    from app.core.connections import AutotaskConnection, save_autotask_connection
    from app.core.storage.engine import session_scope
    from app.core.storage.models import SyncRun
    from app.core.sync.history import save_sync_schedule
    from app.gui.sync import controller as controller_module

    engine = set_up_context.engine
    save_autotask_connection(engine, AutotaskConnection(username="api@msp.example",
                                                        integration_code="CODE1"))
    finished = utcnow() - timedelta(minutes=synced_minutes_ago)
    with session_scope(engine) as s:
        s.add(SyncRun(kind="incremental", started_at=finished, finished_at=finished,
                      status="succeeded", counts={}, requests=0, host="seat-1"))
    save_sync_schedule(engine, SyncSchedule(15, run_at_start), actor="jane@office")
    monkeypatch.setattr(controller_module, "STARTUP_DELAY_MS", 10)
    calls: list[bool] = []

    def job(*_args: object, **_kwargs: object) -> object:
        calls.append(True)
        raise RuntimeError("no Autotask here")

    controller = controller_module.SyncController(set_up_context, job=job)
    controller.load_schedule()
    qtbot.waitUntil(lambda: controller.facts_loaded, timeout=5000)  # read in a worker
    assert controller.run_at_start is run_at_start and controller.interval == 15
    qtbot.wait(300)
    wait_for_background_tasks(qtbot)
    assert bool(calls) is starts


def test_closing_the_window_with_unsaved_settings_asks_first(
    qtbot: QtBot, app_context: AppContext
) -> None:
    from app.gui.main_window import MainWindow

    window = MainWindow(app_context)
    qtbot.addWidget(window)
    window.show()
    area = window.show_area("settings")
    assert isinstance(area, SettingsArea)
    page = area.show_section("sync")
    assert isinstance(page, SyncSection)
    _loaded(qtbot, page)
    page.interval.setCurrentIndex(page.interval.findData(240))

    with patch.object(QMessageBox, "question",
                      return_value=QMessageBox.StandardButton.Cancel) as asked:
        assert not window.close()
    assert asked.called and window.isVisible()

    with patch.object(QMessageBox, "question",
                      return_value=QMessageBox.StandardButton.Discard):
        assert window.close()
    assert load_sync_schedule(app_context.engine).interval_minutes == 15
    wait_for_background_tasks(qtbot)


def _window_on_sync_settings(qtbot: QtBot, context: AppContext) -> tuple[object, SyncSection]:
    from app.gui.main_window import MainWindow

    window = MainWindow(context)
    qtbot.addWidget(window)
    window.show()
    area = window.show_area("settings")
    assert isinstance(area, SettingsArea)
    page = area.show_section("sync")
    assert isinstance(page, SyncSection)
    _loaded(qtbot, page)
    return window, page


def test_choosing_another_area_with_unsaved_settings_asks_first(
    qtbot: QtBot, app_context: AppContext
) -> None:
    from app.gui.main_window import MainWindow

    window, page = _window_on_sync_settings(qtbot, app_context)
    assert isinstance(window, MainWindow)
    page.interval.setCurrentIndex(page.interval.findData(120))

    with patch.object(QMessageBox, "question",
                      return_value=QMessageBox.StandardButton.Cancel) as asked:
        window.show_area("invoices")
    assert asked.called
    assert window.current_area_key() == "settings"
    assert window.navigation.currentItem().text() == "Settings"  # the list agrees
    assert page.interval.currentData() == 120

    with patch.object(QMessageBox, "question",
                      return_value=QMessageBox.StandardButton.Discard):
        window.show_area("invoices")
    assert window.current_area_key() == "invoices" and not page.has_unsaved_changes()
    assert load_sync_schedule(app_context.engine).interval_minutes == 15

    window.show_area("settings")
    page.interval.setCurrentIndex(page.interval.findData(30))
    with patch.object(QMessageBox, "question", return_value=QMessageBox.StandardButton.Save):
        window.show_area("transactions")
    # The area changes once the save is stored.
    assert window.current_area_key() == "transactions"
    assert load_sync_schedule(app_context.engine).interval_minutes == 30
    with patch.object(QMessageBox, "question") as asked_again:
        window.show_area("settings")
        window.show_area("invoices")  # nothing unsaved: no question
    assert not asked_again.called and window.current_area_key() == "invoices"
    wait_for_background_tasks(qtbot)


def test_closing_with_save_stores_the_settings_before_the_window_goes(
    qtbot: QtBot, app_context: AppContext
) -> None:
    from app.gui.main_window import MainWindow

    window, page = _window_on_sync_settings(qtbot, app_context)
    assert isinstance(window, MainWindow)
    page.interval.setCurrentIndex(page.interval.findData(60))
    with patch.object(QMessageBox, "question", return_value=QMessageBox.StandardButton.Save):
        assert window.close()
    # Stored by the time the window is gone: PayDesk may quit right after.
    assert load_sync_schedule(app_context.engine).interval_minutes == 60
    wait_for_background_tasks(qtbot)


def test_a_save_that_fails_on_closing_keeps_the_window_open_and_says_so(
    qtbot: QtBot, app_context: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.gui.main_window import MainWindow

    window, page = _window_on_sync_settings(qtbot, app_context)
    assert isinstance(window, MainWindow)
    window.show_area("settings")
    page.interval.setCurrentIndex(page.interval.findData(240))

    def database_gone(*_args: object) -> None:
        raise OSError("the database server closed the connection")

    monkeypatch.setattr(page, "store", database_gone)
    with patch.object(QMessageBox, "question",
                      return_value=QMessageBox.StandardButton.Save), \
            patch.object(QMessageBox, "warning") as told:
        assert not window.close()
    assert window.isVisible()
    [call] = told.call_args_list
    assert "could not be saved" in call.args[2] and "Try Save again" in call.args[2]
    assert page.has_unsaved_changes() and page.interval.currentData() == 240
    assert page.message.text().startswith("Not saved.")
    assert load_sync_schedule(app_context.engine).interval_minutes == 15
    wait_for_background_tasks(qtbot)
    with patch.object(QMessageBox, "question",
                      return_value=QMessageBox.StandardButton.Discard):
        assert window.close()
