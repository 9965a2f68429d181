"""Invoice History's search indexes and name order stay right through the sync's upserts
and every other writer, on SQLite (FTS5 trigram tables: the sync maintains them a page at
a time with its triggers paused, everyone else through the triggers) and PostgreSQL
(pg_trgm, ICU collation)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.orm import Session

from app.core.queries.invoices import InvoiceColumn, InvoiceQuery, invoice_ids, invoice_listing
from app.core.queries.organizations import OrganizationColumn, OrganizationQuery, organization_ids
from app.core.quickbooks.books import InvoiceRecord, match_by_hand, upsert_invoices
from app.core.storage.models import Invoice, Organization
from app.core.storage.search import capabilities
from app.core.sync import RunStatus
from app.sandbox.autotask.server import AutotaskSandbox
from tests.integration.sync.support import client_for, prepare, small_sandbox, sync

TODAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, tzinfo=UTC)


@pytest.fixture
def sandbox() -> Iterator[AutotaskSandbox]:
    with small_sandbox(companies=12, invoices=150, tickets=20) as running:
        yield running


def _search(engine: Engine, text: str, *, show_paid: bool = True) -> list[int]:
    query = InvoiceQuery(search=text, show_paid=show_paid)
    with engine.connect() as connection:
        ids, totals = invoice_listing(connection, query, TODAY)
        assert totals is not None and totals.count == len(ids)
        # The other orders answer the same set.
        by_name = invoice_ids(
            connection, InvoiceQuery(search=text, show_paid=show_paid,
                                     sort=InvoiceColumn.ORGANIZATION), TODAY)
        assert sorted(by_name) == sorted(ids)
        return ids


def _index_is_whole(engine: Engine) -> None:
    """SQLite: each trigram table holds exactly its rows' current text (FTS5's own check of
    an external-content table against the table), and no pause outlived its writer."""
    if engine.dialect.name != "sqlite":
        return
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO invoices_fts(invoices_fts, rank) VALUES ('integrity-check', 1)")
        connection.exec_driver_sql(
            "INSERT INTO organizations_fts(organizations_fts, rank) VALUES ('integrity-check', 1)")
        assert connection.exec_driver_sql(
            "SELECT count(*) FROM search_index_paused").scalar_one() == 0


def _invoices_of(engine: Engine, organization_id: int) -> list[int]:
    with engine.connect() as connection:
        return sorted(connection.execute(
            select(Invoice.id).where(Invoice.organization_id == organization_id)).scalars())


def test_search_finds_a_renamed_organization_after_a_sync(
    engine: Engine, sandbox: AutotaskSandbox
) -> None:
    prepare(engine)
    client = client_for(sandbox)
    assert sync(engine, client).status is RunStatus.SUCCEEDED
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            assert capabilities(connection).sqlite_fts, "the trigram tables were not created"
            assert capabilities(connection).sqlite_fts_pausable
    _index_is_whole(engine)
    company = next(c for c in sandbox.records("Companies") if _invoices_of(engine, c["id"]))
    owned = _invoices_of(engine, company["id"])
    old_name = company["companyName"]
    assert set(owned) <= set(_search(engine, old_name[1:-1]))  # found by its old name

    sandbox.change_company(company["id"], companyName="Zwölf Quixotic Widgets GmbH")
    invoice = sandbox.create_invoice(company["id"], [("Setup", "1", "90.00")])
    assert sync(engine, client).status is RunStatus.SUCCEEDED

    owned_now = _invoices_of(engine, company["id"])
    assert invoice["id"] in owned_now
    # A middle part of the new name (trigram index), any case, finds every invoice of it.
    assert sorted(_search(engine, "QUIXOTIC wid")) == owned_now
    assert sorted(_search(engine, "wöl")) == owned_now
    _index_is_whole(engine)
    # The old name no longer finds them (its index entries went with the rename).
    assert not set(_search(engine, old_name)) & set(owned_now)
    # An invoice whose number changed (Autotask has no change date for invoices: a full
    # sync rewrites them) is found by its new number, and no longer by its old one.
    with engine.connect() as connection:
        old_number = connection.execute(
            select(Invoice.invoice_number).where(Invoice.id == owned[0])).scalar_one()
    sandbox.change_invoice(owned[0], invoiceNumber="QX-77-RENUMBERED")
    assert sync(engine, client, full=True).status is RunStatus.SUCCEEDED
    assert _search(engine, "77-renum") == [owned[0]]
    assert old_number is not None and owned[0] not in _search(engine, old_number)
    _index_is_whole(engine)
    # Short terms are scanned, and agree with the index.
    assert owned[0] in _search(engine, "qx")


def test_accented_names_sort_as_people_expect(engine: Engine,
                                              sandbox: AutotaskSandbox) -> None:
    prepare(engine)
    client = client_for(sandbox)
    assert sync(engine, client).status is RunStatus.SUCCEEDED
    companies = [c for c in sandbox.records("Companies") if _invoices_of(engine, c["id"])][:3]
    names = ["Bright Path Consulting", "Bäckerei Müller", "Åsa Design"]
    for company, name in zip(companies, names, strict=True):
        sandbox.change_company(company["id"], companyName=name)
    assert sync(engine, client).status is RunStatus.SUCCEEDED
    ours = {c["id"]: n for c, n in zip(companies, names, strict=True)}

    with engine.connect() as connection:
        listed = organization_ids(
            connection, OrganizationQuery(sort=OrganizationColumn.NAME), TODAY)
        by_invoice = invoice_ids(
            connection,
            InvoiceQuery(show_paid=True, sort=InvoiceColumn.ORGANIZATION, descending=False),
            TODAY,
        )
    in_list = [ours[i] for i in listed if i in ours]
    assert in_list == ["Åsa Design", "Bäckerei Müller", "Bright Path Consulting"]
    organization_of = {}
    with engine.connect() as connection:
        organization_of = dict(connection.execute(
            select(Invoice.id, Invoice.organization_id)).all())
    seen: list[str] = []
    for invoice_id in by_invoice:
        name = ours.get(organization_of[invoice_id], "")
        if name and (not seen or seen[-1] != name):
            seen.append(name)
    assert seen == ["Åsa Design", "Bäckerei Müller", "Bright Path Consulting"]


def test_search_follows_writers_other_than_the_sync(
    engine: Engine, sandbox: AutotaskSandbox
) -> None:
    """QuickBooks matching, a renamed or added row written by any other code (fixtures,
    repairs) and deletions keep the index right through the triggers — also after the sync
    wrote the same rows with its triggers paused."""
    prepare(engine)
    client = client_for(sandbox)
    assert sync(engine, client).status is RunStatus.SUCCEEDED
    company = next(c for c in sandbox.records("Companies") if _invoices_of(engine, c["id"]))
    first, second, *_ = _invoices_of(engine, company["id"])

    # QuickBooks matching writes the QuickBooks number onto the invoice.
    with Session(engine) as session, session.begin():
        upsert_invoices(session, "qbo", [InvoiceRecord(
            remote_id="9001", doc_number="QB-ZEBRA-4417", customer_id="1",
            customer_name=company["companyName"], txn_date=None, due_date=None,
            total_minor=9000, balance_minor=9000, currency="USD")], now=NOW)
    match_by_hand(engine, "qbo", first, "9001", actor="test")
    assert _search(engine, "zebra-44") == [first]
    _index_is_whole(engine)

    # Rows written and renamed outside the sync.
    with engine.begin() as connection:
        connection.execute(update(Organization).where(Organization.id == company["id"])
                           .values(name="Ostfriesische Kaffeerösterei"))
        connection.execute(update(Invoice).where(Invoice.id == second)
                           .values(invoice_number="HAND-FIXED-8"))
        connection.execute(insert(Organization).values(
            id=990_001, name="Yodelling Yak Ltd", is_active=True,
            synced_at=NOW))
        connection.execute(insert(Invoice).values(
            id=990_002, organization_id=990_001, invoice_number="YAK-1", total_minor=100,
            synced_at=NOW))
    assert sorted(_search(engine, "kaffeerö")) == _invoices_of(engine, company["id"])
    assert _search(engine, "fixed-8") == [second]
    assert _search(engine, "yodelling") == [990_002]
    _index_is_whole(engine)
    with engine.begin() as connection:
        connection.execute(delete(Invoice).where(Invoice.id == 990_002))
    assert not _search(engine, "yak-1")
    _index_is_whole(engine)

    # A full sync then rewrites those rows from Autotask (paused triggers, page rebuild):
    # the hand-made names give way to Autotask's, the QuickBooks number stays.
    assert sync(engine, client, full=True).status is RunStatus.SUCCEEDED
    assert not _search(engine, "kaffeerö")
    assert not _search(engine, "fixed-8")
    assert _search(engine, "zebra-44") == [first]
    _index_is_whole(engine)
