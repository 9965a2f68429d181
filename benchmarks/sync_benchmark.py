"""Sync benchmark: a large MSP synced from the Autotask sandbox into a fresh profile.

Starts the sandbox as its own process (as Autotask is another machine), then measures:

(a) local cost — first sync with no added latency: records per second, peak RSS of the
    syncing process;
(b) API-bound — first sync into another fresh profile with 150 ms per request and the
    3-thread limit: wall time against the lower bound (per entity ceil(pages / 3) × 150 ms,
    the largest over entities) and requests against the minimum (ceil(records / 500) per
    entity);
(c) incremental sync with nothing changed: requests per entity and seconds.

(d) how cost grows: with ``--scales 0.5,1,2`` the local first sync (a) runs again at each
    scale, each in a fresh process (so each peak RSS is its own), printing records, seconds,
    records per second, the sync's CPU seconds and peak RSS: time should grow with the
    records, memory should stay flat (pages are streamed).

The sandbox generates its seeded records on demand; Autotask has its data before anyone
asks. So before (a) the benchmark waits until the sandbox has generated every record (it
does so in the background while idle) and prints how long that took: the sync then competes
for the cores only with the sandbox's answering, not with its data generation.
``--cold-sandbox`` starts the sync at once instead, as earlier rounds measured it.

Wall time on a shared machine includes waiting for a core, so the sync's and the sandbox's
CPU seconds are printed beside it, with the machine's load average. Prints a table and, as
its last line, one JSON object with the figures.

    python -m benchmarks.sync_benchmark                   # (a), (c), (b) at full scale
    python -m benchmarks.sync_benchmark --scales 0.5,1,2  # and (d)
    python -m benchmarks.sync_benchmark [--scale 1.0] [--skip-api-bound]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

from app.core.autotask import AutotaskClient, AutotaskCredentials, PacingPolicy
from app.core.config import set_internal_currency
from app.core.storage.engine import open_database, sqlite_url
from app.core.sync import SyncResult, run_sync

FULL_SIZES = {"companies": 10_000, "contacts": 30_000, "contracts": 5_000,
              "tickets": 100_000, "invoices": 100_000}
LINES_PER_INVOICE = 3.0
LATENCY_MS = 150
TARGET_RECORDS_PER_SECOND = 50_000
TARGET_RSS_MB = 300
TARGET_TIME_RATIO = 1.05
TARGET_REQUEST_RATIO = 1.02
TARGET_INCREMENTAL_S = 1.0


def start_sandbox(sizes: dict[str, int]) -> tuple[subprocess.Popen[str], str, AutotaskCredentials]:
    secret = secrets.token_urlsafe(18)
    code = secrets.token_hex(12).upper()
    command = [sys.executable, "-m", "app.sandbox.autotask.cli", f"--secret={secret}",
               f"--integration-code={code}", "--lines-per-invoice", str(LINES_PER_INVOICE),
               "--threshold", "100000000"]
    for name, value in sizes.items():
        command += [f"--{name}", str(value)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    url = ""
    username = ""
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


def wait_until_warmed(url: str, timeout: float = 600.0) -> float:
    """Wait until the sandbox has generated every record; returns the seconds waited."""
    stats = url.replace("/atservicesrest/", "/_sandbox/stats")
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if requests.get(stats, timeout=(5, 30)).json().get("warmed"):
            return time.perf_counter() - start
        time.sleep(0.2)
    raise SystemExit("The Autotask sandbox did not finish generating its data.")


def set_faults(url: str, **changes: Any) -> None:
    admin = url.replace("/atservicesrest/", "/_sandbox/faults")
    requests.patch(admin, json=changes, timeout=(5, 30)).raise_for_status()


def fresh_engine(folder: Path) -> Any:
    engine = open_database(sqlite_url(folder / "paydesk.sqlite3"))
    set_internal_currency(engine, "USD")
    return engine


def client_for(url: str, credentials: AutotaskCredentials) -> AutotaskClient:
    # The sandbox's hourly budget is set out of reach so that pacing does not blur the figures.
    return AutotaskClient(credentials, discovery_url=url,
                          pacing=PacingPolicy(check_every_requests=1_000_000,
                                              check_every_seconds=1e9))


def timed_sync(engine: Any, client: AutotaskClient) -> tuple[SyncResult, float]:
    start = time.perf_counter()
    result = run_sync(engine, client, cancel=threading.Event())
    seconds = time.perf_counter() - start
    if result.error:
        raise SystemExit(f"sync failed: {result.error}")
    return result, seconds


def peak_rss_mb() -> float:
    """This process's own peak RSS. Linux's ``ru_maxrss`` survives fork and exec, so a child
    started by a large parent would report the parent's peak: ``VmHWM`` is this process's."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_cpu_seconds(pid: int) -> float | None:
    """CPU time of another process (Linux /proc), to show what the sandbox itself costs."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _delta(before: float | None, after: float | None) -> float | None:
    return round(after - before, 2) if before is not None and after is not None else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="fraction of the large MSP to use (1.0 = the full size)")
    parser.add_argument("--skip-api-bound", action="store_true")
    parser.add_argument("--cold-sandbox", action="store_true",
                        help="start the first sync while the sandbox still generates its data")
    parser.add_argument("--only-local", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--scales", help="also run the local first sync at these scales, "
                        "each in its own process (e.g. 0.5,1,2)")
    args = parser.parse_args(argv)
    if args.only_local:
        args.skip_api_bound = True
    sizes = {k: max(1, int(v * args.scale)) for k, v in FULL_SIZES.items()}
    process, url, credentials = start_sandbox(sizes)
    figures: dict[str, Any] = {"scale": args.scale, "sizes": sizes}
    rows: list[tuple[str, str, str]] = []
    try:
        if not args.cold_sandbox:
            warming = wait_until_warmed(url)
            figures["sandbox_warming_seconds"] = round(warming, 2)
            rows.append(("sandbox data ready", f"{warming:.1f} s",
                         "generated before (a), as Autotask has its data (--cold-sandbox: not)"))
        with tempfile.TemporaryDirectory() as tmp:
            # (a) local cost
            engine = fresh_engine(Path(tmp) / "a")
            client = client_for(url, credentials)
            cpu_before = own_cpu_seconds()
            sandbox_before = process_cpu_seconds(process.pid)
            result, seconds = timed_sync(engine, client)
            cpu = own_cpu_seconds() - cpu_before
            sandbox_after = process_cpu_seconds(process.pid)
            sandbox_cpu = (sandbox_after - sandbox_before
                           if sandbox_after is not None and sandbox_before is not None else None)
            records = result.fetched
            rate = records / seconds
            figures["a"] = {"records": records, "seconds": round(seconds, 2),
                            "records_per_second": round(rate), "peak_rss_mb":
                            round(peak_rss_mb(), 1), "requests": result.requests,
                            "sync_cpu_seconds": round(cpu, 2),
                            "records_per_sync_cpu_second": round(records / cpu),
                            "sandbox_cpu_seconds": round(sandbox_cpu, 2) if sandbox_cpu else None,
                            "load_average": round(os.getloadavg()[0], 2)}
            rows += [("(a) records", f"{records:,}", ""),
                     ("(a) seconds", f"{seconds:.2f}", ""),
                     ("(a) records/s", f"{rate:,.0f}",
                      f"target ≥ {TARGET_RECORDS_PER_SECOND:,}"),
                     ("(a) peak RSS MB", f"{peak_rss_mb():.0f}", f"target ≤ {TARGET_RSS_MB}"),
                     ("(a) sync CPU seconds", f"{cpu:.2f}",
                      f"{records / cpu:,.0f} records per CPU second"),
                     ("(a) sandbox CPU seconds", f"{sandbox_cpu:.2f}" if sandbox_cpu else "—",
                      "the stand-in server's own cost"),
                     ("load average", "{:.2f} / {:.2f} / {:.2f}".format(*os.getloadavg()),
                      "other work on this machine (1, 5, 15 minutes)")]
            per_entity = {e.entity: e.fetched for e in result.entities}
            if args.only_local:
                engine.dispose()
                print(json.dumps(figures))
                return 0

            # (c) incremental with nothing changed
            cpu_before = own_cpu_seconds()
            sandbox_before = process_cpu_seconds(process.pid)
            inc, inc_seconds = timed_sync(engine, client)
            cpu_c = own_cpu_seconds() - cpu_before
            sandbox_c = _delta(sandbox_before, process_cpu_seconds(process.pid))
            worst = max(e.requests for e in inc.entities)
            figures["c"] = {"seconds": round(inc_seconds, 3), "requests": inc.requests,
                            "max_requests_per_entity": worst,
                            "requests_by_entity": {e.entity: e.requests for e in inc.entities},
                            "sync_cpu_seconds": round(cpu_c, 2),
                            "sandbox_cpu_seconds": sandbox_c}
            rows += [("(c) seconds", f"{inc_seconds:.2f}",
                      f"target ≤ {TARGET_INCREMENTAL_S:g}; sync CPU {cpu_c:.2f} s, "
                      f"sandbox CPU {sandbox_c} s"),
                     ("(c) requests", f"{inc.requests}", ""),
                     ("(c) max requests/entity", f"{worst}", "target ≤ 3")]
            engine.dispose()

            # (b) API-bound
            if not args.skip_api_bound:
                set_faults(url, latency_ms=LATENCY_MS)
                engine = fresh_engine(Path(tmp) / "b")
                client = client_for(url, credentials)
                cpu_before = own_cpu_seconds()
                sandbox_before = process_cpu_seconds(process.pid)
                result_b, seconds_b = timed_sync(engine, client)
                cpu_b = own_cpu_seconds() - cpu_before
                sandbox_b = _delta(sandbox_before, process_cpu_seconds(process.pid))
                pages = {e: max(1, math.ceil(n / 500)) for e, n in per_entity.items()}
                bound = max(math.ceil(p / 3) for p in pages.values()) * LATENCY_MS / 1000
                minimum = sum(pages.values())
                figures["b"] = {"seconds": round(seconds_b, 2), "time_bound": round(bound, 2),
                                "time_ratio": round(seconds_b / bound, 3),
                                "requests": result_b.requests, "min_requests": minimum,
                                "request_ratio": round(result_b.requests / minimum, 3),
                                "sync_cpu_seconds": round(cpu_b, 2),
                                "sandbox_cpu_seconds": sandbox_b,
                                "load_average": round(os.getloadavg()[0], 2)}
                rows += [("(b) seconds", f"{seconds_b:.2f}",
                          f"bound {bound:.2f}; sync CPU {cpu_b:.1f} s, sandbox CPU {sandbox_b} s"),
                         ("(b) time / bound", f"{seconds_b / bound:.3f}",
                          f"target ≤ {TARGET_TIME_RATIO}"),
                         ("(b) requests", f"{result_b.requests:,}", f"minimum {minimum:,}"),
                         ("(b) requests / min", f"{result_b.requests / minimum:.3f}",
                          f"target ≤ {TARGET_REQUEST_RATIO}")]
                engine.dispose()
    finally:
        process.terminate()
        process.wait(timeout=30)
    if args.scales:
        figures["d"] = []
        for scale in (float(x) for x in args.scales.split(",")):
            child = subprocess.run(
                [sys.executable, "-m", "benchmarks.sync_benchmark", "--only-local",
                 "--scale", str(scale), *(["--cold-sandbox"] if args.cold_sandbox else [])],
                check=True, capture_output=True, text=True,
                cwd=Path(__file__).resolve().parents[1],
            )
            local = json.loads(child.stdout.strip().splitlines()[-1])["a"]
            figures["d"].append({"scale": scale, **local})
            rows.append((
                f"(d) scale {scale:g}",
                f"{local['seconds']:.2f} s",
                f"{local['records']:,} records, {local['records_per_second']:,}/s, sync CPU "
                f"{local['sync_cpu_seconds']:.2f} s ({local['records_per_sync_cpu_second']:,}"
                f"/CPU s), peak RSS {local['peak_rss_mb']:.0f} MB, load {local['load_average']}",
            ))
    width = max(len(r[0]) for r in rows)
    print("Sync benchmark" + (f" (scale {args.scale})" if args.scale != 1.0 else ""))
    for name, value, note in rows:
        print(f"  {name:<{width}}  {value:>12}  {note}")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
