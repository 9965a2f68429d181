"""The Settings area's "AutoPay" section: the retry schedule after a decline, the timing a
new AutoPay rule starts with, and how many days ahead the client is reminded — shared by
every seat (``autopay.defaults``, :mod:`app.core.autopay.defaults`). Read and saved in
workers; GUI thread otherwise.
"""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.autopay.defaults import (
    AutoPayDefaults,
    load_autopay_defaults,
    save_autopay_defaults,
)
from app.gui.context import AppContext
from app.gui.workers import WorkerFailure, run_task

__all__ = ["AutoPayDefaultsSection", "create_autopay_defaults_section"]


def parse_days(text: str) -> tuple[int, ...]:
    """``"3, 7"`` → ``(3, 7)``; raises ValueError with words for the bookkeeper."""
    parts = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
    try:
        return tuple(int(p) for p in parts)
    except ValueError as exc:
        raise ValueError("Write the retry days as whole numbers separated by commas, for "
                         "example 3, 7.") from exc


class AutoPayDefaultsSection(QWidget):
    """See the module docstring."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("autopayDefaultsSection")
        self.context = context
        layout = QVBoxLayout(self)
        intro = QLabel("How AutoPay behaves for every client. A declined AutoPay charge is "
                       "tried again this many days after the first decline; after the last "
                       "try it stops and is listed in the AutoPay area for a person.")
        intro.setObjectName("secondaryText")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        self.retry_days = QLineEdit()
        self.retry_days.setObjectName("autopayRetryDays")
        self.retry_days.setPlaceholderText("3, 7")
        form.addRow("Retry a decline after (days)", self.retry_days)
        self.timing = QComboBox()
        self.timing.setObjectName("autopayDefaultTiming")
        self.timing.addItem("On the invoice's due date", "due_date")
        self.timing.addItem("Some days after the invoice date", "after_invoice_date")
        form.addRow("New rules charge", self.timing)
        self.days = QSpinBox()
        self.days.setRange(0, 120)
        self.days.setObjectName("autopayDefaultDays")
        form.addRow("Days after the invoice date", self.days)
        self.timing.currentIndexChanged.connect(self._timing_changed)
        self._timing_changed()
        self.reminder = QSpinBox()
        self.reminder.setRange(0, 30)
        self.reminder.setObjectName("autopayReminderDays")
        form.addRow("Remind the client (days before)", self.reminder)
        layout.addLayout(form)
        row = QHBoxLayout()
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("autopayDefaultsSave")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self.save)
        row.addWidget(self.save_button)
        row.addStretch(1)
        layout.addLayout(row)
        self.status = QLabel()
        self.status.setObjectName("autopayDefaultsStatus")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        layout.addStretch(1)
        run_task("read the AutoPay settings", load_autopay_defaults, context.engine,
                 on_success=self._show, on_failure=self._failed, parent=self)

    @Slot()
    def _timing_changed(self) -> None:
        self.days.setEnabled(self.timing.currentData() == "after_invoice_date")

    def _show(self, defaults: AutoPayDefaults) -> None:
        self.retry_days.setText(", ".join(str(d) for d in defaults.retry_after_days))
        self.timing.setCurrentIndex(max(self.timing.findData(defaults.timing), 0))
        self.days.setValue(defaults.days_after_invoice)
        self.reminder.setValue(defaults.reminder_days)
        self.save_button.setEnabled(True)

    def _failed(self, failure: WorkerFailure) -> None:
        from app.gui.errors import describe_exception

        self.save_button.setEnabled(True)
        exc = failure.exception
        self.status.setText(str(exc) if isinstance(exc, ValueError)
                            else describe_exception(exc))

    def defaults(self) -> AutoPayDefaults:
        return AutoPayDefaults(
            retry_after_days=parse_days(self.retry_days.text()),
            timing=str(self.timing.currentData()), days_after_invoice=self.days.value(),
            reminder_days=self.reminder.value())

    @Slot()
    def save(self) -> None:
        try:
            defaults = self.defaults()
        except ValueError as exc:
            self.status.setText(str(exc))
            return
        problem = defaults.problem()
        if problem:
            self.status.setText(problem)
            return
        self.save_button.setEnabled(False)
        run_task("save the AutoPay settings", save_autopay_defaults, self.context.engine,
                 defaults, on_success=self._saved, on_failure=self._failed, parent=self)

    def _saved(self, _result: object) -> None:
        self.save_button.setEnabled(True)
        self.status.setText("Saved for everyone using this PayDesk database.")


def create_autopay_defaults_section(context: AppContext) -> QWidget:
    """The Settings area's AutoPay section (see ``app.gui.settings.sections``)."""
    return AutoPayDefaultsSection(context)
