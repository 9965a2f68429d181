"""The connections PayDesk keeps — Autotask, the payment gateway, QuickBooks — as the Settings
area's Connections section shows them: each one's state in a sentence, and Test, which runs
the same connection test Setup runs, with the stored sign-in.

Threads: :func:`connection_states` reads the database and the keychain; the ``test_*``
functions go over the network (seconds). Run all of them off the GUI thread. None of them
raises for a failure of the other service: the result says what happened and what to do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from app.core.config import get_internal_currency
from app.core.credentials import CredentialStore

__all__ = [
    "CheckResult",
    "ServiceState",
    "connection_states",
    "run_check",
]


@dataclass(frozen=True, slots=True)
class ServiceState:
    """One connection: ``key`` (also the Setup page that changes it), its name, whether it is
    connected, and a sentence for the bookkeeper (what it is connected to, or what to do)."""

    key: str
    name: str
    connected: bool
    summary: str
    #: Whether PayDesk can run a connection test for it now (a sign-in is stored).
    testable: bool
    #: When its sign-in last passed a test (None: never, or not known).
    verified_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    message: str


def _autotask_state(engine: Engine, credentials: CredentialStore) -> ServiceState:
    from app.core.connections import describe_missing_connection, load_autotask_connection

    missing = describe_missing_connection(engine, credentials, in_window=True)
    connection = load_autotask_connection(engine)
    if missing is not None or connection is None:
        return ServiceState("autotask", "Autotask", False,
                            missing or "PayDesk is not connected to Autotask yet.",
                            testable=False)
    zone = f" in the {connection.zone_name} zone" if connection.zone_name else ""
    return ServiceState(
        "autotask", "Autotask", True,
        f"Signed in as the API user {connection.username}{zone}.",
        testable=True, verified_at=connection.verified_at)


def _gateway_state(engine: Engine, credentials: CredentialStore) -> ServiceState:
    from app.core.gateways.connection import (
        describe_missing_gateway,
        has_gateway_secret,
        load_gateway_connection,
    )
    from app.core.gateways.types import GatewayMode

    stored = load_gateway_connection(engine)
    missing = describe_missing_gateway(engine, credentials)
    testable = stored is not None and has_gateway_secret(credentials, stored.gateway)
    if missing is not None or stored is None:
        name = stored.gateway_name if stored is not None else "Payment gateway"
        return ServiceState("gateway", name, False,
                            missing or "No payment gateway is connected yet.", testable)
    account = f" account {stored.account_name}" if stored.account_name else ""
    mode = (" Test mode: no real money moves." if stored.mode is GatewayMode.TEST
            else " Live: payments take real money." if stored.mode is GatewayMode.LIVE else "")
    return ServiceState("gateway", stored.gateway_name, True,
                        f"Connected to the {stored.gateway_name}{account}.{mode}",
                        testable=True, verified_at=stored.verified_at)


def _quickbooks_state(engine: Engine, credentials: CredentialStore) -> ServiceState:
    from app.core.quickbooks.desktop.qwc import load_connection as load_desktop
    from app.core.quickbooks.desktop.service import read_status
    from app.core.quickbooks.online.connection import load_connection as load_online
    from app.core.quickbooks.online.setup import describe_missing_connection

    online = load_online(engine)
    if online is not None:
        missing = describe_missing_connection(engine, credentials)
        company = online.company_name or f"company {online.realm_id}"
        if missing is not None:
            return ServiceState("quickbooks", "QuickBooks Online", False,
                                f"{company}: {missing}", testable=False)
        return ServiceState("quickbooks", "QuickBooks Online", True,
                            f"Connected to {company}.",
                            testable=True, verified_at=online.verified_at)
    desktop = load_desktop(engine)
    if desktop is not None:
        status = read_status(engine)
        company = desktop.company_file or "the company file chosen in the Web Connector"
        return ServiceState("quickbooks", "QuickBooks Desktop", True,
                            f"Posts to {company} through the QuickBooks Web Connector. "
                            f"{status.describe()}", testable=True)
    return ServiceState("quickbooks", "QuickBooks", False,
                        "Not connected. PayDesk posts payments to Autotask only; connect "
                        "QuickBooks Online or Desktop to record them in your books too.",
                        testable=False)


def connection_states(engine: Engine, credentials: CredentialStore) -> tuple[ServiceState, ...]:
    """Autotask, the gateway and QuickBooks, in that order. Database and keychain reads."""
    return (_autotask_state(engine, credentials), _gateway_state(engine, credentials),
            _quickbooks_state(engine, credentials))


# --- Test ---------------------------------------------------------------------------------------


def test_autotask(engine: Engine, credentials: CredentialStore) -> CheckResult:
    """Setup's Autotask test (zone, sign-in, a count of organizations) with the stored user."""
    from app.core.autotask import AutotaskError, Timeouts
    from app.core.autotask.client import test_connection
    from app.core.connections import (
        autotask_credentials,
        describe_missing_connection,
        load_autotask_connection,
    )
    from app.core.setup.outcomes import describe_failure, describe_success

    connection = load_autotask_connection(engine)
    signin = autotask_credentials(connection, credentials) if connection else None
    if connection is None or signin is None:
        return CheckResult(False, describe_missing_connection(engine, credentials,
                                                              in_window=True) or "")
    try:
        report = test_connection(signin, discovery_url=connection.discovery_url,
                                 zone_url=connection.zone_url or None,
                                 timeouts=Timeouts(connect=10.0, read=30.0))
    except AutotaskError as error:
        return CheckResult(False, describe_failure(error).text())
    facts = "; ".join(f"{label}: {value}" for label, value in describe_success(report))
    return CheckResult(True, f"Autotask answered. {facts}.")


