"""``IdTableModel``: a table model over an ordered list of ids, with rows fetched on demand.

The model holds only the ids one indexed SQL query returned (200,000 ints is about 8 MB) and
asks the database for the rows the view paints, a page of ``PAGE_SIZE`` at a time, into a
bounded cache. Sorting and filtering are new id queries. After a sync, ``refresh`` drops the
changed ids from the cache and emits ``dataChanged`` over contiguous row ranges, resetting
only when the id list itself changed (calibre's ``refresh_rows``, Anki's browser).

Page fetches are primary-key lookups of at most ``PAGE_SIZE`` rows — a few milliseconds —
so they run on the GUI thread inside ``data()``. Everything here runs on the GUI thread.

Subclasses can keep their rows in the cache as plain tuples of ints, strings and dates
(``pack_row`` / ``unpack_row``): the garbage collector stops tracking such tuples, so
scrolling through thousands of rows does not set off full collections, each of which would
freeze the table for a long frame.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Generic, TypeVar, cast

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Signal

RowT = TypeVar("RowT")

#: Rows fetched per database round trip.
PAGE_SIZE = 120
#: Rows kept in the cache before it is emptied (the view asks again for what it shows).
MAX_CACHED_ROWS = 10_000

IndexLike = QModelIndex | QPersistentModelIndex


class IdTableModel(QAbstractTableModel, Generic[RowT]):
    """Subclasses implement ``query_ids`` and ``fetch_rows``; ``data()`` uses ``row_at``."""

    #: Emitted after the id list was replaced (new sort, filter or a changed set after sync).
    idsReset = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ids: list[int] = []
        self._row_of: dict[int, int] | None = None
        self._cache: dict[int, Any] = {}  # id -> pack_row(row)

    # --- for subclasses ------------------------------------------------------------------
    def query_ids(self) -> list[int]:
        raise NotImplementedError

    def fetch_rows(self, ids: list[int]) -> dict[int, RowT]:
        raise NotImplementedError

    def pack_row(self, row: RowT) -> Any:
        """The form a row is cached in (the row itself unless a subclass packs it)."""
        return row

    def unpack_row(self, packed: Any) -> RowT:
        return cast(RowT, packed)

    # --- ids -----------------------------------------------------------------------------
    def reload(self) -> None:
        """Run the id query again and show its result (a model reset)."""
        self.set_ids(self.query_ids())

    def set_ids(self, ids: list[int]) -> None:
        self.beginResetModel()
        self._ids = ids
        self._row_of = None
        self.forget_rows(None)
        self.endResetModel()
        self.idsReset.emit()

    def ids(self) -> list[int]:
        return list(self._ids)

    def id_at(self, row: int) -> int | None:
        return self._ids[row] if 0 <= row < len(self._ids) else None

    def row_of(self, item_id: int) -> int | None:
        if self._row_of is None:
            self._row_of = {value: row for row, value in enumerate(self._ids)}
        return self._row_of.get(item_id)

    # --- rows ----------------------------------------------------------------------------
    def row_at(self, row: int) -> RowT | None:
        """The row at ``row``, fetching its page from the database if it is not cached."""
        packed = self.packed_at(row)
        return self.unpack_row(packed) if packed is not None else None

    def packed_at(self, row: int) -> Any:
        """The cached (packed) row at ``row``, fetching its page if needed; None if gone."""
        if not 0 <= row < len(self._ids):
            return None
        item_id = self._ids[row]
        cached = self._cache.get(item_id)
        if cached is not None:
            return cached
        if len(self._cache) >= MAX_CACHED_ROWS:
            self.forget_rows(None)
        start = (row // PAGE_SIZE) * PAGE_SIZE
        page = [i for i in self._ids[start : start + PAGE_SIZE] if i not in self._cache]
        pack = self.pack_row
        self._cache.update(
            (fetched_id, pack(fetched)) for fetched_id, fetched in self.fetch_rows(page).items()
        )
        return self._cache.get(item_id)

    def rows_for(self, ids: Iterable[int]) -> list[RowT]:
        """Rows for these ids (fetched together where not cached), in the given order."""
        wanted = list(ids)
        missing = [i for i in wanted if i not in self._cache]
        fetched = self.fetch_rows(missing) if missing else {}
        result: list[RowT] = []
        for item_id in wanted:
            packed = self._cache.get(item_id)
            row = self.unpack_row(packed) if packed is not None else fetched.get(item_id)
            if row is not None:
                result.append(row)
        return result

    def forget_rows(self, ids: Iterable[int] | None) -> None:
        """Drop these rows (all rows with None) from the cache; subclasses drop what they
        derived from them."""
        if ids is None:
            self._cache.clear()
        else:
            for item_id in ids:
                self._cache.pop(item_id, None)

    def cached_count(self) -> int:
        return len(self._cache)

    def cached_ids(self) -> list[int]:
        """The ids whose rows are cached (what the screen may be showing)."""
        return list(self._cache)

    # --- precise refresh -----------------------------------------------------------------
    def refresh(self, changed_ids: Iterable[int]) -> bool:
        """Bring the model up to date after these ids changed in the database.

        Returns True when the id list changed (the model was reset: the view restores
        selection and scroll by id), False when only rows were updated in place.
        """
        new_ids = self.query_ids()
        changed = set(changed_ids)
        if new_ids != self._ids:
            self.set_ids(new_ids)
            return True
        self.forget_rows(changed)
        rows = sorted(r for r in (self.row_of(i) for i in changed) if r is not None)
        last_column = self.columnCount() - 1
        for first, last in contiguous_ranges(rows):
            self.dataChanged.emit(self.index(first, 0), self.index(last, last_column))
        return False

    # --- Qt ------------------------------------------------------------------------------
    def rowCount(self, parent: IndexLike = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._ids)


def contiguous_ranges(rows: list[int]) -> list[tuple[int, int]]:
    """``[1, 2, 3, 7, 9, 10]`` → ``[(1, 3), (7, 7), (9, 10)]`` (rows must be sorted)."""
    ranges: list[tuple[int, int]] = []
    for row in rows:
        if ranges and row == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], row)
        else:
            ranges.append((row, row))
    return ranges
