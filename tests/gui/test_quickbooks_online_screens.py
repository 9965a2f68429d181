"""The QuickBooks screens with QuickBooks Online: the Autotask sandbox synced, the QuickBooks
Online sandbox (seeded alike, with its disagreements) connected as Setup connects it and read
by PayDesk's read, all over HTTP. Reconciliation lists exactly the seeded disagreements; Needs
matching lists the invoices not exported yet and matches one by hand; the invoice page shows
QuickBooks' number and balance."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from app.core.quickbooks.online.connection import load_connection
from app.core.quickbooks.online.read import read_quickbooks_online
from app.core.quickbooks.online.setup import connect_sandbox, open_quickbooks_client
from app.core.quickbooks.review import MatchFilter
from app.gui.context import AppContext
from app.gui.quickbooks import matching as matching_module
from app.gui.quickbooks.matching import MatchDialog, NeedsMatchingView
from app.gui.quickbooks.reconciliation import ReconciliationView
from tests.gui.conftest import wait_for_background_tasks
from tests.integration.quickbooks_online.qbo_support import sandboxes, sync_autotask

SOURCE = "online"


def _row(qtbot: QtBot, model: Any, row: int) -> Any:
    """The row once its page has arrived from the worker (rows come on demand)."""
    qtbot.waitUntil(lambda: model.row_at(row) is not None, timeout=10_000)
    return model.row_at(row)


@pytest.fixture
def books(set_up_context: AppContext) -> Iterator[Any]:
    with sandboxes() as (autotask, quickbooks):
        sync_autotask(set_up_context.engine, autotask)
        connect_sandbox(set_up_context.engine, set_up_context.credentials, quickbooks)
        connection = load_connection(set_up_context.engine)
        assert connection is not None and connection.home_currency == "USD"
        client = open_quickbooks_client(set_up_context.engine, set_up_context.credentials,
                                        sleep=lambda _s: None)
        assert client is not None
        with client:
            read_quickbooks_online(set_up_context.engine, client)
        yield quickbooks


def _seeded(quickbooks: Any, kind: str) -> list[dict[str, Any]]:
    return [d for d in quickbooks.disagreements() if d["kind"] == kind]


def test_reconciliation_lists_exactly_the_seeded_disagreements(
        qtbot: QtBot, set_up_context: AppContext, books: Any) -> None:
    view = ReconciliationView(set_up_context, SOURCE)
    qtbot.addWidget(view)
    wait_for_background_tasks(qtbot)
    codes = {"not_exported": "not_in_quickbooks", "invoice_edited": "amounts_differ",
             "paid_in_quickbooks": "paid_in_quickbooks"}
    expected = {d["autotask_invoice_id"]: {codes[d["kind"]]}
                for d in books.disagreements() if d["kind"] in codes}
    assert view.report is not None
    listed = {row.invoice_id: {d.code for d in row.disagreements} for row in view.report.rows}
    assert listed == expected
    assert sorted(view.model.ids()) == sorted(expected)
    paid = _seeded(books, "paid_in_quickbooks")
    view.kind.setCurrentIndex(view.kind.findData("paid_in_quickbooks"))
    assert view.model.ids() == [d["autotask_invoice_id"] for d in paid]
    view.table.selectRow(0)
    qtbot.waitUntil(lambda: bool(view.detail.text()), timeout=10_000)  # the row has arrived
    assert "outside PayDesk" in view.detail.text()


def test_needs_matching_then_a_match_by_hand(
        qtbot: QtBot, set_up_context: AppContext, books: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    view = NeedsMatchingView(set_up_context, SOURCE)
    qtbot.addWidget(view)
    wait_for_background_tasks(qtbot)
    waiting = {d["autotask_invoice_id"] for d in _seeded(books, "not_exported")}
    assert set(view.model.ids()) == waiting
    # Autotask exports one of them now and the next read brings it in (without the automatic
    # pass); a person matches it by hand.
    target = sorted(waiting)[0]
    number = next(d["autotask_invoice_number"] for d in _seeded(books, "not_exported")
                  if d["autotask_invoice_id"] == target)
    exported = books.export_invoice(number)
    client = open_quickbooks_client(set_up_context.engine, set_up_context.credentials,
                                    sleep=lambda _s: None)
    assert client is not None
    with client:
        read_quickbooks_online(set_up_context.engine, client, match=False)

    class PickingDialog(MatchDialog):
        def exec(self) -> int:
            qtbot.waitUntil(lambda: bool(self.candidates), timeout=10_000)
            first = self.candidates[0]
            # The exported invoice is offered first: the same date and total.
            assert first.remote_id == exported["Id"]
            assert first.likeness.startswith("Same") and "date and total" in first.likeness
            self.select_doc_number(first.doc_number)
            self.accept_choice()
            return 1

    monkeypatch.setattr(matching_module, "MatchDialog", PickingDialog)
    view.table.selectRow(view.model.ids().index(target))
    qtbot.waitUntil(view.match_button.isEnabled, timeout=10_000)  # the row has arrived
    with qtbot.waitSignal(view.matchChanged, timeout=10_000):
        view.match_button.click()
    wait_for_background_tasks(qtbot)
    assert target not in view.model.ids()
    view.set_filter(MatchFilter.MATCHED_BY_HAND)
    wait_for_background_tasks(qtbot)
    assert view.model.ids() == [target]


def test_invoice_page_shows_quickbooks_number_and_balance(
        qtbot: QtBot, set_up_context: AppContext, books: Any) -> None:
    from sqlalchemy import select

    from app.core.storage.engine import session_scope
    from app.core.storage.models import Invoice
    from app.gui.invoices.page import InvoicePage

    paid = _seeded(books, "paid_in_quickbooks")[0]
    page = InvoicePage(set_up_context)
    qtbot.addWidget(page)
    assert page.show_invoice(paid["autotask_invoice_id"])
    qtbot.waitUntil(lambda: page.facts["QuickBooks balance"].text() != "", timeout=10_000)
    with session_scope(set_up_context.engine) as s:
        number = s.scalar(select(Invoice.qb_doc_number).where(
            Invoice.id == paid["autotask_invoice_id"]))
    assert page.facts["QuickBooks #"].text() == number
    assert page.facts["QuickBooks balance"].text() == "$0.00"  # paid in QuickBooks
    assert page.facts["Balance"].text() != "$0.00"  # not in PayDesk
    # The local sandbox has no QuickBooks web app to open.
    assert not page.open_quickbooks_action.isVisible()


def test_the_deposits_tab_offers_the_bank_accounts_and_saves_the_choice(
        qtbot: QtBot, set_up_context: AppContext, books: Any) -> None:
    from app.core.quickbooks.online.deposits import deposit_account_id
    from app.gui.quickbooks.deposits import DepositsView

    view = DepositsView(set_up_context)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitUntil(view.account.isEnabled, timeout=10_000)
    items = [view.account.itemText(i) for i in range(view.account.count())]
    assert items[0].startswith("Undeposited Funds")
    assert any(text.startswith("Checking") for text in items)
    assert not view.save_button.isEnabled()  # nothing changed yet

    view.account.setCurrentIndex(next(i for i, t in enumerate(items) if t.startswith("Checking")))
    assert view.save_button.isEnabled()
    view.save_button.click()
    qtbot.waitUntil(lambda: view.status.text().startswith("Saved"), timeout=10_000)
    assert "Checking" in view.status.text()
    assert deposit_account_id(set_up_context.engine) == view.account.currentData()
    assert not view.save_button.isEnabled()
