"""The QuickBooks screens' reads (``app.core.quickbooks.review``) against QuickBooks Desktop's
books as the Web Connector stand-in leaves them (over HTTP): which invoices Needs matching
lists, in which order, what a search finds, which QuickBooks invoices are offered first when
matching by hand, an invoice's QuickBooks link, and the connection's state."""

from __future__ import annotations

from sqlalchemy import Engine, select

from app.core.credentials import CredentialStore
from app.core.quickbooks.books import match_by_hand
from app.core.quickbooks.desktop.qwc import connect
from app.core.quickbooks.review import (
    MatchFilter,
    has_been_read,
    match_candidates,
    match_ids,
    match_rows,
    quickbooks_link,
    quickbooks_state,
)
from app.core.storage.engine import session_scope
from app.core.storage.models import Invoice, QuickBooksInvoiceMatch
from tests.integration.quickbooks_desktop.support import open_desk

SOURCE = "desktop"


def test_needs_matching_reads(engine: Engine) -> None:
    credentials = CredentialStore("review-tests")
    assert quickbooks_state(engine, credentials).source is None
    with open_desk(engine) as desk:
        assert not has_been_read(engine, SOURCE)
        desk.connector().update()
        connect(engine, app_url=desk.server.url)
        assert has_been_read(engine, SOURCE)
        state = quickbooks_state(engine, credentials)
        assert state.source == SOURCE and state.problem is None
        assert state.company_name == "Northwind IT Services LLC"

        seeded = desk.company.disagreements
        unmatched = match_ids(engine, SOURCE)
        assert set(seeded.not_exported) <= set(unmatched)
        rows = match_rows(engine, SOURCE, unmatched)
        dates = [rows[i].invoice_date for i in unmatched]
        assert dates == sorted(dates, reverse=True)  # newest first
        assert all(rows[i].remote_id is None and rows[i].reason for i in unmatched)
        number = rows[unmatched[0]].invoice_number
        assert match_ids(engine, SOURCE, search=number) == [unmatched[0]]
        # Search text is literal: % and _ match only themselves; a NUL is dropped (PostgreSQL
        # would refuse it), never an error.
        assert match_ids(engine, SOURCE, search="%") == []
        assert match_ids(engine, SOURCE, search="_") == []
        assert match_ids(engine, SOURCE, search=number[:1] + "\x00" + number[1:]) == [
            unmatched[0]]
        assert match_candidates(engine, SOURCE, unmatched[0], "%") == []
        assert match_candidates(engine, SOURCE, unmatched[0], "\x00") != []
        assert match_ids(engine, SOURCE, sort="invoice_number", descending=False) == sorted(
            unmatched, key=lambda i: (rows[i].invoice_number, i))

        # Matching by hand: the likeliest QuickBooks invoices first; then it is listed as
        # matched by hand, and the invoice's link names the QuickBooks number and balance.
        target = unmatched[0]
        candidates = match_candidates(engine, SOURCE, target)
        assert candidates
        rank = {"Same customer, date and total": 3, "Same date and total": 2,
                "Same customer": 1, "": 0}
        ranks = [rank[c.likeness] for c in candidates]
        assert ranks == sorted(ranks, reverse=True) and ranks[0] > 0
        with session_scope(engine) as s:
            organization = s.scalar(select(Invoice.organization_id).where(Invoice.id == target))
            renamed = organization in desk.company.disagreements.renamed_customers
        assert renamed or candidates[0].likeness.startswith("Same customer")
        chosen = candidates[0]
        match_by_hand(engine, SOURCE, target, chosen.remote_id, actor="test")
        assert target not in match_ids(engine, SOURCE)
        assert match_ids(engine, SOURCE, MatchFilter.MATCHED_BY_HAND) == [target]
        row = match_rows(engine, SOURCE, [target])[target]
        assert row.remote_id == chosen.remote_id and row.how == "By hand (test)"
        link = quickbooks_link(engine, target)
        assert link is not None and link.remote_id == chosen.remote_id
        assert link.doc_number == chosen.doc_number and link.url is None  # Desktop: no web app
        assert link.balance_minor == chosen.balance_minor

        # Voided invoices need no QuickBooks twin.
        with session_scope(engine) as s:
            voided = set(s.scalars(select(Invoice.id).where(Invoice.is_voided.is_(True))))
            unmatched_voided = set(s.scalars(select(QuickBooksInvoiceMatch.invoice_id).where(
                QuickBooksInvoiceMatch.source == SOURCE,
                QuickBooksInvoiceMatch.remote_id.is_(None),
                QuickBooksInvoiceMatch.invoice_id.in_(voided))))
        assert not unmatched_voided & set(match_ids(engine, SOURCE))
