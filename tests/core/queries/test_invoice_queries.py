"""Invoice History and Organization view queries on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine, select, update

from app.core.config import set_internal_currency
from app.core.invoice_state import InvoiceStatus
from app.core.queries.fixtures import build_ledger
from app.core.queries.invoices import (
    InvoiceColumn,
    InvoiceQuery,
    invoice_detail,
    invoice_first_page,
    invoice_ids,
    invoice_rows,
    invoice_totals,
)
from app.core.queries.organizations import (
    OrganizationColumn,
    OrganizationQuery,
    organization_detail,
    organization_ids,
    organization_rows,
)
from app.core.storage.engine import session_scope
from app.core.storage.models import Invoice, Organization

TODAY = date(2026, 11, 20)


@pytest.fixture
def ledger(engine: Engine) -> Engine:
    set_internal_currency(engine, "USD", actor="test")
    build_ledger(engine, organizations=40, invoices=600, today=TODAY)
    return engine


def _all(engine: Engine) -> list[Invoice]:
    with session_scope(engine) as s:
        return list(s.scalars(select(Invoice)))


def test_days_overdue_counts_from_the_due_date_for_what_is_still_owed(ledger: Engine) -> None:
    with ledger.connect() as c:
        ids = invoice_ids(c, InvoiceQuery(show_paid=True, sort=InvoiceColumn.DAYS_OVERDUE,
                                          descending=True), TODAY)
        rows = invoice_rows(c, ids, TODAY)
    listed = [rows[i] for i in ids]
    overdue = [r for r in listed if r.status is InvoiceStatus.OVERDUE]
    assert overdue, "the ledger has overdue invoices"
    for row in listed:
        if row.status is InvoiceStatus.OVERDUE:
            assert row.due_date is not None
            assert row.days_overdue == (TODAY - row.due_date).days > 0
        else:
            assert row.days_overdue is None
    # Most days overdue first, then everything that is not overdue.
    days = [r.days_overdue or 0 for r in listed]
    assert days == sorted(days, reverse=True)
    assert listed[0].days_overdue == max(r.days_overdue or 0 for r in listed)


def test_default_view_lists_only_what_is_owed_newest_first(ledger: Engine) -> None:
    with ledger.connect() as c:
        ids = invoice_ids(c, InvoiceQuery(), TODAY)
        rows = invoice_rows(c, ids, TODAY)
    owed = [i for i in _all(ledger) if i.status in ("open", "partially_paid")]
    assert sorted(ids) == sorted(i.id for i in owed)
    dates = [(rows[i].invoice_date, i) for i in ids]
    assert dates == sorted(dates, reverse=True)
    assert all(rows[i].balance_minor > 0 for i in ids)


@pytest.mark.parametrize("column", list(InvoiceColumn))
def test_every_column_sorts_stably_with_id_tie_break(ledger: Engine, column: InvoiceColumn) -> None:
    with ledger.connect() as c:
        asc = invoice_ids(c, InvoiceQuery(show_paid=True, sort=column, descending=False), TODAY)
        desc = invoice_ids(c, InvoiceQuery(show_paid=True, sort=column, descending=True), TODAY)
        rows = invoice_rows(c, asc, TODAY)
    assert len(asc) == 600 and sorted(asc) == sorted(desc)
    assert asc == list(reversed(desc))
    key = {
        InvoiceColumn.TOTAL: lambda r: r.total_minor,
        InvoiceColumn.BALANCE: lambda r: r.balance_minor,
        InvoiceColumn.PAID: lambda r: r.amount_paid_minor,
        InvoiceColumn.ORGANIZATION: lambda r: r.organization_name,
        # Most urgent first: Overdue, Partially paid, Open, Paid, Void.
        InvoiceColumn.STATUS: lambda r: [
            InvoiceStatus.OVERDUE,
            InvoiceStatus.PARTIALLY_PAID,
            InvoiceStatus.OPEN,
            InvoiceStatus.PAID,
            InvoiceStatus.VOID,
        ].index(r.status),
        InvoiceColumn.TERMS: lambda r: r.payment_terms or "",
        InvoiceColumn.DAYS_OVERDUE: lambda r: r.days_overdue or 0,
    }.get(column)
    if key is not None:
        values = [key(rows[i]) for i in asc]
        assert values == sorted(values)


def test_search_matches_number_organization_and_quickbooks_number(ledger: Engine) -> None:
    with session_scope(ledger) as s:
        target = s.scalars(select(Invoice).order_by(Invoice.id).limit(1)).one()
        s.execute(update(Invoice).where(Invoice.id == target.id).values(qb_doc_number="QB-77_1"))
        org_name = s.get(Organization, target.organization_id).name  # type: ignore[union-attr]
    with ledger.connect() as c:
        by_qb = invoice_ids(c, InvoiceQuery(search="qb-77_1", show_paid=True), TODAY)
        by_number = invoice_ids(
            c, InvoiceQuery(search=target.invoice_number or "", show_paid=True), TODAY
        )
        by_org = invoice_ids(c, InvoiceQuery(search=org_name.upper(), show_paid=True), TODAY)
        wildcard = invoice_ids(c, InvoiceQuery(search="%", show_paid=True), TODAY)
        rows = invoice_rows(c, by_org, TODAY)
    assert by_qb == [target.id]
    assert target.id in by_number
    assert target.id in by_org and all(r.organization_name == org_name for r in rows.values())
    assert wildcard == []  # % is a character to look for, not a wildcard


def test_status_filters_and_overdue(ledger: Engine) -> None:
    with ledger.connect() as c:
        overdue = invoice_rows(
            c, invoice_ids(c, InvoiceQuery(status=InvoiceStatus.OVERDUE), TODAY), TODAY
        )
        open_ = invoice_rows(
            c, invoice_ids(c, InvoiceQuery(status=InvoiceStatus.OPEN), TODAY), TODAY
        )
        paid = invoice_ids(c, InvoiceQuery(status=InvoiceStatus.PAID), TODAY)
    assert overdue and all(r.status is InvoiceStatus.OVERDUE for r in overdue.values())
    assert all(r.due_date is not None and r.due_date < TODAY for r in overdue.values())
    assert open_ and all(r.status is InvoiceStatus.OPEN for r in open_.values())
    assert len(paid) > 300  # asking for Paid shows them even with Show paid off


def test_date_range_and_organization_filters(ledger: Engine) -> None:
    start, end = date(2026, 1, 1), date(2026, 3, 31)
    with ledger.connect() as c:
        ids = invoice_ids(c, InvoiceQuery(show_paid=True, date_from=start, date_to=end), TODAY)
        rows = invoice_rows(c, ids, TODAY)
        org = next(iter(rows.values())).organization_id
        mine = invoice_ids(c, InvoiceQuery(show_paid=True, organization_id=org), TODAY)
        mine_rows = invoice_rows(c, mine, TODAY)
    assert ids and all(start <= r.invoice_date <= end for r in rows.values())  # type: ignore[operator]
    assert mine and all(r.organization_id == org for r in mine_rows.values())


def test_totals_are_one_aggregate_of_the_filtered_set(ledger: Engine) -> None:
    invoices = _all(ledger)
    owed = [i for i in invoices if i.status in ("open", "partially_paid")]
    with ledger.connect() as c:
        totals = invoice_totals(c, InvoiceQuery(), TODAY)
        everything = invoice_totals(c, InvoiceQuery(show_paid=True), TODAY)
    assert totals.count == len(owed)
    assert totals.total_minor == sum(i.total_minor for i in owed)
    assert totals.balance_minor == sum(i.balance_minor for i in owed)
    assert everything.count == 600


def test_invoice_detail_lines_add_up_and_ledger_payments_are_listed(ledger: Engine) -> None:
    with ledger.connect() as c:
        partial = invoice_ids(c, InvoiceQuery(status=InvoiceStatus.PARTIALLY_PAID), TODAY)
        partial += invoice_ids(c, InvoiceQuery(status=InvoiceStatus.OVERDUE), TODAY)
    with session_scope(ledger) as s:
        details = [invoice_detail(s, i, TODAY) for i in partial]
        assert invoice_detail(s, 1, TODAY) is None
    with_payment = [d for d in details if d is not None and d.payments]
    assert with_payment
    detail = with_payment[0]
    assert detail.lines_add_up and detail.lines
    assert detail.lines_amount + detail.lines_tax == detail.total
    assert sum(p.amount_minor for p in detail.payments) == detail.row.amount_paid_minor
    assert detail.payments[0].reference.startswith("PD-")
    assert detail.payments[0].posting_status in ("Posted", "Waiting to post")


def test_organization_list_balances_and_sorting(ledger: Engine) -> None:
    invoices = _all(ledger)
    with ledger.connect() as c:
        by_balance = organization_ids(
            c, OrganizationQuery(sort=OrganizationColumn.OPEN_BALANCE, descending=True), TODAY
        )
        rows = organization_rows(c, by_balance, TODAY)
        found = organization_ids(c, OrganizationQuery(search=rows[by_balance[0]].name[:6]), TODAY)
    assert len(by_balance) == 40
    balances = [rows[i].open_balance_minor for i in by_balance]
    assert balances == sorted(balances, reverse=True)
    top = rows[by_balance[0]]
    expected = sum(
        i.balance_minor
        for i in invoices
        if i.organization_id == top.id and i.status in ("open", "partially_paid")
    )
    overdue = sum(
        i.balance_minor
        for i in invoices
        if i.organization_id == top.id
        and i.status in ("open", "partially_paid")
        and i.due_date is not None
        and i.due_date < TODAY
    )
    assert top.open_balance_minor == expected and top.overdue_minor == overdue
    assert top.id in found
    with session_scope(ledger) as s:
        detail = organization_detail(s, top.id, TODAY)
    assert detail is not None and detail.contacts and detail.contracts
    assert all(c.email for c in detail.contacts)


@pytest.mark.parametrize("descending", [False, True])
def test_terms_not_synced_and_missing_due_dates_sort_with_their_kind(
    ledger: Engine, descending: bool
) -> None:
    """Invoices whose terms were not synced sort with those without terms (merged by id);
    invoices without a due date are never overdue. The first page agrees with the whole
    order."""
    with ledger.connect() as c:
        ids = invoice_ids(c, InvoiceQuery(show_paid=True), TODAY)
    dangling, no_terms, no_due = ids[5], ids[9], ids[13]
    with session_scope(ledger) as s:
        s.execute(update(Invoice).where(Invoice.id == dangling).values(payment_term_id=987_654))
        s.execute(update(Invoice).where(Invoice.id == no_terms).values(payment_term_id=None))
        s.execute(update(Invoice).where(Invoice.id == no_due).values(due_date=None))
    with ledger.connect() as c:
        query = InvoiceQuery(show_paid=True, sort=InvoiceColumn.TERMS, descending=descending)
        by_terms = invoice_ids(c, query, TODAY)
        rows = invoice_rows(c, by_terms, TODAY)
        without = sorted(i for i in by_terms if rows[i].payment_terms is None)
        assert {dangling, no_terms} <= set(without)
        expected = list(reversed(without)) if descending else without
        placed = by_terms[-len(without):] if descending else by_terms[: len(without)]
        assert placed == expected
        for size in (1, 2, len(without) + 3):
            assert invoice_ids(c, query, TODAY, limit=size) == by_terms[:size]
        query = InvoiceQuery(show_paid=True, sort=InvoiceColumn.DAYS_OVERDUE,
                             descending=descending)
        by_days = invoice_ids(c, query, TODAY)
        assert sorted(by_days) == sorted(by_terms)
        assert invoice_rows(c, [no_due], TODAY)[no_due].days_overdue is None
        for size in (1, 50, 599):
            assert invoice_ids(c, query, TODAY, limit=size) == by_days[:size]


@pytest.mark.parametrize("descending", [False, True])
def test_invoices_of_organizations_not_synced_sort_last_by_organization(
    ledger: Engine, descending: bool
) -> None:
    with ledger.connect() as c:
        ids = invoice_ids(c, InvoiceQuery(show_paid=True), TODAY)
    strays = sorted(ids[3:6])
    with session_scope(ledger) as s:
        s.execute(update(Invoice).where(Invoice.id.in_(strays[:2])).values(organization_id=987_654))
        s.execute(update(Invoice).where(Invoice.id == strays[2]).values(organization_id=987_650))
    query = InvoiceQuery(show_paid=True, sort=InvoiceColumn.ORGANIZATION, descending=descending)
    with ledger.connect() as c:
        ordered = invoice_ids(c, query, TODAY)
        # Last either way, by organization id then invoice id in the sort's direction.
        expected = [strays[2], *strays[:2]]
        assert ordered[-3:] == (expected[::-1] if descending else expected)
        assert sorted(ordered) == sorted(ids)
        for size in (1, 597, 598, 600):
            assert invoice_first_page(c, query, TODAY, size).ids == ordered[:size]
