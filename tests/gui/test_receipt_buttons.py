"""Save receipt as PDF and Print receipt: both made from the core's one receipt, headed with the
company identity, with the surcharge's disclosure even when the screen did not give it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtPrintSupport import QPrinter
from PySide6.QtWidgets import QDialog, QFileDialog, QWidget
from pytestqt.qtbot import QtBot

from app.core.money import Money
from app.core.payments.summary import SurchargeSettings, save_surcharge_settings
from app.core.receipt_identity import ReceiptIdentity, save_receipt_identity
from app.gui.context import AppContext
from app.gui.payments import receipt as receipt_module
from app.gui.payments.receipt import Receipt, ReceiptButtons, ReceiptLine
from tests.gui.conftest import wait_for_background_tasks


def _receipt() -> Receipt:
    usd = lambda minor: Money(minor, "USD")  # noqa: E731
    return Receipt(reference="PD-77", organization="Contoso Dental",
                   paid_at=datetime(2026, 3, 4, 15, 30, tzinfo=UTC), status_label="Approved",
                   method="Visa •••• 4242", lines=[ReceiptLine("1045", usd(10_000))],
                   subtotal=usd(10_000), surcharge=usd(300), total=usd(10_300))


def test_save_and_print_use_the_core_receipt(qtbot: QtBot, set_up_context: AppContext,
                                             tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from decimal import Decimal

    engine = set_up_context.engine
    save_receipt_identity(engine, ReceiptIdentity("Northwind IT Services", "1 Main St"))
    save_surcharge_settings(engine, SurchargeSettings(
        enabled=True, percent=Decimal("3"), disclosure="A {percent}% card surcharge applies."))
    parent = QWidget()
    parent.context = set_up_context  # type: ignore[attr-defined]
    qtbot.addWidget(parent)
    buttons = ReceiptButtons(parent, _receipt)

    target = tmp_path / "receipt.pdf"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(target), "PDF documents (*.pdf)")))
    buttons.pdf_button.click()
    qtbot.waitUntil(lambda: buttons.saved_path == target, timeout=10_000)
    assert target.read_bytes().startswith(b"%PDF-")

    printed: list[str] = []

    class FakePrintDialog:
        def __init__(self, printer: QPrinter, _parent: Any) -> None:
            self.printer = printer

        def setWindowTitle(self, _title: str) -> None:
            pass

        def exec(self) -> QDialog.DialogCode:
            self.printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
            self.printer.setOutputFileName(str(tmp_path / "printed.pdf"))
            return QDialog.DialogCode.Accepted

    monkeypatch.setattr(receipt_module, "QPrintDialog", FakePrintDialog)
    real_html = receipt_module.receipt_html
    monkeypatch.setattr(receipt_module, "receipt_html", lambda *a, **k: printed.append(
        real_html(*a, **k)) or printed[-1])
    buttons.print_button.click()
    qtbot.waitUntil(lambda: bool(printed), timeout=10_000)
    wait_for_background_tasks(qtbot)
    html = printed[0]
    assert "Northwind IT Services" in html and "Credit card surcharge" in html
    assert "A 3% card surcharge applies." in html
    assert (tmp_path / "printed.pdf").read_bytes().startswith(b"%PDF")
