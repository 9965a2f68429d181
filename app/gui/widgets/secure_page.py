"""The gateway's secure page in the browser — and a way on when the browser does not open.

``SecurePageLink`` is what the Payment methods panel and the Order Summary show while a
person fills in the gateway's secure page: a sentence that says only what is true ("open in
your browser" only when the browser did open it), the page's address to read or select, and
**Copy address** and **Open again**. Opening is ``open_url(url) -> bool`` (the desktop's
browser by default; tests replace it). Some gateways' pages open only from this computer
(Authorize.Net's need a token posted from here, ``GatewayProvider.shareable_pay_links``):
for them ``open(url, shareable=False)`` never suggests sending the address to the client.

Runs on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from app.core.gateways import PaymentGateway
from app.core.gateways.providers import get_provider
from app.gui.widgets.accessible import describe

__all__ = ["SecurePageLink", "open_in_browser", "pages_are_shareable"]


def pages_are_shareable(gateway: PaymentGateway | None) -> bool:
    """Whether ``gateway``'s secure pages can be opened by someone else (sent to a client)."""
    if gateway is None:
        return True
    # The account key names the provider: "authorizenet:test:…".
    provider = get_provider(str(gateway.account_key).split(":", 1)[0])
    return provider is None or provider.shareable_pay_links


def open_in_browser(url: str) -> bool:
    """Ask the desktop to open ``url`` in the default browser; False when it could not."""
    return bool(QDesktopServices.openUrl(QUrl(url)))


class SecurePageLink(QWidget):
    """The secure page's address with Copy address and Open again.

    ``open(url)`` tries the browser and returns whether it opened; ``opened`` says so
    afterwards and ``status_text()`` is the sentence to show. ``copied`` fires after Copy.
    """

    copied = Signal()

    OPENED_TEXT = "The secure page is open in your browser."
    NOT_OPENED_TEXT = (
        "PayDesk could not open your browser. Copy the address below into a browser, or "
        "send it to the client."
    )
    NOT_OPENED_LOCAL_TEXT = (
        "PayDesk could not open your browser. Copy the address below into a browser on this "
        "computer: this gateway's secure page opens only from here."
    )

    def __init__(self, parent: QWidget | None = None,
                 open_url: Callable[[str], bool] | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("securePageLink")
        self.open_url: Callable[[str], bool] = open_url or open_in_browser
        self.opened = False
        self.shareable = True
        self.status = QLabel(self)
        self.status.setObjectName("securePageStatus")
        self.status.setWordWrap(True)
        self.address = QLineEdit(self)
        self.address.setObjectName("securePageAddress")
        self.address.setReadOnly(True)
        describe(self.address, "The secure page's address, to copy or open",
                 name="Address of the secure page")
        self.copy_button = QPushButton("Copy address", self)
        self.copy_button.setObjectName("copySecurePageButton")
        describe(self.copy_button, "Copy the secure page's address, to open it in a browser "
                 "or send it to the client")
        self.open_button = QPushButton("Open again", self)
        self.open_button.setObjectName("openSecurePageButton")
        describe(self.open_button, "Open the secure page in your browser again")
        for button in (self.copy_button, self.open_button):
            button.setToolTip(button.accessibleDescription())
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.address, 1)
        row.addWidget(self.copy_button)
        row.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.status)
        layout.addLayout(row)
        self.copy_button.clicked.connect(self.copy)
        self.open_button.clicked.connect(self.open_again)

    def url(self) -> str:
        return self.address.text()

    def open(self, url: str, *, shareable: bool = True) -> bool:
        """Show ``url`` and try to open it in the browser; the status says what happened.
        ``shareable=False``: the page opens only from this computer, so the address is not
        for the client."""
        self.shareable = shareable
        describe(self.copy_button, "Copy the secure page's address, to open it in a browser "
                 + ("or send it to the client" if shareable else "on this computer"))
        self.copy_button.setToolTip(self.copy_button.accessibleDescription())
        self.address.setText(url)
        self.address.setCursorPosition(0)
        return self._try_open()

    def status_text(self) -> str:
        if self.opened:
            return self.OPENED_TEXT
        return self.NOT_OPENED_TEXT if self.shareable else self.NOT_OPENED_LOCAL_TEXT

    @Slot()
    def open_again(self) -> None:
        if self.url():
            self._try_open()

    @Slot()
    def copy(self) -> None:
        if self.url():
            QGuiApplication.clipboard().setText(self.url())
            self.copy_button.setText("Copied")
            self.copied.emit()

    def _try_open(self) -> bool:
        self.opened = bool(self.open_url(self.url()))
        self.status.setText(self.status_text())
        self.copy_button.setText("Copy address")
        return self.opened
