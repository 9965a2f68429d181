"""Per-seat layout memory: window geometry and table column layouts.

Kept in ``window.ini`` in the profile folder (an INI file, never the Windows registry), so a
profile carries its layout with it and two profiles never mix theirs.

A table remembers its column widths, order, hidden columns and sort with one call::

    remember_columns(self.table, context, "invoice_history")

The layout is restored at once and saved (debounced) whenever the person changes it.
Runs on the GUI thread.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QObject, QSettings, QTimer, Slot
from PySide6.QtWidgets import QHeaderView, QTableView, QTreeView

from app.gui.context import AppContext

GUI_SETTINGS_FILENAME = "window.ini"


def gui_settings(context: AppContext) -> QSettings:
    """This seat's GUI settings for the profile, as an INI file in the profile folder —
    private to this user like every file of the profile (0600; Qt's safe writes keep the
    permissions of the file they replace)."""
    path = context.profile.folder / GUI_SETTINGS_FILENAME
    _private_file(path)
    return QSettings(str(path), QSettings.Format.IniFormat)


def _private_file(path: Path) -> None:
    if os.name != "posix":
        return
    try:
        descriptor = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(descriptor)
        path.chmod(0o600)
    except OSError:
        pass  # a profile folder that cannot be written: Qt keeps the settings in memory


class ColumnMemory(QObject):
    """Restores and saves one header's state under ``columns/<key>``."""

    SAVE_DELAY_MS = 400

    def __init__(self, header: QHeaderView, context: AppContext, key: str) -> None:
        super().__init__(header)
        self.header = header
        self.context = context
        self.settings_key = f"columns/{key}"
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(self.SAVE_DELAY_MS)
        self._timer.timeout.connect(self.save)
        #: Whether a layout the person left was put back (then nothing is fitted over it).
        self.restored = self.restore()
        header.sectionResized.connect(self._changed)
        header.sectionMoved.connect(self._changed)
        header.sortIndicatorChanged.connect(self._changed)
        header.sectionCountChanged.connect(self._changed)

    def restore(self) -> bool:
        state = gui_settings(self.context).value(self.settings_key)
        if isinstance(state, QByteArray) and not state.isEmpty():
            return bool(self.header.restoreState(state))
        return False

    @Slot()
    def save(self) -> None:
        self._timer.stop()
        settings = gui_settings(self.context)
        settings.setValue(self.settings_key, self.header.saveState())
        settings.sync()

    @Slot()
    def _changed(self) -> None:
        self._timer.start()


def remember_columns(
    view: QTableView | QTreeView, context: AppContext, key: str
) -> ColumnMemory:
    """Remember ``view``'s column layout under ``key`` (call after the model is set)."""
    header = view.horizontalHeader() if isinstance(view, QTableView) else view.header()
    return ColumnMemory(header, context, key)
