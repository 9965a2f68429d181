"""Bad data from Autotask is quarantined per record, never fatal — on SQLite and PostgreSQL.

Each test damages a few records of the sandbox over its admin side (values as Autotask could
send them: a total of 1E+20, a NUL in a name, NaN, infinities, dates in the year 1 or 9999,
amounts with more decimals than the currency, an id twice in one answer), syncs over HTTP,
and checks that every other record is stored exactly and the bad ones carry a plain reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select

from app.core.storage.engine import session_scope
from app.core.storage.models import Invoice, Organization, QuarantinedRecord, Ticket
from app.core.sync import RunStatus
from app.core.sync import specs as sync_specs
from app.sandbox.autotask.server import AutotaskSandbox
from tests.integration.sync.support import (
    client_for,
    differences,
    prepare,
    small_sandbox,
    sync,
)


@pytest.fixture
def sandbox() -> Iterator[AutotaskSandbox]:
    with small_sandbox() as running:
        yield running


def _reasons(engine: Engine) -> dict[tuple[str, int | None], str]:
    with session_scope(engine) as s:
        return {(q.entity, q.record_id): q.reason
                for q in s.scalars(select(QuarantinedRecord))}


def _invoices_of(sandbox: AutotaskSandbox, company_id: int) -> list[int]:
    return [r["id"] for r in sandbox.records("Invoices") if r["companyID"] == company_id]


def test_bad_records_are_quarantined_and_everything_else_is_stored(
        engine: Engine, sandbox: AutotaskSandbox) -> None:
    prepare(engine)
    invoices = [r["id"] for r in sandbox.records("Invoices")]
    companies = [r["id"] for r in sandbox.records("Companies")]
    tickets = [r["id"] for r in sandbox.records("Tickets")]
    lines = [r["id"] for r in sandbox.records("BillingItems")]
    # A company with a small flaw of its own, and one whose name holds a NUL.
    flawed, nul_named = companies[3], companies[5]
    assert _invoices_of(sandbox, flawed), "the flawed company needs invoices"
    sandbox.change_record("Companies", flawed, isActive="maybe")
    sandbox.change_record("Companies", nul_named, companyName="Acme\x00 Holdings")
    broken = companies[7]  # half of an emoji, as JSON can carry it ("\ud83d")
    sandbox.change_record("Companies", broken, companyName="Blue Harbor \ud83d")
    damaged = {
        invoices[10]: {"invoiceTotal": Decimal("1E+20")},
        invoices[11]: {"invoiceTotal": Decimal("NaN")},
        invoices[12]: {"totalTaxValue": Decimal("Infinity")},
        invoices[13]: {"invoiceDateTime": "0001-01-01T00:00:00"},
        invoices[14]: {"invoiceTotal": Decimal("12.345678")},
        invoices[15]: {"invoiceTotal": Decimal("0.001")},
        invoices[16]: {"companyID": 10**19},
        invoices[17]: {"invoiceNumber": "INV-\x00"},
    }
    for invoice_id, fields in damaged.items():
        sandbox.change_record("Invoices", invoice_id, **fields)
    sandbox.change_record("Tickets", tickets[7],
                          lastActivityDate="9999-12-31T23:59:59.9999999-05:00")
    # Five decimal places: more than a line keeps (four), so refused — never rounded.
    sandbox.change_record("BillingItems", lines[4], totalAmount=Decimal("10.12345"))
    sandbox.faults.duplicate_ids = [tickets[20]]

    result = sync(engine, client_for(sandbox))

    assert result.status is RunStatus.SUCCEEDED, result.error
    reasons = _reasons(engine)
    expected = {("Companies", flawed), ("Companies", nul_named), ("Companies", broken),
                ("Tickets", tickets[7]),
                ("Tickets", tickets[20]), ("BillingItems", lines[4]),
                *(("Invoices", i) for i in damaged)}
    assert set(reasons) == expected
    assert "far too large" in reasons[("Invoices", invoices[10])]
    assert "not a number" in reasons[("Invoices", invoices[11])]
    assert "not a number" in reasons[("Invoices", invoices[12])]
    assert "not a plausible date" in reasons[("Invoices", invoices[13])]
    assert "does not round" in reasons[("Invoices", invoices[14])]
    assert "more decimal places than USD" in reasons[("Invoices", invoices[15])]
    assert "far too large" in reasons[("Invoices", invoices[16])]
    assert "NUL character" in reasons[("Invoices", invoices[17])]
    assert "NUL character" in reasons[("Companies", nul_named)]
    assert "broken character" in reasons[("Companies", broken)]
    assert "not true or false" in reasons[("Companies", flawed)]
    assert "not a plausible date" in reasons[("Tickets", tickets[7])]
    assert "2 times in one answer" in reasons[("Tickets", tickets[20])]
    assert "more than 4 decimal places" in reasons[("BillingItems", lines[4])]
    # Everything else is stored exactly as Autotask has it (the duplicate is not stored
    # from this answer: it was never stored before).
    assert set(differences(engine, sandbox)) <= {"Tickets"}
    with session_scope(engine) as s:
        stored_tickets = set(s.scalars(select(Ticket.id)))
        stored_invoices = set(s.scalars(select(Invoice.id)))
        assert s.get(Organization, flawed) is None
    assert set(tickets) - stored_tickets == {tickets[7], tickets[20]}
    # The flawed company's quarantine does not hide its invoices; they carry its name.
    assert set(_invoices_of(sandbox, flawed)) <= stored_invoices
    from datetime import date

    from sqlalchemy.orm import Session

    from app.core.queries.invoices import invoice_rows

    company = sandbox.record("Companies", flawed)
    assert company is not None
    with Session(engine) as s:
        shown = invoice_rows(s, _invoices_of(sandbox, flawed), date.today())
    assert {r.organization_name for r in shown.values()} == {
        f"{company['companyName']} (held back — see Sync)"}
    assert set(_invoices_of(sandbox, nul_named)) <= stored_invoices
    assert not stored_invoices & set(damaged)
    counts = {c.entity: c for c in result.entities}
    assert counts["Invoices"].quarantined == len(damaged)
    # The Sync area lists each record as Autotask names it, why, and what to do.
    from app.core.sync.history import held_back_invoices, quarantined_records

    listed = {(q.entity, q.record_id): q for q in quarantined_records(engine)}
    assert set(listed) == expected
    invoice = sandbox.record("Invoices", invoices[10])
    assert invoice is not None
    assert listed[("Invoices", invoices[10])].record == \
        f"Invoice {invoice['invoiceNumber']} (id {invoices[10]})"
    assert "void it and invoice again" in listed[("Invoices", invoices[10])].fix
    assert listed[("Companies", flawed)].record.endswith(f"(id {flawed})")
    assert "CRM > Organizations" in listed[("Companies", flawed)].fix
    assert "report it to Autotask support" in listed[("Tickets", tickets[20])].fix
    assert held_back_invoices(engine) == len(damaged)


def test_the_duplicate_keeps_what_was_stored_and_fixes_itself(
        engine: Engine, sandbox: AutotaskSandbox) -> None:
    prepare(engine)
    client = client_for(sandbox)
    assert sync(engine, client).status is RunStatus.SUCCEEDED
    invoice = sandbox.records("Invoices")[30]
    sandbox.faults.duplicate_ids = [invoice["id"]]
    assert sync(engine, client, full=True).status is RunStatus.SUCCEEDED
    with session_scope(engine) as s:
        assert s.get(Invoice, invoice["id"]) is not None  # not collapsed, not lost
    assert "2 times in one answer" in _reasons(engine)[("Invoices", invoice["id"])]
    sandbox.faults.duplicate_ids = []
    assert sync(engine, client, full=True).status is RunStatus.SUCCEEDED
    assert _reasons(engine) == {}


def test_a_value_only_the_database_refuses_is_quarantined_not_fatal(
        engine: Engine, sandbox: AutotaskSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """The converters' own limits lifted: the database's refusal still costs one record."""
    monkeypatch.setattr(sync_specs, "MAX_AMOUNT", 10**40)
    monkeypatch.setattr(sync_specs, "MAX_DIGITS", 40)
    prepare(engine)
    invoices = [r["id"] for r in sandbox.records("Invoices")]
    sandbox.change_record("Invoices", invoices[8], invoiceTotal=Decimal("1E+20"))

    result = sync(engine, client_for(sandbox))

    assert result.status is RunStatus.SUCCEEDED, result.error
    reasons = _reasons(engine)
    assert set(reasons) == {("Invoices", invoices[8])}
    assert "database refused this record (a number in it is too large)" in \
        reasons[("Invoices", invoices[8])]
    with session_scope(engine) as s:
        stored = set(s.scalars(select(Invoice.id)))
    assert stored == set(invoices) - {invoices[8]}
    if engine.dialect.name == "sqlite":
        # The page written row by row after the refusal left the search index whole (FTS5
        # checks it against the invoices themselves).
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO invoices_fts(invoices_fts, rank) VALUES ('integrity-check', 1)")


def test_four_decimal_line_prices_are_stored_and_shown_exactly(
        engine: Engine, sandbox: AutotaskSandbox) -> None:
    """A unit price of 12.3456 (common with four-decimal prices) makes a line of 37.0368:
    the line is kept exactly, not held back; the invoice's total stays whole cents."""
    from datetime import date

    from sqlalchemy.orm import Session

    from app.core.queries.invoices import invoice_detail
    from app.core.storage.models import InvoiceLine

    prepare(engine)
    line = next(r for r in sandbox.records("BillingItems") if r.get("invoiceID"))
    sandbox.change_record("BillingItems", line["id"], quantity=Decimal("3"),
                          rate=Decimal("12.3456"), extendedPrice=Decimal("37.0368"),
                          taxDollars=Decimal("0.0012"), totalAmount=Decimal("37.0380"))
    invoice_total = sandbox.record("Invoices", line["invoiceID"])["invoiceTotal"]  # type: ignore[index]

    assert sync(engine, client_for(sandbox)).status is RunStatus.SUCCEEDED

    assert ("BillingItems", line["id"]) not in _reasons(engine)
    assert set(differences(engine, sandbox)) == set()
    with Session(engine) as s:
        stored = s.get(InvoiceLine, line["id"])
        assert stored is not None
        assert (stored.extended_price_e4, stored.tax_e4, stored.total_e4) == (
            370368, 12, 370380)
        assert stored.rate == Decimal("12.3456")
        detail = invoice_detail(s, line["invoiceID"], date.today())
        assert detail is not None
        shown = next(x for x in detail.lines if x.id == line["id"])
        assert (shown.rate, shown.amount, shown.tax, shown.total) == (
            Decimal("12.3456"), Decimal("37.0368"), Decimal("0.0012"), Decimal("37.0380"))
        assert detail.total == invoice_total  # totals stay in whole minor units
        assert detail.row.total_minor == int(invoice_total * 100)


