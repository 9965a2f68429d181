"""The internal currency: chosen once, never changed.

The list is searchable (type part of a name or code), preselected from the system locale's
country, and guarded by an explicit confirmation. Once the currency is locked the page only
shows it. The choice is written when the bookkeeper presses Next (a local database write).
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

from app.core.config import (
    CurrencyLockedError,
    get_internal_currency,
    internal_currency_lock,
    set_internal_currency,
)
from app.core.setup.currency import currency_list, default_currency, label
from app.gui.context import AppContext
from app.gui.invoices.formatting import date_text
from app.gui.widgets.pill import Tone
from app.gui.wizard.notice import Notice


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
        self._preselected = False

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
        self.locked_code = get_internal_currency(self.context.engine)
        if self.locked_code:
            self._show_locked()
            return
        if not self._preselected:  # the first visit: the locale's currency, not the list's top
            self._preselected = True
            self.select(default_currency(locale_for_defaults(self.context)))
        self._selection_changed()

    def _show_locked(self) -> None:
        code = self.locked_code or ""
        self.select(code)
        self.combo.setEnabled(False)
        self.confirm.hide()
        lock = internal_currency_lock(self.context.engine)
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
        if self.locked_code:
            return True
        return self.selected_code() is not None and self.confirm.isChecked()

    def validatePage(self) -> bool:
        """Lock the chosen currency (one local database write; no network)."""
        if self.locked_code:
            return True
        code = self.selected_code()
        if code is None or not self.confirm.isChecked():
            return False
        try:
            set_internal_currency(self.context.engine, code)
        except CurrencyLockedError as exc:
            # Another seat sharing the database chose first: show theirs and stay here.
            self.warning.set_message(html.escape(str(exc)), Tone.DANGER)
            self.locked_code = get_internal_currency(self.context.engine)
            self._show_locked()
            self.warning.set_message(html.escape(str(exc)), Tone.DANGER)
            return False
        self.locked_code = code
        return True
