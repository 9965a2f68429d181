"""Payment Search and Transactions at scale: 1,000,000 payments, real widgets.

    python benchmarks/payments_benchmark.py                       # 1,000,000 payments, SQLite
    python benchmarks/payments_benchmark.py --payments 100000
    python benchmarks/payments_benchmark.py --database postgresql+psycopg://…/db [--latency-ms 2]

Builds the history with ``app.core.payments.fixtures.build_payment_history`` (payments across
200 organizations, each on its own invoice, a partial refund on every 40th) in a child
process and keeps the SQLite file in the cache folder for the next run
(``benchmarks/bench_data.py``; ``--no-cache`` builds anew); ``--database`` uses that
database, filling it first when it is empty. With PostgreSQL every connection goes through
a proxy process that adds ``--latency-ms`` per round trip and counts round trips, printed
per step. Then it opens the real Payment Search and Transactions views offscreen and
measures:

* the queries themselves, on this thread: Payment Search's id query (every sale and refund,
  newest first), reading the first page of 200 rows, and Transactions' id query;
* from the person's point of view (each figure ends when the table has painted its new rows;
  the filters' typing delay is not counted): opening Payment Search, reloading it, filtering
  by organization, by invoice number, by transaction id (whole, and seven characters of
  it), by status and by type, sorting by each sortable column (amount, type, transaction id,
  date) both ways, scrolling from top to bottom in 100 even jumps (as dragging the scroll
  bar does; each lands on rows not read yet), 50 Page Downs from the top (the slowest step
  is what counts), and opening, reloading and sorting Transactions (by each sortable
  column, both ways);
* for opening, reloading, each filter and each sort, two figures: the new first rows
  painted (what the person waits for; the target), and, as ``…_complete`` beside it, the
  whole new order (and Payment Search's totals) read in the background (``Listing.rest``),
  after which the scroll bar spans every row; with ``--latency-ms`` the round trips to
  each;
* peak RSS of the process;
* references to None lost per scroll step. With PySide6 6.12 on Python 3.11, void calls
  made from a Python item delegate's ``paint`` (the status pills) each drop a reference to
  None, and the process aborts ("deallocating None") when the count reaches zero — after a
  few hundred scroll steps. The scrolling above is kept short enough to finish; the figure
  shows whether the leak is still there (0 once it is fixed, or on Python 3.12+, where None
  is immortal).

The targets are the ones the Invoice History benchmark (``table_benchmark.py``) uses for the
same kind of step. Prints a table, then one JSON line with every figure (milliseconds, MB).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QCoreApplication, QEventLoop
from PySide6.QtWidgets import QApplication

from app.core.config import Profile, get_internal_currency, set_internal_currency
from app.core.credentials import CredentialStore
from app.core.payments import (
    PaymentSearchCriteria,
    payment_search_ids,
    payment_search_rows,
    transaction_ids,
)
from app.core.payments.fixtures import (
    build_payment_history,
    invoice_number,
    reference,
    refunded_payments,
    transaction_id,
)
from app.core.storage.engine import open_database
from app.core.storage.models import Payment
from app.gui.context import AppContext
from app.gui.gc import GuiThreadGarbageCollector
from app.gui.widgets.lazy_table import LazyTableModel
from app.gui.workers import active_tasks
from benchmarks.bench_data import ServerCpu, load_line, prepared_database, through_proxy
from benchmarks.screen_timing import (
    LAST_COMPLETE_MS,
    LAST_CPU_MS,
    peak_rss_mb,
    timed,
)

TARGETS_MS = {
    "search_open": 1000.0,
    "search_reload": 1000.0,
    "transactions_open": 1000.0,
    "transactions_reload": 1000.0,
    "filter_organization": 200.0,
    "filter_invoice_number": 200.0,
    "filter_transaction_id": 200.0,
    "filter_transaction_id_part": 200.0,
    "filter_status": 200.0,
    "filter_type": 200.0,
    "sort_amount": 300.0,
    "sort_type": 300.0,
    "sort_transaction_id": 300.0,
    "sort_date": 300.0,
    "transactions_sort": 300.0,
    "scroll_drag_step": 50.0,
    "scroll_page_step": 50.0,
}
TARGET_RSS_MB = 400.0
#: How many times each query and each reload is measured.
REPEATS = 5
#: Scrolling top to bottom takes this many even jumps; Page Down is pressed this many times.
#: Kept small on purpose: see "references to None" in the module docstring.
SCROLL_JUMPS = 100
PAGE_DOWN_STEPS = 50


def paint() -> None:
    """Let Qt lay out and paint everything pending (the rows are fetched while painting)."""
    app = QCoreApplication.instance()
    assert isinstance(app, QApplication)
    for _ in range(2):
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents)
    for widget in app.topLevelWidgets():
        if widget.isVisible():
            widget.repaint()
    QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents)


def settle() -> None:
    """Wait for the views' background queries to deliver, then paint — again while painting
    asked workers for pages of rows, until the rows shown have arrived and are painted."""
    loop = QEventLoop()
    while True:
        while active_tasks():
            loop.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
        paint()
        if not active_tasks():
            return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=1_000_000)
    parser.add_argument("--organizations", type=int, default=200)
    parser.add_argument("--database", help="a database URL (filled first when empty)")
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="PostgreSQL: milliseconds added per round trip by a proxy")
    parser.add_argument("--no-cache", action="store_true", help="build the history anew")
    parser.add_argument("--build-into", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.build_into:
        # Child process: fill the database and exit, so its memory is not counted below.
        engine = open_database(args.build_into)
        set_internal_currency(engine, "USD", actor="benchmark")
        build_payment_history(engine, payments=args.payments, organizations=args.organizations)
        engine.dispose()
        return 0

    folder = Path(tempfile.mkdtemp(prefix="paydesk-bench-"))
    database_url, build_seconds, origin = prepared_database(
        "payments",
        {"payments": args.payments, "organizations": args.organizations},
        [__file__, "--payments", str(args.payments), "--organizations", str(args.organizations)],
        database=args.database,
        table=Payment.__table__,
        no_cache=args.no_cache,
    )
    server = ServerCpu(database_url)
    database_url, proxy = through_proxy(database_url, args.latency_ms)
    profile = Profile.open(folder / "profile", database_url)
    app = QApplication.instance() or QApplication([])
    assert app is not None
    # As in the running program: cyclic garbage is collected on this thread only.
    collector = GuiThreadGarbageCollector()
    collector.start()
    engine = open_database(profile.database_url)
    if get_internal_currency(engine) is None:
        set_internal_currency(engine, "USD", actor="benchmark")
    context = AppContext(profile=profile, engine=engine, credentials=CredentialStore(profile.key))

    from app.gui.payments.search import PaymentSearchView
    from app.gui.payments.transactions import TransactionsView

    wall: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    trips: dict[str, list[int]] = {}
    server_cpu: dict[str, list[float]] = {}

    def record(name: str, milliseconds: float, cpu_milliseconds: float) -> None:
        wall.setdefault(name, []).append(milliseconds)
        cpu.setdefault(name, []).append(cpu_milliseconds)

    def measure(name: str, action: Callable[[], object],
                model: Callable[[], LazyTableModel[Any, Any]] | None = None) -> None:
        before = proxy.round_trips if proxy is not None else 0
        server_before = server.seconds()
        first_trips: list[int] = []

        def at_first_rows() -> None:
            if proxy is not None:
                first_trips.append(proxy.round_trips - before)

        took = timed(action, settle, model, at_first_rows, finish_first_rows=paint)
        record(name, took, LAST_CPU_MS[0])
        if model is not None:
            record(f"{name}_complete", *LAST_COMPLETE_MS)
        if proxy is not None:
            # What the person waited for: to the first rows when the rest came later.
            trips.setdefault(name, []).append(
                first_trips[0] if first_trips else proxy.round_trips - before)
            if first_trips:
                trips.setdefault(f"{name}_complete", []).append(proxy.round_trips - before)
        server_after = server.seconds()
        if server_before is not None and server_after is not None:
            server_cpu.setdefault(name, []).append((server_after - server_before) * 1000)

    def measure_query(name: str, query: Callable[[], object]) -> object:
        result: object = None
        for _ in range(REPEATS):
            start, cpu_start = time.perf_counter(), time.process_time()
            result = query()
            record(name, (time.perf_counter() - start) * 1000,
                   (time.process_time() - cpu_start) * 1000)
        return result

    # The queries on their own.
    keys = measure_query(
        "search_id_query", partial(payment_search_ids, engine, PaymentSearchCriteria()))
    assert isinstance(keys, Sequence) and len(keys) >= args.payments, "the search found too little"
    page = measure_query("search_first_page", partial(payment_search_rows, engine, keys[:200]))
    assert isinstance(page, list) and len(page) == 200
    assert page[0].reference == reference(args.payments), "not newest first"
    ids = measure_query("transactions_id_query", partial(transaction_ids, engine))
    assert isinstance(ids, Sequence) and len(ids) == args.payments

    # Payment Search, as the bookkeeper uses it.
    search: PaymentSearchView | None = None

    def open_search() -> None:
        nonlocal search
        search = PaymentSearchView(context)
        search.resize(1400, 900)
        search.show()

    def search_model() -> LazyTableModel[Any, Any]:
        assert search is not None
        return search.model

    measure("search_open", open_search, search_model)
    assert search is not None
    view = search
    assert view.model.rowCount() == len(keys), "Payment Search shows the wrong number of rows"
    for _ in range(REPEATS):
        measure("search_reload", view.reload, search_model)

    refunded = refunded_payments(args.payments)

    def filter_by(name: str, apply: Callable[[], object], expected_rows: int | None) -> None:
        apply()
        measure(name, view.reload, search_model)  # reload() stops the typing delay's timer
        shown = view.model.rowCount()
        assert shown > 0 if expected_rows is None else shown == expected_rows, f"{name}: {shown}"
        view.clear_filters()
        settle()

    for position in (1, view.organization.count() // 2, view.organization.count() - 1):
        filter_by("filter_organization", partial(view.organization.setCurrentIndex, position),
                  None)
    for n in (1, args.payments // 2, args.payments):
        rows = 1 + (n in refunded)  # the sale, and its refund if it has one
        filter_by("filter_invoice_number",
                  partial(view.invoice_number.setText, invoice_number(n)), rows)
        filter_by("filter_transaction_id",
                  partial(view.transaction_id.setText, transaction_id(n)), rows)
        # Part of the id, as typed from a statement: its last seven digits (in this
        # payment's reference too, and for the smaller numbers in a few others').
        filter_by("filter_transaction_id_part",
                  partial(view.transaction_id.setText, transaction_id(n)[-7:]), None)
    for status in ("partially_refunded", "succeeded"):
        filter_by("filter_status", partial(view.status_combo.setCurrentIndex,
                                           view.status_combo.findData(status)), None)
    for kind in ("refund", "sale"):
        filter_by("filter_type", partial(view.type_combo.setCurrentIndex,
                                         view.type_combo.findData(kind)), None)
    titles = [c.title for c in view.model.columns()]
    for name, title in (("sort_amount", "Sale Amount"), ("sort_type", "Type"),
                        ("sort_transaction_id", "Transaction ID"), ("sort_date", "Date")):
        for _ in range(2):  # each way
            measure(name, partial(view._on_header_clicked, titles.index(title)), search_model)
    if not view.descending:
        view._on_header_clicked(titles.index("Date"))
    settle()

    # Scroll from top to bottom as dragging the scroll bar does: even jumps, each landing on
    # rows not read yet (at a million rows a page at a time would be over 50,000 steps).
    bar = view.table.verticalScrollBar()
    bar.setValue(0)
    paint()
    none_before = sys.getrefcount(None)
    fetches_before = view.model.fetch_count
    jump = max(bar.pageStep(), bar.maximum() // SCROLL_JUMPS)
    scroll_started = time.perf_counter()
    while bar.value() < bar.maximum():
        measure("scroll_drag_step",
                lambda: bar.setValue(min(bar.maximum(), bar.value() + jump)))
    scroll_seconds = time.perf_counter() - scroll_started
    fetches = view.model.fetch_count - fetches_before
    assert view.model.row_at(view.model.rowCount() - 1) is not None
    # Then Page Down from the top, as reading through the newest payments does.
    bar.setValue(0)
    paint()
    for _ in range(PAGE_DOWN_STEPS):
        measure("scroll_page_step",
                lambda: bar.setValue(min(bar.maximum(), bar.value() + bar.pageStep())))
    none_lost = none_before - sys.getrefcount(None)
    scroll_steps = len(wall["scroll_drag_step"]) + len(wall["scroll_page_step"])
    view.hide()

    # Transactions.
    transactions: TransactionsView | None = None
    slowest_sort: dict[str, list[float]] = {}

    def open_transactions() -> None:
        nonlocal transactions
        transactions = TransactionsView(context)
        transactions.resize(1400, 900)
        transactions.show()

    def transactions_model() -> LazyTableModel[Any, Any]:
        assert transactions is not None
        return transactions.model

    measure("transactions_open", open_transactions, transactions_model)
    assert transactions is not None
    assert transactions.model.rowCount() == args.payments
    for _ in range(REPEATS):
        measure("transactions_reload", transactions.reload, transactions_model)
    for index, column in enumerate(transactions.model.columns()):
        if column.sort_key is not None:
            for _ in range(2):  # each way
                measure("transactions_sort", partial(transactions._on_header_clicked, index),
                        transactions_model)
                slowest_sort.setdefault(column.title, []).append(wall["transactions_sort"][-1])
    rss = peak_rss_mb()

    def median(values: list[float]) -> float:
        return sorted(values)[len(values) // 2]

    engine_name = engine.dialect.name
    print(
        f"PayDesk payments benchmark — {args.payments:,} payments and "
        f"{len(keys) - args.payments:,} refunds across {args.organizations:,} organizations "
        f"on {engine_name}"
        + (f" (+{args.latency_ms:g} ms per round trip)" if proxy is not None else "")
        + f"; database {origin}"
        + (f", built in {build_seconds:.1f} s" if build_seconds else "")
    )
    print(load_line())
    print(
        f"{'measure':<36}{'n':>6}{'max ms':>10}{'median':>10}{'max CPU':>10}{'med CPU':>10}"
        f"{'target':>10}  {'met wall/CPU':<13}{'trips':>5}"
        "   (wall ms; CPU ms of this process; max round trips per step)"
        + ("; server CPU ms: max / median" if server.available else "")
    )
    summary: dict[str, object] = {}
    for name, values in wall.items():
        target = TARGETS_MS.get(name)
        met = "" if target is None else ("yes" if max(values) <= target else "NO")
        cpu_met = "" if target is None else ("yes" if max(cpu[name]) <= target else "NO")
        trip = str(max(trips[name])) if name in trips else "-"
        on_server = (
            f"   {max(server_cpu[name]):8.1f} / {median(server_cpu[name]):.1f}"
            if name in server_cpu else ""
        )
        print(
            f"{name:<36}{len(values):>6}{max(values):>10.1f}{median(values):>10.1f}"
            f"{max(cpu[name]):>10.1f}{median(cpu[name]):>10.1f}"
            f"{'' if target is None else f'{target:.0f}':>10}  {met:>4} / {cpu_met:<6}{trip:>5}"
            + on_server
        )
        if name in server_cpu:
            summary[f"{name}_max_server_cpu_ms"] = round(max(server_cpu[name]), 1)
            summary[f"{name}_median_server_cpu_ms"] = round(median(server_cpu[name]), 1)
        summary[f"{name}_max_ms"] = round(max(values), 1)
        summary[f"{name}_median_ms"] = round(median(values), 1)
        summary[f"{name}_max_cpu_ms"] = round(max(cpu[name]), 1)
        summary[f"{name}_median_cpu_ms"] = round(median(cpu[name]), 1)
        if name in trips:
            summary[f"{name}_max_round_trips"] = max(trips[name])
    print(
        f"{'peak_rss':<36}{'':>6}{rss:>8.1f}MB{'':>20}{TARGET_RSS_MB:>8.0f}MB  "
        f"{'yes' if rss <= TARGET_RSS_MB else 'NO'}"
    )
    print(
        f"scrolled {len(keys):,} rows top to bottom in {len(wall['scroll_drag_step'])} jumps "
        f"({scroll_seconds:.1f} s), reading {fetches} pages of 200 rows"
    )
    print(
        f"references to None lost while scrolling: {none_lost:,} "
        f"({none_lost / scroll_steps:,.0f} a step; None has {sys.getrefcount(None):,} left)"
    )
    print("Transactions sorts, wall ms each way: " + ", ".join(
        f"{title} {' / '.join(f'{v:.0f}' for v in values)}"
        for title, values in slowest_sort.items()))
    summary["peak_rss_mb"] = round(rss, 1)
    summary["none_refs_lost_per_scroll_step"] = round(none_lost / scroll_steps, 1)
    summary["scroll_total_s"] = round(scroll_seconds, 2)
    summary["payments"] = args.payments
    summary["search_rows"] = len(keys)
    summary["organizations"] = args.organizations
    summary["build_seconds"] = round(build_seconds, 1)
    summary["load_average"] = [round(x, 2) for x in os.getloadavg()]
    summary["engine"] = engine_name
    summary["latency_ms"] = args.latency_ms if proxy is not None else None
    summary["targets_ms"] = TARGETS_MS
    summary["target_rss_mb"] = TARGET_RSS_MB
    collector.stop()
    engine.dispose()
    if proxy is not None:
        proxy.close()
    server.close()
    shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(summary), flush=True)
    sys.stderr.flush()
    # Leave without the interpreter's final garbage collection, as table_benchmark.py does:
    # PySide6 can abort while tearing down widgets that were already measured, which would
    # turn a finished run into a failed one.
    os._exit(0)


if __name__ == "__main__":
    raise SystemExit(main())
