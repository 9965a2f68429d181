"""Garbage collection happens on the GUI thread only (app.gui.gc), also in the real start."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QObject
from pytestqt.qtbot import QtBot

from app.gui.app import EXIT_OK, run_gui
from app.gui.gc import CHECK_INTERVAL_MS, GuiThreadGarbageCollector
from tests.gui.test_shell import _gui_args


class _Cycle:
    """Garbage that only the cyclic collector can free, holding a Qt object."""

    def __init__(self) -> None:
        self.me = self
        self.qt_object = QObject()


@pytest.fixture
def collections() -> Iterator[list[int]]:
    """The thread id of every collection that starts while the test runs."""
    seen: list[int] = []

    def record(phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            seen.append(threading.get_ident())

    gc.callbacks.append(record)
    yield seen
    gc.callbacks.remove(record)


def test_cycles_are_collected_on_the_gui_thread_not_on_a_worker(
    qtbot: QtBot, collections: list[int]
) -> None:
    gc.enable()  # as in a normal program, before PayDesk's window starts
    collector = GuiThreadGarbageCollector()
    collector.start()
    try:
        assert not gc.isenabled()
        garbage = _Cycle()
        gone = weakref.ref(garbage)
        del garbage

        kept: list[list[object]] = []

        def allocate() -> None:  # far past the young generation's threshold
            kept.append([[] for _ in range(50 * gc.get_threshold()[0])])

        worker = threading.Thread(target=allocate)
        worker.start()
        worker.join()
        assert gone() is not None  # the worker did not collect it
        qtbot.waitUntil(lambda: gone() is None, timeout=max(3_000, 3 * CHECK_INTERVAL_MS))
        assert collections and set(collections) == {threading.get_ident()}
    finally:
        collector.stop()
    assert gc.isenabled()  # put back as it was


def test_stop_leaves_collection_off_when_it_was_off_before() -> None:
    gc.disable()
    collector = GuiThreadGarbageCollector()
    collector.start()
    collector.start()  # a second start changes nothing
    collector.stop()
    collector.stop()
    assert not gc.isenabled()


def test_the_running_program_collects_on_the_gui_thread(
    qtbot: QtBot, tmp_path: Path, collections: list[int]
) -> None:
    gc.enable()
    assert run_gui(_gui_args(tmp_path / "profile")) == EXIT_OK
    assert gc.isenabled()  # restored at exit
    assert collections  # it collected at exit ...
    assert set(collections) == {threading.get_ident()}  # ... and only on this thread


def test_a_full_pass_runs_at_most_once_in_its_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checks ten times a second must not make full passes (every object the program keeps,
    on the GUI thread) ten times as frequent: the young and middle generations are collected
    whenever their counters say so, the oldest at most once per ``FULL_PASS_INTERVAL_S``."""
    from app.gui import gc as gui_gc

    clock = [1_000.0]
    passes: list[int] = []
    monkeypatch.setattr(gui_gc.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(gui_gc.gc, "get_count", lambda: (10_000, 10_000, 10_000))
    monkeypatch.setattr(gui_gc.gc, "collect", lambda generation=2: passes.append(generation) or 0)
    collector = GuiThreadGarbageCollector()
    collector.check()
    assert passes == [0, 1]  # no full pass right after start
    clock[0] += gui_gc.FULL_PASS_INTERVAL_S
    collector.check()
    collector.check()
    assert passes == [0, 1, 0, 1, 2, 0, 1]  # one full pass, then none until the next interval
    clock[0] += gui_gc.FULL_PASS_INTERVAL_S / 2
    collector.check()
    assert passes[-1] == 1
