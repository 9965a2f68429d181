"""``LazyTableModel``: every large table of PayDesk — ids from SQL, rows on demand.

The model holds only the ordered, filtered keys that one indexed SQL query returned (200,000
ints is about 8 MB) and the rows of the pages the view has painted. Columns are declared
(``Column``: title, how a row reads in it, alignment, tone, tooltip, pill, the key the id
query sorts by); the model formats each row's cells once, when it is first painted.

Nothing here queries the database on the GUI thread:

* ``load(loader)`` runs ``loader()`` — the screen's id query, a function of plain values
  that calls ``app.core.queries`` — in a worker (``app.gui.workers``), together with the
  rows of the first page, and replaces the id list when the result arrives. A newer
  ``load`` while one runs supersedes it (typing in a search box runs one query per pause,
  and only the last answer is shown).
* ``refresh(loader, changed)`` (after a sync or a payment) runs the id query again and
  fetches the changed rows in the worker; if the id list is the same, only those rows are
  replaced and ``dataChanged`` is emitted over contiguous ranges (selection and scroll stay);
  otherwise the model is reset (calibre's ``refresh_rows``).
* ``data()`` for a row not fetched yet asks a worker for its page and returns nothing for
  now; when the page arrives, ``dataChanged`` repaints those rows.

Rows can be kept in the cache packed (``pack`` / ``unpack``), e.g. as plain tuples of ints,
strings and dates: the garbage collector stops tracking such tuples, so scrolling through
thousands of rows does not set off full collections that would freeze the table for a frame.

Everything here runs on the GUI thread, except the ``loader`` and ``fetch_rows`` functions,
which run on pool threads and must touch neither widgets nor models.
"""

from __future__ import annotations

import logging
from array import array
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from itertools import islice
from typing import Any, Generic, TypeVar

import shiboken6
from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont

from app.gui.theme import readable_text
from app.gui.widgets.pill import PILL_TONE_ROLE
from app.gui.widgets.pill import Tone as PillTone
from app.gui.workers import Task, WorkerFailure, run_task

log = logging.getLogger(__name__)

RowT = TypeVar("RowT")
KeyT = TypeVar("KeyT", bound=Hashable)

#: Rows fetched per database round trip (one primary-key lookup).
PAGE_SIZE = 200
#: Rows kept in the cache; the oldest are dropped first (the view asks again if it scrolls back).
MAX_CACHED_ROWS = 12_000

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


TONE_COLORS = {
    TextTone.MUTED: QColor("#6b7280"),
    TextTone.WARNING: QColor("#b45309"),
    TextTone.ERROR: QColor("#b91c1c"),
    TextTone.GOOD: QColor("#047857"),
}

_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_DECORATION = int(Qt.ItemDataRole.DecorationRole)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_FONT = int(Qt.ItemDataRole.FontRole)
_ACCESSIBLE = int(Qt.ItemDataRole.AccessibleTextRole)
_ID_ROLE = int(Qt.ItemDataRole.UserRole) + 1
_ROW_ROLE = int(Qt.ItemDataRole.UserRole) + 2
_HANDLED_ROLES = frozenset(
    (
        _DISPLAY,
        _DECORATION,
        _ALIGNMENT,
        _FOREGROUND,
        _TOOLTIP,
        _FONT,
        _ACCESSIBLE,
        _ID_ROLE,
        _ROW_ROLE,
        PILL_TONE_ROLE,
    )
)
_ROW_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable


