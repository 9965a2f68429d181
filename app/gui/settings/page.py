"""The frame every PayDesk settings section is drawn in: a heading, what the section is for,
who changed it last and when, the section's fields in a card, a message line, and Save /
Revert at the bottom.

A section subclasses :class:`SettingsPage` and supplies four small pieces:

* ``load(engine, credentials)`` — runs on a pool thread; reads what the fields show and
  returns plain, comparable data (a frozen dataclass);
* ``show_value(value)`` — GUI thread; puts that data into the fields;
* ``edited_value()`` — GUI thread; the data as the fields say now, or raises
  :class:`InvalidSetting` with a sentence for the bookkeeper;
* ``store(engine, value, actor)`` — runs on a pool thread; saves (the core validates again
  and audits through :func:`app.core.config.set_setting`).

The page compares the edited data with the loaded data to know whether there are unsaved
changes (``dirtyChanged``); the Settings area asks before leaving a section with changes.
Read-only sections set ``editable = False`` and have no Save / Revert.

Threads: everything here runs on the GUI thread except ``load`` and ``store``, which
``run_task`` runs on the worker pool. No database access on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import Engine

from app.core.config import SettingChange, current_actor, last_setting_change
from app.core.credentials import CredentialStore
from app.gui.context import AppContext
from app.gui.theme import set_themed_style
from app.gui.workers import WorkerFailure, run_task

__all__ = ["FieldRows", "InvalidSetting", "SettingsPage", "describe_change"]

_ERROR_STYLE = "color: #B3261E;"
_OK_STYLE = "color: #1E7B34;"


class InvalidSetting(ValueError):
    """What the bookkeeper typed cannot be saved; the message says what to change."""


@dataclass(frozen=True)
class _Loaded:
    value: Any
    change: SettingChange | None


def describe_change(change: SettingChange | None, locale: str = "en_US") -> str:
    """"Last changed on 5 Dec 2026 at 14:02 by jane@OFFICE-PC." (local time)."""
    if change is None:
        return "Not changed yet: PayDesk's defaults are in use."
    from babel.dates import format_datetime

    when = format_datetime(change.changed_at.astimezone(), "d MMM y 'at' HH:mm", locale=locale)
    return f"Last changed on {when} by {change.changed_by}."


class FieldRows(QGridLayout):
    """Label on the left (right-aligned, at the top), field on the right. A grid rather than
    a QFormLayout, which leaves gaps around word-wrapped notes."""

    def __init__(self) -> None:
        super().__init__()
        self.setHorizontalSpacing(24)
        self.setVerticalSpacing(10)
        self.setColumnStretch(1, 1)

    def addRow(self, label: QLabel | str, field: QWidget | QLayout) -> None:
        row = self.rowCount()
        if isinstance(label, str):
            label = QLabel(label)
            label.setObjectName("fieldLabel")
        top_right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop
        self.addWidget(label, row, 0, top_right)
        if isinstance(field, QLayout):
            self.addLayout(field, row, 1)
        else:
            self.addWidget(field, row, 1)


class SettingsPage(QWidget):
    """A settings section: heading, last change, fields, Save / Revert. GUI thread."""

    #: True while the fields differ from what is stored.
    dirtyChanged = Signal(bool)
    #: Emitted on the GUI thread after a save was stored (and the page reloaded).
    saved = Signal()
    #: Emitted after each load finished (tests wait for it).
    loaded = Signal()

    #: The shared settings this section edits: their latest change is shown under the heading.
    setting_keys: Sequence[str] = ()
    editable = True

    def __init__(self, context: AppContext, title: str, description: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self._stored: Any = None
        self._has_stored = False
        self._busy = False
        self._dirty = False

        heading = QLabel(title)
        heading.setObjectName("settingsSectionTitle")
        about = QLabel(description)
        about.setObjectName("secondaryText")
        about.setWordWrap(True)
        self.change_label = QLabel("")
        self.change_label.setObjectName("settingsLastChange")
        self.change_label.setVisible(bool(self.setting_keys))

        #: Sections add their rows here (a vertical layout inside a card).
        self.card = QFrame()
        self.card.setObjectName("card")
        self.body = QVBoxLayout(self.card)
        self.body.setContentsMargins(20, 16, 20, 16)
        self.body.setSpacing(12)

        self.message = QLabel("")
        self.message.setObjectName("settingsMessage")
        self.message.setWordWrap(True)
        self.message.setVisible(False)

        self.revert_button = QPushButton("Revert")
        self.revert_button.setObjectName("settingsRevert")
        self.revert_button.setToolTip("Put back what is stored, forgetting your changes.")
        self.revert_button.clicked.connect(self.revert)
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("settingsSave")
        self.save_button.setProperty("class", "primary")
        self.save_button.clicked.connect(self.save)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.revert_button)
        buttons.addWidget(self.save_button)
        self.save_button.setVisible(self.editable)
        self.revert_button.setVisible(self.editable)

        inner = QWidget()
        inner.setObjectName("areaPage")
        column = QVBoxLayout(inner)
        column.setContentsMargins(28, 24, 28, 24)
        column.setSpacing(6)
        column.addWidget(heading)
        column.addWidget(about)
        column.addWidget(self.change_label)
        column.addSpacing(10)
        column.addWidget(self.card)
        column.addSpacing(6)
        column.addWidget(self.message)
        column.addLayout(buttons)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(inner)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self._update_buttons()

    # --- what a section supplies -----------------------------------------------------------
    def load(self, engine: Engine, credentials: CredentialStore) -> Any:  # pool thread
        raise NotImplementedError

    def show_value(self, value: Any) -> None:
        raise NotImplementedError

    def edited_value(self) -> Any:
        raise NotImplementedError

    def store(self, engine: Engine, value: Any, actor: str) -> None:  # pool thread
        raise NotImplementedError

    # --- the frame's work --------------------------------------------------------------------
    def _load_with_change(self, engine: Engine, credentials: CredentialStore) -> _Loaded:
        """Runs on a pool thread."""
        value = self.load(engine, credentials)
        change = last_setting_change(engine, self.setting_keys) if self.setting_keys else None
        return _Loaded(value, change)

    @Slot()
    def reload(self) -> None:
        """Read the stored values again (in the background) and show them."""
        self._busy = True
        self._update_buttons()
        run_task(f"read the {self.section_name()} settings", self._load_with_change,
                 self.context.engine, self.context.credentials,
                 on_success=self._show_loaded, on_failure=self._load_failed, parent=self)

    def section_name(self) -> str:
        return self.objectName().removesuffix("Section").lower() or "PayDesk"

    def _show_loaded(self, loaded: _Loaded) -> None:
        self._busy = False
        self._stored = loaded.value
        self._has_stored = True
        self.change_label.setText(describe_change(loaded.change, self.context.locale))
        if self.message.property("kind") == "error":
            self.show_message("")  # it was about fields that now show what is stored
        self.show_value(loaded.value)
        self.fields_edited()
        self.loaded.emit()

    def _load_failed(self, failure: WorkerFailure) -> None:
        from app.gui.errors import describe_exception

        self._busy = False
        self.show_message(f"PayDesk could not read these settings. "
                          f"{describe_exception(failure.exception)}", error=True)
        self._update_buttons()
        self.loaded.emit()

    @Slot()
    def fields_edited(self) -> None:
        """Call when a field changes: re-checks whether there are unsaved changes."""
        if not self._has_stored:
            return
        try:
            dirty = self.edited_value() != self._stored
        except InvalidSetting:
            dirty = True
        if dirty and self.message.property("kind") == "ok":
            self.show_message("")
        if dirty != self._dirty:
            self._dirty = dirty
            self.dirtyChanged.emit(dirty)
        self._update_buttons()

    def has_unsaved_changes(self) -> bool:
        return self._dirty

    def is_saving(self) -> bool:
        """True while a save (or a read) runs in the background."""
        return self._busy

    @Slot()
    def revert(self) -> None:
        if self._has_stored:
            self.show_value(self._stored)
            self.show_message("")
            self.fields_edited()

    def discard_changes(self) -> None:
        self.revert()

    @Slot()
    def save(self) -> bool:
        """Check the fields, then store them in the background. False when a field must be
        corrected first (the message says which)."""
        try:
            value = self.edited_value()
        except InvalidSetting as exc:
            self.show_message(str(exc), error=True)
            return False
        self._busy = True
        self._update_buttons()
        self.show_message("Saving…")
        run_task(f"save the {self.section_name()} settings", self.store, self.context.engine,
                 value, current_actor(), on_success=lambda _r: self._stored_ok(value),
                 on_failure=self._store_failed, parent=self)
        return True

    def _stored_ok(self, value: Any) -> None:
        self._busy = False
        self._stored = value  # what is stored now, even before the reload shows it
        self.fields_edited()
        self.after_save(value)
        self.show_message("Saved. Every computer using this PayDesk database uses it now.",
                          ok=True)
        self.saved.emit()
        self.reload()

    def after_save(self, value: Any) -> None:
        """GUI thread, after a successful save (e.g. tell a running service)."""

    def _store_failed(self, failure: WorkerFailure) -> None:
        from app.gui.errors import describe_exception

        self._busy = False
        exc = failure.exception
        text = str(exc) if isinstance(exc, ValueError) else describe_exception(exc)
        self.show_message(f"Not saved. {text}", error=True)
        self._update_buttons()

    def show_message(self, text: str, *, error: bool = False, ok: bool = False) -> None:
        self.message.setText(text)
        self.message.setProperty("kind", "error" if error else "ok" if ok else "")
        set_themed_style(self.message, _ERROR_STYLE if error else _OK_STYLE if ok else "")
        self.message.setVisible(bool(text))

    def _update_buttons(self) -> None:
        self.save_button.setEnabled(self._dirty and not self._busy)
        self.revert_button.setEnabled(self._dirty and not self._busy)

    # --- helpers for sections ----------------------------------------------------------------
    @staticmethod
    def note(text: str) -> QLabel:
        label = QLabel(text)
        label.setObjectName("secondaryText")
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.RichText)
        return label

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if not self._has_stored and not self._busy:
            self.reload()
