"""The main flow with the keyboard alone, as a bookkeeper who does not use the mouse does it:
find an invoice (the platform's Find keys), open it (Enter), Pay (Ctrl+P), type the amount,
choose the method, confirm; then refund part of it from Transactions — every step a key
sent to whatever has the focus, no clicks, no calls into the screens.

Real main window, real SQLite database, the gateway's stand-in over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QComboBox, QDialog, QLineEdit, QPushButton, QWidget
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from app.core.storage.engine import session_scope
from app.core.storage.models import Invoice
from app.gui.context import AppContext
from app.gui.main_window import MainWindow
from app.gui.payments.detail import PaymentDetailDialog, RefundDialog
from app.gui.payments.order_summary import OrderSummaryDialog
from tests.gui.conftest import wait_for_background_tasks
from tests.gui.payments_support import PaymentWorld, build_world
from tests.integration.payments.gateways import start_kit


@pytest.fixture
def world(set_up_context: AppContext, gateway_key: str) -> Iterator[PaymentWorld]:
    with start_kit(gateway_key) as kit:
        yield build_world(set_up_context, kit)


def focused() -> QWidget:
    widget = QApplication.focusWidget()
    assert widget is not None, "nothing has the keyboard focus"
    return widget


def press(key: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    QTest.keyClick(focused(), key, modifier)


def type_text(text: str) -> None:
    QTest.keyClicks(focused(), text)


def shortcut(sequence: QKeySequence | QKeySequence.StandardKey) -> None:
    keys = QKeySequence(sequence)
    assert not keys.isEmpty()
    QTest.keySequence(focused(), keys)


def tab_to(qtbot: QtBot, wanted: QWidget, limit: int = 30) -> None:
    """Tab forward until ``wanted`` has the focus (as a person does, counting nothing)."""
    for _ in range(limit):
        if focused() is wanted:
            return
        press(Qt.Key.Key_Tab)
    raise AssertionError(f"Tab never reached {wanted.objectName() or wanted}")


def active_dialog(qtbot: QtBot, kind: type[QDialog]) -> QDialog:
    """The dialog that just opened, once it is the active window (it has the keyboard)."""
    qtbot.waitUntil(lambda: isinstance(QApplication.activeWindow(), kind), timeout=3000)
    widget = QApplication.activeWindow()
    assert isinstance(widget, kind)
    return widget


def desktop_activates(qtbot: QtBot, window: QWidget) -> None:
    """What the desktop's window manager does when a dialog closes: the window under it is
    active again, its focus where it was (offscreen there is no window manager)."""
    if QApplication.activeWindow() is not window:
        window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2000)


def balance(world: PaymentWorld, invoice_number: str) -> int:
    with session_scope(world.context.engine) as s:
        return int(s.scalar(select(Invoice.balance_minor).where(
            Invoice.invoice_number == invoice_number)) or 0)


def test_pay_and_refund_with_the_keyboard_alone(qtbot: QtBot, world: PaymentWorld) -> None:
    window = MainWindow(world.context)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)
    wait_for_background_tasks(qtbot)
    invoices = window.areas["invoices"]
    history = invoices.history  # type: ignore[attr-defined]

    # Find: the platform's Find keys put the cursor in the search box.
    shortcut(QKeySequence.StandardKey.Find)
    assert focused() is history.search
    type_text("1046")
    qtbot.waitUntil(lambda: history.model.rowCount() == 1, timeout=3000)
    # Down goes to the result; Enter opens it.
    press(Qt.Key.Key_Down)
    assert focused() is history.table
    press(Qt.Key.Key_Return)
    page = invoices.page  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: invoices.stack.currentWidget() is page, timeout=3000)  # type: ignore[attr-defined]
    assert page.isAncestorOf(focused()), "the opened invoice has the focus"

    # Pay (Ctrl+P), the amount, the method, confirm.
    press(Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    dialog = active_dialog(qtbot, OrderSummaryDialog)
    assert isinstance(dialog, OrderSummaryDialog)
    qtbot.waitUntil(lambda: dialog.summary is not None, timeout=5000)
    amount = dialog.findChild(QLineEdit, "paymentAmount")
    assert focused() is amount, "the amount has the focus when the dialog opens"
    press(Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    type_text("100.00")
    method = dialog.findChild(QComboBox, "paymentMethod")
    assert method is not None
    tab_to(qtbot, method)
    visa = method.findData(f"saved:{world.method().id}")
    while method.currentIndex() != visa:
        press(Qt.Key.Key_Down if method.currentIndex() < visa else Qt.Key.Key_Up)
    qtbot.waitUntil(lambda: not dialog._recompute_timer.isActive(), timeout=2000)
    pay_button = dialog.findChild(QPushButton, "payButton")
    assert pay_button is not None and pay_button.isEnabled()
    assert "$100.00" in pay_button.text()
    tab_to(qtbot, pay_button)
    press(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dialog.outcome is not None, timeout=15_000)
    assert dialog.outcome is not None and dialog.outcome.approved, dialog.outcome
    assert balance(world, "1046") == 45_050 - 10_000
    world.kit.settle_batch()  # as a day later: Authorize.Net refunds part once settled
    # Esc closes the dialog once the payment is done.
    press(Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=2000)

    # Back (Alt+Left; ⌘[ on macOS) returns to Invoice History.
    desktop_activates(qtbot, window)
    shortcut(QKeySequence.StandardKey.Back)
    qtbot.waitUntil(lambda: invoices.stack.currentWidget() is history, timeout=2000)  # type: ignore[attr-defined]
    assert focused() is history.table

    # Refund: Transactions (Ctrl+3), the payment (Down, Enter), Refund, part, reason, confirm.
    press(Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    transactions = window.areas["transactions"]
    qtbot.waitUntil(lambda: transactions.model.rowCount() == 1, timeout=3000)  # type: ignore[attr-defined]
    shortcut(QKeySequence.StandardKey.Find)
    assert focused() is transactions.search  # type: ignore[attr-defined]
    press(Qt.Key.Key_Down)
    assert focused() is transactions.table  # type: ignore[attr-defined]
    press(Qt.Key.Key_Return)
    detail = active_dialog(qtbot, PaymentDetailDialog)
    assert isinstance(detail, PaymentDetailDialog)
    qtbot.waitUntil(lambda: detail.detail is not None and detail.refund_button.isEnabled(),
                    timeout=5000)
    tab_to(qtbot, detail.refund_button)
    press(Qt.Key.Key_Space)
    refund = active_dialog(qtbot, RefundDialog)
    assert isinstance(refund, RefundDialog)
    tab_to(qtbot, refund.full_radio)
    press(Qt.Key.Key_Down)  # the radio buttons: "Part of it"
    assert refund.partial_radio.isChecked()
    assert focused() in (refund.partial_radio, refund.amount_edit)
    tab_to(qtbot, refund.amount_edit)
    press(Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    type_text("40")
    press(Qt.Key.Key_Tab)
    assert focused() is refund.reason_edit
    type_text("Charged for a visit that was cancelled")
    tab_to(qtbot, refund.confirm_button)
    assert refund.confirm_button.isEnabled() and "$40.00" in refund.confirm_button.text()
    with qtbot.waitSignal(refund.refunded, timeout=15_000):
        press(Qt.Key.Key_Return)
    assert balance(world, "1046") == 45_050 - 10_000 + 4_000
    qtbot.waitUntil(lambda: not refund.isVisible(), timeout=3000)
    desktop_activates(qtbot, detail)
    press(Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not detail.isVisible(), timeout=2000)
    window.close()
    wait_for_background_tasks(qtbot)
