"""The screenshot command: every registered screen module loads, and the shell's screens
render to PNG files of the right size with sandbox data synced in."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from app.gui import screenshots
from app.gui.main_window import AREAS


def test_every_screen_module_registers_screens() -> None:
    screenshots.load_screen_modules()
    names = [screen.name for screen in screenshots.registered_screens()]
    assert len(names) == len(set(names))
    expected = {"main-window", "main-window-first-start", "crash-dialog"}
    expected |= {f"main-window-{spec.key.replace('_', '-')}" for spec in AREAS}
    assert expected <= set(names)


def test_shell_screens_render_with_sandbox_data(qtbot: QtBot, tmp_path: Path) -> None:
    report = screenshots.render_screens(tmp_path, only="main-window*")
    assert report.failed == {}
    written = {path.name for path in report.written}
    assert "main-window.png" in written and "main-window-settings.png" in written
    image = QImage(str(tmp_path / "main-window.png"))
    assert (image.width(), image.height()) == screenshots.DEFAULT_SIZE
    # Not a blank picture: the window painted more than one colour.
    colours = {image.pixel(x, y) for x in range(0, image.width(), 37)
               for y in range(0, image.height(), 29)}
    assert len(colours) > 3
