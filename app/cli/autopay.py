"""``paydesk payments autopay [--dry-run] [--json]``: charge the AutoPay invoices and
scheduled payments that are due, for a scheduled task (cron, Task Scheduler).

It does what the open window's background upkeep does (:func:`app.core.autopay.run_autopay`,
through the same payment pipeline): each due invoice is charged once, ever; a declined one is
retried on the MSP's schedule and then listed for a person. Charges this computer left
unfinished (a crash, a power cut) are settled first by their keys, never charged twice.
``--dry-run`` lists what is due and charges nothing.

Exit status: 0 — every due charge went through (or nothing was due; a dry run that found
nothing needing a person); 1 — some charge was declined, needs a person, or its outcome is
not known yet (the next run settles it); 2 — the run could not start (database or payment
gateway not reachable), with one line saying why.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from app.cli.run_secrets import add_option as add_secrets_option
from app.cli.run_secrets import credential_store
from app.core.autopay import AutoPayReport, ChargeLine, run_autopay
from app.core.config import Profile
from app.core.gateways import GatewayError
from app.core.gateways.connection import describe_missing_gateway, load_gateway
from app.core.storage.engine import DatabaseError, open_database


def register(commands: Any) -> None:
    """Adds ``autopay`` under ``paydesk payments``."""
    parser = commands.add_parser(
        "autopay",
        help="charge the AutoPay invoices and scheduled payments that are due",
        description="Charge every AutoPay invoice and scheduled payment that is due, once. "
        "Exit status: 0 all charged, 1 something needs a person or is still being "
        "checked, 2 could not start.",
    )
    parser.add_argument("--dry-run", action="store_true",
                        help="list what is due; charge nothing, change nothing")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_secrets_option(parser)
    parser.set_defaults(handler=handle_autopay)


def _lines(lines: tuple[ChargeLine, ...]) -> list[dict[str, Any]]:
    return [{"organization": line.organization_name, "invoices": line.invoice_numbers,
             "amount": line.amount.plain(), "currency": line.amount.currency,
             "reference": line.reference, "kind": line.kind, "message": line.message}
            for line in lines]


def handle_autopay(args: argparse.Namespace) -> int:
    profile_folder: Path | None = getattr(args, "profile", None)
    try:
        profile = Profile.open(profile_folder, getattr(args, "database_url", None))
        engine = open_database(profile.database_url)
    except DatabaseError as exc:
        return _fail(args, str(exc))
    try:
        credentials = credential_store(args, profile)
        gateway = load_gateway(engine, credentials)
        if gateway is None:
            return _fail(args, describe_missing_gateway(engine, credentials) or (
                "The payment gateway could not be opened. Run Setup… to connect your payment "
                "gateway."))
        try:
            report = run_autopay(engine, gateway, dry_run=args.dry_run)
        except GatewayError as exc:
            return _fail(args, f"AutoPay could not run: {exc.message}")
    finally:
        engine.dispose()
    _print(args, report)
    return 0 if report.ok else 1


def _print(args: argparse.Namespace, report: AutoPayReport) -> None:
    if args.json:
        print(json.dumps({
            "status": "ok" if report.ok else "attention",
            "dry_run": report.dry_run,
            "run_on": report.run_on.isoformat(),
            "charged": _lines(report.charged),
            "declined": _lines(report.declined),
            "needs_person": _lines(report.needs_person),
            "waiting": _lines(report.waiting),
            "would_charge": _lines(report.would_charge),
            "problems": list(report.problems),
            "reminders_queued": report.reminders_queued,
            "failure_notices_queued": report.failure_notices_queued,
        }))
        return
    print(report.summary)
    groups = (("Would charge", report.would_charge), ("Charged", report.charged),
              ("Declined", report.declined), ("Needs a person", report.needs_person),
              ("Waiting", report.waiting))
    for title, lines in groups:
        for line in lines:
            who = f"{line.organization_name}, invoice {line.invoice_numbers}: " \
                if line.organization_name else ""
            print(f"  {title}: {who}{line.amount.format()} — {line.message}")
    for problem in report.problems:
        print(f"  {problem}")


def _fail(args: argparse.Namespace, message: str) -> int:
    if getattr(args, "json", False):
        print(json.dumps({"status": "not_started", "error": message}))
    else:
        print(message, file=sys.stderr)
    return 2
