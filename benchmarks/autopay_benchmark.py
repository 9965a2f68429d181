"""An AutoPay run over 10,000 due invoices against the Stripe stand-in.

    python benchmarks/autopay_benchmark.py [--invoices N] [--organizations N] [--database URL]

Builds a fresh database (SQLite in a temporary folder unless ``--database`` names an empty
migrated one), with ``--organizations`` clients (default 100) sharing ``--invoices`` open
invoices (default 10,000) that are all due, each client with a saved Visa card and an AutoPay
rule. The Stripe stand-in runs in a child process, so the CPU time measured is PayDesk's
alone. Then one ``run_autopay`` charges everything through the real payment pipeline
(claim, create, submit, record — each in its own transaction, as in production).

Measures: the run's wall-clock and CPU seconds, invoices per second, gateway requests per
invoice (counted by the stand-in), peak RSS of this process, and checks that every invoice
was charged exactly once. Prints a table, then one JSON line with every figure.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, func, select  # noqa: E402

from app.core.autopay import RuleTerms, create_rule, run_autopay  # noqa: E402
from app.core.config import set_internal_currency  # noqa: E402
from app.core.gateways.repository import SavedMethods  # noqa: E402
from app.core.gateways.stripe_gateway import StripeGateway  # noqa: E402
from app.core.money import Money  # noqa: E402
from app.core.storage.engine import open_database, session_scope, sqlite_url  # noqa: E402
from app.core.storage.models import Invoice, Organization, Payment  # noqa: E402

NOW = datetime.now(UTC)


def _gateway_process(conn: Connection) -> None:
    """The Stripe stand-in in its own process; answers "count" with requests served."""
    from app.sandbox.gateway import GatewaySandbox

    sandbox = GatewaySandbox(account_name="Benchmark MSP").start()
    conn.send((sandbox.url, sandbox.secret_key))
    while True:
        command = conn.recv()
        if command == "count":
            conn.send(sandbox.requests_served)
        else:
            sandbox.stop()
            return


def _seed(engine: Engine, organizations: int, invoices: int) -> list[int]:
    set_internal_currency(engine, "USD", actor="benchmark")
    org_ids = [900_000 + n for n in range(organizations)]
    due = date.today() - timedelta(days=5)
    with session_scope(engine) as s:
        s.add_all(Organization(id=o, name=f"Client {n:03d}", is_active=True, synced_at=NOW)
                  for n, o in enumerate(org_ids))
        s.flush()
        s.add_all(
            Invoice(id=5_000_000 + n, organization_id=org_ids[n % organizations],
                    invoice_number=f"B{n:06d}", invoice_date=due - timedelta(days=30),
                    due_date=due, total_minor=10_000 + n, tax_minor=0, is_voided=False,
                    amount_paid_minor=0, balance_minor=10_000 + n, status="open",
                    synced_at=NOW)
            for n in range(invoices))
    return org_ids


def _attach_cards(gateway: StripeGateway, url: str, key: str, engine: Engine,
                  org_ids: list[int]) -> dict[int, int]:
    import stripe

    client = stripe.StripeClient(key, base_addresses={"api": url},
                                 http_client=stripe.RequestsClient(timeout=(2.0, 30.0)))
    saved = SavedMethods(engine, gateway)
    methods = {}
    for org in org_ids:
        customer = saved.customer_for(org)
        token = str(client.v1.payment_methods.attach("pm_card_visa",
                                                     params={"customer": customer}).id)
        methods[org] = next(m.id for m in saved.refresh(org) if m.token == token)
    return methods


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=10_000)
    parser.add_argument("--organizations", type=int, default=100)
    parser.add_argument("--database", help="an empty, migrated database URL (default: SQLite)")
    args = parser.parse_args(argv)

    parent, child = multiprocessing.get_context("spawn").Pipe()
    server = multiprocessing.get_context("spawn").Process(target=_gateway_process,
                                                          args=(child,), daemon=True)
    server.start()
    url, key = parent.recv()
    with tempfile.TemporaryDirectory(prefix="paydesk-autopay-bench-") as folder:
        engine = open_database(args.database or sqlite_url(Path(folder) / "bench.sqlite3"))
        gateway = StripeGateway(key, api_base=url, max_network_retries=0,
                                timeout=(2.0, 30.0))
        started = time.perf_counter()
        org_ids = _seed(engine, args.organizations, args.invoices)
        methods = _attach_cards(gateway, url, key, engine, org_ids)
        for org in org_ids:
            create_rule(engine, RuleTerms(
                organization_id=org, payment_method_id=methods[org], timing="due_date",
                days_after_invoice=0, limit=Money(10_000_000, "USD"),
                covers_from=date(2000, 1, 1), signer_name="Accounts payable",
                signer_email=None, how="signed_form", evidence="Benchmark",
                agreed_at=NOW - timedelta(days=1)), company="Benchmark MSP",
                actor="benchmark")
        setup_seconds = time.perf_counter() - started
        parent.send("count")
        before = int(parent.recv())

        wall0, cpu0 = time.perf_counter(), time.process_time()
        report = run_autopay(engine, gateway, actor="benchmark")
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0

        parent.send("count")
        requests = int(parent.recv()) - before
        with session_scope(engine) as s:
            payments = s.scalar(select(func.count()).select_from(Payment)
                                .where(Payment.state == "succeeded")) or 0
            paid = s.scalar(select(func.count()).select_from(Invoice)
                            .where(Invoice.status == "paid")) or 0
        engine.dispose()
    parent.send("stop")
    server.join(10)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    n = args.invoices
    figures = {
        "invoices": n,
        "organizations": args.organizations,
        "database": "postgresql" if args.database else "sqlite",
        "charged": len(report.charged),
        "succeeded_payments": payments,
        "paid_invoices": paid,
        "charged_exactly_once": payments == n and paid == n and len(report.charged) == n,
        "setup_seconds": round(setup_seconds, 1),
        "run_wall_seconds": round(wall, 1),
        "run_cpu_seconds": round(cpu, 1),
        "invoices_per_second": round(n / wall, 1) if wall else None,
        "gateway_requests": requests,
        "gateway_requests_per_invoice": round(requests / n, 3) if n else None,
        "peak_rss_mb": round(peak_mb, 1),
    }
    width = max(len(k) for k in figures)
    for name, value in figures.items():
        print(f"{name:<{width}}  {value}")
    print(json.dumps(figures))
    return 0 if figures["charged_exactly_once"] else 1


if __name__ == "__main__":
    sys.exit(main())
