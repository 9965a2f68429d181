"""``paydesk sandbox NAME``: run one of PayDesk's local stand-in servers from the command line.

Each sandbox lives in ``app/sandbox/<name>/`` and its ``cli`` module exposes
``add_arguments(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

SANDBOXES: dict[str, tuple[str, str]] = {
    "autotask": ("app.sandbox.autotask.cli", "a local Autotask REST API with seeded MSP data"),
    "gateway": ("app.sandbox.gateway.cli", "a local Stripe-compatible payment gateway"),
    "quickbooks-online": ("app.sandbox.quickbooks_online.cli", "a local QuickBooks Online company with Intuit's OAuth"),  # noqa: E501
    "quickbooks-desktop": ("app.sandbox.quickbooks_desktop.cli", "a QuickBooks Desktop company file and the Web Connector polling PayDesk"),  # noqa: E501
}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sandbox",
        help="run a local stand-in server (Autotask, payment gateway) for tests and demos",
        description="Run one of PayDesk's local sandbox servers on this computer's loopback "
        "address. It serves until you press Ctrl+C.",
    )
    names = parser.add_subparsers(dest="sandbox", required=True, metavar="NAME")
    for name, (module_name, help_text) in SANDBOXES.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        sub = names.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(sub)
        sub.set_defaults(handler=module.run)


def run(args: argparse.Namespace) -> int:  # pragma: no cover - dispatch happens via handler
    handler = args.handler
    return int(handler(args))
