"""QuickBooks Desktop: reading and matching 100,000 invoices through the Web Connector service.

PayDesk's database holds the Autotask sandbox's invoices for a seed (as a sync leaves them).
PayDesk's Web Connector service runs in this process; the QuickBooks Desktop sandbox — the
company file for the same seed and the Web Connector polling over HTTP SOAP with zeep — runs
as its own process (QuickBooks is another program, often on another PC), making one update:
host and company checks, every customer and invoice read with iterators (500 a page), the
matching pass.

Measured: wall seconds of the update (from the Web Connector's first request to its close) and
of the matching pass within it; CPU seconds of the service (this process) and of the stand-in
(its process, generating and answering qbXML, and zeep); round trips (qbXML request/answer
pairs); the service's peak RSS during the update (sampled every 50 ms) and over its whole run
(which includes building PayDesk's 100,000 invoices). Prints a table, then the figures as one
line of JSON (the last line).

    python benchmarks/quickbooks_desktop_benchmark.py [--invoices 100000] [--companies 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select  # noqa: E402

from app.core.config import set_internal_currency  # noqa: E402
from app.core.money import Money  # noqa: E402
from app.core.quickbooks.desktop.qwc import connect, write_qwc  # noqa: E402
from app.core.quickbooks.desktop.service import (  # noqa: E402
    WebConnectorServer,
    WebConnectorService,
)
from app.core.storage.engine import open_database, session_scope, sqlite_url  # noqa: E402
from app.core.storage.models import (  # noqa: E402
    Invoice,
    Organization,
    QuickBooksInvoice,
    QuickBooksInvoiceMatch,
)
from app.sandbox.autotask.data import DataSizes, SandboxData  # noqa: E402

PASSWORD = "benchmark password"  # noqa: S105 - a throwaway service's password


class RssSampler:
    """The largest resident set size of this process while it runs (every 50 ms)."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        statm = Path("/proc/self/statm")  # Linux; elsewhere only the whole run's peak is known
        page = os.sysconf("SC_PAGE_SIZE")
        while statm.exists() and not self._stop.is_set():
            self.peak = max(self.peak, int(statm.read_text().split()[1]) * page)
            self._stop.wait(0.05)

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def mirror(engine: object, data: SandboxData) -> int:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    with data.lock:
        companies = [{"id": c["id"], "name": c["companyName"], "synced_at": now}
                     for c in data.companies.iter_from(None)]
        invoices = [{
            "id": r["id"], "organization_id": r["companyID"],
            "invoice_number": r["invoiceNumber"],
            "invoice_date": date.fromisoformat(r["invoiceDateTime"][:10]),
            "due_date": date.fromisoformat(r["dueDate"][:10]),
            "total_minor": Money.from_decimal(Decimal(r["invoiceTotal"]), "USD").minor,
            "balance_minor": 0, "amount_paid_minor": 0, "tax_minor": 0,
            "is_voided": r["isVoided"], "status": "open", "synced_at": now,
        } for r in data.invoices.iter_from(None)]
    with session_scope(engine) as s:  # type: ignore[arg-type]
        s.execute(insert(Organization), companies)
        for start in range(0, len(invoices), 5000):
            s.execute(insert(Invoice), invoices[start:start + 5000])
    return len(invoices)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--companies", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--mirror-into", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = DataSizes(companies=args.companies, invoices=args.invoices)
    if args.mirror_into is not None:
        # Run as its own process, so building PayDesk's invoices does not count in the
        # service's memory.
        engine = open_database(sqlite_url(args.mirror_into))
        set_internal_currency(engine, "USD", actor="benchmark")
        print(mirror(engine, SandboxData(sizes, seed=args.seed)))
        return 0

    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "paydesk.sqlite3"
        mirrored = int(subprocess.run(
            [sys.executable, __file__, "--mirror-into", str(database), "--seed", str(args.seed),
             "--companies", str(args.companies), "--invoices", str(args.invoices)],
            check=True, capture_output=True, text=True).stdout.split()[-1])
        engine = open_database(sqlite_url(database))
        mirror_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
        connection = connect(engine, app_url="http://localhost:1/qbwc")
        service = WebConnectorService(engine, username=connection.username,
                                      password=lambda: PASSWORD, page_size=args.page_size)
        with WebConnectorServer(service) as server:
            qwc = write_qwc(Path(folder) / "paydesk.qwc",
                            connect(engine, app_url=server.url))
            command = [sys.executable, "-m", "app", "sandbox", "quickbooks-desktop",
                       "--app-url", server.url, "--qwc", str(qwc), "--seed", str(args.seed),
                       "--companies", str(args.companies), "--invoices", str(args.invoices),
                       "--once"]
            env = dict(os.environ, PAYDESK_QBWC_PASSWORD=PASSWORD)
            # The company file is generated before the Web Connector's first call; the clock
            # starts at authenticate (the service's first call), read from the status.
            child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
            while not service.sessions_finished and child.poll() is None:
                if service.status.company_name is not None:
                    break
                time.sleep(0.01)
            wall0 = time.perf_counter()
            cpu0 = resource.getrusage(resource.RUSAGE_SELF)
            sampler = RssSampler().start()
            out, err = child.communicate(timeout=3600)
            wall = time.perf_counter() - wall0
            cpu1 = resource.getrusage(resource.RUSAGE_SELF)
            peak_during = sampler.stop()
            child_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
        if child.returncode != 0:
            sys.stderr.write(out + err)
            return 1
        session = service.sessions_finished[-1]
        outcome = session.outcome
        with session_scope(engine) as s:
            read = s.scalar(select(func.count()).select_from(QuickBooksInvoice))
            matched = s.scalar(select(func.count()).select_from(QuickBooksInvoiceMatch)
                               .where(QuickBooksInvoiceMatch.remote_id.is_not(None)))
        figures = {
            "benchmark": "quickbooks_desktop_read",
            "paydesk_invoices": mirrored,
            "quickbooks_invoices_read": read,
            "invoices_matched": matched,
            "customers_read": outcome.customers_read,
            "page_size": args.page_size,
            "round_trips": outcome.round_trips,
            "wall_seconds": round(wall, 2),
            "match_seconds": round(outcome.match_seconds or 0.0, 2),
            "service_cpu_seconds": round((cpu1.ru_utime - cpu0.ru_utime)
                                         + (cpu1.ru_stime - cpu0.ru_stime), 2),
            # The stand-in's whole run: seeding its company file, answering, and zeep.
            "standin_cpu_seconds": round((child_cpu.ru_utime - mirror_cpu.ru_utime)
                                         + (child_cpu.ru_stime - mirror_cpu.ru_stime), 2),
            "service_peak_rss_mb_during_update": round(peak_during / 2**20, 1),
            "service_peak_rss_mb_whole_run": round(cpu1.ru_maxrss / 1024, 1),
            "error": outcome.error,
        }
    print("QuickBooks Desktop read through the Web Connector service")
    for key, value in figures.items():
        print(f"  {key:28} {value}")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
