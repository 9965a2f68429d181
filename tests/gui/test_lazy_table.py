"""The one lazy table model: ids from a loader in a worker, rows fetched by page in a
worker as they are painted, newer queries superseding older ones, precise refreshes."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt
from pytestqt.qtbot import QtBot

from app.gui.widgets.lazy_table import Align, Column, LazyTableModel, Listing, TextTone
from tests.gui.conftest import wait_for_background_tasks

Row = tuple[int, str]


class Source:
    """Rows ``(n, "row n")`` standing in for the database; counts what was fetched."""

    def __init__(self) -> None:
        self.version = "row"
        self.fetched: list[int] = []
        self.threads: set[bool] = set()

    def fetch(self, keys: Sequence[int]) -> dict[int, Row]:
        self.threads.add(threading.current_thread() is threading.main_thread())
        self.fetched.extend(keys)
        return {k: (k, f"{self.version} {k}") for k in keys}


COLUMNS = [
    Column[Row]("Number", lambda r: str(r[0]), align=Align.RIGHT, sort_key="n"),
    Column[Row]("Name", lambda r: r[1], tone=lambda r: TextTone.ERROR if r[0] % 2 else
                TextTone.NORMAL),
]


@pytest.fixture
def owner(qapp: object) -> Iterator[QObject]:
    parent = QObject()
    yield parent
    parent.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def test_rows_arrive_from_a_worker_page_by_page(qtbot: QtBot, owner: QObject) -> None:
    source = Source()
    model: LazyTableModel[int, Row] = LazyTableModel(COLUMNS, source.fetch, owner, page_size=50)
    with qtbot.waitSignal(model.idsReset):
        model.load(lambda: list(range(1_000)))
    wait_for_background_tasks(qtbot)
    assert model.rowCount() == 1_000
    assert model.index(0, 1).data() == "row 0"  # the first page came with the ids
    assert model.index(1, 1).data(Qt.ItemDataRole.ForegroundRole) is not None
    assert model.index(0, 0).data(Qt.ItemDataRole.TextAlignmentRole) & Qt.AlignmentFlag.AlignRight
    assert model.index(700, 1).data() is None  # not fetched yet: asked for, not waited on
    with qtbot.waitSignal(model.dataChanged) as changed:
        pass
    first, last = changed.args[0].row(), changed.args[1].row()
    # Only the row painted blank is repainted: a range reaching rows off screen would make
    # the view repaint its whole viewport.
    assert (first, last) == (700, 700)
    assert model.index(700, 1).data() == "row 700"
    # Reading row 700 fetched the page before it (rows 650-699) ahead; nothing painted
    # waits for it.
    repainted: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda a, b: repainted.append((a.row(), b.row())))
    wait_for_background_tasks(qtbot)
    assert model.cached_row(660) is not None and repainted == []
    assert len(source.fetched) < 300  # pages near what was read, never all 1,000 rows
    assert source.threads == {False}  # never on the GUI thread


def test_a_newer_query_supersedes_one_still_running(qtbot: QtBot, owner: QObject) -> None:
    source = Source()
    model: LazyTableModel[int, Row] = LazyTableModel(COLUMNS, source.fetch, owner)
    release = threading.Event()
    shown: list[object] = []
    model.loaded.connect(shown.append)

    def slow() -> Listing[int]:
        release.wait(5)
        return Listing([1, 2, 3], "first")

    model.load(slow)
    model.load(lambda: Listing([7, 8], "second"))
    model.load(lambda: Listing([9], "third"))
    release.set()
    wait_for_background_tasks(qtbot)
    assert shown == ["third"]  # typing "a", "ab", "abc": only the last answer is shown
    assert model.ids() == [9]


def test_refresh_updates_rows_in_place_or_resets_when_the_list_changed(
    qtbot: QtBot, owner: QObject
) -> None:
    source = Source()
    model: LazyTableModel[int, Row] = LazyTableModel(COLUMNS, source.fetch, owner)
    ids = list(range(10))
    model.load(lambda: list(ids))
    wait_for_background_tasks(qtbot)
    resets: list[int] = []
    changed: list[tuple[int, int]] = []
    model.modelReset.connect(lambda: resets.append(1))
    model.dataChanged.connect(lambda a, b: changed.append((a.row(), b.row())))
    source.version = "new"
    with qtbot.waitSignal(model.refreshed) as refreshed:
        model.refresh(lambda: list(ids), [2, 3, 4, 8])
    assert refreshed.args == [False] and not resets
    assert changed == [(2, 4), (8, 8)]
    assert model.index(3, 1).data() == "new 3" and model.index(5, 1).data() == "row 5"
    with qtbot.waitSignal(model.refreshed) as refreshed:
        model.refresh(lambda: ids[1:], [0])
    assert refreshed.args == [True] and resets == [1]
    assert model.ids() == ids[1:]


def test_first_rows_at_once_then_the_rest_appended_without_a_reset(
    qtbot: QtBot, owner: QObject
) -> None:
    """A loader that returns the first page and ``rest``: the page is shown before the rest
    is read; the rest is appended (rows inserted, no reset), so the selection stays."""
    source = Source()
    model: LazyTableModel[int, Row] = LazyTableModel(COLUMNS, source.fetch, owner, page_size=5)
    release = threading.Event()
    infos: list[object] = []
    model.loaded.connect(infos.append)
    resets: list[int] = []
    inserted: list[tuple[int, int]] = []
    model.modelReset.connect(lambda: resets.append(1))
    model.rowsInserted.connect(lambda _parent, first, last: inserted.append((first, last)))

    def rest() -> Listing[int]:
        release.wait(5)
        return Listing(list(range(100, 0, -1)), "all 100")

    with qtbot.waitSignal(model.idsReset):
        model.load(lambda: Listing([100, 99, 98, 97, 96], "first page", rest))
    assert model.rowCount() == 5 and model.is_partial() and model.is_loading()
    assert infos == ["first page"] and resets == [1]
    qtbot.waitUntil(lambda: model.index(0, 1).data() == "row 100")  # painted meanwhile
    with qtbot.waitSignal(model.idsExtended):
        release.set()
    wait_for_background_tasks(qtbot)
    assert model.rowCount() == 100 and not model.is_partial()
    assert inserted == [(5, 99)] and resets == [1]
    assert infos == ["first page", "all 100"]
    assert model.row_of(1) == 99 and model.index(99, 0).data() is None  # asked for now
    wait_for_background_tasks(qtbot)
    assert model.index(99, 1).data() == "row 1"


def test_a_rest_in_another_order_resets_and_a_newer_query_drops_the_rest(
    qtbot: QtBot, owner: QObject
) -> None:
    source = Source()
    model: LazyTableModel[int, Row] = LazyTableModel(COLUMNS, source.fetch, owner, page_size=5)
    # A sync wrote between the two reads: the whole list no longer starts with the page.
    with qtbot.waitSignal(model.idsReset):
        model.load(lambda: Listing([1, 2, 3], None, lambda: [1, 3, 2, 4]))
    with qtbot.waitSignal(model.idsReset):
        pass
    wait_for_background_tasks(qtbot)
    assert model.ids() == [1, 3, 2, 4]
    # Typing on: the rest of the older listing must not replace the newer one.
    release = threading.Event()

    def slow_rest() -> list[int]:
        release.wait(5)
        return list(range(1, 50))

    shown: list[object] = []
    model.loaded.connect(shown.append)
    model.load(lambda: Listing([1, 2], "a", slow_rest))
    qtbot.waitUntil(lambda: model.ids() == [1, 2])
    model.load(lambda: Listing([7, 8], "ab"))
    qtbot.waitUntil(lambda: model.ids() == [7, 8])
    release.set()
    wait_for_background_tasks(qtbot)
    assert model.ids() == [7, 8] and shown == ["a", "ab"] and not model.is_partial()


def test_a_refresh_reads_the_whole_listing_at_once(qtbot: QtBot, owner: QObject) -> None:
    """A refresh compares whole lists to update rows in place: it never stops at a page."""
    source = Source()
    model: LazyTableModel[int, Row] = LazyTableModel(COLUMNS, source.fetch, owner, page_size=5)
    ids = list(range(20))
    model.load(lambda: Listing(ids[:5], None, lambda: list(ids)))
    wait_for_background_tasks(qtbot)
    assert model.ids() == ids
    with qtbot.waitSignal(model.refreshed) as refreshed:
        model.refresh(lambda: Listing(ids[:5], None, lambda: list(ids)), [3])
    assert refreshed.args == [False] and model.ids() == ids and not model.is_partial()


def test_rows_the_loader_read_with_the_keys_are_not_fetched_again(
    qtbot: QtBot, owner: QObject
) -> None:
    source = Source()
    model: LazyTableModel[int, Row] = LazyTableModel(COLUMNS, source.fetch, owner, page_size=5)
    brought = {k: (k, f"brought {k}") for k in (1, 2, 3)}
    model.load(lambda: Listing([1, 2, 3, 4, 5, 6], None, rows=brought))
    wait_for_background_tasks(qtbot)
    assert model.index(0, 1).data() == "brought 1"
    assert 1 not in source.fetched and 4 in source.fetched  # only what it did not bring
