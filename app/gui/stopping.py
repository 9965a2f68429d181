"""Ending PayDesk from the terminal or the system: Ctrl+C (SIGINT), SIGTERM and, where the
system has them, SIGHUP (the terminal was closed) and SIGBREAK (Ctrl+Break) close the
window as the PayDesk menu's Quit does, so everything after the event loop runs — the
window's layout is saved, background tasks finish, the database closes and a ``--demo``
profile is deleted.

Why a wakeup socket: Python runs its signal handlers only when the main thread runs Python
code, and while Qt's event loop waits in C++ it runs none, so Ctrl+C did nothing until the
mouse moved over the window, and SIGTERM's default action ended the process on the spot. The
C-level handler writes the signal's number to ``signal.set_wakeup_fd``'s socket; a
``QSocketNotifier`` on the other end wakes the event loop and calls into Python, and the
Python handler runs. A second signal while PayDesk is closing ends it at once (the default
action), so a stuck shutdown can always be interrupted.

Made and used on the GUI (main) thread only.
"""

from __future__ import annotations

import logging
import signal
import socket
from types import FrameType
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QSocketNotifier, Slot

__all__ = ["StopOnSignals", "stop_signals"]

log = logging.getLogger(__name__)


def stop_signals() -> list[signal.Signals]:
    """The signals that end PayDesk cleanly on this system."""
    names = ("SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK")  # SIGBREAK: Ctrl+Break on Windows
    return [getattr(signal, name) for name in names if hasattr(signal, name)]


class StopOnSignals(QObject):
    """Quits the application's event loop when a stop signal arrives (see the module).

    ``stop_requested`` stays set once a signal came, so a signal that arrives before the
    event loop runs (while the demo is still being prepared) still stops PayDesk: the caller
    checks it before ``exec()``. ``uninstall()`` puts the previous handlers back.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.stop_requested: signal.Signals | None = None
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._previous_wakeup = signal.set_wakeup_fd(
            self._writer.fileno(), warn_on_full_buffer=False
        )
        self._notifier = QSocketNotifier(
            self._reader.fileno(), QSocketNotifier.Type.Read, self
        )
        self._notifier.activated.connect(self._drain)
        self._previous: dict[signal.Signals, Any] = {}
        for number in stop_signals():
            self._previous[number] = signal.signal(number, self._on_signal)

    def _on_signal(self, number: int, _frame: FrameType | None) -> None:
        """Runs on the main thread, between two Python steps (see the module docstring)."""
        which = signal.Signals(number)
        if self.stop_requested is not None:
            # Asked twice: the clean shutdown is taking too long; end now.
            signal.signal(which, signal.SIG_DFL)
            signal.raise_signal(which)
            return
        self.stop_requested = which
        log.info("%s received: PayDesk closes", which.name)
        QCoreApplication.quit()

    @Slot()
    def _drain(self) -> None:
        """Empties the wakeup socket; the Python handler has run by the time this runs."""
        try:
            while self._reader.recv(64):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    def uninstall(self) -> None:
        for number, previous in self._previous.items():
            signal.signal(number, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()
        signal.set_wakeup_fd(self._previous_wakeup)
        self._notifier.setEnabled(False)
        self._reader.close()
        self._writer.close()
