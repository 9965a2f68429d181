"""The stored Autotask connection: who PayDesk signs in as, and where.

Everything except the secret lives in the database's shared settings (one JSON value under
``autotask.connection``) so that every seat sharing a database uses the same API user and
zone. The API secret lives only in the OS keychain through `app.core.credentials`; nothing
in this module writes it anywhere else, and `AutotaskConnection` never holds it.

`load_autotask_client` is what the sync, the posting worker and `paydesk doctor` call to get
a ready `AutotaskClient` (or ``None`` with `describe_missing_connection` saying why).

Threads: every function here blocks on the database or the keychain; call them off the GUI
thread when they are part of a user action.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from app.core.autotask import (
    DEFAULT_DISCOVERY_URL,
    AutotaskClient,
    AutotaskCredentials,
    ConnectionReport,
    ZoneInfo,
)
from app.core.clock import utcnow
from app.core.config import get_setting, set_setting
from app.core.credentials import CredentialStore, SecretName

__all__ = [
    "CONNECTION_SETTING",
    "AutotaskConnection",
    "autotask_credentials",
    "clear_autotask_connection",
    "describe_missing_connection",
    "has_autotask_secret",
    "load_autotask_client",
    "load_autotask_connection",
    "record_successful_test",
    "save_autotask_connection",
    "save_autotask_secret",
]

CONNECTION_SETTING = "autotask.connection"


@dataclass(frozen=True, slots=True)
class AutotaskConnection:
    """The Autotask API user and zone as PayDesk keeps them (never the secret).

    ``zone_url`` is the address typed by hand under "Advanced" (empty when discovery is used);
    ``api_url``/``web_url``/``zone_name`` are what the last successful test found;
    ``discovery_url`` is Autotask's zone lookup service — only the sandbox changes it.
    """

    username: str
    integration_code: str
    zone_url: str = ""
    discovery_url: str = DEFAULT_DISCOVERY_URL
    zone_name: str = ""
    api_url: str = ""
    web_url: str = ""
    verified_at: datetime | None = None

    def __repr__(self) -> str:
        # The integration code identifies the vendor; keep it out of logs.
        zone = self.api_url or self.zone_url
        return f"AutotaskConnection(username={self.username!r}, zone={zone!r})"

    @property
    def zone(self) -> ZoneInfo | None:
        """The zone found by the last successful test, so the client need not look it up."""
        if not self.api_url:
            return None
        return ZoneInfo(name=self.zone_name or self.api_url, api_url=self.api_url,
                        web_url=self.web_url)

    def same_sign_in(self, other: AutotaskConnection) -> bool:
        """True when both name the same user, code and zone choice (a test still applies)."""
        return (
            self.username.strip().lower() == other.username.strip().lower()
            and self.integration_code.strip() == other.integration_code.strip()
            and self.zone_url.strip() == other.zone_url.strip()
            and self.discovery_url == other.discovery_url
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "integration_code": self.integration_code,
            "zone_url": self.zone_url,
            "discovery_url": self.discovery_url,
            "zone_name": self.zone_name,
            "api_url": self.api_url,
            "web_url": self.web_url,
            "verified_at": self.verified_at.isoformat() if self.verified_at else None,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> AutotaskConnection:
        verified = value.get("verified_at")
        return cls(
            username=str(value.get("username") or ""),
            integration_code=str(value.get("integration_code") or ""),
            zone_url=str(value.get("zone_url") or ""),
            discovery_url=str(value.get("discovery_url") or DEFAULT_DISCOVERY_URL),
            zone_name=str(value.get("zone_name") or ""),
            api_url=str(value.get("api_url") or ""),
            web_url=str(value.get("web_url") or ""),
            verified_at=datetime.fromisoformat(verified) if verified else None,
        )


def load_autotask_connection(engine: Engine) -> AutotaskConnection | None:
    """The stored connection, or None before setup saved one."""
    value = get_setting(engine, CONNECTION_SETTING)
    if not isinstance(value, dict) or not value.get("username"):
        return None
    return AutotaskConnection.from_json(value)


def save_autotask_connection(
    engine: Engine, connection: AutotaskConnection, *, actor: str | None = None
) -> AutotaskConnection:
    """Store the connection. A zone found earlier is kept only if the sign-in is unchanged."""
    previous = load_autotask_connection(engine)
    if previous is not None and previous.same_sign_in(connection) and not connection.api_url:
        connection = replace(
            connection,
            zone_name=previous.zone_name,
            api_url=previous.api_url,
            web_url=previous.web_url,
            verified_at=previous.verified_at,
        )
    set_setting(engine, CONNECTION_SETTING, connection.to_json(), actor=actor)
    return connection


def record_successful_test(
    engine: Engine,
    connection: AutotaskConnection,
    report: ConnectionReport,
    *,
    actor: str | None = None,
) -> AutotaskConnection:
    """Store the connection together with the zone a successful test found."""
    tested = replace(
        connection,
        zone_name=report.zone_name,
        api_url=report.api_url,
        web_url=report.web_url,
        verified_at=utcnow(),
    )
    set_setting(engine, CONNECTION_SETTING, tested.to_json(), actor=actor)
    return tested


def clear_autotask_connection(engine: Engine, credentials: CredentialStore) -> None:
    """Forget the API user and its secret."""
    set_setting(engine, CONNECTION_SETTING, None)
    credentials.delete(SecretName.AUTOTASK_SECRET)


def save_autotask_secret(credentials: CredentialStore, secret: str) -> None:
    """Put the API secret in the keychain (the only place it is ever kept)."""
    credentials.set(SecretName.AUTOTASK_SECRET, secret)


def has_autotask_secret(credentials: CredentialStore) -> bool:
    return credentials.has(SecretName.AUTOTASK_SECRET)


def autotask_credentials(
    connection: AutotaskConnection, credentials: CredentialStore
) -> AutotaskCredentials | None:
    """The full sign-in for the client, or None when the keychain holds no secret."""
    secret = credentials.get(SecretName.AUTOTASK_SECRET)
    if not secret:
        return None
    return AutotaskCredentials(
        username=connection.username.strip(),
        secret=secret,
        integration_code=connection.integration_code.strip(),
    )


def load_autotask_client(
    engine: Engine, credentials: CredentialStore, **client_options: Any
) -> AutotaskClient | None:
    """A client for the stored connection, or None when setup is missing a piece.

    ``client_options`` are passed to `AutotaskClient` (timeouts, pacing, retry). The zone the
    last test found is used directly; otherwise the typed zone address, otherwise discovery.
    Nothing is sent over the network here.
    """
    connection = load_autotask_connection(engine)
    if connection is None:
        return None
    signin = autotask_credentials(connection, credentials)
    if signin is None:
        return None
    return AutotaskClient(
        signin,
        zone=connection.zone,
        zone_url=connection.zone_url or None,
        discovery_url=connection.discovery_url,
        **client_options,
    )


def describe_missing_connection(
    engine: Engine, credentials: CredentialStore, *, in_window: bool = False
) -> str | None:
    """Why `load_autotask_client` would return None, in plain words (None when it would not).

    The command line names ``paydesk setup``; with ``in_window`` the text points at the
    window's Run Setup… instead.
    """
    connection = load_autotask_connection(engine)
    if connection is None:
        if in_window:
            return ("PayDesk is not connected to Autotask yet. Click Run Setup… and enter "
                    "the Autotask API user.")
        return (
            "PayDesk is not connected to Autotask yet. Run the setup (open PayDesk and click "
            "Run Setup…, or `paydesk setup` for a scripted installation) and enter the "
            "Autotask API user."
        )
    if not has_autotask_secret(credentials):
        where = ("with Run Setup…" if in_window
                 else "in PayDesk (Run Setup…) or with `paydesk setup`")
        return (
            f"The Autotask API secret for {connection.username} is not in this computer's "
            f"keychain. Enter it again {where}."
        )
    return None
