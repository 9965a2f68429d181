"""The Settings area: the settings a bookkeeper or IT changes, one section at a time.

A list of sections on the left (:data:`app.gui.settings.sections.SECTIONS`), the chosen
section on the right, as in a desktop program's preferences. Each section's widget is made
the first time it is chosen and reads and writes its settings in the background. Settings
shared by every seat live in the database, and every change is audited
(:func:`app.core.config.set_setting`). Leaving a section, the area (for another area of
the window) or closing the window with unsaved changes asks first: Save, Discard or Cancel.
Leaving the area or closing waits for a Save to be stored (``SAVE_WAIT_MS`` at most); one
that fails keeps the bookkeeper in the section, told why.

Threads: GUI thread only; sections run their database work in workers.
"""

from __future__ import annotations

from PySide6.QtCore import (
    QCoreApplication,
    QDeadlineTimer,
    QEvent,
    QEventLoop,
    QObject,
    Qt,
    QThread,
    Slot,
)
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.gui.context import AppContext
from app.gui.settings.sections import SECTIONS, SettingsSection, UnsavedChanges
from app.gui.widgets.accessible import describe

__all__ = ["SAVE_WAIT_MS", "SettingsArea", "create_settings_area"]

#: How long leaving the area or closing the window waits for a Save to be stored.
SAVE_WAIT_MS = 10_000


def create_settings_area(context: AppContext) -> QWidget:
    return SettingsArea(context)


