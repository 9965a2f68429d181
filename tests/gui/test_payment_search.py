"""Payment Search: filters, the Autotask-like columns, CSV export, and rows fetched on demand
at 100,000 payments."""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLineEdit, QPushButton
from pytestqt.qtbot import QtBot
from sqlalchemy import Engine, insert

from app.core.money import Money
from app.core.payments import PaymentPipeline
from app.core.storage.models import Organization, Payment
from app.gui.context import AppContext
from app.gui.payments.search import PaymentSearchView, period_range
from app.sandbox.gateway import GatewaySandbox
from tests.gui.conftest import wait_for_background_tasks
from tests.gui.payments_support import PaymentWorld, build_world, pay


@pytest.fixture
def world(set_up_context: AppContext) -> Iterator[PaymentWorld]:
    with GatewaySandbox() as sandbox:
        yield build_world(set_up_context, sandbox)


def make_view(qtbot: QtBot, context: AppContext) -> PaymentSearchView:
    view = PaymentSearchView(context)
    qtbot.addWidget(view)
    view.show()
    wait_for_background_tasks(qtbot)
    return view


def column(view: PaymentSearchView, title: str) -> list[str]:
    index = [c.title for c in view.model.columns()].index(title)
    return [view.model.index(r, index).data() for r in range(view.model.rowCount())]


def test_sales_and_refunds_with_autotask_columns_filters_and_csv(
    qtbot: QtBot, world: PaymentWorld, tmp_path: Path
) -> None:
    sale = pay(world, world.invoice_ids[:2])
    pay(world, world.invoice_ids[2:3], last4="9995")
    PaymentPipeline(world.context.engine, world.gateway).refund(
        sale, Money(2_500, "USD"), "Credit for a duplicate line")
    view = make_view(qtbot, world.context)

    assert view.table.objectName() == "paymentSearchTable"
    assert view.count_label.text() == "2 sales, 1 refund"
    titles = [c.title for c in view.model.columns()]
    for title in ("Type", "Sale Amount", "Payment Amount", "Applied Amount", "Unapplied Amount",
                  "Refund Amount", "Transaction ID", "Date", "Contact", "Method"):
        assert title in titles
    assert column(view, "Type") == ["Refund", "Sale", "Sale"]
    assert column(view, "Refund Amount")[0] == "$25.00"
    assert column(view, "Sale Amount")[2] == "$1,650.50"
    # The declined attempt took nothing: no Sale Amount a bookkeeper could add up.
    assert column(view, "Sale Amount")[1] == ""
    assert column(view, "Payment Amount")[1] == "$99.99"
    sale_column = [c.title for c in view.model.columns()].index("Sale Amount")
    assert view.model.index(1, sale_column).data(Qt.ItemDataRole.ToolTipRole) == (
        "Declined: nothing was charged.")
    assert column(view, "Applied Amount")[2] == "$1,650.50"
    assert column(view, "Contact")[2] == "Dana Reyes"
    assert column(view, "Status") == ["Refunded", "Declined", "Partially refunded"]
    # Taken with the sandbox's test keys: marked as in Transactions.
    titles = [c.title for c in view.model.columns()]
    for title in ("Date", "Reference"):
        for row in range(view.model.rowCount()):
            cell = view.model.index(row, titles.index(title))
            assert cell.data(Qt.ItemDataRole.ToolTipRole) == (
                "Taken in test mode: no real money moved.")
            assert cell.data(Qt.ItemDataRole.ForegroundRole) is not None
    assert "grey date and reference" in view.test_banner.text()

    type_combo = view.findChild(QComboBox, "searchType")
    type_combo.setCurrentIndex(type_combo.findData("refund"))
    view.reload()
    wait_for_background_tasks(qtbot)
    assert column(view, "Type") == ["Refund"]

    view.clear_filters()
    wait_for_background_tasks(qtbot)
    invoice = view.findChild(QLineEdit, "searchInvoiceNumber")
    invoice.setText("1047")
    view.reload()
    wait_for_background_tasks(qtbot)
    assert column(view, "Status") == ["Declined"]

    invoice.setText("no-such-invoice")
    view.reload()
    wait_for_background_tasks(qtbot)
    assert view.empty.title() == "Nothing matches these filters"
    assert not view.findChild(QPushButton, "exportCsvButton").isEnabled()

    view.clear_filters()
    wait_for_background_tasks(qtbot)
    target = tmp_path / "payments.csv"
    task = view.export_to(target)
    qtbot.waitUntil(lambda: not task.is_running, timeout=5000)
    with target.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][:5] == ["Type", "Reference", "Date", "Organization", "Sale Amount"]
    assert [r[0] for r in rows[1:]] == ["Refund", "Sale", "Sale"]
    assert rows[3][4] == "1650.50"  # plain numbers a spreadsheet reads
    assert rows[0][-1] == "Test Mode" and {r[-1] for r in rows[1:]} == {"Yes"}
    assert "Exported 3 rows" in view.status_label.text()


