"""``MoneyDelegate``: amounts in tables, right-aligned and formatted in the user's locale.

The model may return a ``Money`` for ``DisplayRole`` (the delegate formats it with babel in
the given locale) or already formatted text. Amounts line up on the right edge so a column of
figures reads like a ledger; negative amounts (credits, refunds) are drawn in a darker red
as well as carrying their minus sign.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QLocale, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem, QWidget

from app.core.money import Money

NEGATIVE_COLOUR = "#A02727"


class MoneyDelegate(QStyledItemDelegate):
    def __init__(self, locale: str = "en_US", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.locale = locale

    def displayText(self, value: Any, locale: QLocale | QLocale.Language) -> str:
        if isinstance(value, Money):
            return value.format(self.locale)
        return str(super().displayText(value, locale))

    def initStyleOption(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        super().initStyleOption(option, index)
        option.displayAlignment = (
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        )
        value = index.data(Qt.ItemDataRole.DisplayRole)
        if isinstance(value, Money) and value.minor < 0:
            option.palette.setColor(
                QPalette.ColorRole.Text, QColor(NEGATIVE_COLOUR)
            )
