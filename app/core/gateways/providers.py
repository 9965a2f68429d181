"""Gateway providers: the door every payment gateway plugs into.

A :class:`GatewayProvider` is everything PayDesk knows about one kind of gateway (Stripe,
Authorize.Net) without holding an account open: the credential fields the setup form shows
and how it validates them, how to open an adapter (a
:class:`~app.core.gateways.protocol.PaymentGateway`) from a stored connection and its secrets,
how long the gateway honours an idempotency key (or that it has none, so recovery must look
the charge up instead), the account a set of credentials opens, and its local sandbox for
``--demo`` and the tests.

Screens, the setup step and the payment pipeline ask the registry (:func:`get_provider`,
:func:`providers`) instead of naming a gateway. Adding a gateway means writing one provider
module and registering it (:func:`register_provider`, or listing it in
:data:`BUILTIN_PROVIDER_MODULES`).

**Per-payment resolution.** A payment records the gateway *account* it was taken with
(:func:`account_key`: provider, mode and account id). Refunds and follow-ups go to that
account's adapter, never "the one connected now" (see
``app.core.payments.pipeline.base.PipelineLedger._gateway_for``).

Threads: nothing here touches the network; opening an adapter is cheap.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from app.core.gateways.connection import GatewayConnection
    from app.core.gateways.protocol import PaymentGateway
    from app.core.gateways.types import GatewayMode

__all__ = [
    "BUILTIN_PROVIDER_MODULES",
    "CredentialField",
    "GatewayProvider",
    "SandboxAccount",
    "account_key",
    "get_provider",
    "iter_secret_fields",
    "main_secret",
    "plain_fields",
    "provider_names",
    "providers",
    "register_provider",
    "unregister_provider",
]


@dataclass(frozen=True, slots=True)
class CredentialField:
    """One field of a gateway's sign-in form. Secret fields go to the keychain under
    ``"<provider>.<name>"``; the others are stored in the connection's settings."""

    name: str
    label: str
    secret: bool = False
    placeholder: str = ""
    help: str = ""
    #: A fixed list of (value, label) to choose from (a combo box), e.g. the environment.
    choices: tuple[tuple[str, str], ...] = ()
    #: Pre-filled value (the first choice when there are choices and no default).
    default: str = ""


@dataclass(frozen=True, slots=True)
class SandboxAccount:
    """A running local stand-in for the gateway: the connection and secrets that reach it."""

    connection: GatewayConnection
    secrets: Mapping[str, str]
    url: str


class GatewayProvider(Protocol):
    """One kind of payment gateway."""

    @property
    def key(self) -> str:
        """Stored in the connection and on payments: ``"stripe"``, ``"authorizenet"``."""
        ...

    @property
    def name(self) -> str:
        """What a bookkeeper reads: "Stripe", "Authorize.Net"."""
        ...

    @property
    def fields(self) -> tuple[CredentialField, ...]:
        """The sign-in form's fields, in order."""
        ...

    @property
    def idempotency_window(self) -> timedelta | None:
        """How long the gateway replays an idempotency key; ``None`` when it has no keys and
        a lost answer is settled by looking the charge up (``PaymentGateway.find_charge``)."""
        ...

    @property
    def lookup_grace(self) -> timedelta:
        """For a gateway without idempotency keys: how long after a charge was sent a lookup
        that finds nothing is not yet proof that nothing was charged (its transaction lists
        may lag). Zero for a gateway with keys (a repeat with the key settles it)."""
        ...

    @property
    def shareable_pay_links(self) -> bool:
        """Whether the gateway gives a payment page address that works from any browser, so it
        can be e-mailed to a client. False when its page must be opened by PayDesk itself (a
        form POSTed from this computer)."""
        ...

    @property
    def where_to_find(self) -> str:
        """One line for the setup page: where the person finds the credentials."""
        ...

    def mode_of(self, values: Mapping[str, str]) -> GatewayMode | None:
        """Test or live as the typed values already say (a key's prefix, a chosen
        environment); None when only Test Connection can tell."""
        ...

    def validate(self, values: Mapping[str, str], *, stored: frozenset[str]) -> dict[str, str]:
        """Field name → message for every field not acceptable yet. ``stored`` names the
        secret fields already in the keychain (left empty on the form to keep them)."""
        ...

    def open(
        self, connection: GatewayConnection, secrets: Mapping[str, str], **options: Any
    ) -> PaymentGateway:
        """The adapter for a connection and its secrets (no network)."""
        ...

    def sandbox(self, **options: Any) -> AbstractContextManager[SandboxAccount]:
        """Start the gateway's local stand-in on loopback (for ``--demo`` and the tests)."""
        ...


def account_key(provider: str, mode: str | None, account_id: str) -> str:
    """The stable name of one gateway account, recorded on every payment:
    ``"stripe:test:acct_1Nv…"``. Refunds and follow-ups find their gateway through it."""
    return f"{provider}:{mode or 'unknown'}:{account_id}"


#: Providers that ship with PayDesk, imported (and so registered) when the registry is first read.
BUILTIN_PROVIDER_MODULES: tuple[str, ...] = (
    "app.core.gateways.stripe_provider",
    "app.core.gateways.authorizenet.provider",
)

_lock = threading.Lock()
_providers: dict[str, GatewayProvider] = {}
_loaded = False


def _load_builtins() -> None:
    global _loaded
    with _lock:
        first = not _loaded
        _loaded = True
    if first:
        for module in BUILTIN_PROVIDER_MODULES:
            importlib.import_module(module)


def register_provider(provider: GatewayProvider) -> None:
    """Add (or replace, by key) a provider. The built-in ones come first, in their order,
    whichever module is imported first."""
    _load_builtins()
    with _lock:
        _providers[provider.key] = provider


def unregister_provider(key: str) -> None:
    with _lock:
        _providers.pop(key, None)


def providers() -> list[GatewayProvider]:
    _load_builtins()
    with _lock:
        return list(_providers.values())


def provider_names() -> dict[str, str]:
    """Provider key → the name a bookkeeper reads."""
    return {p.key: p.name for p in providers()}


def get_provider(key: str) -> GatewayProvider | None:
    _load_builtins()
    with _lock:
        return _providers.get(key)


def iter_secret_fields(provider: GatewayProvider) -> Iterator[CredentialField]:
    return (f for f in provider.fields if f.secret)


def main_secret(provider: GatewayProvider) -> CredentialField:
    """The provider's first secret field: the one the setup form's secret box edits."""
    return next(iter_secret_fields(provider))


def plain_fields(provider: GatewayProvider) -> tuple[CredentialField, ...]:
    """The provider's fields that are not secret (kept in the shared settings)."""
    return tuple(f for f in provider.fields if not f.secret)
