"""Invoice status pills for table cells, drawn once per status as pixmaps.

The model hands the pill as the cell's ``DecorationRole`` (and the words as its accessible
text and tooltip), so Qt's own C++ delegate paints it. No Python delegate is involved: with
PySide6 6.12 on Python 3.11, Python code running inside a Qt virtual call (a delegate's
``paint``) loses references to ``None`` and the interpreter aborts after enough repaints.
The pill carries its words, so it reads the same without colour. GUI thread only.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QGuiApplication, QPainter, QPixmap

from app.core.invoice_state import InvoiceStatus
from app.gui.widgets import invoice_status_tone
from app.gui.widgets.pill import tone_colours

PILL_HEIGHT = 20


def status_pill_pixmap(status: InvoiceStatus) -> QPixmap:
    """The pill for ``status`` at the screen's pixel ratio. Callers keep the pixmaps (the
    model does, per status): a module-level cache would outlive the QApplication, and
    pixmaps destroyed after it abort the interpreter at exit."""
    font = QFont(QGuiApplication.font())
    font.setBold(True)
    metrics = QFontMetrics(font)
    text = status.label
    width = metrics.horizontalAdvance(text) + 20
    screen = QGuiApplication.primaryScreen()
    ratio = screen.devicePixelRatio() if screen is not None else 1.0
    pixmap = QPixmap(int(width * ratio), int(PILL_HEIGHT * ratio))
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(Qt.GlobalColor.transparent)
    background, foreground = tone_colours(invoice_status_tone(status))
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(background))
    rect = QRectF(0, 0, width, PILL_HEIGHT)
    painter.drawRoundedRect(rect, PILL_HEIGHT / 2, PILL_HEIGHT / 2)
    painter.setPen(QColor(foreground))
    painter.setFont(font)
    painter.drawText(rect, int(Qt.AlignmentFlag.AlignCenter), text)
    painter.end()
    return pixmap
