"""Open Setup from any screen inside the main window, and refresh that screen when it closes.

Screens do not import the main window (it imports them); they reach its ``open_setup`` and
``setupClosed`` through ``widget.window()``. Outside a main window (a screen shown on its
own, as in the screenshots) nothing happens.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

__all__ = ["open_setup_then"]


def open_setup_then(widget: QWidget, when_closed: Callable[[], None] | None = None) -> bool:
    """Open Setup from the window ``widget`` is in; ``when_closed`` runs once Setup closes
    (connected once, however often Setup is opened). False when there is no Setup to open."""
    window = widget.window()
    open_setup = getattr(window, "open_setup", None)
    if not callable(open_setup):
        return False
    open_setup()
    closed = getattr(window, "setupClosed", None)
    if closed is not None and when_closed is not None:
        closed.connect(when_closed, Qt.ConnectionType.UniqueConnection)
    return True
