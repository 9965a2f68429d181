"""The dark colour scheme and 200 % scaling: the style sheet has a dark counterpart for every
colour, the screenshot command renders the screens dark (``--dark``) and at twice the pixels
(``--scale 2``, in a subprocess: the scale must be set before Qt starts)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QImage, QPalette
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.gui import screenshots
from app.gui.resources import resource_path, style_sheet
from app.gui.theme import DARK_SURFACES, DARK_TEXT, apply_theme, themed

_HEX = re.compile(r"#[0-9A-Fa-f]{6}\b")


@pytest.fixture
def light_again(qtbot: QtBot) -> Iterator[None]:
    """Put the application back in the light scheme for the tests that follow."""
    yield
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    app.setProperty("paydeskDark", None)
    apply_theme(app, style_sheet(), dark=False)


def _lightness(image: QImage, x: int, y: int) -> int:
    return QColor(image.pixel(x, y)).lightness()


def test_every_colour_of_the_style_sheet_has_a_dark_counterpart() -> None:
    css = resource_path("style.qss").read_text(encoding="utf-8")
    light = {h.upper() for h in _HEX.findall(css)}
    dark = themed(css, dark=True)
    unknown = {h for h in light if h not in DARK_TEXT and h not in DARK_SURFACES}
    assert not unknown, f"colours without a dark counterpart: {sorted(unknown)}"
    # The rules are the same rules: only colours changed, selectors kept (":hover" …).
    assert re.findall(r"[^{}]+\{", _strip(css)) == re.findall(r"[^{}]+\{", _strip(dark))
    # A page is dark, its text light; white text on the blue button stays white.
    assert "background: #1F2329" in dark and "color: #E6E9EE" in dark
    assert "QPushButton#primaryButton {\n    background: #2F64D6;\n    color: #FFFFFF;" in dark
    # A widget's own declarations (no selector) are themed the same way.
    assert themed("color: #A02727;", dark=True) == "color: #F29A9A;"
    assert themed("color: #A02727;", dark=False) == "color: #A02727;"


def _strip(css: str) -> str:
    return re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)


def test_the_dark_scheme_gives_the_application_dark_colours(
    qtbot: QtBot, light_again: None
) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    assert apply_theme(app, style_sheet(), dark=True) is True
    assert app.palette().color(QPalette.ColorRole.Window).lightness() < 60
    assert app.palette().color(QPalette.ColorRole.WindowText).lightness() > 200


def test_the_screenshot_command_renders_the_main_screens_dark(
    qtbot: QtBot, tmp_path: Path, light_again: None
) -> None:
    report = screenshots.render_screens(tmp_path, only="main-window-invoices", dark=True)
    assert report.failed == {}
    [written] = report.written
    assert written.name == "main-window-invoices-dark.png"
    image = QImage(str(written))
    # The page, the sidebar and the table are dark; the text on them is light.
    assert _lightness(image, 640, 760) < 60  # below the table
    assert _lightness(image, 100, 500) < 60  # the sidebar
    text = [_lightness(image, x, y) for x in range(24, 200, 2) for y in range(40, 64)]
    assert max(text) > 200  # "PayDesk" in the sidebar's title


@pytest.mark.skipif(sys.platform == "win32", reason="one run is enough; offscreen on POSIX")
def test_the_screenshot_command_renders_at_200_percent(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    env.pop("QT_SCALE_FACTOR", None)
    result = subprocess.run(
        [sys.executable, "-m", "app.gui.screenshots", str(tmp_path), "--scale", "2",
         "--only", "main-window-invoices"],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    image = QImage(str(tmp_path / "main-window-invoices@2x.png"))
    width, height = screenshots.DEFAULT_SIZE
    assert (image.width(), image.height()) == (2 * width, 2 * height)


def _relative_luminance(colour: QColor) -> float:
    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    return (0.2126 * channel(colour.redF()) + 0.7152 * channel(colour.greenF())
            + 0.0722 * channel(colour.blueF()))


def _contrast(first: str, second: str) -> float:
    a, b = sorted((_relative_luminance(QColor(first)), _relative_luminance(QColor(second))),
                  reverse=True)
    return (a + 0.05) / (b + 0.05)


def test_status_pills_take_dark_colours_that_read_in_the_dark_scheme(
    qtbot: QtBot, light_again: None
) -> None:
    from app.core.invoice_state import InvoiceStatus
    from app.gui.invoices.status_delegate import status_pill_pixmap
    from app.gui.widgets.pill import DARK_TONE_COLOURS, TONE_COLOURS, StatusPill, Tone

    for tone in Tone:
        background, text = DARK_TONE_COLOURS[tone]
        # Words readable on the pill (WCAG AA for normal text) in both schemes; a dark pill
        # on the dark page, a light one on the light page.
        assert _contrast(background, text) >= 4.5, tone
        assert _contrast(*TONE_COLOURS[tone]) >= 4.5, tone
        assert QColor(background).lightness() < 80, tone
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    apply_theme(app, style_sheet(), dark=True)
    pill = StatusPill("Partially paid", Tone.WARNING)
    qtbot.addWidget(pill)
    pill.show()
    image = pill.grab().toImage()
    middle = QColor(image.pixel(4, image.height() // 2))
    assert middle.lightness() < 80  # the pill's own background, dark
    drawn = status_pill_pixmap(InvoiceStatus.OVERDUE).toImage()
    assert QColor(drawn.pixel(drawn.width() // 2, 2)).name().upper() == (
        DARK_TONE_COLOURS[Tone.DANGER][0])
    apply_theme(app, style_sheet(), dark=False)
    light = status_pill_pixmap(InvoiceStatus.OVERDUE).toImage()
    assert QColor(light.pixel(light.width() // 2, 2)).name().upper() == (
        TONE_COLOURS[Tone.DANGER][0])


def test_switching_the_system_scheme_recolours_what_is_already_open(
    qtbot: QtBot, set_up_context: object, light_again: None
) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QLabel

    from app.core.invoice_state import InvoiceStatus
    from app.core.queries.fixtures import build_ledger
    from app.gui.app import create_application
    from app.gui.context import AppContext
    from app.gui.invoices.history import InvoiceHistoryView
    from app.gui.theme import set_themed_style
    from app.gui.widgets.pill import DARK_TONE_COLOURS, TONE_COLOURS, StatusPill, Tone
    from tests.gui.test_invoice_history import settle

    assert isinstance(set_up_context, AppContext)
    build_ledger(set_up_context.engine, organizations=3, invoices=30)
    app = create_application()  # listens to the system's colour scheme
    apply_theme(app, style_sheet(), dark=False)
    banner = QLabel("Setup is not finished.")
    set_themed_style(banner, "background: #FCEFD6; color: #85520A;")
    pill = StatusPill("Declined", Tone.DANGER)
    history = InvoiceHistoryView(set_up_context)
    from app.gui.invoices.page import InvoicePage

    page = InvoicePage(set_up_context)
    for widget in (banner, pill, history, page):
        qtbot.addWidget(widget)
        widget.show()
    settle(qtbot)
    with qtbot.waitSignal(page.invoiceShown, timeout=10_000):
        page.show_invoice(int(history.model.id_at(0)))
    assert "#1D4F91" in page.organization_link.text().upper()  # the link, light scheme
    model = history.model
    overdue = model._pills[InvoiceStatus.OVERDUE.value]

    def pill_background() -> str:
        image = model._pills[InvoiceStatus.OVERDUE.value].toImage()
        return QColor(image.pixel(image.width() // 2, 2)).name().upper()

    assert pill_background() == TONE_COLOURS[Tone.DANGER][0]
    repainted: list[int] = []
    model.dataChanged.connect(lambda first, _last: repainted.append(first.row()))

    app.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Dark)  # what the system does
    assert banner.styleSheet() == "background: #443419; color: #EBC070;"
    assert DARK_TONE_COLOURS[Tone.DANGER][0] in pill.styleSheet()
    assert pill_background() == DARK_TONE_COLOURS[Tone.DANGER][0]
    assert model._pills[InvoiceStatus.OVERDUE.value] is not overdue
    assert repainted == [0]  # every row painted again, from the first
    assert "#A9C4F7" in page.organization_link.text().upper()  # rich text, drawn again

    app.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Light)
    assert banner.styleSheet() == "background: #FCEFD6; color: #85520A;"
    assert TONE_COLOURS[Tone.DANGER][0] in pill.styleSheet()
    assert pill_background() == TONE_COLOURS[Tone.DANGER][0]
