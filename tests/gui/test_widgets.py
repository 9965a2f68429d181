"""The shared widgets: empty state, status pill, money delegate, search field."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QStyleOptionViewItem, QTableView
from pytestqt.qtbot import QtBot

from app.core.invoice_state import InvoiceStatus
from app.core.money import Money
from app.gui.context import AppContext
from app.gui.widgets import (
    PILL_TONE_ROLE,
    EmptyState,
    MoneyDelegate,
    SearchField,
    StatusPill,
    StatusPillDelegate,
    Tone,
    invoice_status_tone,
    remember_columns,
)
from app.gui.widgets.pill import TONE_COLOURS


def test_empty_state_button_only_when_there_is_an_action(qtbot: QtBot) -> None:
    state = EmptyState("No invoices yet", "Run Setup to connect Autotask.", "Run Setup")
    qtbot.addWidget(state)
    state.show()
    assert state.action_button.isVisible()
    with qtbot.waitSignal(state.actionTriggered, timeout=1000):
        qtbot.mouseClick(state.action_button, Qt.MouseButton.LeftButton)
    state.set_content("Nothing to pay", "Every invoice is paid.")
    assert not state.action_button.isVisible()
    assert state.title() == "Nothing to pay"


def test_status_pill_carries_words_and_colour(qtbot: QtBot) -> None:
    pill = StatusPill("Overdue", invoice_status_tone(InvoiceStatus.OVERDUE))
    qtbot.addWidget(pill)
    assert pill.text() == "Overdue"
    assert pill.tone is Tone.DANGER
    assert TONE_COLOURS[Tone.DANGER][0] in pill.styleSheet()
    # Every invoice status has a tone, and the tones differ where the meaning differs.
    tones = {status: invoice_status_tone(status) for status in InvoiceStatus}
    assert tones[InvoiceStatus.PAID] != tones[InvoiceStatus.OVERDUE]


def test_pill_and_money_delegates_render_in_a_table(qtbot: QtBot) -> None:
    model = QStandardItemModel(2, 2)
    for row, (status, amount) in enumerate(
        [(InvoiceStatus.PAID, Money(123456, "USD")), (InvoiceStatus.OVERDUE, Money(-500, "USD"))]
    ):
        item = QStandardItem(status.label)
        item.setData(invoice_status_tone(status).value, PILL_TONE_ROLE)
        model.setItem(row, 0, item)
        money = QStandardItem()
        money.setData(amount, Qt.ItemDataRole.DisplayRole)
        model.setItem(row, 1, money)
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.setItemDelegateForColumn(0, StatusPillDelegate(view))
    money_delegate = MoneyDelegate("en_US", view)
    view.setItemDelegateForColumn(1, money_delegate)
    view.show()
    qtbot.waitExposed(view)
    assert not view.grab().isNull()
    option = QStyleOptionViewItem()
    index = model.index(0, 1)
    money_delegate.initStyleOption(option, index)
    assert option.text == "$1,234.56"
    assert option.displayAlignment & Qt.AlignmentFlag.AlignRight
    negative = QStyleOptionViewItem()
    money_delegate.initStyleOption(negative, model.index(1, 1))
    assert negative.text == "-$5.00"
    assert isinstance(QModelIndex(), QModelIndex)


def test_search_field_waits_for_a_pause(qtbot: QtBot) -> None:
    field = SearchField("Search invoices", delay_ms=50)
    qtbot.addWidget(field)
    received: list[str] = []
    field.searchRequested.connect(received.append)
    qtbot.keyClicks(field, "Contoso")
    assert received == []  # not one search per key press
    qtbot.waitUntil(lambda: received == ["Contoso"], timeout=2000)
    field.clear()
    assert received == ["Contoso", ""]  # clearing shows everything again at once
    qtbot.keyClicks(field, " 1042 ")
    qtbot.keyClick(field, Qt.Key.Key_Return)
    assert received[-1] == "1042"


def test_table_columns_are_remembered_per_profile(qtbot: QtBot, app_context: AppContext) -> None:
    def table() -> QTableView:
        model = QStandardItemModel(3, 4)
        model.setHorizontalHeaderLabels(["Invoice", "Organization", "Due", "Balance"])
        view = QTableView()
        qtbot.addWidget(view)
        view.setModel(model)
        view.setSortingEnabled(True)
        return view

    first = table()
    memory = remember_columns(first, app_context, "invoice_history")
    first.horizontalHeader().resizeSection(1, 333)
    first.horizontalHeader().moveSection(3, 0)
    first.sortByColumn(2, Qt.SortOrder.DescendingOrder)
    qtbot.waitUntil(lambda: (app_context.profile.folder / "window.ini").is_file(), timeout=3000)
    memory.save()

    second = table()
    remember_columns(second, app_context, "invoice_history")
    header = second.horizontalHeader()
    assert header.sectionSize(1) == 333
    assert header.logicalIndex(0) == 3
    assert header.sortIndicatorSection() == 2
    assert header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
    # Another table keeps its own layout.
    other = table()
    remember_columns(other, app_context, "payments")
    assert other.horizontalHeader().sectionSize(1) != 333


def test_a_notice_keeps_its_colours_when_it_is_named_later(qtbot: QtBot) -> None:
    """The keychain warning and the demo notice are named after they are made; they must
    still look like warnings, not like plain text."""
    from PySide6.QtGui import QColor

    from app.gui.wizard.notice import Notice

    notice = Notice("No secure system keychain is available.", Tone.WARNING)
    notice.setObjectName("keychainWarning")
    qtbot.addWidget(notice)
    notice.resize(400, 60)
    notice.show()
    qtbot.waitExposed(notice)
    image = notice.grab().toImage()
    inside = image.pixelColor(6, image.height() // 2)  # within the frame, beside the text
    assert inside.name() == QColor(TONE_COLOURS[Tone.WARNING][0]).name()
