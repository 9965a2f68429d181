"""The Order Summary dialog: pay one or several invoices of one organization.

The dialog maps fields; the core decides. Every edit restarts a short timer, after which
``app.core.payments.summary.compute_order_summary`` (pure, fast) is called with the text as
typed, and the dialog renders its answer: the allocation, the surcharge line, the total and
the reason next to any field that is wrong. Pay is enabled only with a summary that has no
error, and its text states the exact total — with "(test mode)" when the gateway uses test
keys.

Paying runs the core's payment pipeline on a worker (``app.gui.workers.run_task``): the
pipeline records the payment with its idempotency key before calling the gateway, and
re-checks the invoices under a database lock, so a second click — or a second seat — can
never charge twice. While it runs, the dialog shows progress and every input is disabled;
the outcome (approved with its receipt, or declined with the reason in plain words) is shown
on the result page inside the dialog.

Three ways to pay: a saved card or bank account (default first); **New card or bank
account** — the gateway's secure page opens in the browser, the client or bookkeeper enters
the method there, and the payment continues with it once the page completes; **Send a pay
link** — a link to the gateway's page for this amount, to copy or email to the client.

Everything in this module runs on the GUI thread; the functions named ``_load_*`` and the
pipeline calls run on pool threads through ``run_task``.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from datetime import date
from typing import Any

from PySide6.QtCore import QSignalBlocker, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QCloseEvent, QColor, QGuiApplication, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.clock import utcnow
from app.core.gateways import PaymentGateway
from app.core.gateways.providers import get_provider
from app.core.gateways.repository import StoredMethod
from app.core.money import Money
from app.core.payments.order import ContactChoice, OrderContext, load_order_context
from app.core.payments.pipeline import (
    HostedPayment,
    PaymentOutcome,
    PaymentPipeline,
    PaymentRefused,
    PaymentRequest,
)
from app.core.payments.states import PaymentState
from app.core.payments.summary import (
    MethodInfo,
    OrderSummary,
    compute_order_summary,
)
from app.gui.autopay.schedule_dialog import schedule_button
from app.gui.context import AppContext
from app.gui.invoices.formatting import time_text
from app.gui.payments.common import (
    TestModeBanner,
    current_gateway,
    date_text,
    datetime_text,
    gateway_known,
    is_test_mode,
    missing_gateway_text,
    use_gateway,
)
from app.gui.payments.receipt import Receipt, ReceiptButtons, ReceiptLine
from app.gui.theme import readable_text, set_themed_style
from app.gui.widgets import StatusPill, Tone
from app.gui.widgets.accessible import describe
from app.gui.widgets.secure_page import SecurePageLink, pages_are_shareable
from app.gui.workers import Task, WorkerFailure, run_task

log = logging.getLogger(__name__)

#: How long after the last keystroke the summary is computed again.
RECOMPUTE_DELAY_MS = 150
#: How often the secure page (new method, pay link) is asked whether it was completed.
HOSTED_POLL_MS = 2000

METHOD_SAVED = "saved"
METHOD_NEW = "new"
METHOD_LINK = "link"


def _method_key(kind: str, method_id: int | None = None) -> str:
    """The combo's item data: a plain string (``"saved:12"``, ``"new"``), because PySide6's
    ``findData`` compares a freshly built tuple by identity and would find nothing."""
    return f"{kind}:{method_id}" if method_id is not None else kind


def _parse_method_key(data: object) -> tuple[str, int | None]:
    if not isinstance(data, str) or not data:
        return METHOD_NEW, None
    kind, _, method_id = data.partition(":")
    return kind, int(method_id) if method_id else None


# --------------------------------------------------------------------------------------------
# The dialog
# --------------------------------------------------------------------------------------------


class _AmountItem(QTableWidgetItem):
    """A right-aligned amount cell."""

    def __init__(self, text: str, *, editable: bool = False) -> None:
        super().__init__(text)
        self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if editable:
            flags |= Qt.ItemFlag.ItemIsEditable
        self.setFlags(flags)


def _plain_item(text: str) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    return item


class OrderSummaryDialog(QDialog):
    """Take a payment on invoices of one organization. See the module docstring.

    Signals: ``paymentFinished(int)`` with the payment's id once the pipeline has recorded an
    outcome (approved, processing or declined), so the screen that opened the dialog can
    refresh the invoices it shows.
    """

    paymentFinished = Signal(int)

    COL_INVOICE, COL_DUE, COL_BALANCE, COL_PAY, COL_NOTE = range(5)
    MIN_WIDTH = 720

    def __init__(
        self,
        context: AppContext,
        organization_id: int,
        invoice_ids: Sequence[int],
        parent: QWidget | None = None,
        *,
        gateway: PaymentGateway | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("orderSummaryDialog")
        self.setWindowTitle(pay_title(None, len(invoice_ids)))
        self.setMinimumWidth(self.MIN_WIDTH)
        self.context = context
        self.money_locale = context.locale
        self.currency = context.currency() or "USD"
        self.organization_id = organization_id
        self.invoice_ids = tuple(invoice_ids)
        # The gateway opened at start (in a worker); until it is known the dialog waits for it
        # on the change bus, showing "Opening the invoices…".
        self._own_gateway = gateway is not None
        self.gateway = gateway if gateway is not None else current_gateway(context)
        self.test_mode = is_test_mode(self.gateway)
        self._missing_gateway = "" if self.gateway is not None else missing_gateway_text(context)

        self.order: OrderContext | None = None
        self.summary: OrderSummary | None = None
        self.running = False
        self.outcome: PaymentOutcome | None = None
        self._amount_text: str | None = None  # None: everything owed (the default)
        self._allocation_edits: dict[int, str] = {}
        self._task: Task | None = None
        self._hosted_session_id: str | None = None
        self._hosted_purpose: str | None = None
        self._poll_task: Task | None = None
        self.hosted: HostedPayment | None = None

        self._recompute_timer = QTimer(self)
        self._recompute_timer.setSingleShot(True)
        self._recompute_timer.setInterval(RECOMPUTE_DELAY_MS)
        self._recompute_timer.timeout.connect(self.recompute)
        self._poll_timer = QTimer(self)
        self._poll_timer.setInterval(HOSTED_POLL_MS)
        self._poll_timer.timeout.connect(self._poll_hosted)

        self._build()
        self._describe_controls()
        # The keyboard starts where the person types first: the amount (Tab goes on to the
        # method, the contact, the memo and Pay).
        self.amount_edit.setFocus(Qt.FocusReason.OtherFocusReason)
        self._set_loading(True)
        if self._own_gateway or gateway_known(context):
            self._load()
        else:
            context.changes().gatewayChanged.connect(self._on_gateway_opened)
            use_gateway(context)

    @Slot()
    def _on_gateway_opened(self) -> None:
        """The gateway opened at start is known now (or why there is none): load. GUI
        thread."""
        self.context.changes().gatewayChanged.disconnect(self._on_gateway_opened)
        self.gateway = current_gateway(self.context)
        self.test_mode = is_test_mode(self.gateway)
        self._missing_gateway = "" if self.gateway is not None else missing_gateway_text(
            self.context)
        self.test_banner.setVisible(self.test_mode)
        self._load()

    # --- building -----------------------------------------------------------------------
    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(18, 16, 18, 16)
        outer.setSpacing(10)

        self.heading = QLabel(pay_title(None, len(self.invoice_ids)))
        self.heading.setObjectName("dialogHeading")
        outer.addWidget(self.heading)
        self.test_banner = TestModeBanner()
        self.test_banner.setVisible(self.test_mode)
        outer.addWidget(self.test_banner)

        self.pages = QStackedWidget()
        outer.addWidget(self.pages, 1)
        self.form_page = self._build_form()
        self.pages.addWidget(self.form_page)
        self.result_page = self._build_result()
        self.pages.addWidget(self.result_page)

    def _build_form(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)

        self.invoices_error = self._error_label("invoicesError")
        layout.addWidget(self.invoices_error)

        self.allocation_table = QTableWidget(0, 5)
        self.allocation_table.setTabKeyNavigation(False)  # Tab leaves the table (Tab order)
        self.allocation_table.setObjectName("allocationTable")
        self.allocation_table.setAccessibleName("Invoices being paid")
        self.allocation_table.setHorizontalHeaderLabels(
            ["Invoice", "Due", "Balance", "To pay", "After this payment"]
        )
        for column in (self.COL_BALANCE, self.COL_PAY):
            header_item = self.allocation_table.horizontalHeaderItem(column)
            if header_item is not None:
                header_item.setTextAlignment(
                    Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                )
        self.allocation_table.verticalHeader().setVisible(False)
        self.allocation_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.allocation_table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.SelectedClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
        )
        header = self.allocation_table.horizontalHeader()
        header.setSectionResizeMode(self.COL_INVOICE, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(self.COL_DUE, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(self.COL_BALANCE, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(self.COL_PAY, QHeaderView.ResizeMode.Fixed)
        header.setSectionResizeMode(self.COL_NOTE, QHeaderView.ResizeMode.Stretch)
        self.allocation_table.setColumnWidth(self.COL_PAY, 130)
        self.allocation_table.setToolTip(
            "Money goes to the invoice due first. Double-click an amount in “To pay” to "
            "choose how much goes to that invoice."
        )
        self.allocation_table.itemChanged.connect(self._on_allocation_edited)
        # The table is as tall as its rows (up to eight); spare height goes below the form.
        self.allocation_table.setSizePolicy(
            QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed
        )
        layout.addWidget(self.allocation_table)

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        form.setHorizontalSpacing(12)
        form.setVerticalSpacing(8)

        self.amount_edit = QLineEdit()
        self.amount_edit.setObjectName("paymentAmount")
        self.amount_edit.setAccessibleName("Amount to pay")
        self.amount_edit.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.amount_edit.setFixedWidth(160)
        self.amount_edit.textEdited.connect(self._on_amount_edited)
        self.full_balance_button = QPushButton("Pay everything owed")
        self.full_balance_button.setObjectName("fullBalanceButton")
        self.full_balance_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.full_balance_button.clicked.connect(self.reset_to_full_balance)
        self.amount_error = self._error_label("amountError")
        amount_row = QHBoxLayout()
        amount_row.setSpacing(10)
        amount_row.addWidget(self.amount_edit)
        amount_row.addWidget(self.full_balance_button)
        amount_row.addStretch(1)
        amount_box = QVBoxLayout()
        amount_box.setSpacing(3)
        amount_box.addLayout(amount_row)
        amount_box.addWidget(self.amount_error)
        form.addRow("Amount to pay", amount_box)

        self.method_combo = QComboBox()
        self.method_combo.setObjectName("paymentMethod")
        self.method_combo.setAccessibleName("Pay with")
        self.method_combo.setMinimumWidth(320)
        self.method_combo.currentIndexChanged.connect(self._on_method_changed)
        self.method_note = QLabel()
        self.method_note.setObjectName("secondaryText")
        self.method_note.setWordWrap(True)
        method_box = QVBoxLayout()
        method_box.setSpacing(4)
        method_box.addWidget(self.method_combo)
        method_box.addWidget(self.method_note)
        form.addRow("Pay with", method_box)

        self.contact_combo = QComboBox()
        self.contact_combo.setObjectName("paymentContact")
        self.contact_combo.setAccessibleName("Contact making the payment")
        self.contact_combo.setMinimumWidth(320)
        form.addRow("Contact making payment", self.contact_combo)

        self.memo_edit = QLineEdit()
        self.memo_edit.setObjectName("paymentMemo")
        self.memo_edit.setAccessibleName("Memo")
        self.memo_edit.setPlaceholderText("Shown on the receipt and in the Autotask note")
        self.memo_edit.setMaxLength(500)
        form.addRow("Memo", self.memo_edit)
        layout.addLayout(form)

        layout.addWidget(self._build_totals())

        self.warning_label = QLabel()
        self.warning_label.setObjectName("secondaryText")
        self.warning_label.setWordWrap(True)
        layout.addWidget(self.warning_label)

        self.progress_box = QFrame()
        self.progress_box.setObjectName("paymentProgress")
        progress_layout = QHBoxLayout(self.progress_box)
        progress_layout.setContentsMargins(0, 0, 0, 0)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 0)
        self.progress_bar.setTextVisible(False)
        self.progress_bar.setFixedWidth(140)
        self.progress_label = QLabel()
        self.progress_label.setWordWrap(True)
        progress_layout.addWidget(self.progress_bar)
        progress_layout.addWidget(self.progress_label, 1)
        self.progress_box.setVisible(False)
        layout.addWidget(self.progress_box)

        self.page_link = SecurePageLink(page)
        self.page_link.setVisible(False)
        layout.addWidget(self.page_link)

        self.form_error = self._error_label("formError")
        layout.addWidget(self.form_error)
        layout.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addWidget(schedule_button(self))  # pay later: app.gui.autopay
        buttons.addStretch(1)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        self.pay_button = QPushButton("Pay")
        self.pay_button.setObjectName("payButton")
        self.pay_button.setProperty("primary", True)
        set_themed_style(self.pay_button, _PRIMARY_STYLE)
        self.pay_button.setDefault(True)
        self.pay_button.setMinimumWidth(180)
        self.pay_button.clicked.connect(self.pay)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.pay_button)
        layout.addLayout(buttons)
        return page

    def _build_totals(self) -> QWidget:
        box = QFrame()
        box.setObjectName("orderTotals")
        set_themed_style(box,
            "QFrame#orderTotals { background: #F7F8FA; border: 1px solid #DDE1E7;"
            " border-radius: 6px; }"
        )
        grid = QGridLayout(box)
        grid.setContentsMargins(14, 10, 14, 10)
        grid.setHorizontalSpacing(16)
        grid.setVerticalSpacing(4)
        grid.setColumnStretch(0, 1)
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter

        self.subtotal_value = QLabel()
        self.subtotal_value.setObjectName("subtotalValue")
        grid.addWidget(QLabel("Subtotal"), 0, 0, right)
        grid.addWidget(self.subtotal_value, 0, 1, right)

        self.surcharge_line = QWidget()
        self.surcharge_line.setObjectName("surchargeLine")
        surcharge_layout = QGridLayout(self.surcharge_line)
        surcharge_layout.setContentsMargins(0, 0, 0, 0)
        surcharge_layout.setHorizontalSpacing(16)
        surcharge_layout.setColumnStretch(0, 1)
        self.surcharge_title = QLabel("Credit card surcharge")
        self.surcharge_value = QLabel()
        self.surcharge_value.setObjectName("surchargeValue")
        self.surcharge_disclosure = QLabel()
        self.surcharge_disclosure.setObjectName("surchargeDisclosure")
        self.surcharge_disclosure.setWordWrap(True)
        set_themed_style(self.surcharge_disclosure, "color: #4A5465; font-size: 9pt;")
        surcharge_layout.addWidget(self.surcharge_title, 0, 0, right)
        surcharge_layout.addWidget(self.surcharge_value, 0, 1, right)
        surcharge_layout.addWidget(self.surcharge_disclosure, 1, 0, 1, 2)
        self.surcharge_line.setVisible(False)
        grid.addWidget(self.surcharge_line, 1, 0, 1, 2)

        total_label = QLabel("Total")
        total_label.setStyleSheet("font-weight: 700;")
        self.total_value = QLabel()
        self.total_value.setObjectName("totalValue")
        self.total_value.setStyleSheet("font-weight: 700; font-size: 12pt;")
        grid.addWidget(total_label, 2, 0, right)
        grid.addWidget(self.total_value, 2, 1, right)
        for value in (self.subtotal_value, self.surcharge_value, self.total_value):
            value.setMinimumWidth(120)
            value.setAlignment(right)
        return box

    def _build_result(self) -> QWidget:
        page = QWidget()
        page.setObjectName("paymentResult")
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.setSpacing(10)
        title_row = QHBoxLayout()
        self.result_pill = StatusPill()
        self.result_title = QLabel()
        self.result_title.setObjectName("resultTitle")
        self.result_title.setStyleSheet("font-size: 15pt; font-weight: 600;")
        title_row.addWidget(self.result_title)
        title_row.addWidget(self.result_pill)
        title_row.addStretch(1)
        layout.addLayout(title_row)
        self.result_message = QLabel()
        self.result_message.setObjectName("resultMessage")
        self.result_message.setWordWrap(True)
        self.result_message.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
        )
        layout.addWidget(self.result_message)
        self.still_owed = QLabel()
        self.still_owed.setObjectName("stillOwed")
        self.still_owed.setWordWrap(True)
        self.still_owed.setStyleSheet("font-weight: 600;")
        self.still_owed.setVisible(False)
        layout.addWidget(self.still_owed)
        self.result_details = QLabel()
        self.result_details.setObjectName("resultDetails")
        self.result_details.setTextFormat(Qt.TextFormat.RichText)
        self.result_details.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
        )
        layout.addWidget(self.result_details)
        self.link_edit = QLineEdit()
        self.link_edit.setObjectName("payLink")
        self.link_edit.setReadOnly(True)
        self.link_edit.setVisible(False)
        layout.addWidget(self.link_edit)
        layout.addStretch(1)

        buttons = QHBoxLayout()
        self.copy_link_button = QPushButton("Copy link")
        self.copy_link_button.setObjectName("copyLinkButton")
        self.copy_link_button.clicked.connect(self.copy_link)
        self.email_link_button = QPushButton("Email link…")
        self.email_link_button.setObjectName("emailLinkButton")
        self.email_link_button.clicked.connect(self.email_link)
        self.receipt_buttons = ReceiptButtons(self, self.receipt, self.money_locale)
        self.print_button = self.receipt_buttons.print_button
        self.pdf_button = self.receipt_buttons.pdf_button
        self.try_again_button = QPushButton("Try another method")
        self.try_again_button.setObjectName("tryAnotherMethodButton")
        self.try_again_button.clicked.connect(self.try_another_method)
        self.done_button = QPushButton("Done")
        self.done_button.setObjectName("doneButton")
        set_themed_style(self.done_button, _PRIMARY_STYLE)
        self.done_button.clicked.connect(self.accept)
        for button in (
            self.copy_link_button,
            self.email_link_button,
            self.print_button,
            self.pdf_button,
        ):
            buttons.addWidget(button)
        buttons.addStretch(1)
        # The way on (Done, or Try another method after a decline) and Close sit where the
        # platform puts a dialog's main and dismissing buttons.
        self.result_buttons = QDialogButtonBox()
        self.result_buttons.setObjectName("resultButtons")
        self.result_buttons.addButton(
            self.try_again_button, QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.result_buttons.addButton(self.done_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addWidget(self.result_buttons)
        layout.addLayout(buttons)
        return page

    def _set_done_role(self, main: bool) -> None:
        """Done is the main button; Close (beside Try another method) dismisses."""
        role = (QDialogButtonBox.ButtonRole.AcceptRole if main
                else QDialogButtonBox.ButtonRole.RejectRole)
        if self.result_buttons.buttonRole(self.done_button) != role:
            self.result_buttons.removeButton(self.done_button)
            self.result_buttons.addButton(self.done_button, role)

    @staticmethod
    def _error_label(name: str) -> QLabel:
        label = QLabel()
        label.setObjectName(name)
        label.setWordWrap(True)
        set_themed_style(label, "color: #A02727;")
        label.setVisible(False)
        return label

    # --- loading -------------------------------------------------------------------------
    def _load(self) -> None:
        self._task = run_task(
            "open the invoices to pay",
            load_order_context,
            self.context.engine,
            self.currency,
            self.organization_id,
            self.invoice_ids,
            self.gateway,
            self._missing_gateway,
            on_success=self._on_loaded,
            on_failure=self._on_load_failed,
            parent=self,
        )

    def _describe_controls(self) -> None:
        """What a screen reader says after each control's name."""
        describe(self.allocation_table, "How the payment is spread over the invoices; "
                 "type in “To pay” to change an invoice's share")
        describe(self.amount_edit, "How much the client pays now")
        describe(self.full_balance_button, "Pay everything the invoices owe")
        describe(self.method_combo, "The saved card or bank account to charge, or the "
                 "gateway's secure page")
        describe(self.contact_combo, "Who is paying, for the receipt and the Autotask note")
        describe(self.memo_edit, "Shown on the receipt and in the Autotask note")
        describe(self.cancel_button, "Close without paying (Esc)")
        describe(self.pay_button, "Take the payment now")
        describe(self.link_edit, "The address of the secure page to send the client",
                 "Pay link")
        describe(self.copy_link_button, "Copy the secure page's address")
        describe(self.email_link_button, "Send the secure page's address by e-mail")
        describe(self.try_again_button, "Back to the form, to choose another method")
        describe(self.done_button, "Close the dialog")

    def _set_loading(self, loading: bool) -> None:
        self.pay_button.setEnabled(False)
        if loading:
            self.pay_button.setText("Pay")
            self.progress_label.setText("Opening the invoices…")
        self.progress_box.setVisible(loading)

    def _on_loaded(self, order: OrderContext) -> None:
        self.order = order
        self._set_loading(False)
        title = f"{pay_title(order)} — {order.organization_name}"
        self.heading.setText(title)
        self.setWindowTitle(title)
        self._fill_methods(order.methods)
        self._fill_contacts(order.contacts)
        self.recompute()
        if self.amount_edit.hasFocus():
            self.amount_edit.selectAll()  # typing replaces the amount owed
        # Now that the table has its rows, the dialog hugs them: no empty band for one or
        # two invoices.
        self.adjustSize()

    def _on_load_failed(self, failure: WorkerFailure) -> None:
        from app.gui.errors import describe_exception

        self._set_loading(False)
        self._show_form_error(
            f"PayDesk could not open these invoices. {describe_exception(failure.exception)}"
        )

    def _fill_methods(
        self, methods: Sequence[StoredMethod], select_token: str | None = None
    ) -> None:
        blocker = QSignalBlocker(self.method_combo)
        self.method_combo.clear()
        today = _today()
        selected = -1
        for stored in methods:
            method = stored.method
            label = method.summary
            if method.expiry:
                label += f"  (expires {method.expiry})"
            expired = method.is_expired(today.year, today.month)
            if expired:
                label = f"{method.summary}  (expired {method.expiry})"
            elif stored.is_default:
                label += "  — default"
            self.method_combo.addItem(label, _method_key(METHOD_SAVED, stored.id))
            index = self.method_combo.count() - 1
            if expired:
                self._disable_combo_item(index)
            elif selected < 0 or (select_token is not None and stored.token == select_token):
                selected = index
        if methods:
            self.method_combo.insertSeparator(self.method_combo.count())
        self.method_combo.addItem("New card or bank account…", _method_key(METHOD_NEW))
        self.method_combo.addItem("Send a pay link…", _method_key(METHOD_LINK))
        unshareable = self._unshareable_pay_links()
        if unshareable:
            # The gateway's secure page opens only from this computer: a link sent to the
            # client would lead nowhere, so it is offered with the reason instead.
            link = self.method_combo.count() - 1
            self.method_combo.setItemText(link, "Send a pay link… (not available)")
            self.method_combo.setItemData(link, unshareable, Qt.ItemDataRole.ToolTipRole)
            self._disable_combo_item(link)
        if selected < 0:
            selected = self.method_combo.findData(_method_key(METHOD_NEW))
        self.method_combo.setCurrentIndex(selected)
        del blocker
        self._update_method_note()

    def _unshareable_pay_links(self) -> str:
        """Why the connected gateway's pay page cannot be sent to a client ("" when it can)."""
        if self.gateway is None:
            return ""
        # The account key names the provider: "authorizenet:test:…".
        provider = get_provider(str(self.gateway.account_key).split(":", 1)[0])
        if provider is None or provider.shareable_pay_links:
            return ""
        return (f"{provider.name}'s payment form opens only from PayDesk on this computer, so "
                "it cannot be sent to the client as a link. With the client on the phone, "
                "choose New card or bank account… and enter their card or bank account there.")

    def _disable_combo_item(self, index: int) -> None:
        model = self.method_combo.model()
        item = getattr(model, "item", None)
        if callable(item):
            entry = item(index)
            if entry is not None:
                entry.setEnabled(False)

    def _fill_contacts(self, contacts: Sequence[ContactChoice]) -> None:
        self.contact_combo.clear()
        if not contacts:
            self.contact_combo.addItem("No contacts synced for this organization", None)
            self.contact_combo.setEnabled(False)
            return
        self.contact_combo.setEnabled(True)
        for contact in contacts:
            text = f"{contact.name} <{contact.email}>" if contact.email else contact.name
            self.contact_combo.addItem(text, contact.contact_id)

    # --- what the person chose -------------------------------------------------------------
    def method_kind(self) -> str:
        return _parse_method_key(self.method_combo.currentData())[0]

    def selected_method(self) -> StoredMethod | None:
        kind, method_id = _parse_method_key(self.method_combo.currentData())
        if kind != METHOD_SAVED or self.order is None:
            return None
        return next((m for m in self.order.methods if m.id == method_id), None)

    def selected_contact_id(self) -> int | None:
        value = self.contact_combo.currentData()
        return int(value) if isinstance(value, int) else None

    def _method_info(self) -> MethodInfo | None:
        stored = self.selected_method()
        if stored is None:
            return None
        return MethodInfo(stored.method.method_type.value, stored.method.funding)

    # --- editing ------------------------------------------------------------------------------
    @Slot(str)
    def _on_amount_edited(self, text: str) -> None:
        self._amount_text = text
        self._schedule()

    @Slot(QTableWidgetItem)
    def _on_allocation_edited(self, item: QTableWidgetItem) -> None:
        if item.column() != self.COL_PAY:
            return
        invoice_id = item.data(Qt.ItemDataRole.UserRole)
        if invoice_id is None:
            return
        self._allocation_edits[int(invoice_id)] = item.text()
        self._schedule()

    @Slot(int)
    def _on_method_changed(self, _index: int) -> None:
        self._update_method_note()
        self._schedule()

    @Slot()
    def reset_to_full_balance(self) -> None:
        self._amount_text = None
        self._allocation_edits.clear()
        self.recompute()

    def _schedule(self) -> None:
        self.pay_button.setEnabled(False)  # until the summary for this text is known
        self._recompute_timer.start()

    def _update_method_note(self) -> None:
        kind = self.method_kind()
        if kind == METHOD_NEW:
            self.method_note.setText(
                "The gateway's secure page opens in your browser. Enter the card or bank "
                "account there; the payment continues here when the page is done."
            )
        elif kind == METHOD_LINK:
            self.method_note.setText(
                "PayDesk creates a link to the gateway's secure page for this amount. Send it "
                "to the client; the payment is recorded when they complete it."
            )
        else:
            self.method_note.setText("")
        self.method_note.setVisible(bool(self.method_note.text()))

    # --- the summary ---------------------------------------------------------------------------
    @Slot()
    def recompute(self) -> None:
        """Ask the core for the summary of what is typed now, and show it."""
        self._recompute_timer.stop()
        if self.order is None:
            return
        self.summary = compute_order_summary(
            self.order.invoices,
            currency=self.order.currency,
            amount=self._amount_text,
            allocation_edits=self._allocation_edits,
            method=self._method_info(),
            surcharge=self.order.surcharge,
            locale=self.money_locale,
            region=self.order.region,
        )
        self._render(self.summary)

    def _render(self, summary: OrderSummary) -> None:
        fmt = self._fmt
        if self._amount_text is None and summary.amount is not None:
            self.amount_edit.setText(fmt(summary.amount))
        self.full_balance_button.setVisible(
            self._amount_text is not None or bool(self._allocation_edits)
        )
        self._set_error(self.amount_error, summary.amount_error)
        self.amount_edit.setProperty("invalid", summary.amount_error is not None)
        set_themed_style(self.amount_edit,
            "QLineEdit#paymentAmount { border: 1px solid #C0392B; }"
            if summary.amount_error
            else ""
        )
        self._set_error(self.invoices_error, summary.invoices_error)

        blocker = QSignalBlocker(self.allocation_table)
        table = self.allocation_table
        table.setRowCount(len(summary.lines))
        for row, line in enumerate(summary.lines):
            blocked = any(
                inv.invoice_id == line.invoice_id and inv.blocked_reason
                for inv in self.order.invoices
            ) if self.order else False
            number = line.invoice_number or str(line.invoice_id)
            table.setItem(row, self.COL_INVOICE, _plain_item(number))
            table.setItem(row, self.COL_DUE, _plain_item(date_text(line.due_date)))
            table.setItem(row, self.COL_BALANCE, _AmountItem(fmt(line.balance)))
            typed = self._allocation_edits.get(line.invoice_id)
            pay_text = typed if (line.error and typed is not None) else (
                fmt(line.amount) if line.amount is not None else (typed or "—")
            )
            pay_item = _AmountItem(pay_text, editable=not blocked and not self.running)
            pay_item.setData(Qt.ItemDataRole.UserRole, line.invoice_id)
            pay_item.setToolTip("Double-click to change how much goes to this invoice.")
            if line.edited:
                font = pay_item.font()
                font.setBold(True)
                pay_item.setFont(font)
            table.setItem(row, self.COL_PAY, pay_item)
            note = _plain_item("")
            if line.error:
                note.setText(line.error)
                note.setForeground(readable_text(QColor(Qt.GlobalColor.darkRed)))
            elif line.remaining_after is not None and line.remaining_after.minor > 0 and (
                line.amount is not None and line.amount.minor > 0
            ):
                note.setText(f"Leaves {fmt(line.remaining_after)} owing")
                note.setForeground(readable_text(QColor(Qt.GlobalColor.darkGray)))
            elif line.amount is not None and line.amount.minor == 0 and not blocked:
                note.setText("Not paid by this payment")
                note.setForeground(readable_text(QColor(Qt.GlobalColor.darkGray)))
            elif line.remaining_after is not None and line.remaining_after.minor == 0:
                note.setText("Paid in full")
                note.setForeground(readable_text(QColor(Qt.GlobalColor.darkGreen)))
            note.setToolTip(note.text())
            table.setItem(row, self.COL_NOTE, note)
        del blocker
        table.setCurrentCell(-1, -1)
        self._fit_table_height()

        self.subtotal_value.setText(
            fmt(summary.subtotal) if summary.subtotal and summary.total is not None else "—"
        )
        has_surcharge = summary.surcharge.minor > 0
        self.surcharge_line.setVisible(has_surcharge)
        if has_surcharge:
            self.surcharge_title.setText(
                f"Credit card surcharge ({_percent(summary.surcharge_percent)}%)"
            )
            self.surcharge_value.setText(fmt(summary.surcharge))
            self.surcharge_disclosure.setText(summary.surcharge_disclosure or "")
        self.total_value.setText(fmt(summary.total) if summary.total is not None else "—")
        warnings = [w for w in summary.warnings if not w.startswith("Leaves ")]
        self.warning_label.setText(" ".join(warnings))
        self.warning_label.setVisible(bool(warnings))
        problems = self.order.problems if self.order else ()
        self._show_form_error(problems[0] if problems else None)
        self._update_pay_button()

    def _fit_table_height(self) -> None:
        """Exactly as tall as its rows, up to eight; more than eight scroll."""
        table = self.allocation_table
        rows = min(table.rowCount(), 8)
        header = table.horizontalHeader()
        height = max(header.height(), header.sizeHint().height()) + 2 * table.frameWidth() + 2
        for row in range(rows):
            height += table.rowHeight(row)
        table.setFixedHeight(height)

    def _update_pay_button(self) -> None:
        summary = self.summary
        total = summary.total if summary is not None else None
        kind = self.method_kind()
        amount = self._fmt(total) if total is not None else ""
        if kind == METHOD_LINK:
            text = f"Create pay link for {amount}" if amount else "Create pay link"
        elif kind == METHOD_NEW:
            text = f"Pay {amount} on the secure page" if amount else "Pay"
        else:
            text = f"Pay {amount}" if amount else "Pay"
        if self.test_mode:
            text += " (test mode)"
        self.pay_button.setText(text)
        self.pay_button.setEnabled(self.can_pay())
        self._keep_pay_button_whole()

    def _keep_pay_button_whole(self) -> None:
        """The dialog never gets narrower than the Pay button's whole text needs: the amount
        on it is what the person checks before clicking."""
        buttons_width = (
            self.pay_button.sizeHint().width() + self.cancel_button.sizeHint().width() + 60
        )
        layout = self.layout()
        extra = 0
        if layout is not None:
            margins = layout.contentsMargins()
            extra = margins.left() + margins.right()
        self.setMinimumWidth(max(self.MIN_WIDTH, buttons_width + extra))

    def can_pay(self) -> bool:
        """Pay is possible with a summary without errors, a gateway, and nothing running."""
        return (
            not self.running
            and self.summary is not None
            and self.summary.can_pay
            and self.gateway is not None
            and self.order is not None
            and not self.order.problems
            and (self.method_kind() != METHOD_SAVED or self.selected_method() is not None)
        )

    def _set_error(self, label: QLabel, text: str | None) -> None:
        label.setText(text or "")
        label.setVisible(bool(text))

    def _show_form_error(self, text: str | None) -> None:
        self._set_error(self.form_error, text)

    def _fmt(self, value: Money | None) -> str:
        return value.format(self.money_locale) if value is not None else ""

    # --- paying ---------------------------------------------------------------------------------
    @Slot()
    def pay(self) -> None:
        """Start the payment with what the summary says. Does nothing unless Pay is possible."""
        self.recompute()  # the summary for exactly what is on screen now
        if not self.can_pay():
            return
        kind = self.method_kind()
        if kind == METHOD_NEW:
            self._start_new_method()
        elif kind == METHOD_LINK:
            self._start_pay_link()
        else:
            self._start_charge()

    def _set_running(self, running: bool, message: str = "") -> None:
        self.running = running
        for widget in (
            self.amount_edit,
            self.method_combo,
            self.contact_combo,
            self.memo_edit,
            self.full_balance_button,
        ):
            widget.setEnabled(not running)
        self.allocation_table.setEditTriggers(
            QAbstractItemView.EditTrigger.NoEditTriggers
            if running
            else QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.SelectedClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
        )
        self.progress_label.setText(message)
        self.progress_box.setVisible(running)
        if not running:
            self.page_link.setVisible(False)
        # While waiting, the progress line and the page's address say what is happening.
        self.method_note.setVisible(not running and bool(self.method_note.text()))
        self.cancel_button.setEnabled(not running or self._hosted_session_id is not None)
        self.cancel_button.setText(
            "Stop waiting" if running and self._hosted_session_id is not None else "Cancel"
        )
        self._update_pay_button()

    def _pipeline(self) -> PaymentPipeline:
        assert self.gateway is not None
        return PaymentPipeline(self.context.engine, self.gateway)

    def _start_charge(self) -> None:
        assert self.summary is not None and self.order is not None and self.gateway is not None
        stored = self.selected_method()
        assert stored is not None
        request = self._payment_request(stored)
        self._set_running(True, self.charging_message(stored))
        self._task = run_task(
            "take the payment",
            self._pipeline().pay,
            request,
            on_success=self._on_payment_done,
            on_failure=self._on_payment_failed,
            parent=self,
        )

    @staticmethod
    def charging_message(stored: StoredMethod) -> str:
        return (
            f"Charging {stored.summary}… Keep this window open; PayDesk recorded the payment "
            "before contacting the gateway, so it is never charged twice."
        )

    def _payment_request(self, stored: StoredMethod | None) -> PaymentRequest:
        assert self.summary is not None and self.order is not None
        return PaymentRequest.from_summary(
            self.summary,
            organization_id=self.order.organization_id,
            payment_method_id=stored.id if stored is not None else None,
            contact_id=self.selected_contact_id(),
            memo=self.memo_edit.text(),
        )

    def _on_payment_done(self, outcome: PaymentOutcome) -> None:
        self.outcome = outcome
        self._set_running(False)
        self.paymentFinished.emit(outcome.payment_id)
        self.context.changes().announce_payments([outcome.payment_id], self.invoice_ids)
        self._show_outcome(outcome)

    def _on_payment_failed(self, failure: WorkerFailure) -> None:
        from app.gui.errors import describe_exception

        self._poll_timer.stop()
        self._hosted_session_id = None
        self.hosted = None
        self._set_running(False)
        exc = failure.exception
        self._show_form_error(exc.message if isinstance(exc, PaymentRefused) else
                              describe_exception(exc))
        # Balances may have changed (another seat paid meanwhile): read them again.
        self._reload_invoices()

    def _reload_invoices(self) -> None:
        run_task(
            "read the invoices again",
            load_order_context,
            self.context.engine,
            self.currency,
            self.organization_id,
            self.invoice_ids,
            self.gateway,
            self._missing_gateway,
            on_success=self._on_reloaded,
            on_failure=lambda _f: None,
            parent=self,
        )

    def _on_reloaded(self, order: OrderContext) -> None:
        error = self.form_error.text()
        self.order = order
        self.recompute()
        if error:
            self._show_form_error(error)

    # --- the gateway's secure page: a new card or bank account, or a pay link ----------------
    def _start_new_method(self) -> None:
        self._start_hosted("new_method", "Opening the gateway's secure page…")

    def _start_pay_link(self) -> None:
        self._start_hosted("pay_link", "Creating the pay link…")

    def _start_hosted(self, purpose: str, message: str) -> None:
        self._hosted_purpose = purpose
        self._set_running(True, message)
        self._task = run_task(
            "open the gateway's secure page" if purpose == "new_method" else "create the pay link",
            self._pipeline().start_hosted_payment,
            self._payment_request(None),
            purpose=purpose,
            on_success=self._on_hosted_started,
            on_failure=self._on_payment_failed,
            parent=self,
        )

    def _on_hosted_started(self, hosted: HostedPayment) -> None:
        self.hosted = hosted
        self._hosted_session_id = hosted.session_id
        if self._hosted_purpose == "pay_link":
            self._set_running(False)
            self._show_pay_link(hosted)
        else:
            self.page_link.setVisible(True)
            self.page_link.open(hosted.url, shareable=pages_are_shareable(self.gateway))
            self._set_running(
                True,
                "Waiting for the secure page… Enter the card or bank account there; the "
                "payment is recorded here when the page is done.",
            )
        self._poll_timer.start()

    @Slot()
    def _poll_hosted(self) -> None:
        if self.hosted is None or self.gateway is None:
            self._poll_timer.stop()
            return
        if self._poll_task is not None and self._poll_task.is_running:
            return  # the previous look is still on its way
        self._poll_task = run_task(
            "check the secure page",
            self._pipeline().check_hosted_payment,
            self.hosted.payment_id,
            on_success=self._on_hosted_status,
            on_failure=self._on_poll_failed,
            parent=self,
        )

    def _on_poll_failed(self, failure: WorkerFailure) -> None:
        # A dropped connection while polling changes nothing: the next poll asks again.
        log.info("Polling the secure page failed: %s", failure.exception)

    def _on_hosted_status(self, outcome: PaymentOutcome) -> None:
        if outcome.state is PaymentState.AWAITING_CLIENT:
            return
        self._poll_timer.stop()
        self._hosted_session_id = None
        self._on_payment_done(outcome)

    # --- the outcome -----------------------------------------------------------------------------
    def _show_outcome(self, outcome: PaymentOutcome) -> None:
        state = outcome.state
        self.link_edit.setVisible(False)
        self.copy_link_button.setVisible(False)
        self.email_link_button.setVisible(False)
        self.print_button.setVisible(outcome.approved)
        self.pdf_button.setVisible(outcome.approved)
        self.try_again_button.setVisible(state in (PaymentState.DECLINED, PaymentState.FAILED))
        self.done_button.setText("Done" if outcome.approved else "Close")
        retry = self.try_again_button.isVisibleTo(self.result_page)
        # The next step a bookkeeper takes is the highlighted one.
        set_themed_style(self.try_again_button, _PRIMARY_STYLE if retry else "")
        set_themed_style(self.done_button, "" if retry else _PRIMARY_STYLE)
        self._set_done_role(not retry)
        total = self._fmt(outcome.total)
        mode = " (test mode)" if outcome.test_mode else ""
        owed = still_owed_text(self.summary, self._fmt)
        self.still_owed.setText(owed)
        self.still_owed.setVisible(
            bool(owed) and state in (PaymentState.SUCCEEDED, PaymentState.PROCESSING)
        )
        if state is PaymentState.SUCCEEDED:
            self.result_title.setText(f"Payment approved — {total}{mode}")
            self.result_pill.set_status("Approved", Tone.SUCCESS)
            self.result_message.setText(
                "The payment is recorded and the invoices' balances are updated. PayDesk "
                "posts it to Autotask (and to QuickBooks, when it is connected) in the "
                "background; Transactions shows when it has."
            )
        elif state is PaymentState.PROCESSING:
            self.result_title.setText(f"Bank debit submitted — {total}{mode}")
            self.result_pill.set_status("Processing", Tone.WARNING)
            self.result_message.setText(outcome.message)
        elif state is PaymentState.DECLINED:
            self.result_title.setText("Payment declined")
            self.result_pill.set_status("Declined", Tone.DANGER)
            self.result_message.setText(
                (outcome.decline_reason or outcome.message) + " Nothing was charged."
            )
        elif outcome.pending:
            self.result_title.setText("Not confirmed yet")
            self.result_pill.set_status("Checking with the gateway", Tone.WARNING)
            self.result_message.setText(outcome.message)
        else:
            self.result_title.setText("The payment did not go through")
            self.result_pill.set_status(state.label, Tone.DANGER)
            self.result_message.setText(outcome.message)
        self.result_details.setText(self._details_html(outcome))
        self.pages.setCurrentWidget(self.result_page)
        (self.try_again_button if retry else self.done_button).setFocus()

    def _details_html(self, outcome: PaymentOutcome | HostedPayment) -> str:
        """Facts on the left; the money, right-aligned like a ledger, below them."""
        facts: list[tuple[str, str]] = [("Reference", outcome.reference)]
        if isinstance(outcome, PaymentOutcome):
            if outcome.gateway_transaction_id:
                facts.append(("Gateway transaction ID", outcome.gateway_transaction_id))
            if outcome.method_summary:
                facts.append(("Method", outcome.method_summary))
        amounts: list[tuple[str, str, bool]] = []
        if self.summary is not None:
            for line in self.summary.lines:
                if line.amount is not None and line.amount.minor > 0:
                    amounts.append((line.label, self._fmt(line.amount), False))
        surcharge = outcome.surcharge if isinstance(outcome, PaymentOutcome) else None
        if surcharge is not None and surcharge.minor > 0:
            amounts.append(("Credit card surcharge", self._fmt(surcharge), False))
        if isinstance(outcome, PaymentOutcome) and not outcome.approved and not outcome.pending:
            total_label = "Total (not charged)"
        elif isinstance(outcome, PaymentOutcome) and outcome.approved:
            total_label = "Total charged"
        else:
            total_label = "Total"
        amounts.append((total_label, self._fmt(outcome.total), True))

        def cell(text: str, bold: bool) -> str:
            escaped = html.escape(text)
            return f"<b>{escaped}</b>" if bold else escaped

        fact_rows = "".join(
            f"<tr><td style='color:#4A5465; padding-right:24px'>{html.escape(k)}</td>"
            f"<td>{html.escape(v)}</td></tr>"
            for k, v in facts
        )
        money_rows = "".join(
            f"<tr><td style='padding-right:48px'>{cell(k, bold)}</td>"
            f"<td align='right'>{cell(v, bold)}</td></tr>"
            for k, v, bold in amounts
        )
        return (
            f"<table cellspacing='0' cellpadding='3'>{fact_rows}</table>"
            f"<br><table cellspacing='0' cellpadding='3'>{money_rows}</table>"
        )

    def _show_pay_link(self, hosted: HostedPayment) -> None:
        self.still_owed.setVisible(False)
        self.result_title.setText(f"Pay link ready — {self._fmt(hosted.total)}")
        self.result_pill.set_status("Waiting for the client", Tone.INFO)
        expires = (
            f" The link works until {datetime_text(hosted.expires_at)}."
            if hosted.expires_at
            else ""
        )
        self.result_message.setText(
            "Send this link to the client. The payment is recorded here, and the invoices are "
            "updated, when the client completes the secure page. You can close this window; "
            f"the payment then appears in Transactions.{expires}"
        )
        self.result_details.setText(self._details_html(hosted))
        self.link_edit.setText(hosted.url)
        self.link_edit.setVisible(True)
        self.copy_link_button.setVisible(True)
        self.email_link_button.setVisible(True)
        self.print_button.setVisible(False)
        self.pdf_button.setVisible(False)
        self.try_again_button.setVisible(False)
        self.done_button.setText("Close")
        self.pages.setCurrentWidget(self.result_page)

    @Slot()
    def try_another_method(self) -> None:
        """Back to the form after a decline, with the method list open for another choice."""
        self.outcome = None
        self.pages.setCurrentWidget(self.form_page)
        self._reload_invoices()
        self.method_combo.setFocus()
        self._show_form_error(None)

    @Slot()
    def copy_link(self) -> None:
        QGuiApplication.clipboard().setText(self.link_edit.text())
        self.copy_link_button.setText("Copied")

    @Slot()
    def email_link(self) -> None:
        """Email the link through PayDesk's outbox (app.gui.email_pay_links)."""
        if self.hosted is not None:
            from app.gui.email_pay_links import open_pay_link_email

            open_pay_link_email(self, self.context, self.hosted.payment_id)

    def receipt(self) -> Receipt | None:
        """The receipt of the approved payment shown now, or None."""
        outcome = self.outcome
        if outcome is None or not outcome.approved or self.summary is None or self.order is None:
            return None
        lines = [
            ReceiptLine(line.invoice_number or str(line.invoice_id), line.amount)
            for line in self.summary.lines
            if line.amount is not None and line.amount.minor > 0
        ]
        contact = self.contact_combo.currentText() if self.selected_contact_id() else None
        return Receipt(
            reference=outcome.reference,
            organization=self.order.organization_name,
            paid_at=outcome.completed_at or utcnow(),
            status_label=outcome.state.label,
            method=outcome.method_summary or "",
            lines=lines,
            subtotal=outcome.amount,
            surcharge=outcome.surcharge,
            total=outcome.total,
            gateway_transaction_id=outcome.gateway_transaction_id,
            contact=contact,
            memo=self.memo_edit.text().strip() or None,
            test_mode=outcome.test_mode,
            surcharge_disclosure=self.summary.surcharge_disclosure,
        )

    # --- closing ----------------------------------------------------------------------------------
    @Slot()
    def _on_cancel_clicked(self) -> None:
        if self.running and self._hosted_session_id is not None:
            self._stop_waiting()
            return
        self.reject()

    def _stop_waiting(self) -> None:
        """The bookkeeper stopped waiting for the secure page: close it at the gateway. If the
        client completed it meanwhile, the core records the payment and the outcome shows."""
        if self.hosted is None:
            return
        self._poll_timer.stop()
        self.progress_label.setText("Closing the secure page…")
        self.cancel_button.setEnabled(False)
        self._task = run_task(
            "close the secure page",
            self._pipeline().cancel_hosted_payment,
            self.hosted.payment_id,
            on_success=self._on_hosted_cancelled,
            on_failure=self._on_payment_failed,
            parent=self,
        )

    def _on_hosted_cancelled(self, outcome: PaymentOutcome) -> None:
        expires_at = self.hosted.expires_at if self.hosted is not None else None
        self._hosted_session_id = None
        self.hosted = None
        if outcome.state is PaymentState.AWAITING_CLIENT:
            # The gateway cannot withdraw its form (Authorize.Net's stays usable until its
            # token expires): say what that means instead of "waiting for the client".
            self._set_running(False)
            until = f" until {time_text(expires_at)}" if expires_at is not None else ""
            self._show_form_error(
                f"Stopped waiting. The gateway keeps its secure page usable{until} and PayDesk "
                "cannot close it sooner: a card or bank account entered on it by then is "
                "charged, and the payment is recorded in Transactions. If you pay another way, "
                "close that page in your browser first."
            )
            return
        if outcome.state is PaymentState.EXPIRED:
            self._set_running(False)
            self._show_form_error(
                "The secure page was closed; nothing was charged. Choose a method and try "
                "again."
            )
            return
        self._on_payment_done(outcome)

    def reject(self) -> None:
        if self.running:
            return  # never close while a charge is on its way; the outcome must be shown
        super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.running and self._hosted_session_id is None:
            # Never close while a charge is on its way: the outcome must be seen.
            event.ignore()
            self.progress_label.setText(
                "Please wait: PayDesk is waiting for the gateway's answer, so the outcome can "
                "be shown and recorded."
            )
            return
        self._poll_timer.stop()
        super().closeEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if self.running and event.key() == Qt.Key.Key_Escape:
            event.ignore()
            return
        super().keyPressEvent(event)


