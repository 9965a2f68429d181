"""``paydesk reconcile``: where Autotask, PayDesk and QuickBooks disagree, invoice by invoice.

    paydesk reconcile [--json] [--source online|desktop]

Reads only the local database (run ``paydesk sync`` first for QuickBooks' latest). Lists only
the invoices that disagree, each with why (see :mod:`app.core.quickbooks.reconcile`).
Exit status: 0 everything agrees; 1 something disagrees; 2 PayDesk is not set up.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from app.core.config import get_internal_currency
from app.core.money import Money
from app.core.quickbooks.reconcile import reconcile


def register(subparsers: Any) -> None:
    from app.cli.doctor import CHECKS
    from app.cli.quickbooks_checks import check_quickbooks_online

    if check_quickbooks_online not in CHECKS:  # `paydesk doctor` checks QuickBooks too
        CHECKS.append(check_quickbooks_online)
    parser = subparsers.add_parser(
        "reconcile",
        help="list invoices where Autotask, PayDesk and QuickBooks disagree",
        description="Compare each invoice's Autotask state, PayDesk's balance and QuickBooks' "
        "balance, and list only those that disagree, with why. Reads PayDesk's local copy: "
        "run `paydesk sync` first.",
        epilog="Exit status: 0 all agree, 1 some disagree, 2 not set up.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--source", choices=("online", "desktop"), default="online",
                        help="which QuickBooks (default: online)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from app.cli.setup import open_profile

    _profile, engine, _credentials = open_profile(args)
    try:
        currency = get_internal_currency(engine)
        if currency is None:
            print("PayDesk is not set up yet (no internal currency). Run `paydesk setup`.",
                  file=sys.stderr)
            return 2
        report = reconcile(engine, args.source, currency)
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        if not report.quickbooks_read:
            print("QuickBooks has not been read yet: connect it and run `paydesk sync`.")
        print(f"{report.checked} invoices checked, {len(report.rows)} disagree.")
        for row in report.rows:
            def fmt(minor: int | None) -> str:
                return "—" if minor is None else Money(minor, currency).format()
            print(f"Invoice {row.invoice_number or row.invoice_id} ({row.organization or '?'}): "
                  f"Autotask {row.autotask_state}, PayDesk balance "
                  f"{fmt(row.paydesk_balance_minor)}, QuickBooks "
                  f"{row.quickbooks_doc_number or '—'} balance "
                  f"{fmt(row.quickbooks_balance_minor)}")
            for d in row.disagreements:
                print(f"    {d.code}: {d.text}")
    return 1 if report.rows else 0
