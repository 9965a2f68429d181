"""``paydesk sandbox quickbooks-desktop``: a company file and a Web Connector polling PayDesk.

    paydesk sandbox quickbooks-desktop --app-url URL --qwc FILE [--seed N] [--every SECONDS]
        [--once] [--qb-closed] [--qb-busy] [--lose-payment-answer] [--kill-after-payment]
        [--cut-after-pages N] [--closing-date YYYY-MM-DD]

Faults that happen once (a lost answer, a killed Web Connector, a cut session) apply to the
first update where they can; QuickBooks closed or busy lasts while the sandbox runs.

The Web Connector's password comes from ``PAYDESK_QBWC_PASSWORD`` or a hidden prompt (the one
``paydesk qbwc qwc`` printed).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time
from datetime import date

from lxml import etree

from app.sandbox.autotask.data import DataSizes
from app.sandbox.quickbooks_desktop.company import CompanyFile
from app.sandbox.quickbooks_desktop.connector import Faults, WebConnector

PASSWORD_VARIABLE = "PAYDESK_QBWC_PASSWORD"  # noqa: S105 - the variable's name


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--app-url", required=True, help="PayDesk's Web Connector service URL")
    parser.add_argument("--qwc", required=True, help="the .qwc file PayDesk wrote")
    parser.add_argument("--seed", type=int, default=7, help="same as the Autotask sandbox's")
    parser.add_argument("--companies", type=int, default=300)
    parser.add_argument("--invoices", type=int, default=3600)
    parser.add_argument("--every", type=float, default=60.0, help="seconds between updates")
    parser.add_argument("--once", action="store_true", help="make one update and stop")
    parser.add_argument("--qb-closed", action="store_true", help="QuickBooks is closed")
    parser.add_argument("--qb-busy", action="store_true", help="QuickBooks is busy")
    parser.add_argument("--lose-payment-answer", action="store_true",
                        help="lose the answer of the next payment after QuickBooks applied it")
    parser.add_argument("--kill-after-payment", action="store_true",
                        help="the Web Connector dies right after QuickBooks applied a payment")
    parser.add_argument("--cut-after-pages", type=int, metavar="N",
                        help="the session is cut after N list pages (mid-iterator)")
    parser.add_argument("--closing-date", type=date.fromisoformat, metavar="YYYY-MM-DD",
                        help="the company file's closing date")


def run(args: argparse.Namespace) -> int:
    tree = etree.parse(args.qwc, etree.XMLParser(resolve_entities=False, no_network=True))
    username = tree.findtext("UserName") or ""
    password = os.environ.get(PASSWORD_VARIABLE) or getpass.getpass("Web Connector password: ")
    sizes = DataSizes(companies=args.companies, invoices=args.invoices)
    company = CompanyFile(seed=args.seed, sizes=sizes, closing_date=args.closing_date)
    connector = WebConnector(args.app_url, username, password, company, faults=Faults(
        qb_closed=args.qb_closed, qb_busy=args.qb_busy,
        lose_next_payment_answer=args.lose_payment_answer,
        kill_after_next_payment=args.kill_after_payment,
        cut_after_pages=args.cut_after_pages))
    sys.stdout.write(f"QuickBooks Desktop sandbox: {len(company.invoices)} invoices in "
                     f"“{company.company_name}”. Press Ctrl+C to stop.\n")
    try:
        while True:
            result = connector.update()
            said = ("the Web Connector was stopped mid-session (fault switch)" if result.killed
                    else result.last_error or result.closed_with or "")
            sys.stdout.write(f"Update: {result.round_trips} exchanges; {said}\n")
            sys.stdout.flush()
            if args.once:
                return 0 if result.last_error is None else 1
            time.sleep(args.every)
    except KeyboardInterrupt:
        return 0
