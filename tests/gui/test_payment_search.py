"""Payment Search: filters, the Autotask-like columns, CSV export, and rows fetched on demand
over a long history."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QPushButton
from pytestqt.qtbot import QtBot

from app.core.money import Money
from app.core.payments import PaymentPipeline
from app.core.payments.fixtures import build_payment_history, reference, sale_minor
from app.core.queries.payments import PaymentSearchTotals, payment_search_totals
from app.core.storage.engine import session_scope
from app.core.storage.models import Payment
from app.gui.context import AppContext
from app.gui.payments import search as search_module
from app.gui.payments.search import PaymentSearchView, period_range
from tests.gui.conftest import wait_for_background_tasks
from tests.gui.payments_support import PaymentWorld, build_world, pay
from tests.integration.payments.gateways import start_kit


@pytest.fixture
def world(set_up_context: AppContext, gateway_key: str) -> Iterator[PaymentWorld]:
    with start_kit(gateway_key) as kit:
        yield build_world(set_up_context, kit)


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
    pay(world, world.invoice_ids[2:3], "decline")
    world.kit.settle_batch()  # a day later: Authorize.Net refunds part once settled
    PaymentPipeline(world.context.engine, world.gateway).refund(
        sale, Money(2_500, "USD"), "Credit for a duplicate line")
    view = make_view(qtbot, world.context)

    assert view.table.objectName() == "paymentSearchTable"
    # Counts and money totals of what is listed: $1,650.50 taken (the declined attempt took
    # nothing), $25.00 refunded.
    assert view.count_label.text() == (
        "2 sales, 1 refund    Taken $1,650.50    Refunded $25.00    Net $1,625.50")
    titles = [c.title for c in view.model.columns()]
    for title in ("Type", "Sale Amount", "Payment Amount", "Applied Amount", "Unapplied Amount",
                  "Refund Amount", "Transaction ID", "Date", "Contact", "Method"):
        assert title in titles
    assert column(view, "Type") == ["Refund", "Sale", "Sale"]
    assert column(view, "Refund Amount")[0] == "$25.00"
    assert column(view, "Sale Amount")[2] == "$1,650.50"
    # The declined attempt took nothing: its Sale Amount is $0.00 (zero reads the same
    # everywhere), beside the Payment Amount that was attempted.
    assert column(view, "Sale Amount")[1] == "$0.00"
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
    assert "say “test” after their reference" in view.test_banner.text()
    assert all(ref.endswith(" (test)") for ref in column(view, "Reference"))

    type_combo = view.findChild(QComboBox, "searchType")
    assert type_combo is not None
    type_combo.setCurrentIndex(type_combo.findData("refund"))
    view.reload()
    wait_for_background_tasks(qtbot)
    assert column(view, "Type") == ["Refund"]

    view.clear_filters()
    wait_for_background_tasks(qtbot)
    invoice = view.findChild(QLineEdit, "searchInvoiceNumber")
    assert invoice is not None
    invoice.setText("1047")
    view.reload()
    wait_for_background_tasks(qtbot)
    assert column(view, "Status") == ["Declined"]

    invoice.setText("no-such-invoice")
    view.reload()
    wait_for_background_tasks(qtbot)
    assert view.empty.title() == "Nothing matches these filters"
    export_button = view.findChild(QPushButton, "exportCsvButton")
    assert export_button is not None and not export_button.isEnabled()

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


def test_a_long_history_is_listed_newest_first_and_rows_come_on_demand(
    qtbot: QtBot, set_up_context: AppContext, qtmodeltester: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # How fast this is at 100,000 payments is measured by benchmarks/payments_benchmark.py.
    total = 2_000
    history = build_payment_history(set_up_context.engine, payments=total)
    view = make_view(qtbot, set_up_context)
    assert view.model.rowCount() == total + history.refunds
    assert view.count_label.text().startswith(f"{total:,} sales, {history.refunds} refunds    ")
    # Only the pages the view painted were read, not every row.
    assert view.model.fetch_count <= 3
    assert column_at(view, 0, "Reference") == f"{reference(total)} (test)"  # newest first
    view.table.scrollToBottom()
    qtbot.wait(50)
    wait_for_background_tasks(qtbot)  # the last page comes from a worker
    last = view.model.rowCount() - 1
    assert column_at(view, last, "Reference") == f"{reference(1)} (test)"
    assert column_at(view, last - 1, "Type") == "Refund"  # 30 seconds after payment 1
    assert view.model.fetch_count <= 6

    # Sorting by amount is one new SQL query; the largest sale comes first.
    sale_amount = [c.title for c in view.model.columns()].index("Sale Amount")
    view._on_header_clicked(sale_amount)
    wait_for_background_tasks(qtbot)
    first = view.model.row_at(0)
    assert first is not None and first.sale_amount is not None
    assert first.sale_amount.minor == max(sale_minor(n) for n in range(1, total + 1))

    # A new order adds up to the same: the totals are not added up again...
    counted: list[object] = []

    def counting(*args: Any) -> PaymentSearchTotals:
        counted.append(args)
        return payment_search_totals(*args)

    monkeypatch.setattr(search_module, "payment_search_totals", counting)
    view._on_header_clicked(sale_amount)  # smallest first
    wait_for_background_tasks(qtbot)
    assert counted == [] and view.count_label.text().startswith(f"{total:,} sales, ")
    # ...unless payments changed, or the reused count no longer fits the rows listed.
    view.refresh_payments([])
    wait_for_background_tasks(qtbot)
    assert len(counted) == 1
    with session_scope(set_up_context.engine) as session:
        session.add(Payment(reference="PD-ANOTHER-SEAT", idempotency_key="another-seat",
                            organization_id=1, currency="USD", amount_minor=100,
                            surcharge_minor=0, total_minor=100, gateway="stripe",
                            state="succeeded", created_at=datetime.now(UTC),
                            created_by="another seat"))
    view._on_header_clicked(sale_amount)  # another seat's payment, no notice here
    wait_for_background_tasks(qtbot)
    assert len(counted) == 2 and view.model.rowCount() == total + 1 + history.refunds
    assert view.count_label.text().startswith(f"{total + 1:,} sales, ")

    # The model follows Qt's rules (checked on a page of the rows).
    small = view.model
    small.set_ids(small.ids()[:300])
    qtmodeltester.check(small)  # type: ignore[attr-defined]


def column_at(view: PaymentSearchView, row: int, title: str) -> str:
    index = [c.title for c in view.model.columns()].index(title)
    return str(view.model.index(row, index).data(Qt.ItemDataRole.DisplayRole))


def test_at_the_default_window_payment_search_fits_and_the_rest_waits_in_the_header_menu(
    qtbot: QtBot, world: PaymentWorld
) -> None:
    from app.gui.main_window import MainWindow
    from app.gui.resources import style_sheet

    sale = pay(world, world.invoice_ids[:2])
    pay(world, world.invoice_ids[2:3])
    PaymentPipeline(world.context.engine, world.gateway).refund(
        sale, Money(2_500, "USD"), "Credit for a duplicate line")
    window = MainWindow(world.context)
    window.setStyleSheet(style_sheet())
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    view = window.show_area("payment_search")
    assert isinstance(view, PaymentSearchView)
    wait_for_background_tasks(qtbot)
    header = view.table.horizontalHeader()
    titles = [c.title for c in view.model.columns()]
    shown = [titles[s] for s in range(header.count()) if not header.isSectionHidden(s)]
    assert shown == ["Type", "Date", "Organization", "Sale Amount", "Refund Amount", "Status",
                     "Reference"]
    # Everything shown fits without sideways scrolling (once the fitter has run on the rows
    # that arrived); every column holds its widest cell and the organization's name keeps
    # room to be read.
    sections = [s for s in range(header.count()) if not header.isSectionHidden(s)]
    qtbot.waitUntil(lambda: sum(header.sectionSize(s) for s in sections)
                    <= view.table.viewport().width(), timeout=5000)
    assert not view.table.horizontalScrollBar().isVisible()
    organization = titles.index("Organization")
    assert header.sectionSize(organization) >= 160
    for section in sections:
        if section != organization:
            assert header.sectionSize(section) >= view.columns_fit.content_width(section)
    # The other Autotask columns are one click away in the header's menu, as the area's
    # subtitle says.
    assert "right-click a column title" in " ".join(
        label.text() for label in view.findChildren(QLabel))
    menu = view.columns_fit.menu()
    unchecked = [a.text() for a in menu.actions() if a.isCheckable() and not a.isChecked()]
    assert unchecked == ["Payment Amount", "Applied Amount", "Unapplied Amount",
                         "Transaction ID", "Contact", "Method"]
    method = next(a for a in menu.actions() if a.text() == "Method")
    method.setChecked(True)
    assert not header.isSectionHidden(titles.index("Method"))