def test_a_credit_shows_as_credit_and_a_total_off_its_lines_is_flagged(
        engine: Engine, sandbox: AutotaskSandbox) -> None:
    from datetime import date

    from sqlalchemy.orm import Session

    from app.core.invoice_state import InvoiceStatus
    from app.core.queries.invoices import (
        InvoiceColumn,
        InvoiceQuery,
        invoice_detail,
        invoice_ids,
        invoice_rows,
    )

    prepare(engine)
    open_ids = [r["id"] for r in sandbox.records("Invoices")
                if not r["isVoided"] and not r["paidDate"]]
    credit, off = open_ids[0], open_ids[1]
    sandbox.change_record("Invoices", credit, invoiceTotal=Decimal("-120.00"),
                          totalTaxValue=Decimal("0.00"))
    total = sandbox.record("Invoices", off)["invoiceTotal"]  # type: ignore[index]
    sandbox.change_record("Invoices", off, invoiceTotal=total + Decimal("5.00"))
    assert sync(engine, client_for(sandbox)).status is RunStatus.SUCCEEDED
    today = date.today()
    with Session(engine) as s:
        row = invoice_rows(s, [credit], today)[credit]
        assert row.status is InvoiceStatus.CREDIT and row.total_minor == -12000
        assert not row.is_payable
        credits = invoice_ids(s.connection(), InvoiceQuery(status=InvoiceStatus.CREDIT), today)
        paid = invoice_ids(s.connection(), InvoiceQuery(status=InvoiceStatus.PAID), today)
        assert credit in credits and credit not in paid
        assert all(invoice_rows(s, credits, today)[i].total_minor < 0 for i in credits)
        by_status = invoice_ids(s.connection(), InvoiceQuery(
            show_paid=True, sort=InvoiceColumn.STATUS), today)
        assert credit in by_status
        detail = invoice_detail(s, off, today)
        assert detail is not None and detail.lines and not detail.lines_add_up
        assert detail.total - detail.lines_total == Decimal("5.00")


