"""Wizard pages read and write in workers, never on the GUI thread.

A page loads its facts from ``initializePage`` with ``run_task`` (a quiet ``CHECKING_TEXT``
until they arrive; Next stays off meanwhile) and stores what Next confirms with
:class:`SaveOnNext`: ``validatePage`` starts the write in a worker and returns False; when
the write succeeded the page moves on by itself (``QWizard.next``), and a failure stays on
the page with its sentence. A slow database server never freezes the wizard.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QWizardPage

from app.gui.workers import Task, WorkerFailure, run_task

__all__ = ["CHECKING_TEXT", "SaveOnNext"]

#: What a page says while its facts are read.
CHECKING_TEXT = "Checking…"


class SaveOnNext(QObject):
    """Runs a page's write in a worker when Next is pressed, then moves on. GUI thread.

    ``validate()`` is what the page's ``validatePage`` returns: True once the write of this
    press has succeeded, otherwise False (the write starts, or is still running)."""

    def __init__(self, page: QWizardPage, name: str,
                 on_saved: Callable[[Any], None] | None = None,
                 on_failed: Callable[[WorkerFailure], None] | None = None) -> None:
        super().__init__(page)
        self.page = page
        self.name = name
        self.on_saved = on_saved
        self.on_failed = on_failed
        self.task: Task | None = None
        self._done = False

    @property
    def running(self) -> bool:
        return self.task is not None

    def validate(self, fn: Callable[..., Any], *args: Any) -> bool:
        if self._done:
            self._done = False
            return True
        if self.task is None:
            self.task = run_task(self.name, fn, *args, on_success=self._saved,
                                 on_failure=self._failed, parent=self.page)
        return False

    @Slot(object)
    def _saved(self, result: object) -> None:
        self.task = None
        if self.on_saved is not None:
            self.on_saved(result)
        wizard = self.page.wizard()
        if wizard is not None and wizard.currentPage() is self.page:
            self._done = True
            wizard.next()  # calls validatePage again, which now says yes
            self._done = False

    @Slot(object)
    def _failed(self, failure: WorkerFailure) -> None:
        self.task = None
        if self.on_failed is not None:
            self.on_failed(failure)
        else:
            from app.gui.errors import show_exception

            show_exception(self.page, f"Could not {self.name}", failure.exception)
