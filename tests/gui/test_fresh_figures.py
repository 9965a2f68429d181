"""Every open screen shows the result of a payment, a refund, a posting or a sync within one
second, keeping the bookkeeper's selection and scroll position.

The screens are the real areas (Invoice History, an invoice's page, an organization's page,
Transactions, Payment Search, the Sync area) on a real SQLite database, with the gateway's
stand-in over HTTP. Each payment and refund is started where a person can start one (Invoice
History, the invoice page, the organization page; a payment's detail opened from Transactions,
Payment Search or the organization's Payments tab) and every other screen is checked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

import pytest
from PySide6.QtCore import QAbstractItemModel, QItemSelectionModel, Qt
from PySide6.QtWidgets import QAbstractItemView, QLineEdit, QMessageBox, QPushButton, QWidget
from pytestqt.qtbot import QtBot
from sqlalchemy import update

from app.core.storage.engine import session_scope
from app.core.storage.models import Posting
from app.gui.context import AppContext
from app.gui.invoices import InvoicesArea
from app.gui.main_window import MainWindow
from app.gui.organizations import OrganizationsArea
from app.gui.payments.detail import PaymentDetailDialog, RefundDialog
from app.gui.payments.order_summary import OrderSummaryDialog
from app.gui.payments.search import PaymentSearchView
from app.gui.payments.transactions import TransactionsView
from app.gui.sync import SyncArea, controller_for
from tests.gui.conftest import wait_for_background_tasks
from tests.gui.payments_support import (
    ORG_ID,
    PaymentWorld,
    build_world,
    pay,
    seed_organization,
    stripe_only,
)
from tests.integration.payments.gateways import start_kit

#: A second organization with enough invoices that Invoice History scrolls.
OTHER_ORG = 2002
FRESH_MS = 1000


@pytest.fixture
def world(set_up_context: AppContext, gateway_key: str) -> Iterator[PaymentWorld]:
    seed_organization(
        set_up_context.engine, organization_id=OTHER_ORG, name="Zephyr Logistics",
        invoices=tuple((f"7{n:03d}", 10_000 + n, date(2026, 8, 1 + n % 28)) for n in range(80)),
    )
    with start_kit(gateway_key) as kit:
        yield build_world(set_up_context, kit)


def cell(model: QAbstractItemModel, key_column: str, key: str, column: str) -> str | None:
    titles = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    key_at, value_at = titles.index(key_column), titles.index(column)
    for row in range(model.rowCount()):
        if model.index(row, key_at).data() == key:
            return str(model.index(row, value_at).data())
    return None


@dataclass
class Screens:
    """Every screen open at once, each in its own window, as a bookkeeper may leave them."""

    invoices: InvoicesArea  # Invoice History, scrolled and with a selection
    invoice: InvoicesArea  # the page of invoice 1045
    organization: OrganizationsArea  # the page of the organization that pays
    transactions: TransactionsView
    search: PaymentSearchView
    sync: SyncArea

    def all(self) -> list[QWidget]:
        return [self.invoices, self.invoice, self.organization, self.transactions,
                self.search, self.sync]


def open_screens(qtbot: QtBot, world: PaymentWorld) -> Screens:
    context = world.context
    screens = Screens(
        InvoicesArea(context), InvoicesArea(context), OrganizationsArea(context),
        TransactionsView(context), PaymentSearchView(context),
        SyncArea(controller_for(context)),
    )
    for widget in screens.all():
        qtbot.addWidget(widget)
        widget.resize(1100, 600)
        widget.show()
    wait_for_background_tasks(qtbot)
    screens.invoice.open_invoice(world.invoice_ids[0])
    screens.organization.show_organization(ORG_ID)
    wait_for_background_tasks(qtbot)
    qtbot.waitUntil(lambda: screens.invoice.stack.currentWidget() is screens.invoice.page)
    assert screens.invoice.page.detail is not None
    # The bookkeeper scrolled Invoice History and selected a row of the other organization.
    history = screens.invoices.history
    history.table.verticalScrollBar().setValue(history.table.verticalScrollBar().maximum() // 2)
    qtbot.wait(50)
    wait_for_background_tasks(qtbot)
    middle = history.table.rowAt(history.table.viewport().height() // 2)
    history.table.selectionModel().setCurrentIndex(
        history.model.index(middle, 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect
        | QItemSelectionModel.SelectionFlag.Rows)
    assert history.selected_ids()
    return screens


@dataclass(frozen=True)
class Kept:
    selected: list[int]
    scroll: int


def kept(screens: Screens) -> Kept:
    history = screens.invoices.history
    return Kept(history.selected_ids(), history.table.verticalScrollBar().value())


def balance_everywhere(qtbot: QtBot, screens: Screens, balance: str, open_balance: str) -> None:
    """Invoice 1045 shows ``balance`` on every screen that shows it (within a second)."""
    history = screens.invoices.history
    qtbot.waitUntil(lambda: cell(history.model, "Invoice #", "1045", "Balance") == balance,
                    timeout=FRESH_MS)
    qtbot.waitUntil(lambda: screens.invoice.page.facts["Balance"].text() == balance,
                    timeout=FRESH_MS)
    page = screens.organization.page
    assert page is not None
    qtbot.waitUntil(lambda: cell(page.invoices.model, "Invoice #", "1045", "Balance") == balance,
                    timeout=FRESH_MS)
    qtbot.waitUntil(lambda: page.facts["Open balance"].text() == open_balance, timeout=FRESH_MS)


def payments_everywhere(qtbot: QtBot, screens: Screens, count: int) -> None:
    page = screens.organization.page
    assert page is not None
    qtbot.waitUntil(lambda: screens.transactions.model.rowCount() == count, timeout=FRESH_MS)
    qtbot.waitUntil(lambda: page.payments_view.model.rowCount() == count, timeout=FRESH_MS)
    qtbot.waitUntil(lambda: screens.search.model.rowCount() >= count, timeout=FRESH_MS)


def finish_payment(qtbot: QtBot, dialog: QWidget | None, amount: str) -> int:
    assert isinstance(dialog, OrderSummaryDialog)
    qtbot.waitUntil(lambda: dialog.summary is not None, timeout=5000)
    field = dialog.findChild(QLineEdit, "paymentAmount")
    assert field is not None
    field.selectAll()
    qtbot.keyClicks(field, amount)
    qtbot.waitUntil(lambda: not dialog._recompute_timer.isActive(), timeout=2000)
    pay_button = dialog.findChild(QPushButton, "payButton")
    assert pay_button is not None and pay_button.isEnabled()
    qtbot.mouseClick(pay_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.outcome is not None, timeout=15_000)
    assert dialog.outcome is not None and dialog.outcome.approved
    return dialog.outcome.payment_id


def _select_1045(history: object) -> None:
    view = history
    model = view.model  # type: ignore[attr-defined]
    numbers = [c for c in range(model.columnCount())
               if model.headerData(c, Qt.Orientation.Horizontal) == "Invoice #"]
    for row in range(model.rowCount()):
        if model.index(row, numbers[0]).data() == "1045":
            view.table.selectRow(row)  # type: ignore[attr-defined]
            return
    raise AssertionError("invoice 1045 is not listed")


def pay_from_history(screens: Screens) -> QWidget | None:
    """Invoice History: a separate window of it, so the scrolled one keeps its selection."""
    area = screens.invoice  # its history is behind the page; the person went back to it
    area.show_history()
    _select_1045(area.history)
    area.history.pay_action.action.trigger()
    dialog: QWidget | None = area.history.pay_action.dialog
    return dialog


def pay_from_invoice_page(screens: Screens) -> QWidget | None:
    page = screens.invoice.page
    page.pay_action.action.trigger()
    dialog: QWidget | None = page.pay_action.dialog
    return dialog


def pay_from_organization(screens: Screens) -> QWidget | None:
    page = screens.organization.page
    assert page is not None
    _select_1045(page.invoices)
    page.invoices.pay_action.action.trigger()
    dialog: QWidget | None = page.invoices.pay_action.dialog
    return dialog


# Where the payment starts is the screens' wiring, the same for every gateway: each place
# with Stripe, and one with Authorize.Net.
@pytest.mark.parametrize(("gateway_key", "start"), [
    ("stripe", pay_from_history), ("stripe", pay_from_invoice_page),
    ("stripe", pay_from_organization), ("authorizenet", pay_from_invoice_page),
], ids=["stripe-invoice-history", "stripe-invoice-page", "stripe-organization-page",
        "authorizenet-invoice-page"])
def test_a_payment_reaches_every_other_open_screen_within_a_second(
    qtbot: QtBot, world: PaymentWorld, start: Callable[[Screens], QWidget | None]
) -> None:
    screens = open_screens(qtbot, world)
    before = kept(screens)

    finish_payment(qtbot, start(screens), "200.00")

    if start is pay_from_history:
        # Its page was not open: open it again to check it below.
        screens.invoice.open_invoice(world.invoice_ids[0])
    balance_everywhere(qtbot, screens, "$1,000.00", "$1,550.49")
    payments_everywhere(qtbot, screens, 1)
    assert kept(screens) == before


def open_with_enter(qtbot: QtBot, table: QAbstractItemView) -> None:
    """Select the first row of ``table`` and press Enter, as a person does."""
    table.window().activateWindow()
    qtbot.waitUntil(table.window().isActiveWindow, timeout=2000)
    table.setFocus()
    table.selectRow(0)
    qtbot.keyClick(table, Qt.Key.Key_Return)


def detail_from_list(qtbot: QtBot, view: TransactionsView | PaymentSearchView
                     ) -> PaymentDetailDialog:
    open_with_enter(qtbot, view.table)
    detail = view.detail_dialog
    assert isinstance(detail, PaymentDetailDialog)
    return detail


def detail_from_invoice_page(qtbot: QtBot, screens: Screens) -> PaymentDetailDialog:
    page = screens.invoice.page
    qtbot.waitUntil(lambda: page.payments.rowCount() > 0, timeout=3000)
    open_with_enter(qtbot, page.payments)
    detail = page.payment_opener.dialog
    assert isinstance(detail, PaymentDetailDialog)
    return detail


def refund_from(qtbot: QtBot, detail: PaymentDetailDialog, amount: str) -> None:
    """Refund ``amount`` in the payment's detail."""
    qtbot.waitUntil(lambda: detail.detail is not None and detail.refund_button.isEnabled(),
                    timeout=5000)
    qtbot.mouseClick(detail.refund_button, Qt.MouseButton.LeftButton)
    refund = detail.refund_dialog
    assert isinstance(refund, RefundDialog)
    refund.partial_radio.setChecked(True)
    refund.amount_edit.selectAll()
    qtbot.keyClicks(refund.amount_edit, amount)
    qtbot.keyClicks(refund.reason_edit, "Billed twice for the May visit")
    assert refund.confirm_button.isEnabled()
    with qtbot.waitSignal(refund.refunded, timeout=15_000):
        qtbot.mouseClick(refund.confirm_button, Qt.MouseButton.LeftButton)
    detail.close()


