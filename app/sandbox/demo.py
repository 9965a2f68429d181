"""``paydesk --demo``: PayDesk in a throwaway profile, against sandbox servers on loopback.

`start_demo()` makes a temporary profile folder, starts the Autotask sandbox (a believable
MSP: a few hundred organizations and a few thousand invoices over three years) and, when they
are available, the sandbox of every payment gateway provider (Stripe's first), all in this
process on 127.0.0.1. The setup
wizard pre-fills itself from `DemoEnvironment.autotask`; nothing reaches a real service.

QuickBooks (``start_demo(quickbooks=…)``, ``paydesk --demo [--demo-quickbooks desktop]``):
``online`` (``paydesk --demo``'s choice) runs the QuickBooks Online sandbox, seeded from the
same seed and sizes as the Autotask sandbox, and stores its connection as a completed connect
would — the demo opens connected, and a payment taken in the demo is posted to the sandbox
company. ``desktop`` runs PayDesk's QuickBooks Desktop stand-in — a company file seeded alike,
as Autotask's export would have made it — and its Web Connector, which calls the window's Web
Connector service every few seconds, already set up (the ``.qwc`` connection and its password
are stored in the demo profile). ``none`` leaves QuickBooks out.

`close()` stops the servers, removes the keychain entries the demo made and deletes the
folder.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.config import Profile
from app.core.credentials import CredentialStore, SecretName

__all__ = ["DemoAutotask", "DemoEnvironment", "DemoGateway", "DemoQuickBooks", "start_demo"]

#: Seconds between the demo Web Connector's updates (a real one runs every few minutes).
DEMO_WEB_CONNECTOR_EVERY = 10.0

log = logging.getLogger(__name__)

#: The Autotask sandbox's seed in the demo (the QuickBooks stand-in is seeded alike).
AUTOTASK_SEED = 7


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


@dataclass(frozen=True)
class DemoQuickBooks:
    """Which QuickBooks the demo runs, and how to reach it.

    ``online``: the QuickBooks Online sandbox's discovery document (``environment``), API
    address and its Intuit app keys (the wizard pre-fills them); ``company`` is the running
    sandbox. ``desktop``: the stand-in's ``company_file``; ``company`` is the stand-in."""

    kind: str
    company_file: str = ""
    company: Any = field(default=None, repr=False, compare=False)
    environment: str = ""
    api_base: str = ""
    client_id: str = ""
    client_secret: str = field(default="", repr=False)


class _DemoWebConnector:
    """The QuickBooks Web Connector's stand-in, polling the window's service on a thread.

    It reads the service's address from the demo profile's stored connection each round (the
    window picks a free port when it starts the service)."""

    def __init__(self, profile: Profile, company: Any, every: float) -> None:
        self._profile = profile
        self._company = company
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-web-connector",
                                        daemon=True)

    def start(self) -> _DemoWebConnector:
        self._thread.start()
        return self

    def _run(self) -> None:
        from urllib.parse import urlsplit

        from app.core.quickbooks.desktop.qwc import load_connection
        from app.core.storage.engine import open_database
        from app.sandbox.quickbooks_desktop.connector import WebConnector

        engine = open_database(self._profile.database_url)
        credentials = CredentialStore(self._profile.key)
        try:
            while not self._stop.wait(self._every):
                try:
                    connection = load_connection(engine)
                    password = credentials.get(SecretName.QUICKBOOKS_DESKTOP_PASSWORD)
                    if connection is None or not password or not urlsplit(
                            connection.app_url).port:
                        continue  # the window has not started its service yet
                    WebConnector(connection.app_url, connection.username, password,
                                 self._company).update()
                except Exception:  # the window may be starting or closing; try next round
                    log.debug("The demo Web Connector's update failed", exc_info=True)
        finally:
            engine.dispose()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


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
        self.quickbooks: DemoQuickBooks | None = None
        self._web_connector: _DemoWebConnector | None = None
        self._quickbooks_server: Any = None
        #: The demo's SMTP server (app.sandbox.mailbox): what PayDesk emailed, kept here.
        self.mailbox: Any = None
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
        if self._web_connector is not None:
            self._web_connector.stop()
        for server in (self._quickbooks_server, self._gateway_server, self._autotask_server):
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


