"""Connecting a QuickBooks Online company, testing it, and opening a client for it.

The connect flow, for the wizard page and ``paydesk setup quickbooks-online``:

1. ``flow = ConsentFlow(client_id, client_secret, environment, redirect_uri=...)`` — starts
   the loopback listener; show ``flow.consent_url`` (open the browser when there is one).
2. ``answer = flow.wait(timeout)`` — or, when nothing arrives,
   ``answer = flow.accept_pasted(text)`` with the address the person pastes.
3. ``report = connect_company(engine, credentials, flow, answer, client_secret=...)`` —
   trades the code for tokens, runs Test Connection (company name, home currency,
   multicurrency) and refuses a company whose home currency is not PayDesk's internal
   currency; only then stores the client secret and refresh token in the keychain and the
   connection in the shared setting.

``test_connection(client, internal_currency)`` is the Test Connection on its own;
``open_quickbooks_client`` gives the client for the stored connection (the sync, the
posting channel, ``paydesk reconcile``).

Threads: everything blocks on the network or the database; run it off the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from app.core.clock import utcnow
from app.core.config import current_actor, get_internal_currency
from app.core.credentials import CredentialStore, SecretName
from app.core.quickbooks.online.client import QuickBooksOnlineClient
from app.core.quickbooks.online.connection import (
    QuickBooksOnlineConnection,
    default_api_base,
    load_connection,
    save_connection,
)
from app.core.quickbooks.online.errors import (
    QuickBooksCurrencyError,
    QuickBooksDisconnectedError,
    QuickBooksError,
)
from app.core.quickbooks.online.oauth import AuthorizationAnswer, ConsentFlow, TokenSet
from app.core.quickbooks.online.tokens import TokenManager, store_new_tokens

__all__ = [
    "CompanyReport",
    "QuickBooksStatus",
    "connect_company",
    "connect_sandbox",
    "describe_missing_connection",
    "open_quickbooks_client",
    "quickbooks_status",
    "test_connection",
]


@dataclass(frozen=True, slots=True)
class CompanyReport:
    """What Test Connection found."""

    realm_id: str
    company_name: str
    home_currency: str
    multicurrency: bool


def test_connection(client: QuickBooksOnlineClient, internal_currency: str | None
                    ) -> CompanyReport:
    """Read the company and its currency settings; refuse another home currency."""
    info = client.company_info()
    prefs = client.preferences()
    currency_prefs = prefs.get("CurrencyPrefs") or {}
    home = currency_prefs.get("HomeCurrency") or {}
    home_code = str(home.get("value") or "").upper() if isinstance(home, dict) else ""
    multicurrency = bool(currency_prefs.get("MultiCurrencyEnabled"))
    name = str(info.get("CompanyName") or info.get("LegalName") or "")
    if internal_currency and home_code and home_code != internal_currency.upper():
        raise QuickBooksCurrencyError(
            f"The QuickBooks company {name or client.realm_id} keeps its books in {home_code}, "
            f"but PayDesk's internal currency is {internal_currency}. PayDesk can only post to "
            f"a company whose home currency is {internal_currency}. Connect the company that "
            "holds these clients' invoices.", code="currency")
    return CompanyReport(realm_id=client.realm_id, company_name=name,
                         home_currency=home_code, multicurrency=multicurrency)


def connect_company(
    engine: Engine,
    credentials: CredentialStore,
    flow: ConsentFlow,
    answer: AuthorizationAnswer,
    *,
    client_id: str,
    client_secret: str,
    environment: str,
    api_base: str = "",
    actor: str | None = None,
) -> CompanyReport:
    """Finish the flow: tokens, Test Connection, then store everything. Nothing is stored
    when any step fails (a refused currency leaves a previous connection as it was)."""
    tokens = flow.finish(answer)
    base = api_base or default_api_base(environment)
    if not base:
        raise QuickBooksError("The QuickBooks API address is missing. Enter it in Setup.")

    with QuickBooksOnlineClient(_FixedToken(tokens.access_token), answer.realm_id,
                                base) as client:
        report = test_connection(client, get_internal_currency(engine))
    previous = load_connection(engine)
    keep = previous.settings if previous is not None and previous.realm_id == answer.realm_id \
        else {}
    credentials.set(SecretName.QUICKBOOKS_CLIENT_SECRET, client_secret)
    store_new_tokens(credentials, tokens)
    save_connection(engine, QuickBooksOnlineConnection(
        client_id=client_id, realm_id=answer.realm_id, environment=environment,
        api_base=base, redirect_uri=flow.redirect_uri, company_name=report.company_name,
        home_currency=report.home_currency, multicurrency=report.multicurrency,
        verified_at=utcnow(), settings=dict(keep),
    ), actor=actor or current_actor())
    return report


def describe_missing_connection(engine: Engine, credentials: CredentialStore) -> str | None:
    """Why :func:`open_quickbooks_client` would return None (None when it would not)."""
    connection = load_connection(engine)
    if connection is None:
        return "QuickBooks Online is not connected. Connect it in Setup."
    if not credentials.has(SecretName.QUICKBOOKS_CLIENT_SECRET):
        return ("The Intuit app's client secret is not in this computer's keychain. "
                "QuickBooks disconnected — Reconnect in Setup.")
    if not (credentials.has(SecretName.QUICKBOOKS_REFRESH_TOKEN)
            or credentials.has(SecretName.QUICKBOOKS_REFRESH_TOKEN_PREVIOUS)):
        return "QuickBooks disconnected — Reconnect in Setup."
    return None


def open_quickbooks_client(
    engine: Engine,
    credentials: CredentialStore,
    *,
    checkpoint: Callable[[str], None] | None = None,
    clock: Callable[[], datetime] = utcnow,
    **client_options: object,
) -> QuickBooksOnlineClient | None:
    """A client for the stored connection, or None when setup is missing a piece (see
    :func:`describe_missing_connection`). No network here."""
    if describe_missing_connection(engine, credentials) is not None:
        return None
    connection = load_connection(engine)
    assert connection is not None
    tokens = TokenManager(
        credentials, client_id=connection.client_id, environment=connection.environment,
        clock=clock, checkpoint=checkpoint or (lambda _step: None),
    )
    return QuickBooksOnlineClient(tokens, connection.realm_id, connection.api_base,
                                  **client_options)  # type: ignore[arg-type]


def connect_sandbox(engine: Engine, credentials: CredentialStore, sandbox: object, *,
                    actor: str = "PayDesk demo") -> None:
    """Store a connection to a running QuickBooks Online sandbox
    (``app.sandbox.quickbooks_online``), as a completed connect would — for ``--demo``, the
    screenshots and the tests. Duck-typed so the core does not import the sandbox."""
    tokens = sandbox.connect()  # type: ignore[attr-defined]
    credentials.set(SecretName.QUICKBOOKS_CLIENT_SECRET,
                    sandbox.client_secret)  # type: ignore[attr-defined]
    store_new_tokens(credentials, TokenSet(str(tokens["access_token"]),
                                           str(tokens["refresh_token"]),
                                           int(tokens["expires_in"])))
    with QuickBooksOnlineClient(_FixedToken(str(tokens["access_token"])),
                                sandbox.realm_id,  # type: ignore[attr-defined]
                                sandbox.api_base) as client:  # type: ignore[attr-defined]
        report = test_connection(client, get_internal_currency(engine))
    save_connection(engine, QuickBooksOnlineConnection(
        client_id=sandbox.client_id,  # type: ignore[attr-defined]
        realm_id=report.realm_id,
        environment=sandbox.discovery_url,  # type: ignore[attr-defined]
        api_base=sandbox.api_base,  # type: ignore[attr-defined]
        company_name=report.company_name, home_currency=report.home_currency,
        multicurrency=report.multicurrency, verified_at=utcnow()), actor=actor)


class _FixedToken:
    """An access token just received (Test Connection before anything is stored)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def access_token(self) -> str:
        return self._token

    def renew_after_rejection(self, rejected: str) -> str:
        raise QuickBooksDisconnectedError()


@dataclass(frozen=True, slots=True)
class QuickBooksStatus:
    """What the status bar and Setup show about QuickBooks Online (no network)."""

    connected: bool
    company_name: str
    #: A plain sentence when a person must act ("QuickBooks disconnected — Reconnect in
    #: Setup."), else None.
    problem: str | None
    last_read_at: datetime | None
    last_read_ok: bool | None
    unmatched: int


def quickbooks_status(engine: Engine, credentials: CredentialStore) -> QuickBooksStatus:
    from app.core.quickbooks.books import SOURCE_ONLINE, unmatched_count
    from app.core.quickbooks.online.read import last_read

    connection = load_connection(engine)
    if connection is None:
        return QuickBooksStatus(False, "", None, None, None, 0)
    problem = describe_missing_connection(engine, credentials)
    last = last_read(engine)
    if problem is None and last.status == "failed":
        problem = last.message
    return QuickBooksStatus(
        connected=True, company_name=connection.company_name, problem=problem,
        last_read_at=last.at,
        last_read_ok=None if last.status is None else last.status == "succeeded",
        unmatched=unmatched_count(engine, SOURCE_ONLINE))
