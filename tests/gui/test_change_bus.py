"""Screens that are open when money moves show the new figures within a second: a payment
taken in the Order Summary dialog reaches Invoice History, Transactions and Payment Search
through the change bus, without the bookkeeper leaving or reloading them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QAbstractItemModel, Qt
from PySide6.QtWidgets import QLineEdit, QPushButton
from pytestqt.qtbot import QtBot

from app.gui.context import AppContext
from app.gui.invoices import create_invoices_area
from app.gui.payments.order_summary import OrderSummaryDialog
from app.gui.payments.search import create_payment_search_area
from app.gui.payments.transactions import create_transactions_area
from tests.gui.conftest import wait_for_background_tasks
from tests.gui.payments_support import ORG_ID, PaymentWorld, build_world
from tests.integration.payments.gateways import start_kit


@pytest.fixture
def world(set_up_context: AppContext, gateway_key: str) -> Iterator[PaymentWorld]:
    with start_kit(gateway_key) as kit:
        yield build_world(set_up_context, kit)


def _cell(model: QAbstractItemModel, key_column: str, key: str, column: str) -> str | None:
    titles = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    key_at, value_at = titles.index(key_column), titles.index(column)
    for row in range(model.rowCount()):
        if model.index(row, key_at).data() == key:
            return str(model.index(row, value_at).data())
    return None


def test_a_payment_reaches_every_open_screen_within_a_second(
    qtbot: QtBot, world: PaymentWorld
) -> None:
    context = world.context
    invoices = create_invoices_area(context)
    transactions = create_transactions_area(context)
    search = create_payment_search_area(context)
    for widget in (invoices, transactions, search):
        qtbot.addWidget(widget)
        widget.show()
    wait_for_background_tasks(qtbot)
    history = invoices.history  # type: ignore[attr-defined]
    assert _cell(history.model, "Invoice #", "1045", "Balance") == "$1,200.00"
    assert transactions.model.rowCount() == 0  # type: ignore[attr-defined]

    dialog = OrderSummaryDialog(context, ORG_ID, [world.invoice_ids[0]])
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.summary is not None, timeout=5000)
    amount = dialog.findChild(QLineEdit, "paymentAmount")
    assert amount is not None
    amount.selectAll()
    qtbot.keyClicks(amount, "200.00")
    qtbot.waitUntil(lambda: not dialog._recompute_timer.isActive(), timeout=2000)
    pay = dialog.findChild(QPushButton, "payButton")
    assert pay is not None
    qtbot.mouseClick(pay, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.outcome is not None, timeout=15_000)
    assert dialog.outcome is not None and dialog.outcome.approved

    qtbot.waitUntil(
        lambda: _cell(history.model, "Invoice #", "1045", "Balance") == "$1,000.00",
        timeout=1000)
    qtbot.waitUntil(lambda: transactions.model.rowCount() == 1,  # type: ignore[attr-defined]
                    timeout=1000)
    qtbot.waitUntil(lambda: search.model.rowCount() == 1,  # type: ignore[attr-defined]
                    timeout=1000)
