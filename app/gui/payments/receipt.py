"""The payment receipt on screen: "Print receipt…" and "Save receipt as PDF…".

There is one receipt, made by the core (:mod:`app.core.receipts`): Save writes the core's PDF
(the same file PayDesk emails), Print sends the core's HTML of the same rows to the system
print dialog. Both are headed with the company's name, address and logo
(:mod:`app.core.receipt_identity`), read in a worker — never on the GUI thread.

Everything here runs on the GUI thread except the workers it starts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QTextDocument
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import QDialog, QFileDialog, QPushButton, QWidget
from sqlalchemy import Engine

from app.core.receipt_identity import ReceiptIdentity, load_receipt_identity
from app.core.receipts import Receipt, ReceiptLine, receipt_html, render_receipt_pdf
from app.gui.widgets.accessible import describe
from app.gui.workers import run_task

__all__ = ["Receipt", "ReceiptButtons", "ReceiptLine", "write_receipt_pdf"]


def _complete(receipt: Receipt, engine: Engine | None) -> Receipt:
    """A surcharge always goes with its disclosure (from the shared rules when the screen
    did not give it). Worker thread."""
    if receipt.surcharge and not receipt.surcharge_disclosure and engine is not None:
        from app.core.payments.summary import load_surcharge_settings

        return replace(receipt,
                       surcharge_disclosure=load_surcharge_settings(engine).disclosure_text())
    return receipt


def write_receipt_pdf(receipt: Receipt, path: Path, engine: Engine | None,
                      locale: str = "en_US") -> Path:
    """Render the core's PDF and write it whole, or not at all (worker thread)."""
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(render_receipt_pdf(_complete(receipt, engine), engine=engine,
                                           locale=locale))
    partial.replace(path)
    return path


def _prepare(receipt: Receipt, engine: Engine | None
             ) -> tuple[Receipt, ReceiptIdentity | None]:
    identity = load_receipt_identity(engine) if engine is not None else None
    return _complete(receipt, engine), identity


class ReceiptButtons(QObject):
    """"Print receipt…" and "Save receipt as PDF…" for a dialog that shows one payment: built
    once here for the Order Summary's result and the payment's detail. ``receipt`` gives the
    receipt to print now (None: nothing to print yet). The company heading is read from the
    database of the dialog's ``context`` (its AppContext). GUI thread."""

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
        describe(self.print_button, "Print the client's receipt for this payment")
        describe(self.pdf_button, "Save the client's receipt for this payment as a PDF file")
        #: The last PDF saved (for the tests and the status line).
        self.saved_path: Path | None = None

    def _engine(self) -> Engine | None:
        context = getattr(self._parent, "context", None)
        engine = getattr(context, "engine", None)
        return engine if isinstance(engine, Engine) else None

    def set_enabled(self, enabled: bool) -> None:
        self.print_button.setEnabled(enabled)
        self.pdf_button.setEnabled(enabled)

    @Slot()
    def print(self) -> None:
        receipt = self._receipt()
        if receipt is None:
            return
        run_task("prepare the receipt", _prepare, receipt, self._engine(), parent=self._parent,
                 on_success=self._print)

    def _print(self, prepared: tuple[Receipt, ReceiptIdentity | None]) -> None:
        receipt, identity = prepared
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        printer.setDocName(f"Payment receipt {receipt.reference}")
        dialog = QPrintDialog(printer, self._parent)
        dialog.setWindowTitle("Print receipt")
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        document = QTextDocument()
        document.setHtml(receipt_html(receipt, identity, self._locale))
        document.print_(printer)

    @Slot()
    def save_pdf(self) -> None:
        receipt = self._receipt()
        if receipt is None:
            return
        suggested = str(Path.home() / f"Receipt {receipt.reference}.pdf")
        name, _ = QFileDialog.getSaveFileName(
            self._parent, "Save receipt as PDF", suggested, "PDF documents (*.pdf)")
        if not name:
            return
        path = Path(name if name.lower().endswith(".pdf") else f"{name}.pdf")
        run_task("save the receipt", write_receipt_pdf, receipt, path, self._engine(),
                 self._locale, parent=self._parent, on_success=self._saved)

    def _saved(self, path: Path) -> None:
        self.saved_path = path
