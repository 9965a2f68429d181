"""The order of the setup steps, and whether setup is complete.

Setup is a sequence of steps; each has a place in `STEP_ORDER`. Steps added by later parts
of PayDesk (the payment gateway, QuickBooks) take the places reserved for them and, when
they need something before PayDesk can be used, add a `SetupRequirement` with
`register_requirement`. The wizard shows only steps that exist and apply; ``paydesk doctor``
and the start of the window use `setup_status` to tell what is missing (Setup opens by itself
while anything is).

The payment gateway is deliberately not a requirement: a bookkeeper who skips it can still
look at invoices and organizations, and the payment screens say how to connect one
(``app.core.gateways.connection.describe_missing_gateway``). Its
``register_gateway_requirement`` exists for installations that want it required.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from app.core.config import get_internal_currency
from app.core.connections import has_autotask_secret, load_autotask_connection
from app.core.credentials import CredentialStore

__all__ = [
    "STEP_ORDER",
    "SetupRequirement",
    "SetupStatus",
    "is_setup_complete",
    "register_requirement",
    "requirements",
    "setup_status",
    "unregister_requirement",
]

#: Where each step goes in the wizard; a plug-in step picks its reserved number.
STEP_ORDER: dict[str, int] = {
    "welcome": 10,
    "currency": 20,
    "autotask": 30,
    "gateway": 40,
    "quickbooks": 50,
    "first_sync": 90,
}

Check = Callable[[Engine, CredentialStore], str | None]


@dataclass(frozen=True, slots=True)
class SetupRequirement:
    """Something PayDesk needs before use. ``check`` returns None when it is in place,
    otherwise a sentence saying what is missing and how to fix it."""

    key: str
    title: str
    check: Check


@dataclass(frozen=True, slots=True)
class SetupStatus:
    missing: tuple[tuple[SetupRequirement, str], ...]

    @property
    def complete(self) -> bool:
        return not self.missing


def _currency_check(engine: Engine, _credentials: CredentialStore) -> str | None:
    if get_internal_currency(engine) is None:
        return "The internal currency has not been chosen yet."
    return None


def _autotask_check(engine: Engine, credentials: CredentialStore) -> str | None:
    connection = load_autotask_connection(engine)
    if connection is None:
        return "No Autotask API user has been entered yet."
    if connection.verified_at is None:
        return "The Autotask API user has not passed Test Connection yet."
    if not has_autotask_secret(credentials):
        return (
            f"The secret of the Autotask API user {connection.username} is not stored on this "
            "computer."
        )
    return None


_lock = threading.Lock()
_requirements: list[SetupRequirement] = [
    SetupRequirement("currency", "Internal currency", _currency_check),
    SetupRequirement("autotask", "Autotask API user", _autotask_check),
]


def register_requirement(requirement: SetupRequirement) -> None:
    """Add (or replace, by key) a requirement; used by the gateway and QuickBooks parts."""
    with _lock:
        _requirements[:] = [r for r in _requirements if r.key != requirement.key]
        _requirements.append(requirement)


def unregister_requirement(key: str) -> None:
    with _lock:
        _requirements[:] = [r for r in _requirements if r.key != key]


def requirements() -> list[SetupRequirement]:
    with _lock:
        return sorted(_requirements, key=lambda r: STEP_ORDER.get(r.key, 80))


def setup_status(engine: Engine, credentials: CredentialStore) -> SetupStatus:
    missing = []
    for requirement in requirements():
        problem = requirement.check(engine, credentials)
        if problem:
            missing.append((requirement, problem))
    return SetupStatus(tuple(missing))


def is_setup_complete(engine: Engine, credentials: CredentialStore) -> bool:
    """True when every step PayDesk needs has been done (the wizard need not open)."""
    return setup_status(engine, credentials).complete
