"""Timing a screen from a person's point of view, shared by the table benchmarks.

A figure starts with the action (a sort, a keystroke, a scroll) and ends when the table has
painted its new rows. With a ``LazyTableModel`` that shows a listing's first rows before
the rest (``Listing.rest``), ``timed`` gives both: the time to the first rows painted (what
a person waits for) and, in ``LAST_COMPLETE_MS``, the time until the whole listing is in.
Each benchmark passes its own ``settle``: how it lets Qt run the workers and paint.
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QEventLoop

from app.gui.widgets.lazy_table import LazyTableModel

__all__ = ["LAST_COMPLETE_MS", "LAST_CPU_MS", "paint_first_rows", "peak_rss_mb", "timed"]

#: CPU milliseconds of the last ``timed`` call (this process, all threads). On a busy
#: machine the wall-clock figure includes waiting for a core; the CPU figure shows
#: PayDesk's own cost.
LAST_CPU_MS = [0.0]

#: Wall and CPU milliseconds until the whole listing was read and painted, of the last
#: ``timed`` call given a model (its own figure ends with the first rows painted).
LAST_COMPLETE_MS = [0.0, 0.0]


def paint_first_rows(
    model: LazyTableModel[Any, Any], finish: Callable[[], None] | None = None
) -> None:
    """Let Qt run until ``model`` shows the first rows of its new listing (the rest may
    still be read in a worker), then ``finish`` (e.g. paint what is dirty)."""
    while True:
        for _ in range(3):
            QCoreApplication.sendPostedEvents()
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents)
        if not model.is_loading_first_rows():
            if finish is not None:
                finish()
            return
        while model.is_loading_first_rows():
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)


def timed(
    action: Callable[[], object],
    settle: Callable[[], None],
    model: Callable[[], LazyTableModel[Any, Any]] | None = None,
    at_first_rows: Callable[[], None] | None = None,
    *,
    finish_first_rows: Callable[[], None] | None = None,
) -> float:
    """Wall-clock milliseconds from ``action`` to its rows painted (``settle`` returns when
    nothing is left to fetch or paint). With ``model`` (asked after the action): to its
    first rows painted, when ``at_first_rows`` is called; ``LAST_COMPLETE_MS`` then holds
    the time to the whole listing."""
    start, cpu_start = time.perf_counter(), time.process_time()
    action()
    if model is None:
        settle()
        LAST_CPU_MS[0] = (time.process_time() - cpu_start) * 1000
        return (time.perf_counter() - start) * 1000
    paint_first_rows(model(), finish_first_rows)
    first = (time.perf_counter() - start) * 1000
    LAST_CPU_MS[0] = (time.process_time() - cpu_start) * 1000
    if at_first_rows is not None:
        at_first_rows()
    settle()
    LAST_COMPLETE_MS[:] = [(time.perf_counter() - start) * 1000,
                           (time.process_time() - cpu_start) * 1000]
    return first


def peak_rss_mb() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return usage / 1024 if sys.platform != "darwin" else usage / (1024 * 1024)
