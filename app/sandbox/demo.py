"""``paydesk --demo``: PayDesk in a throwaway profile, against sandbox servers on loopback.

`start_demo()` makes a temporary profile folder, starts the Autotask sandbox (a believable
MSP: a few hundred organizations and a few thousand invoices over three years) and, when they
are available, the sandbox of every payment gateway provider (Stripe's first), all in this
process on 127.0.0.1. The setup
wizard pre-fills itself from `DemoEnvironment.autotask`; nothing reaches a real service.
`close()` stops the servers, removes the keychain entries the demo made and deletes the
folder.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.config import Profile
from app.core.credentials import CredentialStore, SecretName

__all__ = ["DemoAutotask", "DemoEnvironment", "DemoGateway", "start_demo"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoAutotask:
    """The sandbox Autotask's API user, for pre-filling the wizard.

    ``url`` is the zone discovery address (the sandbox's stand-in for
    https://webservices.autotask.net/atservicesrest/).
    """

    url: str
    username: str
    secret: str = field(repr=False)
    integration_code: str = field(repr=False)


@dataclass(frozen=True)
class DemoGateway:
    """A gateway provider's sandbox account: its address, main secret and other fields."""

    url: str
    key: str = field(repr=False)
    provider: str = "stripe"
    settings: tuple[tuple[str, str], ...] = ()


def demo_gateway(demo: Any, provider: str) -> DemoGateway | None:
    """The demo's sandbox account for a gateway provider, if the demo runs one."""
    if demo is None:
        return None
    for gateway in (*getattr(demo, "other_gateways", ()), getattr(demo, "gateway", None)):
        if isinstance(gateway, DemoGateway) and gateway.provider == provider:
            return gateway
    return None


class DemoEnvironment:
    """A running demo. Use as a context manager or call `close()` when PayDesk exits."""

    def __init__(self, folder: Path, profile: Profile, autotask_server: Any,
                 gateway_server: Any | None, *,
                 other_gateways: tuple[DemoGateway, ...] = (),
                 resources: contextlib.ExitStack | None = None) -> None:
        self.folder = folder
        self.profile = profile
        self._autotask_server = autotask_server
        self._gateway_server = gateway_server
        creds = autotask_server.credentials
        self.autotask = DemoAutotask(
            url=autotask_server.url,
            username=creds.username,
            secret=creds.secret,
            integration_code=creds.integration_code,
        )
        self.gateway: DemoGateway | None = (
            DemoGateway(url=gateway_server.url, key=gateway_server.secret_key)
            if gateway_server is not None else None
        )
        #: The sandbox accounts of the other gateway providers (Authorize.Net …).
        self.other_gateways = other_gateways
        self._resources = resources or contextlib.ExitStack()
        self._closed = False

    def __repr__(self) -> str:
        return f"DemoEnvironment(profile={str(self.profile.folder)!r})"

    @property
    def autotask_sandbox(self) -> Any:
        """The running `AutotaskSandbox` (tests use its fault switches)."""
        return self._autotask_server

    def close(self) -> None:
        """Stop the servers, forget the demo's secrets and delete its folder."""
        if self._closed:
            return
        self._closed = True
        for server in (self._gateway_server, self._autotask_server):
            if server is not None:
                with contextlib.suppress(Exception):
                    server.stop()
        with contextlib.suppress(Exception):
            self._resources.close()
        store = CredentialStore(self.profile.key)
        for name in _secret_names():
            with contextlib.suppress(Exception):
                store.delete(name)
        # Log files may still be open on Windows; what cannot be removed now is temporary.
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> DemoEnvironment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _start_gateway() -> Any | None:
    try:
        from app.sandbox.gateway.server import GatewaySandbox
    except ImportError:
        return None
    try:
        return GatewaySandbox().start()
    except Exception:  # the demo works without a gateway; say why in the log
        log.warning("The sandbox payment gateway could not be started", exc_info=True)
        return None


def start_demo(
    *,
    companies: int = 300,
    invoices: int = 3600,
    latency_ms: float = 40.0,
    folder: Path | None = None,
) -> DemoEnvironment:
    """Start the demo servers and make a throwaway profile (in ``folder`` if given)."""
    from app.sandbox.autotask.server import AutotaskSandbox

    base = folder or Path(tempfile.mkdtemp(prefix="paydesk-demo-"))
    profile = Profile.open(base / "profile")
    autotask = AutotaskSandbox(
        companies=companies,
        contacts=companies * 3,
        contracts=max(1, companies * 4 // 5),
        tickets=invoices + invoices // 9,
        invoices=invoices,
        years=3,
        latency_ms=latency_ms,
    )
    autotask.start()
    resources = contextlib.ExitStack()
    try:
        gateway = _start_gateway()
        others = _start_other_gateways(resources)
    except BaseException:
        autotask.stop()
        resources.close()
        raise
    log.info("Demo started: profile %s, Autotask sandbox %s", profile.folder, autotask.url)
    return DemoEnvironment(base, profile, autotask, gateway, other_gateways=others,
                           resources=resources)


def _start_other_gateways(resources: contextlib.ExitStack) -> tuple[DemoGateway, ...]:
    """Each non-Stripe provider's sandbox (Stripe's is started by ``_start_gateway``)."""
    from app.core.gateways.providers import main_secret, providers

    started = []
    for provider in providers():
        if provider.key == "stripe":
            continue
        try:
            account = resources.enter_context(provider.sandbox())
        except Exception:  # the demo works without it; say why in the log
            log.warning("The %s sandbox could not be started", provider.name, exc_info=True)
            continue
        started.append(DemoGateway(
            url=account.connection.api_base,
            key=account.secrets[main_secret(provider).name],
            provider=provider.key,
            settings=account.connection.settings,
        ))
    return tuple(started)


def _secret_names() -> list[str]:
    """Every keychain name the demo may have written: PayDesk's own and each gateway's."""
    from app.core.gateways.connection import secret_name
    from app.core.gateways.providers import providers

    names = [n for n in vars(SecretName).values() if isinstance(n, str) and "." in n]
    for provider in providers():
        names.extend(secret_name(provider.key, f.name) for f in provider.fields if f.secret)
    return list(dict.fromkeys(names))
