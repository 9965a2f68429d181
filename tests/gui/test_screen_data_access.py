"""One way for a screen to get its data: through ``app.core.queries`` (frozen rows), in
workers — never the ORM models, never a query on the GUI thread.

A slow or shared database server (PostgreSQL over the network) must not freeze a screen:
a query on the GUI thread is a frozen window for as long as the server takes to answer.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, Qt, QThread
from PySide6.QtWidgets import QLineEdit
from sqlalchemy import event, update

from app.core.invoice_state import InvoiceStatus, recompute_invoices
from app.core.queries.fixtures import build_ledger
from app.core.queries.invoices import InvoiceColumn
from app.core.storage.engine import session_scope
from app.core.storage.models import Invoice
from app.gui.context import AppContext
from tests.gui.conftest import wait_for_background_tasks

GUI = Path(__file__).resolve().parents[2] / "app" / "gui"
ORM = "app.core.storage.models"

#: May import the ORM models, and why.
EXEMPT = {
    # The composition root: opens the database and builds what the screens are given.
    "app.py": "composition root",
    "main_window.py": "composition root",
}
#: Screenshot fixtures (the ``screenshots`` package) seed a demo database to render from.
FIXTURE_PACKAGE = "screenshots/"
#: Still read the ORM directly; each must leave this list once it reads through
#: ``app.core`` (the test fails while a listed file no longer needs to be here).
STILL_TO_MOVE: set[str] = set()


def _imports_orm(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):  # function-level imports too
        if isinstance(node, ast.Import) and any(a.name == ORM for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom):
            if node.module == ORM:
                return True
            if node.module == "app.core.storage" and any(a.name == "models" for a in node.names):
                return True
    return False


def test_screens_do_not_import_the_orm_models() -> None:
    importing = {
        path.relative_to(GUI).as_posix()
        for path in GUI.rglob("*.py")
        if _imports_orm(path)
    }
    allowed = {
        name for name in importing if name in EXEMPT or name.startswith(FIXTURE_PACKAGE)
    }
    assert importing - allowed - STILL_TO_MOVE == set(), (
        "Screens read through app.core.queries (frozen rows), not the ORM models"
    )
    assert importing >= STILL_TO_MOVE, "moved to app.core: take it off STILL_TO_MOVE"


@pytest.fixture
def ledger(set_up_context: AppContext) -> AppContext:
    build_ledger(set_up_context.engine, organizations=30, invoices=1_500)
    # Read once at start-up by the composition root (the main window builds the sync
    # controller, which loads the schedule and the last sync, and asks for the currency).
    from app.gui.sync.controller import controller_for

    set_up_context.currency()
    controller_for(set_up_context)
    return set_up_context


def on_the_gui_thread() -> bool:
    app = QCoreApplication.instance()
    return app is not None and QThread.currentThread() == app.thread()


class GuiThreadQueries:
    """Every SQL statement run on the GUI thread while the test drives the screens (the
    statement's first line, never its values); the test's own writes are left out."""

    def __init__(self) -> None:
        self.found: list[str] = []
        self.ignoring = False

    def check(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not self.ignoring and on_the_gui_thread():
            self.found.append(statement.split("\n")[0][:120])

    @contextmanager
    def ignored(self) -> Iterator[None]:
        self.ignoring = True
        try:
            yield
        finally:
            self.ignoring = False


@pytest.fixture
def gui_thread_queries(ledger: AppContext) -> Iterator[GuiThreadQueries]:
    watch = GuiThreadQueries()
    event.listen(ledger.engine, "before_cursor_execute", watch.check)
    try:
        yield watch
    finally:
        event.remove(ledger.engine, "before_cursor_execute", watch.check)


def settle(qtbot: object) -> None:
    for _ in range(3):
        QCoreApplication.processEvents()
        wait_for_background_tasks(qtbot)


def test_invoices_and_organizations_never_query_on_the_gui_thread(
    ledger: AppContext, gui_thread_queries: GuiThreadQueries, qtbot: object
) -> None:
    from app.gui.invoices import InvoicesArea
    from app.gui.organizations import OrganizationsArea
    from app.gui.sync.controller import controller_for

    invoices = InvoicesArea(ledger)
    organizations = OrganizationsArea(ledger)
    for area in (invoices, organizations):
        qtbot.addWidget(area)  # type: ignore[attr-defined]
        area.resize(1300, 800)
        area.show()
    settle(qtbot)
    view = invoices.history
    assert view.model.rowCount() > 0
    # Search, filters, Show paid, every sort, a scroll to the bottom.
    view.set_search("10")
    settle(qtbot)
    view.set_search("")
    view.set_status_filter(InvoiceStatus.OVERDUE)
    view.show_paid.setChecked(True)
    settle(qtbot)
    view.set_status_filter(None)
    for column in InvoiceColumn:
        view.sort_by(column, True)
        settle(qtbot)
    view.table.scrollToBottom()
    settle(qtbot)
    assert view.model.index(view.model.rowCount() - 1, 0).data()  # painted from a worker
    # Select what is painted, open it, go back.
    view.table.selectRow(view.model.rowCount() - 1)
    assert len(view.selectedInvoices()) == 1
    view.table.setFocus()
    view.open_current()
    settle(qtbot)
    assert invoices.stack.currentWidget() is invoices.page
    invoices.page.back_button.click()
    # A sync changes an invoice: both areas refresh.
    first = view.model.id_at(0)
    assert first is not None
    with gui_thread_queries.ignored(), session_scope(ledger.engine) as s:  # the sync's write
        s.execute(update(Invoice).where(Invoice.id == first).values(paid_date=Invoice.due_date))
        recompute_invoices(s, [first])
    controller_for(ledger).rows_changed.emit("invoices", (first,))
    invoices.sync_changes.flush()
    organizations.sync_changes.flush()
    settle(qtbot)
    # The organization list: search, sort, an organization's page with its invoices.
    listing = organizations.list
    assert listing.model.rowCount() == 30
    listing.search.setText("a")
    listing.search.returnPressed.emit()
    settle(qtbot)
    for section in range(listing.model.columnCount()):
        listing._on_sort_clicked(section)
        settle(qtbot)
    listing.table.setCurrentIndex(listing.model.index(0, 0))
    listing.table.activated.emit(listing.model.index(0, 0))
    settle(qtbot)
    page = organizations.page
    assert page is not None and page.detail is not None
    assert page.invoices.model.rowCount() >= 0
    page.invoices.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    settle(qtbot)
    assert gui_thread_queries.found == []


def test_screens_reach_the_sandboxes_only_through_the_demo() -> None:
    """Only the screenshot scenes seed sandbox data; a screen knows the sandboxes only as the
    running demo (``app.sandbox.demo``)."""
    offending = set()
    for path in GUI.rglob("*.py"):
        name = path.relative_to(GUI).as_posix()
        if name.startswith(FIXTURE_PACKAGE):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            modules = ([a.name for a in node.names] if isinstance(node, ast.Import)
                       else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offending.update(f"{name}: {m}" for m in modules
                             if m.startswith("app.sandbox") and m != "app.sandbox.demo")
    assert offending == set()


# --- every other screen: payments, Order Summary, detail and refund, Sync, QuickBooks, Setup --


class GuiThreadKeychain:
    """Every keychain read or write made on the GUI thread (the name, never the value)."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from app.core.credentials import CredentialStore

        for method in ("get", "has", "set", "delete"):
            original = getattr(CredentialStore, method)

            def watched(store: CredentialStore, name: str, *args: Any,
                        _original: Any = original, _method: str = method) -> Any:
                if on_the_gui_thread():
                    self.found.append(f"{_method} {name}")
                return _original(store, name, *args)

            monkeypatch.setattr(CredentialStore, method, watched)


@pytest.fixture
def payment_world(set_up_context: AppContext, gateway_key: str
                  ) -> Iterator[tuple[AppContext, Any, list[int]]]:
    """One organization with open invoices, a saved test card, and the gateway connection
    stored as Setup stores it (settings + keychain) — not opened: the window opens it.
    For each gateway (the payment test kit, ``tests/integration/payments/gateways.py``)."""
    from app.core.gateways.connection import load_gateway_connection, record_gateway_test
    from app.core.gateways.repository import SavedMethods
    from tests.gui.payments_support import ORG_ID, seed_organization
    from tests.integration.payments.gateways import start_kit

    context = set_up_context
    with start_kit(gateway_key) as kit:
        invoice_ids = seed_organization(context.engine)
        gateway = kit.gateway()
        kit.connect(context.engine, context.credentials)
        connection = load_gateway_connection(context.engine)
        assert connection is not None
        record_gateway_test(context.engine, connection, gateway.test_connection())
        kit.save_method(context.engine, gateway, ORG_ID, "approve")
        SavedMethods(context.engine, gateway).refresh(ORG_ID)
        context.currency()  # the composition root reads it at start
        yield context, kit, invoice_ids


def test_every_other_screen_never_reads_the_database_or_keychain_on_the_gui_thread(
    payment_world: tuple[AppContext, Any, list[int]], qtbot: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Transactions, Payment Search, the Sync and QuickBooks areas, the Order Summary (a real
    payment through the gateway sandbox), the payment's detail and a refund, and every Setup
    page: built, shown and used with no SQL statement and no keychain access on the GUI
    thread. The connected gateway is opened in a worker, as the window does at start."""
    from PySide6.QtWidgets import QPushButton, QWizard

    from app.core.setup.steps import STEP_ORDER
    from app.gui.payments.common import open_connected_gateway
    from app.gui.payments.detail import PaymentDetailDialog
    from app.gui.payments.order_summary import OrderSummaryDialog
    from app.gui.payments.search import create_payment_search_area
    from app.gui.payments.transactions import create_transactions_area
    from app.gui.quickbooks import create_quickbooks_area
    from app.gui.sync.area import create_sync_area
    from app.gui.sync.controller import controller_for
    from app.gui.wizard import SetupWizard
    from tests.gui.payments_support import ORG_ID

    context, kit, invoice_ids = payment_world
    queries = GuiThreadQueries()
    keychain = GuiThreadKeychain()
    event.listen(context.engine, "before_cursor_execute", queries.check)
    keychain.install(monkeypatch)
    try:
        # The window at start: the gateway opened in a worker, the screens built and shown.
        open_connected_gateway(context)
        transactions = create_transactions_area(context)
        search = create_payment_search_area(context)
        sync = create_sync_area(context)
        quickbooks = create_quickbooks_area(context)
        for area in (transactions, search, sync, quickbooks):
            qtbot.addWidget(area)
            area.resize(1300, 800)
            area.show()
        settle(qtbot)
        assert context.services.gateway is not None

        # The Order Summary: a real payment of $200.00 with the saved card.
        dialog = OrderSummaryDialog(context, ORG_ID, [invoice_ids[0]])
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitUntil(lambda: dialog.summary is not None, timeout=10_000)
        amount = dialog.findChild(QLineEdit, "paymentAmount")
        assert amount is not None
        amount.selectAll()
        qtbot.keyClicks(amount, "200.00")
        qtbot.waitUntil(lambda: not dialog._recompute_timer.isActive(), timeout=2000)
        pay = dialog.findChild(QPushButton, "payButton")
        assert pay is not None and pay.isEnabled()
        qtbot.mouseClick(pay, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: dialog.outcome is not None, timeout=15_000)
        assert dialog.outcome is not None and dialog.outcome.approved
        dialog.accept()
        settle(qtbot)

        # Transactions and Payment Search follow the bus; the payment's detail; a refund.
        qtbot.waitUntil(lambda: transactions.model.rowCount() == 1, timeout=5000)
        qtbot.waitUntil(lambda: search.model.rowCount() == 1, timeout=5000)
        search.transaction_id.setText("PD-")
        search.reload()
        settle(qtbot)
        payment_id = transactions.model.id_at(0)
        assert payment_id is not None
        kit.settle_batch()  # a day later: Authorize.Net refunds part once settled
        detail = PaymentDetailDialog(context, payment_id)
        qtbot.addWidget(detail)
        detail.show()
        qtbot.waitUntil(lambda: detail.detail is not None, timeout=5000)
        qtbot.waitUntil(detail.refund_button.isEnabled, timeout=5000)
        detail.refund_button.click()
        refund = detail.refund_dialog
        assert refund is not None
        refund.partial_radio.setChecked(True)
        refund.amount_edit.setText("50.00")
        refund.reason_edit.setPlainText("Billed twice for one visit")
        assert refund.confirm_button.isEnabled()
        refund.confirm_button.click()
        qtbot.waitUntil(lambda: refund.outcome is not None, timeout=15_000)
        settle(qtbot)

        from tests.gui.test_wizard import press_next

        # The Sync area and Setup's own pages are the same whatever the gateway: checked once.
        every_gateway_alike = kit.key == "stripe"
        if every_gateway_alike:
            # The Sync area: a new schedule, a sync that cannot run (Autotask not connected).
            controller = controller_for(context)
            assert controller.facts_loaded
            sync.interval.setCurrentIndex(sync.interval.findData(60))
            sync.refresh_connection()
            with qtbot.waitSignal(controller.failed, timeout=10_000):
                controller.sync_now()
            settle(qtbot)

            # Setup: welcome, the (locked) currency, Autotask (typed and saved), then the
            # gateway page (tested with the stored key and stored), QuickBooks, the first sync.
            wizard = SetupWizard(context)
            qtbot.addWidget(wizard)
            wizard.show()
            press_next(qtbot, wizard)
            assert wizard.currentPage() is wizard.currency_page
            assert wizard.currency_page.locked_code == "USD"
            press_next(qtbot, wizard)
            assert wizard.currentPage() is wizard.autotask_page
            page = wizard.autotask_page
            page.username.setText("api@example.com")
            page.integration_code.setText("CODE123")
            page.secret.setText("typed-secret")
            page.zone_url.setText("http://127.0.0.1:9/")  # nothing listens: no traffic leaves
            page.save_button.click()
            settle(qtbot)
            wizard.back()
            settle(qtbot)
            wizard.close()

        gateway_wizard = SetupWizard(context)
        qtbot.addWidget(gateway_wizard)
        gateway_wizard.setStartId(STEP_ORDER["gateway"])
        gateway_wizard.show()
        gateway_wizard.restart()
        gateway_page = gateway_wizard.currentPage()
        qtbot.waitUntil(lambda: getattr(gateway_page, "loaded", False), timeout=5000)
        gateway_page.test_button.click()  # type: ignore[attr-defined]
        qtbot.waitUntil(gateway_page.isComplete, timeout=10_000)
        press_next(qtbot, gateway_wizard)  # stored in a worker, then QuickBooks
        settle(qtbot)
        if every_gateway_alike:
            while gateway_wizard.currentPage() is not gateway_wizard.first_sync_page:
                button = gateway_wizard.button(QWizard.WizardButton.NextButton)
                assert button is not None and button.isEnabled()
                press_next(qtbot, gateway_wizard)
            sync_page = gateway_wizard.first_sync_page
            qtbot.waitUntil(lambda: sync_page.outcome.isVisible(), timeout=30_000)
            settle(qtbot)
        gateway_wizard.close()
        settle(qtbot)
    finally:
        event.remove(context.engine, "before_cursor_execute", queries.check)
        monkeypatch.undo()
    assert {"SQL": queries.found, "keychain": keychain.found} == {"SQL": [], "keychain": []}


# The window's areas with a gateway connected: the same screens for every gateway.
@pytest.mark.parametrize("gateway_key", ["stripe"])
def test_the_window_and_every_area_never_read_on_the_gui_thread(
    payment_world: tuple[AppContext, Any, list[int]], qtbot: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The main window as it starts — setup banner, sync schedule, payment upkeep, the
    gateway opened, Setup's first-start check — and every area of the sidebar shown in turn
    (Settings included), with a stored gateway and data to show."""
    from app.gui.main_window import MainWindow

    context, _sandbox, _invoices = payment_world
    queries = GuiThreadQueries()
    keychain = GuiThreadKeychain()
    event.listen(context.engine, "before_cursor_execute", queries.check)
    keychain.install(monkeypatch)
    try:
        window = MainWindow(context)
        qtbot.addWidget(window)
        window.show()
        window.open_setup_when_needed()  # what the start does, once the loop runs
        settle(qtbot)
        assert context.services.gateway is not None
        assert window.setup_missing  # Autotask is not connected in this world
        if window.wizard is not None:
            window.wizard.reject()
        for key in window.areas:
            window.show_area(key)
            settle(qtbot)
        assert window.broken_areas == {}
        # An organization's page (its saved cards, from the gateway opened at start) and an
        # invoice's page, as a bookkeeper opens them.
        from tests.gui.payments_support import ORG_ID

        organizations = window.show_area("organizations")
        organizations.show_organization(ORG_ID)  # type: ignore[attr-defined]
        settle(qtbot)
        invoices = window.show_area("invoices")
        invoices.open_invoice(_invoices[0])  # type: ignore[attr-defined]
        settle(qtbot)
        assert invoices.page.detail is not None  # type: ignore[attr-defined]
    finally:
        event.remove(context.engine, "before_cursor_execute", queries.check)
        monkeypatch.undo()
    assert {"SQL": queries.found, "keychain": keychain.found} == {"SQL": [], "keychain": []}


def test_the_quickbooks_area_with_books_read_never_reads_on_the_gui_thread(
    set_up_context: AppContext, qtbot: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """QuickBooks Desktop's books read over HTTP (the Web Connector stand-in): the area's
    tabs, Needs matching searched and sorted, the match dialog's candidates and search, and
    Reconciliation — no SQL and no keychain access on the GUI thread."""
    from PySide6.QtWidgets import QDialog

    from app.core.quickbooks.desktop.qwc import connect
    from app.gui.quickbooks import QuickBooksArea
    from app.gui.quickbooks import matching as matching_module
    from app.gui.quickbooks.matching import MatchDialog
    from tests.integration.quickbooks_desktop.support import open_desk

    context = set_up_context
    context.currency()
    searched: list[int] = []

    class LookingDialog(MatchDialog):
        def exec(self) -> int:
            qtbot.waitUntil(lambda: bool(self.candidates), timeout=10_000)
            self.search.setText("1")
            self.load("1")
            settle(qtbot)
            searched.append(len(self.candidates))
            return int(QDialog.DialogCode.Rejected)

    monkeypatch.setattr(matching_module, "MatchDialog", LookingDialog)
    with open_desk(context.engine) as desk:
        desk.connector().update()
        connect(context.engine, app_url=desk.server.url)
        queries = GuiThreadQueries()
        keychain = GuiThreadKeychain()
        event.listen(context.engine, "before_cursor_execute", queries.check)
        keychain.install(monkeypatch)
        try:
            area = QuickBooksArea(context)
            qtbot.addWidget(area)
            area.resize(1300, 800)
            area.show()
            settle(qtbot)
            assert area.stack.currentWidget() is area.tabs
            for index in range(area.tabs.count()):
                area.tabs.setCurrentIndex(index)
                settle(qtbot)
            view = area.matching
            assert view is not None
            view.search.setText("10")  # type: ignore[attr-defined]
            settle(qtbot)
            view.search.setText("")  # type: ignore[attr-defined]
            settle(qtbot)
            ids = view.model.ids()  # type: ignore[attr-defined]
            assert ids
            view.table.selectRow(0)  # type: ignore[attr-defined]
            qtbot.waitUntil(view.match_button.isEnabled, timeout=10_000)  # type: ignore[attr-defined]
            view.match_button.click()  # type: ignore[attr-defined]
            settle(qtbot)
            assert searched
        finally:
            event.remove(context.engine, "before_cursor_execute", queries.check)
            monkeypatch.undo()
    assert {"SQL": queries.found, "keychain": keychain.found} == {"SQL": [], "keychain": []}
