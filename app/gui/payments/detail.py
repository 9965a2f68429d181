"""A payment's detail: what was paid, where the money went, refunds, postings (to Autotask
and every other connected channel) and
the full history — and the Refund (or Void) action.

``PaymentDetailDialog`` renders ``app.core.payments.payment_detail`` (a frozen snapshot read
in a worker). ``RefundDialog`` asks how much (everything left, or part of it) and why; the
core's pipeline records the refund before the gateway is called, reopens the invoices and
queues the reversal note for Autotask. A bank debit that has not settled is voided (in full)
instead of refunded.

Everything here runs on the GUI thread except the functions handed to ``run_task``.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.invoice_state import InvoiceStatus
from app.core.money import InvalidAmountError, Money
from app.core.payments import (
    PaymentDetail,
    PaymentPipeline,
    PaymentRefused,
    PaymentState,
    RefundOutcome,
    RefundState,
    payment_detail,
)
from app.core.posting.actions import PostingActionResult
from app.gui.changes import RefreshOnChange
from app.gui.context import AppContext
from app.gui.payments.common import (
    PAYMENT_STATE_TONES,
    POSTING_STATE_TONES,
    TestModeBanner,
    current_gateway,
    datetime_text,
    missing_gateway_text,
    use_gateway,
)
from app.gui.payments.posting_actions import PostingActions
from app.gui.payments.receipt import Receipt, ReceiptButtons, ReceiptLine
from app.gui.theme import set_themed_style
from app.gui.widgets import StatusPill, StatusPillDelegate, Tone
from app.gui.widgets.accessible import describe
from app.gui.widgets.pill import PILL_TONE_ROLE
from app.gui.workers import Task, WorkerFailure, run_task

_REFUND_TONES = {
    RefundState.CREATED: Tone.INFO,
    RefundState.UNKNOWN: Tone.WARNING,
    RefundState.PENDING: Tone.INFO,
    RefundState.SUCCEEDED: Tone.SUCCESS,
    RefundState.FAILED: Tone.DANGER,
}

_CHANNELS = {
    "saved_method": "Saved method, charged from PayDesk",
    "pay_link": "Pay link, completed by the client",
    "new_method": "New method, entered on the gateway's secure page",
}


def _item(text: str, *, right: bool = False, tooltip: str | None = None) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    if right:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    if tooltip:
        item.setToolTip(tooltip)
    return item


def _pill_item(text: str, tone: Tone) -> QTableWidgetItem:
    item = _item(text)
    item.setData(PILL_TONE_ROLE, tone.value)
    return item


def _table(name: str, headers: Sequence[str], right: Sequence[int] = ()) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setTabKeyNavigation(False)  # Tab leaves the table (Tab order)
    table.setObjectName(name)
    table.setHorizontalHeaderLabels(list(headers))
    for column in right:
        header_item = table.horizontalHeaderItem(column)
        if header_item is not None:
            header_item.setTextAlignment(
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
            )
    table.verticalHeader().setVisible(False)
    table.verticalHeader().setDefaultSectionSize(28)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(True)
    return table


class PaymentDetailDialog(QDialog):
    """One payment, in full. ``paymentChanged(int)`` fires after a refund, void or posting
    action so lists can refresh that row."""

    paymentChanged = Signal(int)

    def __init__(self, context: AppContext, payment_id: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("paymentDetailDialog")
        self.setWindowTitle("Payment")
        self.setMinimumSize(820, 560)
        self.context = context
        self.money_locale = context.locale
        self.payment_id = payment_id
        self.detail: PaymentDetail | None = None
        self._task: Task | None = None
        self.refund_dialog: RefundDialog | None = None
        self._build()
        # Refund and Void need the gateway opened at start (in a worker): follow it.
        context.changes().gatewayChanged.connect(self._update_actions)
        use_gateway(context)
        self.reload()
        bus = context.changes()
        # Refunded, settled or posted from another screen while open: shown at once.
        RefreshOnChange(self, self._on_changes, bus.paymentsChanged, bus.postingsChanged)

    @Slot(object)
    def _on_changes(self, payment_ids: list[int]) -> None:
        if not payment_ids or self.payment_id in payment_ids:
            self.reload()

    # --- building ------------------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 16, 18, 14)
        layout.setSpacing(10)
        title_row = QHBoxLayout()
        self.title = QLabel("Payment")
        self.title.setObjectName("dialogHeading")
        self.title.setStyleSheet("font-size: 14pt; font-weight: 600;")
        self.state_pill = StatusPill()  # object name "statusPill" carries its style
        title_row.addWidget(self.title)
        title_row.addWidget(self.state_pill)
        title_row.addStretch(1)
        self.total_label = QLabel()
        self.total_label.setObjectName("paymentTotal")
        self.total_label.setStyleSheet("font-size: 14pt; font-weight: 700;")
        title_row.addWidget(self.total_label)
        layout.addLayout(title_row)
        self.test_banner = TestModeBanner()
        self.test_banner.setText(
            "TEST MODE — this payment was made with the gateway's test keys. No real money "
            "moved."
        )
        self.test_banner.setVisible(False)
        layout.addWidget(self.test_banner)
        self.notice = QLabel()
        self.notice.setObjectName("paymentNotice")
        self.notice.setWordWrap(True)
        set_themed_style(self.notice,
            "QLabel#paymentNotice { background: #DFF2E6; color: #1D6B3B; border-radius: 6px;"
            " padding: 6px 10px; }"
        )
        self.notice.setVisible(False)
        layout.addWidget(self.notice)
        self.failure_label = QLabel()
        self.failure_label.setObjectName("paymentFailure")
        self.failure_label.setWordWrap(True)
        set_themed_style(self.failure_label, "color: #A02727;")
        self.failure_label.setVisible(False)
        layout.addWidget(self.failure_label)

        facts = QWidget()
        self.facts = QGridLayout(facts)
        self.facts.setContentsMargins(0, 0, 0, 0)
        self.facts.setHorizontalSpacing(18)
        self.facts.setVerticalSpacing(4)
        self.facts.setColumnStretch(1, 1)
        money = QFrame()
        money.setObjectName("paymentMoney")
        set_themed_style(money,
            "QFrame#paymentMoney { background: #F7F8FA; border: 1px solid #DDE1E7;"
            " border-radius: 6px; }"
        )
        self.money = QGridLayout(money)
        self.money.setContentsMargins(14, 8, 14, 8)
        self.money.setHorizontalSpacing(24)
        self.money.setVerticalSpacing(3)
        top = QHBoxLayout()
        top.setSpacing(18)
        top.addWidget(facts, 1)
        top.addWidget(money, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(top)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("paymentDetailTabs")
        self.invoices_table = _table(
            "paymentAllocations",
            ["Invoice", "Applied", "Refunded", "Balance now", "Invoice status"],
            right=(1, 2, 3),
        )
        self.refunds_table = _table(
            "paymentRefunds",
            ["Date", "Reference", "Kind", "Amount", "Status", "Reason", "Gateway refund ID"],
            right=(3,),
        )
        self.postings_table = _table(
            "paymentPostings", ["Posting", "Status", "Attempts", "Last error"]
        )
        self.history_table = _table("paymentHistory", ["When", "Who", "What"])
        pill = StatusPillDelegate(self)
        self.invoices_table.setItemDelegateForColumn(4, pill)
        self.refunds_table.setItemDelegateForColumn(4, pill)
        self.postings_table.setItemDelegateForColumn(1, pill)
        self.tabs.addTab(self.invoices_table, "Invoices")
        refunds_page = QWidget()
        refunds_layout = QVBoxLayout(refunds_page)
        refunds_layout.setContentsMargins(0, 6, 0, 0)
        refunds_layout.addWidget(self.refunds_table)
        #: Why the latest refund that failed did not go through (the gateway's rule, in words).
        self.refund_failure = QLabel()
        self.refund_failure.setObjectName("refundFailure")
        self.refund_failure.setWordWrap(True)
        self.refund_failure.hide()
        refunds_layout.addWidget(self.refund_failure)
        self.tabs.addTab(refunds_page, "Refunds")
        postings_page = QWidget()
        postings_layout = QVBoxLayout(postings_page)
        postings_layout.setContentsMargins(0, 6, 0, 0)
        postings_layout.addWidget(self.postings_table)
        posting_buttons = QHBoxLayout()
        self.posting_status = QLabel()
        self.posting_status.setObjectName("secondaryText")
        self.posting_status.setWordWrap(True)
        posting_buttons.addWidget(self.posting_status, 1)
        self.posting_actions = PostingActions(self, self.context)
        self.posting_actions.started.connect(lambda: self.posting_status.setText("Posting…"))
        self.posting_actions.finished.connect(self._on_posting_action)
        self.posting_actions.failed.connect(self._on_posting_failed)
        self.retry_button = self.posting_actions.retry_button
        self.dismiss_button = self.posting_actions.dismiss_button
        posting_buttons.addWidget(self.retry_button)
        posting_buttons.addWidget(self.dismiss_button)
        postings_layout.addLayout(posting_buttons)
        self.tabs.addTab(postings_page, "Postings")
        self.tabs.addTab(self.history_table, "History")
        layout.addWidget(self.tabs, 1)

        buttons = QHBoxLayout()
        self.refund_button = QPushButton("Refund…")
        self.refund_button.setObjectName("refundButton")
        self.refund_button.clicked.connect(self.open_refund)
        self.void_button = QPushButton("Void…")
        self.void_button.setObjectName("voidButton")
        self.void_button.clicked.connect(self.open_void)
        self.receipt_buttons = ReceiptButtons(self, self.receipt, self.money_locale)
        self.print_button = self.receipt_buttons.print_button
        self.pdf_button = self.receipt_buttons.pdf_button
        close = QPushButton("Close")
        close.setObjectName("closeButton")
        close.clicked.connect(self.accept)
        for button in (self.refund_button, self.void_button, self.print_button, self.pdf_button):
            buttons.addWidget(button)
            button.setEnabled(False)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout.addLayout(buttons)
        describe(self.refund_button, "Give back all or part of this payment")
        describe(self.void_button, "Cancel this bank debit before it settles")
        describe(close, "Close the payment (Esc)")
        describe(self.invoices_table, "The invoices this payment paid", "Invoices paid")
        describe(self.refunds_table, "Refunds of this payment", "Refunds")
        describe(self.postings_table, "What PayDesk told Autotask and your books",
                 "Postings")
        describe(self.history_table, "Everything that happened to this payment", "History")

    # --- loading ---------------------------------------------------------------------------------
    @Slot()
    def reload(self) -> None:
        self._task = run_task(
            "open the payment",
            payment_detail,
            self.context.engine,
            self.payment_id,
            on_success=self._show,
            parent=self,
        )

    def _show(self, detail: PaymentDetail | None) -> None:
        if detail is None:
            self.title.setText("Payment not found")
            return
        self.detail = detail
        fmt = self._fmt
        self.setWindowTitle(f"Payment {detail.reference} — {detail.organization_name}")
        self.title.setText(f"Payment {detail.reference}")
        self.state_pill.set_status(
            detail.state.label, PAYMENT_STATE_TONES.get(detail.state.value, Tone.NEUTRAL)
        )
        self.total_label.setText(fmt(detail.total))
        self.test_banner.setVisible(detail.test_mode)
        failure = detail.failure_message if detail.state in (
            PaymentState.DECLINED, PaymentState.FAILED, PaymentState.RETURNED
        ) else None
        self.failure_label.setText(failure or "")
        self.failure_label.setVisible(bool(failure))

        facts: list[tuple[str, str]] = [
            ("Organization", detail.organization_name),
            ("Date", datetime_text(detail.created_at)),
            ("Contact", detail.contact or "—"),
            ("Completed", datetime_text(detail.completed_at) or "—"),
            ("Method", detail.method_summary or "—"),
            ("Taken by", detail.created_by),
            ("Gateway transaction ID", detail.gateway_transaction_id or "—"),
            ("How", _CHANNELS.get(detail.channel, detail.channel)),
        ]
        money: list[tuple[str, str, bool]] = [("Applied to invoices", fmt(detail.amount), False)]
        if detail.surcharge:
            money.append(("Credit card surcharge", fmt(detail.surcharge), False))
        money.append(("Total charged", fmt(detail.total), True))
        if detail.refunded:
            money.append(("Refunded", f"−{fmt(detail.refunded)}", False))
            money.append(("Net received", fmt(detail.total - detail.refunded), True))
        self._fill_money(money)
        if detail.memo:
            facts.append(("Memo", detail.memo))
        if detail.pay_link_url:
            facts.append(("Pay link", detail.pay_link_url))
        self._fill_facts(facts)
        self._fill_allocations(detail)
        self._fill_refunds(detail)
        self._fill_postings(detail)
        self._fill_history(detail)
        self._update_actions()

    def _fill_facts(self, facts: Sequence[tuple[str, str]]) -> None:
        while self.facts.count():
            taken = self.facts.takeAt(0)
            widget = taken.widget() if taken is not None else None
            if widget is not None:
                widget.deleteLater()
        for row, (name, value) in enumerate(facts):
            pair = 0
            key = QLabel(name)
            key.setObjectName("fieldLabel")
            set_themed_style(key, "color: #4A5465;")
            shown = QLabel(value)
            shown.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            shown.setWordWrap(name in ("Memo", "Pay link", "How"))
            self.facts.addWidget(key, row, pair * 2)
            self.facts.addWidget(shown, row, pair * 2 + 1)

    def _fill_money(self, rows: Sequence[tuple[str, str, bool]]) -> None:
        """The payment's money, right-aligned like a ledger."""
        while self.money.count():
            taken = self.money.takeAt(0)
            widget = taken.widget() if taken is not None else None
            if widget is not None:
                widget.deleteLater()
        for row, (name, value, bold) in enumerate(rows):
            key = QLabel(name)
            shown = QLabel(value)
            shown.setObjectName("moneyValue")
            shown.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            shown.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            shown.setMinimumWidth(110)
            if bold:
                key.setStyleSheet("font-weight: 700;")
                shown.setStyleSheet("font-weight: 700;")
            self.money.addWidget(key, row, 0)
            self.money.addWidget(shown, row, 1)

    def _fill_allocations(self, detail: PaymentDetail) -> None:
        table = self.invoices_table
        table.setRowCount(len(detail.allocations))
        for row, a in enumerate(detail.allocations):
            try:
                status = InvoiceStatus(a.invoice_status)
                status_text, tone = status.label, _invoice_tone(status)
            except ValueError:
                status_text, tone = a.invoice_status, Tone.NEUTRAL
            table.setItem(row, 0, _item(a.invoice_number))
            table.setItem(row, 1, _item(self._fmt(a.amount), right=True))
            table.setItem(row, 2, _item(self._fmt(a.refunded), right=True))  # $0.00 when none
            table.setItem(row, 3, _item(self._fmt(a.invoice_balance), right=True))
            table.setItem(row, 4, _pill_item(status_text, tone))

    def _fill_refunds(self, detail: PaymentDetail) -> None:
        table = self.refunds_table
        table.setRowCount(len(detail.refunds))
        for row, r in enumerate(detail.refunds):
            table.setItem(row, 0, _item(datetime_text(r.created_at)))
            table.setItem(row, 1, _item(r.reference))
            table.setItem(row, 2, _item("Void" if r.kind == "void" else "Refund"))
            table.setItem(row, 3, _item(self._fmt(r.amount), right=True))
            tone = _REFUND_TONES.get(r.state, Tone.NEUTRAL)
            table.setItem(row, 4, _pill_item(r.state.label, tone))
            table.setItem(row, 5, _item(r.reason or "", tooltip=r.failure_message or r.reason))
            table.setItem(row, 6, _item(r.gateway_refund_id or ""))
        self.tabs.setTabText(1, f"Refunds ({len(detail.refunds)})" if detail.refunds else "Refunds")
        failed = [r for r in detail.refunds if r.failure_message]
        if failed:
            self.refund_failure.setText(
                f"Refund {failed[-1].reference} did not go through: {failed[-1].failure_message}")
        self.refund_failure.setVisible(bool(failed))

    def _fill_postings(self, detail: PaymentDetail) -> None:
        table = self.postings_table
        table.setRowCount(len(detail.postings))
        for row, p in enumerate(detail.postings):
            table.setItem(row, 0, _item(p.target_label, tooltip=f"Posted to {p.channel_label}"))
            tone = POSTING_STATE_TONES.get(p.state, Tone.NEUTRAL)
            table.setItem(row, 1, _pill_item(p.state_label, tone))
            table.setItem(row, 2, _item(str(p.attempts), right=True))
            why = p.last_error or p.waiting_reason or ""
            table.setItem(row, 3, _item(why, tooltip=why or None))
        status = detail.posting_status
        self.tabs.setTabText(2, f"Postings — {status.label}" if detail.postings else "Postings")
        if not detail.postings:
            self.posting_status.setText(
                "Nothing to post: Autotask and your books hear about a payment once the money "
                "is accepted."
            )

    def _fill_history(self, detail: PaymentDetail) -> None:
        table = self.history_table
        table.setRowCount(len(detail.history))
        for row, entry in enumerate(detail.history):
            table.setItem(row, 0, _item(datetime_text(entry.at)))
            table.setItem(row, 1, _item(entry.actor))
            table.setItem(row, 2, _item(entry.text, tooltip=entry.text))

    @Slot()
    def _update_actions(self) -> None:
        detail = self.detail
        gateway = current_gateway(self.context)
        can_refund = detail is not None and detail.can_refund and gateway is not None
        can_void = detail is not None and detail.can_void and gateway is not None
        self.refund_button.setEnabled(can_refund)
        self.refund_button.setVisible(not can_void)
        self.void_button.setVisible(can_void)
        self.void_button.setEnabled(can_void)
        if detail is not None and gateway is None and (detail.can_refund or detail.can_void):
            self.refund_button.setToolTip(missing_gateway_text(self.context))
        elif detail is not None and detail.refund_running:
            self.refund_button.setToolTip(
                "A refund of this payment is still being confirmed by the gateway."
            )
        else:
            self.refund_button.setToolTip("Give back all or part of this payment")
        receipt_ok = detail is not None and detail.state.money_received
        self.receipt_buttons.set_enabled(receipt_ok)
        failing = detail is not None and any(p.can_retry for p in detail.postings)
        where = " and ".join(dict.fromkeys(
            p.channel_label for p in (detail.postings if detail else ()) if p.can_dismiss))
        self.posting_actions.set_payments([self.payment_id] if failing else [], where=where)

    def _fmt(self, value: Money) -> str:
        return value.format(self.money_locale)

    # --- refunds -----------------------------------------------------------------------------
    @Slot()
    def open_refund(self) -> None:
        self._open_refund_dialog(void=False)

    @Slot()
    def open_void(self) -> None:
        self._open_refund_dialog(void=True)

    def _open_refund_dialog(self, *, void: bool) -> None:
        if self.detail is None:
            return
        dialog = RefundDialog(self.context, self.detail, void=void, parent=self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dialog.refunded.connect(self._on_refunded)
        dialog.open()
        self.refund_dialog = dialog

    @Slot(int)
    def _on_refunded(self, payment_id: int) -> None:
        outcome = self.refund_dialog.outcome if self.refund_dialog is not None else None
        if outcome is not None:
            self.notice.setText(outcome.message)
            self.notice.setVisible(True)
        self.paymentChanged.emit(payment_id)
        invoices = [a.invoice_id for a in self.detail.allocations] if self.detail else []
        self.context.changes().announce_payments([payment_id], invoices)
        self.reload()

    # --- postings -----------------------------------------------------------------------------
    def _on_posting_action(self, result: PostingActionResult) -> None:
        self.posting_status.setText(result.message)
        self.paymentChanged.emit(self.payment_id)
        self.reload()

    def _on_posting_failed(self, message: str) -> None:
        self.posting_status.setText(message)
        self._update_actions()

    # --- receipt -----------------------------------------------------------------------------
    def receipt(self) -> Receipt | None:
        detail = self.detail
        if detail is None:
            return None
        return Receipt(
            reference=detail.reference,
            organization=detail.organization_name,
            paid_at=detail.completed_at or detail.created_at,
            status_label=detail.state.label,
            method=detail.method_summary or "",
            lines=[ReceiptLine(a.invoice_number, a.amount) for a in detail.allocations],
            subtotal=detail.amount,
            surcharge=detail.surcharge,
            total=detail.total,
            gateway_transaction_id=detail.gateway_transaction_id,
            contact=detail.contact,
            memo=detail.memo,
            test_mode=detail.test_mode,
        )


def _invoice_tone(status: InvoiceStatus) -> Tone:
    from app.gui.widgets import invoice_status_tone

    return invoice_status_tone(status)


class RefundDialog(QDialog):
    """Refund all or part of a payment (or void an unsettled bank debit), with a reason.

    ``refunded(int)`` fires with the payment id once the core recorded the outcome.
    """

    refunded = Signal(int)

    def __init__(
        self,
        context: AppContext,
        detail: PaymentDetail,
        *,
        void: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("voidDialog" if void else "refundDialog")
        self.context = context
        self.detail = detail
        self.void = void
        self.money_locale = context.locale
        self.running = False
        self.outcome: RefundOutcome | None = None
        self.gateway = current_gateway(context)
        context.changes().gatewayChanged.connect(self._on_gateway_changed)
        use_gateway(context)
        noun = "Void" if void else "Refund"
        self.setWindowTitle(f"{noun} payment {detail.reference}")
        self.setMinimumWidth(480)
        self.maximum = detail.total if void else detail.refundable

        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        heading = QLabel(f"{noun} payment {detail.reference} — {detail.organization_name}")
        heading.setObjectName("dialogHeading")
        heading.setWordWrap(True)
        layout.addWidget(heading)
        if detail.test_mode:
            banner = TestModeBanner()
            banner.setText("TEST MODE — no real money moves.")
            layout.addWidget(banner)
        to_whom = detail.method_summary or "the client"
        explanation = QLabel(
            "The bank debit has not settled yet, so it is cancelled in full; nothing reaches "
            "the client's account." if void else
            f"Up to {self._fmt(self.maximum)} can be refunded to {to_whom}. The invoices the "
            "money paid reopen for the refunded amount, and Autotask gets a matching note."
        )
        explanation.setWordWrap(True)
        layout.addWidget(explanation)

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.full_radio = QRadioButton(f"Everything left: {self._fmt(self.maximum)}")
        self.full_radio.setObjectName("refundFull")
        self.partial_radio = QRadioButton("Part of it:")
        self.partial_radio.setObjectName("refundPartial")
        self.amount_edit = QLineEdit()
        self.amount_edit.setObjectName("refundAmount")
        self.amount_edit.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.amount_edit.setFixedWidth(140)
        self.amount_edit.setEnabled(False)
        # The amount reads as money, with its currency, like "Everything left" beside it.
        self.amount_edit.setPlaceholderText(self._fmt(Money.zero(self.maximum.currency)))
        self.amount_edit.editingFinished.connect(self.tidy_amount)
        group = QButtonGroup(self)
        group.addButton(self.full_radio)
        group.addButton(self.partial_radio)
        self.full_radio.setChecked(True)
        self.full_radio.toggled.connect(self._validate)
        self.partial_radio.toggled.connect(self._on_partial_toggled)
        self.amount_edit.textChanged.connect(self._validate)
        if not void:
            partial_row = QHBoxLayout()
            partial_row.addWidget(self.partial_radio)
            partial_row.addWidget(self.amount_edit)
            partial_row.addStretch(1)
            amount_box = QVBoxLayout()
            amount_box.addWidget(self.full_radio)
            amount_box.addLayout(partial_row)
            form.addRow("Amount", amount_box)
        self.amount_error = QLabel()
        self.amount_error.setObjectName("refundAmountError")
        set_themed_style(self.amount_error, "color: #A02727;")
        self.amount_error.setWordWrap(True)
        self.amount_error.setVisible(False)
        form.addRow("", self.amount_error)
        self.reason_edit = QPlainTextEdit()
        self.reason_edit.setTabChangesFocus(True)  # Tab moves on, as in every field
        self.reason_edit.setObjectName("refundReason")
        self.reason_edit.setPlaceholderText(
            "Why — kept in PayDesk's history and in the Autotask note"
        )
        self.reason_edit.setFixedHeight(70)
        self.reason_edit.textChanged.connect(self._validate)
        form.addRow("Reason", self.reason_edit)
        layout.addLayout(form)

        self.message = QLabel()
        self.message.setObjectName("refundMessage")
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.reject)
        self.confirm_button = QPushButton(noun)
        self.confirm_button.setObjectName("confirmRefundButton")
        set_themed_style(self.confirm_button,
            "QPushButton { background: #A02727; color: white; border: 1px solid #A02727;"
            " border-radius: 6px; padding: 6px 16px; font-weight: 600; }"
            "QPushButton:disabled { background: #E3B3B3; border-color: #E3B3B3; }"
        )
        self.confirm_button.clicked.connect(self.confirm)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.confirm_button)
        layout.addLayout(buttons)
        describe(self.full_radio, "Refund everything not refunded yet")
        describe(self.partial_radio, "Refund the amount typed next")
        describe(self.amount_edit, "How much to refund", "Amount to refund")
        describe(self.reason_edit, "Why — kept in PayDesk's history and in the Autotask note",
                 "Reason")
        describe(self.cancel_button, "Close without refunding (Esc)")
        describe(self.confirm_button, "Ask the gateway to give the money back")
        self._validate()

    def _fmt(self, value: Money) -> str:
        return value.format(self.money_locale)

    @Slot(bool)
    def _on_partial_toggled(self, checked: bool) -> None:
        self.amount_edit.setEnabled(checked)
        if checked:
            if not self.amount_edit.text():
                self.amount_edit.setText(self._fmt(self.maximum))
            self.amount_edit.selectAll()
            self.amount_edit.setFocus()
        self._validate()

    @Slot()
    def tidy_amount(self) -> None:
        """Show a typed amount as money ("100" becomes "$100.00"); a wrong one stays as typed
        so its message still fits it."""
        amount, problem = self.amount()
        if amount is not None and problem is None:
            self.amount_edit.setText(self._fmt(amount))

    def amount(self) -> tuple[Money | None, str | None]:
        """``(amount, problem)``; amount ``None`` means everything left."""
        if self.void or self.full_radio.isChecked():
            return None, None
        try:
            value = Money.parse(self.amount_edit.text(), self.maximum.currency, self.money_locale)
        except InvalidAmountError as exc:
            return None, str(exc)
        if value.minor <= 0:
            return None, "Enter an amount greater than zero."
        if value > self.maximum:
            return None, f"At most {self._fmt(self.maximum)} is left to refund on this payment."
        return value, None

    @Slot()
    def _on_gateway_changed(self) -> None:
        if not self.running:
            self.gateway = current_gateway(self.context)
            self.message.setText("")
            self._validate()

    @Slot()
    def _validate(self) -> bool:
        amount, problem = self.amount()
        shown = problem if (self.partial_radio.isChecked() and self.amount_edit.text()) else None
        self.amount_error.setText(shown or "")
        self.amount_error.setVisible(bool(shown))
        reason = self.reason_edit.toPlainText().strip()
        value = amount if amount is not None else self.maximum
        noun = "Void" if self.void else "Refund"
        mode = " (test mode)" if self.detail.test_mode else ""
        self.confirm_button.setText(f"{noun} {self._fmt(value)}{mode}" if not problem else noun)
        ok = problem is None and bool(reason) and not self.running and self.gateway is not None
        self.confirm_button.setEnabled(ok)
        if self.gateway is None:
            self.message.setText(missing_gateway_text(self.context))
        return ok

    @Slot()
    def confirm(self) -> None:
        if not self._validate() or self.gateway is None:
            return
        amount, _ = self.amount()
        reason = self.reason_edit.toPlainText().strip()
        self.running = True
        for widget in (self.full_radio, self.partial_radio, self.amount_edit, self.reason_edit,
                       self.cancel_button):
            widget.setEnabled(False)
        self.confirm_button.setEnabled(False)
        self.message.setText("Asking the gateway…")
        pipeline = PaymentPipeline(self.context.engine, self.gateway)
        run_task(
            "refund the payment",
            pipeline.refund,
            self.detail.payment_id,
            None if self.void else amount,
            reason,
            on_success=self._on_done,
            on_failure=self._on_failed,
            parent=self,
        )

    def _on_done(self, outcome: RefundOutcome) -> None:
        self.outcome = outcome
        self.running = False
        self.refunded.emit(self.detail.payment_id)
        if outcome.done:
            self.accept()
            return
        self.message.setText(outcome.message)
        set_themed_style(self.message,
            "color: #A02727;" if outcome.state is RefundState.FAILED else ""
        )
        self.cancel_button.setText("Close")
        self.cancel_button.setEnabled(True)

    def _on_failed(self, failure: WorkerFailure) -> None:
        from app.gui.errors import describe_exception

        self.running = False
        exc = failure.exception
        self.message.setText(exc.message if isinstance(exc, PaymentRefused) else
                             describe_exception(exc))
        set_themed_style(self.message, "color: #A02727;")
        for widget in (self.full_radio, self.partial_radio, self.reason_edit, self.cancel_button):
            widget.setEnabled(True)
        self.amount_edit.setEnabled(self.partial_radio.isChecked())
        self._validate()

    def reject(self) -> None:
        if self.running:
            return
        super().reject()
