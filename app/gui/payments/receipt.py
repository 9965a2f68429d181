"""The payment receipt: one document, printed or saved as a PDF.

The receipt is built as a ``QTextDocument`` from plain values (no ORM objects), so the same
document goes to the printer (``QPrinter`` through the system print dialog) and to a PDF file
(``QPdfWriter``). A test-mode payment says so at the top of the receipt: nobody should mail
a client a receipt for money that never moved.

Everything here runs on the GUI thread.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QMarginsF, QObject, QSizeF, Slot
from PySide6.QtGui import QPageLayout, QPageSize, QPdfWriter, QTextDocument
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import QDialog, QFileDialog, QPushButton, QWidget

from app.core.money import Money
from app.gui.invoices.formatting import datetime_text


@dataclass(frozen=True)
class ReceiptLine:
    invoice_number: str
    amount: Money


@dataclass(frozen=True)
class Receipt:
    """What a receipt says. Built from the payment the core recorded."""

    reference: str
    organization: str
    paid_at: datetime
    status_label: str
    method: str
    lines: Sequence[ReceiptLine]
    subtotal: Money
    surcharge: Money
    total: Money
    gateway_transaction_id: str | None = None
    contact: str | None = None
    memo: str | None = None
    test_mode: bool = False
    surcharge_disclosure: str | None = None
    issuer: str = field(default="")


def _money(value: Money, locale: str) -> str:
    return html.escape(value.format(locale))


def receipt_html(receipt: Receipt, locale: str = "en_US") -> str:
    """The receipt as simple HTML that QTextDocument renders the same on screen and paper."""
    esc = html.escape
    rows = "".join(
        f"<tr><td>Invoice {esc(line.invoice_number)}</td>"
        f"<td align='right'>{_money(line.amount, locale)}</td></tr>"
        for line in receipt.lines
    )
    details = [
        ("Reference", receipt.reference),
        ("Date", datetime_text(receipt.paid_at, locale)),
        ("Received from", receipt.organization),
    ]
    if receipt.contact:
        details.append(("Paid by", receipt.contact))
    details.append(("Method", receipt.method))
    if receipt.gateway_transaction_id:
        details.append(("Transaction ID", receipt.gateway_transaction_id))
    details.append(("Status", receipt.status_label))
    if receipt.memo:
        details.append(("Memo", receipt.memo))
    detail_rows = "".join(
        f"<tr><td style='color:#555'>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in details
    )
    test_banner = (
        "<p style='background:#fde68a; color:#7c2d12; padding:6px; font-weight:bold'>"
        "TEST MODE — this payment was made with test credentials. No real money moved."
        "</p>"
        if receipt.test_mode
        else ""
    )
    surcharge_row = (
        "<tr><td>Credit card surcharge</td>"
        f"<td align='right'>{_money(receipt.surcharge, locale)}</td></tr>"
        if receipt.surcharge
        else ""
    )
    disclosure = (
        f"<p style='color:#555; font-size:small'>{esc(receipt.surcharge_disclosure)}</p>"
        if receipt.surcharge and receipt.surcharge_disclosure
        else ""
    )
    issuer = f"<p style='color:#555'>{esc(receipt.issuer)}</p>" if receipt.issuer else ""
    return (
        "<html><body style='font-family:sans-serif'>"
        f"{test_banner}"
        "<h2>Payment receipt</h2>"
        f"{issuer}"
        f"<table cellspacing='0' cellpadding='3'>{detail_rows}</table>"
        "<h3>Applied to</h3>"
        "<table width='100%' cellspacing='0' cellpadding='3'>"
        f"{rows}"
        "<tr><td colspan='2'><hr/></td></tr>"
        f"<tr><td>Subtotal</td><td align='right'>{_money(receipt.subtotal, locale)}</td></tr>"
        f"{surcharge_row}"
        f"<tr><td><b>Total charged</b></td>"
        f"<td align='right'><b>{_money(receipt.total, locale)}</b></td></tr>"
        "</table>"
        f"{disclosure}"
        "</body></html>"
    )


def receipt_document(receipt: Receipt, locale: str = "en_US") -> QTextDocument:
    document = QTextDocument()
    document.setHtml(receipt_html(receipt, locale))
    return document


def save_receipt_pdf(receipt: Receipt, path: Path, locale: str = "en_US") -> None:
    """Write the receipt to ``path`` as a Letter-size PDF."""
    writer = QPdfWriter(str(path))
    writer.setTitle(f"Payment receipt {receipt.reference}")
    writer.setCreator("PayDesk")
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.Letter))
    writer.setPageMargins(QMarginsF(18, 18, 18, 18), QPageLayout.Unit.Millimeter)
    writer.setResolution(300)
    document = receipt_document(receipt, locale)
    layout = writer.pageLayout()
    rect = layout.paintRectPixels(writer.resolution())
    document.setPageSize(QSizeF(rect.width(), rect.height()))
    document.print_(writer)


def ask_save_receipt_pdf(parent: QWidget, receipt: Receipt, locale: str = "en_US") -> Path | None:
    """Ask where to save, then save. Returns the path, or None when the user cancelled."""
    suggested = str(Path.home() / f"Receipt {receipt.reference}.pdf")
    name, _ = QFileDialog.getSaveFileName(
        parent, "Save receipt as PDF", suggested, "PDF documents (*.pdf)"
    )
    if not name:
        return None
    path = Path(name if name.lower().endswith(".pdf") else f"{name}.pdf")
    save_receipt_pdf(receipt, path, locale)
    return path


def print_receipt(parent: QWidget, receipt: Receipt, locale: str = "en_US") -> bool:
    """Show the system print dialog and print. Returns False when the user cancelled."""
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setDocName(f"Payment receipt {receipt.reference}")
    dialog = QPrintDialog(printer, parent)
    dialog.setWindowTitle("Print receipt")
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return False
    receipt_document(receipt, locale).print_(printer)
    return True


class ReceiptButtons(QObject):
    """"Print receipt…" and "Save receipt as PDF…" for a dialog that shows one payment: built
    once here for the Order Summary's result and the payment's detail. ``receipt`` gives the
    receipt to print now (None: nothing to print yet). GUI thread."""

    def __init__(self, parent: QWidget, receipt: Callable[[], Receipt | None],
                 locale: str = "en_US") -> None:
        super().__init__(parent)
        self._parent = parent
        self._receipt = receipt
        self._locale = locale
        self.print_button = QPushButton("Print receipt…", parent)
        self.print_button.setObjectName("printReceiptButton")
        self.print_button.clicked.connect(self.print)
        self.pdf_button = QPushButton("Save receipt as PDF…", parent)
        self.pdf_button.setObjectName("saveReceiptButton")
        self.pdf_button.clicked.connect(self.save_pdf)

    def set_enabled(self, enabled: bool) -> None:
        self.print_button.setEnabled(enabled)
        self.pdf_button.setEnabled(enabled)

    @Slot()
    def print(self) -> None:
        receipt = self._receipt()
        if receipt is not None:
            print_receipt(self._parent, receipt, self._locale)

    @Slot()
    def save_pdf(self) -> None:
        receipt = self._receipt()
        if receipt is not None:
            ask_save_receipt_pdf(self._parent, receipt, self._locale)
