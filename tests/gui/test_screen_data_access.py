"""One way for a screen to get its data: through ``app.core.queries`` (frozen rows), in
workers — never the ORM models, never a query on the GUI thread.

A slow or shared database server (PostgreSQL over the network) must not freeze a screen:
a query on the GUI thread is a frozen window for as long as the server takes to answer.
"""

from __future__ import annotations

import ast
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, Qt
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


class GuiThreadQueries:
    """Every SQL statement run on the GUI thread while the test drives the screens (the
    statement's first line, never its values); the test's own writes are left out."""

    def __init__(self) -> None:
        self.found: list[str] = []
        self.ignoring = False

    def check(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not self.ignoring and threading.current_thread() is threading.main_thread():
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
