"""``paydesk sandbox quickbooks-online``: run the QuickBooks Online sandbox until Ctrl+C.

Prints, one ``name: value`` per line, the address, the app's client id and secret, the
company's realm id, the OpenID discovery address (intuit-oauth's ``environment``) and the
admin address; then serves until interrupted.
"""

from __future__ import annotations

import argparse
import sys
import threading

from app.sandbox.autotask.data import DataSizes
from app.sandbox.quickbooks_online.server import QuickBooksOnlineSandbox

__all__ = ["add_arguments", "build_sandbox", "run"]


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``paydesk sandbox quickbooks-online``."""
    d = DataSizes()
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on")
    parser.add_argument("--port", type=int, default=0, help="port (0 = any free port)")
    parser.add_argument("--seed", type=int, default=7,
                        help="data seed: the same as the Autotask sandbox's gives matching data")
    parser.add_argument("--companies", type=int, default=d.companies,
                        help=f"organizations, as for the Autotask sandbox (default {d.companies})")
    parser.add_argument("--contacts", type=int, default=d.contacts)
    parser.add_argument("--contracts", type=int, default=d.contracts)
    parser.add_argument("--tickets", type=int, default=d.tickets)
    parser.add_argument("--invoices", type=int, default=d.invoices,
                        help=f"Autotask invoices (default {d.invoices})")
    parser.add_argument("--lines-per-invoice", type=float, default=d.lines_per_invoice)
    parser.add_argument("--years", type=int, default=d.years, help="years of invoice history")
    parser.add_argument("--currency", default="USD", help="the company's home currency")
    parser.add_argument("--multicurrency", action="store_true",
                        help="turn multicurrency on (it cannot be turned off again)")
    parser.add_argument("--company-name", default="Northwind IT Services")
    parser.add_argument("--no-disagreements", dest="disagreements", action="store_false",
                        help="books that agree with Autotask everywhere")
    parser.add_argument("--client-id", default=None, help="default: random")
    parser.add_argument("--client-secret", default=None, help="default: random")
    parser.add_argument("--realm-id", default=None, help="default: derived from the seed")
    parser.add_argument("--consent", default="auto", choices=("auto", "click", "deny"),
                        help="the authorize page consents at once, on a click, or refuses")
    parser.add_argument("--production-keys", action="store_true",
                        help="behave like production keys: redirect addresses must be https "
                        "with a host name (development keys also accept http://localhost)")
    parser.add_argument("--requests-per-minute", type=int, default=500,
                        help="QuickBooks' per-company limit (default 500)")
    parser.add_argument("--max-concurrent", type=int, default=10,
                        help="requests at once per company (default 10)")
    parser.add_argument("--ignore-requestid", dest="honour_requestid", action="store_false",
                        help="write again on a repeated requestid (as some integrators report "
                        "QuickBooks doing), to test look-up-before-create recovery")
    parser.add_argument("--refresh-grace-seconds", type=float, default=86400.0,
                        help="how long a replaced refresh token still works (until its "
                        "successor is used)")


def build_sandbox(args: argparse.Namespace) -> QuickBooksOnlineSandbox:
    return QuickBooksOnlineSandbox(
        companies=args.companies, contacts=args.contacts, contracts=args.contracts,
        tickets=args.tickets, invoices=args.invoices,
        lines_per_invoice=args.lines_per_invoice, years=args.years, seed=args.seed,
        currency=args.currency, multicurrency=args.multicurrency,
        company_name=args.company_name, disagreements=args.disagreements, host=args.host,
        port=args.port, client_id=args.client_id, client_secret=args.client_secret,
        realm_id=args.realm_id, consent=args.consent, production_keys=args.production_keys,
        requests_per_minute=args.requests_per_minute, max_concurrent=args.max_concurrent,
        refresh_grace_seconds=args.refresh_grace_seconds,
        honour_requestid=args.honour_requestid,
    )


def run(args: argparse.Namespace, *, stop: threading.Event | None = None) -> int:
    """Start the sandbox, print how to reach it, serve until interrupted."""
    try:
        sandbox = build_sandbox(args).start()
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"The QuickBooks Online sandbox could not start: {exc}\n")
        return 2
    _say(f"url: {sandbox.url}")
    _say(f"client id: {sandbox.client_id}")
    _say(f"client secret: {sandbox.client_secret}")
    _say(f"realm id: {sandbox.realm_id}")
    _say(f"discovery: {sandbox.discovery_url}")
    _say(f"admin: {sandbox.admin_url}")
    waiter = stop or threading.Event()
    try:
        sandbox.data.index()  # prepare the invoice index now rather than on the first query
        while not waiter.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return 0
