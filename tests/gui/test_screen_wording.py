"""What the payment screens and the Sync area say: test mode is marked wherever payments are
listed, the sort order a screen names is the one its header shows, and the words are a
bookkeeper's (no "records", "stored" or "requests")."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QTableWidget, QWidget
from pytestqt.qtbot import QtBot

from app.gui.context import AppContext
from app.gui.payments.search import PaymentSearchView
from app.gui.payments.transactions import TransactionsView
from tests.gui.conftest import wait_for_background_tasks
from tests.gui.payments_support import PaymentWorld, build_world, pay, stripe_only
from tests.integration.payments.gateways import start_kit


@pytest.fixture
def stored_test_gateway(set_up_context: AppContext, gateway_key: str
                        ) -> Iterator[PaymentWorld]:
    """A gateway connected with test keys in Setup, not opened yet by any screen."""
    with start_kit(gateway_key) as kit:
        world = build_world(set_up_context, kit)
        engine = set_up_context.engine
        kit.connect(engine, set_up_context.credentials)
        pay(world, world.invoice_ids[:1])
        set_up_context.services.gateway = None
        yield world


@pytest.mark.parametrize("view_class", [TransactionsView, PaymentSearchView])
def test_test_mode_is_marked_on_the_payment_lists(
    qtbot: QtBot, stored_test_gateway: PaymentWorld, view_class: type[QWidget]
) -> None:
    view = view_class(stored_test_gateway.context)  # type: ignore[call-arg]
    qtbot.addWidget(view)
    view.show()
    banner = view.findChild(QLabel, "testModeBanner")
    assert banner is not None
    qtbot.waitUntil(banner.isVisible, timeout=5000)
    assert banner.text().startswith("TEST MODE")
    assert "grey" not in banner.text()
    wait_for_background_tasks(qtbot)


def _arrow_shape(view: TransactionsView, section: int) -> str:
    """Which way the sort arrow drawn above the title of ``section`` points ("down"/"up")."""
    header = view.table.horizontalHeader()
    image = header.grab().toImage()
    left = header.sectionViewportPosition(section)
    spans: list[int] = []
    for y in range(10):  # the arrow sits above the title
        dark = [x for x in range(left, left + header.sectionSize(section))
                if image.pixelColor(x, y).lightness() < 235]
        if dark:
            spans.append(max(dark) - min(dark))
    assert len(spans) >= 3, "no arrow drawn"
    # A "v" is widest at its top, a "^" at its bottom.
    return "down" if spans[0] > spans[-1] else "up"


@stripe_only
def test_the_header_arrow_shows_the_order_the_rows_are_in(
    qtbot: QtBot, stored_test_gateway: PaymentWorld
) -> None:
    from app.gui.resources import style_sheet

    view = TransactionsView(stored_test_gateway.context)
    view.setStyleSheet(style_sheet())
    qtbot.addWidget(view)
    view.resize(1100, 500)
    view.show()
    wait_for_background_tasks(qtbot)
    header = view.table.horizontalHeader()
    # Newest first: the date column sorts descending and its arrow points down.
    assert header.sortIndicatorSection() == 0
    assert header.sortIndicatorOrder() is Qt.SortOrder.DescendingOrder
    assert _arrow_shape(view, 0) == "down"
    assert "newest first" not in " ".join(label.text() for label in view.findChildren(QLabel))
    view._on_header_clicked(0)  # oldest first
    wait_for_background_tasks(qtbot)
    assert header.sortIndicatorOrder() is Qt.SortOrder.AscendingOrder
    assert _arrow_shape(view, 0) == "up"


DEVELOPER_WORDS = ("record", "stored", "requests", "grey", "entity", "quarantin")


def test_the_sync_area_before_the_first_sync_says_only_what_is_true(
    qtbot: QtBot, set_up_context: AppContext
) -> None:
    from app.gui.sync.area import SyncArea
    from app.gui.sync.controller import controller_for

    area = SyncArea(controller_for(set_up_context))
    qtbot.addWidget(area)
    area.show()
    wait_for_background_tasks(qtbot)
    shown = " ".join(label.text() for label in area.findChildren(QLabel) if label.isVisible())
    assert "could be stored" not in shown and "was copied" not in shown
    assert "Nothing has been copied from Autotask yet" in shown
    assert "not connected to Autotask" in area.summary.text()
    # The schedule is not presented as running while nothing can be synced.
    label = area.findChild(QLabel, "syncIntervalLabel")
    assert label is not None and label.text() == "Once connected, sync automatically:"
    assert not area.history_table.isVisible() and not area.progress_table.isVisible()
    headers = [
        table.horizontalHeaderItem(c).text()  # type: ignore[union-attr]
        for table in area.findChildren(QTableWidget) for c in range(table.columnCount())
    ]
    words = " ".join(headers + [label.text() for label in area.findChildren(QLabel)]).lower()
    assert not [w for w in DEVELOPER_WORDS if w in words], words


def test_the_setup_banner_stops_asking_for_the_currency_once_it_is_chosen(
    qtbot: QtBot, app_context: AppContext
) -> None:
    from app.core.config import set_internal_currency
    from app.gui.main_window import MainWindow

    win = MainWindow(app_context)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: "currency" in win.setup_banner_text.text(), timeout=5000)
    win.open_setup()
    assert win.wizard is not None
    # What the wizard's currency page does when the person confirms, then moves on.
    set_internal_currency(app_context.engine, "USD", actor="test")
    win.wizard.next()  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: "currency" not in win.setup_banner_text.text(), timeout=3000)
    assert win.setup_banner.isVisible() and "Autotask" in win.setup_banner_text.text()
    win.wizard.reject()
    wait_for_background_tasks(qtbot)


def test_the_crash_dialog_says_what_happened_and_keeps_the_details_for_support(
    qtbot: QtBot, tmp_path: object
) -> None:
    from pathlib import Path

    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QPlainTextEdit, QPushButton

    from app.gui.errors import CrashDialog, format_details

    try:
        raise ZeroDivisionError("card 4242 4242 4242 4242 could not be divided")
    except ZeroDivisionError as exc:
        details = format_details(exc)
    dialog = CrashDialog(details, Path(str(tmp_path)) / "logs" / "paydesk.log")
    qtbot.addWidget(dialog)
    dialog.show()
    happened = dialog.findChild(QLabel, "crashWhatHappened")
    todo = dialog.findChild(QLabel, "crashWhatToDo")
    assert happened is not None and happened.isVisible() and "What happened" in happened.text()
    assert todo is not None and todo.isVisible() and "What to do" in todo.text()
    shown = " ".join(label.text() for label in dialog.findChildren(QLabel) if label.isVisible())
    assert "Traceback" not in shown and "ZeroDivisionError" not in shown
    view = dialog.findChild(QPlainTextEdit, "crashDetails")
    assert view is not None and not view.isVisible()  # the traceback is not the first thing

    button = dialog.findChild(QPushButton, "crashDetailsButton")
    assert button is not None and button.text() == "Details"
    button.click()
    assert view.isVisible() and "ZeroDivisionError" in view.toPlainText()

    copy = dialog.findChild(QPushButton, "crashCopyButton")
    assert copy is not None and copy.text() == "Copy for support"
    copy.click()
    copied = QGuiApplication.clipboard().text()
    assert copied.startswith("PayDesk ran into an unexpected error.")
    assert "Version: " in copied and "paydesk.log" in copied and "ZeroDivisionError" in copied
    assert "4242 4242 4242 4242" not in copied  # redacted like the log


def test_dates_are_written_one_way_everywhere_from_the_locale() -> None:
    import re
    from datetime import UTC, datetime
    from pathlib import Path

    from app.gui.invoices.formatting import date_edit_format, date_text, datetime_text, time_text

    moment = datetime(2026, 12, 4, 23, 25, tzinfo=UTC)
    local = moment.astimezone()
    assert date_text(local.date()) == f"{local:%b} {local.day}, {local.year}"
    assert datetime_text(moment) == f"{date_text(moment)}, {time_text(moment)}"
    assert re.fullmatch(r"\d{2}\.\d{2}\.\d{4}, \d{2}:\d{2}", datetime_text(moment, "de_DE"))
    assert date_edit_format() == "MMM d, yyyy" and date_edit_format("de_DE") == "dd.MM.yyyy"
    # No screen formats a date by hand: every date goes through the functions above.
    gui = Path(__file__).resolve().parents[2] / "app" / "gui"
    by_hand = re.compile(r"strftime\(|\{[^{}]*:%[a-zA-Z]")
    found = [
        f"{path.relative_to(gui)}:{number}"
        for path in gui.rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if by_hand.search(line) and "UTC" not in line  # the support report's timestamp
    ]
    assert not found, found
