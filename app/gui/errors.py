"""The one error path of the GUI: the standard error dialog and the crash dialog.

* ``show_error(parent, title, message, details)`` — something a person tried did not work
  (a background task failed, a database could not be opened). The message says what happened
  and what to do; technical details sit behind "Show Details".
* ``CrashDialog`` — an exception nobody expected reached ``sys.excepthook``. The traceback is
  logged (redacted); the dialog says what happened and what to do, keeps the details behind
  "Details", and "Copy for support" copies a redacted report for IT support.
* ``describe_exception(exc)`` — the sentence a bookkeeper sees for an exception.

Every function here runs on the GUI thread. Dialogs are opened window-modal with ``open()``
rather than ``exec()``, so a failure never stalls the event loop (background work, timers and
tests keep running while the dialog is up).
"""

from __future__ import annotations

import html
import logging
import platform
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QCoreApplication, Qt, QThread, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QGuiApplication, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app import __version__
from app.core.logs import redact

log = logging.getLogger(__name__)

#: Exceptions whose text is written for a person (PayDesk's own error classes, and the
#: few built-in ones whose message is plain). Anything else is a bug and gets a generic line.
_PLAIN_BUILTINS: tuple[type[BaseException], ...] = (ValueError, PermissionError, TimeoutError)


def describe_exception(exc: BaseException) -> str:
    """The sentence a bookkeeper sees for ``exc`` (redacted, never a bare class name).

    PayDesk's own exceptions (defined under ``app.``) carry messages written for people, and
    so do a few built-in ones; for anything else the text would mean nothing to a bookkeeper,
    so it says that something unexpected happened and where the details are.
    """
    text = str(exc).strip()
    own = type(exc).__module__.startswith("app.")
    if text and (own or isinstance(exc, _PLAIN_BUILTINS)):
        return redact(text)
    from app.core.storage.engine import describe_database_failure

    database = describe_database_failure(exc)
    if database is not None:
        return database
    if isinstance(exc, ConnectionError):
        return (
            "PayDesk could not reach the server. Check this computer's internet connection "
            "and try again."
        )
    return (
        "Something unexpected went wrong inside PayDesk. Try again; if it happens again, "
        "send the log file (PayDesk menu > Open Log Folder) to your IT support."
    )


