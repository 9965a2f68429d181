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

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from app.core.clock import utcnow
from app.core.config import get_setting, set_setting
from app.core.credentials import CredentialStore
from app.core.gateways.protocol import PaymentGateway
from app.core.gateways.providers import (
    GatewayProvider,
    get_provider,
    provider_names,
)
from app.core.gateways.types import GatewayAccountInfo, GatewayMode
from app.core.setup.steps import SetupRequirement, register_requirement

__all__ = [
    "CONNECTION_SETTING",
    "GATEWAY_REQUIREMENT",
    "GatewayConnection",
    "clear_gateway_connection",
    "describe_missing_gateway",
    "gateway_names",
    "has_gateway_secret",
    "load_gateway",
    "load_gateway_connection",
    "load_gateway_secrets",
    "open_gateway",
    "record_gateway_test",
    "register_gateway_requirement",
    "same_account",
    "save_gateway_connection",
    "save_gateway_secret",
    "secret_name",
]

CONNECTION_SETTING = "gateway.connection"



def gateway_names() -> dict[str, str]:
    """Gateways PayDesk can use (every registered provider), by the name stored in the
    connection: ``{"stripe": "Stripe", …}``."""
    return provider_names()


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
    #: The provider's fields that are not secret, as typed (Authorize.Net's API login ID).
    settings: tuple[tuple[str, str], ...] = ()

    def setting(self, name: str, default: str = "") -> str:
        return dict(self.settings).get(name, default)

    @property
    def gateway_name(self) -> str:
        return gateway_names().get(self.gateway, self.gateway.title())

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
            "settings": dict(self.settings),
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
            settings=tuple(sorted((str(k), str(v)) for k, v in
                                  dict(value.get("settings") or {}).items())),
        )


def _provider(gateway: str) -> GatewayProvider:
    provider = get_provider(gateway)
    if provider is None:
        raise ValueError(f"PayDesk does not support the gateway {gateway!r}")
    return provider


def secret_name(gateway: str, field: str) -> str:
    """The keychain name of one secret field of a gateway: ``"stripe.secret_key"``."""
    return f"{gateway}.{field}"


def _secret_fields(gateway: str) -> list[str]:
    return [f.name for f in _provider(gateway).fields if f.secret]


def _secret_name(gateway: str) -> str:
    """The first (main) secret field's keychain name."""
    return secret_name(gateway, _secret_fields(gateway)[0])


def load_gateway_secrets(credentials: CredentialStore, gateway: str) -> dict[str, str] | None:
    """Every secret field of the gateway from the keychain, or None when one is missing."""
    values = {name: credentials.get(secret_name(gateway, name))
              for name in _secret_fields(gateway)}
    if not all(values.values()):
        return None
    return {k: str(v) for k, v in values.items()}


def load_gateway_connection(engine: Engine) -> GatewayConnection | None:
    value = get_setting(engine, CONNECTION_SETTING)
    if not isinstance(value, dict) or value.get("gateway") not in gateway_names():
        return None
    return GatewayConnection.from_json(value)


def save_gateway_connection(engine: Engine, connection: GatewayConnection, *,
                            actor: str | None = None) -> GatewayConnection:
    """Store the connection as typed (a previous test result is kept only when the account
    address is unchanged; a changed key clears it through :func:`record_gateway_test`)."""
    previous = load_gateway_connection(engine)
    if (previous is not None and connection.verified_at is None
            and previous.gateway == connection.gateway
            and previous.api_base == connection.api_base
            and previous.settings == connection.settings):
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


def save_gateway_secret(credentials: CredentialStore, gateway: str, secret: str,
                        field: str | None = None) -> None:
    """Put a secret (the main one unless ``field`` names another) in the keychain, the only
    place it is ever kept."""
    name = secret_name(gateway, field) if field else _secret_name(gateway)
    credentials.set(name, secret.strip())


def has_gateway_secret(credentials: CredentialStore, gateway: str = "stripe") -> bool:
    return all(credentials.has(secret_name(gateway, f)) for f in _secret_fields(gateway))


def clear_gateway_connection(engine: Engine, credentials: CredentialStore) -> None:
    """Forget the gateway account and its secrets."""
    connection = load_gateway_connection(engine)
    set_setting(engine, CONNECTION_SETTING, None)
    gateway = connection.gateway if connection else "stripe"
    for name in _secret_fields(gateway):
        credentials.delete(secret_name(gateway, name))


def open_gateway(connection: GatewayConnection, secret: str | Mapping[str, str],
                 **options: Any) -> PaymentGateway:
    """The adapter for a connection and its secrets — a mapping of secret field to value, or
    the main secret alone (no network)."""
    provider = _provider(connection.gateway)
    secrets = ({_secret_fields(connection.gateway)[0]: secret} if isinstance(secret, str)
               else dict(secret))
    return provider.open(connection, secrets, **options)


def load_gateway(engine: Engine, credentials: CredentialStore,
                 **options: Any) -> PaymentGateway | None:
    """The gateway for the stored connection, or None when setup is missing a piece.

    ``options`` go to the adapter (timeouts, retries). Nothing is sent over the network.
    """
    connection = load_gateway_connection(engine)
    if connection is None:
        return None
    secrets = load_gateway_secrets(credentials, connection.gateway)
    if secrets is None:
        return None
    return open_gateway(connection, secrets, **options)


def same_account(current: str, recorded: str | None) -> bool:
    """Whether a payment recorded under ``recorded`` belongs to the account ``current``. An
    account id not known when the payment was taken (before Test Connection) matches any id
    of the same gateway and mode."""
    if not recorded:
        return True  # taken before PayDesk recorded accounts: only the gateway kind was kept
    now_gateway, now_mode, now_id = [*current.split(":", 2), "", ""][:3]
    was_gateway, was_mode, was_id = [*recorded.split(":", 2), "", ""][:3]
    if (now_gateway, now_mode) != (was_gateway, was_mode):
        return False
    return not now_id or not was_id or now_id == was_id


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
