"""Guards against Qt-binding defects that would crash PayDesk in a bookkeeper's hands.

PySide6 6.12.0 loses a reference to ``None`` on each call made inside a Python item
delegate's ``paint()``; after a few hundred repaints of a table (scrolling Payment Search or
Invoice History) the interpreter aborts. pyproject caps PySide6 below it; this test fails if
a release with the defect is installed again.
"""

from __future__ import annotations

import sys

from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QTableView
from pytestqt.qtbot import QtBot

from app.gui.widgets.pill import PILL_TONE_ROLE, StatusPillDelegate, Tone


def test_repainting_status_pills_does_not_leak_none(qtbot: QtBot) -> None:
    model = QStandardItemModel(40, 2)
    for row in range(40):
        for column in range(2):
            item = QStandardItem("Overdue" if column else f"INV-{row}")
            item.setData(Tone.DANGER.value if column else None, PILL_TONE_ROLE)
            model.setItem(row, column, item)
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.setItemDelegateForColumn(1, StatusPillDelegate(view))
    view.resize(400, 700)
    view.show()
    view.viewport().grab()

    before = sys.getrefcount(None)
    for _ in range(30):
        view.viewport().grab()
    lost_per_repaint = (before - sys.getrefcount(None)) / 30
    # A healthy binding loses none; the broken one loses one per delegate call (> 100 here).
    assert lost_per_repaint < 5
