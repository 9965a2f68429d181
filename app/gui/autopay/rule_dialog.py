"""Setting AutoPay up for one organization, and printing an authorization.

``AutoPayRuleDialog`` records the rule and the client's authorization together
(:func:`app.core.autopay.create_rule`): the saved method, when to charge, which invoices,
the most one invoice may be charged, and who agreed, when, how and where the proof is.
"Which invoices" filters by the contract types of the organization's contracts and by the
billing item types synced from Autotask (every line must match the ticked types of each
list; an empty list does not filter). The choices are read in a worker; the rule is saved
in a worker. ``print_authorization`` reads the record in a worker and opens the print
dialog with its printable text. GUI thread.
"""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import QDate, QDateTime, Qt, Signal, Slot
from PySide6.QtGui import QTextDocument
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDateEdit,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QRadioButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.autopay import AutoPayRefused, RuleTerms, authorization_html, create_rule
from app.core.autopay.rules import (
    HOW_LABELS,
    AuthorizationRecord,
    SetupChoices,
    load_authorization,
    load_setup_choices,
)
from app.core.money import InvalidAmountError, Money
from app.gui.context import AppContext
from app.gui.theme import set_themed_style
from app.gui.widgets.accessible import describe
from app.gui.workers import WorkerFailure, run_task

__all__ = ["AutoPayRuleDialog", "print_authorization"]


