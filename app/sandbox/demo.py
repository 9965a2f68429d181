"""``paydesk --demo``: PayDesk in a throwaway profile, against sandbox servers on loopback.

`start_demo()` makes a temporary profile folder, starts the Autotask sandbox (a believable
MSP: a few hundred organizations and a few thousand invoices over three years) and, when it
is available, the sandbox payment gateway, all in this process on 127.0.0.1. The setup
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
    url: str
    key: str = field(repr=False)


class DemoEnvironment:
    """A running demo. Use as a context manager or call `close()` when PayDesk exits."""

    def __init__(self, folder: Path, profile: Profile, autotask_server: Any,
                 gateway_server: Any | None) -> None:
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
        store = CredentialStore(self.profile.key)
        for name in vars(SecretName).values():
            if isinstance(name, str) and "." in name:
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
    try:
        gateway = _start_gateway()
    except BaseException:
        autotask.stop()
        raise
    log.info("Demo started: profile %s, Autotask sandbox %s", profile.folder, autotask.url)
    return DemoEnvironment(base, profile, autotask, gateway)
