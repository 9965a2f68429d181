"""The QuickBooks screens against QuickBooks' books as PayDesk really reads them: the QuickBooks
Desktop stand-in (a company file seeded like the Autotask sandbox's export, with its
disagreements) polled through PayDesk's Web Connector service over HTTP.

Needs matching (match and unmatch by hand), Reconciliation (exactly the seeded disagreements),
the invoice page's QuickBooks number and balance, the area's empty state, and the status bar
saying a QuickBooks Online connection is lost with Reconnect.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from PySide6.QtWidgets import QDialog, QLabel, QMessageBox, QPushButton
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from app.core.quickbooks.desktop.qwc import connect
from app.core.quickbooks.online.connection import (
    PRODUCTION_API_BASE,
    QuickBooksOnlineConnection,
    save_connection,
)
from app.core.quickbooks.review import MatchFilter
from app.core.storage.engine import session_scope
from app.core.storage.models import AuditEntry, Invoice, QuickBooksInvoiceMatch
from app.gui.context import AppContext
from app.gui.quickbooks import QuickBooksArea
from app.gui.quickbooks import matching as matching_module
from app.gui.quickbooks.matching import MatchDialog, NeedsMatchingView
from app.gui.quickbooks.reconciliation import ReconciliationView
from app.gui.quickbooks.status import QuickBooksStatusWidget
from tests.gui.conftest import wait_for_background_tasks
from tests.integration.quickbooks_desktop.support import Desk, open_desk

SOURCE = "desktop"


def _row(qtbot: QtBot, model: Any, row: int) -> Any:
    """The row once its page has arrived from the worker (rows come on demand)."""
    qtbot.waitUntil(lambda: model.row_at(row) is not None, timeout=10_000)
    return model.row_at(row)


@pytest.fixture
def desk(set_up_context: AppContext) -> Iterator[Desk]:
    with open_desk(set_up_context.engine) as desk:
        result = desk.connector().update()  # a full read and the matching pass, over HTTP
        assert not result.errors if hasattr(result, "errors") else True
        connect(set_up_context.engine, app_url=desk.server.url)
        yield desk


def _number(context: AppContext, invoice_id: int) -> str:
    with session_scope(context.engine) as s:
        number = s.scalar(select(Invoice.invoice_number).where(Invoice.id == invoice_id))
    return str(number)


def _unmatchable(context: AppContext, desk: Desk) -> set[int]:
    """The seeded invoices no automatic pass can match: not exported yet, and an invoice whose
    number was edited in QuickBooks for a customer renamed there."""
    seeded = desk.company.disagreements
    with session_scope(context.engine) as s:
        edited_of_renamed = set(s.scalars(select(Invoice.id).where(
            Invoice.id.in_(list(seeded.edited_invoices)),
            Invoice.organization_id.in_(list(seeded.renamed_customers)))))
    return set(seeded.not_exported) | edited_of_renamed


def _listed(qtbot: QtBot, view: NeedsMatchingView) -> list[int]:
    wait_for_background_tasks(qtbot)
    return view.model.ids()


def test_needs_matching_lists_the_unexported_invoices_with_why(
        qtbot: QtBot, set_up_context: AppContext, desk: Desk) -> None:
    view = NeedsMatchingView(set_up_context, SOURCE)
    qtbot.addWidget(view)
    ids = _listed(qtbot, view)
    assert set(ids) == _unmatchable(set_up_context, desk)
    assert len(ids) > len(desk.company.disagreements.not_exported)  # the edited one too
    for row_number in range(len(ids)):
        row = _row(qtbot, view.model, row_number)
        assert row is not None and f"number {row.invoice_number}" in row.reason
    # Unmatched invoices show why, not empty QuickBooks columns.
    titles = [c.title for c in view.model.columns()]
    assert view.table.isColumnHidden(titles.index("QuickBooks #"))
    assert not view.table.isColumnHidden(titles.index("Why"))
    assert view.count_label.text() == f"{len(ids)} invoices"


def test_match_by_hand_then_unmatch(qtbot: QtBot, set_up_context: AppContext, desk: Desk,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    engine = set_up_context.engine
    view = NeedsMatchingView(set_up_context, SOURCE)
    qtbot.addWidget(view)
    target = _listed(qtbot, view)[0]
    # A QuickBooks invoice that is matched to another Autotask invoice now.
    with session_scope(engine) as s:
        other, remote = s.execute(
            select(QuickBooksInvoiceMatch.invoice_id, QuickBooksInvoiceMatch.remote_id)
            .where(QuickBooksInvoiceMatch.source == SOURCE,
                   QuickBooksInvoiceMatch.remote_id.is_not(None))
            .order_by(QuickBooksInvoiceMatch.invoice_id).limit(1)).one()
    other_number = _number(set_up_context, other)

    class PickingDialog(MatchDialog):
        def exec(self) -> int:
            qtbot.waitUntil(lambda: bool(self.candidates), timeout=10_000)
            self.search.setText(other_number)
            self.load(other_number)
            qtbot.waitUntil(lambda: any(c.remote_id == remote for c in self.candidates),
                            timeout=10_000)
            chosen = next(c for c in self.candidates if c.remote_id == remote)
            assert chosen.matched_to == other_number
            assert self.select_doc_number(chosen.doc_number)
            assert "Matching it here unmatches" in self.note.text()
            self.accept_choice()
            return int(QDialog.DialogCode.Accepted)

    monkeypatch.setattr(matching_module, "MatchDialog", PickingDialog)
    view.table.selectRow(view.model.ids().index(target))
    qtbot.waitUntil(view.match_button.isEnabled, timeout=10_000)  # the row has arrived
    assert view.match_button.isEnabled() and not view.unmatch_button.isEnabled()
    with qtbot.waitSignal(view.matchChanged, timeout=10_000):
        view.match_button.click()
    ids = _listed(qtbot, view)
    assert target not in ids
    assert other in ids  # the QuickBooks invoice stands for one Autotask invoice only
    row = _row(qtbot, view.model, ids.index(other))
    assert row is not None and "matched by hand to another invoice" in row.reason

    view.set_filter(MatchFilter.MATCHED_BY_HAND)
    ids = _listed(qtbot, view)
    assert ids == [target]
    row = _row(qtbot, view.model, 0)
    assert row is not None and row.remote_id == remote and row.how.startswith("By hand")

    monkeypatch.setattr(QMessageBox, "question",
                        staticmethod(lambda *_a, **_k: QMessageBox.StandardButton.Yes))
    view.table.selectRow(0)
    assert view.unmatch_button.isEnabled()
    with qtbot.waitSignal(view.matchChanged, timeout=10_000):
        view.unmatch_button.click()
    assert _listed(qtbot, view) == []
    view.set_filter(MatchFilter.NEEDS_MATCHING)
    assert target in _listed(qtbot, view)
    with session_scope(engine) as s:
        actions = list(s.scalars(select(AuditEntry.action).where(
            AuditEntry.subject_type == "invoice", AuditEntry.subject_id == str(target))
            .order_by(AuditEntry.id)))
    assert actions == ["quickbooks.match_by_hand", "quickbooks.unmatch_by_hand"]


def test_reconciliation_lists_exactly_the_seeded_disagreements(
        qtbot: QtBot, set_up_context: AppContext, desk: Desk) -> None:
    view = ReconciliationView(set_up_context, SOURCE)
    qtbot.addWidget(view)
    wait_for_background_tasks(qtbot)
    seeded = desk.company.disagreements
    missing = _unmatchable(set_up_context, desk)
    expected = missing | set(seeded.paid_directly)
    assert view.report is not None
    listed = {row.invoice_id: {d.code for d in row.disagreements} for row in view.report.rows}
    assert set(listed) == expected
    for invoice_id in seeded.paid_directly:
        assert listed[invoice_id] == {"paid_in_quickbooks"}
    for invoice_id in missing:  # not in QuickBooks, or there under another number
        assert len(listed[invoice_id]) == 1
        assert listed[invoice_id] <= {"not_in_quickbooks", "not_matched"}
    assert sorted(view.model.ids()) == sorted(expected)
    # Filtering by kind shows only that kind.
    view.kind.setCurrentIndex(view.kind.findData("paid_in_quickbooks"))
    assert view.model.ids() == list(seeded.paid_directly)
    assert "(1)" in view.kind.currentText()


def test_invoice_page_shows_quickbooks_number_and_balance(
        qtbot: QtBot, set_up_context: AppContext, desk: Desk) -> None:
    from app.gui.invoices.page import InvoicePage

    invoice = desk.open_invoices(1)[0]
    page = InvoicePage(set_up_context)
    qtbot.addWidget(page)
    assert page.show_invoice(invoice.id)
    qtbot.waitUntil(lambda: page.facts["QuickBooks balance"].text() != "", timeout=10_000)
    assert page.facts["QuickBooks #"].text() == invoice.invoice_number
    assert page.facts["QuickBooks balance"].text() == page.facts["Balance"].text()
    assert not page.open_quickbooks_action.isVisible()  # Desktop has no web address


def test_area_offers_setup_until_quickbooks_is_connected(
        qtbot: QtBot, set_up_context: AppContext) -> None:
    area = QuickBooksArea(set_up_context)
    qtbot.addWidget(area)
    wait_for_background_tasks(qtbot)
    assert area.stack.currentWidget() is area.empty
    assert area.empty.action_button.text() == "Run Setup…"


def test_area_shows_the_tabs_when_connected(qtbot: QtBot, set_up_context: AppContext,
                                            desk: Desk) -> None:
    area = QuickBooksArea(set_up_context)
    qtbot.addWidget(area)
    wait_for_background_tasks(qtbot)
    assert area.stack.currentWidget() is area.tabs
    assert [area.tabs.tabText(i) for i in range(area.tabs.count())] == [
        "Needs matching", "Reconciliation"]
    assert "QuickBooks Desktop" in area.subtitle.text()
    assert area.problem.isHidden()


def test_status_bar_says_a_lost_online_connection_and_offers_reconnect(
        qtbot: QtBot, set_up_context: AppContext) -> None:
    widget = QuickBooksStatusWidget(set_up_context)
    qtbot.addWidget(widget)
    widget.show()
    wait_for_background_tasks(qtbot)
    assert not widget.isVisible()  # nothing to say while QuickBooks is not connected
    # A connection whose refresh token is not in this computer's keychain (revoked and
    # forgotten, or set up on another computer).
    save_connection(set_up_context.engine, QuickBooksOnlineConnection(
        client_id="ABx8", realm_id="9130", environment="production",
        api_base=PRODUCTION_API_BASE, company_name="Northwind IT Services",
        home_currency="USD", verified_at=datetime(2026, 6, 1, tzinfo=UTC)), actor="test")
    widget.refresh()
    wait_for_background_tasks(qtbot)
    assert widget.isVisible()
    assert widget.pill.text() == "QuickBooks Online disconnected"
    assert "Reconnect" in widget.pill.toolTip()
    button = widget.findChild(QPushButton, "quickbooksStatusReconnect")
    assert button is not None and button.isVisible()

    area = QuickBooksArea(set_up_context)
    qtbot.addWidget(area)
    wait_for_background_tasks(qtbot)
    assert not area.problem.isHidden()
    assert "Reconnect" in area.problem_text.text()
    label = area.findChild(QLabel, "areaSubtitle")
    assert label is not None and "Northwind IT Services" in label.text()


def test_invoice_history_fills_quickbooks_numbers_after_the_sync(
        qtbot: QtBot, set_up_context: AppContext) -> None:
    from app.core.queries.invoices import InvoiceColumn
    from app.gui.invoices import InvoicesArea
    from app.gui.invoices.history import COLUMNS

    with open_desk(set_up_context.engine) as desk:
        area = InvoicesArea(set_up_context)
        qtbot.addWidget(area)
        area.show()
        wait_for_background_tasks(qtbot)
        history = area.history
        column = COLUMNS.index(InvoiceColumn.QB_NUMBER)
        assert history.table.isColumnHidden(column)  # no QuickBooks numbers yet
        desk.connector().update()  # QuickBooks is read and matched at the end of a sync
        area._after_sync(None)
        qtbot.waitUntil(lambda: not history.table.isColumnHidden(column), timeout=10_000)
        model = history.model
        rows = range(min(model.rowCount(), 50))
        for row in rows:
            _row(qtbot, model, row)
        shown = {model.id_at(row): model.index(row, column).data() for row in rows}
        with session_scope(set_up_context.engine) as s:
            expected = {int(i): n for i, n in s.execute(
                select(Invoice.id, Invoice.qb_doc_number).where(Invoice.id.in_(list(shown))))}
        assert any(expected.values())
        assert shown == {i: (n or "") for i, n in expected.items()}


def test_reconnect_opens_setup_on_the_quickbooks_page(
        qtbot: QtBot, set_up_context: AppContext) -> None:
    from app.gui.main_window import MainWindow
    from tests.gui.test_shell import _connect_autotask

    _connect_autotask(set_up_context)
    save_connection(set_up_context.engine, QuickBooksOnlineConnection(
        client_id="ABx8", realm_id="9130", environment="production",
        api_base=PRODUCTION_API_BASE, company_name="Northwind IT Services",
        home_currency="USD", verified_at=datetime(2026, 6, 1, tzinfo=UTC)), actor="test")
    window = MainWindow(set_up_context)
    qtbot.addWidget(window)
    window.show()
    wait_for_background_tasks(qtbot)
    status = window.quickbooks_status
    assert isinstance(status, QuickBooksStatusWidget) and status.isVisible()
    with qtbot.waitSignal(window.setupClosed, timeout=10_000):
        status.reconnect_button.click()
        assert window.wizard is not None
        assert window.wizard.currentPage().objectName() == "quickbooksPage"  # type: ignore[attr-defined]
        wait_for_background_tasks(qtbot)
        page = window.wizard.currentPage()  # type: ignore[attr-defined]
        assert page.kind_value() == "online"  # the stored connection, to connect again
        assert page.connect_button.text() == "&Reconnect"
        window.wizard.reject()
    wait_for_background_tasks(qtbot)


def test_invoice_page_opens_the_invoice_in_quickbooks_online(
        qtbot: QtBot, set_up_context: AppContext, desk: Desk,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With Intuit's QuickBooks Online, the page links to the invoice in QuickBooks' web app."""
    from app.core.money import Money
    from app.core.quickbooks.books import InvoiceRecord, match_by_hand, upsert_invoices
    from app.gui.invoices import page as page_module
    from app.gui.invoices.page import InvoicePage

    engine = set_up_context.engine
    save_connection(engine, QuickBooksOnlineConnection(
        client_id="ABx8", realm_id="9130", environment="production",
        api_base=PRODUCTION_API_BASE, company_name="Northwind IT Services",
        home_currency="USD", verified_at=datetime(2026, 6, 1, tzinfo=UTC)), actor="test")
    invoice = desk.open_invoices(1)[0]
    with session_scope(engine) as s:
        upsert_invoices(s, "online", [InvoiceRecord(
            remote_id="146", doc_number=invoice.invoice_number, customer_id="58",
            customer_name="Northwind", txn_date=invoice.invoice_date,
            due_date=invoice.due_date, total_minor=invoice.total_minor,
            balance_minor=invoice.total_minor - 100, currency="USD")],
            datetime.now(UTC))
    match_by_hand(engine, "online", invoice.id, "146", actor="test")
    opened: list[str] = []
    monkeypatch.setattr(page_module.QDesktopServices, "openUrl",
                        staticmethod(lambda url: opened.append(url.toString()) or True))
    page = InvoicePage(set_up_context)
    qtbot.addWidget(page)
    page.show()
    assert page.show_invoice(invoice.id)
    qtbot.waitUntil(page.open_quickbooks_action.isVisible, timeout=10_000)
    assert page.facts["QuickBooks balance"].text() == Money(
        invoice.total_minor - 100, "USD").format()
    page.open_quickbooks_action.trigger()
    assert opened == ["https://app.qbo.intuit.com/app/invoice?txnId=146"]
