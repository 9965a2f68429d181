"""What every screen needs: the profile, the database, the keychain and the internal currency.

One ``AppContext`` is made at start (``app.gui.app``) and handed to every area of the main
window. It holds no widgets and no ORM sessions; screens open short sessions on ``engine``
in background workers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from app.core.config import Profile, get_internal_currency
from app.core.credentials import CredentialStore

if TYPE_CHECKING:
    from app.sandbox.demo import DemoEnvironment


@dataclass
class AppContext:
    profile: Profile
    engine: Engine
    credentials: CredentialStore
    #: The babel locale used for money and dates, e.g. "en_US".
    locale: str = "en_US"
    #: Set when PayDesk runs with ``--demo`` (sandbox servers in-process).
    demo: DemoEnvironment | None = None
    #: Free slots for long-lived controllers (sync scheduler, posting worker) by name.
    services: dict[str, Any] = field(default_factory=dict)
    _currency: str | None = None

    def currency(self) -> str | None:
        """The internal currency, or None before setup chose it (cached once set)."""
        if self._currency is None:
            self._currency = get_internal_currency(self.engine)
        return self._currency
