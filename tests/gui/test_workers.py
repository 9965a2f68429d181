"""Background tasks: results arrive on the GUI thread, failures reach a handler or the
standard error dialog, ``finished`` always fires, progress and cancel reach the function."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import shiboken6
from PySide6.QtCore import QThreadPool
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from app.gui.workers import Worker, WorkerFailure, active_tasks, run_task


class InvoiceLookupError(Exception):
    """Stands in for a PayDesk error whose message is written for the bookkeeper."""


InvoiceLookupError.__module__ = "app.core.example"


def test_result_is_delivered_on_the_gui_thread(qtbot: QtBot) -> None:
    seen: dict[str, Any] = {}

    def add(a: int, b: int) -> int:
        seen["worker_thread"] = threading.current_thread()
        return a + b

    def on_success(value: int) -> None:
        seen["value"] = value
        seen["callback_thread"] = threading.current_thread()

    task = run_task("add two numbers", add, 2, 3, on_success=on_success)
    with qtbot.waitSignal(task.done, timeout=5000):
        pass
    assert seen["value"] == 5 and task.outcome == 5
    assert seen["worker_thread"] is not threading.main_thread()
    assert seen["callback_thread"] is threading.main_thread()
    assert task not in active_tasks()


def test_failure_goes_to_the_handler(qtbot: QtBot) -> None:
    failures: list[WorkerFailure] = []

    def broken() -> None:
        raise InvoiceLookupError("Invoice 1042 is not in Autotask any more.")

    task = run_task("look up the invoice", broken, on_failure=failures.append)
    with qtbot.waitSignal(task.done, timeout=5000):
        pass
    assert len(failures) == 1
    assert isinstance(failures[0].exception, InvoiceLookupError)
    assert "InvoiceLookupError" in failures[0].details
    assert not task.is_running


def test_failure_without_handler_shows_the_error_dialog(qtbot: QtBot) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)

    def broken() -> None:
        raise InvoiceLookupError("Invoice 1042 is not in Autotask any more.")

    task = run_task("look up the invoice", broken, parent=parent)
    with qtbot.waitSignal(task.done, timeout=5000):
        pass
    boxes = [w for w in QApplication.topLevelWidgets()
             if isinstance(w, QMessageBox) and w.objectName() == "errorDialog" and w.isVisible()]
    assert boxes, "no error dialog appeared"
    box = boxes[-1]
    assert "Could not look up the invoice" in box.text()
    assert box.informativeText() == "Invoice 1042 is not in Autotask any more."
    assert "InvoiceLookupError" in box.detailedText()
    box.close()


def test_unexpected_exception_gets_a_plain_message(qtbot: QtBot) -> None:
    failures: list[WorkerFailure] = []
    task = run_task("divide", lambda: 1 // 0, on_failure=failures.append)
    with qtbot.waitSignal(task.done, timeout=5000):
        pass
    from app.gui.errors import describe_exception

    text = describe_exception(failures[0].exception)
    assert "ZeroDivisionError" not in text and "unexpected" in text
    # Shown where there are no details to expand, so it says where they are instead.
    assert "below" not in text and "Open Log Folder" in text


def test_progress_and_cancel_reach_the_function(qtbot: QtBot) -> None:
    progress: list[int] = []
    started = threading.Event()

    def count(*, on_progress: Any, cancel: threading.Event) -> str:
        on_progress(1)
        started.set()
        if not cancel.wait(timeout=5):
            return "not cancelled"
        on_progress(2)
        return "cancelled"

    task = run_task("count", count, on_progress=progress.append)
    assert started.wait(timeout=5)
    task.cancel()
    with qtbot.waitSignal(task.done, timeout=5000):
        pass
    assert task.outcome == "cancelled"
    assert progress == [1, 2]


def test_worker_always_finishes(qtbot: QtBot) -> None:
    def broken() -> None:
        raise RuntimeError("boom")

    worker = Worker(broken)
    with qtbot.waitSignals([worker.signals.started, worker.signals.error,
                            worker.signals.finished], timeout=5000):
        QThreadPool.globalInstance().start(worker)


def test_callbacks_are_dropped_when_their_widget_is_gone(qtbot: QtBot) -> None:
    release = threading.Event()
    calls: list[object] = []

    class Screen(QWidget):
        def show_value(self, value: object) -> None:
            calls.append(value)

    screen = Screen()
    task = run_task("wait", release.wait, 5, on_success=screen.show_value, parent=screen)
    screen.deleteLater()
    qtbot.waitUntil(lambda: not shiboken6.isValid(screen), timeout=5000)
    release.set()
    with qtbot.waitSignal(task.done, timeout=5000):
        pass
    assert calls == []


@pytest.fixture(autouse=True)
def _no_tasks_left(qtbot: QtBot) -> Any:
    yield
    qtbot.waitUntil(lambda: not active_tasks(), timeout=10_000)


def test_a_partial_of_a_closed_screens_method_is_not_called(qtbot: QtBot) -> None:
    """A task started with ``partial(self._show, ticket)`` by a screen that was closed before
    it finished does not call into the deleted screen."""
    import functools

    from PySide6.QtWidgets import QWidget

    from app.gui.workers import run_task

    calls: list[object] = []

    class Screen(QWidget):
        def show_result(self, ticket: int, value: object) -> None:
            calls.append((ticket, value))

    screen = Screen()
    gate = threading.Event()
    task = run_task("wait", gate.wait, 5, on_success=functools.partial(screen.show_result, 1))
    screen.deleteLater()
    qtbot.waitUntil(lambda: not shiboken6.isValid(screen), timeout=2000)
    gate.set()
    qtbot.waitUntil(lambda: not task.is_running, timeout=5000)
    assert calls == []
