"""Status pills: a rounded label whose colour *and* text say the state.

``StatusPill`` is a label for forms and headers; ``StatusPillDelegate`` paints the same pill
inside a table cell (the cell's display text, in the tone the model gives for
``PILL_TONE_ROLE``). Colour is never the only signal: the words are always there, so the
pill reads the same to someone who does not see colour and on a black-and-white printout.

In the dark colour scheme a pill takes the dark counterparts of its colours
(``DARK_TONE_COLOURS``: the dark scheme's notice backgrounds and text colours, every pair
at least 4.5:1), through ``tone_colours``; they are looked up each time a pill is drawn or
styled, so a pill follows a change of scheme.
"""

from __future__ import annotations

import enum

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import (
    QLabel,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from app.core.invoice_state import InvoiceStatus
from app.gui.theme import DARK_SURFACES, DARK_TEXT, is_dark, set_themed_style

#: Model role whose value is a ``Tone`` (or its string value) for ``StatusPillDelegate``.
PILL_TONE_ROLE = int(Qt.ItemDataRole.UserRole) + 0x50


class Tone(enum.StrEnum):
    NEUTRAL = "neutral"
    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    DANGER = "danger"


#: (background, text) per tone; the same values as the style sheet's pill rules.
TONE_COLOURS: dict[Tone, tuple[str, str]] = {
    Tone.NEUTRAL: ("#EDEFF3", "#3B4352"),
    Tone.INFO: ("#E2ECFB", "#1D4F91"),
    Tone.SUCCESS: ("#DFF2E6", "#1D6B3B"),
    Tone.WARNING: ("#FCEFD6", "#85520A"),
    Tone.DANGER: ("#FBE3E3", "#A02727"),
}

#: (background, text) per tone in the dark scheme: the counterparts ``app.gui.theme`` gives
#: the same colours everywhere else (a notice and a pill of one tone look alike).
DARK_TONE_COLOURS: dict[Tone, tuple[str, str]] = {
    tone: (DARK_SURFACES[background], DARK_TEXT[text])
    for tone, (background, text) in TONE_COLOURS.items()
}


def tone_colours(tone: Tone, dark: bool | None = None) -> tuple[str, str]:
    """(background, text) of a pill of ``tone`` in the scheme in use (or in ``dark``)."""
    if dark is None:
        dark = is_dark()
    return (DARK_TONE_COLOURS if dark else TONE_COLOURS)[Tone(tone)]


_INVOICE_TONES = {
    InvoiceStatus.OPEN: Tone.INFO,
    InvoiceStatus.PARTIALLY_PAID: Tone.WARNING,
    InvoiceStatus.PAID: Tone.SUCCESS,
    InvoiceStatus.OVERDUE: Tone.DANGER,
    InvoiceStatus.VOID: Tone.NEUTRAL,
    InvoiceStatus.CREDIT: Tone.INFO,
}


def invoice_status_tone(status: InvoiceStatus) -> Tone:
    """The tone every screen uses for an invoice status."""
    return _INVOICE_TONES[status]


class StatusPill(QLabel):
    """A pill-shaped label. ``set_status("Paid", Tone.SUCCESS)``."""

    def __init__(
        self, text: str = "", tone: Tone = Tone.NEUTRAL, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("statusPill")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._tone = Tone.NEUTRAL
        self.set_status(text, tone)

    @property
    def tone(self) -> Tone:
        return self._tone

    def set_status(self, text: str, tone: Tone) -> None:
        self._tone = Tone(tone)
        self.setText(text)
        self.setAccessibleName(text)
        background, foreground = TONE_COLOURS[self._tone]
        # Inline style so the pill looks right with or without the application style sheet;
        # themed, so it has its dark colours in the dark scheme.
        set_themed_style(self,
            f"QLabel#statusPill {{ background: {background}; color: {foreground};"
            " border-radius: 9px; padding: 2px 10px; font-weight: 600; }"
        )


class StatusPillDelegate(QStyledItemDelegate):
    """Paints a table cell's text as a status pill in the tone from ``PILL_TONE_ROLE``."""

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        # Draw the selection/hover background as usual, without the text.
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        widget = opt.widget
        style = widget.style() if widget is not None else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        if not text:
            return
        raw_tone = index.data(PILL_TONE_ROLE)
        try:
            tone = Tone(raw_tone) if raw_tone is not None else Tone.NEUTRAL
        except ValueError:
            tone = Tone.NEUTRAL
        background, foreground = tone_colours(tone)
        font = opt.font
        font.setBold(True)
        metrics = QFontMetrics(font)
        rect = opt.rect
        height = min(rect.height() - 6, metrics.height() + 4)
        width = min(rect.width() - 8, metrics.horizontalAdvance(text) + 20)
        pill = QRectF(rect.left() + 6, rect.center().y() - height / 2 + 1, width, height)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(background))
        painter.drawRoundedRect(pill, height / 2, height / 2)
        painter.setPen(QColor(foreground))
        painter.setFont(font)
        elided = metrics.elidedText(text, Qt.TextElideMode.ElideRight, int(width) - 16)
        painter.drawText(pill, int(Qt.AlignmentFlag.AlignCenter), elided)
        painter.restore()

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        hint = super().sizeHint(option, index)
        # The pill is drawn in bold, 6 px in, with 10 px of padding each side: measure it so,
        # so a column fitted to its cells never cuts a pill ("Partially refunded").
        font = QFont(option.font)
        font.setBold(True)
        text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        pill = QFontMetrics(font).horizontalAdvance(text) + 20 + 6 + 6 if text else 0
        return QSize(max(hint.width() + 28, pill), max(hint.height(), 26))
