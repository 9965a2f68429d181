"""What every screen needs: the profile, the database, the keychain, the internal currency,
and the long-lived services (:class:`AppServices`) with the change bus.

One ``AppContext`` is made at start (``app.gui.app``) and handed to every area of the main
window. It holds no ORM sessions; screens open short sessions on ``engine`` in background
workers. Gateway providers and posting channels are registries of the core
(:mod:`app.core.gateways.providers`, :mod:`app.core.posting.channels`), read where needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from app.core.config import Profile, get_internal_currency
from app.core.credentials import CredentialStore

if TYPE_CHECKING:
    from app.core.gateways.protocol import PaymentGateway
    from app.core.quickbooks.desktop.service import WebConnectorServer
    from app.gui.changes import ChangeBus
    from app.gui.payments.upkeep import PaymentUpkeep
    from app.gui.sync.controller import SyncController
    from app.sandbox.demo import DemoEnvironment


@dataclass
class AppServices:
    """The long-lived pieces every screen shares, made once per window on the GUI thread:
    the payment gateway opened at start (or by Setup) in a worker — or why there is none —,
    the sync controller, the background
    payment upkeep (recovery and posting), the change bus, and the QuickBooks Web Connector
    service when the window answers it."""

    gateway: PaymentGateway | None = None
    #: Why payments cannot be taken when ``gateway`` is None (the core's sentence); None while
    #: the stored connection has not been opened yet (``app.gui.payments.common``).
    gateway_missing: str | None = None
    sync: SyncController | None = None
    upkeep: PaymentUpkeep | None = None
    changes: ChangeBus | None = None
    #: The QuickBooks Web Connector service the window runs (QuickBooks Desktop on this PC).
    quickbooks_desktop: WebConnectorServer | None = None


@dataclass
class AppContext:
    profile: Profile
    engine: Engine
    credentials: CredentialStore
    #: The babel locale used for money and dates, e.g. "en_US".
    locale: str = "en_US"
    #: Set when PayDesk runs with ``--demo`` (sandbox servers in-process).
    demo: DemoEnvironment | None = None
    services: AppServices = field(default_factory=AppServices)
    _currency: str | None = None
    _currency_read: bool = False

    def changes(self) -> ChangeBus:
        """The change bus (made on first use; call on the GUI thread)."""
        if self.services.changes is None:
            from app.gui.changes import ChangeBus

            self.services.changes = ChangeBus()
        return self.services.changes

    def currency(self) -> str | None:
        """The internal currency, or None before setup chose it. Read once, by the
        composition root before the window is built (``app.gui.app``); Setup's currency page
        tells it the currency it locked or read (``remember_currency``), so this reads nothing
        on the GUI thread afterwards."""
        if not self._currency_read:
            self._currency = get_internal_currency(self.engine)
            self._currency_read = True
        return self._currency

    def remember_currency(self, code: str) -> None:
        """The internal currency as just locked or read in a worker (so ``currency()`` reads
        nothing on the GUI thread)."""
        self._currency = code
        self._currency_read = True
