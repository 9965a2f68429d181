"""The internal currency: chosen once, never changed.

The list is searchable (type part of a name or code), preselected from the system locale's
country, and guarded by an explicit confirmation. Once the currency is locked the page only
shows it. Whether a currency is locked is read in a worker when the page opens ("Checking…"
until then); the choice is written in a worker when the bookkeeper presses Next.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QLocale, Qt, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QLabel,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)
from sqlalchemy import Engine

from app.core.config import (
    CurrencyLock,
    CurrencyLockedError,
    internal_currency_lock,
    set_internal_currency,
)
from app.core.setup.currency import currency_list, default_currency, label
from app.gui.context import AppContext
from app.gui.invoices.formatting import date_text
from app.gui.widgets.pill import Tone
from app.gui.wizard.background import CHECKING_TEXT, SaveOnNext
from app.gui.wizard.notice import Notice
from app.gui.workers import WorkerFailure, run_task


def locale_for_defaults(context: AppContext) -> str:
    """The system locale's name (``en_GB``), which decides the preselected currency."""
    name = QLocale.system().name()
    return name if "_" in name and name != "C" else context.locale


class CurrencyPage(QWizardPage):
    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.setObjectName("currencyPage")
        self.setTitle("Internal currency")
        self.setSubTitle("The currency of your Autotask invoices. PayDesk records every amount "
                         "in it.")
        self._choices = currency_list("en")
        self.locked_code: str | None = None
        self.lock: CurrencyLock | None = None
        #: The lock has been read (in a worker) since the page opened.
        self.checked = False
        self._conflict = ""
        self._preselected = False
        self.saving = SaveOnNext(self, "lock the internal currency",
                                 on_saved=self._locked, on_failed=self._lock_failed)

        self.combo = QComboBox(self)
        self.combo.setObjectName("currencyCombo")
        self.combo.setEditable(True)
        self.combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.combo.setMaxVisibleItems(15)
        for choice in self._choices:
            self.combo.addItem(label(choice), choice[0])
        completer = QCompleter(self.combo.model(), self.combo)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.combo.setCompleter(completer)
        line = self.combo.lineEdit()
        assert line is not None  # the combo is editable
        line.setPlaceholderText("Type to search, for example “dollar” or “EUR”")
        self.combo.setAccessibleName("Internal currency")

        self.search_label = QLabel("&Currency:", self)
        self.search_label.setBuddy(self.combo)

        self.warning = Notice("", Tone.WARNING, self)
        self.warning.setObjectName("currencyWarning")
        self.confirm = QCheckBox(self)
        self.confirm.setObjectName("currencyConfirmCheck")
        self.confirm.setText("Choose a currency from the list first.")

        layout = QVBoxLayout(self)
        layout.addWidget(self.search_label)
        layout.addWidget(self.combo)
        layout.addSpacing(12)
        layout.addWidget(self.warning)
        layout.addSpacing(6)
        layout.addWidget(self.confirm)
        layout.addStretch(1)

        self.combo.currentIndexChanged.connect(self._selection_changed)
        self.combo.editTextChanged.connect(self._selection_changed)
        self.confirm.toggled.connect(self.completeChanged)

    # -- state -----------------------------------------------------------------------------

    def selected_code(self) -> str | None:
        """The chosen code, or None while the text typed matches no currency."""
        index = self.combo.findText(self.combo.currentText(), Qt.MatchFlag.MatchFixedString)
        if index < 0:
            return None
        code = self.combo.itemData(index)
        return str(code) if code else None

    def select(self, code: str) -> bool:
        index = self.combo.findData(code.upper())
        if index < 0:
            return False
        self.combo.setCurrentIndex(index)
        return True

    def initializePage(self) -> None:
        """Read whether a currency is locked already (a worker); "Checking…" until then."""
        self.checked = False
        self.combo.setEnabled(False)
        self.confirm.setEnabled(False)
        self.warning.set_message(CHECKING_TEXT, Tone.NEUTRAL)
        self.completeChanged.emit()
        run_task("read the internal currency", internal_currency_lock, self.context.engine,
                 on_success=self._on_checked, parent=self)

    @Slot(object)
    def _on_checked(self, lock: CurrencyLock | None) -> None:
        self.checked = True
        self.lock = lock
        self.locked_code = lock.code if lock is not None else None
        if self.locked_code:
            self.context.remember_currency(self.locked_code)
            self._show_locked()
            if self._conflict:
                self.warning.set_message(html.escape(self._conflict), Tone.DANGER)
                self._conflict = ""
            return
        self.combo.setEnabled(True)
        if not self._preselected:  # the first visit: the locale's currency, not the list's top
            self._preselected = True
            self.select(default_currency(locale_for_defaults(self.context)))
        self._selection_changed()

    def _show_locked(self) -> None:
        code = self.locked_code or ""
        self.select(code)
        self.combo.setEnabled(False)
        self.confirm.hide()
        lock = self.lock
        since = (
            f" It was chosen on {date_text(lock.locked_at)} by {html.escape(lock.locked_by)}."
            if lock is not None else ""
        )
        name = html.escape(self.combo.currentText())
        self.warning.set_message(
            f"<b>PayDesk's internal currency is {name}.</b>{since} "
            "It cannot be changed.", Tone.NEUTRAL)
        self.completeChanged.emit()

    @Slot()
    def _selection_changed(self) -> None:
        if self.locked_code:
            return
        code = self.selected_code()
        self.confirm.blockSignals(True)
        self.confirm.setChecked(False)
        self.confirm.blockSignals(False)
        if code is None:
            self.confirm.setEnabled(False)
            self.confirm.setText("Choose a currency from the list first.")
        else:
            self.confirm.setEnabled(True)
            self.confirm.setText(
                f"Yes, {self.combo.currentText()} is the currency of our Autotask invoices. "
                "I understand it can never be changed."
            )
        self.warning.set_message(
            "<b>Once set, the internal currency can never be changed.</b><br>"
            "Select the currency your Autotask invoices are actually in — not the one you "
            "would like to be paid in. PayDesk stores every amount in this currency, and "
            "changing it later would make every recorded payment wrong.",
            Tone.WARNING,
        )
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        if not self.checked or self.saving.running:
            return False
        if self.locked_code:
            return True
        return self.selected_code() is not None and self.confirm.isChecked()

    def validatePage(self) -> bool:
        """Lock the chosen currency: one database write, in a worker (no network). Next
        moves on by itself when it is written."""
        if self.locked_code and not self.saving.running:
            return True
        code = self.selected_code()
        if code is None or not self.confirm.isChecked():
            return False
        moving_on = self.saving.validate(_lock_currency, self.context.engine, code)
        self.completeChanged.emit()
        return moving_on

    def _locked(self, lock: object) -> None:
        assert isinstance(lock, CurrencyLock)
        self.lock = lock
        self.locked_code = lock.code
        self.context.remember_currency(lock.code)
        self.completeChanged.emit()

    def _lock_failed(self, failure: WorkerFailure) -> None:
        exc = failure.exception
        if isinstance(exc, CurrencyLockedError):
            # Another seat sharing the database chose first: show theirs and stay here.
            self._conflict = str(exc)
            self.initializePage()
            return
        from app.gui.errors import describe_exception

        self.warning.set_message(html.escape(describe_exception(exc)), Tone.DANGER)
        self.completeChanged.emit()


def _lock_currency(engine: Engine, code: str) -> CurrencyLock:
    """Worker thread: lock the currency; what was locked (``CurrencyLockedError`` when
    another seat chose a different one first)."""
    set_internal_currency(engine, code)
    lock = internal_currency_lock(engine)
    assert lock is not None
    return lock
