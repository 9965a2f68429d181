"""Autotask throughput: how fast the sandbox serves pages, and how fast the client reads.

Starts the Autotask sandbox as its own process (Autotask is another machine) with the sync
benchmark's sizes, then measures:

1. sandbox requests/s for 500-record pages of Invoices — first read (records generated and
   serialised on demand) and warm (served from the sandbox's caches); the load comes from
   3 keep-alive connections (Autotask's thread limit) that do not parse the JSON;
2. client records/s reading all 100,000 invoices with `AutotaskClient.query_all` — on a
   freshly started sandbox that generates on demand (`--no-warm`), on one started with the
   command line's defaults (it prepares the data in the background from the start), and
   again once the sandbox's caches are warm;
3. sandbox data generation in this process: how long a data set of these sizes takes to be
   ready (nothing is generated up front), and records/s generating every invoice and every
   invoice line once.

Prints a table, then the figures as one line of JSON (the last line).

    python benchmarks/autotask_throughput.py [--invoices 100000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import http.client
import json
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.core.autotask import AutotaskClient, AutotaskCredentials, PacingPolicy  # noqa: E402

PAGE = 500


SIZES = {"companies": 10_000, "contacts": 30_000, "contracts": 5_000, "tickets": 100_000}


def start_sandbox(invoices: int, *, warm: bool = False
                  ) -> tuple[subprocess.Popen[str], str, AutotaskCredentials]:
    secret = secrets.token_urlsafe(16)
    command = [
        sys.executable, "-m", "app.sandbox.autotask.cli", "--port", "0", "--seed", "7",
        "--secret", secret,
        *(part for name, size in SIZES.items() for part in (f"--{name}", str(size))),
        "--invoices", str(invoices), "--threshold", "100000000",
    ]
    if not warm:
        command.append("--no-warm")
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    info: dict[str, str] = {}
    for _ in range(4):
        name, _, value = process.stdout.readline().rstrip("\n").partition(": ")
        info[name] = value
    credentials = AutotaskCredentials(info["username"], secret, info["integration code"])
    return process, info["url"], credentials


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def page_starts(invoices: int) -> list[int]:
    """The id before each 500-record page of Invoices, as `id gt` paging asks for them.

    The sandbox's data is a pure function of its seed, so the ids are computed here without
    asking the sandbox (which would warm its caches before the first-read measurement).
    """
    from app.sandbox.autotask.data import DataSizes, SandboxData

    data = SandboxData(DataSizes(companies=10_000, invoices=invoices), seed=7)
    return [0] + [data.invoices.id_at(n - 1) for n in range(PAGE, invoices, PAGE)]


def hammer(url: str, credentials: AutotaskCredentials, starts: list[int], *, seconds: float,
           connections: int = 3, one_pass: bool = False) -> tuple[int, float, int]:
    """Raw POST query load; returns (requests, elapsed seconds, bytes received)."""
    parts = urlsplit(url)
    path = "/ATServicesRest/V1.0/Invoices/query"
    headers = {**credentials.headers(), "Content-Type": "application/json",
               "Connection": "keep-alive"}
    lock = threading.Lock()
    cursor = [0]
    totals = {"requests": 0, "bytes": 0}
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        done = 0
        received = 0
        while time.perf_counter() < deadline:
            with lock:
                position = cursor[0]
                if one_pass and position >= len(starts):
                    break
                cursor[0] += 1
            after = starts[position % len(starts)]
            body = json.dumps({"MaxRecords": PAGE, "Filter": [
                {"op": "gt", "field": "id", "value": after}]})
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            received += len(response.read())
            if response.status != 200:
                raise RuntimeError(f"sandbox answered {response.status}")
            done += 1
        connection.close()
        with lock:
            totals["requests"] += done
            totals["bytes"] += received

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return totals["requests"], time.perf_counter() - started, totals["bytes"]


def read_all(url: str, credentials: AutotaskCredentials) -> tuple[int, float]:
    client = AutotaskClient(credentials, discovery_url=url,
                            pacing=PacingPolicy(check_every_requests=100_000))
    started = time.perf_counter()
    count = sum(len(page) for page in client.query_all("Invoices"))
    return count, time.perf_counter() - started


def generation(invoices: int) -> tuple[float, tuple[int, float], tuple[int, float]]:
    """Seconds until a data set is ready, then (records, seconds) generating every invoice,
    and every invoice line, once — in this process, as the sandbox does on first read."""
    from app.sandbox.autotask.data import DataSizes, SandboxData

    started = time.perf_counter()
    data = SandboxData(DataSizes(**SIZES, invoices=invoices), seed=7)
    ready = time.perf_counter() - started
    started = time.perf_counter()
    invoice_count = sum(1 for _ in data.invoices.iter_from(None))
    invoice_seconds = time.perf_counter() - started
    started = time.perf_counter()
    line_count = sum(1 for _ in data.billing_items.iter_from(None))
    line_seconds = time.perf_counter() - started
    return ready, (invoice_count, invoice_seconds), (line_count, line_seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the warm run")
    args = parser.parse_args(argv)

    results: dict[str, Any] = {"invoices": args.invoices, "page_size": PAGE}
    rows: list[tuple[str, str]] = []

    # Sandbox data generation, before any sandbox process competes for the cores.
    ready, (invoice_count, invoice_seconds), (line_count, line_seconds) = generation(
        args.invoices)
    results["sandbox_data_ready_ms"] = round(ready * 1000, 1)
    results["sandbox_generate_invoices_per_s"] = round(invoice_count / invoice_seconds)
    results["sandbox_generate_invoice_lines_per_s"] = round(line_count / line_seconds)
    rows.append((f"sandbox data set ready ({args.invoices:,} invoices, nothing generated)",
                 f"{ready * 1000:,.1f} ms"))
    rows.append((f"sandbox generates all {invoice_count:,} invoices",
                 f"{invoice_count / invoice_seconds:,.0f} records/s ({invoice_seconds:.1f} s)"))
    rows.append((f"sandbox generates all {line_count:,} invoice lines",
                 f"{line_count / line_seconds:,.0f} records/s ({line_seconds:.1f} s)"))

    # Client: a fresh sandbox, records generated as they are asked for.
    process, url, credentials = start_sandbox(args.invoices)
    try:
        count, elapsed = read_all(url, credentials)
        results["client_records_per_s_cold"] = round(count / elapsed)
        rows.append((f"client reads {count:,} invoices, fresh sandbox (--no-warm)",
                     f"{count / elapsed:,.0f} records/s ({elapsed:.1f} s)"))
        count, elapsed = read_all(url, credentials)
        results["client_records_per_s_warm"] = round(count / elapsed)
        rows.append((f"client reads {count:,} invoices again (sandbox caches warm)",
                     f"{count / elapsed:,.0f} records/s ({elapsed:.1f} s)"))
    finally:
        stop(process)

    process, url, credentials = start_sandbox(args.invoices, warm=True)
    try:
        count, elapsed = read_all(url, credentials)
        results["client_records_per_s_default_sandbox"] = round(count / elapsed)
        rows.append((f"client reads {count:,} invoices, fresh sandbox warming itself",
                     f"{count / elapsed:,.0f} records/s ({elapsed:.1f} s)"))
    finally:
        stop(process)

    # Sandbox: raw page load, first on a fresh sandbox (one pass), then warm.
    process, url, credentials = start_sandbox(args.invoices)
    try:
        starts = page_starts(args.invoices)
        requests_done, elapsed, received = hammer(url, credentials, starts, seconds=600,
                                                  one_pass=True)
        results["sandbox_requests_per_s_first_pass"] = round(requests_done / elapsed, 1)
        rows.append(("sandbox, 500-record pages, fresh sandbox (one pass)",
                     f"{requests_done / elapsed:,.1f} requests/s "
                     f"({requests_done * PAGE / elapsed:,.0f} records/s)"))
        requests_done, elapsed, received = hammer(url, credentials, starts,
                                                  seconds=args.seconds)
        results["sandbox_requests_per_s"] = round(requests_done / elapsed, 1)
        results["sandbox_records_per_s"] = round(requests_done * PAGE / elapsed)
        results["page_bytes"] = round(received / max(1, requests_done))
        rows.append(("sandbox, 500-record pages, warm (3 connections)",
                     f"{requests_done / elapsed:,.1f} requests/s "
                     f"({requests_done * PAGE / elapsed:,.0f} records/s, "
                     f"{received / max(1, requests_done) / 1024:,.0f} KiB/page)"))
    finally:
        stop(process)

    width = max(len(name) for name, _ in rows)
    print(f"{'measure':<{width}}  result")
    print(f"{'-' * width}  {'-' * 40}")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