@pytest.mark.parametrize(("gateway_key", "place"), [
    ("stripe", "transactions"), ("stripe", "payment-search"),
    ("stripe", "organization-payments"), ("stripe", "invoice-page"),
    ("authorizenet", "invoice-page"),
])
def test_a_refund_reaches_every_other_open_screen_within_a_second(
    qtbot: QtBot, world: PaymentWorld, place: str
) -> None:
    pay(world, [world.invoice_ids[0]], amount="200.00")
    world.kit.settle_batch()  # a day later: Authorize.Net refunds part once settled
    screens = open_screens(qtbot, world)
    balance_everywhere(qtbot, screens, "$1,000.00", "$1,550.49")
    before = kept(screens)
    page = screens.organization.page
    assert page is not None
    if place == "invoice-page":
        detail = detail_from_invoice_page(qtbot, screens)
    else:
        view = {"transactions": screens.transactions, "payment-search": screens.search,
                "organization-payments": page.payments_view}[place]
        if view is page.payments_view:
            page.tabs.setCurrentWidget(view)
        detail = detail_from_list(qtbot, view)

    refund_from(qtbot, detail, "50.00")

    # The known stale figure: Invoice History kept the old balance after a refund.
    balance_everywhere(qtbot, screens, "$1,050.00", "$1,600.49")
    qtbot.waitUntil(lambda: cell(screens.transactions.model, "Reference", str(
        screens.transactions.model.index(0, 1).data()), "Status") is not None
        and "refund" in str(cell(screens.transactions.model, "Reference", str(
            screens.transactions.model.index(0, 1).data()), "Status")).lower(),
        timeout=FRESH_MS)
    qtbot.waitUntil(lambda: cell(screens.search.model, "Type", "Refund", "Type") == "Refund",
                    timeout=FRESH_MS)
    assert kept(screens) == before


