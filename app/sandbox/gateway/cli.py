"""``paydesk sandbox gateway``: run the Stripe-compatible sandbox gateway until Ctrl+C.

Prints the URL to give PayDesk (or any Stripe client) as the API address and the test
secret key to use with it.
"""

from __future__ import annotations

import argparse
import sys
import threading

from app.sandbox.gateway.server import GatewaySandbox

__all__ = ["add_arguments", "run"]


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1",
                        help="loopback address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0,
                        help="port to listen on; 0 picks a free one (default)")
    parser.add_argument("--secret-key", default=None,
                        help="the test secret key clients must send (default: a new sk_test_ key)")
    parser.add_argument("--account-name", default="PayDesk Sandbox Gateway",
                        help="the business name shown on the hosted checkout page")
    parser.add_argument("--ach-settle-seconds", type=float, default=None,
                        help="settle bank debits by themselves after this many seconds "
                        "(default: only through the admin endpoint)")


def run(args: argparse.Namespace, *, stop: threading.Event | None = None) -> int:
    """Serve until interrupted (or until ``stop`` is set, for tests)."""
    try:
        sandbox = GatewaySandbox(
            host=args.host,
            port=args.port,
            secret_key=args.secret_key,
            account_name=args.account_name,
            ach_settle_seconds=args.ach_settle_seconds,
        ).start()
    except (OSError, ValueError) as exc:
        _say(f"The sandbox gateway could not start: {exc}")
        return 2
    _say(f"url: {sandbox.url}")
    _say(f"secret key: {sandbox.secret_key}")
    _say("Hosted checkout pages are served under the same address. Press Ctrl+C to stop.")
    waiter = stop or threading.Event()
    try:
        while not waiter.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return 0