# --------------------------------------------------------------------------------------------
# Pool-thread helpers for the hosted page
# --------------------------------------------------------------------------------------------


def pay_title(order: OrderContext | None, count: int = 0) -> str:
    """"Pay invoice 1045" for one invoice, "Pay 3 invoices" for several."""
    if order is not None:
        count = len(order.invoices)
        if count == 1:
            only = order.invoices[0]
            return f"Pay invoice {only.invoice_number or only.invoice_id}"
    return "Pay invoice" if count == 1 else f"Pay {count} invoices"


def still_owed_text(summary: OrderSummary | None, fmt: Any) -> str:
    """After a partial payment: what is still owed, and on which invoices ("" when nothing)."""
    if summary is None:
        return ""
    owing = [line for line in summary.lines
             if line.remaining_after is not None and line.remaining_after.minor > 0]
    if not owing:
        return ""
    total = owing[0].remaining_after
    assert total is not None
    for line in owing[1:]:
        assert line.remaining_after is not None
        total = total + line.remaining_after
    numbers = ", ".join(line.invoice_number or str(line.invoice_id) for line in owing)
    which = f"invoice {numbers}" if len(owing) == 1 else f"invoices {numbers}"
    return f"{fmt(total)} is still owed on {which}."


def _percent(value: Any) -> str:
    return format(value.normalize(), "f")


def _today() -> date:
    return utcnow().astimezone().date()


_PRIMARY_STYLE = (
    "QPushButton { background: #2457C5; color: white; border: 1px solid #2457C5;"
    " border-radius: 6px; padding: 6px 16px; font-weight: 600; }"
    "QPushButton:hover { background: #1E4AA8; }"
    "QPushButton:disabled { background: #A9BDE6; border-color: #A9BDE6; color: #F4F7FD; }"
)
