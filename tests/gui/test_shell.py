"""The application shell: main window, empty states, start-up, crash dialog, single instance,
remembered layout."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QPushButton, QTableView
from pytestqt.qtbot import QtBot

from app.core.config import Profile
from app.core.logs import LOG_FILENAME, setup_logging
from app.gui import main_window as main_window_module
from app.gui.app import (
    EXIT_ALREADY_RUNNING,
    EXIT_CANNOT_START,
    EXIT_OK,
    InstanceLock,
    InstanceServer,
    ask_open_instance_to_come_forward,
    instance_server_name,
    run_gui,
)
from app.gui.context import AppContext
from app.gui.errors import CrashDialog, CrashHandler
from app.gui.main_window import AREAS, MainWindow, area_spec
from app.gui.widgets import EmptyState
from tests.gui.conftest import wait_for_background_tasks

AREA_TITLES = ["Invoices", "Organizations", "Transactions", "Payment Search", "AutoPay",
               "QuickBooks", "Sync", "Settings"]


@pytest.fixture
def window(qtbot: QtBot, app_context: AppContext) -> Iterator[MainWindow]:
    win = MainWindow(app_context)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    wait_for_background_tasks(qtbot)
    yield win
    wait_for_background_tasks(qtbot)


def _gui_args(profile: Path, **overrides: object) -> argparse.Namespace:
    values: dict[str, object] = {
        "profile": profile,
        "database_url": None,
        "demo": False,
        "smoke": True,
    }
    values.update(overrides)
    return argparse.Namespace(**values)


def test_main_window_offers_every_area(window: MainWindow) -> None:
    assert window.broken_areas == {}
    titles = [window.navigation.item(i).text() for i in range(window.navigation.count())]
    assert titles == AREA_TITLES
    for number, spec in enumerate(AREAS):
        window.navigation.setCurrentRow(number)
        assert window.stack.currentWidget() is window.areas[spec.key]
        assert window.current_area_key() == spec.key


def test_no_area_shows_invented_rows_before_setup(window: MainWindow) -> None:
    for table in window.findChildren(QTableView):
        model = table.model()
        assert model is None or model.rowCount() == 0


def test_area_navigation_by_key(window: MainWindow) -> None:
    for spec in AREAS:
        assert window.show_area(spec.key) is window.areas[spec.key]
        assert window.current_area_key() == spec.key


def test_a_broken_screen_leaves_the_others_working(
    qtbot: QtBot, app_context: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = dataclasses.replace(
        area_spec("transactions"), factory="app.gui.no_such_screen:create_area"
    )
    areas = tuple(broken if spec.key == "transactions" else spec for spec in AREAS)
    monkeypatch.setattr(main_window_module, "AREAS", areas)
    win = MainWindow(app_context)
    qtbot.addWidget(win)
    wait_for_background_tasks(qtbot)
    assert set(win.broken_areas) == {"transactions"}
    area = win.show_area("transactions")
    assert isinstance(area, EmptyState)
    assert area.title() == "The Transactions screen could not be opened"
    assert "log file" in area.explanation()
    assert win.show_area("settings") is win.areas["settings"]


def test_smoke_start_fails_when_a_screen_is_broken(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    broken = dataclasses.replace(area_spec("sync"), factory="app.gui.no_such_screen:create")
    areas = tuple(broken if spec.key == "sync" else spec for spec in AREAS)
    monkeypatch.setattr(main_window_module, "AREAS", areas)
    assert run_gui(_gui_args(tmp_path / "profile")) == EXIT_CANNOT_START
    setup_logging(None)
    assert "could not be built: sync" in capsys.readouterr().err


def test_status_bar_names_the_database_and_has_a_sync_slot(
    qtbot: QtBot, window: MainWindow
) -> None:
    assert window.database_label.text() == "Database on this computer"
    assert "sqlite3" in window.database_label.toolTip()  # where exactly, for IT support
    assert (
        main_window_module.database_status_text(
            "postgresql+psycopg://paydesk:secret@db.office.lan:5432/paydesk"
        )
        == "Shared database paydesk on db.office.lan"
    )
    slot = QPushButton("Sync idle")
    window.set_sync_status_widget(slot)
    assert window.sync_status is slot
    replacement = QPushButton("Syncing…")
    window.set_sync_status_widget(replacement)
    assert window.sync_status is replacement


def test_settings_area_shows_the_installation(qtbot: QtBot, window: MainWindow) -> None:
    settings = window.show_area("settings")
    general = settings.section_widget("general")  # type: ignore[attr-defined]
    values = general.values
    qtbot.waitUntil(lambda: "Not chosen yet" in values["currency"].text(), timeout=5000)
    assert values["database"].text() == window.context.profile.describe_database()
    assert values["profile"].text() == str(window.context.profile.folder)


def test_window_geometry_and_area_are_remembered(
    qtbot: QtBot, app_context: AppContext
) -> None:
    first = MainWindow(app_context)
    qtbot.addWidget(first)
    first.show()
    first.resize(780, 640)
    first.show_area("sync")
    qtbot.waitUntil(lambda: first.width() == 780)
    first.close()
    assert (app_context.profile.folder / "window.ini").is_file()

    second = MainWindow(app_context)
    qtbot.addWidget(second)
    second.show()
    assert (second.width(), second.height()) == (780, 640)
    assert second.current_area_key() == "sync"


@pytest.mark.qt_no_exception_capture
def test_unhandled_exception_shows_crash_dialog_and_logs_it(
    qtbot: QtBot, tmp_path: Path
) -> None:
    log_file = setup_logging(tmp_path / "logs")
    handler = CrashHandler(log_file)
    handler.install()
    try:

        def fail() -> None:
            raise ZeroDivisionError("card 4242 4242 4242 4242 could not be divided")

        QTimer.singleShot(0, fail)
        qtbot.waitUntil(lambda: bool(handler.dialogs), timeout=5000)
        dialog = handler.dialogs[0]
        assert isinstance(dialog, CrashDialog)
        assert dialog.isVisible()
        assert "ZeroDivisionError" in dialog.details
        assert "4242 4242 4242 4242" not in dialog.details  # redacted like the log
        assert handler.crash_count == 1
        for h in logging.getLogger().handlers:
            h.flush()
        logged = (tmp_path / "logs" / LOG_FILENAME).read_text(encoding="utf-8")
        assert "Unexpected error" in logged and "ZeroDivisionError" in logged
        assert "4242 4242 4242 4242" not in logged
        assert not dialog.details_view.isVisible()  # the traceback stays folded away ...
        qtbot.keyClick(dialog, Qt.Key.Key_Return)  # ... and Enter closes the dialog
        assert not dialog.isVisible()
        assert not dialog.details_view.isVisible()
    finally:
        handler.uninstall()
        setup_logging(None)


def test_smoke_start_runs_fully_and_exits_zero(qtbot: QtBot, tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    assert run_gui(_gui_args(profile)) == EXIT_OK
    assert (profile / "paydesk.sqlite3").is_file()
    assert (profile / "logs" / LOG_FILENAME).is_file()
    assert (profile / "window.ini").is_file()
    # The lock is released when PayDesk closes: it starts again.
    assert run_gui(_gui_args(profile)) == EXIT_OK
    setup_logging(None)


def test_second_start_on_the_same_profile_is_refused(
    qtbot: QtBot, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = Profile.open(tmp_path / "profile")
    held = InstanceLock.acquire(profile)
    assert held is not None
    try:
        assert run_gui(_gui_args(profile.folder)) == EXIT_ALREADY_RUNNING
    finally:
        held.release()
        setup_logging(None)
    err = capsys.readouterr().err
    assert "PayDesk is already open for this profile" in err
    assert str(profile.folder) in err


def test_a_second_process_brings_the_first_window_forward_and_exits(tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    first = subprocess.Popen(
        [sys.executable, "-m", "app", "--profile", str(profile)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        log_file = profile / "logs" / LOG_FILENAME
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if log_file.is_file() and "brings this window forward" in log_file.read_text(
                encoding="utf-8"
            ):
                break
            assert first.poll() is None, "the first PayDesk exited early"
            time.sleep(0.1)
        second = subprocess.run(
            [sys.executable, "-m", "app", "--smoke", "--profile", str(profile)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == EXIT_ALREADY_RUNNING, second.stderr
        assert "PayDesk is already open for this profile" in second.stderr
        assert "its window was brought to the front" in second.stderr
        deadline = time.monotonic() + 10
        while "window brought to the front" not in log_file.read_text(encoding="utf-8"):
            assert time.monotonic() < deadline, "the first PayDesk did not hear the second"
            time.sleep(0.1)
    finally:
        first.terminate()
        first.wait(timeout=30)


def test_a_second_start_brings_the_open_window_forward(
    qtbot: QtBot, app_context: AppContext
) -> None:
    server = InstanceServer(app_context.profile)
    assert server.listen()
    try:
        win = MainWindow(app_context)
        qtbot.addWidget(win)
        server.activateRequested.connect(win.bring_to_front)
        win.showMinimized()
        assert win.isMinimized()
        with qtbot.waitSignal(server.activateRequested, timeout=5000):
            assert ask_open_instance_to_come_forward(app_context.profile)
        assert win.isVisible() and not win.isMinimized()
    finally:
        server.close()
    # Nobody listens any more: a second start falls back to saying PayDesk is open.
    assert not ask_open_instance_to_come_forward(app_context.profile)
    wait_for_background_tasks(qtbot)


def test_each_profile_has_its_own_instance_channel(tmp_path: Path) -> None:
    first = Profile.open(tmp_path / "one")
    second = Profile.open(tmp_path / "two")
    assert instance_server_name(first) != instance_server_name(second)
    assert instance_server_name(first) == instance_server_name(Profile.open(tmp_path / "one"))


def test_application_has_the_style_sheet(qtbot: QtBot) -> None:
    from app.gui.app import create_application

    app = create_application()
    assert isinstance(app, QApplication)
    assert "QListWidget#navigation" in app.styleSheet()
    assert not app.windowIcon().isNull()


def test_every_image_the_style_sheet_names_is_shipped() -> None:
    import re

    from app.gui.resources import resource_path, style_sheet

    text = style_sheet()
    urls = re.findall(r"url\(([^)]+)\)", text)
    assert urls, "the style sheet names no images"
    for url in urls:
        assert Path(url).is_file(), url
    assert resource_path("icons/paydesk.svg").is_file()


def test_setup_opens_by_itself_at_first_start_only(
    qtbot: QtBot, app_context: AppContext
) -> None:
    win = MainWindow(app_context)
    qtbot.addWidget(win)
    win.show()
    win.open_setup_when_needed()
    wait_for_background_tasks(qtbot)  # read in a worker
    wizard = win.wizard
    assert wizard is not None and wizard.isVisible()
    win.open_setup()  # a second request brings the same wizard forward
    assert win.wizard is wizard
    with qtbot.waitSignal(win.setupClosed, timeout=5000):
        wizard.reject()
    assert win.wizard is None
    wait_for_background_tasks(qtbot)


def test_setup_reopens_while_autotask_was_never_connected(
    qtbot: QtBot, set_up_context: AppContext
) -> None:
    """The currency alone is not a finished setup: without a tested Autotask API user there
    is nothing to sync, so Setup opens again at the next start."""
    win = MainWindow(set_up_context)
    qtbot.addWidget(win)
    win.open_setup_when_needed()
    wait_for_background_tasks(qtbot)  # read in a worker
    assert win.setup_missing
    wizard = win.wizard
    assert wizard is not None
    with qtbot.waitSignal(win.setupClosed, timeout=5000):
        wizard.reject()
    wait_for_background_tasks(qtbot)


def test_setup_stays_closed_once_autotask_is_connected_even_without_a_gateway(
    qtbot: QtBot, set_up_context: AppContext
) -> None:
    """A bookkeeper who skipped the payment gateway can still look at invoices; Setup does
    not keep opening, and the payment screens say how to connect one."""
    from app.core.gateways.connection import describe_missing_gateway

    _connect_autotask(set_up_context)
    win = MainWindow(set_up_context)
    qtbot.addWidget(win)
    win.open_setup_when_needed()
    wait_for_background_tasks(qtbot)  # read in a worker
    assert win.setup_missing == []
    assert win.wizard is None
    missing = describe_missing_gateway(set_up_context.engine, set_up_context.credentials)
    assert missing is not None and "Setup" in missing


def _connect_autotask(context: AppContext) -> None:
    """Store an Autotask API user that passed Test Connection, as the wizard does."""
    from app.core.autotask import ConnectionReport
    from app.core.connections import (
        AutotaskConnection,
        record_successful_test,
        save_autotask_connection,
        save_autotask_secret,
    )

    connection = AutotaskConnection(username="api@msp.example", integration_code="CODE1")
    report = ConnectionReport(
        "Zone 1", "https://webservices1.autotask.net/ATServicesRest/",
        "https://ww1.autotask.net/", 10, 1, 10000, 60,
    )
    save_autotask_connection(context.engine, connection)
    save_autotask_secret(context.credentials, "secret-1")
    record_successful_test(context.engine, connection, report)


def test_a_banner_says_setup_is_unfinished_until_autotask_is_connected(
    qtbot: QtBot, set_up_context: AppContext
) -> None:
    win = MainWindow(set_up_context)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(win.setup_banner.isVisible, timeout=5000)  # looked up in a worker
    banner_text = win.setup_banner_text.text()
    assert "Setup is not finished" in banner_text and "Autotask" in banner_text
    assert win.sync_status is not None
    assert win.sync_status.text() == "Not connected to Autotask"  # type: ignore[attr-defined]
    with qtbot.waitSignal(win.setupClosed, timeout=5000):
        qtbot.mouseClick(win.setup_banner_button, Qt.MouseButton.LeftButton)
        assert win.wizard is not None
        _connect_autotask(set_up_context)
        win.wizard.reject()
    qtbot.waitUntil(lambda: not win.setup_banner.isVisible(),  # no gateway needed for it to go
                    timeout=5000)
    qtbot.waitUntil(lambda: win.sync_status.text() == "Not synced yet",  # type: ignore[union-attr]
                    timeout=5000)  # read again in a worker
    wait_for_background_tasks(qtbot)
