"""Help > About PayDesk and Help > Check for Updates, in the real main window."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PySide6.QtWidgets import QLineEdit, QMessageBox
from pytestqt.qtbot import QtBot

from app import __version__
from app.core.updates import FEED_VARIABLE, UpdateStatus
from app.gui.about import AboutDialog
from app.gui.context import AppContext
from app.gui.main_window import MainWindow
from tests.gui.conftest import wait_for_background_tasks


@pytest.fixture
def window(qtbot: QtBot, set_up_context: AppContext) -> Iterator[MainWindow]:
    main = MainWindow(set_up_context)
    qtbot.addWidget(main)
    yield main
    wait_for_background_tasks(qtbot)


def help_actions(window: MainWindow) -> dict[str, object]:
    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions()}
    help_menu = menus["Help"]
    return {a.text().replace("&", ""): a for a in help_menu.actions()}  # type: ignore[union-attr]


def test_about_shows_version_profile_logs_and_the_libraries(
    qtbot: QtBot, window: MainWindow
) -> None:
    actions = help_actions(window)
    assert {"About PayDesk", "Check for Updates…"} <= set(actions)
    dialog = window.show_about()
    qtbot.waitUntil(lambda: dialog.library_list.count() > 0, timeout=10_000)
    facts = [field.text() for field in dialog.findChildren(QLineEdit)]
    profile = window.context.profile
    assert __version__ in facts
    assert str(profile.folder) in facts
    assert str(profile.logs_folder) in facts
    names = [dialog.library_list.item(i).text() for i in range(dialog.library_list.count())]
    assert any(name.startswith("PySide6") for name in names)
    assert any(name.startswith("SQLAlchemy") for name in names)
    assert "the libraries installed with this copy" in dialog.source_label.text()
    # Choosing a library shows its licence.
    row = next(i for i, name in enumerate(names) if name.startswith("requests "))
    dialog.library_list.setCurrentRow(row)
    assert "Apache License" in dialog.licence_text.toPlainText()
    assert dialog.copy_button.isEnabled()
    dialog.close()


@pytest.fixture
def release_feed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """A release feed on loopback announcing version 99.0.0; records the paths asked for."""
    asked: list[str] = []
    body = json.dumps({"tag_name": "v99.0.0",
                       "html_url": "https://github.com/acme/paydesk/releases/tag/v99.0.0"})

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv(FEED_VARIABLE, f"http://127.0.0.1:{server.server_address[1]}/latest")
    try:
        yield asked
    finally:
        server.shutdown()
        server.server_close()


def test_check_for_updates_says_a_newer_version_is_out_and_where(
    qtbot: QtBot, window: MainWindow, release_feed: list[str]
) -> None:
    with qtbot.waitSignal(window.update_check.finished, timeout=10_000) as signal:
        help_actions(window)["Check for Updates…"].trigger()  # type: ignore[attr-defined]
    check = signal.args[0]
    assert check.status is UpdateStatus.NEWER
    assert release_feed == ["/latest"]
    box = window.update_check.box
    assert isinstance(box, QMessageBox) and box.isVisible()
    assert box.text() == "PayDesk 99.0.0 is available"
    assert "https://github.com/acme/paydesk/releases/tag/v99.0.0" in box.informativeText()
    labels = [button.text() for button in box.buttons()]
    assert "Open Download Page" in labels
    box.close()


def test_with_checks_switched_off_nothing_is_asked(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FEED_VARIABLE, "off")
    dialog = AboutDialog(window.context, window)
    with qtbot.waitSignal(window.update_check.finished, timeout=10_000) as signal:
        dialog.checkForUpdatesRequested.connect(window.update_check.start)
        dialog.updates_button.click()
    assert signal.args[0].status is UpdateStatus.NOT_CONFIGURED
    box = window.update_check.box
    assert box is not None
    assert "no release feed" in box.informativeText()
    assert [b.text() for b in box.buttons()] == ["Close"]
    box.close()
    dialog.close()


def test_the_window_icon_comes_in_every_size(qtbot: QtBot) -> None:
    from PySide6.QtCore import QSize

    from app.gui.app import create_application

    icon = create_application().windowIcon()
    sizes = set(icon.availableSizes())
    assert {QSize(16, 16), QSize(32, 32), QSize(256, 256)} <= sizes


def test_the_screenshots_command_knows_the_new_screens(capsys: pytest.CaptureFixture[str]) -> None:
    from app.__main__ import main

    assert main(["screenshots", "--list"]) == 0
    names = capsys.readouterr().out.split()
    assert {"about-dialog", "update-available", "main-window"} <= set(names)
