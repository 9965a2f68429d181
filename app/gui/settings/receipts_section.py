"""Settings › Receipts: who the receipts come from — the company's name, address and logo,
shared by every seat (``receipts.company``, :mod:`app.core.receipt_identity`).

A logo is chosen from a picture file (PNG, JPEG, BMP or GIF), made a PNG of at most
``LOGO_MAX_SIZE`` pixels in the background, and previewed in the receipt heading below the
fields before it is saved.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QSize, Qt, Slot
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import Engine

from app.core.credentials import CredentialStore
from app.core.receipt_identity import (
    MAX_LOGO_BYTES,
    RECEIPT_IDENTITY_KEY,
    ReceiptIdentity,
    load_receipt_identity,
    save_receipt_identity,
)
from app.gui.context import AppContext
from app.gui.settings.page import InvalidSetting, SettingsPage
from app.gui.workers import WorkerFailure, run_task

__all__ = ["ReceiptsSection", "create_receipts_section", "prepare_logo"]

#: A logo is scaled down to fit this box (receipts print it at about 6 × 2 cm).
LOGO_MAX_SIZE = QSize(600, 200)
MAX_NAME = 120
MAX_ADDRESS_LINES = 6


class LogoProblem(ValueError):
    """The chosen file cannot be a logo; the message says why and what to do."""


def prepare_logo(path: Path) -> bytes:
    """Runs on a pool thread: the picture at ``path`` as a PNG that fits ``LOGO_MAX_SIZE``."""
    image = QImage(str(path))
    if image.isNull():
        raise LogoProblem(f"{path.name} is not a picture PayDesk can read. Choose a PNG or "
                          "JPEG file.")
    if image.width() > LOGO_MAX_SIZE.width() or image.height() > LOGO_MAX_SIZE.height():
        image = image.scaled(LOGO_MAX_SIZE, Qt.AspectRatioMode.KeepAspectRatio,
                             Qt.TransformationMode.SmoothTransformation)
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")  # type: ignore[call-overload]  # the stubs want bytes; Qt wants str
    buffer.close()
    png = bytes(data.data())
    if len(png) > MAX_LOGO_BYTES:
        raise LogoProblem(f"{path.name} is still {len(png) // 1024} KB as a logo; use a "
                          f"simpler picture (at most {MAX_LOGO_BYTES // 1024} KB).")
    return png


def create_receipts_section(context: AppContext) -> QWidget:
    return ReceiptsSection(context)


class ReceiptsSection(SettingsPage):
    setting_keys = (RECEIPT_IDENTITY_KEY,)

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, "Receipts",
                         "Who the receipts come from. Every receipt, printed, saved or "
                         "e-mailed, starts with this heading.", parent)
        self.setObjectName("receiptsSection")
        self._logo: bytes | None = None

        self.name = QLineEdit()
        self.name.setObjectName("receiptCompanyName")
        self.name.setPlaceholderText("Your company's name, as clients know it")
        self.name.setMaxLength(MAX_NAME)
        self.address = QPlainTextEdit()
        self.address.setObjectName("receiptCompanyAddress")
        self.address.setPlaceholderText("Street\nCity, State ZIP\nPhone or e-mail (optional)")
        self.address.setFixedHeight(96)
        self.address.setTabChangesFocus(True)

        self.logo_view = QLabel("No logo")
        self.logo_view.setObjectName("receiptLogoPreview")
        self.logo_view.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.logo_view.setFixedSize(240, 84)
        self.logo_view.setStyleSheet(
            "QLabel#receiptLogoPreview { border: 1px dashed #C7CDD6; border-radius: 6px; "
            "color: #6B7483; background: #FAFBFC; }")
        self.choose_logo = QPushButton("Choose Logo…")
        self.choose_logo.setObjectName("receiptChooseLogo")
        self.choose_logo.clicked.connect(self._choose_logo)
        self.remove_logo = QPushButton("Remove Logo")
        self.remove_logo.setObjectName("receiptRemoveLogo")
        self.remove_logo.clicked.connect(self._remove_logo)
        logo_buttons = QVBoxLayout()
        logo_buttons.addWidget(self.choose_logo)
        logo_buttons.addWidget(self.remove_logo)
        logo_buttons.addStretch(1)
        logo_row = QHBoxLayout()
        logo_row.addWidget(self.logo_view)
        logo_row.addLayout(logo_buttons)
        logo_row.addStretch(1)
        self.logo_note = QLabel("PNG or JPEG; PayDesk makes it at most 600 × 200 pixels.")
        self.logo_note.setObjectName("secondaryText")
        self.logo_note.setWordWrap(True)
        logo_box = QVBoxLayout()
        logo_box.addLayout(logo_row)
        logo_box.addWidget(self.logo_note)

        form = QFormLayout()
        form.setHorizontalSpacing(24)
        form.setVerticalSpacing(12)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        for text, field, layout in (("Company &name:", self.name, None),
                                    ("&Address:", self.address, None),
                                    ("&Logo:", self.choose_logo, logo_box)):
            label = QLabel(text)
            label.setObjectName("fieldLabel")
            label.setBuddy(field)
            if layout is None:
                form.addRow(label, field)
            else:
                form.addRow(label, layout)
        self.body.addLayout(form)

        # The heading as the receipt shows it.
        self.preview = QFrame()
        self.preview.setObjectName("receiptHeadingPreview")
        # Paper in both colour schemes (not themed): dark words on white, as printed.
        self.preview.setStyleSheet(
            "QFrame#receiptHeadingPreview { background: #FFFFFF; border: 1px solid #DDE1E7; "
            "border-radius: 4px; } QFrame#receiptHeadingPreview QLabel { color: #1B2430; }")
        self.preview_logo = QLabel()
        self.preview_logo.setObjectName("receiptPreviewLogo")
        self.preview_text = QLabel()
        self.preview_text.setObjectName("receiptPreviewText")
        self.preview_text.setTextFormat(Qt.TextFormat.RichText)
        self.preview_text.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        preview_row = QHBoxLayout(self.preview)
        preview_row.setContentsMargins(16, 12, 16, 12)
        preview_row.addWidget(self.preview_logo, 0, Qt.AlignmentFlag.AlignTop)
        preview_row.addStretch(1)
        preview_row.addWidget(self.preview_text)
        heading = QLabel("How a receipt starts:")
        heading.setObjectName("fieldLabel")
        self.body.addSpacing(4)
        self.body.addWidget(heading)
        self.body.addWidget(self.preview)

        self.name.textChanged.connect(self._edited)
        self.address.textChanged.connect(self._edited)

    # --- SettingsPage --------------------------------------------------------------------------
    def load(self, engine: Engine, credentials: CredentialStore) -> ReceiptIdentity:
        return load_receipt_identity(engine)

    def show_value(self, value: ReceiptIdentity) -> None:
        self.name.setText(value.name)
        self.address.setPlainText(value.address)
        self._set_logo(value.logo_png)

    def edited_value(self) -> ReceiptIdentity:
        name = self.name.text().strip()
        address = self.address.toPlainText().strip()
        if not name and (address or self._logo):
            raise InvalidSetting("Enter the company name: receipts need to say who they are "
                                 "from.")
        if len(address.splitlines()) > MAX_ADDRESS_LINES:
            raise InvalidSetting(f"Keep the address to {MAX_ADDRESS_LINES} lines or fewer.")
        return ReceiptIdentity(name=name, address=address, logo_png=self._logo)

    def store(self, engine: Engine, value: ReceiptIdentity, actor: str) -> None:
        save_receipt_identity(engine, value, actor=actor)

    # --- the logo ------------------------------------------------------------------------------
    @Slot()
    def _choose_logo(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(
            self, "Choose the Logo for Receipts", str(Path.home()),
            "Pictures (*.png *.jpg *.jpeg *.bmp *.gif)")
        if path:
            self.load_logo_file(Path(path))

    def load_logo_file(self, path: Path) -> None:
        """Read and convert the picture in the background, then preview it."""
        self.logo_note.setText(f"Reading {path.name}…")
        self.choose_logo.setEnabled(False)
        run_task("read the logo", prepare_logo, path, on_success=self._logo_ready,
                 on_failure=self._logo_failed, parent=self)

    def _logo_ready(self, png: bytes) -> None:
        self.choose_logo.setEnabled(True)
        self.logo_note.setText("PNG or JPEG; PayDesk makes it at most 600 × 200 pixels.")
        self._set_logo(png)
        self._edited()

    def _logo_failed(self, failure: WorkerFailure) -> None:
        self.choose_logo.setEnabled(True)
        exc = failure.exception
        text = str(exc) if isinstance(exc, LogoProblem) else (
            "PayDesk could not read that file. Choose a PNG or JPEG picture.")
        self.logo_note.setText(text)
        self.show_message(text, error=True)

    @Slot()
    def _remove_logo(self) -> None:
        self._set_logo(None)
        self._edited()

    def _set_logo(self, png: bytes | None) -> None:
        self._logo = png
        self.remove_logo.setEnabled(png is not None)
        pixmap = QPixmap()
        if png is not None and pixmap.loadFromData(png, "PNG"):
            self.logo_view.setPixmap(pixmap.scaled(
                self.logo_view.size() - QSize(12, 12), Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation))
            self.preview_logo.setPixmap(pixmap.scaled(
                QSize(180, 60), Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation))
        else:
            self.logo_view.setPixmap(QPixmap())
            self.logo_view.setText("No logo")
            self.preview_logo.setPixmap(QPixmap())
        self._show_preview()

    @Slot()
    def _edited(self) -> None:
        self._show_preview()
        self.fields_edited()

    def _show_preview(self) -> None:
        from html import escape

        name = self.name.text().strip() or "Your company's name"
        lines = [escape(line) for line in self.address.toPlainText().strip().splitlines()]
        self.preview_text.setText(
            f"<div style='font-size:13pt; font-weight:600'>{escape(name)}</div>"
            f"<div style='color:#4A5465'>{'<br>'.join(lines)}</div>")

