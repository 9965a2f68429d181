"""Retry posting and Dismiss…, built once for every screen that shows failing postings (a
payment's detail, Transactions): the two buttons, the confirmation a person answers before
a dismissal, the work in a worker (``app.core.posting.actions``), and the announcement on the
change bus so every open screen shows the result.

The screen says which payments the buttons act on (``set_payments``) and shows
``finished(PostingActionResult)`` / ``failed(str)`` where the person looks. GUI thread.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QMessageBox, QPushButton, QWidget

from app.core.posting.actions import PostingActionResult, dismiss_payments, retry_payments
from app.gui.context import AppContext
from app.gui.workers import WorkerFailure, run_task

__all__ = ["PostingActions"]


class PostingActions(QObject):
    """The Retry posting and Dismiss… buttons of one screen."""

    #: The action ran: the sentence to show, and the payments it acted on.
    finished = Signal(object)  # PostingActionResult
    #: It could not run (no connection…): the sentence to show.
    failed = Signal(str)
    #: A retry started (say "Posting…").
    started = Signal()

    def __init__(self, parent: QWidget, context: AppContext) -> None:
        super().__init__(parent)
        self._parent = parent
        self.context = context
        self._payment_ids: tuple[int, ...] = ()
        self._references: tuple[str, ...] = ()
        self._where = ""
        self.retry_button = QPushButton("Retry posting", parent)
        self.retry_button.setObjectName("retryPostingButton")
        self.retry_button.setToolTip("Send the failed postings of this payment again")
        self.retry_button.clicked.connect(self.retry)
        self.dismiss_button = QPushButton("Dismiss…", parent)
        self.dismiss_button.setObjectName("dismissPostingButton")
        self.dismiss_button.setToolTip(
            "Stop trying to post this payment (after recording it by hand where it failed)")
        self.dismiss_button.clicked.connect(self.dismiss)
        self.set_payments(())

    def set_payments(self, payment_ids: Sequence[int], references: Sequence[str] = (),
                     where: str = "") -> None:
        """The failing payments the buttons act on now (none: both are disabled). ``where``
        names the systems they failed to reach, when the screen knows them."""
        self._payment_ids = tuple(payment_ids)
        self._references = tuple(references)
        self._where = where
        self.retry_button.setEnabled(bool(self._payment_ids))
        self.dismiss_button.setEnabled(bool(self._payment_ids))

    @Slot()
    def retry(self) -> None:
        if not self._payment_ids:
            return
        self.retry_button.setEnabled(False)
        self.started.emit()
        run_task("retry posting", retry_payments, self.context.engine, self.context.credentials,
                 list(self._payment_ids), on_success=self._done, on_failure=self._failed,
                 parent=self._parent)

    @Slot()
    def dismiss(self) -> None:
        if not self._payment_ids:
            return
        refs = self._references
        what = (", ".join(refs[:5]) + ("…" if len(refs) > 5 else "")) if refs else (
            "this payment")
        question = (f"Stop trying to post {what} to {self._where}?" if self._where
                    else f"Stop trying to post {what}?")
        place = f"in {self._where}" if self._where else "where it failed to post"
        answer = QMessageBox.question(
            self._parent,
            "Dismiss posting",
            f"{question}\n\nDo this only after you recorded the payment by hand {place}. "
            "The payment itself is not changed, and it stays listed as “Dismissed”.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        run_task("dismiss the posting", dismiss_payments, self.context.engine,
                 list(self._payment_ids), on_success=self._done, on_failure=self._failed,
                 parent=self._parent)

    def _done(self, result: PostingActionResult) -> None:
        self.context.changes().announce_postings(list(result.payment_ids))
        self.finished.emit(result)

    def _failed(self, failure: WorkerFailure) -> None:
        from app.gui.errors import describe_exception

        self.failed.emit(describe_exception(failure.exception))