def test_period_choices_cover_whole_days() -> None:
    today = datetime(2026, 3, 15, tzinfo=UTC).date()
    assert period_range("today", today) == (today, today)
    assert period_range("7", today) == (today - timedelta(days=6), today)
    assert period_range("last_month", today) == (today.replace(month=2, day=1),
                                                  today.replace(month=2, day=28))
    assert period_range("any", today) == (None, None)


def _bulk_payments(engine: Engine, count: int) -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with engine.begin() as connection:
        connection.execute(insert(Organization), [
            {"id": i, "name": f"Client {i:03d}", "is_active": True, "synced_at": start}
            for i in range(1, 101)
        ])
        batch = []
        for n in range(1, count + 1):
            amount = 1_000 + (n * 7919) % 500_000
            batch.append({
                "reference": f"PD-{n:08d}", "idempotency_key": f"key-{n}",
                "organization_id": 1 + n % 100, "currency": "USD", "amount_minor": amount,
                "surcharge_minor": 0, "total_minor": amount, "refunded_minor": 0,
                "gateway": "stripe", "test_mode": True, "state": "succeeded",
                "gateway_transaction_id": f"ch_{n:012d}", "method_summary": "Visa •••• 4242",
                "created_at": start + timedelta(minutes=n), "created_by": "tests",
                "channel": "saved_method",
            })
            if len(batch) == 20_000:
                connection.execute(insert(Payment), batch)
                batch.clear()
        if batch:
            connection.execute(insert(Payment), batch)


def test_fast_at_100000_payments_and_rows_come_on_demand(
    qtbot: QtBot, set_up_context: AppContext, qtmodeltester: object
) -> None:
    _bulk_payments(set_up_context.engine, 100_000)
    started = time.perf_counter()
    view = make_view(qtbot, set_up_context)
    listed = time.perf_counter() - started
    assert view.model.rowCount() == 100_000
    assert view.count_label.text() == "100,000 sales, 0 refunds"
    # Only the pages the view painted were read, not 100,000 rows.
    assert view.model.fetch_count <= 3
    assert column_at(view, 0, "Reference") == "PD-00100000"  # newest first
    view.table.scrollToBottom()
    qtbot.wait(50)
    assert column_at(view, 99_999, "Reference") == "PD-00000001"
    assert view.model.fetch_count <= 6
    assert listed < 5.0, f"listing 100,000 payments took {listed:.2f} s"

    # Sorting by amount is one new SQL query.
    started = time.perf_counter()
    sale_amount = [c.title for c in view.model.columns()].index("Sale Amount")
    view._on_header_clicked(sale_amount)
    wait_for_background_tasks(qtbot)
    resorted = time.perf_counter() - started
    assert resorted < 5.0, f"sorting 100,000 payments took {resorted:.2f} s"
    first = view.model.row_object(0)
    assert first is not None and first.sale_amount is not None
    assert first.sale_amount.minor == max(1_000 + (n * 7919) % 500_000
                                          for n in range(1, 100_001))

    # The model follows Qt's rules (checked on a page of the 100,000 rows).
    small = view.model
    small.set_ids(small.ids()[:300])
    qtmodeltester.check(small)  # type: ignore[attr-defined]


def column_at(view: PaymentSearchView, row: int, title: str) -> str:
    index = [c.title for c in view.model.columns()].index(title)
    return str(view.model.index(row, index).data(Qt.ItemDataRole.DisplayRole))