def format_details(exc: BaseException) -> str:
    """The redacted traceback of ``exc``, for "Show Details" and the log."""
    return redact("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))


def show_error(
    parent: QWidget | None,
    title: str,
    message: str,
    details: str | None = None,
) -> QMessageBox:
    """Show the standard error dialog (non-blocking, window-modal) and return it."""
    box = QMessageBox(parent)
    box.setObjectName("errorDialog")
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(f"PayDesk — {title}")
    box.setText(f"<b>{_escape(title)}</b>")
    box.setInformativeText(message)
    if details:
        box.setDetailedText(redact(details))
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
    box.open()
    return box


def show_exception(parent: QWidget | None, title: str, exc: BaseException) -> QMessageBox:
    """``show_error`` for an exception: the plain sentence plus the traceback as details."""
    return show_error(parent, title, describe_exception(exc), format_details(exc))


class CrashDialog(QDialog):
    """Shown when an exception reached ``sys.excepthook``.

    It says what happened and what to do, in a bookkeeper's words; the technical details
    stay folded behind **Details**, and **Copy for support** puts a redacted report (version,
    system, time, log file, details) on the clipboard to paste into a message to IT support.
    """

    def __init__(
        self,
        details: str,
        log_file: Path | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("crashDialog")
        self.setWindowTitle("PayDesk — Something went wrong")
        self.setMinimumWidth(560)
        self._log_file = log_file
        self.details = details
        self.happened_at = datetime.now(UTC)

        heading = QLabel("Something went wrong in PayDesk")
        heading.setObjectName("dialogHeading")
        happened = QLabel(
            "<b>What happened</b><br>PayDesk stopped what it was doing because of an error "
            "it did not expect. That step may not have finished. Payments PayDesk had already "
            "recorded are kept, and none is ever charged twice."
        )
        happened.setObjectName("crashWhatHappened")
        todo = QLabel(
            "<b>What to do</b><br>Check that what you were doing is done — for a payment, "
            "look it up in Transactions before trying again. You can keep working. If this "
            "happens again, click <b>Copy for support</b> and send what it copies to your IT "
            "support"
            + (", with the log file (Open Log Folder)." if log_file is not None else ".")
        )
        todo.setObjectName("crashWhatToDo")
        for label in (happened, todo):
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.details_view = QPlainTextEdit(details)
        self.details_view.setReadOnly(True)
        self.details_view.setObjectName("crashDetails")
        self.details_view.setAccessibleName("Technical details for support")
        self.details_view.setVisible(False)
        self.details_view.setMinimumHeight(180)

        self.details_button = QPushButton("Details")
        self.details_button.setObjectName("crashDetailsButton")
        self.details_button.setCheckable(True)
        self.details_button.setToolTip("Show the technical details (for IT support)")
        self.details_button.toggled.connect(self._toggle_details)
        self.copy_button = QPushButton("Copy for support")
        self.copy_button.setObjectName("crashCopyButton")
        self.copy_button.setToolTip("Copy a report for IT support; card and account numbers "
                                    "and passwords are left out")
        self.copy_button.clicked.connect(self._copy_details)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        # Enter closes the dialog (it must not unfold the traceback), and Close has the focus.
        self.close_button = buttons.button(QDialogButtonBox.StandardButton.Close)
        for button in (self.details_button, self.copy_button):
            button.setAutoDefault(False)
        self.close_button.setDefault(True)
        self.close_button.setFocus()
        if log_file is not None:
            open_logs = QPushButton("Open Log Folder")
            open_logs.setAutoDefault(False)
            open_logs.setToolTip(str(log_file))
            open_logs.clicked.connect(self._open_log_folder)
            buttons.addButton(open_logs, QDialogButtonBox.ButtonRole.ActionRole)

        row = QHBoxLayout()
        row.addWidget(self.details_button)
        row.addWidget(self.copy_button)
        row.addStretch(1)
        row.addWidget(buttons)

        layout = QVBoxLayout(self)
        layout.setSpacing(12)
        layout.addWidget(heading)
        layout.addWidget(happened)
        layout.addWidget(todo)
        layout.addWidget(self.details_view, 100)
        layout.addStretch(1)  # folded, the words stay together at the top
        layout.addLayout(row)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.close_button.setFocus()  # Enter closes; Tab reaches Details and Copy for support

    def support_text(self) -> str:
        """The report "Copy for support" copies: what, when, where — redacted."""
        lines = [
            "PayDesk ran into an unexpected error.",
            f"Version: {__version__}",
            f"System: {platform.system()} {platform.release()} ({platform.machine()}), "
            f"Python {platform.python_version()}",
            f"When: {self.happened_at:%Y-%m-%d %H:%M:%S} UTC",
        ]
        if self._log_file is not None:
            lines.append(f"Log file: {self._log_file}")
        lines += ["", "Details:", self.details.rstrip()]
        return redact("\n".join(lines))

    @Slot(bool)
    def _toggle_details(self, shown: bool) -> None:
        self.details_view.setVisible(shown)
        self.details_button.setText("Hide Details" if shown else "Details")
        self.adjustSize()

    @Slot()
    def _copy_details(self) -> None:
        QGuiApplication.clipboard().setText(self.support_text())
        self.copy_button.setText("Copied")

    @Slot()
    def _open_log_folder(self) -> None:
        if self._log_file is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self._log_file.parent)))


class CrashHandler:
    """The ``sys.excepthook`` of the GUI: log the traceback, then show a ``CrashDialog``.

    Runs on whichever thread raised; the dialog is only created on the GUI thread (a crash on
    another thread is logged, and background work reports its failures through workers).
    """

    def __init__(self, log_file: Path | None) -> None:
        self.log_file = log_file
        self.dialogs: list[CrashDialog] = []
        #: How many unexpected errors reached the handler (``--smoke`` fails when any did).
        self.crash_count = 0
        self._previous = sys.excepthook
        self._showing = False

    def install(self) -> None:
        sys.excepthook = self

    def uninstall(self) -> None:
        if sys.excepthook is self:
            sys.excepthook = self._previous

    def __call__(
        self,
        exc_type: type[BaseException],
        exc: BaseException,
        tb: TracebackType | None,
    ) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            self._previous(exc_type, exc, tb)
            return
        self.crash_count += 1
        log.critical("Unexpected error", exc_info=(exc_type, exc, tb))
        app = QApplication.instance()
        if app is None or self._showing or not _on_gui_thread():
            return
        details = redact("".join(traceback.format_exception(exc_type, exc, tb)))
        self._showing = True
        try:
            parent = QApplication.activeWindow()
            dialog = CrashDialog(details, self.log_file, parent)
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
            dialog.finished.connect(lambda _result, d=dialog: self._forget(d))
            self.dialogs.append(dialog)
            dialog.open()
        except Exception:  # the crash dialog itself must never crash the program
            log.exception("Could not show the crash dialog")
        finally:
            self._showing = False

    def _forget(self, dialog: CrashDialog) -> None:
        if dialog in self.dialogs:
            self.dialogs.remove(dialog)


def _on_gui_thread() -> bool:
    instance = QCoreApplication.instance()
    return instance is not None and QThread.currentThread() is instance.thread()


def _escape(text: str) -> str:
    return html.escape(text)
