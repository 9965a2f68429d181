"""QuickBooks Online benchmark: the first read and matching of a large company, and posting.

Starts the Autotask and QuickBooks Online sandboxes as their own processes (same seed and
sizes, so QuickBooks holds what Autotask's export made), syncs Autotask into a fresh profile
(in a child process, not measured), then measures in this process:

(a) the first QuickBooks read (customers and invoices, pages of 1,000) and the matching pass
    of every Autotask invoice: seconds wall and CPU, requests against the minimum
    (ceil(customers / 1000) + ceil(invoices / 1000) + 1 final short page each at most), peak
    RSS of this process;
(b) posting 1,000 payments (one per open matched invoice) through the QuickBooks Online
    channel's deliverer with 10 workers: requests per payment (target 1 when nothing fails)
    and seconds. The sandbox's 500-requests-a-minute limit is lifted for (b) so the figure is
    PayDesk's own cost; at QuickBooks' real limit 1,000 payments take at least 120 s.

Prints a table and, as its last line, one JSON object with the figures.

    python -m benchmarks.quickbooks_benchmark [--invoices 100000] [--payments 1000]
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from app.core.autotask import AutotaskClient, AutotaskCredentials, PacingPolicy
from app.core.config import set_internal_currency
from app.core.credentials import CredentialStore, SecretName
from app.core.invoice_state import recompute_invoices
from app.core.posting.channels import (
    ClaimedPosting,
    PaymentRecorded,
    get_channel,
    record_fact,
)
from app.core.quickbooks.books import match_invoices
from app.core.quickbooks.online.channel import QuickBooksOnlineDeliverer
from app.core.quickbooks.online.connection import QuickBooksOnlineConnection, save_connection
from app.core.quickbooks.online.oauth import TokenSet
from app.core.quickbooks.online.read import read_quickbooks_online
from app.core.quickbooks.online.setup import open_quickbooks_client
from app.core.quickbooks.online.tokens import store_new_tokens
from app.core.storage.engine import open_database, session_scope, sqlite_url
from app.core.storage.models import (
    Invoice,
    Payment,
    PaymentAllocation,
    Posting,
    QuickBooksInvoice,
)
from app.core.sync import run_sync

SEED = 7
LINES_PER_INVOICE = 1.0

_QBO_SERVER = """
import json, sys, threading
from app.sandbox.quickbooks_online.server import QuickBooksOnlineSandbox
sizes = json.loads(sys.argv[1])
sandbox = QuickBooksOnlineSandbox(**sizes).start()
tokens = sandbox.connect()
print(json.dumps({"url": sandbox.url, "api_base": sandbox.api_base,
                  "discovery": sandbox.discovery_url, "client_id": sandbox.client_id,
                  "client_secret": sandbox.client_secret, "realm_id": sandbox.realm_id,
                  "tokens": tokens}), flush=True)
