"""``paydesk qbwc``: QuickBooks Desktop through the Web Connector, without the window.

    paydesk qbwc qwc FILE [--url URL] [--every MINUTES]   write the .qwc file to add to the
                                                          Web Connector; prints the password
    paydesk qbwc qwc FILE --url https://HOST:PORT/qbwc --cert CERT.pem --key KEY.pem
                                                          the same, for a Web Connector on
                                                          another PC (HTTPS)
    paydesk qbwc serve [--host H] [--port P]              run the Web Connector service until
                                                          Ctrl+C (the .qwc's address and
                                                          certificate)

Exit status: 0 done; 2 a value is missing or not acceptable.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import threading
from pathlib import Path
from typing import Any

from app.core.config import Profile
from app.core.credentials import CredentialStore
from app.core.logs import setup_logging
from app.core.net import UnsafeURLError
from app.core.quickbooks.desktop.qwc import connect, ensure_password, write_qwc
from app.core.quickbooks.desktop.service import start_service
from app.core.storage.engine import open_database

log = logging.getLogger(__name__)

DEFAULT_PORT = 8765


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "qbwc", help="QuickBooks Desktop: write the .qwc file, or run the Web Connector service",
        description="Connect PayDesk to QuickBooks Desktop through the QuickBooks Web "
        "Connector.")
    commands = parser.add_subparsers(dest="qbwc_command", required=True, metavar="COMMAND")
    qwc = commands.add_parser("qwc", help="write the .qwc file to add to the Web Connector")
    add_qwc_arguments(qwc)
    qwc.set_defaults(handler=run_qwc)
    serve = commands.add_parser("serve", help="run the Web Connector service until Ctrl+C")
    serve.add_argument("--host", help="listen on this address instead of the .qwc's")
    serve.add_argument("--port", type=int, help="listen on this port instead of the .qwc's")
    serve.set_defaults(handler=run_serve)


def add_qwc_arguments(parser: argparse.ArgumentParser) -> None:
    """The .qwc file's options (shared with ``paydesk setup quickbooks-desktop``)."""
    parser.add_argument("file", type=Path)
    parser.add_argument("--url", default=f"http://localhost:{DEFAULT_PORT}/qbwc",
                        help="the address the Web Connector calls (https unless localhost)")
    parser.add_argument("--every", type=int, default=15, help="minutes between updates")
    parser.add_argument("--cert", type=Path,
                        help="for another PC: the certificate (PEM, with its chain)")
    parser.add_argument("--key", type=Path, help="the certificate's private key (PEM)")


def _open(args: argparse.Namespace) -> tuple[Any, CredentialStore]:
    profile = Profile.open(getattr(args, "profile", None), getattr(args, "database_url", None))
    setup_logging(profile.logs_folder)
    return open_database(profile.database_url), CredentialStore(profile.key)


def run_qwc(args: argparse.Namespace) -> int:
    engine, credentials = _open(args)
    try:
        connection = connect(
            engine, app_url=args.url, run_every_minutes=args.every,
            certfile=str(args.cert.resolve()) if args.cert else None,
            keyfile=str(args.key.resolve()) if args.key else None)
    except (UnsafeURLError, ValueError) as exc:
        print(exc)
        return 2
    path = write_qwc(args.file, connection)
    password = ensure_password(credentials)
    print(f"Wrote {path}. Add it in the QuickBooks Web Connector (File > Add an application), "
          f"then enter this password there: {password}")
    return 0


def run_serve(args: argparse.Namespace) -> int:
    engine, credentials = _open(args)
    try:
        server = start_service(engine, credentials, host=args.host, port=args.port)
    except (LookupError, ValueError, OSError) as exc:
        print(exc)
        return 2
    print(f"The Web Connector service is listening at {server.url}. Press Ctrl+C to stop.",
          flush=True)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    finally:
        server.stop()
    return 0
