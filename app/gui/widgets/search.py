"""``SearchField``: a search box that waits for the person to pause before searching.

Typing restarts a short timer; ``searchRequested(text)`` fires once the timer runs out (or at
once on Enter, or when the clear button empties the box). Screens connect it to a new SQL
query — never filter thousands of rows in the widget.

Keyboard: the platform's Find keys (Ctrl+F, ⌘F) put the cursor in the search box of the
screen on show (``set_results`` adds the shortcut to that screen's window), and Down moves
from the box to the first result, where Enter opens it.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QLineEdit, QWidget

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
        self._results: QAbstractItemView | None = None

    def set_results(self, view: QAbstractItemView, screen: QWidget) -> None:
        """Down moves to ``view``; the Find keys focus this box while ``screen`` shows."""
        self._results = view
        find = QAction("Find", screen)
        find.setObjectName("findAction")
        find.setShortcuts(QKeySequence.keyBindings(QKeySequence.StandardKey.Find))
        # Only the screen on show answers: hidden screens' shortcuts stay quiet.
        find.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        find.triggered.connect(self.focus_for_search)
        screen.addAction(find)
        keys = find.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        self.setToolTip(f"{self.placeholderText()} ({keys})")

    @Slot()
    def focus_for_search(self) -> None:
        self.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.selectAll()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        view = self._results
        if event.key() == Qt.Key.Key_Down and view is not None and view.isVisible():
            self._emit_now()
            model = view.model()
            if model is not None and model.rowCount() > 0:
                current = view.currentIndex()
                if not current.isValid():
                    current = model.index(0, 0)
                selection = view.selectionModel()
                if selection is not None:
                    selection.setCurrentIndex(
                        current, QItemSelectionModel.SelectionFlag.ClearAndSelect
                        | QItemSelectionModel.SelectionFlag.Rows)
            view.setFocus(Qt.FocusReason.TabFocusReason)
            return
        super().keyPressEvent(event)

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
