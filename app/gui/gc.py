"""Garbage collection on the GUI thread only.

Python's cyclic garbage collector runs in whichever thread happens to allocate when a
threshold is crossed. If that is a worker thread and the garbage holds Qt objects (a
dialog in a reference cycle, a model), Qt destroys them off the GUI thread and the program
can crash. PayDesk therefore turns automatic collection off while the GUI runs and collects
on the GUI thread from a timer, the approach Anki uses for the same reason.

Reference counting still frees everything that is not in a cycle at once; only cycles wait
for the timer (at most ``CHECK_INTERVAL_MS``).
"""

from __future__ import annotations

import gc
import time

from PySide6.QtCore import QObject, QTimer, Slot

#: How often to look at the collector's counters (milliseconds). Often enough that the
#: youngest generation stays small: with automatic collection off, a second of scrolling
#: through a large table allocated so many young objects that one pass over them took
#: 10-20 ms on the GUI thread, the slowest step; ten passes a second cost the same in all
#: and about a millisecond each.
CHECK_INTERVAL_MS = 100
#: A full pass (the oldest generation: every object the program keeps) at most this often.
#: Checking ten times a second would otherwise make them ten times as frequent as when the
#: timer ran each second; Python's own collector also holds them back (until a quarter of
#: the old objects are new), which an explicit ``gc.collect(2)`` does not.
FULL_PASS_INTERVAL_S = 100.0


class GuiThreadGarbageCollector(QObject):
    """Create once on the GUI thread, then `start`; `stop` before the application ends.

    Each check collects the generations whose counters passed Python's own thresholds, as
    automatic collection would have done, but here on the GUI thread.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thresholds = gc.get_threshold()
        self._was_enabled: bool | None = None
        self._last_full_pass = time.monotonic()
        self._timer = QTimer(self)
        self._timer.setObjectName("garbageCollectionTimer")
        self._timer.setInterval(CHECK_INTERVAL_MS)
        self._timer.timeout.connect(self.check)

    @property
    def running(self) -> bool:
        return self._was_enabled is not None

    def start(self) -> None:
        """Turn automatic collection off and start collecting from the timer."""
        if self.running:
            return
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer.start()

    def stop(self) -> None:
        """Collect what is left, stop the timer and put automatic collection back as it was."""
        if self._was_enabled is None:
            return
        self._timer.stop()
        gc.collect()
        if self._was_enabled:
            gc.enable()
        self._was_enabled = None

    @Slot()
    def check(self) -> int:
        """Runs on the GUI thread; returns how many unreachable objects were found."""
        young_limit, middle_limit, old_limit = self._thresholds
        young, middle, old = gc.get_count()
        found = 0
        if young > young_limit:
            found += gc.collect(0)
            if middle > middle_limit:
                found += gc.collect(1)
                now = time.monotonic()
                if old > old_limit and now - self._last_full_pass >= FULL_PASS_INTERVAL_S:
                    self._last_full_pass = now
                    found += gc.collect(2)
        return found


def freeze_startup_objects() -> None:
    """Move everything alive after start-up (modules, the main window, caches) out of the
    collector's reach: they live as long as the program, and leaving them in the oldest
    generation makes every later full pass — on the GUI thread — walk them again (a full
    pass over a large table's caches took ~90 ms, a visible stutter while scrolling)."""
    gc.collect()
    gc.freeze()
