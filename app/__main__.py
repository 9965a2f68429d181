"""The ``paydesk`` command: the desktop program by default, and sub-commands for IT.

    paydesk [--profile DIR] [--database-url URL] [--demo] [--smoke]
    paydesk sandbox autotask|gateway …
    paydesk sync | setup | doctor | payments …   (see ``paydesk --help``)
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from app import __version__
from app.cli import COMMANDS
from app.cli.failures import EPILOG, check_global_options, run_command, say


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paydesk",
        description="PayDesk takes payments on your Autotask invoices and keeps Autotask and "
        "QuickBooks in step. Without a command it opens the PayDesk window.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"PayDesk {__version__}")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="the folder where PayDesk keeps its database, logs and settings "
        "(default: your user data folder)",
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="use this database instead of the profile's SQLite file, for example "
        "postgresql+psycopg://user@server/paydesk to share one database between several seats",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="start with a throwaway profile and the local sandbox servers, to try PayDesk",
    )
    parser.add_argument(
        "--demo-quickbooks", choices=("online", "desktop", "none"), default="online",
        help="with --demo: the QuickBooks the demo keeps in step — the QuickBooks Online "
        "sandbox (default), the QuickBooks Desktop stand-in with its Web Connector, or none")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="start fully (database, main window) and exit at once with status 0; for checks",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMANDS:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is not None:
        return run_command(handler, args)
    problem = check_global_options(args)
    if problem:
        say(problem)
        return 2
    from app.gui.app import run_gui

    return int(run_gui(args))


if __name__ == "__main__":
    sys.exit(main())
