"""Light and dark: PayDesk follows the system's colour scheme.

The style sheet (``resources/style.qss``) and the few colours screens set on single widgets
are written for the light scheme. In the dark scheme the application gets a dark palette
(Qt's Fusion style draws everything else from it) and every colour of those style sheets is
swapped for its dark counterpart: text colours (``color``, ``selection-color``) from
``DARK_TEXT``, everything else (backgrounds, borders, lines) from ``DARK_SURFACES`` — the
same light value can be a text colour in one rule and a surface in another (white text on
the blue button; white page). A colour neither table knows stays as it is;
``tests/gui/test_theme.py`` fails when the style sheet uses one.

When the system switches scheme while PayDesk is open, ``apply_theme`` runs again: it swaps
the palette and the application's style sheet, gives every widget styled through
``set_themed_style`` its style in the new scheme (the light style is kept on the widget as
the ``paydeskLightStyle`` property), and calls ``on_theme_changed(dark)`` on every widget,
and every table's or list's model, that has one, for what keeps colours of its own (text
brushes, pictures of pills, rich text with colours). Only live widgets are visited, so
nothing already closed is touched.

Everything here runs on the GUI thread.
"""

from __future__ import annotations

import re

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QAbstractItemView, QApplication, QWidget

__all__ = [
    "DARK_SURFACES",
    "DARK_TEXT",
    "apply_theme",
    "dark_palette",
    "is_dark",
    "readable_text",
    "set_themed_style",
    "themed",
]

#: The property that keeps a widget's own style sheet as written for the light scheme.
LIGHT_STYLE_PROPERTY = "paydeskLightStyle"

#: Text colours of the light scheme -> the dark scheme.
DARK_TEXT: dict[str, str] = {
    "#1B2430": "#E6E9EE",  # ink
    "#2B3442": "#D5DAE1",
    "#3B4352": "#C5CBD4",  # table headings, neutral pill text
    "#4A5465": "#A7B0BD",  # secondary text
    "#5B6472": "#A7B0BD",
    "#9AA3B0": "#6B7482",  # disabled
    "#0F1B2D": "#F1F3F6",  # selected text
    "#17428F": "#A9C4F7",  # selected navigation, tabs
    "#1D4F91": "#A9C4F7",
    "#FFFFFF": "#FFFFFF",  # on the blue and red buttons
    "#F4F7FD": "#C9D3E6",
    "#A02727": "#F29A9A",  # errors
    "#1D6B3B": "#86D6A2",  # success
    "#85520A": "#EBC070",  # warnings
    "#4A5568": "#A7B0BD",
    "#5D6778": "#A7B0BD",  # the Settings area's "last changed" line
    "#B3261E": "#F29A9A",  # the Settings area's "not saved" messages
    "#1E7B34": "#86D6A2",  # the Settings area's "saved" messages
    "#E7EAEF": "#333941",  # a separator line (a frame's line takes ``color``)
}

#: Backgrounds, borders and lines of the light scheme -> the dark scheme.
DARK_SURFACES: dict[str, str] = {
    "#FFFFFF": "#1F2329",  # page, inputs, tables
    "#F2F4F7": "#181B20",  # sidebar, status bar
    "#F7F8FA": "#23272E",
    "#FAFBFC": "#1B1E23",  # the Settings area's section list
    "#F8F9FB": "#23272E",  # alternate rows
    "#F4F6F9": "#262B32",  # table headings
    "#F4F5F7": "#262A30",  # disabled
    "#F3F5F8": "#2A2F37",  # button hover
    "#E6EAF0": "#343A43",  # button pressed
    "#E4E8EE": "#2C323A",  # navigation hover
    "#EDEFF3": "#2E333B",  # grid lines
    "#E7EAEF": "#333941",
    "#E0E3E8": "#333941",
    "#DDE1E7": "#3A414B",  # lines
    "#C7CDD6": "#4A525E",  # input borders
    "#DCE6F9": "#27467A",  # selection
    "#BFD3F6": "#2F5597",
    "#3B6FD8": "#6B97F0",  # focus ring
    "#2457C5": "#2F64D6",  # accent
    "#1E4AA8": "#3A70E0",
    "#0F2F73": "#A9C4F7",
    "#A9BDE6": "#34486E",  # disabled accent
    "#1B2430": "#3A414B",  # tool tips
    "#A02727": "#B23A3A",  # the red Refund button
    "#E3B3B3": "#5A3434",
    "#DFF2E6": "#1E3A28",  # success notice
    "#FBE3E3": "#452224",  # danger notice
    "#FCEFD6": "#443419",  # warning notice
    "#E2ECFB": "#1E3357",  # info notice
    "#FFF4E5": "#443419",
    "#FDECEC": "#452224",
    "#C9CED6": "#4A525E",  # notice borders
    "#9DB8E6": "#34507F",
    "#8CCBA3": "#2F6B44",
    "#E5B45A": "#7A5A1E",
    "#E9C98A": "#6B5224",
    "#E08A8A": "#7A3434",
    "#C0392B": "#E06C5F",  # a wrong amount's border
}

