"""Schedule a payment for a later day, from the Order Summary ("Schedule…").

The dialog takes what the Order Summary computed (the invoices and each one's share) and the
saved method chosen there, asks for the day, and records one future charge
(:func:`app.core.autopay.schedule_payment`) in a worker. The AutoPay runner charges it on
that day, once, through the same pipeline as every payment. Scheduled payments carry no
surcharge (nobody sees the disclosure on the day; see :mod:`app.core.autopay.runner`).
GUI thread.
"""

from __future__ import annotations

from datetime import date
from typing import Protocol

from PySide6.QtCore import QDate, Slot
from PySide6.QtWidgets import (
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.autopay import AutoPayRefused, schedule_payment
from app.core.gateways.repository import StoredMethod
from app.core.money import Money
from app.core.payments.summary import OrderSummary
from app.gui.context import AppContext
from app.gui.invoices.formatting import date_text
from app.gui.theme import set_themed_style
from app.gui.workers import WorkerFailure, run_task

__all__ = ["ScheduleDialog", "schedule_button"]


class _OrderDialog(Protocol):
    """What the Order Summary dialog offers the Schedule button."""

    context: AppContext
    organization_id: int
    summary: OrderSummary | None

    def selected_method(self) -> StoredMethod | None: ...

    def reject(self) -> None: ...


class ScheduleDialog(QDialog):
    """See the module docstring."""

    def __init__(self, context: AppContext, organization_id: int, method: StoredMethod,
                 allocations: tuple[tuple[int, Money], ...], labels: dict[int, str],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("scheduleDialog")
        self.setWindowTitle("Schedule payment")
        self.context = context
        self.organization_id = organization_id
        self.method = method
        self.allocations = allocations
        self.scheduled_id: int | None = None
        total = Money(sum(a.minor for _, a in allocations), allocations[0][1].currency)
        layout = QVBoxLayout(self)
        heading = QLabel(f"Charge {total.format(context.locale)} to "
                         f"{method.method.summary} on a later day")
        heading.setObjectName("dialogHeading")
        layout.addWidget(heading)
        form = QFormLayout()
        self.day = QDateEdit(QDate.currentDate().addDays(7))
        self.day.setObjectName("scheduleDate")
        self.day.setCalendarPopup(True)
        self.day.setDisplayFormat("MMM d, yyyy")
        self.day.setMinimumDate(QDate.currentDate().addDays(1))
        self.day.setMaximumDate(QDate.currentDate().addDays(365))
        form.addRow("Charge on", self.day)
        form.addRow("Invoices", QLabel(", ".join(
            f"{labels.get(i, str(i))}: {a.format(context.locale)}" for i, a in allocations)))
        layout.addLayout(form)
        note = QLabel("PayDesk charges it on that day while it is open (or when the scheduled "
                      "task runs “paydesk payments autopay”), never more than is owed then, "
                      "and without a surcharge. You find it in the AutoPay area until then.")
        note.setObjectName("secondaryText")
        note.setWordWrap(True)
        layout.addWidget(note)
        self.error = QLabel()
        self.error.setObjectName("scheduleError")
        self.error.setWordWrap(True)
        set_themed_style(self.error, "color: #A02727;")
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = buttons.addButton("Schedule", QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok_button.setObjectName("scheduleOkButton")
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def chosen_day(self) -> date:
        value = self.day.date().toPython()
        assert isinstance(value, date)
        return value

    @Slot()
    def save(self) -> None:
        self.ok_button.setEnabled(False)
        run_task("schedule the payment", schedule_payment, self.context.engine,
                 organization_id=self.organization_id, payment_method_id=self.method.id,
                 charge_on=self.chosen_day(), allocations=self.allocations,
                 on_success=self._saved, on_failure=self._failed, parent=self)

    def _saved(self, scheduled_id: int) -> None:
        self.scheduled_id = scheduled_id
        self.accept()

    def _failed(self, failure: WorkerFailure) -> None:
        from app.gui.errors import describe_exception

        self.ok_button.setEnabled(True)
        exc = failure.exception
        self.error.setText(exc.message if isinstance(exc, AutoPayRefused)
                           else describe_exception(exc))


def schedule_button(order: _OrderDialog) -> QPushButton:
    """The Order Summary's "Schedule…" button: opens :class:`ScheduleDialog` for the invoices
    and saved method chosen there; once scheduled, the Order Summary closes."""
    button = QPushButton("Schedule…")
    button.setObjectName("scheduleButton")
    button.setToolTip("Charge this payment on a later day instead of now.")

    def open_dialog() -> None:
        summary = order.summary
        method = order.selected_method()
        parent = button.window()
        if summary is None or not summary.can_pay:
            QMessageBox.information(parent, "Schedule payment", summary.error if summary
                                    and summary.error else "The order summary is not ready.")
            return
        if method is None:
            QMessageBox.information(parent, "Schedule payment",
                                    "Choose one of the client's saved cards or bank accounts "
                                    "to schedule a payment; pay links and new methods are "
                                    "paid now.")
            return
        labels = {line.invoice_id: line.label for line in summary.lines}
        dialog = ScheduleDialog(order.context, order.organization_id, method,
                                summary.allocations, labels, parent)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            day = dialog.chosen_day()
            QMessageBox.information(parent, "Payment scheduled",
                                    f"Scheduled for {date_text(day)}. Nothing "
                                    "was charged now.")
            order.reject()

    button.clicked.connect(open_dialog)
    return button
