"""Invoice History at scale: 1,000,000 invoices across 30,000 organizations, real widgets.

    python benchmarks/table_benchmark.py                      # 1,000,000 invoices, SQLite
    python benchmarks/table_benchmark.py --invoices 200000    # 200,000 (10,000 organizations)
    python benchmarks/table_benchmark.py --database postgresql+psycopg://…/db [--latency-ms 2]

Builds the history with ``app.core.queries.fixtures.build_ledger`` in a child process and
keeps the SQLite file in the cache folder for the next run (``benchmarks/bench_data.py``;
``--no-cache`` builds anew). ``--database`` uses that database, filling it first when it is
empty. With PostgreSQL every connection goes through a small proxy process
(``benchmarks/latency_proxy.py``) that adds ``--latency-ms`` per round trip (0 by default: the
server on this machine) and counts round trips, printed per step. It opens the Invoices area
offscreen and measures, from the person's point of view (each figure ends when the table has
painted its new rows):

* first rows visible after the view opens;
* sort by each column (with Show paid on, so every invoice is sorted);
* for a sort, a search keystroke and a filter, two figures: the new first rows painted
  (what the person waits for; the target), and, printed as ``…_complete`` beside it, the
  whole new order and its totals read in the background (``Listing.rest``), after which
  the scroll bar spans every row;
* a search keystroke to updated rows (the debounce delay itself is not counted), in the
  default view (what is owed) and with Show paid on (every invoice searched);
* applying a status filter and a date filter;
* round trips to the database server per step (through the proxy): for a sort, keystroke
  or filter, those before its first rows are shown (the rest of the listing is read
  afterwards, in parallel, and counted in ``…_complete``);
* scrolling: jumps to 40 evenly spaced places (as dragging the scroll bar does) and 50 Page
  Downs from each (the slowest step is what counts: a step that needs a new page of rows
  waits for it to arrive from the worker and be painted);
* the organization list: first rows and sort by open balance;
* peak RSS of the process.

Id queries and pages of rows run in workers (``app.gui.widgets.lazy_table``), so each figure
waits until no background task is left and the rows they brought are painted. Wall time
is printed beside this process's CPU time: on a busy machine the wall figure includes
waiting for a core. Prints a table, then one JSON line with every figure (ms, MB).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QCoreApplication, QEventLoop
from PySide6.QtWidgets import QApplication

from app.core.config import Profile, get_internal_currency, set_internal_currency
from app.core.credentials import CredentialStore
from app.core.invoice_state import InvoiceStatus
from app.core.queries.fixtures import build_ledger
from app.core.queries.invoices import InvoiceColumn
from app.core.queries.organizations import OrganizationColumn
from app.core.storage.engine import open_database
from app.core.storage.models import Invoice
from app.gui.context import AppContext
from app.gui.gc import GuiThreadGarbageCollector, freeze_startup_objects
from app.gui.widgets.lazy_table import LazyTableModel
from benchmarks.bench_data import ServerCpu, load_line, prepared_database, through_proxy
from benchmarks.screen_timing import (
    LAST_COMPLETE_MS,
    LAST_CPU_MS,
    peak_rss_mb,
    timed,
)

TARGETS_MS = {
    "first_rows": 1000.0,
    "sort": 300.0,
    "search": 150.0,
    "search_show_paid": 150.0,
    "status_filter": 200.0,
    "date_filter": 200.0,
    "scroll_step": 50.0,
    "scroll_jump": 50.0,
}
#: Scrolling: this many evenly spaced places, and Page Down this many times from each.
SCROLL_RUNS = 40
PAGES_PER_RUN = 50
TARGET_RSS_MB = 400.0
#: Keystrokes searched with Show paid on: the short ones match tens of thousands of invoices.
SHOW_PAID_TERMS = ("h", "ha", "4", "41", "410")


def paint() -> None:
    """Let Qt do everything pending: layout, the id queries and pages of rows running in
    workers, and painting what they changed. Like the real event loop, only dirty regions
    are painted — a scroll repaints the table's viewport, not the whole window — and while
    a worker runs the GUI thread sleeps until its answer arrives."""
    from app.gui.workers import active_tasks

    while True:
        for _ in range(3):
            QCoreApplication.sendPostedEvents()
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents)
        if not active_tasks():
            return
        while active_tasks():
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument(
        "--organizations", type=int, default=None,
        help="default: 3%% of the invoices, at least 10,000 (30,000 for a million)",
    )
    parser.add_argument("--database", help="a database URL (filled first when empty)")
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="PostgreSQL: milliseconds added per round trip by a proxy")
    parser.add_argument("--no-cache", action="store_true", help="build the history anew")
    parser.add_argument("--build-into", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.organizations is None:
        args.organizations = max(10_000, args.invoices * 3 // 100)
    if args.build_into:
        # Child process: fill the database and exit, so its memory is not counted below.
        engine = open_database(args.build_into)
        set_internal_currency(engine, "USD", actor="benchmark")
        build_ledger(engine, organizations=args.organizations, invoices=args.invoices)
        engine.dispose()
        return 0

    folder = Path(tempfile.mkdtemp(prefix="paydesk-bench-"))
    database_url, build_seconds, origin = prepared_database(
        "ledger",
        {"invoices": args.invoices, "organizations": args.organizations},
        [__file__, "--invoices", str(args.invoices), "--organizations", str(args.organizations)],
        database=args.database,
        table=Invoice.__table__,
        no_cache=args.no_cache,
    )
    server = ServerCpu(database_url)
    database_url, proxy = through_proxy(database_url, args.latency_ms)
    profile = Profile.open(folder / "profile", database_url)
    app = QApplication.instance() or QApplication([])
    engine = open_database(profile.database_url)
    if get_internal_currency(engine) is None:
        set_internal_currency(engine, "USD", actor="benchmark")
    context = AppContext(profile=profile, engine=engine, credentials=CredentialStore(profile.key))

    from app.gui.invoices import InvoicesArea
    from app.gui.organizations import OrganizationsArea

    wall: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    trips: dict[str, list[int]] = {}
    server_cpu: dict[str, list[float]] = {}

    def measure(
        name: str, action: Callable[[], object], model: LazyTableModel[Any, Any] | None = None
    ) -> None:
        before = proxy.round_trips if proxy is not None else 0
        server_before = server.seconds()
        first_trips: list[int] = []
        at_reset: list[int] = []

        def at_first_rows() -> None:
            if proxy is not None:
                # The listing's first page is shown by the reset; the reading of its rest
                # starts right after it, in parallel, so it is counted from the reset on.
                first_trips.append(at_reset[0] if at_reset else proxy.round_trips - before)

        def on_reset() -> None:
            if proxy is not None and not at_reset:
                at_reset.append(proxy.round_trips - before)

        if model is not None:
            model.modelAboutToBeReset.connect(on_reset)
        shown = (lambda: model) if model is not None else None
        wall.setdefault(name, []).append(timed(action, paint, shown, at_first_rows))
        if model is not None:
            model.modelAboutToBeReset.disconnect(on_reset)
        cpu.setdefault(name, []).append(LAST_CPU_MS[0])
        if model is not None:
            wall.setdefault(f"{name}_complete", []).append(LAST_COMPLETE_MS[0])
            cpu.setdefault(f"{name}_complete", []).append(LAST_COMPLETE_MS[1])
        if proxy is not None:
            # What the person waited for: to the first rows when the rest came later.
            trips.setdefault(name, []).append(
                first_trips[0] if first_trips else proxy.round_trips - before
            )
            if first_trips:
                trips.setdefault(f"{name}_complete", []).append(proxy.round_trips - before)
        server_after = server.seconds()
        if server_before is not None and server_after is not None:
            server_cpu.setdefault(name, []).append((server_after - server_before) * 1000)

    area: InvoicesArea | None = None

    def open_view() -> None:
        nonlocal area
        area = InvoicesArea(context)
        area.resize(1400, 900)
        area.show()

    # Garbage collection as the application runs it (``app.gui.app``): automatic collection
    # off, the collector's timer on the GUI thread, start-up objects frozen once the window
    # shows. Without this, a full collection walks every PySide and module object.
    collector = GuiThreadGarbageCollector()
    collector.start()
    measure("first_rows", open_view)
    freeze_startup_objects()
    assert area is not None
    view = area.history
    assert view.model.rowCount() > 0, "the table shows no rows"

    # Sort every column over every invoice (Show paid on), both directions.
    view.show_paid.setChecked(True)
    paint()
    all_rows = view.model.rowCount()
    sorts: dict[str, float] = {}
    for column in InvoiceColumn:
        for descending in (False, True):
            measure("sort", partial(view.sort_by, column, descending), view.model)
            sorts[f"{column.value}{' desc' if descending else ''}"] = wall["sort"][-1]

    # Search as typed in the default view (what is owed), one keystroke at a time, each
    # after the debounce; then the same with Show paid on (all 200,000 invoices searched).
    view.sort_by(InvoiceColumn.INVOICE_DATE, True)
    view.show_paid.setChecked(False)
    paint()
    for text in ("h", "ha", "har", "harb", "4", "41", "410"):
        measure("search", partial(view.set_search, text), view.model)
    view.set_search("")
    view.show_paid.setChecked(True)
    paint()
    for text in SHOW_PAID_TERMS:
        measure("search_show_paid", partial(view.set_search, text), view.model)
    view.set_search("")
    view.show_paid.setChecked(False)
    paint()

    # Status filters.
    for status in (
        InvoiceStatus.OVERDUE,
        InvoiceStatus.PARTIALLY_PAID,
        InvoiceStatus.OPEN,
        InvoiceStatus.PAID,
        InvoiceStatus.VOID,
    ):
        measure("status_filter", partial(view.set_status_filter, status), view.model)
    view.set_status_filter(None)
    view.show_paid.setChecked(True)
    paint()

    # Date filters over every invoice (Show paid on), each preset in turn.
    for index in range(1, view.date_filter.count()):
        if view.date_filter.itemData(index) == "custom":
            continue
        measure("date_filter", partial(view.date_filter.setCurrentIndex, index), view.model)
    view.date_filter.setCurrentIndex(0)
    paint()

    # Scroll over every invoice: jump (as dragging the scroll bar does) to evenly spaced
    # places from top to bottom, and from each go down a page at a time. At a million
    # invoices, paging through all of them would be 40,000 steps; these runs visit the
    # whole table in a few thousand.
    bar = view.table.verticalScrollBar()
    bar.setValue(0)
    paint()
    for run in range(SCROLL_RUNS):
        if run:
            place = bar.maximum() * run // SCROLL_RUNS
            measure("scroll_jump", partial(bar.setValue, place))
        for _ in range(PAGES_PER_RUN):
            if bar.value() >= bar.maximum():
                break
            measure(
                "scroll_step",
                lambda: bar.setValue(min(bar.maximum(), bar.value() + bar.pageStep())),
            )

    # The organization list.
    organizations: OrganizationsArea | None = None

    def open_organizations() -> None:
        nonlocal organizations
        organizations = OrganizationsArea(context)
        organizations.resize(1400, 900)
        organizations.show()

    measure("organizations_first_rows", open_organizations)
    assert organizations is not None
    listing = organizations.list
    for section in range(len(OrganizationColumn)):
        measure("organizations_sort", partial(listing._on_sort_clicked, section))
    rss = peak_rss_mb()

    def median(values: list[float]) -> float:
        return sorted(values)[len(values) // 2]

    engine_name = engine.dialect.name
    print(
        f"PayDesk table benchmark — {args.invoices:,} invoices, "
        f"{args.organizations:,} organizations on {engine_name}"
        + (f" (+{args.latency_ms:g} ms per round trip)" if proxy is not None else "")
        + f"; database {origin}"
        + (f", built in {build_seconds:.1f} s" if build_seconds else "")
    )
    print(load_line())
    print(
        f"{'measure':<26}{'n':>6}{'max ms':>10}{'median':>10}{'max CPU':>10}{'med CPU':>10}"
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
            f"{name:<26}{len(values):>6}{max(values):>10.1f}{median(values):>10.1f}"
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
        f"{'peak_rss':<26}{'':>6}{rss:>8.1f}MB{'':>20}{TARGET_RSS_MB:>8.0f}MB  "
        f"{'yes' if rss <= TARGET_RSS_MB else 'NO'}"
    )
    print("sort by column (ms):", ", ".join(f"{k} {v:.0f}" for k, v in sorts.items()))
    print(
        f"rows with Show paid: {all_rows:,}; scrolled {len(wall['scroll_step'])} pages "
        f"from {SCROLL_RUNS} places"
    )
    slowest = max(range(len(wall["scroll_step"])), key=wall["scroll_step"].__getitem__)
    print(
        f"slowest scroll step: {wall['scroll_step'][slowest]:.1f} ms wall, "
        f"{cpu['scroll_step'][slowest]:.1f} ms CPU (step {slowest + 1})"
    )
    print(
        "search with Show paid (ms, wall/CPU): "
        + ", ".join(
            f"{text!r} {w:.0f}/{c:.0f}"
            for text, w, c in zip(
                SHOW_PAID_TERMS, wall["search_show_paid"], cpu["search_show_paid"], strict=True
            )
        )
    )
    summary["peak_rss_mb"] = round(rss, 1)
    summary["sorts_ms"] = {k: round(v, 1) for k, v in sorts.items()}
    summary["invoices"] = args.invoices
    summary["organizations"] = args.organizations
    summary["build_seconds"] = round(build_seconds, 1)
    summary["load_average"] = [round(x, 2) for x in os.getloadavg()]
    summary["engine"] = engine_name
    summary["latency_ms"] = args.latency_ms if proxy is not None else None
    summary["targets_ms"] = TARGETS_MS
    summary["target_rss_mb"] = TARGET_RSS_MB
    engine.dispose()
    if proxy is not None:
        proxy.close()
    server.close()
    shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(summary), flush=True)
    sys.stderr.flush()
    # Leave without the interpreter's final garbage collection: after thousands of repaints
    # driven from Python, PySide6 6.12 on Python 3.11 can abort while tearing down widgets
    # that were already measured, which would turn a finished run into a failed one.
    os._exit(0)
    del app
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
