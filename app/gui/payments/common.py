"""Small pieces the payment screens share: money text, status tones, the gateway in use.

Everything here runs on the GUI thread.
"""

from __future__ import annotations

import logging
from datetime import date, datetime

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QLabel, QWidget

from app.core.gateways import GatewayMode, PaymentGateway
from app.core.gateways.connection import describe_missing_gateway, load_gateway
from app.core.money import Money
from app.gui.context import AppContext
from app.gui.invoices import formatting
from app.gui.widgets import Tone

log = logging.getLogger(__name__)


def current_gateway(context: AppContext) -> PaymentGateway | None:
    """The payment gateway PayDesk is connected to, or None before Setup connected one.

    Opened from the stored connection on first use (settings and keychain only, no network)
    and kept in ``context.services.gateway`` so every screen charges through the same client.
    """
    if context.services.gateway is not None:
        return context.services.gateway
    gateway = load_gateway(context.engine, context.credentials)
    if gateway is not None:
        context.services.gateway = gateway
    return gateway


def missing_gateway_text(context: AppContext) -> str:
    """Why payments cannot be taken yet, and what to do about it (the core's words)."""
    return describe_missing_gateway(context.engine, context.credentials) or (
        "The payment gateway could not be opened. Run Setup… to connect your payment gateway."
    )


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
        self.setStyleSheet(
            "QLabel#testModeBanner { background: #FCEFD6; color: #85520A; font-weight: 600;"
            " border: 1px solid #E9C98A; border-radius: 6px; padding: 6px 10px; }"
        )

    def follow(self, context: AppContext) -> None:
        """Show the banner when the gateway in use has test keys. A gateway not opened yet
        is opened in a worker (settings and keychain), never on the GUI thread."""
        gateway = context.services.gateway
        if gateway is not None:
            self.setVisible(is_test_mode(gateway))
            return
        self.setVisible(False)
        self._context = context
        from app.gui.workers import run_task

        run_task(
            "open the payment gateway",
            load_gateway,
            context.engine,
            context.credentials,
            on_success=self._on_gateway,
            on_failure=self._on_gateway_failed,
        )

    @Slot(object)
    def _on_gateway(self, gateway: object) -> None:
        if isinstance(gateway, PaymentGateway):
            if self._context.services.gateway is None:
                self._context.services.gateway = gateway
            self.setVisible(is_test_mode(gateway))

    @Slot(object)
    def _on_gateway_failed(self, failure: object) -> None:
        # Paying says what is wrong with the gateway; the banner just stays hidden.
        log.warning("Could not open the payment gateway: %s", getattr(failure, "exception", ""))
