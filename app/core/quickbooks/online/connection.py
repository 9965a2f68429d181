"""The stored QuickBooks Online connection: which company, where, and the app's keys.

Everything except secrets lives in one shared setting, ``quickbooks_online.connection``, so
every seat sharing a database posts to the same company. The client secret and the refresh
tokens live only in the keychain (``app.core.credentials``); this module never holds them.

``environment`` is what ``intuit-oauth`` takes: ``sandbox``, ``production`` or the address of
an OpenID discovery document (PayDesk's own QuickBooks Online sandbox serves one).
``api_base`` is the v3 API's base (``https://quickbooks.api.intuit.com/v3``; Intuit's sandbox
host, or the local sandbox's loopback address + ``/v3``); ``/company/<realm>/…`` follows it.

Threads: every function blocks on the database; call them off the GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from app.core.config import get_setting, set_setting
from app.core.credentials import CredentialStore, SecretName
from app.core.net import require_safe_url

__all__ = [
    "CONNECTION_SETTING",
    "PRODUCTION_API_BASE",
    "SANDBOX_API_BASE",
    "QuickBooksOnlineConnection",
    "clear_connection",
    "default_api_base",
    "is_connected",
    "load_connection",
    "save_connection",
]

CONNECTION_SETTING = "quickbooks_online.connection"
PRODUCTION_API_BASE = "https://quickbooks.api.intuit.com/v3"
SANDBOX_API_BASE = "https://sandbox-quickbooks.api.intuit.com/v3"


def default_api_base(environment: str) -> str:
    """Intuit's API host for ``sandbox``/``production``; '' for a discovery URL (the local
    sandbox names its own)."""
    env = environment.strip().lower()
    if env in ("production", "prod"):
        return PRODUCTION_API_BASE
    if env in ("sandbox", "sand"):
        return SANDBOX_API_BASE
    return ""


@dataclass(frozen=True, slots=True)
class QuickBooksOnlineConnection:
    """A connected QuickBooks Online company (never a secret).

    ``settings`` holds the posting choices: ``deposit_account_id`` (default: Undeposited
    Funds), ``card_method_id``/``bank_method_id`` (created on first use), ``surcharge_item_id``.
    """

    client_id: str
    realm_id: str
    environment: str
    api_base: str
    redirect_uri: str = ""
    company_name: str = ""
    home_currency: str = ""
    multicurrency: bool = False
    verified_at: datetime | None = None
    settings: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"QuickBooksOnlineConnection(realm_id={self.realm_id!r}, "
                f"company={self.company_name!r}, api_base={self.api_base!r})")

    def with_settings(self, **values: str) -> QuickBooksOnlineConnection:
        merged = dict(self.settings)
        merged.update(values)
        return replace(self, settings=merged)

    def company_url(self, entity: str, remote_id: str) -> str:
        """Where a person opens a transaction in QuickBooks' own web app."""
        if self.api_base == PRODUCTION_API_BASE:
            app = "https://app.qbo.intuit.com"
        elif self.api_base == SANDBOX_API_BASE:
            app = "https://app.sandbox.qbo.intuit.com"
        else:
            app = self.api_base.rstrip("/").removesuffix("/v3")
        return f"{app}/app/{entity.lower()}?txnId={remote_id}"

    def to_json(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "realm_id": self.realm_id,
            "environment": self.environment,
            "api_base": self.api_base,
            "redirect_uri": self.redirect_uri,
            "company_name": self.company_name,
            "home_currency": self.home_currency,
            "multicurrency": self.multicurrency,
            "verified_at": self.verified_at.isoformat() if self.verified_at else None,
            "settings": dict(self.settings),
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> QuickBooksOnlineConnection:
        verified = value.get("verified_at")
        settings = value.get("settings") or {}
        return cls(
            client_id=str(value.get("client_id") or ""),
            realm_id=str(value.get("realm_id") or ""),
            environment=str(value.get("environment") or "production"),
            api_base=str(value.get("api_base") or ""),
            redirect_uri=str(value.get("redirect_uri") or ""),
            company_name=str(value.get("company_name") or ""),
            home_currency=str(value.get("home_currency") or ""),
            multicurrency=bool(value.get("multicurrency")),
            verified_at=datetime.fromisoformat(verified) if verified else None,
            settings={str(k): str(v) for k, v in dict(settings).items()},
        )


def load_connection(engine: Engine) -> QuickBooksOnlineConnection | None:
    value = get_setting(engine, CONNECTION_SETTING)
    if not isinstance(value, dict) or not value.get("realm_id"):
        return None
    return QuickBooksOnlineConnection.from_json(value)


def save_connection(engine: Engine, connection: QuickBooksOnlineConnection, *,
                    actor: str | None = None) -> None:
    require_safe_url(connection.api_base, service="QuickBooks Online")
    set_setting(engine, CONNECTION_SETTING, connection.to_json(), actor=actor)


def is_connected(engine: Engine) -> bool:
    return load_connection(engine) is not None


def clear_connection(engine: Engine, credentials: CredentialStore) -> None:
    """Forget the company and its tokens (the client secret stays for a reconnect)."""
    set_setting(engine, CONNECTION_SETTING, None)
    credentials.delete(SecretName.QUICKBOOKS_REFRESH_TOKEN)
    credentials.delete(SecretName.QUICKBOOKS_REFRESH_TOKEN_PREVIOUS)
