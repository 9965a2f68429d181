"""Settings › Sync: how often PayDesk copies new and changed records from Autotask, and
whether it syncs when it starts. Shared by every seat (``sync.interval_minutes``,
``sync.run_at_start``); the window's sync controller follows a saved change at once.
"""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QLabel, QWidget
from sqlalchemy import Engine

from app.core.credentials import CredentialStore
from app.core.sync.history import (
    INTERVAL_CHOICES,
    INTERVAL_SETTING,
    RUN_AT_START_SETTING,
    SyncSchedule,
    load_sync_schedule,
    save_sync_schedule,
)
from app.gui.context import AppContext
from app.gui.settings.page import SettingsPage

__all__ = ["SyncSection", "create_sync_section", "interval_text"]


def create_sync_section(context: AppContext) -> QWidget:
    return SyncSection(context)


def interval_text(minutes: int) -> str:
    if minutes == 0:
        return "Only when I press Sync Now"
    if minutes % 60 == 0:
        hours = minutes // 60
        return "Every hour" if hours == 1 else f"Every {hours} hours"
    return f"Every {minutes} minutes"


class SyncSection(SettingsPage):
    setting_keys = (INTERVAL_SETTING, RUN_AT_START_SETTING)

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, "Sync",
                         "PayDesk copies new and changed organizations, contacts, contracts "
                         "and invoices from Autotask in the background. Screens read the "
                         "copy, so they are fast and work offline.", parent)
        self.setObjectName("syncSection")
        form = QFormLayout()
        form.setHorizontalSpacing(24)
        form.setVerticalSpacing(12)
        self.interval = QComboBox()
        self.interval.setObjectName("syncIntervalSetting")
        self.interval.setMinimumWidth(280)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        for minutes in INTERVAL_CHOICES:
            self.interval.addItem(interval_text(minutes), minutes)
        self.run_at_start = QCheckBox("Sync a few seconds after PayDesk opens")
        self.run_at_start.setObjectName("syncRunAtStart")
        label = QLabel("&Sync with Autotask:")
        label.setBuddy(self.interval)
        label.setObjectName("fieldLabel")
        start = QLabel("When PayDesk starts:")
        start.setObjectName("fieldLabel")
        form.addRow(label, self.interval)
        form.addRow(start, self.run_at_start)
        self.body.addLayout(form)
        self.body.addWidget(self.note(
            "At start, PayDesk skips the sync when the last one (at any computer) is more "
            "recent than the interval. A sync never runs twice at once, and Sync Now in the "
            "Sync area works whatever you choose here."))
        self.interval.currentIndexChanged.connect(self.fields_edited)
        self.run_at_start.toggled.connect(self.fields_edited)

    def load(self, engine: Engine, credentials: CredentialStore) -> SyncSchedule:
        return load_sync_schedule(engine)

    def show_value(self, value: SyncSchedule) -> None:
        index = self.interval.findData(value.interval_minutes)
        if index < 0:
            self.interval.addItem(interval_text(value.interval_minutes), value.interval_minutes)
            index = self.interval.count() - 1
        self.interval.setCurrentIndex(index)
        self.run_at_start.setChecked(value.run_at_start)

    def edited_value(self) -> SyncSchedule:
        return SyncSchedule(int(self.interval.currentData()), self.run_at_start.isChecked())

    def store(self, engine: Engine, value: SyncSchedule, actor: str) -> None:
        save_sync_schedule(engine, value, actor=actor)

    def after_save(self, value: SyncSchedule) -> None:
        """The window's sync controller follows the new schedule now (no database read)."""
        controller = self.context.services.sync
        if controller is not None:
            controller.apply_schedule(value)