@dataclass(frozen=True)
class Column(Generic[RowT]):
    """One column: its header, how a row shows in it, and the key the id query sorts by.

    ``sort_key`` is the name the core's id query understands; ``None`` makes the column
    unsortable. ``text`` is also what Copy and the CSV export write unless the export has
    its own cell function.
    """

    title: str
    text: Callable[[RowT], str]
    align: Align = Align.LEFT
    sort_key: str | None = None
    tone: Callable[[RowT], TextTone] | None = None
    #: A colour of its own (when the ``TextTone`` colours do not fit); wins over ``tone``.
    color: Callable[[RowT], QColor | None] | None = None
    tooltip: Callable[[RowT], str | None] | None = None
    #: What a screen reader says, when it differs from ``text`` (a pill drawn as a picture).
    accessible: Callable[[RowT], str] | None = None
    #: A picture drawn in the cell (``DecorationRole``), e.g. a status pill pixmap.
    decoration: Callable[[RowT], Any] | None = None
    bold: bool = False
    #: For status columns drawn as pills (``StatusPillDelegate``): the pill's tone.
    pill: Callable[[RowT], PillTone] | None = None
    #: The header as shown when it differs from ``title`` (e.g. broken over two lines).
    header: str = ""
    #: The header's tooltip (``title`` unless given).
    header_tooltip: str = ""
    #: Takes the width left over when the columns are fitted (``ColumnFitter``): the column
    #: that carries the meaning of a row, e.g. an organization's name.
    stretch: bool = False
    #: False: hidden until the person chooses it in the header's menu.
    shown: bool = True


@dataclass(frozen=True)
class Listing(Generic[KeyT]):
    """What a loader returns when it has more to say than the keys (e.g. totals).

    ``rest``: the keys are only the first ones of the listing, in order, and ``rest()`` reads
    the whole listing (another ``Listing`` or a sequence). The model shows the first rows at
    once and runs ``rest`` in a worker afterwards; when the whole list begins with the keys
    already shown, the others are appended (no reset: selection and scroll stay). A new
    sort or filter on a million rows thus paints in the time of one page, not of a million
    keys read into Python.
    """

    #: A list, or an ``array`` for a million integer keys (kept as given, not copied).
    ids: Sequence[KeyT]
    info: Any = None
    rest: Callable[[], Sequence[KeyT] | Listing[KeyT]] | None = None
    #: Rows the loader read along with the keys (by key): not fetched again. A loader that
    #: reads its first page's rows in the same statement as the keys spares the screen a
    #: second round trip to a shared server.
    rows: Mapping[KeyT, Any] | None = None


@dataclass(frozen=True)
class _Loaded(Generic[KeyT, RowT]):
    ids: Sequence[KeyT]
    info: Any
    rows: dict[KeyT, RowT]
    rest: Callable[[], Sequence[KeyT] | Listing[KeyT]] | None = None


def _unpack_answer(answer: Sequence[KeyT] | Listing[KeyT]) -> Listing[KeyT]:
    if isinstance(answer, Listing):
        return Listing(_own(answer.ids), answer.info, answer.rest, answer.rows)
    return Listing(_own(answer))


@dataclass(frozen=True)
class _Request(Generic[KeyT]):
    loader: Callable[[], Sequence[KeyT] | Listing[KeyT]]
    #: None: a new query (reset). A set: a refresh after these keys changed.
    changed: frozenset[KeyT] | None
    prefetch_row: int


def _own(ids: Sequence[KeyT]) -> Sequence[KeyT]:
    """The loader's ids as the model keeps them: a list or an ``array`` as it is (the
    loader made it for the model), anything else copied into a list."""
    return ids if isinstance(ids, list | array) else list(ids)