def test_gateway(engine: Engine, credentials: CredentialStore) -> CheckResult:
    """Setup's gateway test (whose account the stored key opens) with the stored key."""
    from app.core.gateways.connection import describe_missing_gateway, load_gateway
    from app.core.gateways.errors import GatewayError

    try:
        gateway = load_gateway(engine, credentials, max_network_retries=0,
                               timeout=(10.0, 20.0))
        if gateway is None:
            return CheckResult(False, describe_missing_gateway(engine, credentials) or
                               "No payment gateway is connected yet.")
        info = gateway.test_connection()
    except GatewayError as exc:
        return CheckResult(False, exc.message)
    currency = get_internal_currency(engine)
    if currency and currency not in info.currencies:
        return CheckResult(False, f"The key opens {info.display_name}, but that account "
                                  f"cannot take payments in {currency}, PayDesk's internal "
                                  "currency. Check the account's country and currencies.")
    mode = "test mode" if info.mode.value == "test" else "live"
    return CheckResult(True, f"The gateway answered: account {info.display_name} "
                             f"({info.account_id}), {mode}.")


def test_quickbooks(engine: Engine, credentials: CredentialStore) -> CheckResult:
    """QuickBooks Online: Setup's test (the company and its home currency) with the stored
    sign-in. QuickBooks Desktop cannot be reached from here — the Web Connector calls
    PayDesk — so its test reports the Web Connector's last exchange."""
    from app.core.quickbooks.desktop.qwc import load_connection as load_desktop
    from app.core.quickbooks.desktop.service import read_status
    from app.core.quickbooks.online.connection import load_connection as load_online
    from app.core.quickbooks.online.errors import QuickBooksError
    from app.core.quickbooks.online.setup import (
        describe_missing_connection,
        open_quickbooks_client,
    )
    from app.core.quickbooks.online.setup import test_connection as test_online

    if load_online(engine) is not None:
        try:
            client = open_quickbooks_client(engine, credentials)
            if client is None:
                return CheckResult(False, describe_missing_connection(engine, credentials)
                                   or "QuickBooks Online is not connected.")
            with client:
                report = test_online(client, get_internal_currency(engine))
        except QuickBooksError as exc:
            return CheckResult(False, exc.message)
        return CheckResult(True, f"QuickBooks Online answered: {report.company_name} "
                                 f"(home currency {report.home_currency or 'not reported'}).")
    if load_desktop(engine) is not None:
        status = read_status(engine)
        return CheckResult(status.state in ("connected", "waiting"), status.describe())
    return CheckResult(False, "QuickBooks is not connected. Connect it in Setup.")


CHECKS: dict[str, Callable[[Engine, CredentialStore], CheckResult]] = {
    "autotask": test_autotask,
    "gateway": test_gateway,
    "quickbooks": test_quickbooks,
}


def run_check(key: str, engine: Engine, credentials: CredentialStore) -> CheckResult:
    """Test the connection ``key`` ("autotask", "gateway", "quickbooks"). Blocks."""
    return CHECKS[key](engine, credentials)


test_autotask.__test__ = False  # type: ignore[attr-defined]  # not pytest tests
test_gateway.__test__ = False  # type: ignore[attr-defined]
test_quickbooks.__test__ = False  # type: ignore[attr-defined]
