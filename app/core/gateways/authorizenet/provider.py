"""Authorize.Net's entry in the gateway-provider registry (:mod:`app.core.gateways.providers`).

Importing this module registers the provider under the key ``"authorizenet"``.

Credentials: the **API login ID** (not secret; kept with the connection's settings) and the
**transaction key** (secret; keychain only, under ``authorizenet.transaction_key``). The
**account** field says whether the credentials belong to a real merchant account
(production, ``https://api.authorize.net``) or an Authorize.Net sandbox account
(``https://apitest.authorize.net``); the chosen address is recorded as the connection's
``api_base``. The local stand-in's loopback address is recorded the same way.

Authorize.Net has no idempotency keys (``idempotency_window`` is ``None``): a lost answer is
settled by looking the charge up — see :mod:`app.core.gateways.authorizenet.gateway`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from app.core.gateways.authorizenet.client import PRODUCTION_API_BASE, SANDBOX_API_BASE
from app.core.gateways.authorizenet.gateway import LOOKUP_GRACE, AuthorizeNetGateway
from app.core.gateways.errors import AuthenticationFailed
from app.core.gateways.providers import (
    CredentialField,
    SandboxAccount,
    account_key,
    register_provider,
)
from app.core.gateways.types import GatewayMode
from app.core.net import is_loopback_host

if TYPE_CHECKING:
    from app.core.gateways.connection import GatewayConnection

__all__ = ["PROVIDER", "AuthorizeNetProvider", "api_base_for"]

_LOGIN_RE = re.compile(r"^[A-Za-z0-9]{1,25}$")
_KEY_RE = re.compile(r"^[A-Za-z0-9]{16}$")
_ENVIRONMENTS = {"": PRODUCTION_API_BASE, "production": PRODUCTION_API_BASE,
                 "live": PRODUCTION_API_BASE, "sandbox": SANDBOX_API_BASE,
                 "test": SANDBOX_API_BASE}


def api_base_for(environment: str) -> str:
    """The API address for the account field's value (``production`` or ``sandbox``)."""
    return _ENVIRONMENTS[environment.strip().lower()]


def _stand_in_grace(api_base: str, value: object) -> timedelta | None:
    """The lookup grace a connection to the local stand-in asks for (its
    ``lookup_grace_seconds`` setting), so tests of crashes need not wait two minutes for the
    stand-in, which lists a transaction the moment it is made. Honoured only for a loopback
    address: against Authorize.Net itself the grace is always :data:`LOOKUP_GRACE`."""
    if value in (None, "") or not is_loopback_host(urlsplit(api_base).hostname or ""):
        return None
    try:
        seconds = float(str(value))
    except ValueError:
        return None
    return timedelta(seconds=seconds) if 0 <= seconds <= LOOKUP_GRACE.total_seconds() else None



