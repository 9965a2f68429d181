"""`paydesk sandbox autotask`: run the Autotask sandbox from the command line.

Prints the address and the API user's credentials, one `name: value` per line, then serves
until interrupted (Ctrl+C).
"""

from __future__ import annotations

import argparse
import sys

from app.sandbox.autotask.data import DataSizes
from app.sandbox.autotask.faults import Faults
from app.sandbox.autotask.server import AutotaskSandbox

__all__ = ["add_arguments", "build_sandbox", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `paydesk sandbox autotask`."""
    d = DataSizes()
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on")
    parser.add_argument("--port", type=int, default=0, help="port (0 = any free port)")
    parser.add_argument("--seed", type=int, default=7, help="data seed (same seed, same data)")
    parser.add_argument("--companies", type=int, default=d.companies,
                        help=f"organizations (default {d.companies})")
    parser.add_argument("--contacts", type=int, default=d.contacts,
                        help=f"contacts (default {d.contacts})")
    parser.add_argument("--contracts", type=int, default=d.contracts,
                        help=f"contracts (default {d.contracts})")
    parser.add_argument("--tickets", type=int, default=d.tickets,
                        help=f"tickets (default {d.tickets})")
    parser.add_argument("--invoices", type=int, default=d.invoices,
                        help=f"invoices over --years years (default {d.invoices})")
    parser.add_argument("--lines-per-invoice", type=float, default=d.lines_per_invoice,
                        help="average invoice lines (BillingItems) per invoice")
    parser.add_argument("--years", type=int, default=d.years, help="years of invoice history")
    parser.add_argument("--bad-records", type=int, default=0,
                        help="deliberately malformed invoices (for quarantine testing)")
    parser.add_argument("--username", default="paydesk-api@sandbox.example",
                        help="the API user's name (an email address)")
    parser.add_argument("--secret", default=None, help="API secret (default: random)")
    parser.add_argument("--integration-code", default=None, help="default: random")
    parser.add_argument("--threshold", type=int, default=10_000,
                        help="requests allowed per rolling hour")
    parser.add_argument("--time-scale", type=float, default=1.0,
                        help="speed up the hourly window and the added latencies")
    parser.add_argument("--thread-limit", type=int, default=3,
                        help="concurrent requests allowed per entity")
    parser.add_argument("--no-warm", dest="warm", action="store_false",
                        help="do not prepare the data in the background while idle (a warmed "
                        "sandbox keeps every record in memory: about 1 GB for 500,000)")
    faults = parser.add_argument_group("faults")
    faults.add_argument("--latency-ms", type=float, default=0.0,
                        help="added to every request")
    faults.add_argument("--latency-jitter-ms", type=float, default=0.0,
                        help="plus a random 0..N ms per request")
    faults.add_argument("--error-rate", type=float, default=0.0,
                        help="share of requests answered with a server error")
    faults.add_argument("--error-status", type=int, default=500, choices=(500, 502, 503, 504))
    faults.add_argument("--error-body", default="json", choices=("json", "html", "empty"))
    faults.add_argument("--drop-rate", type=float, default=0.0,
                        help="share of connections closed without an answer")
    faults.add_argument("--slow-rate", type=float, default=0.0,
                        help="share of requests answered --slow-ms later")
    faults.add_argument("--slow-ms", type=float, default=3000.0)
    faults.add_argument("--mutate-every", type=int, default=0,
                        help="change data every N query requests (as colleagues would)")
    faults.add_argument("--thread-refusal-status", type=int, default=500)


def build_sandbox(args: argparse.Namespace) -> AutotaskSandbox:
    faults = Faults(
        latency_ms=args.latency_ms, latency_jitter_ms=args.latency_jitter_ms,
        error_rate=args.error_rate, error_status=args.error_status, error_body=args.error_body,
        drop_rate=args.drop_rate, slow_rate=args.slow_rate, slow_ms=args.slow_ms,
        mutate_every=args.mutate_every, thread_refusal_status=args.thread_refusal_status,
    )
    return AutotaskSandbox(
        companies=args.companies, contacts=args.contacts, contracts=args.contracts,
        tickets=args.tickets, invoices=args.invoices, lines_per_invoice=args.lines_per_invoice,
        years=args.years, seed=args.seed, bad_records=args.bad_records,
        threshold=args.threshold, time_scale=args.time_scale, thread_limit=args.thread_limit,
        faults=faults, host=args.host, port=args.port, username=args.username,
        secret=args.secret, integration_code=args.integration_code, warm=args.warm,
    )


def run(args: argparse.Namespace) -> int:
    """Start the sandbox, print how to reach it, serve until interrupted."""
    try:
        sandbox = build_sandbox(args)
        sandbox.start()
    except (ValueError, OSError) as exc:
        sys.stderr.write(f"The Autotask sandbox could not start: {exc}\n")
        return 2
    creds = sandbox.credentials
    lines = [
        f"url: {sandbox.url}",
        f"username: {creds.username}",
        f"secret: {creds.secret}",
        f"integration code: {creds.integration_code}",
        f"admin: {sandbox.admin_url}",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
    try:
        while True:
            sandbox._thread.join(3600) if sandbox._thread else None
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="paydesk sandbox autotask")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
