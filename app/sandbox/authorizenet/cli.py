"""``paydesk sandbox authorize-net``: run the Authorize.Net stand-in until Ctrl+C.

Prints the address to give PayDesk as the Authorize.Net API address, and the API login ID and
transaction key that open it.
"""

from __future__ import annotations

import argparse
import sys
import threading

from app.sandbox.authorizenet.server import AuthorizeNetSandbox

__all__ = ["add_arguments", "run"]


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1",
                        help="loopback address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0,
                        help="port to listen on; 0 picks a free one (default)")
    parser.add_argument("--api-login-id", default=None,
                        help="the API login ID clients must send (default: a new one)")
    parser.add_argument("--transaction-key", default=None,
                        help="the 16-character transaction key (default: a new one)")
    parser.add_argument("--merchant-name", default="PayDesk Sandbox Merchant",
                        help="the business name shown on the hosted forms")


def run(args: argparse.Namespace, *, stop: threading.Event | None = None) -> int:
    """Serve until interrupted (or until ``stop`` is set, for tests)."""
    try:
        sandbox = AuthorizeNetSandbox(
            host=args.host, port=args.port, api_login_id=args.api_login_id,
            transaction_key=args.transaction_key, merchant_name=args.merchant_name,
        ).start()
    except (OSError, ValueError) as exc:
        _say(f"The Authorize.Net stand-in could not start: {exc}")
        return 2
    _say(f"url: {sandbox.url}")
    _say(f"api login id: {sandbox.api_login_id}")
    _say(f"transaction key: {sandbox.transaction_key}")
    _say("The hosted forms are served under the same address. Press Ctrl+C to stop.")
    waiter = stop or threading.Event()
    try:
        while not waiter.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return 0