class AuthorizeNetProvider:
    """:class:`~app.core.gateways.providers.GatewayProvider` for Authorize.Net."""

    key = "authorizenet"
    name = "Authorize.Net"
    fields: tuple[CredentialField, ...] = (
        CredentialField(
            "api_login_id", "API login ID", placeholder="e.g. 5KP3u95bQpv",
            help="Not secret. Shown in the Merchant Interface under Account > Settings > "
                 "API Credentials & Keys."),
        CredentialField(
            "transaction_key", "Transaction key", secret=True,
            placeholder="16 letters and digits",
            help="Secret, kept in this computer's keychain. Authorize.Net shows it once when "
                 "you create it; creating a new one disables the old one after a day."),
        CredentialField(
            "environment", "Account",
            choices=(("production", "My merchant account (real money)"),
                     ("sandbox", "An Authorize.Net sandbox account (no real money)")),
            default="production",
            help="Choose the sandbox only for an Authorize.Net developer sandbox account."),
    )
    idempotency_window: timedelta | None = None
    #: Without keys, a lookup that finds nothing proves "not charged" only this long after
    #: the charge was sent (see :meth:`AuthorizeNetGateway.charge_absent`).
    lookup_grace: timedelta = LOOKUP_GRACE
    #: Accept Hosted needs a token POSTed from a page PayDesk serves on this computer.
    shareable_pay_links: bool = False
    where_to_find = (
        "Sign in to the Authorize.Net Merchant Interface and open Account > Settings > "
        "Security Settings > API Credentials & Keys: the API login ID is shown there, and "
        "you create a new transaction key with the secret answer. Also turn on the "
        "Transaction Details API (Account > Settings), which PayDesk needs to make sure no "
        "payment is charged twice."
    )

    def mode_of(self, values: Mapping[str, str]) -> GatewayMode | None:
        environment = (values.get("environment") or "").strip().lower()
        if environment not in _ENVIRONMENTS:
            return None
        return GatewayMode.LIVE if api_base_for(environment) == PRODUCTION_API_BASE else (
            GatewayMode.TEST)

    def validate(self, values: Mapping[str, str], *, stored: frozenset[str]) -> dict[str, str]:
        problems: dict[str, str] = {}
        login = (values.get("api_login_id") or "").strip()
        key = (values.get("transaction_key") or "").strip()
        environment = (values.get("environment") or "").strip().lower()
        if not login:
            problems["api_login_id"] = "Enter the API login ID from the Merchant Interface."
        elif not _LOGIN_RE.match(login):
            problems["api_login_id"] = (
                "An API login ID is up to 25 letters and digits, without spaces. Copy it "
                "again from Account > Settings > API Credentials & Keys.")
        if not key:
            if "transaction_key" not in stored:
                problems["transaction_key"] = (
                    "Enter the transaction key. If you do not have it, create a new one in "
                    "the Merchant Interface (Account > Settings > API Credentials & Keys).")
        elif not _KEY_RE.match(key):
            problems["transaction_key"] = (
                "A transaction key is exactly 16 letters and digits. Copy it again; if it "
                "is lost, create a new one in the Merchant Interface.")
        elif key == login:
            problems["transaction_key"] = "The transaction key is not the API login ID."
        if environment not in _ENVIRONMENTS:
            problems["environment"] = ("Choose your merchant account, or an Authorize.Net "
                                       "sandbox account.")
        return problems

    def open(
        self, connection: GatewayConnection, secrets: Mapping[str, str], **options: Any
    ) -> AuthorizeNetGateway:
        """The adapter for a stored connection. The API login ID is read from the
        connection's settings (or, failing that, from ``secrets``)."""
        # The adapter never repeats a request on its own (a repeated charge without keys is
        # the danger it exists to avoid), so a caller's retry count does not apply.
        options.pop("max_network_retries", None)
        settings = dict(connection.settings)
        login = str(settings.get("api_login_id") or secrets.get("api_login_id") or "")
        key = str(secrets.get("transaction_key") or "")
        if not login or not key:
            raise AuthenticationFailed(
                "The Authorize.Net API login ID or transaction key is missing. Run Setup… "
                "and enter them again.")
        api_base = connection.api_base or api_base_for(
            str(settings.get("environment") or ""))
        options.setdefault("currency", connection.default_currency or "USD")
        grace = _stand_in_grace(api_base, settings.get("lookup_grace_seconds"))
        if grace is not None:
            options.setdefault("lookup_grace", grace)
        mode = self.mode_of(settings)
        options.setdefault("account", account_key(
            self.key, mode.value if mode is not None else None, connection.account_id or login))
        return AuthorizeNetGateway(login, key, api_base=api_base,
                                   return_url=connection.return_url or None, **options)

    @contextmanager
    def sandbox(self, **options: Any) -> Iterator[SandboxAccount]:
        """Start the local Authorize.Net stand-in and give the connection that reaches it.

        ``options`` go to :class:`~app.sandbox.authorizenet.AuthorizeNetSandbox`
        (``merchant_name``, ``api_login_id``, ``transaction_key``)."""
        from app.core.gateways.connection import GatewayConnection
        from app.sandbox.authorizenet import AuthorizeNetSandbox

        with AuthorizeNetSandbox(**options) as server:
            connection = GatewayConnection(
                gateway=self.key, api_base=server.url,
                settings=(("api_login_id", server.api_login_id), ("environment", "sandbox")))
            yield SandboxAccount(connection=connection,
                                 secrets={"transaction_key": server.transaction_key},
                                 url=server.url)


PROVIDER = AuthorizeNetProvider()
register_provider(PROVIDER)

if TYPE_CHECKING:
    from app.core.gateways.providers import GatewayProvider

    def _satisfies_protocol(provider: AuthorizeNetProvider) -> GatewayProvider:
        return provider  # mypy checks that the entry fits the provider protocol
