"""Large tables fit their columns to what they show (``ColumnFitter``): nothing a bookkeeper
reads is cut while a column stands empty, the sort arrow has room of its own, pills fit
their column, the spare width goes to names, and the header's menu chooses the columns —
remembered per seat. Real SQLite, the models' own workers."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontMetrics
from pytestqt.qtbot import QtBot

from app.core.invoice_state import InvoiceStatus
from app.core.queries.fixtures import build_ledger
from app.core.queries.invoices import InvoiceColumn
from app.gui.context import AppContext
from app.gui.invoices.history import InvoiceHistoryView
from app.gui.invoices.model import COLUMNS
from app.gui.organizations import OrganizationListView
from app.gui.resources import style_sheet
from tests.gui.test_invoice_history import settle

#: The table's width in the default 1,280-pixel window (less the sidebar and margins).
TABLE_WIDTH = 1040


@pytest.fixture
def ledger(set_up_context: AppContext) -> AppContext:
    build_ledger(set_up_context.engine, organizations=30, invoices=600)
    return set_up_context


def _history(ledger: AppContext, qtbot: QtBot) -> InvoiceHistoryView:
    view = InvoiceHistoryView(ledger)
    view.setStyleSheet(style_sheet())
    qtbot.addWidget(view)
    view.resize(TABLE_WIDTH, 700)
    view.show()
    settle(qtbot)
    # The columns are fitted on the event loop's next turn after the last rows arrived.
    qtbot.waitUntil(lambda: not view.columns_fit._timer.isActive(), timeout=5000)
    qtbot.wait(50)
    return view


def _title_width(view: InvoiceHistoryView, section: int) -> int:
    font = QFont(view.table.horizontalHeader().font())
    font.setBold(True)
    title = str(view.model.headerData(section, Qt.Orientation.Horizontal))
    return QFontMetrics(font).horizontalAdvance(title)


def test_invoice_history_at_the_default_window_cuts_nothing_and_names_get_the_room(
    ledger: AppContext, qtbot: QtBot
) -> None:
    view = _history(ledger, qtbot)
    header = view.table.horizontalHeader()
    fitter = view.columns_fit
    shown = [s for s in range(header.count()) if not header.isSectionHidden(s)]
    organization = COLUMNS.index(InvoiceColumn.ORGANIZATION)
    # What is rarely filled in waits in the header's menu; Days overdue is there.
    assert header.isSectionHidden(COLUMNS.index(InvoiceColumn.PAID))
    assert header.isSectionHidden(COLUMNS.index(InvoiceColumn.LAST_PAYMENT))
    assert COLUMNS.index(InvoiceColumn.DAYS_OVERDUE) in shown
    for section in shown:
        # Every column is as wide as its title in its padding (the sort arrow sits above
        # it), and as its widest cell on screen — Terms and the status pills included.
        assert header.sectionSize(section) >= _title_width(view, section) + 16, section
        if section != organization:
            assert header.sectionSize(section) >= fitter.content_width(section), section
    status = COLUMNS.index(InvoiceColumn.STATUS)
    pill = view.model._pills[InvoiceStatus.PARTIALLY_PAID.value]
    assert header.sectionSize(status) > pill.width() / pill.devicePixelRatio()
    # The spare width goes to the organization's name: the table fills its width exactly,
    # without sideways scrolling, and names are not cut short needlessly.
    assert sum(header.sectionSize(s) for s in shown) <= view.table.viewport().width()
    assert header.sectionSize(organization) >= 160
    assert not view.table.horizontalScrollBar().isVisible()


def test_days_overdue_reads_and_sorts_in_invoice_history(
    ledger: AppContext, qtbot: QtBot
) -> None:
    view = _history(ledger, qtbot)
    view.sort_by(InvoiceColumn.DAYS_OVERDUE, True)
    settle(qtbot)
    column = COLUMNS.index(InvoiceColumn.DAYS_OVERDUE)
    texts = [view.model.index(r, column).data() for r in range(20)]
    days = [int(t) if t else 0 for t in texts]
    assert days[0] > 0 and days == sorted(days, reverse=True)
    assert view.model.index(0, column).data(Qt.ItemDataRole.TextAlignmentRole) == int(
        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


def test_fitting_reads_no_rows_the_view_has_not_shown(ledger: AppContext, qtbot: QtBot) -> None:
    view = _history(ledger, qtbot)
    fetched = view.model.fetch_count
    view.columns_fit.fit_now()
    settle(qtbot)
    assert view.model.fetch_count == fetched


def test_the_header_menu_chooses_columns_and_the_choice_is_remembered(
    ledger: AppContext, qtbot: QtBot
) -> None:
    first = OrganizationListView(ledger)
    qtbot.addWidget(first)
    first.resize(TABLE_WIDTH, 600)
    first.show()
    settle(qtbot)
    menu = first.columns_fit.menu()
    titles = [a.text() for a in menu.actions() if a.isCheckable()]
    assert titles == ["Organization", "Open invoices", "Open balance", "Overdue",
                      "Last payment"]
    assert not menu.actions()[0].isEnabled()  # the name always stays
    last_payment = next(a for a in menu.actions() if a.text() == "Last payment")
    last_payment.setChecked(False)  # what a click in the menu does
    assert first.table.isColumnHidden(4)
    # The name takes the width the hidden column leaves.
    header = first.table.horizontalHeader()
    assert sum(header.sectionSize(s) for s in range(4)) == first.table.viewport().width()

    again = OrganizationListView(ledger)
    qtbot.addWidget(again)
    again.show()
    settle(qtbot)
    assert again.table.isColumnHidden(4)
    again.columns_fit.set_shown(4, True)
    assert not again.table.isColumnHidden(4)
    assert again.table.horizontalHeader().sectionSize(4) >= again.columns_fit.content_width(4)


def test_the_organization_list_adds_up_what_it_shows_and_writes_zero_out(
    ledger: AppContext, qtbot: QtBot
) -> None:
    from sqlalchemy import func, select

    from app.core.invoice_state import PAYABLE_STATUSES
    from app.core.storage.engine import session_scope
    from app.core.storage.models import Invoice

    view = OrganizationListView(ledger)
    qtbot.addWidget(view)
    view.show()
    settle(qtbot)
    with session_scope(ledger.engine) as s:
        owed = s.scalar(select(func.sum(Invoice.balance_minor))
                        .where(Invoice.status.in_(PAYABLE_STATUSES)))
    from app.gui.invoices.formatting import money_text

    text = view.count_label.text()
    assert text.startswith("30 organizations    Open balance ")
    assert f"Open balance {money_text(int(owed or 0), 'USD', 'en_US')}" in text
    assert "Overdue $" in text


def test_fitted_widths_are_fitted_again_and_a_person_s_widths_are_kept(
    ledger: AppContext, qtbot: QtBot
) -> None:
    def open_list(width: int) -> OrganizationListView:
        view = OrganizationListView(ledger)
        qtbot.addWidget(view)
        view.resize(width, 600)
        view.show()
        settle(qtbot)
        return view

    narrow = open_list(700)
    narrow.columns_fit.memory.save()  # type: ignore[union-attr]
    wide = open_list(1200)
    # PayDesk's own fitting is redone for the wider window: the name takes the new room.
    assert wide.columns_fit.auto
    header = wide.table.horizontalHeader()
    assert sum(header.sectionSize(s) for s in range(5)) == wide.table.viewport().width()
    # A width the person set stays, from one start to the next.
    header.resizeSection(1, 250)
    assert not wide.columns_fit.auto
    wide.columns_fit.memory.save()  # type: ignore[union-attr]
    again = open_list(1200)
    assert not again.columns_fit.auto
    assert again.table.horizontalHeader().sectionSize(1) == 250


def test_with_quickbooks_numbers_invoice_history_still_fits_the_default_window(
    ledger: AppContext, qtbot: QtBot
) -> None:
    from sqlalchemy import update

    from app.core.storage.engine import session_scope
    from app.core.storage.models import Invoice

    with session_scope(ledger.engine) as s:
        s.execute(update(Invoice).values(qb_doc_number=Invoice.invoice_number))
    view = _history(ledger, qtbot)
    header = view.table.horizontalHeader()
    # The QuickBooks # column shows once the worker has found invoices that carry one.
    qtbot.waitUntil(lambda: not header.isSectionHidden(COLUMNS.index(InvoiceColumn.QB_NUMBER)),
                    timeout=5000)
    shown = [s for s in range(header.count()) if not header.isSectionHidden(s)]
    qtbot.waitUntil(lambda: sum(header.sectionSize(s) for s in shown)
                    <= view.table.viewport().width(), timeout=5000)
    assert header.sectionSize(COLUMNS.index(InvoiceColumn.ORGANIZATION)) >= 160
