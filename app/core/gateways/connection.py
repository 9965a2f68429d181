"""The stored payment-gateway connection: which gateway, which account, tested when.

Everything except the secret key lives in the database's shared settings (one JSON value
under ``gateway.connection``) so every seat sharing a database uses the same account. The
secret key lives only in the OS keychain through :mod:`app.core.credentials`.

:func:`load_gateway` is what the program calls at start (and after Setup) to get a ready
:class:`~app.core.gateways.protocol.PaymentGateway`, or ``None`` with
:func:`describe_missing_gateway` saying why. Importing this module does not make a gateway
part of "setup is complete": a bookkeeper can look at invoices before connecting one, and
the payment screens say what is missing. :func:`register_gateway_requirement` adds it as a
setup requirement for an installation that wants one required.

Threads: every function here blocks on the database or the keychain; call them off the GUI
thread when they are part of a user action.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from app.core.clock import utcnow
from app.core.config import get_setting, set_setting
from app.core.credentials import CredentialStore, SecretName
from app.core.gateways.protocol import PaymentGateway
from app.core.gateways.types import GatewayAccountInfo, GatewayMode
from app.core.setup.steps import SetupRequirement, register_requirement

__all__ = [
    "CONNECTION_SETTING",
    "GATEWAY_REQUIREMENT",
    "GatewayConnection",
    "clear_gateway_connection",
    "describe_missing_gateway",
    "has_gateway_secret",
    "load_gateway",
    "load_gateway_connection",
    "open_gateway",
    "record_gateway_test",
    "register_gateway_requirement",
    "save_gateway_connection",
    "save_gateway_secret",
]

CONNECTION_SETTING = "gateway.connection"

#: Gateways PayDesk can use, by the name stored in the connection.
GATEWAY_NAMES = {"stripe": "Stripe"}


@dataclass(frozen=True, slots=True)
class GatewayConnection:
    """The gateway account as PayDesk keeps it (never the secret key).

    ``api_base`` is empty for the real service; only the sandbox sets it (a loopback URL).
    ``return_url`` is the page a client's browser goes to after the hosted form (the
    company's website); the sandbox has its own. The account fields are what the last
    successful Test Connection found.
    """

    gateway: str = "stripe"
    api_base: str = ""
    return_url: str = ""
    account_id: str = ""
    account_name: str = ""
    mode: GatewayMode | None = None
    default_currency: str = ""
    verified_at: datetime | None = None

    @property
    def gateway_name(self) -> str:
        return GATEWAY_NAMES.get(self.gateway, self.gateway.title())

    def to_json(self) -> dict[str, Any]:
        return {
            "gateway": self.gateway,
            "api_base": self.api_base,
            "return_url": self.return_url,
            "account_id": self.account_id,
            "account_name": self.account_name,
            "mode": self.mode.value if self.mode else None,
            "default_currency": self.default_currency,
            "verified_at": self.verified_at.isoformat() if self.verified_at else None,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> GatewayConnection:
        verified = value.get("verified_at")
        mode = value.get("mode")
        return cls(
            gateway=str(value.get("gateway") or "stripe"),
            api_base=str(value.get("api_base") or ""),
            return_url=str(value.get("return_url") or ""),
            account_id=str(value.get("account_id") or ""),
            account_name=str(value.get("account_name") or ""),
            mode=GatewayMode(mode) if mode in ("test", "live") else None,
            default_currency=str(value.get("default_currency") or ""),
            verified_at=datetime.fromisoformat(verified) if verified else None,
        )


def _secret_name(gateway: str) -> str:
    if gateway == "stripe":
        return SecretName.STRIPE_SECRET_KEY
    raise ValueError(f"PayDesk does not support the gateway {gateway!r}")


def load_gateway_connection(engine: Engine) -> GatewayConnection | None:
    value = get_setting(engine, CONNECTION_SETTING)
    if not isinstance(value, dict) or value.get("gateway") not in GATEWAY_NAMES:
        return None
    return GatewayConnection.from_json(value)


def save_gateway_connection(engine: Engine, connection: GatewayConnection, *,
                            actor: str | None = None) -> GatewayConnection:
    """Store the connection as typed (a previous test result is kept only when the account
    address is unchanged; a changed key clears it through :func:`record_gateway_test`)."""
    previous = load_gateway_connection(engine)
    if (previous is not None and connection.verified_at is None
            and previous.gateway == connection.gateway
            and previous.api_base == connection.api_base):
        connection = replace(connection, account_id=previous.account_id,
                             account_name=previous.account_name, mode=previous.mode,
                             default_currency=previous.default_currency,
                             verified_at=previous.verified_at)
    set_setting(engine, CONNECTION_SETTING, connection.to_json(), actor=actor)
    return connection


def record_gateway_test(engine: Engine, connection: GatewayConnection, info: GatewayAccountInfo,
                        *, actor: str | None = None) -> GatewayConnection:
    """Store the connection with the account a successful Test Connection found."""
    tested = replace(connection, account_id=info.account_id, account_name=info.display_name,
                     mode=info.mode, default_currency=info.default_currency,
                     verified_at=utcnow())
    set_setting(engine, CONNECTION_SETTING, tested.to_json(), actor=actor)
    return tested


def save_gateway_secret(credentials: CredentialStore, gateway: str, secret: str) -> None:
    """Put the secret key in the keychain (the only place it is ever kept)."""
    credentials.set(_secret_name(gateway), secret.strip())


def has_gateway_secret(credentials: CredentialStore, gateway: str = "stripe") -> bool:
    return credentials.has(_secret_name(gateway))


def clear_gateway_connection(engine: Engine, credentials: CredentialStore) -> None:
    """Forget the gateway account and its key."""
    connection = load_gateway_connection(engine)
    set_setting(engine, CONNECTION_SETTING, None)
    credentials.delete(_secret_name(connection.gateway if connection else "stripe"))


def open_gateway(connection: GatewayConnection, secret: str, **options: Any) -> PaymentGateway:
    """The adapter for a connection and its key (no network)."""
    if connection.gateway == "stripe":
        from app.core.gateways.stripe_gateway import StripeGateway

        return StripeGateway(secret, api_base=connection.api_base or None,
                             return_url=connection.return_url or None, **options)
    raise ValueError(f"PayDesk does not support the gateway {connection.gateway!r}")


def load_gateway(engine: Engine, credentials: CredentialStore,
                 **options: Any) -> PaymentGateway | None:
    """The gateway for the stored connection, or None when setup is missing a piece.

    ``options`` go to the adapter (timeouts, retries). Nothing is sent over the network.
    """
    connection = load_gateway_connection(engine)
    if connection is None:
        return None
    secret = credentials.get(_secret_name(connection.gateway))
    if not secret:
        return None
    return open_gateway(connection, secret, **options)


def describe_missing_gateway(engine: Engine, credentials: CredentialStore) -> str | None:
    """Why PayDesk cannot take payments yet and what to do about it, in plain words; None
    when it can. Screens show this text as it is (it already says what to do)."""
    connection = load_gateway_connection(engine)
    if connection is None:
        return ("No payment gateway is connected yet. Run Setup… to connect your payment "
                "gateway.")
    if not has_gateway_secret(credentials, connection.gateway):
        return (f"The {connection.gateway_name} secret key is not stored on this computer. "
                "Run Setup… and enter it again to connect your payment gateway.")
    if connection.verified_at is None:
        return (f"The {connection.gateway_name} account has not passed Test Connection yet. "
                "Run Setup… and test the connection to connect your payment gateway.")
    return None


#: "A payment gateway is connected" as a setup requirement (see `register_gateway_requirement`).
GATEWAY_REQUIREMENT = SetupRequirement("gateway", "Payment gateway", describe_missing_gateway)


def register_gateway_requirement() -> None:
    """Make a connected, tested gateway part of "setup is complete" (first start, ``paydesk
    doctor``). PayDesk itself does not call it: without it PayDesk can be used to look at
    invoices before a gateway is connected, and the payment screens say what is missing."""
    register_requirement(GATEWAY_REQUIREMENT)
