"""The sections of the Settings area, in the order the list shows them.

A section is a key, the title in the list, and a function that makes its widget for the
window's :class:`~app.gui.context.AppContext`. The widget is made the first time the section
is chosen. It reads and writes in workers (``app.gui.workers.run_task``), never on the GUI
thread. Most sections are :class:`app.gui.settings.page.SettingsPage` subclasses (heading,
last change, Save / Revert); any ``QWidget`` will do.

A widget with unsaved changes says so through ``has_unsaved_changes() -> bool`` (and may
offer ``save()`` and ``discard_changes()``): the Settings area then asks before the
bookkeeper leaves the section, the Settings area, or closes the window (see
:class:`UnsavedChanges`). When the window closes or another area is chosen, a Save is
waited for; a widget that also offers ``is_saving() -> bool`` lets a failed save be told
apart from a slow one.

Adding a section: one line in ``SECTIONS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from PySide6.QtWidgets import QWidget

from app.gui.autopay.defaults_section import create_autopay_defaults_section
from app.gui.context import AppContext
from app.gui.settings.connections_section import create_connections_section
from app.gui.settings.email_section import create_email_section
from app.gui.settings.general_section import create_general_section
from app.gui.settings.payments_section import create_payments_section
from app.gui.settings.posting_section import create_posting_section
from app.gui.settings.receipts_section import create_receipts_section
from app.gui.settings.sync_section import create_sync_section

__all__ = ["SECTIONS", "SettingsSection", "UnsavedChanges", "section"]


@dataclass(frozen=True)
class SettingsSection:
    key: str
    title: str
    create: Callable[[AppContext], QWidget]


@runtime_checkable
class UnsavedChanges(Protocol):
    """What a section widget offers when it can hold edits that are not saved yet."""

    def has_unsaved_changes(self) -> bool: ...

    def save(self) -> object:
        """Start saving; ``False`` when a field must be corrected first."""
        ...

    def discard_changes(self) -> None: ...


SECTIONS: tuple[SettingsSection, ...] = (
    SettingsSection("general", "General", create_general_section),
    SettingsSection("sync", "Sync", create_sync_section),
    SettingsSection("payments", "Payments", create_payments_section),
    SettingsSection("autopay", "AutoPay", create_autopay_defaults_section),
    SettingsSection("email", "Email", create_email_section),
    SettingsSection("receipts", "Receipts", create_receipts_section),
    SettingsSection("posting", "Posting", create_posting_section),
    SettingsSection("connections", "Connections", create_connections_section),
)


def section(key: str) -> SettingsSection:
    for candidate in SECTIONS:
        if candidate.key == key:
            return candidate
    raise KeyError(key)
