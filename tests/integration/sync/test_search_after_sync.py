"""Invoice History's search indexes and name order stay right through the sync's upserts,
on SQLite (FTS5 trigram tables kept by triggers) and PostgreSQL (pg_trgm, ICU collation)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import Engine, select

from app.core.queries.invoices import InvoiceColumn, InvoiceQuery, invoice_ids, invoice_listing
from app.core.queries.organizations import OrganizationColumn, OrganizationQuery, organization_ids
from app.core.storage.models import Invoice
from app.core.storage.search import capabilities
from app.core.sync import RunStatus
from app.sandbox.autotask.server import AutotaskSandbox
from tests.integration.sync.support import client_for, prepare, small_sandbox, sync

TODAY = date(2026, 11, 20)


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
