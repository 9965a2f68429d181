"""The Invoice page: one invoice, its lines and what PayDesk's ledger applied to it.

Shows organization, dates, payment terms, total, tax, paid, balance and status; the lines
(Autotask BillingItems) with quantities, rates and amounts and a footer that adds them up to
the total; every payment and refund PayDesk applied to it with its posting status. Actions:
Open in Autotask (only when the zone's web address is known) and Copy invoice number.
``add_action`` lets other screens add theirs (Pay…). Runs on the GUI thread; the detail is
one short read of the local database.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from urllib.parse import urlencode

from PySide6.QtCore import QModelIndex, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QAction, QColor, QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import Engine

from app.core.connections import load_autotask_connection
from app.core.money import format_exact
from app.core.queries.invoices import InvoiceDetail, invoice_detail
from app.core.storage.engine import session_scope
from app.gui.changes import RefreshOnChange
from app.gui.context import AppContext
from app.gui.invoices.formatting import date_text, local_today, money_text
from app.gui.theme import readable_text, set_themed_style
from app.gui.widgets import StatusPill, invoice_status_tone
from app.gui.widgets.accessible import describe
from app.gui.widgets.headers import PageHeader
from app.gui.widgets.keys import add_open_shortcut
from app.gui.workers import Task, run_task

_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter

#: ``"module:function"`` paths called as ``function(page, context)`` for every new page
#: (the Pay… action plugs in this way).
INVOICE_PAGE_EXTENSIONS: tuple[str, ...] = (
    "app.gui.payments.actions:install_invoice_page_pay_action",
    "app.gui.quickbooks.invoice_link:install_invoice_page_quickbooks",
    "app.gui.email_pay_links:install_invoice_page_pay_link_email",
)


def load_invoice_page(
    engine: Engine, invoice_id: int, today: date
) -> tuple[InvoiceDetail | None, str]:
    """Runs on a pool thread: the invoice's detail and Autotask's web address (for the
    "Open in Autotask" action; empty before Setup connected Autotask)."""
    with session_scope(engine) as session:
        detail = invoice_detail(session, invoice_id, today)
    connection = load_autotask_connection(engine)
    return detail, connection.web_url if connection else ""


def autotask_organization_url(web_url: str, organization_id: int) -> str:
    """Autotask's ExecuteCommand address that opens a company (its invoices are under
    Billing there; Autotask has no command that opens one invoice)."""
    base = web_url if web_url.endswith("/") else web_url + "/"
    query = urlencode({"Code": "OpenAccount", "AccountID": organization_id})
    return f"{base}Autotask/AutotaskExtend/ExecuteCommand.aspx?{query}"


def _item(text: str, align: Qt.AlignmentFlag | None = None) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    if align is not None:
        item.setTextAlignment(align)
    return item


def _quantity_text(value: object) -> str:
    from decimal import Decimal

    if not isinstance(value, Decimal):
        return ""
    normalized = value.normalize()
    return f"{normalized:f}" if normalized == normalized.to_integral() else f"{value:f}"


class InvoicePage(QWidget):
    """One invoice. ``show_invoice(id)`` loads it; ``backRequested`` asks to go back."""

    backRequested = Signal()
    openOrganizationRequested = Signal(int)
    #: An invoice was loaded or reloaded (its id) — actions update what they offer.
    invoiceShown = Signal(int)
    #: Open a payment listed on the page (its id): Enter or a double click on its row.
    openPaymentRequested = Signal(int)

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("invoicePage")
        self.context = context
        bus = context.changes()
        # Its payments' posting status shows too: a posting delivered, failed, retried or
        # dismissed anywhere reloads the open invoice.
        RefreshOnChange(self, lambda _ids: self.reload(), bus.invoicesChanged,
                        bus.postingsChanged)
        self.detail: InvoiceDetail | None = None
        self._web_url = ""
        currency = context.currency() or "USD"
        self.currency = currency
        self.locale_name = context.locale

        self.header = PageHeader()
        self.header.backRequested.connect(self.backRequested)
        self.back_button, self.title = self.header.back_button, self.header.title
        self.status = StatusPill()
        self.copy_number_action = QAction("Copy invoice number", self)
        self.copy_number_action.triggered.connect(self.copy_invoice_number)
        self.open_autotask_action = QAction("Open in Autotask", self)
        self.open_autotask_action.setToolTip(
            "Open this invoice's organization in Autotask in your browser"
        )
        self.open_autotask_action.triggered.connect(self.open_in_autotask)

        self.open_quickbooks_action = QAction("Open in QuickBooks", self)
        self.open_quickbooks_action.setObjectName("openInQuickBooks")
        self.open_quickbooks_action.setToolTip(
            "Open the matched QuickBooks invoice in your browser")
        self.open_quickbooks_action.setVisible(False)
        self.open_quickbooks_action.triggered.connect(self.open_in_quickbooks)
        self._quickbooks_url = ""

        self.actions_bar = QHBoxLayout()
        self.actions_bar.setSpacing(8)
        for action in (self.open_autotask_action, self.open_quickbooks_action,
                       self.copy_number_action):
            self._add_button(action)

        header = self.header.row
        header.addSpacing(8)
        header.addWidget(self.status)
        header.addStretch(1)
        header.addLayout(self.actions_bar)

        # Facts: two columns of label / value.
        self.organization_link = QLabel()
        self.organization_link.setObjectName("organizationLink")
        self.organization_link.setTextFormat(Qt.TextFormat.RichText)
        self.organization_link.setToolTip("Open this organization's page")
        self.organization_link.linkActivated.connect(self._open_organization)
        self.facts: dict[str, QLabel] = {}
        left = QFormLayout()
        right = QFormLayout()
        for form in (left, right):
            form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
            form.setHorizontalSpacing(16)
            form.setVerticalSpacing(6)
        left.addRow("Organization", self.organization_link)
        for key, form in (
            ("Invoice date", left),
            ("Due date", left),
            ("Payment terms", left),
            ("Billing period", left),
            ("QuickBooks #", left),
            ("Total", right),
            ("Tax", right),
            ("Paid", right),
            ("Balance", right),
            ("Last payment", right),
            ("QuickBooks balance", right),
        ):
            label = QLabel()
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            if form is right:
                label.setAlignment(_RIGHT)
                label.setMinimumWidth(120)
            self.facts[key] = label
            caption = QLabel(key)
            caption.setMinimumWidth(caption.fontMetrics().horizontalAdvance(key) + 12)
            form.addRow(caption, label)
        self._facts_right = right
        right.setRowVisible(self.facts["QuickBooks balance"], False)  # shown when matched
        facts = QGridLayout()
        facts.addLayout(left, 0, 0)
        facts.addLayout(right, 0, 1)
        facts.setColumnStretch(2, 1)
        facts.setHorizontalSpacing(56)

        # Lines
        self.lines = QTableWidget(0, 6)
        self.lines.setTabKeyNavigation(False)  # Tab leaves the table (Tab order)
        self.lines.setObjectName("invoiceLines")
        self.lines.setHorizontalHeaderLabels(
            ["Date", "Description", "Quantity", "Rate", "Amount", "Tax"]
        )
        self.lines_footer = QLabel()
        self.lines_footer.setObjectName("invoiceLinesFooter")
        self.lines_footer.setAlignment(_RIGHT)
        self.lines_footer.setWordWrap(True)

        # Payments applied
        self.payments = QTableWidget(0, 6)
        self.payments.setTabKeyNavigation(False)  # Tab leaves the table (Tab order)
        self.payments.setObjectName("invoicePayments")
        self.payments.setHorizontalHeaderLabels(
            ["Date", "Amount", "Method", "Reference", "Status", "Posted to Autotask/QuickBooks"]
        )
        describe(self.lines, "What the invoice bills, line by line", "Invoice lines")
        describe(self.payments, "Payments and refunds PayDesk took on this invoice; Enter "
                 "opens the selected one", "Payments on this invoice")
        self.payments.activated.connect(self._open_payment_at)
        add_open_shortcut(self.payments, lambda: self._open_payment_at(
            self.payments.currentIndex()))
        self.no_payments = QLabel("No payments have been taken in PayDesk for this invoice.")
        self.no_payments.setObjectName("mutedText")
        for table in (self.lines, self.payments):
            table.verticalHeader().setVisible(False)
            table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
            table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
            table.setAlternatingRowColors(True)
            table.setShowGrid(False)
            table.setWordWrap(False)
            table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
            table.horizontalHeader().setHighlightSections(False)
        for table, right_columns in ((self.lines, (2, 3, 4, 5)), (self.payments, (1,))):
            for column in range(table.columnCount()):
                item = table.horizontalHeaderItem(column)
                if item is not None:
                    item.setTextAlignment(
                        _RIGHT if column in right_columns
                        else Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
                    )
        lines_header = self.lines.horizontalHeader()
        lines_header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for column in (0, 2, 3, 4, 5):
            lines_header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        payments_header = self.payments.horizontalHeader()
        payments_header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        for column in (0, 1, 3, 4, 5):
            payments_header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)

        body = QWidget()
        body_layout = QVBoxLayout(body)
        body_layout.setContentsMargins(0, 0, 0, 0)
        body_layout.setSpacing(10)
        body_layout.addSpacing(6)
        body_layout.addLayout(facts)
        body_layout.addSpacing(10)
        body_layout.addWidget(self._section_title("Lines"))
        body_layout.addWidget(self.lines)
        body_layout.addWidget(self.lines_footer)
        body_layout.addWidget(self._section_title("Payments applied in PayDesk"))
        body_layout.addWidget(self.payments)
        body_layout.addWidget(self.no_payments)
        body_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setObjectName("invoicePageScroll")
        body.setObjectName("invoicePageBody")
        # The page reads as one sheet: no panel colour behind the scrolled body.
        set_themed_style(scroll,
            "QScrollArea#invoicePageScroll, QWidget#invoicePageBody { background: transparent; }"
        )
        scroll.viewport().setAutoFillBackground(False)
        scroll.setWidget(body)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(12)
        layout.addWidget(self.header)
        layout.addWidget(scroll, 1)
        for path in INVOICE_PAGE_EXTENSIONS:
            from app.gui.main_window import resolve

            resolve(path)(self, context)

    def _section_title(self, text: str) -> QLabel:
        label = QLabel(text)
        label.setObjectName("sectionTitle")
        font = label.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.1)
        label.setFont(font)
        return label

    def _add_button(self, action: QAction) -> None:
        button = QToolButton()
        button.setDefaultAction(action)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.actions_bar.addWidget(button)
        action.visibleChanged.connect(lambda b=button, a=action: b.setVisible(a.isVisible()))
        button.setVisible(action.isVisible())

    # --- extension point -----------------------------------------------------------------
    def add_action(self, action: QAction) -> None:
        """Put an action (Pay…) before the page's own ones."""
        button = QToolButton()
        button.setDefaultAction(action)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.actions_bar.insertWidget(0, button)

    # --- loading -------------------------------------------------------------------------
    def show_invoice(self, invoice_id: int) -> Task:
        """Load the invoice in a worker and show it: ``invoiceShown(id)`` follows, or
        nothing when it is not in the database (any more)."""
        return run_task(
            "open the invoice",
            load_invoice_page,
            self.context.engine,
            invoice_id,
            local_today(),
            on_success=self._on_loaded,
            parent=self,
        )

    def _on_loaded(self, loaded: tuple[InvoiceDetail | None, str]) -> None:
        detail, self._web_url = loaded
        if detail is None:
            return
        self.detail = detail
        self._render(detail)
        self.invoiceShown.emit(detail.row.id)

    def on_theme_changed(self, _dark: bool = False) -> None:
        """The system switched between light and dark (``app.gui.theme.apply_theme``): the
        invoice drawn again from what was read, its coloured words in the new scheme."""
        if self.detail is not None:
            self._render(self.detail)

    def reload(self) -> None:
        if self.detail is not None:
            self.show_invoice(self.detail.row.id)

    def _money(self, minor: int) -> str:
        return money_text(minor, self.currency, self.locale_name)

    def _exact(self, amount: Decimal) -> str:
        """A line's amount or unit price, never rounded (``$12.3456``)."""
        return format_exact(amount, self.currency, self.locale_name)

    def _render(self, detail: InvoiceDetail) -> None:
        row = detail.row
        self.title.setText(f"Invoice {row.invoice_number}")
        self.status.set_status(row.status.label, invoice_status_tone(row.status))
        from html import escape

        self.organization_link.setText(
            f'<a href="organization" style="color:{_text_colour("#1D4F91")}">'
            f'{escape(row.organization_name)}</a>'
        )
        self.facts["Invoice date"].setText(date_text(row.invoice_date, self.locale_name) or "—")
        self.facts["Due date"].setText(date_text(row.due_date, self.locale_name) or "—")
        self.facts["Payment terms"].setText(row.payment_terms or "—")
        period = "—"
        if detail.from_date and detail.to_date:
            period = (
                f"{date_text(detail.from_date, self.locale_name)} – "
                f"{date_text(detail.to_date, self.locale_name)}"
            )
        self.facts["Billing period"].setText(period)
        self.facts["QuickBooks #"].setText(row.qb_doc_number or "Not in QuickBooks yet")
        self.facts["QuickBooks #"].setToolTip("")
        self.show_quickbooks(None, None)  # the QuickBooks extension fills it in once read
        self.facts["Total"].setText(self._money(row.total_minor))
        self.facts["Tax"].setText(self._money(detail.tax_minor))
        self.facts["Paid"].setText(self._money(row.amount_paid_minor))
        balance = self.facts["Balance"]
        balance.setText(self._money(row.balance_minor))
        font = balance.font()
        font.setBold(True)
        balance.setFont(font)
        self.facts["Last payment"].setText(
            date_text(row.last_payment_date, self.locale_name) or "—"
        )
        self.open_autotask_action.setVisible(bool(self._web_url))

        self.lines.setRowCount(len(detail.lines))
        for r, line in enumerate(detail.lines):
            self.lines.setItem(r, 0, _item(date_text(line.item_date, self.locale_name)))
            self.lines.setItem(r, 1, _item(line.description))
            self.lines.setItem(r, 2, _item(_quantity_text(line.quantity), _RIGHT))
            # Unit prices and line amounts exactly as Autotask holds them ($12.3456).
            rate = "" if line.rate is None else self._exact(line.rate)
            self.lines.setItem(r, 3, _item(rate, _RIGHT))
            self.lines.setItem(r, 4, _item(self._exact(line.amount), _RIGHT))
            self.lines.setItem(r, 5, _item(self._exact(line.tax), _RIGHT))
        self._fit_height(self.lines)
        footer = (
            f"Subtotal {self._exact(detail.lines_amount)}&nbsp;&nbsp;&nbsp;&nbsp;"
            f"Tax {self._exact(detail.lines_tax)}&nbsp;&nbsp;&nbsp;&nbsp;"
            f"<b>Total {self._exact(detail.lines_total)}</b>"
        )
        if not detail.lines:
            footer = "Autotask has no lines for this invoice."
        elif not detail.lines_add_up:
            footer += (
                f"<br><span style='color:{_text_colour('#85520A')}'>The lines add up to "
                f"{self._exact(detail.lines_total)}, but the invoice total is "
                f"{self._money(row.total_minor)}. Check the invoice in Autotask.</span>"
            )
        self.lines_footer.setText(footer)

        self.payments.setRowCount(len(detail.payments))
        for r, payment in enumerate(detail.payments):
            local = payment.at.astimezone()
            first = _item(date_text(local.date(), self.locale_name))
            first.setData(Qt.ItemDataRole.UserRole, payment.payment_id)
            self.payments.setItem(r, 0, first)
            self.payments.setItem(
                r,
                1,
                _item(money_text(payment.amount_minor, payment.currency, self.locale_name), _RIGHT),
            )
            method = payment.method if payment.kind == "payment" else f"Refund — {payment.method}"
            self.payments.setItem(r, 2, _item(method))
            self.payments.setItem(r, 3, _item(payment.reference))
            self.payments.setItem(r, 4, _item(payment.state))
            self.payments.setItem(r, 5, _item(payment.posting_status))
        has_payments = bool(detail.payments)
        self.payments.setVisible(has_payments)
        self.no_payments.setVisible(not has_payments)
        self._fit_height(self.payments)

    @Slot(QModelIndex)
    def _open_payment_at(self, index: QModelIndex) -> None:
        item = self.payments.item(index.row(), 0) if index.isValid() else None
        payment_id = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        if payment_id is not None:
            self.openPaymentRequested.emit(int(payment_id))

    @staticmethod
    def _fit_height(table: QTableWidget) -> None:
        height = table.horizontalHeader().height() + 4
        for row in range(table.rowCount()):
            height += table.rowHeight(row)
        if table.horizontalScrollBar().isVisible():
            height += table.horizontalScrollBar().height()
        table.setFixedHeight(height + 2)

    # --- actions -------------------------------------------------------------------------
    @Slot()
    def copy_invoice_number(self) -> None:
        if self.detail is not None:
            QGuiApplication.clipboard().setText(self.detail.row.invoice_number)

    def show_quickbooks(self, balance_minor: int | None, url: str | None,
                        number: str | None = None, how: str = "") -> None:
        """The matched QuickBooks invoice: its balance, its number and where it opens (None:
        not matched, or not read yet)."""
        self._facts_right.setRowVisible(self.facts["QuickBooks balance"], balance_minor is not None)
        if balance_minor is not None:
            self.facts["QuickBooks balance"].setText(self._money(balance_minor))
        if number:
            self.facts["QuickBooks #"].setText(number)
            self.facts["QuickBooks #"].setToolTip(f"The QuickBooks invoice, {how}" if how else "")
        self._quickbooks_url = url or ""
        self.open_quickbooks_action.setVisible(bool(url))

    @Slot()
    def open_in_quickbooks(self) -> None:
        if self._quickbooks_url:
            QDesktopServices.openUrl(QUrl(self._quickbooks_url))

    @Slot()
    def open_in_autotask(self) -> None:
        if self.detail is not None and self._web_url:
            QDesktopServices.openUrl(
                QUrl(autotask_organization_url(self._web_url, self.detail.row.organization_id))
            )

    @Slot(str)
    def _open_organization(self, _link: str = "") -> None:
        if self.detail is not None:
            self.openOrganizationRequested.emit(self.detail.row.organization_id)


def _text_colour(light: str) -> str:
    """A colour for rich text, readable in the scheme in use (``app.gui.theme``)."""
    return readable_text(QColor(light)).name()