@stripe_only
def test_transactions_shows_a_payment_taken_on_an_organization_page(
    qtbot: QtBot, world: PaymentWorld
) -> None:
    """The known empty Transactions: visited before the payment, shown again after it."""
    window = MainWindow(world.context)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    transactions = window.show_area("transactions")
    wait_for_background_tasks(qtbot)
    assert transactions.model.rowCount() == 0  # type: ignore[attr-defined]
    organizations = window.show_area("organizations")
    assert isinstance(organizations, OrganizationsArea)
    organizations.show_organization(ORG_ID)
    wait_for_background_tasks(qtbot)
    screens_page = organizations.page
    assert screens_page is not None
    _select_1045(screens_page.invoices)
    screens_page.invoices.pay_action.action.trigger()
    finish_payment(qtbot, screens_page.invoices.pay_action.dialog, "200.00")

    for key in ("transactions", "payment_search", "invoices", "sync", "transactions"):
        window.show_area(key)
        area = window.areas[key]
        if key == "transactions":
            qtbot.waitUntil(lambda a=area: a.model.rowCount() == 1  # type: ignore[misc]
                            and a.stack.currentWidget() is a.table, timeout=FRESH_MS)
        elif key == "payment_search":
            qtbot.waitUntil(lambda a=area: a.model.rowCount() == 1,  # type: ignore[misc]
                            timeout=FRESH_MS)
        elif key == "invoices":
            qtbot.waitUntil(lambda a=area: cell(  # type: ignore[misc]
                a.history.model, "Invoice #", "1045", "Balance") == "$1,000.00",
                timeout=FRESH_MS)
    window.close()
    wait_for_background_tasks(qtbot)


