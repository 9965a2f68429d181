"""Connecting QuickBooks Online against the sandbox's OAuth server, with intuit-oauth: the
loopback listener, the pasted-address fallback, a wrong ``state``, a company in another
currency, the command line, and the https relay page in a real browser."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests
from sqlalchemy import Engine

from app.core.config import Profile, set_internal_currency
from app.core.credentials import CredentialStore, SecretName
from app.core.quickbooks.online.connection import load_connection
from app.core.quickbooks.online.errors import (
    QuickBooksAuthorizationError,
    QuickBooksCurrencyError,
)
from app.core.quickbooks.online.oauth import ConsentFlow
from app.core.quickbooks.online.setup import connect_company, open_quickbooks_client
from app.core.storage.engine import open_database
from app.sandbox.quickbooks_online.server import QuickBooksOnlineSandbox
from tests.integration.browser import needs_chromium

if TYPE_CHECKING:
    from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[3]
RELAY = ROOT / "resources" / "quickbooks" / "relay.html"
SIZES = {"companies": 3, "contacts": 3, "contracts": 1, "tickets": 1, "invoices": 20,
         "lines_per_invoice": 1.0}


@pytest.fixture
def quickbooks() -> Iterator[QuickBooksOnlineSandbox]:
    with QuickBooksOnlineSandbox(**SIZES) as sandbox:
        yield sandbox


def _flow(sandbox: QuickBooksOnlineSandbox, **options: object) -> ConsentFlow:
    return ConsentFlow(sandbox.client_id, sandbox.client_secret, sandbox.discovery_url,
                       **options)  # type: ignore[arg-type]


def _connect(engine: Engine, credentials: CredentialStore, sandbox: QuickBooksOnlineSandbox,
             flow: ConsentFlow, answer: object) -> object:
    return connect_company(engine, credentials, flow, answer,  # type: ignore[arg-type]
                           client_id=sandbox.client_id, client_secret=sandbox.client_secret,
                           environment=sandbox.discovery_url, api_base=sandbox.api_base)


def test_loopback_listener_connects_and_test_connection_reads_the_company(
        engine: Engine, quickbooks: QuickBooksOnlineSandbox) -> None:
    set_internal_currency(engine, "USD")
    credentials = CredentialStore("oauth")
    flow = _flow(quickbooks)
    try:
        assert flow.redirect_uri.startswith("http://localhost:")
        # The browser: Intuit's page consents and sends it back to the listener.
        landed = requests.get(flow.consent_url, timeout=10)
        assert landed.status_code == 200 and "PayDesk received the answer" in landed.text
        answer = flow.wait(5)
        assert answer is not None and answer.realm_id == quickbooks.realm_id
        report = _connect(engine, credentials, quickbooks, flow, answer)
    finally:
        flow.close()
    assert report.company_name == "Northwind IT Services"  # type: ignore[attr-defined]
    assert report.home_currency == "USD"  # type: ignore[attr-defined]
    assert report.multicurrency is False  # type: ignore[attr-defined]
    connection = load_connection(engine)
    assert connection is not None and connection.realm_id == quickbooks.realm_id
    assert connection.verified_at is not None
    assert credentials.get(SecretName.QUICKBOOKS_REFRESH_TOKEN)
    assert credentials.get(SecretName.QUICKBOOKS_CLIENT_SECRET) == quickbooks.client_secret
    # The stored connection works on its own (a refresh first: no access token is kept).
    client = open_quickbooks_client(engine, credentials)
    assert client is not None
    with client:
        assert client.company_info()["CompanyName"] == "Northwind IT Services"


def test_pasted_address_fallback_and_a_wrong_state(
        engine: Engine, quickbooks: QuickBooksOnlineSandbox) -> None:
    set_internal_currency(engine, "USD")
    credentials = CredentialStore("paste")
    relay = "https://relay.example.com/paydesk/relay.html"
    flow = _flow(quickbooks, redirect_uri=relay)
    try:
        redirect = requests.get(flow.consent_url, timeout=10, allow_redirects=False)
        landed = redirect.headers["Location"]
        assert landed.startswith(relay + "?")
        forged = landed.replace(f"state={flow.state}", "state=1234.somebody-else")
        with pytest.raises(QuickBooksAuthorizationError) as caught:
            flow.accept_pasted(forged)
        assert "different sign-in attempt" in caught.value.message
        assert load_connection(engine) is None
        answer = flow.accept_pasted(f"  {landed}\n")
        _connect(engine, credentials, quickbooks, flow, answer)
    finally:
        flow.close()
    connection = load_connection(engine)
    assert connection is not None and connection.redirect_uri == relay


def test_a_company_in_another_currency_is_refused_and_nothing_is_stored(engine: Engine) -> None:
    set_internal_currency(engine, "USD")
    credentials = CredentialStore("currency")
    with QuickBooksOnlineSandbox(currency="CAD", **SIZES) as sandbox:
        flow = _flow(sandbox)
        try:
            requests.get(flow.consent_url, timeout=10)
            answer = flow.wait(5)
            with pytest.raises(QuickBooksCurrencyError) as caught:
                _connect(engine, credentials, sandbox, flow, answer)
        finally:
            flow.close()
    assert "keeps its books in CAD" in caught.value.message
    assert "internal currency is USD" in caught.value.message
    assert load_connection(engine) is None
    assert credentials.get(SecretName.QUICKBOOKS_REFRESH_TOKEN) is None


def test_setup_command_connects_with_a_pasted_address(tmp_path: Path,
                                                      quickbooks: QuickBooksOnlineSandbox) -> None:
    profile = Profile.open(tmp_path / "profile")
    engine = open_database(profile.database_url)
    set_internal_currency(engine, "USD")
    engine.dispose()
    keyring_file = tmp_path / "keyring.json"
    env = dict(os.environ, PYTHON_KEYRING_BACKEND="tests.integration.file_keyring.FileKeyring",
               PAYDESK_TEST_KEYRING_FILE=str(keyring_file), PYTHONPATH=str(ROOT),
               PAYDESK_QUICKBOOKS_CLIENT_SECRET=quickbooks.client_secret)
    relay = "https://relay.example.com/paydesk/relay.html"
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "--profile", str(profile.folder), "setup",
         "quickbooks-online", "--client-id", quickbooks.client_id, "--environment",
         quickbooks.discovery_url, "--api-base", quickbooks.api_base, "--redirect-uri", relay,
         "--no-browser", "--timeout", "30"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env, cwd=ROOT)
    assert process.stdout is not None and process.stdin is not None
    consent = ""
    for line in process.stdout:
        if line.strip().startswith("http"):
            consent = line.strip()
            break
    assert consent
    landed = requests.get(consent, timeout=10, allow_redirects=False).headers["Location"]
    process.stdin.write(landed + "\n")
    process.stdin.flush()
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "Connected to QuickBooks Online: Northwind IT Services" in out
    assert "Home currency: USD" in out
    assert quickbooks.client_secret not in out + err


@needs_chromium[0]
@needs_chromium[1]
def test_relay_page_forwards_the_answer_to_the_listener(quickbooks: QuickBooksOnlineSandbox,
                                                        page: Page) -> None:
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(RELAY.parent))
    web = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    relay = f"http://127.0.0.1:{web.server_address[1]}/relay.html"
    flow = _flow(quickbooks, redirect_uri=relay)
    try:
        landed = requests.get(flow.consent_url, timeout=10,
                              allow_redirects=False).headers["Location"]
        page.goto(landed)
        page.wait_for_url("http://127.0.0.1:*/callback?*", timeout=10_000)
        assert "PayDesk received the answer" in page.content()
        answer = flow.wait(5)
        assert answer is not None and answer.realm_id == quickbooks.realm_id
    finally:
        flow.close()
        web.shutdown()
        web.server_close()
