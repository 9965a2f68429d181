"""Invoice History, the Invoice page and the Organization view, driven like a bookkeeper."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from PySide6.QtCore import (
    QCoreApplication,
    QEvent,
    QItemSelectionModel,
    QObject,
    QSettings,
    Qt,
)
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QLineEdit, QTableView
from sqlalchemy import select, update

from app.core.invoice_state import InvoiceStatus, recompute_invoices
from app.core.queries.fixtures import build_ledger
from app.core.queries.invoices import InvoiceColumn, InvoiceQuery, invoice_ids, invoice_rows
from app.core.storage.engine import read_connection, session_scope
from app.core.storage.models import Invoice
from app.gui.context import AppContext
from app.gui.invoices import InvoicesArea
from app.gui.invoices.formatting import local_today
from app.gui.invoices.history import InvoiceHistoryView, _export_listing
from app.gui.invoices.model import COLUMNS, InvoiceHistoryModel
from app.gui.invoices.page import autotask_organization_url
from app.gui.organizations import OrganizationListModel, OrganizationsArea
from tests.gui.conftest import wait_for_background_tasks


def settle(qtbot: object) -> None:
    """Let the id queries and the pages of rows (run in workers) arrive and be painted."""
    for _ in range(3):
        QCoreApplication.processEvents()
        wait_for_background_tasks(qtbot)


@pytest.fixture
def ledger(set_up_context: AppContext) -> AppContext:
    build_ledger(set_up_context.engine, organizations=30, invoices=1_200)
    return set_up_context


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[QSettings]:
    s = QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)
    yield s
    s.sync()


def _view(
    ledger: AppContext, qtbot: object, settings: QSettings | None = None
) -> InvoiceHistoryView:
    view = InvoiceHistoryView(ledger, settings=settings)
    qtbot.addWidget(view)  # type: ignore[attr-defined]
    view.resize(1400, 800)
    view.show()
    settle(qtbot)
    return view


def _owed_count(ledger: AppContext) -> int:
    with session_scope(ledger.engine) as s:
        return len(
            s.scalars(
                select(Invoice.id).where(Invoice.status.in_(("open", "partially_paid")))
            ).all()
        )


@pytest.fixture
def model_owner(qapp: object) -> Iterator[QObject]:
    """Owns models made without a view; deleted after ``qtmodeltester`` has let go of them,
    while the application still runs."""
    owner = QObject()
    yield owner
    owner.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def test_models_pass_the_model_tester(
    ledger: AppContext, model_owner: QObject, qtmodeltester: object, qtbot: object
) -> None:
    owner = model_owner
    invoices = InvoiceHistoryModel(ledger.engine, "USD", parent=owner)
    invoices.set_query(InvoiceQuery(show_paid=True))
    settle(qtbot)
    assert invoices.rowCount() == 1_200
    assert invoices.totals().count == 1_200
    qtmodeltester.check(invoices, force_py=True)  # type: ignore[attr-defined]
    organizations = OrganizationListModel(ledger.engine, "USD", parent=owner)
    organizations.reload()
    settle(qtbot)
    assert organizations.rowCount() == 30
    qtmodeltester.check(organizations, force_py=True)  # type: ignore[attr-defined]


def test_opens_on_what_is_owed_with_totals(ledger: AppContext, qtbot: object) -> None:
    view = _view(ledger, qtbot)
    assert view.findChild(QTableView, "invoiceTable") is view.table
    assert view.findChild(QLineEdit, "invoiceSearch") is view.search
    assert view.findChild(QComboBox, "invoiceStatusFilter") is view.status_filter
    switch = view.findChild(QCheckBox, "showPaidSwitch")
    assert switch is not None and not switch.isChecked()
    owed = _owed_count(ledger)
    assert view.model.rowCount() == owed
    totals = view.findChild(QLabel, "invoiceTotals")
    assert totals is not None
    qtbot.waitUntil(lambda: totals.text().startswith(f"{owed:,} invoices"))  # type: ignore[attr-defined]
    assert "Balance $" in totals.text()
    # Amounts are right-aligned and formatted in the internal currency.
    total_column = COLUMNS.index(InvoiceColumn.TOTAL)
    index = view.model.index(0, total_column)
    assert index.data().startswith("$")
    assert index.data(Qt.ItemDataRole.TextAlignmentRole) & Qt.AlignmentFlag.AlignRight
    status = view.model.index(0, COLUMNS.index(InvoiceColumn.STATUS))
    assert status.data(Qt.ItemDataRole.AccessibleTextRole) in {"Open", "Partially paid", "Overdue"}


def test_clicking_headers_sorts_in_sql(ledger: AppContext, qtbot: object) -> None:
    view = _view(ledger, qtbot)
    view.show_paid.setChecked(True)
    header = view.table.horizontalHeader()
    balance = COLUMNS.index(InvoiceColumn.BALANCE)
    header.sectionClicked.emit(balance)
    settle(qtbot)
    rows = view.model.rows_for(view.model.ids())
    assert [r.balance_minor for r in rows] == sorted((r.balance_minor for r in rows), reverse=True)
    header.sectionClicked.emit(balance)
    settle(qtbot)
    rows = view.model.rows_for(view.model.ids())
    assert [r.balance_minor for r in rows] == sorted(r.balance_minor for r in rows)
    assert header.sortIndicatorSection() == balance
    organization = COLUMNS.index(InvoiceColumn.ORGANIZATION)
    header.sectionClicked.emit(organization)
    settle(qtbot)
    names = [r.organization_name for r in view.model.rows_for(view.model.ids())]
    assert names == sorted(names)


def test_search_as_you_type(ledger: AppContext, qtbot: object) -> None:
    view = _view(ledger, qtbot)
    view.show_paid.setChecked(True)
    qtbot.keyClicks(view.search, "1100")  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: view.model.rowCount() == 1, timeout=3000)  # type: ignore[attr-defined]
    assert view.model.rows_for(view.model.ids())[0].invoice_number == "1100"
    view.search.clear()
    qtbot.waitUntil(lambda: view.model.rowCount() == 1_200, timeout=3000)  # type: ignore[attr-defined]


def test_status_filter_and_show_paid(ledger: AppContext, qtbot: object) -> None:
    view = _view(ledger, qtbot)
    view.set_status_filter(InvoiceStatus.OVERDUE)
    settle(qtbot)
    rows = view.model.rows_for(view.model.ids())
    assert rows and all(r.status is InvoiceStatus.OVERDUE for r in rows)
    view.set_status_filter(InvoiceStatus.PAID)
    settle(qtbot)
    assert view.show_paid.isChecked()  # asking for Paid shows them
    assert all(r.status is InvoiceStatus.PAID for r in view.model.rows_for(view.model.ids()))
    view.show_paid.setChecked(False)
    settle(qtbot)
    assert view.status_filter.currentIndex() == 0
    assert view.model.rowCount() == _owed_count(ledger)
    view.show_paid.setChecked(True)
    settle(qtbot)
    assert view.model.rowCount() == 1_200


def test_no_match_shows_an_empty_state_that_clears_filters(
    ledger: AppContext, qtbot: object
) -> None:
    view = _view(ledger, qtbot)
    view.set_search("zzz-no-such-thing")
    settle(qtbot)
    assert view.stack.currentWidget() is view.empty
    assert view.empty.title() == "No invoices match"
    view.empty.action_button.click()
    settle(qtbot)
    assert view.stack.currentWidget() is view.table
    assert view.model.rowCount() == _owed_count(ledger)


def test_changed_rows_update_in_place_keeping_selection_and_scroll(
    ledger: AppContext, qtbot: object
) -> None:
    view = _view(ledger, qtbot)
    view.show_paid.setChecked(True)
    view.sort_by(InvoiceColumn.INVOICE_DATE, True)
    settle(qtbot)
    ids = view.model.ids()
    chosen = [ids[600], ids[601], ids[605]]
    view.table.scrollTo(view.model.index(600, 0))
    settle(qtbot)
    for item_id in chosen:
        view.table.selectionModel().select(
            view.model.index(view.model.row_of(item_id) or 0, 0),
            QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
        )
    scroll = view.table.verticalScrollBar().value()
    assert scroll > 0
    reset_count = []
    view.model.modelReset.connect(lambda: reset_count.append(1))
    changed = []
    view.model.dataChanged.connect(lambda a, b: changed.append((a.row(), b.row())))
    # A sync marks one selected invoice paid in Autotask.
    with session_scope(ledger.engine) as s:
        s.execute(update(Invoice).where(Invoice.id == chosen[0]).values(paid_date=Invoice.due_date))
        recompute_invoices(s, [chosen[0]])
    view.refresh_invoices([chosen[0]])
    settle(qtbot)
    assert not reset_count  # same ids with Show paid on: updated in place
    assert changed == [(600, 600)]
    assert view.model.rows_for([chosen[0]])[0].status is InvoiceStatus.PAID
    assert view.selected_ids() == chosen
    assert view.table.verticalScrollBar().value() == scroll
    # With Show paid off the paid invoice leaves the list; the others stay selected.
    view.show_paid.setChecked(False)
    settle(qtbot)
    remaining = [i for i in chosen[1:] if view.model.row_of(i) is not None]
    view.table.selectionModel().clearSelection()
    for item_id in remaining:
        view.table.selectionModel().select(
            view.model.index(view.model.row_of(item_id) or 0, 0),
            QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
        )
    if remaining:
        with session_scope(ledger.engine) as s:
            s.execute(
                update(Invoice).where(Invoice.id == remaining[0]).values(paid_date=Invoice.due_date)
            )
            recompute_invoices(s, [remaining[0]])
        view.refresh_invoices([remaining[0]])
        settle(qtbot)
        assert view.model.row_of(remaining[0]) is None
        assert view.selected_ids() == remaining[1:]


def test_export_writes_the_current_view(ledger: AppContext, qtbot: object, tmp_path: Path) -> None:
    view = _view(ledger, qtbot)
    view.set_status_filter(InvoiceStatus.OVERDUE)
    settle(qtbot)
    target = tmp_path / "overdue.csv"
    task = view.export_csv(target)
    qtbot.waitUntil(lambda: not task.is_running, timeout=5000)  # type: ignore[attr-defined]
    count = task.outcome
    with target.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    # The columns shown, in their order (QuickBooks # is hidden while no invoice has one).
    assert rows[0] == [c.heading for c in view.visible_columns()]
    assert "QuickBooks #" not in rows[0]
    view.set_column_visible(InvoiceColumn.QB_NUMBER, True)
    task = view.export_csv(target)
    qtbot.waitUntil(lambda: not task.is_running, timeout=5000)  # type: ignore[attr-defined]
    with target.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert "QuickBooks #" in rows[0]
    assert count == len(rows) - 1 == view.model.rowCount()
    status_at = rows[0].index("Status")
    balance_at = rows[0].index("Balance")
    assert {r[status_at] for r in rows[1:]} == {"Overdue"}
    first = view.model.rows_for(view.model.ids()[:1])[0]
    assert rows[1][balance_at] == f"{first.balance_minor / 100:.2f}"
    total = sum(int(r[balance_at].replace(".", "")) for r in rows[1:])
    assert total == view.model.totals().balance_minor


def test_layout_sort_and_filters_are_remembered(
    ledger: AppContext, qtbot: object, settings: QSettings
) -> None:
    view = _view(ledger, qtbot, settings)
    view.table.horizontalHeader().moveSection(COLUMNS.index(InvoiceColumn.BALANCE), 0)
    view.table.horizontalHeader().resizeSection(COLUMNS.index(InvoiceColumn.TERMS), 222)
    view.show_paid.setChecked(True)
    view.sort_by(InvoiceColumn.TOTAL, False)
    settle(qtbot)
    view.save_layout()
    again = _view(ledger, qtbot, settings)
    assert again.show_paid.isChecked()
    assert again.model.query().sort is InvoiceColumn.TOTAL
    assert not again.model.query().descending
    header = again.table.horizontalHeader()
    assert header.logicalIndex(0) == COLUMNS.index(InvoiceColumn.BALANCE)
    assert header.sectionSize(COLUMNS.index(InvoiceColumn.TERMS)) == 222
    assert again.visible_columns()[0] is InvoiceColumn.BALANCE


def test_enter_opens_the_invoice_page_whose_lines_add_up(ledger: AppContext, qtbot: object) -> None:
    area = InvoicesArea(ledger)
    qtbot.addWidget(area)  # type: ignore[attr-defined]
    area.resize(1300, 800)
    area.show()
    view = area.history
    view.set_status_filter(InvoiceStatus.PARTIALLY_PAID)
    settle(qtbot)
    view.table.setFocus()
    view.table.setCurrentIndex(view.model.index(0, 0))
    with qtbot.waitSignal(view.openInvoiceRequested):  # type: ignore[attr-defined]
        qtbot.keyClick(view.table, Qt.Key.Key_Return)  # type: ignore[attr-defined]
    settle(qtbot)
    page = area.page
    assert area.stack.currentWidget() is page
    detail = page.detail
    assert detail is not None and detail.row.id == view.model.id_at(0)
    amounts = [
        int(page.lines.item(r, 4).text().replace("$", "").replace(",", "").replace(".", ""))
        + int(page.lines.item(r, 5).text().replace("$", "").replace(",", "").replace(".", ""))
        for r in range(page.lines.rowCount())
    ]
    assert sum(amounts) == detail.row.total_minor
    assert page.facts["Total"].text() == page.lines_footer.text().split("Total ")[-1].split("<")[0]
    assert page.payments.rowCount() >= 1 and page.payments.item(0, 3).text().startswith("PD-")
    assert not page.open_autotask_action.isVisible()  # no zone known: no dead action
    page.copy_invoice_number()
    from PySide6.QtGui import QGuiApplication

    assert QGuiApplication.clipboard().text() == detail.row.invoice_number
    page.back_button.click()
    assert area.stack.currentWidget() is view


def test_autotask_link_opens_the_organization() -> None:
    url = autotask_organization_url("https://ww15.autotask.net", 29683001)
    assert url == (
        "https://ww15.autotask.net/Autotask/AutotaskExtend/ExecuteCommand.aspx"
        "?Code=OpenAccount&AccountID=29683001"
    )


def test_organization_list_and_page(ledger: AppContext, qtbot: object) -> None:
    area = OrganizationsArea(ledger)
    qtbot.addWidget(area)  # type: ignore[attr-defined]
    area.resize(1300, 800)
    area.show()
    settle(qtbot)
    listing = area.list
    assert listing.findChild(QTableView, "organizationTable") is listing.table
    assert listing.findChild(QLineEdit, "organizationSearch") is listing.search
    assert listing.model.rowCount() == 30
    listing._on_sort_clicked(2)  # open balance, largest first
    settle(qtbot)
    rows = listing.model.rows_for(listing.model.ids())
    balances = [r.open_balance_minor for r in rows]
    assert balances == sorted(balances, reverse=True)
    name = rows[0].name
    listing.search.setText(name)
    listing.search.returnPressed.emit()
    settle(qtbot)
    assert rows[0].id in listing.model.ids()
    area.show_organization(rows[0].id)
    settle(qtbot)
    page = area.page
    assert page is not None and page.title.text().startswith(name)
    assert page.contacts.rowCount() >= 1 and "@" in page.contacts.item(0, 1).text()
    assert page.contracts.rowCount() >= 1
    invoices = page.invoices
    assert invoices.table.isColumnHidden(COLUMNS.index(InvoiceColumn.ORGANIZATION))
    assert "organization" not in invoices.search.placeholderText()
    owed = invoices.model.rows_for(invoices.model.ids())
    assert all(r.organization_id == rows[0].id for r in owed)
    assert sum(r.balance_minor for r in owed) == rows[0].open_balance_minor
    extra = QLabel("More")
    page.add_section("Transactions", extra)
    assert page.tabs.tabText(page.tabs.count() - 1) == "Transactions"


def test_organization_list_shows_nothing_owed_one_way_and_greys_inactive_rows(
    set_up_context: AppContext, qtbot: object
) -> None:
    from app.core.queries.organizations import OrganizationColumn, OrganizationRow

    model = OrganizationListModel(set_up_context.engine, "USD")
    settled = OrganizationRow(id=1, name="Settled Ltd", city=None, is_active=True,
                              open_invoices=0, open_balance_minor=0, overdue_minor=0,
                              last_payment_date=None)
    money = (OrganizationColumn.OPEN_INVOICES, OrganizationColumn.OPEN_BALANCE,
             OrganizationColumn.OVERDUE)
    # Zero is written out as everywhere ($0.00), greyed so what is owed stands out.
    assert [model.cell_text(settled, c) for c in money] == ["0", "$0.00", "$0.00"]
    assert {model.cell_color(settled, c).name() for c in money} == {"#6b7280"}
    owing = replace(settled, open_invoices=2, open_balance_minor=150_000, overdue_minor=50_000)
    assert [model.cell_text(owing, c) for c in money] == ["2", "$1,500.00", "$500.00"]
    assert model.cell_color(owing, OrganizationColumn.OVERDUE).name() == "#a02727"
    assert model.cell_color(owing, OrganizationColumn.OPEN_BALANCE) is None
    inactive = replace(owing, is_active=False)
    grey = {model.cell_color(inactive, c).name() for c in OrganizationColumn}
    assert grey == {"#6b7280"}


def test_empty_organization_list_before_setup_offers_setup(
    set_up_context: AppContext, qtbot: object
) -> None:
    from app.core.connections import AutotaskConnection, save_autotask_connection

    area = OrganizationsArea(set_up_context)
    qtbot.addWidget(area)  # type: ignore[attr-defined]
    settle(qtbot)
    empty = area.list.empty
    assert "Run Setup…" in empty.explanation() and "Open Sync" not in empty.explanation()
    assert empty.action_button.text() == "Run Setup…" and not empty.action_button.isHidden()
    save_autotask_connection(set_up_context.engine, AutotaskConnection(
        username="api@example-msp.com", integration_code="CODE"))
    area.list._after_reset()  # what closing Setup does
    qtbot.waitUntil(lambda: "Open Sync" in empty.explanation())  # type: ignore[attr-defined]
    assert "Open Sync" in empty.explanation() and empty.action_button.isHidden()


def test_a_sync_updates_changed_invoices_in_the_open_areas(
    ledger: AppContext, qtbot: object
) -> None:
    from app.gui.sync.controller import controller_for

    area = InvoicesArea(ledger)
    organizations = OrganizationsArea(ledger)
    for widget in (area, organizations):
        qtbot.addWidget(widget)  # type: ignore[attr-defined]
        widget.show()
    settle(qtbot)
    view = area.history
    first = view.model.id_at(0)
    assert first is not None
    row = view.model.rows_for([first])[0]
    before = organizations.list.model.rows_for([row.organization_id])[0]
    # The sync brings in Autotask's paid date for that invoice and reports its id.
    with session_scope(ledger.engine) as s:
        s.execute(update(Invoice).where(Invoice.id == first).values(paid_date=Invoice.due_date))
        recompute_invoices(s, [first])
    controller_for(ledger).rows_changed.emit("invoices", (first,))
    qtbot.waitUntil(  # type: ignore[attr-defined]
        lambda: view.model.row_of(first) is None, timeout=3000
    )
    qtbot.waitUntil(  # type: ignore[attr-defined]
        lambda: organizations.list.model.rows_for([row.organization_id])[0].open_balance_minor
        == before.open_balance_minor - row.balance_minor,
        timeout=3000,
    )


def test_table_money_text_is_babels_currency_format() -> None:
    from app.core.money import Money
    from app.gui.invoices.formatting import money_text

    for locale in ("en_US", "de_DE", "fr_CH", "ja_JP"):
        for currency in ("USD", "EUR", "JPY", "KWD"):
            for minor in (0, 5, -123_456, 987_654_321):
                assert money_text(minor, currency, locale) == Money(minor, currency).format(locale)


def test_the_totals_line_says_when_invoices_are_held_back(
        ledger: AppContext, qtbot: object) -> None:
    from app.core.clock import utcnow
    from app.core.storage.models import QuarantinedRecord

    with session_scope(ledger.engine) as s:
        for record_id in (990_001, 990_002):
            s.add(QuarantinedRecord(entity="Invoices", record_id=record_id, created_at=utcnow(),
                                    reason="The invoice total (invoiceTotal) is far too large",
                                    payload={"id": record_id}))
    view = _view(ledger, qtbot)
    totals = view.findChild(QLabel, "invoiceTotals")
    assert totals is not None
    qtbot.waitUntil(lambda: "held back" in totals.text())  # type: ignore[attr-defined]
    assert "2 invoices held back — see Sync" in totals.text()
    assert "not listed here" in totals.toolTip()


def test_the_invoice_page_shows_four_decimal_line_prices_exactly(
        ledger: AppContext, qtbot: object) -> None:
    """A unit price of 12.3456 and the line amount it makes (3 × 12.3456 = 37.0368) are
    shown as Autotask holds them; the invoice's total and balance stay in cents."""
    from sqlalchemy import select, update

    from app.core.storage.engine import session_scope
    from app.core.storage.models import InvoiceLine
    from app.gui.invoices.page import InvoicePage

    with session_scope(ledger.engine) as s:
        line = s.scalars(select(InvoiceLine).order_by(InvoiceLine.id)).first()
        assert line is not None and line.invoice_id is not None
        invoice_id, line_id = line.invoice_id, line.id
        s.execute(update(InvoiceLine).where(InvoiceLine.id == line_id).values(
            quantity=Decimal("3"), rate=Decimal("12.3456"), extended_price_e4=370368,
            tax_e4=12, total_e4=370380))
    page = InvoicePage(ledger)
    qtbot.addWidget(page)  # type: ignore[attr-defined]
    page.show()
    page.show_invoice(invoice_id)
    settle(qtbot)
    assert page.detail is not None
    row = next(r for r, shown in enumerate(page.detail.lines) if shown.id == line_id)
    assert page.lines.item(row, 3).text() == "$12.3456"
    assert page.lines.item(row, 4).text() == "$37.0368"
    assert page.lines.item(row, 5).text() == "$0.0012"
    total = page.facts["Total"].text()
    assert total.startswith("$") and len(total.split(".")[-1]) == 2  # cents, as billed
    assert "The lines add up to" in page.lines_footer.text()  # 37.0380 is not a cent amount


def test_an_export_before_the_whole_order_is_known_writes_every_invoice(
    ledger: AppContext, tmp_path: Path
) -> None:
    """Right after a new sort only the first page is known (the rest is being read): the
    export then reads the whole listing itself, in the screen's order."""
    query = InvoiceQuery(show_paid=True, sort=InvoiceColumn.TOTAL, descending=True)
    target = tmp_path / "all.csv"
    count = _export_listing(ledger.engine, None, query, [InvoiceColumn.NUMBER], "USD", target,
                            today=local_today())
    with target.open(encoding="utf-8-sig", newline="") as f:
        numbers = [row[0] for row in list(csv.reader(f))[1:]]
    with read_connection(ledger.engine) as connection:
        ids = invoice_ids(connection, query, local_today())
        rows = invoice_rows(connection, ids, local_today())
    assert count == 1_200 == len(numbers)
    assert numbers == [rows[i].invoice_number for i in ids]
