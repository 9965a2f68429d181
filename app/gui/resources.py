"""Finding PayDesk's files (style sheet, icons) wherever PayDesk was installed from.

In a source checkout they are in ``resources/`` at the top of the tree; an installed wheel
carries the same folder as ``app/resources/`` (pyproject's ``force-include``); a frozen
PyInstaller build unpacks them under ``sys._MEIPASS``.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

from PySide6.QtGui import QIcon

_APP_PACKAGE = Path(__file__).resolve().parent.parent


class ResourceNotFoundError(FileNotFoundError):
    """A file PayDesk ships with is missing: the installation is incomplete."""


def resource_roots() -> list[Path]:
    """The folders searched for resources, in order."""
    roots = [_APP_PACKAGE / "resources", _APP_PACKAGE.parent / "resources"]
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        roots.insert(0, Path(frozen) / "resources")
    return roots


@functools.cache
def resource_path(name: str) -> Path:
    """The path of the shipped file ``name`` (e.g. ``"style.qss"``, ``"icons/paydesk.svg"``)."""
    for root in resource_roots():
        candidate = root / name
        if candidate.is_file():
            return candidate
    raise ResourceNotFoundError(
        f"PayDesk's file {name!r} is missing. Reinstall PayDesk to restore it."
    )


def style_sheet() -> str:
    """The application style sheet, with its ``url(icons/…)`` made absolute."""
    path = resource_path("style.qss")
    text = path.read_text(encoding="utf-8")
    return text.replace("url(icons/", f"url({(path.parent / 'icons').as_posix()}/")


#: Sizes of the window icon drawn from ``icons/paydesk.svg`` by ``build_scripts/make_icons.py``.
APP_ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def app_icon() -> QIcon:
    """The program icon (title bar, task bar, Dock), from the PNGs made from one drawing.

    PNGs rather than the SVG, so the icon shows even where Qt's SVG plugin is missing.
    """
    icon = QIcon()
    for size in APP_ICON_SIZES:
        icon.addFile(str(resource_path(f"icons/paydesk-{size}.png")))
    return icon
