"""``paydesk sandbox quickbooks-desktop``: a company file and a Web Connector polling PayDesk.

    paydesk sandbox quickbooks-desktop --app-url URL --qwc FILE [--seed N] [--every SECONDS]

The Web Connector's password comes from ``PAYDESK_QBWC_PASSWORD`` or a hidden prompt (the one
``paydesk qbwc qwc`` printed).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time

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


def run(args: argparse.Namespace) -> int:
    tree = etree.parse(args.qwc, etree.XMLParser(resolve_entities=False, no_network=True))
    username = tree.findtext("UserName") or ""
    password = os.environ.get(PASSWORD_VARIABLE) or getpass.getpass("Web Connector password: ")
    sizes = DataSizes(companies=args.companies, invoices=args.invoices)
    company = CompanyFile(seed=args.seed, sizes=sizes)
    connector = WebConnector(args.app_url, username, password, company,
                             faults=Faults(qb_closed=args.qb_closed, qb_busy=args.qb_busy))
    sys.stdout.write(f"QuickBooks Desktop sandbox: {len(company.invoices)} invoices in "
                     f"“{company.company_name}”. Press Ctrl+C to stop.\n")
    try:
        while True:
            result = connector.update()
            sys.stdout.write(f"Update: {result.round_trips} exchanges; "
                             f"{result.last_error or result.closed_with or ''}\n")
            sys.stdout.flush()
            if args.once:
                return 0 if result.last_error is None else 1
            time.sleep(args.every)
    except KeyboardInterrupt:
        return 0
