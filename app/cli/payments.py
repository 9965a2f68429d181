"""``paydesk payments recover [--json]``: finish what a crash or a lost connection left open,
without the GUI.

It does what PayDesk does at each start: payments whose outcome is unknown are looked up at
the gateway by their idempotency keys (never charged again), pay links are checked, bank
debits still processing are followed up, refunds whose answer was lost are repeated with
their own keys; then every Autotask posting that is due — including any a crash left half
delivered — is delivered. Exit status: 0 when everything is settled and posted, 1 when some
payment is still unknown or some posting is failing, 2 when recovery could not start.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from app.core.autotask.errors import AutotaskError
from app.core.config import Profile
from app.core.connections import describe_missing_connection, load_autotask_client
from app.core.credentials import CredentialStore
from app.core.gateways import GatewayError
from app.core.gateways.connection import describe_missing_gateway, load_gateway
from app.core.payments import recover_payments
from app.core.posting import DeliveryReport, PostingOutbox
from app.core.storage.engine import DatabaseError, open_database


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "payments",
        help="payment maintenance (recover after a crash)",
        description="Payment maintenance that runs without the window.",
    )
    commands = parser.add_subparsers(dest="payments_command", metavar="COMMAND")
    commands.required = True
    recover = commands.add_parser(
        "recover",
        help="resolve unfinished payments and deliver due postings to Autotask",
        description="Look up every unfinished payment at the gateway by its key (nothing "
        "is charged twice), follow up bank payments, and post what Autotask has not heard "
        "yet.",
    )
    recover.add_argument("--json", action="store_true", help="print one JSON object")
    recover.add_argument("--no-postings", action="store_true",
                         help="only resolve payments; leave Autotask postings for later")
    recover.set_defaults(handler=handle_recover)


def handle_recover(args: argparse.Namespace) -> int:
    profile_folder: Path | None = getattr(args, "profile", None)
    try:
        profile = Profile.open(profile_folder, getattr(args, "database_url", None))
        engine = open_database(profile.database_url)
    except DatabaseError as exc:
        return _fail(args, str(exc))
    credentials = CredentialStore(profile.key)
    try:
        gateway = load_gateway(engine, credentials)
        if gateway is None:
            return _fail(args, describe_missing_gateway(engine, credentials)
                         or "No payment gateway is connected.")
        try:
            report = recover_payments(engine, gateway)
        except GatewayError as exc:
            return _fail(args, exc.message)
        delivery: DeliveryReport | None = None
        posting_problem: str | None = None
        if not args.no_postings:
            client = load_autotask_client(engine, credentials)
            if client is None:
                posting_problem = (describe_missing_connection(engine, credentials)
                                   or "PayDesk is not connected to Autotask.")
            else:
                try:
                    delivery = PostingOutbox(engine, client).deliver_due(reclaim=True,
                                                                         limit=10_000)
                except AutotaskError as exc:
                    posting_problem = exc.message
                finally:
                    client.close()
    finally:
        engine.dispose()
    ok = not report.still_unknown and not report.errors and posting_problem is None and (
        delivery is None or delivery.failed == 0)
    if args.json:
        print(json.dumps({
            "status": "ok" if ok else "attention",
            "resolved": [{"reference": o.reference, "state": o.state.value}
                         for o in report.resolved],
            "settled": [{"reference": o.reference, "state": o.state.value}
                        for o in report.settled],
            "refunds": [{"reference": r.reference, "state": r.state.value}
                        for r in report.refunds],
            "still_unknown": list(report.still_unknown),
            "errors": list(report.errors),
            "postings": None if delivery is None else {
                "delivered": delivery.delivered, "retrying": delivery.retrying,
                "failed": delivery.failed},
            "posting_problem": posting_problem,
        }))
    else:
        print(f"Payments: {report.summary}")
        for outcome in (*report.resolved, *report.settled):
            print(f"  {outcome.reference}: {outcome.message}")
        for refund in report.refunds:
            print(f"  {refund.reference}: {refund.message}")
        for error in report.errors:
            print(f"  {error}")
        if delivery is not None:
            print(f"Autotask: {delivery.summary}")
        if posting_problem:
            print(f"Autotask: nothing was posted. {posting_problem}")
    return 0 if ok else 1


def _fail(args: argparse.Namespace, message: str) -> int:
    if getattr(args, "json", False):
        print(json.dumps({"status": "not_started", "error": message}))
    else:
        print(message, file=sys.stderr)
    return 2