def test_invoices_billed_in_another_currency_are_held_back_with_that_reason(
        engine: Engine, sandbox: AutotaskSandbox) -> None:
    from app.core.sync.history import quarantined_records
    from app.sandbox.autotask.data import FOREIGN_CURRENCY_ID, INTERNAL_CURRENCY_ID

    prepare(engine)
    companies = [r["id"] for r in sandbox.records("Companies")]
    euro = next(c for c in companies if _invoices_of(sandbox, c))
    sandbox.change_record("Companies", euro, currencyID=FOREIGN_CURRENCY_ID)
    held = set(_invoices_of(sandbox, euro))
    client = client_for(sandbox)

    result = sync(engine, client)

    assert result.status is RunStatus.SUCCEEDED, result.error
    reasons = _reasons(engine)
    assert {key for key in reasons if key[0] == "Invoices"} == {("Invoices", i) for i in held}
    reason = reasons[("Invoices", min(held))]
    assert "The invoice is in EUR" in reason and "takes payments in USD only" in reason
    with session_scope(engine) as s:
        stored = set(s.scalars(select(Invoice.id)))
        organization = s.get(Organization, euro)
        assert organization is not None and organization.currency_id == FOREIGN_CURRENCY_ID
    assert not stored & held
    assert len(stored) == sandbox.count("Invoices") - len(held)
    fix = {q.record_id: q.fix for q in quarantined_records(engine)}[min(held)]
    assert "outside PayDesk" in fix

    # Billed in the internal currency again: the next full sync brings them back.
    sandbox.change_record("Companies", euro, currencyID=INTERNAL_CURRENCY_ID)
    assert sync(engine, client, full=True).status is RunStatus.SUCCEEDED
    assert _reasons(engine) == {}
    with session_scope(engine) as s:
        assert held <= set(s.scalars(select(Invoice.id)))


