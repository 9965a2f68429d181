"""Small pieces the payment screens share: money text, status tones, the gateway in use.

Everything here runs on the GUI thread, and reads nothing there: the connected gateway is
opened in a worker (:func:`open_connected_gateway`) and kept in ``AppServices``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtWidgets import QLabel, QWidget
from sqlalchemy import Engine

from app.core.credentials import CredentialStore
from app.core.gateways import GatewayMode, PaymentGateway
from app.core.gateways.connection import describe_missing_gateway, load_gateway
from app.core.money import Money
from app.gui.context import AppContext
from app.gui.invoices import formatting
from app.gui.theme import set_themed_style
from app.gui.widgets import Tone

log = logging.getLogger(__name__)


#: Shown while the stored gateway connection is still being opened (a moment at start).
GATEWAY_OPENING_TEXT = "PayDesk is opening the payment gateway connection; one moment."


def current_gateway(context: AppContext) -> PaymentGateway | None:
    """The payment gateway PayDesk is connected to, as opened at start (or after Setup); None
    before Setup connected one, or while it is still being opened. Reads nothing: the gateway
    is opened in a worker by :func:`open_connected_gateway` and kept in ``context.services``
    so every screen charges through the same client. GUI thread."""
    return context.services.gateway


def gateway_known(context: AppContext) -> bool:
    """Whether the stored connection has been opened (a gateway, or the sentence saying what
    is missing). GUI thread."""
    return context.services.gateway is not None or context.services.gateway_missing is not None


def missing_gateway_text(context: AppContext) -> str:
    """Why payments cannot be taken yet, and what to do about it (the core's words, as read
    when the gateway was opened). GUI thread; reads nothing."""
    if context.services.gateway_missing is not None:
        return context.services.gateway_missing
    return GATEWAY_OPENING_TEXT


@dataclass(frozen=True, slots=True)
class OpenedGateway:
    """What opening the stored connection found: the gateway, or why there is none."""

    gateway: PaymentGateway | None
    missing: str


def open_stored_gateway(engine: Engine, credentials: CredentialStore) -> OpenedGateway:
    """Open the stored gateway connection (settings and keychain, no network). Worker
    thread."""
    gateway = load_gateway(engine, credentials)
    if gateway is not None:
        return OpenedGateway(gateway, "")
    return OpenedGateway(None, describe_missing_gateway(engine, credentials) or (
        "The payment gateway could not be opened. Run Setup… to connect your payment gateway."
    ))


class _GatewayOpener(QObject):
    """Opens the stored connection in a worker and keeps the result in ``context.services``;
    announces it on the change bus (``gatewayChanged``). One per context, a child of the bus.
    GUI thread."""

    def __init__(self, context: AppContext) -> None:
        super().__init__(context.changes())
        self.context = context
        self.running = False
        self.again = False

    def start(self) -> None:
        if self.running:
            self.again = True  # the connection changed while it was being opened
            return
        from app.gui.workers import run_task

        self.running = True
        run_task("open the payment gateway", open_stored_gateway, self.context.engine,
                 self.context.credentials, on_success=self._opened, on_failure=self._failed)

    @Slot(object)
    def _opened(self, opened: object) -> None:
        assert isinstance(opened, OpenedGateway)
        self._finish(opened.gateway, None if opened.gateway is not None else opened.missing)

    @Slot(object)
    def _failed(self, failure: object) -> None:
        exc = getattr(failure, "exception", None)
        log.warning("Could not open the payment gateway: %s", exc)
        from app.gui.errors import describe_exception

        reason = describe_exception(exc) if isinstance(exc, BaseException) else ""
        self._finish(None, "The payment gateway could not be opened. " + reason
                     + " Run Setup… to connect your payment gateway.")

    def _finish(self, gateway: PaymentGateway | None, missing: str | None) -> None:
        self.running = False
        if self.again:
            self.again = False
            self.start()
            return
        self.context.services.gateway = gateway
        self.context.services.gateway_missing = missing
        self.context.changes().gatewayChanged.emit()


def open_connected_gateway(context: AppContext) -> None:
    """(Re)open the stored gateway connection in a worker: at start, after Setup, and when a
    screen needs it before it was opened. Screens follow ``changes().gatewayChanged``. GUI
    thread."""
    bus = context.changes()
    opener = bus.findChild(_GatewayOpener)
    if opener is None:
        opener = _GatewayOpener(context)
    opener.start()


def use_gateway(context: AppContext) -> None:
    """Make sure the stored gateway is (being) opened; a screen calls this when it is built
    and follows ``gatewayChanged``. GUI thread."""
    if gateway_known(context):
        return
    opener = context.changes().findChild(_GatewayOpener)
    if opener is not None and opener.running:
        return  # being opened already: one opening serves every screen waiting for it
    open_connected_gateway(context)


def is_test_mode(gateway: PaymentGateway | None) -> bool:
    return gateway is not None and gateway.mode is GatewayMode.TEST


def money_text(value: Money | None, locale: str) -> str:
    return value.format(locale) if value is not None else ""


def minor_text(minor: int | None, currency: str, locale: str) -> str:
    """An amount stored as minor units, formatted; empty for None."""
    return Money(minor, currency).format(locale) if minor is not None else ""


def date_text(value: date | datetime | None) -> str:
    """A date as every screen writes it (``app.gui.invoices.formatting.date_text``)."""
    return formatting.date_text(value)


def datetime_text(value: datetime | None) -> str:
    """A moment as every screen writes it (``app.gui.invoices.formatting.datetime_text``)."""
    return formatting.datetime_text(value)


#: Payment states → the tone of their pill (colour always comes with words).
PAYMENT_STATE_TONES: dict[str, Tone] = {
    "created": Tone.INFO,
    "submitted": Tone.INFO,
    "awaiting_client": Tone.INFO,
    "unknown": Tone.WARNING,
    "processing": Tone.WARNING,
    "succeeded": Tone.SUCCESS,
    "partially_refunded": Tone.WARNING,
    "refunded": Tone.NEUTRAL,
    "declined": Tone.DANGER,
    "failed": Tone.DANGER,
    "returned": Tone.DANGER,
    "voided": Tone.NEUTRAL,
    "expired": Tone.NEUTRAL,
}

#: Posting states (Autotask / QuickBooks outbox) → tone.
POSTING_STATE_TONES: dict[str, Tone] = {
    "pending": Tone.INFO,
    "delivering": Tone.INFO,
    "delivered": Tone.SUCCESS,
    "failed": Tone.DANGER,
    "dismissed": Tone.NEUTRAL,
}


class TestModeBanner(QLabel):
    """The strip that makes test mode unmistakable on every payment screen."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(
            "TEST MODE — the payment gateway is connected with test keys. No real money "
            "moves; use the gateway's test cards.",
            parent,
        )
        self.setObjectName("testModeBanner")
        self.setWordWrap(True)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        set_themed_style(self,
            "QLabel#testModeBanner { background: #FCEFD6; color: #85520A; font-weight: 600;"
            " border: 1px solid #E9C98A; border-radius: 6px; padding: 6px 10px; }"
        )

    def follow(self, context: AppContext) -> None:
        """Show the banner while the gateway in use has test keys, following the change bus
        (the gateway is opened in a worker, never on the GUI thread)."""
        self._context = context
        context.changes().gatewayChanged.connect(self._on_gateway_changed)
        self._on_gateway_changed()
        use_gateway(context)

    @Slot()
    def _on_gateway_changed(self) -> None:
        self.setVisible(is_test_mode(self._context.services.gateway))
