"""Invoice History at scale: 200,000 invoices across 10,000 organizations, real widgets.

    QT_QPA_PLATFORM=offscreen python benchmarks/table_benchmark.py [--invoices N]
        [--organizations N] [--database URL]

Builds a profile with ``app.core.queries.fixtures.build_ledger`` (or uses ``--database``,
which must already hold such data), opens the Invoices area offscreen and measures, from
the person's point of view (each figure ends when the table has painted its new rows):

* first rows visible after the view opens;
* sort by each column (with Show paid on, so all 200,000 rows are sorted);
* a search keystroke to updated rows (the debounce delay itself is not counted);
* applying a status filter;
* scrolling from top to bottom a page at a time (the slowest step is what counts);
* the organization list: first rows and sort by open balance;
* peak RSS of the process.

Prints a table, then one JSON line with every figure (milliseconds, MB).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

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
from app.gui.context import AppContext

TARGETS_MS = {
    "first_rows": 1000.0,
    "sort_max": 300.0,
    "search": 150.0,
    "status_filter": 200.0,
    "scroll_step_max": 50.0,
}
TARGET_RSS_MB = 400.0


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


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    paint()
    return (time.perf_counter() - start) * 1000


def peak_rss_mb() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return usage / 1024 if sys.platform != "darwin" else usage / (1024 * 1024)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=200_000)
    parser.add_argument("--organizations", type=int, default=10_000)
    parser.add_argument("--database", help="an existing database URL with the data already in")
    parser.add_argument("--build-into", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.build_into:
        # Child process: fill the database and exit, so its memory is not counted below.
        engine = open_database(args.build_into)
        set_internal_currency(engine, "USD", actor="benchmark")
        build_ledger(engine, organizations=args.organizations, invoices=args.invoices)
        engine.dispose()
        return 0

    folder = Path(tempfile.mkdtemp(prefix="paydesk-bench-"))
    profile = Profile.open(folder / "profile", args.database)
    build_seconds = 0.0
    if args.database is None:
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, __file__, "--build-into", profile.database_url,
             "--invoices", str(args.invoices), "--organizations", str(args.organizations)],
            check=True,
        )
        build_seconds = time.perf_counter() - start
    app = QApplication.instance() or QApplication([])
    engine = open_database(profile.database_url)
    if get_internal_currency(engine) is None:
        set_internal_currency(engine, "USD", actor="benchmark")
    context = AppContext(profile=profile, engine=engine, credentials=CredentialStore(profile.key))

    from app.gui.invoices import InvoicesArea
    from app.gui.organizations import OrganizationsArea

    results: dict[str, float] = {}
    area: InvoicesArea | None = None

    def open_view() -> None:
        nonlocal area
        area = InvoicesArea(context)
        area.resize(1400, 900)
        area.show()

    results["first_rows"] = timed(open_view)
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
            key = f"{column.value}{' desc' if descending else ''}"
            sorts[key] = timed(lambda c=column, d=descending: view.sort_by(c, d))
    results["sort_max"] = max(sorts.values())
    results["sort_median"] = sorted(sorts.values())[len(sorts) // 2]

    # Search: type "harb" one key at a time; each keystroke's query (after the debounce).
    view.sort_by(InvoiceColumn.INVOICE_DATE, True)
    view.show_paid.setChecked(False)
    paint()
    searches = []
    for text in ("h", "ha", "har", "harb"):
        searches.append(timed(lambda t=text: view.set_search(t)))
    results["search"] = max(searches)
    view.show_paid.setChecked(True)
    paint()
    searches_all = [timed(lambda t=text: view.set_search(t)) for text in ("4", "41", "410")]
    results["search_show_paid"] = max(searches_all)
    view.set_search("")
    view.show_paid.setChecked(False)
    paint()

    # Status filters (Overdue, Partially paid, Open, Paid with everything shown).
    filters = [
        timed(lambda s=status: view.set_status_filter(s))
        for status in (
            InvoiceStatus.OVERDUE, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.OPEN,
            InvoiceStatus.PAID,
        )
    ]
    results["status_filter"] = max(filters)
    view.set_status_filter(None)
    view.show_paid.setChecked(True)
    paint()

    # Scroll from top to bottom a page at a time, over every invoice.
    bar = view.table.verticalScrollBar()
    bar.setValue(0)
    paint()
    steps: list[float] = []
    while bar.value() < bar.maximum():
        steps.append(timed(lambda: bar.setValue(min(bar.maximum(), bar.value() + bar.pageStep()))))
    results["scroll_step_max"] = max(steps) if steps else 0.0
    results["scroll_step_median"] = sorted(steps)[len(steps) // 2] if steps else 0.0
    scroll_pages = len(steps)

    # The organization list.
    organizations: OrganizationsArea | None = None

    def open_organizations() -> None:
        nonlocal organizations
        organizations = OrganizationsArea(context)
        organizations.resize(1400, 900)
        organizations.show()

    results["organizations_first_rows"] = timed(open_organizations)
    assert organizations is not None
    org_sorts = [
        timed(lambda c=column: organizations.list._on_sort_clicked(  # type: ignore[union-attr]
            list(OrganizationColumn).index(c)))
        for column in OrganizationColumn
    ]
    results["organizations_sort_max"] = max(org_sorts)
    results["peak_rss_mb"] = peak_rss_mb()

    print(f"PayDesk table benchmark — {args.invoices:,} invoices, "
          f"{args.organizations:,} organizations (built in {build_seconds:.1f} s)")
    print(f"{'measure':<34}{'value':>12}{'target':>12}  ok")
    for key, value in results.items():
        target = TARGET_RSS_MB if key == "peak_rss_mb" else TARGETS_MS.get(key)
        unit = "MB" if key == "peak_rss_mb" else "ms"
        ok = "" if target is None else ("yes" if value <= target else "NO")
        target_text = f"{target:.0f} {unit}" if target is not None else ""
        print(f"{key:<34}{value:>9.1f} {unit}{target_text:>12}  {ok}")
    print("sort by column (ms):", ", ".join(f"{k} {v:.0f}" for k, v in sorts.items()))
    print(f"rows with Show paid: {all_rows:,}; scrolled {scroll_pages} pages")
    summary = {k: round(v, 1) for k, v in results.items()}
    summary["sorts_ms"] = {k: round(v, 1) for k, v in sorts.items()}  # type: ignore[assignment]
    summary["invoices"] = args.invoices
    summary["organizations"] = args.organizations
    summary["build_seconds"] = round(build_seconds, 1)
    engine.dispose()
    if args.database is None:
        shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(summary))
    del app
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
