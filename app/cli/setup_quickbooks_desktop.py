"""``paydesk setup quickbooks-desktop``: write the .qwc file for the QuickBooks Web Connector.

    paydesk setup quickbooks-desktop FILE [--url URL] [--every MINUTES] [--cert C --key K]

The same as ``paydesk qbwc qwc`` (see :mod:`app.cli.qbwc`): the connection is stored (OwnerID
and FileID kept), the password is made once and kept in the keychain, and printed so it can
be typed into the Web Connector.
"""

from __future__ import annotations

from typing import Any

from app.cli.qbwc import add_qwc_arguments, run_qwc


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "quickbooks-desktop",
        help="write the .qwc file for the QuickBooks Web Connector",
        description="Save the .qwc file to add to the QuickBooks Web Connector (File > Add an "
        "application) and show the password to enter there. Run `paydesk qbwc serve` so the "
        "Web Connector finds PayDesk.",
        epilog="Exit status: 0 written, 2 a value is not acceptable.",
    )
    add_qwc_arguments(parser)
    parser.set_defaults(handler=run_qwc)
