"""Columns that fit what they show, and that a person chooses — for every large table.

``ColumnFitter(view)`` sizes a table's columns from their content: each visible column
gets the width its title (bold; the sort arrow sits above it) and the rows on screen need
(pills included, through the column's delegate), and the width left over goes to the
columns that carry meaning — those declared ``Column(stretch=True)`` in a
``LazyTableModel`` (an organization's name), or the ``stretch`` sections given. When the
window is too narrow for everything, those columns give up width first, down to
``min_stretch`` pixels, and the table scrolls sideways only after that.

It fits again when the first rows of a new query arrive and when the table is resized,
until the person drags a column edge (``auto`` turns off; "Fit columns to their content"
in the header's menu turns it back on).

``ColumnFitter(view, menu=True)`` also gives the header a right-click menu to choose the
columns shown; columns declared ``Column(shown=False)`` start hidden. With
``remember=(context, key)`` the layout (widths, order, hidden columns) is kept per seat by
``app.gui.widgets.remembered`` and a remembered layout is restored instead of fitting.

Runs on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QFont, QFontMetrics
from PySide6.QtWidgets import QHeaderView, QMenu, QStyleOptionViewItem, QTableView

from app.gui.context import AppContext
from app.gui.widgets.remembered import ColumnMemory, gui_settings

__all__ = ["ColumnFitter", "pill_width"]

#: Padding on both sides of a cell's text, beyond what the delegate asks for.
CELL_PADDING = 10
#: A title's padding in the style sheet (8 px each side) and 4 px of air.
HEADER_PADDING = 20
#: The narrowest a column that carries meaning becomes before the table scrolls sideways.
MIN_STRETCH = 160


def pill_width(view: QTableView, texts: Iterable[str]) -> int:
    """The width a status column needs for the widest of ``texts`` drawn as a pill (bold, with
    its padding — as ``StatusPillDelegate`` and the invoice status pills draw them)."""
    font = QFont(view.font())
    font.setBold(True)
    metrics = QFontMetrics(font)
    return max((metrics.horizontalAdvance(text) for text in texts), default=0) + 20 + 16


class ColumnFitter(QObject):
    """Sizes ``view``'s columns from their content; see the module docstring."""

    def __init__(
        self,
        view: QTableView,
        *,
        stretch: Sequence[int] | None = None,
        menu: bool = False,
        remember: tuple[AppContext, str] | None = None,
        always_shown: Sequence[int] = (0,),
        min_stretch: int = MIN_STRETCH,
        min_widths: Mapping[int, int] | None = None,
    ) -> None:
        super().__init__(view)
        self.view = view
        self.header = view.horizontalHeader()
        self.min_stretch = min_stretch
        self.always_shown = tuple(always_shown)
        #: Widths a column never goes below, for what it can hold that may not be on screen
        #: (the widest status pill, e.g. "Partially paid"): see ``pill_width``.
        self.min_widths = dict(min_widths or {})
        self._stretch = list(stretch) if stretch is not None else None
        self._auto = True
        self._fitting = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._scheduled_fit)
        self.header.setStretchLastSection(False)
        self.header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self._hide_declared()
        self.memory: ColumnMemory | None = None
        self._auto_setting: tuple[AppContext, str] | None = None
        if remember is not None:
            context, key = remember
            self.memory = ColumnMemory(self.header, context, key)
            self._auto_setting = (context, f"{self.memory.settings_key}_fitted")
            # The widths a person set are kept; widths PayDesk fitted are fitted again (the
            # window, the data and the columns shown may differ from last time).
            settings = gui_settings(context)
            if self.memory.restored:
                fitted = settings.value(self._auto_setting[1], "false")
                self._auto = str(fitted).lower() == "true"
            settings.setValue(self._auto_setting[1], "true" if self._auto else "false")
            settings.sync()
        self.header.sectionResized.connect(self._on_section_resized)
        model = view.model()
        loaded = getattr(model, "loaded", None)
        if loaded is not None:
            loaded.connect(self.schedule)
        model.modelReset.connect(self.schedule)
        view.viewport().installEventFilter(self)
        self.fit_action = QAction("Fit columns to their content", self)
        self.fit_action.triggered.connect(self.fit_now)
        if menu:
            self.header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            self.header.customContextMenuRequested.connect(self.show_menu)

    @property
    def auto(self) -> bool:
        """Fit by itself (on new rows, on resize) until a person drags a column edge."""
        return self._auto

    @auto.setter
    def auto(self, value: bool) -> None:
        if value == self._auto:
            return
        self._auto = value
        if not value:
            self._timer.stop()  # a fit asked for before a person set a width must not undo it
        if self._auto_setting is not None:
            context, key = self._auto_setting
            settings = gui_settings(context)
            settings.setValue(key, "true" if value else "false")
            settings.sync()

    # --- which columns ----------------------------------------------------------------------
    def _declared(self) -> list[object]:
        columns = getattr(self.view.model(), "columns", None)
        return list(columns()) if callable(columns) else []

    def _hide_declared(self) -> None:
        for section, column in enumerate(self._declared()):
            if getattr(column, "shown", True) is False:
                self.header.setSectionHidden(section, True)

    def stretch_sections(self) -> list[int]:
        """The visible columns that take the spare width."""
        if self._stretch is not None:
            wanted = self._stretch
        else:
            wanted = [i for i, c in enumerate(self._declared()) if getattr(c, "stretch", False)]
        shown = [s for s in wanted if not self.header.isSectionHidden(s)]
        if not shown:
            # Nothing declared to take the spare width: the last column shown takes it, so
            # the table never ends in an empty band.
            visible = [self.header.logicalIndex(v) for v in range(self.header.count())]
            visible = [s for s in visible if not self.header.isSectionHidden(s)]
            shown = visible[-1:]
        return shown

    def set_stretch(self, sections: Sequence[int]) -> None:
        self._stretch = list(sections)
        self.schedule()

    # --- fitting ----------------------------------------------------------------------------
    @Slot()
    def schedule(self) -> None:
        if self.auto:
            self._timer.start()

    @Slot()
    def _scheduled_fit(self) -> None:
        if self.auto:
            self.fit()

    @Slot()
    def fit_now(self) -> None:
        """Fit again and keep fitting (the header menu's "Fit columns to their content")."""
        self.auto = True
        self.fit()
        if self.memory is not None:
            self.memory.save()

    def content_width(self, section: int) -> int:
        """What the title (bold, in the style sheet's padding; the sort arrow sits above
        it) and the rows on screen need."""
        title_font = QFont(self.header.font())
        title_font.setBold(True)
        metrics = QFontMetrics(title_font)
        model = self.view.model()
        title = str(model.headerData(section, Qt.Orientation.Horizontal) or "")
        title_width = max((metrics.horizontalAdvance(line) for line in title.split("\n")),
                          default=0) + HEADER_PADDING
        cells = self._cells_width(section)
        return max(title_width, cells + CELL_PADDING if cells > 0 else 0,
                   self.min_widths.get(section, 0), 40)

    #: Rows measured at most (those on screen; a screenful is rarely more).
    MAX_MEASURED_ROWS = 80

    def _cells_width(self, section: int) -> int:
        """The widest cell among the rows on screen whose data has arrived. (Not Qt's
        ``sizeHintForColumn``: it walks up to a thousand rows, and a lazy model would fetch
        every page of them.)"""
        model = self.view.model()
        rows = model.rowCount()
        if rows == 0:
            return 0
        top = max(self.view.rowAt(0), 0)
        bottom = self.view.rowAt(self.view.viewport().height() - 1)
        if bottom < 0:
            bottom = rows - 1
        bottom = min(bottom, top + self.MAX_MEASURED_ROWS - 1)
        cached = getattr(model, "cached_row", None)
        id_at = getattr(model, "id_at", None)
        delegate = self.view.itemDelegateForColumn(section) or self.view.itemDelegate()
        option = QStyleOptionViewItem()
        option.initFrom(self.view)
        option.font = self.view.font()
        option.decorationSize = self.view.iconSize()
        widest = 0
        for row in range(top, bottom + 1):
            if callable(cached) and callable(id_at) and cached(id_at(row)) is None:
                continue  # not fetched yet: measuring must not fetch it
            index = model.index(row, section)
            widest = max(widest, delegate.sizeHint(option, index).width())
        return widest

    @Slot()
    def fit(self) -> None:
        """Size every visible column from its content; spare width to the stretch columns."""
        model = self.view.model()
        if model is None or self.header.count() == 0:
            return
        sections = [s for s in range(self.header.count()) if not self.header.isSectionHidden(s)]
        widths = {s: self.content_width(s) for s in sections}
        stretch = [s for s in self.stretch_sections() if s in widths]
        available = self.view.viewport().width()
        scroll_bar = self.view.verticalScrollBar()
        if not scroll_bar.isVisible() and model.rowCount() * max(
            self.view.verticalHeader().defaultSectionSize(), 1
        ) > self.view.viewport().height():
            available -= scroll_bar.sizeHint().width()  # it is about to appear
        spare = available - sum(widths.values())
        if stretch:
            if spare >= 0:
                share, rest = divmod(spare, len(stretch))
                for index, section in enumerate(stretch):
                    widths[section] += share + (1 if index < rest else 0)
            else:
                # Too narrow: the stretch columns give up width first, down to a floor.
                for section in stretch:
                    floor = min(widths[section], self.min_stretch)
                    give = min(widths[section] - floor, -spare)
                    widths[section] -= give
                    spare += give
        self._fitting = True
        try:
            for section, width in widths.items():
                self.header.resizeSection(section, width)
        finally:
            self._fitting = False

    @Slot(int, int, int)
    def _on_section_resized(self, _section: int, old: int, new: int) -> None:
        if self._fitting or old == 0 or new == 0:
            return  # fitting, or a column shown or hidden
        self.auto = False  # a person dragged a column edge (or the screen set a width)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize and watched is self.view.viewport():
            self.schedule()
        return False

    # --- choosing columns -------------------------------------------------------------------
    def menu(self) -> QMenu:
        """The header's menu: a check box per column, then "Fit columns to their content"."""
        menu = QMenu(self.view)
        model = self.view.model()
        for section in range(self.header.count()):
            title = str(model.headerData(section, Qt.Orientation.Horizontal) or "")
            action = menu.addAction(title.replace("\n", " "))
            action.setCheckable(True)
            action.setChecked(not self.header.isSectionHidden(section))
            action.setEnabled(section not in self.always_shown)
            action.setData(section)
            action.toggled.connect(lambda on, s=section: self.set_shown(s, on))
        menu.addSeparator()
        menu.addAction(self.fit_action)
        return menu

    @Slot(QPoint)
    def show_menu(self, position: QPoint) -> None:
        self.menu().exec(self.header.viewport().mapToGlobal(position))

    def set_shown(self, section: int, shown: bool) -> None:
        """Show or hide one column (remembered with the layout), and fit again."""
        self.header.setSectionHidden(section, not shown)
        if shown and self.header.sectionSize(section) < 20:
            self.header.resizeSection(section, self.content_width(section))
        if self.auto:
            self.fit()
        if self.memory is not None:
            self.memory.save()

