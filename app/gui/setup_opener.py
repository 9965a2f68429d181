"""Open Setup from any screen inside the main window — at a given step when the steps before
it are done — and refresh that screen when Setup closes.

Screens do not import the main window (it imports them); they reach its ``open_setup``,
``wizard``, ``setup_missing`` and ``setupClosed`` through ``widget.window()``. Outside a
main window (a screen shown on its own, as in the screenshots) nothing happens.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget, QWizard

__all__ = ["open_setup_then"]


def open_setup_then(widget: QWidget, when_closed: Callable[[], None] | None = None, *,
                    page_key: str | None = None) -> bool:
    """Open Setup from the window ``widget`` is in — on the step ``page_key`` (a key of
    ``app.core.setup.steps.STEP_ORDER``) when the steps before it are done, else from the
    start. ``when_closed`` runs once Setup closes (connected once, however often Setup is
    opened). False when there is no Setup to open."""
    window = widget.window()
    opener = getattr(window, "open_setup", None)
    if not callable(opener):
        return False
    was_open = getattr(window, "wizard", None) is not None
    opener()
    wizard = getattr(window, "wizard", None)
    if page_key is not None and not was_open and isinstance(wizard, QWizard):
        from app.core.setup.steps import STEP_ORDER

        page_id = STEP_ORDER[page_key]
        # What Setup still misses, as the window last read it in a worker (never read here).
        if page_id in wizard.pageIds() and getattr(window, "setup_missing", None) == []:
            wizard.setStartId(page_id)
            wizard.restart()
    closed = getattr(window, "setupClosed", None)
    if closed is not None and when_closed is not None:
        closed.connect(when_closed, Qt.ConnectionType.UniqueConnection)
    return True
