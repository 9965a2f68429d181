"""Background work: the one worker abstraction of the GUI.

Two layers, both small:

``Worker`` (a ``QRunnable``) runs one function on a pool thread and reports through its
``WorkerSignals`` (a ``QObject`` it holds — composition, never both bases at once):
``started``, ``progress(object)``, ``result(object)``, ``error(WorkerFailure)`` and
``finished``. ``run()`` is wrapped so ``finished`` always fires, whatever the function does.

``run_task(...)`` is what screens call. It names the operation, runs it on a ``Worker`` and
delivers the outcome **on the GUI thread**: the worker's signals are connected to ``@Slot``
methods of a ``Task`` (a ``QObject`` created on the GUI thread), which then call the
``on_success`` / ``on_failure`` / ``on_progress`` callbacks. A failure without an
``on_failure`` handler shows the standard error dialog (``app.gui.errors``). The ``Task``
keeps itself and its worker alive until ``finished`` has been delivered.

Example — load rows off the GUI thread, show them on it::

    def load(engine: Engine) -> list[InvoiceRow]:          # runs on a pool thread
        with session_scope(engine) as s:
            return [InvoiceRow.from_orm(i) for i in s.scalars(query)]

    run_task("load the invoices", load, context.engine,
             on_success=self.show_rows, parent=self)       # show_rows runs on the GUI thread

A function that wants to report progress or be cancellable declares keyword parameters
``on_progress`` and/or ``cancel``; ``Worker`` passes a thread-safe progress callback and the
task's ``threading.Event`` (set by ``Task.cancel()``). Never touch widgets, models or ORM
sessions inside the function: it runs on a pool thread.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeGuard

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal, Slot
from PySide6.QtWidgets import QProgressDialog, QWidget

from app.core.logs import redact

log = logging.getLogger(__name__)

#: A progress dialog appears only when a task with a ``busy_text`` runs longer than this.
PROGRESS_DIALOG_DELAY_MS = 600


@dataclass(frozen=True)
class WorkerFailure:
    """What a failed worker reports: the exception and its (redacted) traceback text."""

    exception: BaseException
    details: str


class WorkerSignals(QObject):
    """The signals of one ``Worker``. Created on the GUI thread, emitted from the pool thread
    (so connections to GUI-thread objects are queued)."""

    started = Signal()
    progress = Signal(object)
    result = Signal(object)
    error = Signal(object)
    finished = Signal()


class Worker(QRunnable):
    """Runs ``fn(*args, **kwargs)`` once on a ``QThreadPool`` thread.

    ``fn`` gets ``on_progress=`` and/or ``cancel=`` keyword arguments when its signature has
    parameters of those names. The caller must keep a reference until ``finished``
    (``run_task`` does this for you).
    """

    def __init__(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.signals = WorkerSignals()
        self.cancel_event = threading.Event()
        parameters = _parameter_names(fn)
        if "on_progress" in parameters and "on_progress" not in kwargs:
            self.kwargs["on_progress"] = self.signals.progress.emit
        if "cancel" in parameters and "cancel" not in kwargs:
            self.kwargs["cancel"] = self.cancel_event

    def run(self) -> None:  # runs on a pool thread
        try:
            self.signals.started.emit()
            value = self.fn(*self.args, **self.kwargs)
        except BaseException as exc:  # report everything; finished still fires below
            details = redact(traceback.format_exc())
            try:
                self.signals.error.emit(WorkerFailure(exc, details))
            except RuntimeError:  # the signals object is gone (program closing)
                log.warning("A background task failed while PayDesk was closing: %s", details)
        else:
            try:
                self.signals.result.emit(value)
            except RuntimeError:
                log.debug("A background task finished while PayDesk was closing")
        finally:
            with contextlib.suppress(RuntimeError):  # the signals object is gone
                self.signals.finished.emit()


def _parameter_names(fn: Callable[..., Any]) -> set[str]:
    try:
        return set(inspect.signature(fn).parameters)
    except (TypeError, ValueError):  # builtins without a signature
        return set()


#: Tasks still running; a task removes itself when its worker has finished.
_active_tasks: set[Task] = set()


class Task(QObject):
    """One named background operation, living on the GUI thread.

    Signals (all on the GUI thread): ``succeeded(object)``, ``failed(object)`` with a
    ``WorkerFailure``, ``done()`` after either. Callbacks given to ``run_task`` are called
    from this object's slots, so they run on the GUI thread too.
    """

    succeeded = Signal(object)
    failed = Signal(object)
    done = Signal()

    def __init__(
        self,
        name: str,
        worker: Worker,
        *,
        on_success: Callable[[Any], None] | None = None,
        on_failure: Callable[[WorkerFailure], None] | None = None,
        on_progress: Callable[[Any], None] | None = None,
        parent_widget: QWidget | None = None,
        busy_text: str | None = None,
    ) -> None:
        super().__init__()
        self.name = name
        self.worker = worker
        self.is_running = True
        self.outcome: Any = None
        self.failure: WorkerFailure | None = None
        self._on_success = on_success
        self._on_failure = on_failure
        self._on_progress = on_progress
        self._parent_widget = parent_widget
        self._busy_text = busy_text
        self._busy_dialog: QProgressDialog | None = None
        self._busy_timer: QTimer | None = None
        self._progress = (0, 0)  # (done, total) from the last countable progress report
        worker.signals.result.connect(self._deliver_result)
        worker.signals.error.connect(self._deliver_error)
        worker.signals.progress.connect(self._deliver_progress)
        worker.signals.finished.connect(self._deliver_finished)

    @Slot()
    def cancel(self) -> None:
        """Ask the function to stop (it sees its ``cancel`` event set)."""
        self.worker.cancel_event.set()

    def _start(self, pool: QThreadPool) -> None:
        _active_tasks.add(self)
        if self._busy_text:
            self._busy_timer = QTimer(self)
            self._busy_timer.setSingleShot(True)
            self._busy_timer.timeout.connect(self._show_busy_dialog)
            self._busy_timer.start(PROGRESS_DIALOG_DELAY_MS)
        log.debug("Task started: %s", self.name)
        pool.start(self.worker)

    @Slot()
    def _show_busy_dialog(self) -> None:
        if not self.is_running:
            return
        parent = self._parent_widget if _valid(self._parent_widget) else None
        done, total = self._progress
        dialog = QProgressDialog(self._busy_text or "", "Cancel", 0, total, parent)
        dialog.setValue(done)
        dialog.setWindowTitle("PayDesk")
        dialog.setMinimumDuration(0)
        dialog.canceled.connect(self.cancel)
        dialog.show()
        self._busy_dialog = dialog

    @Slot(object)
    def _deliver_result(self, value: Any) -> None:
        self.outcome = value
        if _alive(self._on_success):
            self._on_success(value)
        self.succeeded.emit(value)

    @Slot(object)
    def _deliver_error(self, failure: WorkerFailure) -> None:
        self.failure = failure
        log.warning("Task failed: %s\n%s", self.name, failure.details)
        if _alive(self._on_failure):
            self._on_failure(failure)
        elif self._on_failure is None:
            from app.gui.errors import describe_exception, show_error

            show_error(
                self._parent_widget if _valid(self._parent_widget) else None,
                f"Could not {self.name}",
                describe_exception(failure.exception),
                failure.details,
            )
        self.failed.emit(failure)

    @Slot(object)
    def _deliver_progress(self, value: Any) -> None:
        # Progress with ``done`` and ``total`` (e.g. ``ExportProgress``) fills the busy
        # dialog's bar instead of leaving it indeterminate.
        done, total = getattr(value, "done", None), getattr(value, "total", None)
        if isinstance(done, int) and isinstance(total, int) and total > 0:
            self._progress = (done, total)
            if self._busy_dialog is not None:
                self._busy_dialog.setRange(0, total)
                self._busy_dialog.setValue(done)
        if _alive(self._on_progress):
            self._on_progress(value)

    @Slot()
    def _deliver_finished(self) -> None:
        self.is_running = False
        if self._busy_timer is not None:
            self._busy_timer.stop()
        if self._busy_dialog is not None:
            self._busy_dialog.close()
            self._busy_dialog.deleteLater()
            self._busy_dialog = None
        log.debug("Task finished: %s", self.name)
        self.done.emit()
        _active_tasks.discard(self)


def _valid(obj: QObject | None) -> bool:
    return obj is not None and shiboken6.isValid(obj)


def _alive(callback: Callable[..., Any] | None) -> TypeGuard[Callable[..., Any]]:
    """False for no callback, and for a method of a Qt object that has been deleted (the
    screen that started the task was closed while it ran)."""
    if callback is None:
        return False
    while isinstance(callback, functools.partial):  # partial(self._show, ticket) too
        callback = callback.func
    owner = getattr(callback, "__self__", None)
    return not isinstance(owner, QObject) or shiboken6.isValid(owner)


def run_task(
    name: str,
    fn: Callable[..., Any],
    /,
    *args: Any,
    on_success: Callable[[Any], None] | None = None,
    on_failure: Callable[[WorkerFailure], None] | None = None,
    on_progress: Callable[[Any], None] | None = None,
    parent: QWidget | None = None,
    busy_text: str | None = None,
    pool: QThreadPool | None = None,
    **kwargs: Any,
) -> Task:
    """Run ``fn(*args, **kwargs)`` in the background; call back on the GUI thread.

    ``name`` completes the sentence "Could not …" in the error dialog ("load the invoices").
    ``busy_text`` shows a progress dialog with Cancel if the task takes longer than 600 ms.
    Must be called on the GUI thread.
    """
    worker = Worker(fn, *args, **kwargs)
    task = Task(
        name,
        worker,
        on_success=on_success,
        on_failure=on_failure,
        on_progress=on_progress,
        parent_widget=parent,
        busy_text=busy_text,
    )
    task._start(pool or QThreadPool.globalInstance())
    return task


def active_tasks() -> frozenset[Task]:
    """Tasks that have not finished yet (for closing down cleanly, and for tests)."""
    return frozenset(_active_tasks)