class LazyTableModel(QAbstractTableModel, Generic[KeyT, RowT]):
    """Rows by key (an invoice id, or a Payment Search key), fetched by
    ``fetch_rows(keys) -> {key: row}`` on a pool thread."""

    #: The role that returns the row's key.
    IdRole = _ID_ROLE
    #: The role that returns the whole row object (None until its page has arrived).
    RowRole = _ROW_ROLE

    #: The id list was replaced (a new query, or a refresh that changed the set).
    idsReset = Signal()
    #: The rest of a listing arrived after its first rows and was appended (no reset).
    idsExtended = Signal()
    #: A load or refresh finished: the loader's ``Listing.info`` (None for a bare list).
    loaded = Signal(object)
    #: A refresh finished: True when the id list changed (the model was reset).
    refreshed = Signal(bool)

    def __init__(
        self,
        columns: Sequence[Column[RowT]],
        fetch_rows: Callable[[Sequence[KeyT]], Mapping[KeyT, RowT]],
        parent: QObject | None = None,
        *,
        pack: Callable[[RowT], Any] | None = None,
        unpack: Callable[[Any], RowT] | None = None,
        page_size: int = PAGE_SIZE,
        task_name: str = "load the rows",
    ) -> None:
        super().__init__(parent)
        self._columns = list(columns)
        self._fetch_rows = fetch_rows
        self._pack = pack
        self._unpack = unpack
        self._page_size = page_size
        self._task_name = task_name
        self._ids: Sequence[KeyT] = []
        self._row_of: dict[KeyT, int] | None = None
        self._rows: dict[KeyT, Any] = {}  # key -> pack(row)
        self._cells: dict[KeyT, tuple[tuple[str | None, ...], ...]] = {}
        self._alignments = tuple(int(column.align.value) for column in self._columns)
        self._brushes: dict[str, QBrush] = {}
        self._bold_font = QFont()
        self._bold_font.setBold(True)
        self._generation = 0
        self._pending_pages: set[int] = set()
        #: Per page on its way: the first and last of its rows painted blank meanwhile.
        self._blank: dict[int, tuple[int, int]] = {}
        self._page_tasks: set[Task] = set()
        self._ids_task: Task | None = None
        #: The worker reading the rest of a listing whose first rows are shown.
        self._rest_task: Task | None = None
        self._next_request: _Request[KeyT] | None = None
        self._loaded_once = False
        #: Row fetches so far (pages and refreshed rows); benchmarks and tests read it.
        self.fetch_count = 0

    def on_theme_changed(self, _dark: bool = False) -> None:
        """The system switched between light and dark (``app.gui.theme.apply_theme`` calls
        it for the model of a view on screen): text colours for the new scheme, and every
        row painted again (GUI thread)."""
        self._brushes = {name: QBrush(readable_text(QColor(name))) for name in self._brushes}
        if self._ids:
            self.dataChanged.emit(self.index(0, 0),
                                  self.index(len(self._ids) - 1, len(self._columns) - 1))

    # --- columns ---------------------------------------------------------------------------
    def columns(self) -> list[Column[RowT]]:
        return list(self._columns)

    def sort_key(self, column: int) -> str | None:
        return self._columns[column].sort_key if 0 <= column < len(self._columns) else None

    # --- loading ids (in a worker) ---------------------------------------------------------
    def load(
        self, loader: Callable[[], Sequence[KeyT] | Listing[KeyT]], *, prefetch_row: int = 0
    ) -> None:
        """Run ``loader`` (the id query) in a worker and show its answer (a model reset).

        ``loader`` runs on a pool thread: give it plain values (a frozen query, the engine),
        never widgets or this model.
        """
        self._submit(_Request(loader, None, prefetch_row))

    def refresh(
        self,
        loader: Callable[[], Sequence[KeyT] | Listing[KeyT]],
        changed: Iterable[KeyT],
        *,
        prefetch_row: int = 0,
    ) -> None:
        """Bring the model up to date after the rows of ``changed`` changed in the database.

        ``refreshed(bool)`` follows: False when only rows were updated in place, True when the
        id list changed and the model was reset (the view then restores selection and scroll
        by key).
        """
        self._submit(_Request(loader, frozenset(changed), prefetch_row))

    def update_rows(self, keys: Iterable[KeyT]) -> None:
        """Fetch the rows of ``keys`` again (in a worker) and repaint only them — for a
        change that cannot alter which rows are listed (a retried posting, a refund)."""
        wanted = [key for key in dict.fromkeys(keys) if self.row_of(key) is not None]
        if not wanted:
            return
        generation = self._generation
        fetch = self._fetch_rows

        def work() -> Mapping[KeyT, RowT]:  # runs on a pool thread
            return fetch(wanted)

        task = run_task(
            self._task_name,
            work,
            on_success=lambda rows: self._on_updated(generation, wanted, rows),
        )
        self._page_tasks.add(task)
        # A bound method, not a lambda holding the task: that would be a reference cycle
        # (task → connection → lambda → task) left for the garbage collector.
        task.done.connect(self._prune_page_tasks)

    def _on_updated(self, generation: int, keys: list[KeyT], rows: Mapping[KeyT, RowT]) -> None:
        if not shiboken6.isValid(self):
            return
        self.fetch_count += 1
        for key in keys:
            self._rows.pop(key, None)
            self._cells.pop(key, None)
        self._store(rows)
        if generation != self._generation:
            return
        found = sorted(r for r in (self.row_of(key) for key in keys) if r is not None)
        last_column = len(self._columns) - 1
        for first, last in contiguous_ranges(found):
            self.dataChanged.emit(self.index(first, 0), self.index(last, last_column))

    def is_loading(self) -> bool:
        """True while an id query, the rest of a listing or a page of rows is on its way."""
        return self._ids_task is not None or self._rest_task is not None or bool(self._page_tasks)

    def is_loading_first_rows(self) -> bool:
        """True until a new listing's first rows are here (its rest may still be coming)."""
        return self._ids_task is not None or bool(self._page_tasks)

    def is_partial(self) -> bool:
        """True while only the first rows of the listing are known (the rest is coming)."""
        return self._rest_task is not None

    def has_loaded(self) -> bool:
        """True once the first id query has answered (before that, no rows means "not yet")."""
        return self._loaded_once

    def _submit(self, request: _Request[KeyT]) -> None:
        if self._ids_task is not None:
            previous = self._next_request
            if previous is not None and request.changed is not None:
                # Two refreshes (or a query then a refresh) make one: a reset wins.
                merged = None if previous.changed is None else previous.changed | request.changed
                request = _Request(request.loader, merged, request.prefetch_row)
            self._next_request = request
            return
        self._start(request)

    def _start(self, request: _Request[KeyT]) -> None:
        refresh_keys = request.changed
        page_size = self._page_size
        fetch = self._fetch_rows

        def work() -> _Loaded[KeyT, RowT]:  # runs on a pool thread
            answer = _unpack_answer(request.loader())
            if answer.rest is not None and (refresh_keys is not None or request.prefetch_row):
                # A refresh compares whole lists, and a page further down needs the keys
                # before it: read the whole listing now.
                answer = _unpack_answer(answer.rest())
                answer = Listing(answer.ids, answer.info, None, answer.rows)
            ids, info = answer.ids, answer.info
            rows: dict[KeyT, RowT] = dict(answer.rows or {})
            start = max(0, request.prefetch_row // page_size * page_size)
            wanted = [key for key in ids[start : start + page_size] if key not in rows]
            if refresh_keys:
                present = set(ids)
                # The changed rows, unless the loader just read them.
                wanted += [key for key in refresh_keys if key in present and key not in rows]
            if wanted:
                rows.update(fetch(wanted))
            return _Loaded(ids, info, rows, answer.rest)

        task = run_task(
            self._task_name,
            work,
            on_success=lambda loaded: self._on_loaded(request, loaded),
        )
        task.done.connect(self._on_ids_task_done)
        self._ids_task = task

    def _on_ids_task_done(self) -> None:
        if not shiboken6.isValid(self):
            return
        self._ids_task = None
        request, self._next_request = self._next_request, None
        if request is not None:
            self._start(request)

    def _on_loaded(self, request: _Request[KeyT], loaded: _Loaded[KeyT, RowT]) -> None:
        if not shiboken6.isValid(self):
            return  # the screen was closed while the query ran
        if self._next_request is not None and self._next_request.changed is None:
            return  # a newer query is waiting; this answer is already out of date
        self.fetch_count += 1
        self._loaded_once = True
        if request.changed is None or loaded.ids != self._ids:
            self._replace_ids(loaded.ids, loaded.rows, loaded.rest)
            self.loaded.emit(loaded.info)
            if request.changed is not None:
                self.refreshed.emit(True)
            return
        changed = request.changed
        for key in changed:
            self._rows.pop(key, None)
            self._cells.pop(key, None)
        # Only the changed rows: the others on screen stay as painted (no silent swap).
        self._store({key: row for key, row in loaded.rows.items() if key in changed})
        rows = sorted(r for r in (self.row_of(key) for key in changed) if r is not None)
        last_column = len(self._columns) - 1
        for first, last in contiguous_ranges(rows):
            self.dataChanged.emit(self.index(first, 0), self.index(last, last_column))
        self.loaded.emit(loaded.info)
        self.refreshed.emit(False)

    def _start_rest(self, rest: Callable[[], Sequence[KeyT] | Listing[KeyT]]) -> None:
        generation = self._generation

        def work() -> Listing[KeyT]:  # runs on a pool thread
            answer = _unpack_answer(rest())
            return Listing(answer.ids, answer.info)

        task = run_task(
            self._task_name,
            work,
            on_success=lambda listing: self._on_rest(generation, listing),
        )
        task.done.connect(self._on_rest_task_done)
        self._rest_task = task

    def _on_rest_task_done(self) -> None:
        task = self._rest_task if shiboken6.isValid(self) else None
        if task is not None and not task.is_running:
            self._rest_task = None

    def _on_rest(self, generation: int, listing: Listing[KeyT]) -> None:
        if not shiboken6.isValid(self) or generation != self._generation:
            return  # a newer listing replaced the one this was the rest of
        self._rest_task = None
        self.fetch_count += 1
        shown = len(self._ids)
        ids = listing.ids
        if len(ids) >= shown and list(islice(ids, shown)) == list(self._ids):
            if len(ids) > shown:
                self.beginInsertRows(QModelIndex(), shown, len(ids) - 1)
                self._ids = ids
                self._row_of = None
                self.endInsertRows()
            else:
                self._ids = ids
            self.idsExtended.emit()
        else:
            # The listing changed between the two reads (a sync wrote meanwhile).
            self._replace_ids(ids, {})
        self.loaded.emit(listing.info)

    # --- the id list -----------------------------------------------------------------------
    def set_ids(self, ids: Sequence[KeyT]) -> None:
        """Replace the id list with one already at hand (a model reset)."""
        self._replace_ids(list(ids), {})

    def _replace_ids(
        self,
        ids: Sequence[KeyT],
        rows: Mapping[KeyT, RowT],
        rest: Callable[[], Sequence[KeyT] | Listing[KeyT]] | None = None,
    ) -> None:
        self.beginResetModel()
        self._ids = ids
        self._row_of = None
        self._generation += 1
        self._rest_task = None  # the rest of an older listing is no longer wanted
        self._pending_pages.clear()
        self._blank.clear()
        self._store(rows)
        self.endResetModel()
        if rest is not None:
            self._start_rest(rest)  # before idsReset, so its slots see ``is_partial()``
        self.idsReset.emit()

    def ids(self) -> list[KeyT]:
        return list(self._ids)

    def id_at(self, row: int) -> KeyT | None:
        return self._ids[row] if 0 <= row < len(self._ids) else None

    def row_of(self, key: KeyT) -> int | None:
        if self._row_of is None:
            self._row_of = {value: row for row, value in enumerate(self._ids)}
        return self._row_of.get(key)

    # --- rows ------------------------------------------------------------------------------
    def row_at(self, row: int) -> RowT | None:
        """The row at ``row`` if its page has arrived; otherwise None, and the page is asked
        for (``dataChanged`` follows when it is here)."""
        if not 0 <= row < len(self._ids):
            return None
        packed = self._rows.get(self._ids[row])
        if packed is None:
            page = row // self._page_size
            # Painted blank: repainted when its page arrives (a page fetched ahead, never
            # painted, repaints nothing).
            low, high = self._blank.get(page, (row, row))
            self._blank[page] = (min(low, row), max(high, row))
            self._request_page(page)
            return None
        return self._unpack(packed) if self._unpack is not None else packed

    def cached_row(self, key: KeyT) -> RowT | None:
        packed = self._rows.get(key)
        if packed is None:
            return None
        return self._unpack(packed) if self._unpack is not None else packed

    def rows_for(self, keys: Iterable[KeyT]) -> list[RowT]:
        """Rows for these keys in the given order; those not cached are fetched now.

        This blocks on the database for rows that were never painted: use it for rows the
        person has seen (a selection) or from tests; screens read rows through ``data()``.
        """
        wanted = list(keys)
        missing = [key for key in wanted if key not in self._rows]
        fetched: Mapping[KeyT, RowT] = self._fetch_rows(missing) if missing else {}
        result: list[RowT] = []
        for key in wanted:
            row = self.cached_row(key)
            if row is None:
                row = fetched.get(key)
            if row is not None:
                result.append(row)
        return result

    def forget_rows(self, keys: Iterable[KeyT] | None = None) -> None:
        """Drop these rows (all rows with None) from the cache; painting fetches them again."""
        if keys is None:
            self._rows.clear()
            self._cells.clear()
            self._generation += 1
            self._pending_pages.clear()
            self._blank.clear()
            return
        for key in keys:
            self._rows.pop(key, None)
            self._cells.pop(key, None)

    def cached_keys(self) -> list[KeyT]:
        return list(self._rows)

    def cached_count(self) -> int:
        return len(self._rows)

    def _store(self, rows: Mapping[KeyT, RowT]) -> None:
        overflow = len(self._rows) + len(rows) - MAX_CACHED_ROWS
        if overflow > 0:
            # Oldest first: dicts keep insertion order.
            for key in list(islice(self._rows, overflow)):
                del self._rows[key]
                self._cells.pop(key, None)
        pack = self._pack
        for key, row in rows.items():
            self._rows[key] = pack(row) if pack is not None else row
            self._cells.pop(key, None)

    def _request_page(self, page: int) -> None:
        if page in self._pending_pages:
            return
        keys = [
            key
            for key in self._ids[page * self._page_size : (page + 1) * self._page_size]
            if key not in self._rows
        ]
        if not keys:
            return
        self._pending_pages.add(page)
        generation = self._generation
        fetch = self._fetch_rows

        def work() -> Mapping[KeyT, RowT]:  # runs on a pool thread
            return fetch(keys)

        task = run_task(
            self._task_name,
            work,
            on_success=lambda rows: self._on_page(generation, page, rows),
            on_failure=lambda failure: self._on_page_failed(generation, page, failure),
        )
        self._page_tasks.add(task)
        # A bound method, not a lambda holding the task: that would be a reference cycle
        # (task → connection → lambda → task) left for the garbage collector.
        task.done.connect(self._prune_page_tasks)

    def _prune_page_tasks(self) -> None:
        self._page_tasks = {task for task in self._page_tasks if task.is_running}

    def _on_page(self, generation: int, page: int, rows: Mapping[KeyT, RowT]) -> None:
        if not shiboken6.isValid(self):
            return
        self.fetch_count += 1
        self._store(rows)
        if generation != self._generation:
            return  # the list changed meanwhile; its own pages are on their way
        self._pending_pages.discard(page)
        blank = self._blank.pop(page, None)
        if blank is None:
            return  # fetched ahead of the scrolling: nothing on screen waits for it
        first, last = blank[0], min(blank[1], len(self._ids) - 1)
        if last >= first:
            # Only the rows painted blank: a range reaching rows off screen would make the
            # view repaint its whole viewport.
            self.dataChanged.emit(self.index(first, 0), self.index(last, len(self._columns) - 1))

    def _on_page_failed(self, generation: int, page: int, failure: WorkerFailure) -> None:
        # Painting asks again; a dialog per page would bury the person in them.
        log.warning("Could not load rows for %s: %s", self._task_name, failure.exception)
        if generation == self._generation:
            self._pending_pages.discard(page)
            self._blank.pop(page, None)

    # --- QAbstractTableModel ---------------------------------------------------------------
    def rowCount(self, parent: IndexLike = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._ids)

    def columnCount(self, parent: IndexLike = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._columns)

    def flags(self, index: IndexLike) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return _ROW_FLAGS

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self._columns):
            return None
        column = self._columns[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.header or column.title
        if role == Qt.ItemDataRole.ToolTipRole:
            return column.header_tooltip or column.title
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(column.align.value)
        return None

    def data(self, index: IndexLike, role: int = _DISPLAY) -> Any:
        # Called for every visible cell and role on each repaint: plain int comparisons,
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
            return None  # its page is on its way
        if role == _DISPLAY:
            return cells[0][column_number]
        if role == _FOREGROUND:
            color = cells[1][column_number]
            return self._brushes[color] if color is not None else None
        if role == PILL_TONE_ROLE:
            return cells[2][column_number]
        column = self._columns[column_number]
        if role == _DECORATION and column.decoration is None:
            return None
        if role == _FONT:
            return self._bold_font if column.bold else None
        row = self.row_at(row_number)
        if row is None:
            return None
        if role == _ROW_ROLE:
            return row
        if role == _DECORATION:
            return column.decoration(row) if column.decoration else None
        if role == _TOOLTIP:
            return column.tooltip(row) if column.tooltip else None
        if role == _ACCESSIBLE:
            return column.accessible(row) if column.accessible else cells[0][column_number]
        return None

    def _cells_at(self, row_number: int) -> tuple[tuple[str | None, ...], ...] | None:
        """The row's texts, foreground colour names and pill tones, formatted once.

        Only strings and None, so the garbage collector stops tracking these tuples:
        thousands of cached rows must not make each full collection (a frozen frame while
        scrolling) longer. Brushes are looked up by colour name in ``data()``."""
        key = self._ids[row_number]
        cells = self._cells.get(key)
        if cells is not None:
            return cells
        row = self.row_at(row_number)
        if row is None:
            return None
        columns = self._columns
        cells = (
            tuple(column.text(row) for column in columns),
            tuple(self._color_name(column, row) for column in columns),
            tuple(column.pill(row).value if column.pill else None for column in columns),
        )
        self._cells[key] = cells
        # Ask for the neighbouring page while this one is being read, so scrolling on
        # rarely meets rows that are still on their way.
        half = self._page_size // 2
        for near in (row_number + half, row_number - half):
            if 0 <= near < len(self._ids) and self._ids[near] not in self._rows:
                self._request_page(near // self._page_size)
        return cells

    def _color_name(self, column: Column[RowT], row: RowT) -> str | None:
        if column.color is not None:
            color = column.color(row)
        elif column.tone is not None:
            color = TONE_COLORS.get(column.tone(row))
        else:
            return None
        if color is None:
            return None
        # One brush per colour, shared by every cell (a QBrush per cell adds up).
        name = color.name()
        if name not in self._brushes:
            self._brushes[name] = QBrush(readable_text(color))
        return name


def contiguous_ranges(rows: list[int]) -> list[tuple[int, int]]:
    """``[1, 2, 3, 7, 9, 10]`` → ``[(1, 3), (7, 7), (9, 10)]`` (rows must be sorted)."""
    ranges: list[tuple[int, int]] = []
    for row in rows:
        if ranges and row == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], row)
        else:
            ranges.append((row, row))
    return ranges
