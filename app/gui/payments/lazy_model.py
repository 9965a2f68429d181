"""A table model for ledgers that can hold 100,000 rows: ids from SQL, rows on demand.

The model keeps only the ordered, filtered list of ids that one indexed query returned, and
asks for the rows themselves a page at a time, when the view paints them. Sorting and
filtering are new id queries (run in a worker by the view), never a proxy model over every
row. A page is one primary-key lookup of at most ``PAGE_SIZE`` rows: a few milliseconds, so
it runs on the GUI thread when ``data()`` needs it, the way Anki's browser does.

Everything here runs on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, TypeVar

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QBrush, QColor, QFont

from app.gui.widgets import PILL_TONE_ROLE
from app.gui.widgets import Tone as PillTone

RowT = TypeVar("RowT")
KeyT = TypeVar("KeyT", bound=Hashable)

#: Rows fetched per database round trip.
PAGE_SIZE = 200
#: Pages kept in memory; older ones are dropped (the view asks again if it scrolls back).
MAX_CACHED_PAGES = 50

IndexLike = QModelIndex | QPersistentModelIndex


class Align(Enum):
    LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
    RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
    CENTER = Qt.AlignmentFlag.AlignCenter


class TextTone(Enum):
    """How a cell should catch the eye: statuses that need a person, amounts taken back."""

    NORMAL = "normal"
    MUTED = "muted"
    WARNING = "warning"
    ERROR = "error"
    GOOD = "good"


_TONE_COLORS = {
    TextTone.MUTED: QColor("#6b7280"),
    TextTone.WARNING: QColor("#b45309"),
    TextTone.ERROR: QColor("#b91c1c"),
    TextTone.GOOD: QColor("#047857"),
}
#: One brush per tone, shared by every cell (a QBrush per ``data()`` call adds up).
_TONE_BRUSHES = {tone: QBrush(color) for tone, color in _TONE_COLORS.items()}

_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_FONT = int(Qt.ItemDataRole.FontRole)
_ID_ROLE = int(Qt.ItemDataRole.UserRole) + 1
_ROW_ROLE = int(Qt.ItemDataRole.UserRole) + 2
_HANDLED_ROLES = frozenset(
    (_DISPLAY, _ALIGNMENT, _FOREGROUND, _TOOLTIP, _FONT, _ID_ROLE, _ROW_ROLE, PILL_TONE_ROLE)
)


@dataclass(frozen=True, slots=True)
class _Cells(Generic[RowT]):
    """One row as the view shows it, formatted once when first painted."""

    row: RowT
    texts: tuple[str, ...]
    brushes: tuple[QBrush | None, ...]
    pills: tuple[str | None, ...]


@dataclass(frozen=True)
class Column(Generic[RowT]):
    """One column: its header, how a row shows in it, and the key the id query sorts by.

    ``sort_key`` is the name the core's id query understands; ``None`` makes the column
    unsortable (clicking its header does nothing).
    """

    title: str
    text: Callable[[RowT], str]
    align: Align = Align.LEFT
    sort_key: str | None = None
    tone: Callable[[RowT], TextTone] | None = None
    tooltip: Callable[[RowT], str | None] | None = None
    bold: bool = False
    #: Width hint in characters, so a money column is wide enough before any row is seen.
    width_chars: int = 0
    #: For status columns drawn as pills (``StatusPillDelegate``): the pill's tone.
    pill: Callable[[RowT], PillTone] | None = None
    #: The header as shown when it differs from ``title`` (e.g. broken over two lines).
    header: str = ""


class LazyRowsModel(QAbstractTableModel, Generic[KeyT, RowT]):
    """Rows by key (a payment id, or a ``("refund", id)`` pair), fetched in pages by
    ``fetch_rows(keys) -> {key: row}``."""

    #: The role that returns the row's id (for opening a payment's detail, Retry, Dismiss).
    IdRole = _ID_ROLE
    #: The role that returns the whole row object.
    RowRole = _ROW_ROLE

    def __init__(
        self,
        columns: Sequence[Column[RowT]],
        fetch_rows: Callable[[Sequence[KeyT]], dict[KeyT, RowT]],
        parent: Any = None,
    ) -> None:
        super().__init__(parent)
        self._columns = list(columns)
        self._fetch_rows = fetch_rows
        self._ids: list[KeyT] = []
        self._pages: dict[int, dict[KeyT, RowT]] = {}
        self._page_order: list[int] = []
        self._cells: dict[KeyT, _Cells[RowT]] = {}
        self._alignments = tuple(int(column.align.value) for column in self._columns)
        self._bold_font = QFont()
        self._bold_font.setBold(True)
        self.fetch_count = 0  # round trips so far; benchmarks and tests read it

    # --- what the view shows ------------------------------------------------------------
    def columns(self) -> list[Column[RowT]]:
        return list(self._columns)

    def ids(self) -> list[KeyT]:
        return list(self._ids)

    def set_ids(self, ids: Sequence[KeyT]) -> None:
        """Replace the id list (a new filter or sort): the view is reset."""
        self.beginResetModel()
        self._ids = list(ids)
        self._pages.clear()
        self._page_order.clear()
        self._cells.clear()
        self.endResetModel()

    def refresh_ids(self, changed: Sequence[KeyT]) -> None:
        """Forget the cached rows of ``changed`` ids and repaint only their rows."""
        wanted = set(changed)
        rows = [i for i, row_id in enumerate(self._ids) if row_id in wanted]
        for page in {r // PAGE_SIZE for r in rows}:
            self._drop_page(page)
        # Emit over contiguous runs so a long list does not repaint everything.
        start: int | None = None
        previous = -2
        for r in [*rows, -1]:
            if r != previous + 1:
                if start is not None:
                    self.dataChanged.emit(
                        self.index(start, 0), self.index(previous, len(self._columns) - 1)
                    )
                start = r
            previous = r

    def row_id(self, row: int) -> KeyT | None:
        return self._ids[row] if 0 <= row < len(self._ids) else None

    def row_object(self, row: int) -> RowT | None:
        row_id = self.row_id(row)
        if row_id is None:
            return None
        return self._page_for(row).get(row_id)

    def sort_key(self, column: int) -> str | None:
        return self._columns[column].sort_key if 0 <= column < len(self._columns) else None

    # --- QAbstractTableModel --------------------------------------------------------------
    def rowCount(self, parent: IndexLike = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._ids)

    def columnCount(self, parent: IndexLike = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._columns)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self._columns):
            return None
        column = self._columns[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.header or column.title
        if role == Qt.ItemDataRole.ToolTipRole:
            return column.title
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return column.align.value
        return None

    def data(self, index: IndexLike, role: int = _DISPLAY) -> Any:
        # Called for every visible cell and role on each repaint: plain int comparisons
        # and each row's cells formatted once (``_cells_at``), not per call.
        if role not in _HANDLED_ROLES:
            return None
        row_number = index.row()
        if not 0 <= row_number < len(self._ids):
            return None
        if role == _ID_ROLE:
            return self._ids[row_number]
        column_number = index.column()
        if role == _ALIGNMENT:
            return self._alignments[column_number]
        cells = self._cells_at(row_number)
        if cells is None:
            # Deleted between the id query and now; the next refresh drops it.
            return None
        if role == _DISPLAY:
            return cells.texts[column_number]
        if role == _FOREGROUND:
            return cells.brushes[column_number]
        if role == PILL_TONE_ROLE:
            return cells.pills[column_number]
        if role == _ROW_ROLE:
            return cells.row
        if role == _TOOLTIP:
            tooltip = self._columns[column_number].tooltip
            return tooltip(cells.row) if tooltip else None
        if role == _FONT and self._columns[column_number].bold:
            return self._bold_font
        return None

    def _cells_at(self, row_number: int) -> _Cells[RowT] | None:
        row_id = self._ids[row_number]
        cells = self._cells.get(row_id)
        if cells is not None:
            return cells
        row = self._page_for(row_number).get(row_id)
        if row is None:
            return None
        cells = _Cells(
            row,
            tuple(column.text(row) for column in self._columns),
            tuple(
                _TONE_BRUSHES.get(column.tone(row)) if column.tone else None
                for column in self._columns
            ),
            tuple(column.pill(row).value if column.pill else None for column in self._columns),
        )
        self._cells[row_id] = cells
        return cells

    # --- the page cache -------------------------------------------------------------------
    def _page_for(self, row: int) -> dict[KeyT, RowT]:
        page = row // PAGE_SIZE
        cached = self._pages.get(page)
        if cached is not None:
            return cached
        ids = self._ids[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
        rows = self._fetch_rows(ids)
        self.fetch_count += 1
        self._pages[page] = rows
        self._page_order.append(page)
        while len(self._page_order) > MAX_CACHED_PAGES:
            self._drop_page(self._page_order[0])
        return rows

    def _drop_page(self, page: int) -> None:
        rows = self._pages.pop(page, None)
        if rows is not None:
            for row_id in rows:
                self._cells.pop(row_id, None)
        if page in self._page_order:
            self._page_order.remove(page)
