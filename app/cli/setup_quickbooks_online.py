"""``paydesk setup quickbooks-online``: connect a QuickBooks Online company without the window.

    paydesk setup quickbooks-online --client-id ID [--environment sandbox|production|URL]
                                    [--redirect-uri https://…/relay.html] [--no-browser]

The client secret of the MSP's Intuit app comes from ``PAYDESK_QUICKBOOKS_CLIENT_SECRET`` or
a hidden prompt (never the command line). The command prints the consent address, opens the
browser when there is one, and waits for Intuit's answer on the loopback listener; the
person may instead paste the address the browser landed on (one line on standard input).
Test Connection runs before anything is stored; a company whose home currency is not
PayDesk's internal currency is refused.

Sandbox keys: leave ``--redirect-uri`` out; register ``http://localhost:PORT/callback`` with
``--port PORT`` on the Intuit app. Production keys: host ``resources/quickbooks/relay.html``
on https and register its address (see docs/quickbooks.md).

Exit status: 0 connected; 1 the connection failed; 2 a value is missing or not acceptable;
3 the company's home currency is not PayDesk's; 4 the keychain could not store the secrets.
"""

from __future__ import annotations

import argparse
import getpass
import os
import queue
import sys
import threading
import webbrowser
from typing import Any

from app.core.config import get_internal_currency
from app.core.credentials import KeychainUnavailableError, SecretName
from app.core.quickbooks.online.connection import default_api_base
from app.core.quickbooks.online.errors import QuickBooksCurrencyError, QuickBooksError
from app.core.quickbooks.online.oauth import AuthorizationAnswer, ConsentFlow
from app.core.quickbooks.online.setup import connect_company

SECRET_VARIABLE = "PAYDESK_QUICKBOOKS_CLIENT_SECRET"  # noqa: S105 - a variable's name

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_VALUE = 2
EXIT_CURRENCY = 3
EXIT_KEYCHAIN = 4


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "quickbooks-online",
        help="connect a QuickBooks Online company",
        description="Connect PayDesk to a QuickBooks Online company with your Intuit app's "
        f"keys. The client secret is read from {SECRET_VARIABLE} or asked for without "
        "showing it. PayDesk prints the consent address and waits for Intuit's answer; you "
        "may also paste the address the browser landed on.",
        epilog="Exit status: 0 connected, 1 the connection failed, 2 a value is missing, 3 "
        "the company's home currency is not PayDesk's, 4 the keychain refused the secrets.",
    )
    parser.add_argument("--client-id", required=True, metavar="ID",
                        help="the Client ID on the Keys tab of your Intuit app")
    parser.add_argument(
        "--environment", default="production", metavar="ENV",
        help="production (default), sandbox (Intuit's sandbox companies), or the address of "
        "an OpenID discovery document (`paydesk sandbox quickbooks-online` prints one)")
    parser.add_argument("--api-base", default="", metavar="URL",
                        help="the QuickBooks API address; only for a discovery-document "
                        "environment (Intuit's hosts are known)")
    parser.add_argument("--redirect-uri", default="", metavar="URL",
                        help="the https relay page registered on your Intuit app (production "
                        "keys); without it PayDesk's own http://localhost:PORT/callback")
    parser.add_argument("--port", type=int, default=0,
                        help="the loopback port to listen on (0: any free port)")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds to wait for the answer (default 600)")
    parser.add_argument("--no-browser", action="store_true",
                        help="only print the address; do not open a browser")
    parser.set_defaults(handler=run)


def _say(text: str = "") -> None:
    print(text, flush=True)


def _complain(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _secret(stored: str | None) -> str | None:
    value = os.environ.get(SECRET_VARIABLE, "")
    if value:
        return value
    if sys.stdin is not None and sys.stdin.isatty():
        hint = " (press Enter to keep the stored one)" if stored else ""
        typed = getpass.getpass(f"Client secret of your Intuit app{hint}: ")
        if typed:
            return typed
    return stored


def _wait(flow: ConsentFlow, timeout: float) -> AuthorizationAnswer | None:
    """The first answer: from the listener, or a pasted address on standard input."""
    pasted: queue.Queue[str] = queue.Queue()

    def read_stdin() -> None:
        try:
            for line in sys.stdin:
                if line.strip():
                    pasted.put(line.strip())
                    return
        except (OSError, ValueError):
            return

    if sys.stdin is not None:
        threading.Thread(target=read_stdin, name="paydesk-paste", daemon=True).start()
    waited = 0.0
    while waited < timeout:
        answer = flow.wait(0.2)
        if answer is not None:
            return answer
        try:
            text = pasted.get_nowait()
        except queue.Empty:
            waited += 0.2
            continue
        return flow.accept_pasted(text)
    return None


def run(args: argparse.Namespace) -> int:
    from app.cli.setup import open_profile

    environment = args.environment.strip()
    api_base = args.api_base.strip() or default_api_base(environment)
    if not api_base:
        _complain("--api-base is needed with a discovery-document environment.")
        return EXIT_BAD_VALUE
    profile, engine, credentials = open_profile(args)
    try:
        currency = get_internal_currency(engine)
        if currency is None:
            _complain("Choose PayDesk's internal currency first (paydesk setup --currency …); "
                      "QuickBooks' home currency is checked against it.")
            return EXIT_BAD_VALUE
        secret = _secret(credentials.get(SecretName.QUICKBOOKS_CLIENT_SECRET))
        if not secret:
            _complain(f"No client secret was given. Set {SECRET_VARIABLE}, or run this command "
                      "in a terminal to be asked for it.")
            return EXIT_BAD_VALUE
        try:
            flow = ConsentFlow(args.client_id.strip(), secret, environment,
                               redirect_uri=args.redirect_uri.strip(), port=args.port)
        except QuickBooksError as exc:
            _complain(exc.message)
            return EXIT_FAILED
        try:
            _say("Open this address, sign in to QuickBooks and choose the company:")
            _say(f"  {flow.consent_url}")
            _say(f"Redirect address to register on your Intuit app: {flow.redirect_uri}")
            if not args.no_browser:
                try:
                    webbrowser.get()
                    webbrowser.open(flow.consent_url)
                except webbrowser.Error:
                    pass
            _say("Waiting for QuickBooks… (or paste the address the browser landed on and "
                 "press Enter)")
            answer = _wait(flow, args.timeout)
            if answer is None:
                _complain("No answer came from QuickBooks in time. Nothing was saved; run the "
                          "command again.")
                return EXIT_FAILED
            report = connect_company(engine, credentials, flow, answer,
                                     client_id=args.client_id.strip(), client_secret=secret,
                                     environment=environment, api_base=api_base)
        except QuickBooksCurrencyError as exc:
            _complain(exc.message)
            return EXIT_CURRENCY
        except KeychainUnavailableError as exc:
            _complain(str(exc))
            return EXIT_KEYCHAIN
        except QuickBooksError as exc:
            _complain(exc.message)
            return EXIT_FAILED
        finally:
            flow.close()
        _say(f"Connected to QuickBooks Online: {report.company_name} (company {report.realm_id})")
        _say(f"  Home currency: {report.home_currency}")
        _say(f"  Multicurrency: {'on' if report.multicurrency else 'off'}")
        _say(f"Profile: {profile.folder}")
        _say("Next: `paydesk sync` reads QuickBooks' invoices and matches them to Autotask's.")
        return EXIT_OK
    finally:
        engine.dispose()