class SettingsArea(QWidget):
    """Sections on the left, the chosen one on the right. GUI thread."""

    def __init__(self, context: AppContext, parent: QWidget | None = None,
                 sections: tuple[SettingsSection, ...] = SECTIONS) -> None:
        super().__init__(parent)
        self.setObjectName("areaPage")
        self.context = context
        self.sections = sections
        self._widgets: dict[str, QWidget] = {}

        title = QLabel("Settings")
        title.setObjectName("areaTitle")
        subtitle = QLabel("Shared by every computer that uses this PayDesk database.")
        subtitle.setObjectName("areaSubtitle")
        subtitle.setWordWrap(True)

        self.section_list = QListWidget()
        self.section_list.setObjectName("settingsSections")
        describe(self.section_list, "Choose which settings to see and change",
                 name="Settings sections")
        for spec in sections:
            item = QListWidgetItem(spec.title)
            item.setData(Qt.ItemDataRole.UserRole, spec.key)
            self.section_list.addItem(item)
        self.section_list.setFixedWidth(210)

        left = QWidget()
        left.setObjectName("settingsSidebar")
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(20, 24, 12, 20)
        left_layout.setSpacing(6)
        left_layout.addWidget(title)
        left_layout.addWidget(subtitle)
        left_layout.addSpacing(10)
        left_layout.addWidget(self.section_list, 1)
        left.setFixedWidth(236)

        self.stack = QStackedWidget()
        self.stack.setObjectName("settingsStack")

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(left)
        layout.addWidget(self.stack, 1)

        self.section_list.currentRowChanged.connect(self._row_chosen)
        self._current = -1
        self._watched_window: QWidget | None = None
        #: Whether closing the window with unsaved settings asks first.
        self.ask_before_closing = True
        if sections:
            self.section_list.setCurrentRow(0)

    # --- choosing a section ------------------------------------------------------------------
    def show_section(self, key: str) -> QWidget:
        """Show the section ``key`` (asking about unsaved changes first) and return its widget."""
        for row, spec in enumerate(self.sections):
            if spec.key == key:
                self.section_list.setCurrentRow(row)
                return self.section_widget(key)
        raise KeyError(key)

    def section_widget(self, key: str) -> QWidget:
        """The section's widget, made on first use."""
        widget = self._widgets.get(key)
        if widget is None:
            spec = next(s for s in self.sections if s.key == key)
            widget = spec.create(self.context)
            widget.setAccessibleName(f"{spec.title} settings")
            self._widgets[key] = widget
            self.stack.addWidget(widget)
        return widget

    def current_key(self) -> str | None:
        row = self.section_list.currentRow()
        return self.sections[row].key if 0 <= row < len(self.sections) else None

    @Slot(int)
    def _row_chosen(self, row: int) -> None:
        if row == self._current or not 0 <= row < len(self.sections):
            return
        if 0 <= self._current < len(self.sections) and not self._may_leave(
                self.sections[self._current].key):
            self.section_list.blockSignals(True)
            self.section_list.setCurrentRow(self._current)
            self.section_list.blockSignals(False)
            return
        self._current = row
        self.stack.setCurrentWidget(self.section_widget(self.sections[row].key))

    def may_leave_area(self) -> bool:
        """The main window asks before showing another area: unsaved changes of any section
        are saved (waiting for the save), discarded, or keep the bookkeeper here (False)."""
        return self._may_leave_all()

    def _may_leave_all(self) -> bool:
        """Ask about each section with unsaved changes; a Save waits until it is stored
        (``SAVE_WAIT_MS`` at most) so nothing is lost when the window closes."""
        for key, widget in list(self._widgets.items()):
            unsaved = _unsaved_changes(widget)
            if unsaved is None or not unsaved.has_unsaved_changes():
                continue
            if not self._may_leave(key, wait=True):
                return False
        return True

    def _may_leave(self, key: str, *, wait: bool = False) -> bool:
        """Ask about unsaved changes of section ``key``; False keeps the bookkeeper there.
        With ``wait``, a Save is waited for (the window is about to close, or the area to
        change) and one that fails or takes too long keeps the bookkeeper here, told why."""
        widget = _unsaved_changes(self._widgets.get(key))
        if widget is None or not widget.has_unsaved_changes():
            return True
        title = next(s.title for s in self.sections if s.key == key)
        answer = QMessageBox.question(
            self, "Unsaved changes",
            f"The {title} settings have changes that are not saved yet.\n\n"
            "Save them now, or discard them?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        if answer == QMessageBox.StandardButton.Save:
            # The save runs in the background; a refused one (a field to correct) stays here.
            if widget.save() is False:
                self._show_section_of(key)
                return False
            return not wait or self._wait_for_save(key, widget)
        if answer == QMessageBox.StandardButton.Discard:
            widget.discard_changes()
            return True
        return False

    def _show_section_of(self, key: str) -> None:
        """Bring section ``key`` on screen (its message says what to correct)."""
        row = next(i for i, spec in enumerate(self.sections) if spec.key == key)
        self.section_list.blockSignals(True)
        self.section_list.setCurrentRow(row)
        self.section_list.blockSignals(False)
        self._current = row
        self.stack.setCurrentWidget(self.section_widget(key))

    def _wait_for_save(self, key: str, widget: UnsavedChanges) -> bool:
        """Wait (events keep flowing) until the save of section ``key`` is stored: True. A
        save that failed or is not done within ``SAVE_WAIT_MS``: the section is shown, its
        message says why, a dialog says so, and False."""
        deadline = QDeadlineTimer(SAVE_WAIT_MS)
        saving = getattr(widget, "is_saving", None)
        while widget.has_unsaved_changes() and not deadline.hasExpired():
            if callable(saving) and not saving():
                break  # finished without storing: it failed
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            QThread.msleep(10)
        if not widget.has_unsaved_changes():
            return True
        self._show_section_of(key)
        title = next(s.title for s in self.sections if s.key == key)
        still_saving = callable(saving) and bool(saving())
        QMessageBox.warning(
            self, "Settings not saved",
            f"The {title} settings could not be saved"
            + (" in time: the database is not answering." if still_saving else ".")
            + "\n\nPayDesk stays open with your changes on screen: the message below them "
            "says what went wrong. Try Save again, or Revert to keep what was stored.",
        )
        return False

    # --- closing the window with unsaved changes --------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        window = self.window()
        if window is not self and window is not self._watched_window:
            if self._watched_window is not None:
                self._watched_window.removeEventFilter(self)
            window.installEventFilter(self)
            self._watched_window = window

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Closing the window with unsaved settings asks first (Cancel keeps it open)."""
        if (watched is self._watched_window and event.type() == QEvent.Type.Close
                and self.ask_before_closing and self.has_unsaved_changes()
                and not self._may_leave_all()):
            event.ignore()
            return True
        return super().eventFilter(watched, event)

    def has_unsaved_changes(self) -> bool:
        return any((u := _unsaved_changes(w)) is not None and u.has_unsaved_changes()
                   for w in self._widgets.values())


def _unsaved_changes(widget: object) -> UnsavedChanges | None:
    """The widget as a section that can hold unsaved changes, or None."""
    return widget if isinstance(widget, UnsavedChanges) else None
