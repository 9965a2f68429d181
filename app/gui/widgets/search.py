"""``SearchField``: a search box that waits for the person to pause before searching.

Typing restarts a short timer; ``searchRequested(text)`` fires once the timer runs out (or at
once on Enter, or when the clear button empties the box). Screens connect it to a new SQL
query — never filter thousands of rows in the widget.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer, Signal, Slot
from PySide6.QtWidgets import QLineEdit, QWidget

#: How long the person must pause before a search runs.
SEARCH_DELAY_MS = 300


class SearchField(QLineEdit):
    searchRequested = Signal(str)

    def __init__(
        self,
        placeholder: str = "Search",
        parent: QWidget | None = None,
        delay_ms: int = SEARCH_DELAY_MS,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("searchField")
        self.setPlaceholderText(placeholder)
        self.setClearButtonEnabled(True)
        self.setAccessibleName(placeholder)
        self._last_sent: str | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self._emit_now)
        self.textChanged.connect(self._restart)
        self.returnPressed.connect(self._emit_now)

    def query(self) -> str:
        """The search text, trimmed."""
        return self.text().strip()

    @Slot(str)
    def _restart(self, text: str) -> None:
        if not text:
            self._emit_now()  # the clear button: show everything again at once
        else:
            self._timer.start()

    @Slot()
    def _emit_now(self) -> None:
        self._timer.stop()
        query = self.query()
        if query != self._last_sent:
            self._last_sent = query
            self.searchRequested.emit(query)