def _start_quickbooks_online(demo: DemoEnvironment, sizes: Any, seed: int) -> None:
    """The QuickBooks Online sandbox, seeded like the Autotask sandbox, stored as a completed
    connect would (tokens, Test Connection, the company), so the demo opens connected."""
    from app.core.quickbooks.online.setup import connect_sandbox
    from app.core.storage.engine import open_database
    from app.sandbox.quickbooks_online.server import QuickBooksOnlineSandbox

    server = QuickBooksOnlineSandbox(
        seed=seed, companies=sizes.companies, contacts=sizes.contacts,
        contracts=sizes.contracts, tickets=sizes.tickets, invoices=sizes.invoices,
        years=sizes.years).start()
    demo._quickbooks_server = server
    engine = open_database(demo.profile.database_url)
    try:
        connect_sandbox(engine, CredentialStore(demo.profile.key), server, actor="demo")
    finally:
        engine.dispose()
    demo.quickbooks = DemoQuickBooks(
        "online", company=server, environment=server.discovery_url, api_base=server.api_base,
        client_id=server.client_id, client_secret=server.client_secret)


def _start_quickbooks_desktop(demo: DemoEnvironment, sizes: Any, seed: int,
                              every: float) -> None:
    """The stand-in company file and its Web Connector, already set up in the profile."""
    from app.core.quickbooks.desktop.qwc import connect, ensure_password
    from app.core.storage.engine import open_database
    from app.sandbox.quickbooks_desktop.company import CompanyFile

    company = CompanyFile(seed=seed, sizes=sizes)
    engine = open_database(demo.profile.database_url)
    try:
        # Port 0: the window's service takes a free port and stores the address it got.
        connect(engine, app_url="http://127.0.0.1:0/qbwc", actor="demo")
    finally:
        engine.dispose()
    ensure_password(CredentialStore(demo.profile.key))
    demo.quickbooks = DemoQuickBooks("desktop", company.file_path, company)
    demo._web_connector = _DemoWebConnector(demo.profile, company, every).start()


def start_demo(
    *,
    companies: int = 300,
    invoices: int = 3600,
    latency_ms: float = 40.0,
    folder: Path | None = None,
    quickbooks: str = "none",
    web_connector_every: float = DEMO_WEB_CONNECTOR_EVERY,
) -> DemoEnvironment:
    """Start the demo servers and make a throwaway profile (in ``folder`` if given).
    ``quickbooks``: ``online``, ``desktop`` or ``none`` (see the module docstring)."""
    from app.sandbox.autotask.server import AutotaskSandbox

    base = folder or Path(tempfile.mkdtemp(prefix="paydesk-demo-"))
    profile = Profile.open(base / "profile")
    autotask = AutotaskSandbox(
        seed=AUTOTASK_SEED,
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
    demo = DemoEnvironment(base, profile, autotask, gateway, other_gateways=others,
                           resources=resources)
    demo.mailbox = _start_mailbox(profile, resources)
    if quickbooks not in ("online", "desktop", "none"):
        demo.close()
        raise ValueError(f"The demo has no QuickBooks called {quickbooks!r}")
    if quickbooks != "none":
        from app.sandbox.autotask.data import DataSizes

        sizes = DataSizes(companies=companies, contacts=companies * 3,
                          contracts=max(1, companies * 4 // 5),
                          tickets=invoices + invoices // 9, invoices=invoices, years=3)
        try:
            if quickbooks == "online":
                _start_quickbooks_online(demo, sizes, AUTOTASK_SEED)
            else:
                _start_quickbooks_desktop(demo, sizes, AUTOTASK_SEED, web_connector_every)
        except BaseException:
            demo.close()
            raise
    return demo


def _start_mailbox(profile: Profile, resources: contextlib.ExitStack) -> Any:
    try:
        from app.sandbox.mailbox import start_demo_mailbox

        return start_demo_mailbox(profile, resources)
    except Exception:  # the demo works without email; say why in the log
        log.warning("The demo mailbox could not be started", exc_info=True)
        return None


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
