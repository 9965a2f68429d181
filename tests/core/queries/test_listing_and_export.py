"""The id query with its totals in one pass, the stored search key, and the one CSV path —
on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import threading
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, update

from app.core.config import set_internal_currency
from app.core.invoice_state import InvoiceStatus
from app.core.queries.export import ExportCancelled, ExportProgress, write_csv
from app.core.queries import invoices as invoice_queries
from app.core.queries.fixtures import build_ledger
from app.core.queries.invoices import (
    InvoiceColumn,
    InvoiceQuery,
    export_invoices_csv,
    invoice_first_page,
    invoice_ids,
    invoice_listing,
    invoice_rows,
    invoice_totals,
    invoices_exist,
)
from app.core.storage.engine import session_scope
from app.core.storage.models import Invoice

TODAY = date(2026, 11, 20)


@pytest.fixture
def ledger(engine: Engine) -> Engine:
    set_internal_currency(engine, "USD", actor="test")
    build_ledger(engine, organizations=20, invoices=400, today=TODAY)
    return engine


@pytest.mark.parametrize("column", list(InvoiceColumn))
@pytest.mark.parametrize("search", ["", "1", "HAR"])
def test_listing_is_the_id_query_and_its_totals(
    ledger: Engine, column: InvoiceColumn, search: str
) -> None:
    query = InvoiceQuery(search=search, show_paid=True, sort=column)
    with ledger.connect() as c:
        ids, totals = invoice_listing(c, query, TODAY)
        assert ids == invoice_ids(c, query, TODAY)
        assert totals == invoice_totals(c, query, TODAY)
        assert invoice_listing(c, query, TODAY, with_totals=False) == (ids, None)


_PAGE_FILTERS: list[dict[str, Any]] = [
    {}, {"search": "1"}, {"search": "HAR"}, {"status": InvoiceStatus.OVERDUE},
    {"search": "zzzq"}, {"show_paid": False},
]


@pytest.mark.parametrize("column", list(InvoiceColumn))
@pytest.mark.parametrize("nearby", [5_000, 40])
def test_first_page_is_the_start_of_the_listing(
    ledger: Engine, column: InvoiceColumn, nearby: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a screen shows at once (the first page) is exactly the start of the whole
    order, for every sort, each way, with a short and a long search, a status, a search
    that finds nothing, and only what is owed; a page that holds the whole listing comes
    with its totals. A search looks near the top of the order first (all 400 invoices, or
    only the first 40 of them, as at a million invoices)."""
    monkeypatch.setattr(invoice_queries, "_NEARBY", nearby)
    with ledger.connect() as c:
        for descending in (False, True):
            for filters in _PAGE_FILTERS:
                query = InvoiceQuery(
                    **{"show_paid": True, **filters}, sort=column, descending=descending
                )
                ids, totals = invoice_listing(c, query, TODAY, held_back=0)
                for size in (1, 7, 60, len(ids), len(ids) + 5):
                    page = invoice_first_page(c, query, TODAY, size)
                    where = (descending, filters, size)
                    assert page.ids == ids[:size], where
                    assert page.complete == (size >= len(ids)), where
                    assert page.totals == (totals if page.complete else None), where
                    assert page.rows == invoice_rows(c, page.ids, TODAY), where


def test_the_search_key_follows_every_write_in_any_case(ledger: Engine) -> None:
    with ledger.connect() as c:
        some = invoice_ids(c, InvoiceQuery(show_paid=True), TODAY)[0]
    with session_scope(ledger) as s:  # a plain UPDATE, as the sync's bulk writer does
        s.execute(
            update(Invoice)
            .where(Invoice.id == some)
            .values(invoice_number="INV-Zq77", qb_doc_number="QB-Xy9")
        )
    with ledger.connect() as c:
        for term in ("zq77", "INV-ZQ", "xY9", "qb-x"):
            found = invoice_ids(c, InvoiceQuery(search=term, show_paid=True), TODAY)
            assert found == [some], term
        assert invoices_exist(c, with_quickbooks_number=True)
        assert invoice_ids(c, InvoiceQuery(search="zq77\tqb", show_paid=True), TODAY) == []


def test_invoice_export_writes_the_given_ids_in_order_with_progress(
    ledger: Engine, tmp_path: Path
) -> None:
    with ledger.connect() as c:
        ids = invoice_ids(c, InvoiceQuery(show_paid=True), TODAY)[::-1][:250]
        rows = invoice_rows(c, ids, TODAY)
    target = tmp_path / "invoices.csv"
    seen: list[ExportProgress] = []
    columns = [InvoiceColumn.NUMBER, InvoiceColumn.BALANCE, InvoiceColumn.DUE_DATE]
    count = export_invoices_csv(
        ledger, ids, columns, "USD", target, today=TODAY, on_progress=seen.append
    )
    assert count == 250
    with target.open(encoding="utf-8-sig", newline="") as f:
        lines = list(csv.reader(f))
    assert lines[0] == ["Invoice #", "Balance", "Due date"]
    assert [line[0] for line in lines[1:]] == [rows[i].invoice_number for i in ids]
    first = rows[ids[0]]
    assert lines[1][1] == f"{first.balance_minor / 100:.2f}"
    assert lines[1][2] == (first.due_date.isoformat() if first.due_date else "")
    assert seen[-1] == ExportProgress(250, 250)


def test_a_cancelled_export_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "big.csv"
    cancel = threading.Event()

    def fetch(keys: object) -> dict[int, int]:
        cancel.set()  # the person presses Cancel while the first chunk is written
        return {k: k for k in keys}  # type: ignore[attr-defined]

    with pytest.raises(ExportCancelled):
        write_csv(target, ["n"], list(range(10)), fetch, lambda n: [str(n)], chunk_size=3,
                  cancel=cancel)
    assert not target.exists()
