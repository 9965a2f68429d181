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

from app.cli import autopay
from app.cli.run_secrets import add_option as add_secrets_option
from app.cli.run_secrets import credential_store
from app.core.config import Profile
from app.core.payments.maintenance import run_payment_maintenance
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
    add_secrets_option(recover)
    recover.set_defaults(handler=handle_recover)
    autopay.register(commands)


def handle_recover(args: argparse.Namespace) -> int:
    profile_folder: Path | None = getattr(args, "profile", None)
    try:
        profile = Profile.open(profile_folder, getattr(args, "database_url", None))
        engine = open_database(profile.database_url)
    except DatabaseError as exc:
        return _fail(args, str(exc))
    credentials = credential_store(args, profile)
    try:
        result = run_payment_maintenance(engine, credentials,
                                         deliver_postings=not args.no_postings, reclaim=True)
    finally:
        engine.dispose()
    report, delivery = result.recovery, result.delivery
    if report is None:
        return _fail(args, " ".join(result.problems))
    if args.json:
        print(json.dumps({
            "status": "ok" if result.ok else "attention",
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
            "problems": list(result.problems),
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
        for problem in result.problems:
            print(problem)
    return 0 if result.ok else 1


def _fail(args: argparse.Namespace, message: str) -> int:
    if getattr(args, "json", False):
        print(json.dumps({"status": "not_started", "error": message}))
    else:
        print(message, file=sys.stderr)
    return 2