_HEX = re.compile(r"#[0-9A-Fa-f]{6}\b")
_DECLARATION = re.compile(r"(?P<property>[A-Za-z-]+)\s*:\s*(?P<value>[^;{}]*)")
_BLOCK = re.compile(r"\{[^{}]*\}")
_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_TEXT_PROPERTIES = frozenset({"color", "selection-color"})


def is_dark(app: QGuiApplication | None = None) -> bool:
    """True when the system (or ``QStyleHints.setColorScheme``) asks for the dark scheme."""
    app = app or QGuiApplication.instance()  # type: ignore[assignment]
    if app is None:
        return False
    chosen = app.property("paydeskDark")
    if chosen is not None:
        return bool(chosen)
    return app.styleHints().colorScheme() == Qt.ColorScheme.Dark


def themed(css: str, dark: bool) -> str:
    """``css`` (written for the light scheme) with its colours for ``dark``."""
    if not dark:
        return css

    def declaration(match: re.Match[str]) -> str:
        table = DARK_TEXT if match["property"].lower() in _TEXT_PROPERTIES else DARK_SURFACES
        value = _HEX.sub(lambda hex_match: table.get(hex_match[0].upper(), hex_match[0]),
                         match["value"])
        return f"{match['property']}: {value}"

    def block(match: re.Match[str]) -> str:
        return _DECLARATION.sub(declaration, match[0])

    if "{" not in css:  # a widget's own declarations, without selectors
        return _DECLARATION.sub(declaration, css)
    return _BLOCK.sub(block, _COMMENT.sub("", css))


def readable_text(colour: QColor) -> QColor:
    """A text colour of the light scheme, light enough to read on the dark scheme's
    backgrounds when that is in use (same hue); unchanged in the light scheme."""
    if not is_dark():
        return colour
    known = DARK_TEXT.get(colour.name().upper())
    if known is not None:
        return QColor(known)
    return QColor.fromHsl(max(colour.hslHue(), 0), colour.hslSaturation(),
                          max(colour.lightness(), 175), colour.alpha())


def set_themed_style(widget: QWidget, css: str) -> None:
    """``widget.setStyleSheet(css)`` in the scheme the application uses now — and again in
    the other scheme when the system switches (``apply_theme``)."""
    widget.setProperty(LIGHT_STYLE_PROPERTY, css)
    widget.setStyleSheet(themed(css, is_dark()))


def dark_palette() -> QPalette:
    """Fusion's colours for the dark scheme, in PayDesk's dark tones. ``Base`` is lighter
    than the window so check boxes and radio buttons (drawn in it, outlined in a darker
    window colour) stand out; the style sheet gives fields and tables their own colour."""
    palette = QPalette()
    roles = QPalette.ColorRole
    colours = {
        roles.Window: "#1F2329", roles.WindowText: "#E6E9EE", roles.Base: "#303641",
        roles.AlternateBase: "#23272E", roles.ToolTipBase: "#3A414B",
        roles.ToolTipText: "#FFFFFF", roles.PlaceholderText: "#7D8693", roles.Text: "#E6E9EE",
        roles.Button: "#2A2F37", roles.ButtonText: "#E6E9EE", roles.BrightText: "#FFFFFF",
        roles.Light: "#3A414B", roles.Midlight: "#30363F", roles.Mid: "#262A30",
        roles.Dark: "#121417", roles.Shadow: "#000000", roles.Highlight: "#2F64D6",
        roles.HighlightedText: "#FFFFFF", roles.Link: "#8FB2F5", roles.LinkVisited: "#B79CF0",
    }
    for role, colour in colours.items():
        palette.setColor(role, QColor(colour))
    disabled = QPalette.ColorGroup.Disabled
    for role in (roles.WindowText, roles.Text, roles.ButtonText):
        palette.setColor(disabled, role, QColor("#6B7482"))
    return palette


def apply_theme(app: QApplication, style_sheet: str, dark: bool | None = None) -> bool:
    """Give ``app`` the palette and style sheet of the system's scheme now (or of ``dark``,
    for pictures of a scheme this computer does not use); returns whether it is dark."""
    if dark is None:
        dark = app.styleHints().colorScheme() == Qt.ColorScheme.Dark
    app.setProperty("paydeskDark", dark)
    # Light: the platform's own palette again (what PayDesk always used).
    app.setPalette(dark_palette() if dark else QPalette())
    app.setStyleSheet(themed(style_sheet, dark))
    # Widgets with colours of their own (a banner, a pill, a notice) take the new scheme's.
    for widget in app.allWidgets():
        light = widget.property(LIGHT_STYLE_PROPERTY)
        if isinstance(light, str):
            widget.setStyleSheet(themed(light, dark))
    # Widgets and models that keep colours of their own draw them again (each once).
    keepers: dict[int, object] = {}
    for widget in app.allWidgets():
        keepers.setdefault(id(widget), widget)
        if isinstance(widget, QAbstractItemView) and widget.model() is not None:
            keepers.setdefault(id(widget.model()), widget.model())
    for keeper in keepers.values():
        hook = getattr(keeper, "on_theme_changed", None)
        if callable(hook):
            hook(dark)
    return dark