def test_the_currency_check_compares_with_paydesks_internal_currency(
        engine: Engine, sandbox: AutotaskSandbox) -> None:
    """PayDesk was set up in EUR while Autotask's own internal currency is USD: invoices of
    organizations without a currency of their own are billed in USD and held back; those of
    an organization billed in EUR are PayDesk's to take payments on."""
    from app.core.config import set_internal_currency
    from app.sandbox.autotask.data import FOREIGN_CURRENCY_ID

    set_internal_currency(engine, "EUR")
    companies = [r["id"] for r in sandbox.records("Companies")]
    euro = next(c for c in companies if _invoices_of(sandbox, c))
    sandbox.change_record("Companies", euro, currencyID=FOREIGN_CURRENCY_ID)
    in_euro = set(_invoices_of(sandbox, euro))
    every = {r["id"] for r in sandbox.records("Invoices")}

    result = sync(engine, client_for(sandbox))

    assert result.status is RunStatus.SUCCEEDED, result.error
    reasons = _reasons(engine)
    held = {key[1] for key in reasons if key[0] == "Invoices"}
    assert held == every - in_euro
    reason = reasons[("Invoices", min(held))]
    assert "The invoice is in USD" in reason and "takes payments in EUR only" in reason
    with session_scope(engine) as s:
        assert set(s.scalars(select(Invoice.id))) == in_euro


def test_a_record_without_an_id_is_quarantined_and_paging_goes_on(
        engine: Engine, sandbox: AutotaskSandbox) -> None:
    prepare(engine)
    invoices = [r["id"] for r in sandbox.records("Invoices")]
    # One inside a page, and the last record of the first full page (500 per page).
    blank = [invoices[3], invoices[499]]
    sandbox.faults.blank_ids = {"Invoices": blank}

    result = sync(engine, client_for(sandbox))

    assert result.status is RunStatus.SUCCEEDED, result.error
    with session_scope(engine) as s:
        stored = set(s.scalars(select(Invoice.id)))
        reasons = s.scalars(select(QuarantinedRecord.reason).where(
            QuarantinedRecord.entity == "Invoices")).all()
    assert stored == set(invoices) - set(blank)
    assert reasons and all(r == "the record has no valid id" for r in reasons)
