"""The payment-gateway step of setup as plain data and rules, so the wizard only draws it.

:class:`GatewayForm` is what the page's fields hold; :class:`GatewayStepState` tracks Test
Connection as page state (untested → testing → passed/failed) for exactly the values tested;
:func:`run_gateway_test` is the blocking call the wizard runs in a worker.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from app.core.gateways.connection import GatewayConnection, open_gateway
from app.core.gateways.errors import GatewayError
from app.core.gateways.providers import GatewayProvider, get_provider, main_secret
from app.core.gateways.types import GatewayAccountInfo, GatewayMode
from app.core.setup.connection_test import ConnectionTestState, TestState

__all__ = [
    "GatewayForm",
    "GatewayStepState",
    "GatewayTestOutcome",
    "TestState",
    "run_gateway_test",
]


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "127.0.0.1", "::1") or host.startswith("127.")


@dataclass(frozen=True, slots=True)
class GatewayForm:
    """The gateway page's fields. ``secret_key`` is the provider's main secret (Stripe's
    secret key, Authorize.Net's transaction key); empty with ``secret_stored`` keeps the
    stored one. ``fields`` are the provider's other fields, as typed. ``api_base`` is set only
    for the sandbox."""

    gateway: str = "stripe"
    secret_key: str = field(default="", repr=False)
    secret_stored: bool = False
    return_url: str = ""
    api_base: str = ""
    fields: tuple[tuple[str, str], ...] = ()

    @property
    def provider(self) -> GatewayProvider:
        provider = get_provider(self.gateway)
        if provider is None:
            raise ValueError(f"PayDesk does not support the gateway {self.gateway!r}")
        return provider

    def values(self) -> dict[str, str]:
        """Every field by the provider's names, the main secret included."""
        return {**dict(self.fields), main_secret(self.provider).name: self.secret_key}

    def errors(self) -> dict[str, str]:
        """Field name → message for every field that is not acceptable yet (the main
        secret's under ``"secret_key"``)."""
        secret = main_secret(self.provider).name
        stored = frozenset({secret}) if self.secret_stored else frozenset()
        problems = {("secret_key" if name == secret else name): message for name, message in
                    self.provider.validate(self.values(), stored=stored).items()}
        url = self.return_url.strip()
        if url:
            parts = urlsplit(url)
            secure = parts.scheme == "https" or (
                parts.scheme == "http" and _is_loopback(parts.hostname or ""))
            if not parts.hostname or not secure:
                problems["return_url"] = ("Enter a full web address that starts with "
                                          "https://, for example https://www.yourcompany.com")
        return problems

    def is_valid(self) -> bool:
        return not self.errors()

    def mode(self) -> GatewayMode | None:
        """Test or live as the typed values say (None while they do not tell)."""
        return self.provider.mode_of(self.values())

    def fingerprint(self, stored_secret: str | None = None) -> str:
        """Identifies the exact account tested (a hash: the key is never kept in clear)."""
        secret = self.secret_key.strip() or (stored_secret or "")
        parts = (self.gateway, secret, self.api_base,
                 *(f"{k}={v.strip()}" for k, v in self.fields))
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()

    def connection(self) -> GatewayConnection:
        return GatewayConnection(
            gateway=self.gateway, api_base=self.api_base, return_url=self.return_url.strip(),
            settings=tuple(sorted((k, v.strip()) for k, v in self.fields)))


@dataclass(frozen=True, slots=True)
class GatewayTestOutcome:
    """A finished test: the account when it worked, a message when not. ``warning`` says
    something worth knowing about a working account (e.g. the currency)."""

    info: GatewayAccountInfo | None = None
    message: str | None = None
    warning: str | None = None

    @property
    def ok(self) -> bool:
        return self.info is not None


GatewayTestOutcome.__test__ = False  # type: ignore[attr-defined]  # not a pytest class


def run_gateway_test(form: GatewayForm, stored_secret: str | None = None, *,
                     internal_currency: str | None = None) -> GatewayTestOutcome:
    """Open the account with the form's key and describe it. Blocks (seconds); run it off
    the GUI thread. Never raises for a gateway failure: the outcome says what went wrong."""
    secret = form.secret_key.strip() or (stored_secret or "")
    try:
        gateway = open_gateway(form.connection(), secret, max_network_retries=0,
                               timeout=(10.0, 20.0))
        info = gateway.test_connection()
    except GatewayError as exc:
        return GatewayTestOutcome(message=exc.message)
    warning = None
    if internal_currency and internal_currency not in info.currencies:
        warning = (f"This account cannot take payments in {internal_currency}, PayDesk's "
                   "internal currency. Check the account's country and currencies at "
                   f"{form.provider.name}.")
    return GatewayTestOutcome(info=info, warning=warning)


class GatewayStepState(ConnectionTestState[GatewayForm, GatewayTestOutcome]):
    """Test Connection for the gateway account: only the key (and gateway, sandbox address)
    is tested, so editing the return page keeps a result; Next also needs every field
    acceptable."""

    not_ready_message = "the key is not acceptable"

    def _ready_to_test(self) -> bool:
        errors = self.form.errors()
        errors.pop("return_url", None)  # the return page does not change the account tested
        return not errors

    def _clears_result(self, old: GatewayForm, new: GatewayForm) -> bool:
        # The return page does not change which account is tested.
        return new.fingerprint(self._stored_secret) != old.fingerprint(self._stored_secret)

    def _form_complete(self) -> bool:
        return self.form.is_valid()

    def _normalise_secret(self, secret: str) -> str:
        return secret.strip()