@stripe_only
def test_a_dismissed_posting_shows_on_every_screen_that_lists_the_payment(
    qtbot: QtBot, world: PaymentWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    paid = pay(world, [world.invoice_ids[0]])
    with session_scope(world.context.engine) as s:
        s.execute(update(Posting).where(Posting.payment_id == paid).values(
            state="failed", attempts=8,
            last_error="Autotask refused the note: the company is inactive."))
    screens = open_screens(qtbot, world)
    page = screens.organization.page
    assert page is not None
    qtbot.waitUntil(lambda: page.payments_view.model.rowCount() == 1, timeout=5000)
    assert cell(page.payments_view.model, "Amount", "$1,200.00", "Posting") == "Failing to post"

    invoice_page = screens.invoice.page

    def posted_on_page() -> str:
        item = invoice_page.payments.item(0, 5) if invoice_page.payments.rowCount() else None
        return item.text() if item is not None else ""

    detail = PaymentDetailDialog(world.context, paid)  # left open on the payment
    qtbot.addWidget(detail)
    detail.show()
    qtbot.waitUntil(lambda: detail.detail is not None, timeout=5000)
    assert detail.detail is not None and any(p.can_retry for p in detail.detail.postings)
    failing_on_page = posted_on_page()
    assert failing_on_page == "Failed — needs attention" or "fail" in failing_on_page.lower()
    monkeypatch.setattr(QMessageBox, "question",
                        staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes))
    screens.transactions.table.selectRow(0)
    dismiss = screens.transactions.findChild(QPushButton, "dismissPostingButton")
    assert dismiss is not None and dismiss.isEnabled()
    qtbot.mouseClick(dismiss, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: screens.transactions.status_label.text().startswith("Dismissed"),
                    timeout=5000)

    qtbot.waitUntil(lambda: cell(page.payments_view.model, "Amount", "$1,200.00", "Posting")
                    == "Dismissed", timeout=FRESH_MS)
    qtbot.waitUntil(lambda: detail.detail is not None and not any(
        p.can_retry for p in detail.detail.postings), timeout=FRESH_MS)
    # The invoice's page lists the payment with its posting status: failing no longer.
    qtbot.waitUntil(lambda: posted_on_page() not in ("", failing_on_page), timeout=FRESH_MS)
    qtbot.waitUntil(lambda: screens.search.model.rowCount() == 1, timeout=FRESH_MS)


