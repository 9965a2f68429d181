"""The ``paydesk`` command's sub-commands.

Each module in ``COMMANDS`` exposes ``register(subparsers)``, which adds its parser and sets
``handler`` (a function taking the parsed ``argparse.Namespace`` and returning an exit code).
Handlers receive the global options too (``profile``, ``database_url``).
"""

from __future__ import annotations

COMMANDS: tuple[str, ...] = (
    "app.cli.sandbox",
    "app.cli.setup",
    "app.cli.doctor",
    "app.cli.sync",
    "app.cli.payments",
    "app.cli.screenshots",
    "app.cli.qbwc",
    "app.cli.reconcile",
    "app.cli.emails",
)
