"""Settings › Payments: the card surcharge rules, shared by every seat
(``payments.surcharge``; :mod:`app.core.payments.summary`).

What the bookkeeper sets: whether a surcharge is added, its percentage (at most 3 %), the
states and provinces where it is never added, and the disclosure text clients read. What
is fixed, and said so: a surcharge only ever goes on credit cards — never on debit or
prepaid cards or bank payments; the core checks each card's funding and enforces all of
this again when the payment is taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import Engine

from app.core.config import get_internal_currency
from app.core.credentials import CredentialStore
from app.core.money import Money
from app.core.payments.summary import (
    DEFAULT_DISCLOSURE,
    MAX_SURCHARGE_PERCENT,
    SURCHARGE_SETTING_KEY,
    SurchargeSettings,
    load_surcharge_settings,
    save_surcharge_settings,
)
from app.core.payments.surcharge_regions import DEFAULT_NOT_ALLOWED_IN, REGION_NAMES
from app.gui.context import AppContext
from app.gui.settings.page import FieldRows, InvalidSetting, SettingsPage
from app.gui.theme import set_themed_style

__all__ = ["PaymentsSection", "create_payments_section"]

#: The example amount the preview line charges (in major units of the internal currency).
EXAMPLE_MAJOR = 1000


@dataclass(frozen=True)
class PaymentsValue:
    rules: SurchargeSettings
    currency: str | None


def create_payments_section(context: AppContext) -> QWidget:
    return PaymentsSection(context)


def _percent_text(value: Decimal) -> str:
    return format(value.normalize(), "f")


class PaymentsSection(SettingsPage):
    setting_keys = (SURCHARGE_SETTING_KEY,)

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, "Payments",
                         "A surcharge passes on part of what card payments cost you. It is "
                         "off until you switch it on here.", parent)
        self.setObjectName("paymentsSection")
        self._currency: str | None = None

        self.enabled = QCheckBox("Add a surcharge to credit card payments")
        self.enabled.setObjectName("surchargeEnabled")
        self.percent = QLineEdit()
        self.percent.setObjectName("surchargePercent")
        self.percent.setPlaceholderText("for example 2.5")
        self.percent.setMaximumWidth(110)
        self.percent.setAlignment(Qt.AlignmentFlag.AlignRight)
        percent_row = QHBoxLayout()
        percent_row.addWidget(self.percent)
        percent_row.addWidget(QLabel(f"%   (at most {_percent_text(MAX_SURCHARGE_PERCENT)} %, "
                                     "the card brands' limit)"))
        percent_row.addStretch(1)
        self.example = QLabel("")
        self.example.setObjectName("surchargeExample")
        self.example.setWordWrap(True)

        form = FieldRows()
        form.addRow("", self.enabled)
        form.addRow(self._label("&Percentage:", self.percent), percent_row)
        form.addRow("", self.example)
        only_credit = self.note(
            "<b>Credit cards only.</b> PayDesk never adds a surcharge to debit or prepaid "
            "cards, to bank payments, or to a card whose type the gateway does not report — "
            "it checks each card itself. No surcharge is added on pay links, where the client "
            "picks the method on the gateway's page.")
        only_credit.setObjectName("surchargeCreditOnly")
        form.addRow("", only_credit)
        self.body.addLayout(form)

        self.disclosure = QPlainTextEdit()
        self.disclosure.setObjectName("surchargeDisclosure")
        self.disclosure.setFixedHeight(76)
        self.disclosure.setTabChangesFocus(True)
        reset = QPushButton("Use PayDesk's Wording")
        reset.setObjectName("surchargeDisclosureReset")
        reset.clicked.connect(self._default_disclosure)
        disclosure_box = QVBoxLayout()
        disclosure_box.setSpacing(4)
        disclosure_box.addWidget(self.disclosure)
        hint = self.note("Shown in the Order Summary and on the receipt. <b>{percent}</b> "
                         "is replaced by the percentage.")
        hint_row = QHBoxLayout()
        hint_row.addWidget(hint, 1)
        hint_row.addWidget(reset)
        disclosure_box.addLayout(hint_row)
        form.addRow(self._label("&Disclosure:", self.disclosure), disclosure_box)

        self.regions = QListWidget()
        self.regions.setObjectName("surchargeNotAllowedIn")
        self.regions.setAccessibleName("States and provinces where no surcharge is added")
        self.regions.setFixedHeight(150)
        for country, title in (("US", "United States"), ("CA", "Canada")):
            for code, name in sorted(
                    ((c, n) for c, n in REGION_NAMES.items() if c.startswith(f"{country}-")),
                    key=lambda pair: pair[1]):
                item = QListWidgetItem(f"{name} ({title})")
                item.setData(Qt.ItemDataRole.UserRole, code)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Unchecked)
                self.regions.addItem(item)
        self.regions_summary = QLabel("")
        self.regions_summary.setObjectName("surchargeRegionsSummary")
        self.regions_summary.setWordWrap(True)
        defaults = QPushButton("Use the Starting List")
        defaults.setObjectName("surchargeRegionsDefault")
        defaults.clicked.connect(self._default_regions)
        regions_box = QVBoxLayout()
        regions_box.setSpacing(4)
        regions_box.addWidget(self.regions_summary)
        regions_box.addWidget(self.regions)
        law = self.note(
            "Checked places never get a surcharge; PayDesk reads each client's state or "
            "province from its Autotask address. <b>Surcharge law changes: this starting list "
            "is not legal advice. Check the current rules for every state where you have "
            "clients</b>, and the card brands' registration and notice rules.")
        law.setObjectName("surchargeLawNote")
        law_row = QHBoxLayout()
        law_row.addWidget(law, 1)
        law_row.addWidget(defaults, 0, Qt.AlignmentFlag.AlignTop)
        regions_box.addLayout(law_row)
        form.addRow(self._label("&Not in:", self.regions), regions_box)

        self.enabled.toggled.connect(self._edited)
        self.percent.textChanged.connect(self._edited)
        self.disclosure.textChanged.connect(self._edited)
        self.regions.itemChanged.connect(self._edited)

    @staticmethod
    def _label(text: str, buddy: QWidget) -> QLabel:
        label = QLabel(text)
        label.setObjectName("fieldLabel")
        label.setBuddy(buddy)
        return label

    # --- SettingsPage --------------------------------------------------------------------------
    def load(self, engine: Engine, credentials: CredentialStore) -> PaymentsValue:
        return PaymentsValue(load_surcharge_settings(engine), get_internal_currency(engine))

    def show_value(self, value: PaymentsValue) -> None:
        self._currency = value.currency
        rules = value.rules
        self.enabled.setChecked(rules.enabled)
        self.percent.setText(_percent_text(rules.percent) if rules.percent else "")
        self.disclosure.setPlainText(rules.disclosure)
        self._check_regions(rules.not_allowed_in)
        self._edited()

    def edited_value(self) -> PaymentsValue:
        """The rules as the fields say; raises InvalidSetting with what to correct."""
        text = self.percent.text().strip().removesuffix("%").strip()
        enabled = self.enabled.isChecked()
        if not text:
            percent = Decimal(0)
        else:
            try:
                percent = Decimal(text.replace(",", "."))
            except InvalidOperation:
                raise InvalidSetting(
                    "Enter the surcharge as a percentage, for example 2.5.") from None
            if not percent.is_finite():
                raise InvalidSetting("Enter the surcharge as a percentage, for example 2.5.")
        if percent < 0:
            raise InvalidSetting("A surcharge cannot be negative.")
        if percent > MAX_SURCHARGE_PERCENT:
            raise InvalidSetting(
                f"A surcharge can be at most {_percent_text(MAX_SURCHARGE_PERCENT)} % "
                "(the card brands' limit). Enter a lower percentage.")
        if percent != percent.quantize(Decimal("0.01")):
            raise InvalidSetting("Use at most two decimals, for example 2.25.")
        if enabled and percent == 0:
            raise InvalidSetting(
                "Enter the percentage to add, or switch the surcharge off.")
        disclosure = self.disclosure.toPlainText().strip()
        if enabled and not disclosure:
            raise InvalidSetting(
                "Clients must be told about a surcharge: enter the disclosure text, or "
                "press Use PayDesk's Wording.")
        rules = SurchargeSettings(enabled=enabled, percent=percent,
                                  disclosure=disclosure or DEFAULT_DISCLOSURE,
                                  not_allowed_in=self._checked_regions())
        return PaymentsValue(rules, self._currency)

    def store(self, engine: Engine, value: PaymentsValue, actor: str) -> None:
        save_surcharge_settings(engine, value.rules, actor=actor)

    # --- the fields ----------------------------------------------------------------------------
    def _check_regions(self, codes: tuple[str, ...]) -> None:
        blocker = self.regions.blockSignals(True)
        for row in range(self.regions.count()):
            item = self.regions.item(row)
            code = item.data(Qt.ItemDataRole.UserRole)
            item.setCheckState(Qt.CheckState.Checked if code in codes
                               else Qt.CheckState.Unchecked)
        self.regions.blockSignals(blocker)

    def _checked_regions(self) -> tuple[str, ...]:
        return tuple(sorted(
            str(self.regions.item(row).data(Qt.ItemDataRole.UserRole))
            for row in range(self.regions.count())
            if self.regions.item(row).checkState() == Qt.CheckState.Checked))

    @Slot()
    def _default_regions(self) -> None:
        self._check_regions(DEFAULT_NOT_ALLOWED_IN)
        self._edited()

    @Slot()
    def _default_disclosure(self) -> None:
        self.disclosure.setPlainText(DEFAULT_DISCLOSURE)

    @Slot()
    def _edited(self) -> None:
        on = self.enabled.isChecked()
        for widget in (self.percent, self.disclosure, self.regions):
            widget.setEnabled(on)
        codes = self._checked_regions()
        names = sorted(REGION_NAMES[c] for c in codes)
        self.regions_summary.setText(
            f"No surcharge for clients in: {', '.join(names)}." if names
            else "A surcharge may be added in every state and province.")
        text, problem = self._example_text()
        self.example.setText(text)
        set_themed_style(self.example, "color: #B3261E;" if problem else "")
        self.fields_edited()

    def _example_text(self) -> tuple[str, bool]:
        """The example line, and whether it is a problem to correct instead."""
        if not self.enabled.isChecked():
            return "Off: card payments are charged exactly the amount paid.", False
        try:
            rules = self.edited_value().rules
        except InvalidSetting as exc:
            return str(exc), True
        if self._currency is None:
            return "", False
        amount = Money.parse(str(EXAMPLE_MAJOR), self._currency)
        fee = amount.percent(rules.effective_percent())
        locale = self.context.locale
        return (f"Example: a {amount.format(locale)} credit card payment is charged "
                f"{(amount + fee).format(locale)} — a surcharge of {fee.format(locale)}.",
                False)
