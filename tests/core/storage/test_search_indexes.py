"""The search indexes of ``app.core.storage.search``: created where the engine has them,
and PayDesk still opens (and searches) a PostgreSQL database where pg_trgm is missing."""

from __future__ import annotations

import logging
import uuid
from datetime import date

import pytest
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url

from app.core.config import set_internal_currency
from app.core.queries.fixtures import build_ledger
from app.core.queries.invoices import InvoiceQuery, invoice_listing
from app.core.storage import search
from app.core.storage.engine import open_database
from app.core.storage.search import name_sort_key
from tests.conftest import drop_database


def test_names_sort_with_accents_set_aside() -> None:
    names = ["Bright Path", "Bäckerei Müller", "bakery", "Zeta", "Åsa", "Backerei Muller"]
    assert sorted(names, key=name_sort_key) == [
        "Åsa", "Backerei Muller", "Bäckerei Müller", "bakery", "Bright Path", "Zeta"]


def test_the_engine_has_its_search_indexes(engine: Engine) -> None:
    found = inspect(engine)
    indexes = {i["name"] for i in found.get_indexes("organizations")}
    assert "ix_organizations_name_sort" in indexes
    if engine.dialect.name == "sqlite":
        assert {"invoices_fts", "organizations_fts"} <= set(found.get_table_names())
    else:
        assert "ix_invoices_search_trgm" in {i["name"] for i in found.get_indexes("invoices")}


def test_postgres_without_pg_trgm_still_opens_and_searches(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A server without the contrib module: the extension cannot be created.
    monkeypatch.setattr(search, "TRIGRAM_EXTENSION", "pg_trgm_not_on_this_server")
    admin = create_engine(make_url(postgres_url).set(database="postgres"),
                          isolation_level="AUTOCOMMIT")
    name = f"paydesk_t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
        with caplog.at_level(logging.WARNING, logger="app.core.storage.search"):
            engine = open_database(url)
        try:
            assert "CREATE EXTENSION pg_trgm" in caplog.text
            indexes = {i["name"] for i in inspect(engine).get_indexes("invoices")}
            assert "ix_invoices_search_trgm" not in indexes
            set_internal_currency(engine, "USD")
            build_ledger(engine, organizations=20, invoices=200)
            with engine.connect() as connection:
                everything, _ = invoice_listing(
                    connection, InvoiceQuery(show_paid=True), date(2026, 11, 20))
                found, totals = invoice_listing(
                    connection, InvoiceQuery(show_paid=True, search="harbor"),
                    date(2026, 11, 20))
            assert totals is not None and totals.count == len(found)
            assert 0 < len(found) < len(everything)
        finally:
            engine.dispose()
    finally:
        drop_database(admin, name)
        admin.dispose()