def test_a_refund_brings_a_paid_invoice_back_to_invoice_history(
    qtbot: QtBot, world: PaymentWorld
) -> None:
    """The known stale figure: paid in full, the invoice left Invoice History (Show paid is
    off); refunded in part, it owes again and is listed again at once, with its balance."""
    pay(world, [world.invoice_ids[0]])
    world.kit.settle_batch()  # a day later: Authorize.Net refunds part once settled
    screens = open_screens(qtbot, world)
    history = screens.invoices.history
    assert cell(history.model, "Invoice #", "1045", "Balance") is None
    before = kept(screens)

    refund_from(qtbot, detail_from_list(qtbot, screens.transactions), "300.00")

    balance_everywhere(qtbot, screens, "$300.00", "$850.49")
    assert kept(screens).selected == before.selected


def test_a_sync_reaches_every_open_screen_within_a_second(
    qtbot: QtBot, set_up_context: AppContext
) -> None:
    from app.core.connections import (
        AutotaskConnection,
        save_autotask_connection,
        save_autotask_secret,
    )
    from app.sandbox.autotask.server import AutotaskSandbox

    context = set_up_context
    with AutotaskSandbox(companies=12, contacts=20, contracts=4, tickets=20,
                         invoices=60) as sandbox:
        c = sandbox.credentials
        save_autotask_connection(context.engine, AutotaskConnection(
            username=c.username, integration_code=c.integration_code,
            discovery_url=sandbox.url))
        save_autotask_secret(context.credentials, c.secret)
        invoices, organizations = InvoicesArea(context), OrganizationsArea(context)
        controller = controller_for(context)
        sync = SyncArea(controller)
        for widget in (invoices, organizations, sync):
            qtbot.addWidget(widget)
            widget.show()
        wait_for_background_tasks(qtbot)
        assert invoices.history.model.rowCount() == 0
        assert organizations.list.model.rowCount() == 0

        with qtbot.waitSignal(controller.finished, timeout=30_000):
            assert controller.sync_now()

        qtbot.waitUntil(lambda: invoices.history.model.rowCount() > 0, timeout=FRESH_MS)
        qtbot.waitUntil(lambda: organizations.list.model.rowCount() == 12, timeout=FRESH_MS)
        qtbot.waitUntil(lambda: sync.history_table.rowCount() == 1, timeout=FRESH_MS)
        wait_for_background_tasks(qtbot)


def test_invoice_history_shows_a_refund_taken_in_transactions_when_shown_again(
    qtbot: QtBot, world: PaymentWorld
) -> None:
    """The known stale balance, as it happened: in one window, Invoice History looked at,
    then a refund in Transactions, then back to Invoice History (Show paid off)."""
    pay(world, [world.invoice_ids[0]])  # 1045 paid in full: not listed while Show paid is off
    world.kit.settle_batch()  # a day later: Authorize.Net refunds part once settled
    window = MainWindow(world.context)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    invoices = window.show_area("invoices")
    assert isinstance(invoices, InvoicesArea)
    wait_for_background_tasks(qtbot)
    assert cell(invoices.history.model, "Invoice #", "1045", "Balance") is None
    transactions = window.show_area("transactions")
    assert isinstance(transactions, TransactionsView)
    qtbot.waitUntil(lambda: transactions.model.rowCount() == 1,  # type: ignore[attr-defined]
                    timeout=3000)
    refund_from(qtbot, detail_from_list(qtbot, transactions), "300.00")  # type: ignore[arg-type]

    window.show_area("invoices")
    qtbot.waitUntil(lambda: cell(invoices.history.model, "Invoice #", "1045", "Balance")
                    == "$300.00", timeout=FRESH_MS)
    window.close()
    wait_for_background_tasks(qtbot)
