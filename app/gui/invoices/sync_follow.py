"""Follow the sync: collect the ids it reports changed and refresh screens once they settle.

The sync reports changed ids page by page (``SyncController.rows_changed(table, ids)``); a
first sync sends hundreds of pages. ``ChangedRows`` gathers them per table and calls the
screen's handler once no new ids arrived for ``FLUSH_DELAY_MS``, so a screen re-runs its id
query a few times per sync, not once per page. GUI thread only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Slot

from app.gui.context import AppContext

log = logging.getLogger(__name__)

FLUSH_DELAY_MS = 400

Handler = Callable[[dict[str, set[int]]], None]


class ChangedRows(QObject):
    """Buffers the sync's changed ids for ``tables`` and hands them to ``handler``."""

    def __init__(self, tables: frozenset[str], handler: Handler, parent: QObject) -> None:
        super().__init__(parent)
        self.tables = tables
        self.handler = handler
        self.pending: dict[str, set[int]] = {}
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(FLUSH_DELAY_MS)
        self.timer.timeout.connect(self.flush)

    @Slot(str, object)
    def add(self, table: str, ids: object) -> None:
        if table not in self.tables or not isinstance(ids, tuple | list | set | frozenset):
            return
        self.pending.setdefault(table, set()).update(int(i) for i in ids)
        self.timer.start()

    @Slot()
    def flush(self) -> None:
        self.timer.stop()
        pending, self.pending = self.pending, {}
        if pending:
            self.handler(pending)


def follow_sync(context: AppContext, changes: ChangedRows) -> bool:
    """Connect ``changes`` to the window's sync controller; False in a build without one."""
    try:
        from app.gui.sync.controller import controller_for
    except ImportError:
        return False
    controller_for(context).rows_changed.connect(changes.add)
    return True
