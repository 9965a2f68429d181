"""Matching Autotask invoices to QuickBooks invoices, by hand decisions, and reconciliation —
on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Engine, select

from app.core.config import set_internal_currency
from app.core.quickbooks.books import (
    SOURCE_ONLINE,
    InvoiceRecord,
    MatchMethod,
    find_quickbooks_invoices,
    forget_hand_decision,
    match_by_hand,
    match_for,
    match_invoices,
    needs_matching,
    unmatch_by_hand,
    unmatched_count,
    upsert_invoices,
)
from app.core.quickbooks.reconcile import reconcile
from app.core.storage.engine import session_scope
from app.core.storage.models import AuditEntry, Invoice, Organization

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _org(session, org_id: int, name: str) -> None:  # type: ignore[no-untyped-def]
    session.add(Organization(id=org_id, name=name, is_active=True, synced_at=NOW))


def _inv(session, inv_id: int, number: str, org_id: int, day: date, total: int,  # type: ignore[no-untyped-def]
         *, exported: bool = True, balance: int | None = None, paid: bool = False,
         voided: bool = False) -> None:
    session.add(Invoice(
        id=inv_id, organization_id=org_id, invoice_number=number, invoice_date=day,
        total_minor=total, tax_minor=0, is_voided=voided, synced_at=NOW,
        web_service_date=NOW if exported else None, paid_date=day if paid else None,
        amount_paid_minor=total - (total if balance is None else balance),
        balance_minor=total if balance is None else balance,
        status="paid" if paid else "open"))


def _qb(remote_id: str, doc: str | None, customer: str, day: date, total: int,
        balance: int | None = None) -> InvoiceRecord:
    return InvoiceRecord(remote_id=remote_id, doc_number=doc, customer_id="c-" + customer,
                         customer_name=customer, txn_date=day, due_date=None,
                         total_minor=total, balance_minor=total if balance is None else balance,
                         currency="USD")


D1 = date(2026, 1, 5)
D2 = date(2026, 1, 6)


def _seed(engine: Engine) -> None:
    set_internal_currency(engine, "USD")
    with session_scope(engine) as s:
        _org(s, 1, "Acme Corp")
        _org(s, 2, "Globex  Inc")
        _org(s, 3, "Initech")
        _inv(s, 101, "1001", 1, D1, 10_000)                  # by number
        _inv(s, 102, "1002", 2, D1, 20_000)                  # number changed in QuickBooks
        _inv(s, 103, "1003", 3, D2, 5_000, exported=False)   # not exported yet
        _inv(s, 104, "1004", 1, D2, 7_000)                   # two QuickBooks invoices carry 1004
        _inv(s, 105, "1005", 3, D1, 3_000)                   # two candidates by customer/date/total
        _inv(s, 106, "1006", 1, D1, 4_000)                   # edited in QuickBooks (total differs)
        _inv(s, 107, "1007", 2, D2, 6_000)                   # paid in QuickBooks directly
        _inv(s, 108, "1008", 3, D2, 8_000, balance=0, paid=True)  # paid everywhere
        _inv(s, 109, "1009", 3, D2, 9_000, voided=True)       # voided before export
        _inv(s, 110, "1010", 2, D2, 2_000, balance=0)         # paid in PayDesk only
    with session_scope(engine) as s:
        upsert_invoices(s, SOURCE_ONLINE, [
            _qb("9001", "1001", "Acme Corp", D1, 10_000),
            _qb("9002", "QB-77", "globex inc", D1, 20_000),
            _qb("9004a", "1004", "Acme Corp", D2, 7_000),
            _qb("9004b", "1004", "Acme Corp", D2, 7_000),
            _qb("9005a", None, "Initech", D1, 3_000),
            _qb("9005b", None, "Initech", D1, 3_000),
            _qb("9006", "1006", "Acme Corp", D1, 4_500, balance=4_500),
            _qb("9007", "1007", "Globex Inc", D2, 6_000, balance=0),
            _qb("9008", "1008", "Initech", D2, 8_000, balance=0),
            _qb("9010", "1010", "Globex Inc", D2, 2_000),
        ], NOW)


def test_matching_by_number_then_customer_date_total_never_guesses(engine: Engine) -> None:
    _seed(engine)
    report = match_invoices(engine, SOURCE_ONLINE, currency="USD", now=NOW)
    assert report.by_number == 5  # 1001, 1006, 1007, 1008, 1010
    assert report.by_customer_date_total == 1  # 1002, renamed number; name compared loosely
    assert report.unmatched == 3
    m = {i: match_for(engine, SOURCE_ONLINE, i) for i in range(101, 110)}
    assert m[109] is None  # voided and never exported: nothing to match or list
    assert m[101] and m[101].remote_id == "9001" and m[101].method == MatchMethod.BY_NUMBER
    assert m[102] and m[102].remote_id == "9002"
    assert m[102].method == MatchMethod.BY_CUSTOMER_DATE_TOTAL
    assert m[103] and m[103].remote_id is None and "Not in QuickBooks" in (m[103].reason or "")
    assert m[104] and m[104].remote_id is None and "2 QuickBooks invoices have number 1004" in (
        m[104].reason or "")
    assert m[105] and m[105].remote_id is None and "2 QuickBooks invoices are for Initech" in (
        m[105].reason or "")
    with session_scope(engine) as s:
        inv = s.get(Invoice, 102)
        assert inv is not None and (inv.qb_invoice_id, inv.qb_doc_number) == ("9002", "QB-77")
        assert s.get(Invoice, 104).qb_doc_number is None  # type: ignore[union-attr]
    unmatched = {u.invoice_id: u for u in needs_matching(engine, SOURCE_ONLINE)}
    assert set(unmatched) == {103, 104, 105}
    assert unmatched_count(engine, SOURCE_ONLINE) == 3
    # A second pass changes nothing.
    assert match_invoices(engine, SOURCE_ONLINE, currency="USD", now=NOW).changed == 0


def test_hand_decisions_are_audited_and_survive_automatic_passes(engine: Engine) -> None:
    _seed(engine)
    match_invoices(engine, SOURCE_ONLINE, currency="USD", now=NOW)
    match_by_hand(engine, SOURCE_ONLINE, 104, "9004b", actor="ann@desk")
    unmatch_by_hand(engine, SOURCE_ONLINE, 101, actor="ann@desk", reason="Wrong client")
    match_invoices(engine, SOURCE_ONLINE, currency="USD", now=NOW)
    m104 = match_for(engine, SOURCE_ONLINE, 104)
    assert m104 and m104.remote_id == "9004b" and m104.by_hand and m104.decided_by == "ann@desk"
    m101 = match_for(engine, SOURCE_ONLINE, 101)
    assert m101 and m101.remote_id is None and m101.by_hand and m101.reason == "Wrong client"
    with session_scope(engine) as s:
        assert s.get(Invoice, 104).qb_doc_number == "1004"  # type: ignore[union-attr]
        assert s.get(Invoice, 101).qb_invoice_id is None  # type: ignore[union-attr]
        actions = [a for (a,) in s.execute(select(AuditEntry.action).where(
            AuditEntry.actor == "ann@desk"))]
    assert sorted(actions) == ["quickbooks.match_by_hand", "quickbooks.unmatch_by_hand"]
    # What the Needs matching view offers for 1004: both QuickBooks invoices numbered 1004.
    offered = find_quickbooks_invoices(engine, SOURCE_ONLINE, text="1004")
    assert {(o.remote_id, o.matched_invoice_id) for o in offered} == {
        ("9004a", None), ("9004b", 104)}
    assert [o.remote_id for o in find_quickbooks_invoices(
        engine, SOURCE_ONLINE, text="initech", total_minor=3_000)] == ["9005a", "9005b"]
    # Literal: % and _ find nothing here; a NUL is dropped, never sent to the database.
    assert find_quickbooks_invoices(engine, SOURCE_ONLINE, text="%") == []
    assert find_quickbooks_invoices(engine, SOURCE_ONLINE, text="1_04") == []
    assert {o.remote_id for o in find_quickbooks_invoices(
        engine, SOURCE_ONLINE, text="10\x0004")} == {"9004a", "9004b"}
    forget_hand_decision(engine, SOURCE_ONLINE, 101, actor="ann@desk")
    match_invoices(engine, SOURCE_ONLINE, currency="USD", now=NOW)
    again = match_for(engine, SOURCE_ONLINE, 101)
    assert again and again.remote_id == "9001" and not again.by_hand


def test_reconcile_lists_only_disagreements_with_why(engine: Engine) -> None:
    _seed(engine)
    match_invoices(engine, SOURCE_ONLINE, currency="USD", now=NOW)
    report = reconcile(engine, SOURCE_ONLINE, "USD")
    by_id = {row.invoice_id: {d.code for d in row.disagreements} for row in report.rows}
    assert by_id == {
        103: {"not_in_quickbooks"},
        104: {"not_matched"},
        105: {"not_matched"},
        106: {"amounts_differ"},
        107: {"paid_in_quickbooks"},
        110: {"quickbooks_shows_less_paid"},
    }
    row106 = next(r for r in report.rows if r.invoice_id == 106)
    assert row106.quickbooks_total_minor == 4_500 and row106.autotask_total_minor == 4_000
    assert report.as_json()["counts"]["not_matched"] == 2