class AutoPayRuleDialog(QDialog):
    """See the module docstring. ``ruleCreated(int)`` with the new rule's id."""

    ruleCreated = Signal(int)

    def __init__(self, context: AppContext, organization_id: int,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("autopayRuleDialog")
        self.setWindowTitle("Set up AutoPay")
        self.setMinimumWidth(620)
        self.context = context
        self.organization_id = organization_id
        self.choices: SetupChoices | None = None

        layout = QVBoxLayout(self)
        self.heading = QLabel("Reading the organization's saved methods…")
        self.heading.setObjectName("dialogHeading")
        self.heading.setWordWrap(True)
        layout.addWidget(self.heading)
        form = QFormLayout()
        form.setVerticalSpacing(8)
        self.method = QComboBox()
        self.method.setObjectName("autopayMethod")
        form.addRow("Charge", self.method)

        self.on_due = QRadioButton("On the invoice's due date")
        self.after_invoice = QRadioButton("Days after the invoice date:")
        self.days = QSpinBox()
        self.days.setRange(0, 120)
        self.days.setObjectName("autopayDays")
        timing = QButtonGroup(self)
        timing.addButton(self.on_due)
        timing.addButton(self.after_invoice)
        self.on_due.setChecked(True)
        self.days.setEnabled(False)
        self.after_invoice.toggled.connect(self.days.setEnabled)
        when = QHBoxLayout()
        when.addWidget(self.on_due)
        when.addSpacing(12)
        when.addWidget(self.after_invoice)
        when.addWidget(self.days)
        when.addStretch(1)
        form.addRow("When", when)

        self.all_invoices = QRadioButton("Every invoice")
        self.some_invoices = QRadioButton("Only invoices whose every line matches what is "
                                          "ticked below:")
        which = QButtonGroup(self)
        which.addButton(self.all_invoices)
        which.addButton(self.some_invoices)
        self.all_invoices.setChecked(True)
        # Two filters the core applies together (app.core.autopay.plan): a line's contract
        # must be of a ticked type (when any is ticked), and its billing item of a ticked
        # type (when any is ticked).
        self.contract_types = self._type_list(
            "autopayContractTypes", "Contract types",
            "Tick the contract types AutoPay may charge for; none ticked: any contract")
        self.item_types = self._type_list(
            "autopayItemTypes", "Billing item types",
            "Tick the kinds of billing item AutoPay may charge for (labor, products, "
            "recurring services…); none ticked: any kind")
        self.contract_types_label = QLabel("&Contract types")
        self.contract_types_label.setBuddy(self.contract_types)
        self.item_types_label = QLabel("&Billing item types")
        self.item_types_label.setBuddy(self.item_types)
        self.some_invoices.toggled.connect(self._filters_toggled)
        lists = QHBoxLayout()
        for caption, box in ((self.contract_types_label, self.contract_types),
                             (self.item_types_label, self.item_types)):
            column = QVBoxLayout()
            column.setSpacing(2)
            caption.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
            column.addWidget(caption)
            column.addWidget(box)
            lists.addLayout(column)
        which_box = QVBoxLayout()
        which_box.addWidget(self.all_invoices)
        which_box.addWidget(self.some_invoices)
        which_box.addLayout(lists)
        form.addRow("Which invoices", which_box)

        self.limit = QLineEdit()
        self.limit.setObjectName("autopayLimit")
        self.limit.setPlaceholderText("e.g. 5,000.00")
        form.addRow("At most, per invoice", self.limit)
        self.covers_from = QDateEdit(QDate.currentDate())
        self.covers_from.setCalendarPopup(True)
        self.covers_from.setDisplayFormat("MMM d, yyyy")
        self.covers_from.setObjectName("autopayCoversFrom")
        form.addRow("Invoices dated from", self.covers_from)

        self.signer = QComboBox()
        self.signer.setEditable(True)
        self.signer.setObjectName("autopaySigner")
        form.addRow("Agreed by", self.signer)
        self.signer_email = QLineEdit()
        self.signer_email.setObjectName("autopaySignerEmail")
        form.addRow("Their email", self.signer_email)
        self.signer.currentIndexChanged.connect(self._signer_chosen)
        self.agreed_at = QDateTimeEdit(QDateTime.currentDateTime())
        self.agreed_at.setCalendarPopup(True)
        self.agreed_at.setDisplayFormat("MMM d, yyyy HH:mm")
        self.agreed_at.setObjectName("autopayAgreedAt")
        form.addRow("Agreed on", self.agreed_at)
        self.how = QComboBox()
        self.how.setObjectName("autopayHow")
        for key, label in HOW_LABELS.items():
            self.how.addItem(label, key)
        self.how.setCurrentIndex(1)
        form.addRow("How", self.how)
        self.evidence = QLineEdit()
        self.evidence.setObjectName("autopayEvidence")
        self.evidence.setPlaceholderText(
            "Where the signed form is kept, or the gateway's confirmation number")
        form.addRow("Proof", self.evidence)
        layout.addLayout(form)
        note = QLabel("AutoPay charges what is owed on each invoice and never adds a "
                      "surcharge. The client's authorization is kept on record, also after "
                      "AutoPay is revoked, for two years after the last charge.")
        note.setObjectName("secondaryText")
        note.setWordWrap(True)
        layout.addWidget(note)
        self.error = QLabel()
        self.error.setObjectName("autopayRuleError")
        self.error.setWordWrap(True)
        set_themed_style(self.error, "color: #A02727;")
        layout.addWidget(self.error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.addButton("Set up AutoPay",
                                                  QDialogButtonBox.ButtonRole.AcceptRole)
        self.save_button.setObjectName("autopaySaveButton")
        self.save_button.setEnabled(False)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        run_task("read the organization's saved methods", load_setup_choices,
                 context.engine, organization_id, on_success=self._loaded,
                 on_failure=self._failed, parent=self)

    @staticmethod
    def _type_list(name: str, title: str, description: str) -> QListWidget:
        box = QListWidget()
        box.setObjectName(name)
        box.setFixedHeight(104)
        box.setEnabled(False)
        describe(box, description, title)
        return box

    @Slot(bool)
    def _filters_toggled(self, on: bool) -> None:
        for box in (self.contract_types, self.item_types):
            box.setEnabled(on and box.count() > 0)

    @staticmethod
    def _fill(box: QListWidget, choices: tuple[tuple[int, str], ...]) -> None:
        for type_id, label in choices:
            item = QListWidgetItem(label)
            item.setData(Qt.ItemDataRole.UserRole, type_id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            box.addItem(item)

    @staticmethod
    def _ticked(box: QListWidget) -> tuple[int, ...]:
        return tuple(int(box.item(i).data(Qt.ItemDataRole.UserRole))
                     for i in range(box.count())
                     if box.item(i).checkState() == Qt.CheckState.Checked)

    def _failed(self, failure: WorkerFailure) -> None:
        from app.gui.errors import describe_exception

        self.error.setText(describe_exception(failure.exception))

    def _loaded(self, choices: SetupChoices) -> None:
        self.choices = choices
        self.heading.setText(f"AutoPay for {choices.organization_name}")
        for method_id, summary in choices.methods:
            self.method.addItem(summary, method_id)
        self.signer.blockSignals(True)
        for contact_id, name, email in choices.contacts:
            self.signer.addItem(name, (contact_id, email))
        self.signer.setCurrentIndex(-1)
        self.signer.setEditText("")
        self.signer.blockSignals(False)
        self._fill(self.contract_types, choices.contract_types)
        self._fill(self.item_types, choices.item_types)
        if not choices.contract_types:
            self.contract_types_label.setText("Contract types (this organization has none)")
        if not choices.item_types:
            self.item_types_label.setText("Billing item types (none synced from Autotask yet)")
        if not choices.contract_types and not choices.item_types:
            self.some_invoices.setEnabled(False)
        self._filters_toggled(self.some_invoices.isChecked())
        defaults = choices.defaults
        self.after_invoice.setChecked(defaults.timing == "after_invoice_date")
        self.days.setValue(defaults.days_after_invoice)
        if not choices.methods:
            self.error.setText("This organization has no saved card or bank account. Add one "
                               "on the Payment methods tab first — the client enters it on "
                               "the gateway's secure page.")
            return
        self.save_button.setEnabled(True)

    @Slot(int)
    def _signer_chosen(self, index: int) -> None:
        data = self.signer.itemData(index)
        if isinstance(data, tuple) and data[1] and not self.signer_email.text():
            self.signer_email.setText(str(data[1]))

    def terms(self) -> RuleTerms:
        """The terms as entered; raises AutoPayRefused with what to fix."""
        assert self.choices is not None
        try:
            limit = Money.parse(self.limit.text(), self.choices.currency, self.context.locale)
        except InvalidAmountError as exc:
            raise AutoPayRefused("Enter the most AutoPay may charge for one invoice, for "
                                 "example 5,000.00.") from exc
        contract_types: tuple[int, ...] = ()
        item_types: tuple[int, ...] = ()
        if self.some_invoices.isChecked():
            contract_types = self._ticked(self.contract_types)
            item_types = self._ticked(self.item_types)
            if not contract_types and not item_types:
                raise AutoPayRefused("Tick at least one contract type or billing item type, "
                                     "or choose Every invoice.")
        data = self.signer.currentData()
        contact_id = data[0] if isinstance(data, tuple) and self.signer.currentText() == \
            self.signer.itemText(self.signer.currentIndex()) else None
        agreed = self.agreed_at.dateTime().toPython()
        assert isinstance(agreed, datetime)
        covers = self.covers_from.date().toPython()
        return RuleTerms(
            organization_id=self.organization_id,
            payment_method_id=int(self.method.currentData()),
            timing="after_invoice_date" if self.after_invoice.isChecked() else "due_date",
            days_after_invoice=self.days.value(), limit=limit, covers_from=covers,  # type: ignore[arg-type]
            signer_name=self.signer.currentText(), signer_email=self.signer_email.text(),
            contact_id=contact_id, how=str(self.how.currentData()),
            evidence=self.evidence.text(), agreed_at=agreed.astimezone(UTC),
            contract_types=contract_types, item_types=item_types)

    @Slot()
    def save(self) -> None:
        try:
            terms = self.terms()
        except AutoPayRefused as refused:
            self.error.setText(refused.message)
            return
        problem = terms.problem()
        if problem:
            self.error.setText(problem)
            return
        self.save_button.setEnabled(False)
        company = self.choices.company if self.choices else ""
        run_task("set up AutoPay", create_rule, self.context.engine, terms, company=company,
                 on_success=self._saved, on_failure=self._save_failed, parent=self)

    def _saved(self, rule_id: int) -> None:
        self.ruleCreated.emit(rule_id)
        self.accept()

    def _save_failed(self, failure: WorkerFailure) -> None:
        self.save_button.setEnabled(True)
        if isinstance(failure.exception, AutoPayRefused):
            self.error.setText(failure.exception.message)
        else:
            self._failed(failure)


def print_authorization(context: AppContext, authorization_id: int,
                        parent: QWidget | None = None) -> None:
    """Read the authorization in a worker, then open the print dialog with it."""

    def show(record: AuthorizationRecord | None) -> None:
        if record is None:
            return
        document = QTextDocument()
        document.setHtml(authorization_html(record))
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        printer.setDocName(f"AutoPay authorization {record.authorization_id}")
        dialog = QPrintDialog(printer, parent)
        dialog.setWindowTitle("Print AutoPay authorization")
        if dialog.exec() == QDialog.DialogCode.Accepted:
            document.print_(printer)

    run_task("read the AutoPay authorization", load_authorization, context.engine,
             authorization_id, on_success=show, parent=parent)