threading.Event().wait()
"""


def start_autotask(sizes: dict[str, Any]) -> tuple[subprocess.Popen[str], str,
                                                  AutotaskCredentials]:
    secret = secrets.token_urlsafe(18)
    code = secrets.token_hex(12).upper()
    command = [sys.executable, "-m", "app.sandbox.autotask.cli", f"--secret={secret}",
               f"--integration-code={code}", "--threshold", "100000000", "--bad-records", "0"]
    for name, value in sizes.items():
        command += [f"--{name.replace('_', '-')}", str(value)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    url = username = ""
    for line in process.stdout:
        if line.startswith("url: "):
            url = line[5:].strip()
        elif line.startswith("username: "):
            username = line[10:].strip()
        elif line.startswith("admin: "):
            break
    if not url:
        process.kill()
        raise SystemExit("The Autotask sandbox did not start.")
    return process, url, AutotaskCredentials(username, secret, code)


def start_quickbooks(sizes: dict[str, Any]) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    process = subprocess.Popen([sys.executable, "-c", _QBO_SERVER, json.dumps(sizes)],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.kill()
        raise SystemExit("The QuickBooks Online sandbox did not start.")
    return process, json.loads(line)


def _sync_child(database_url: str, url: str, credentials: AutotaskCredentials) -> None:
    engine = open_database(database_url)
    client = AutotaskClient(credentials, discovery_url=url, pacing=PacingPolicy(
        check_every_requests=1_000_000, check_every_seconds=1e9))
    result = run_sync(engine, client, cancel=threading.Event())
    os._exit(0 if result.status.value == "succeeded" else 1)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def record_payments(engine: Any, count: int) -> int:
    """``count`` succeeded payments, one per open matched invoice, each with its ledger fact
    (and so its QuickBooks posting) recorded as the payment pipeline does."""
    now = datetime.now(UTC)
    with session_scope(engine) as s:
        # Invoices whose QuickBooks balance agrees with PayDesk's (not the ones the sandbox
        # seeded as paid or edited in QuickBooks).
        invoices = s.execute(
            select(Invoice.id, Invoice.organization_id, Invoice.balance_minor)
            .join(QuickBooksInvoice, (QuickBooksInvoice.source == "online")
                  & (QuickBooksInvoice.remote_id == Invoice.qb_invoice_id))
            .where(Invoice.status == "open", Invoice.balance_minor > 0,
                   QuickBooksInvoice.balance_minor == Invoice.balance_minor)
            .order_by(Invoice.id).limit(count)).all()
    made = 0
    for n, (invoice_id, org, balance) in enumerate(invoices):
        with session_scope(engine) as s:
            payment = Payment(
                reference=f"P-B{n:06d}", idempotency_key=f"bench-{n}", organization_id=org,
                currency="USD", amount_minor=balance, surcharge_minor=0, total_minor=balance,
                method_type="card", method_summary="Visa •••• 4242", gateway="stripe",
                test_mode=True, gateway_transaction_id=f"ch_bench_{n:06d}", state="succeeded",
                created_at=now, submitted_at=now, completed_at=now, created_by="benchmark")
            s.add(payment)
            s.flush()
            s.add(PaymentAllocation(payment_id=payment.id, invoice_id=invoice_id,
                                    amount_minor=balance))
            s.flush()
            recompute_invoices(s, [invoice_id])
            record_fact(s, PaymentRecorded(payment_id=payment.id,
                                           allocations=((invoice_id, balance),),
                                           invoices=(), at=now), now)
        made += 1
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--companies", type=int, default=10_000)
    parser.add_argument("--payments", type=int, default=1_000)
    args = parser.parse_args(argv)
    sizes = {"companies": args.companies, "contacts": args.companies, "contracts": 10,
             "tickets": 10, "invoices": args.invoices, "lines_per_invoice": LINES_PER_INVOICE,
             "seed": SEED}
    figures: dict[str, Any] = {"sizes": sizes}
    autotask, at_url, at_credentials = start_autotask(sizes)
    quickbooks, qbo = start_quickbooks({**sizes, "requests_per_minute": 1_000_000})
    try:
        with tempfile.TemporaryDirectory() as tmp:
            database_url = sqlite_url(Path(tmp) / "paydesk.sqlite3")
            engine = open_database(database_url)
            set_internal_currency(engine, "USD")
            started = time.perf_counter()
            child = multiprocessing.get_context("fork").Process(
                target=_sync_child, args=(database_url, at_url, at_credentials))
            child.start()
            child.join()
            if child.exitcode != 0:
                raise SystemExit("The Autotask sync failed.")
            figures["autotask_sync_seconds"] = round(time.perf_counter() - started, 1)

            credentials = CredentialStore("benchmark")
            tokens = qbo["tokens"]
            credentials.set(SecretName.QUICKBOOKS_CLIENT_SECRET, qbo["client_secret"])
            store_new_tokens(credentials, TokenSet(tokens["access_token"],
                                                   tokens["refresh_token"],
                                                   int(tokens["expires_in"])))
            save_connection(engine, QuickBooksOnlineConnection(
                client_id=qbo["client_id"], realm_id=qbo["realm_id"],
                environment=qbo["discovery"], api_base=qbo["api_base"],
                home_currency="USD"), actor="benchmark")

            # (a) first read and matching
            client = open_quickbooks_client(engine, credentials)
            assert client is not None
            rss_before = peak_rss_mb()
            cpu_before = cpu_seconds()
            started = time.perf_counter()
            result = read_quickbooks_online(engine, client, match=False)
            read_wall = time.perf_counter() - started
            read_rss = peak_rss_mb()
            match_started = time.perf_counter()
            match = match_invoices(engine, "online", currency="USD")
            match_wall = time.perf_counter() - match_started
            wall = time.perf_counter() - started
            cpu = cpu_seconds() - cpu_before
            with session_scope(engine) as s:
                autotask_invoices = int(s.scalar(select(func.count()).select_from(Invoice))
                                        or 0)
            customers, invoices = result.read.get("Customer", 0), result.read.get("Invoice", 0)
            minimum = math.ceil((customers + 1) / 1000) + math.ceil((invoices + 1) / 1000)
            api_requests = result.requests  # API requests only (sign-in is not counted)
            figures["first_read"] = {
                "quickbooks_customers": customers, "quickbooks_invoices": invoices,
                "autotask_invoices": autotask_invoices, "seconds_wall": round(wall, 2),
                "seconds_cpu": round(cpu, 2), "requests": api_requests,
                "requests_minimum": minimum, "peak_rss_mb": round(peak_rss_mb(), 1),
                "peak_rss_mb_before": round(rss_before, 1),
                "peak_rss_mb_after_read": round(read_rss, 1),
                "read_seconds": round(read_wall, 2), "match_seconds": round(match_wall, 2),
                "matched_by_number": match.by_number,
                "matched_by_customer_date_total": match.by_customer_date_total,
                "unmatched": match.unmatched,
            }
            client.close()

            # (b) posting payments
            made = record_payments(engine, args.payments)
            channel = get_channel("quickbooks_online")
            assert channel is not None
            deliverer = channel.open_deliverer(engine, credentials)
            assert isinstance(deliverer, QuickBooksOnlineDeliverer)
            with session_scope(engine) as s:
                claimed = [ClaimedPosting(id=p.id, channel=p.channel, target=p.target,
                                          key=p.key, payload=p.payload, attempts=1,
                                          payment_id=p.payment_id)
                           for p in s.scalars(select(Posting).where(
                               Posting.channel == "quickbooks_online"))]
            deliverer.client.tokens.access_token()  # sign in before timing
            before = deliverer.client.request_count
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=10) as pool:
                remote_ids = list(pool.map(deliverer.deliver, claimed))
            seconds = time.perf_counter() - started
            requests_made = deliverer.client.request_count - before
            deliverer.close()
            figures["posting"] = {
                "payments": made, "delivered": len(set(remote_ids)),
                "requests": requests_made,
                "requests_per_payment": round(requests_made / max(made, 1), 3),
                "seconds": round(seconds, 2),
                "payments_per_second": round(made / seconds, 1) if seconds else None,
                "seconds_at_500_per_minute_at_least": round(made / 500 * 60, 1),
            }
    finally:
        for process in (autotask, quickbooks):
            process.terminate()
            process.wait(10)

    first = figures["first_read"]
    posting = figures["posting"]
    print(f"{'first read + matching':<34} {first['seconds_wall']:>8} s wall "
          f"{first['seconds_cpu']:>8} s CPU")
    print(f"{'  QuickBooks invoices / customers':<34} {first['quickbooks_invoices']:>8} / "
          f"{first['quickbooks_customers']}")
    print(f"{'  requests (minimum)':<34} {first['requests']:>8} ({first['requests_minimum']})")
    print(f"{'  read / match':<34} {first['read_seconds']:>8} s / {first['match_seconds']} s")
    print(f"{'  peak RSS (after the read)':<34} {first['peak_rss_mb']:>8} MB "
          f"({first['peak_rss_mb_after_read']} MB)")
    print(f"{'  matched by number / by c,d,t':<34} {first['matched_by_number']:>8} / "
          f"{first['matched_by_customer_date_total']}; unmatched {first['unmatched']}")
    print(f"{'posting payments':<34} {posting['payments']:>8} in {posting['seconds']} s")
    print(f"{'  requests per payment':<34} {posting['requests_per_payment']:>8}")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
