"""The QuickBooks read and the matching pass against the sandboxes: every kind of seeded
disagreement ends where a bookkeeper expects it, reads resume, and CDC keeps it current."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import Engine, select

from app.core.credentials import CredentialStore
from app.core.quickbooks.books import SOURCE_ONLINE, MatchMethod, match_for
from app.core.quickbooks.online.read import read_quickbooks_online
from app.core.quickbooks.reconcile import reconcile
from app.core.storage.engine import session_scope
from app.core.storage.models import QuickBooksInvoice, QuickBooksSyncState
from tests.integration.quickbooks_online.qbo_support import (
    USD,
    client_for,
    count_rows,
    sandboxes,
    store_connection,
    sync_autotask,
)


def test_seeded_disagreements_are_matched_or_explained(engine: Engine) -> None:
    credentials = CredentialStore("matching")
    with sandboxes() as (autotask, quickbooks):
        sync_autotask(engine, autotask)
        store_connection(engine, credentials, quickbooks)
        with client_for(engine, credentials) as client:
            result = read_quickbooks_online(engine, client)
        assert result.full == ["Customer", "Invoice"]
        assert count_rows(engine, QuickBooksInvoice) == len(quickbooks.store.ids("Invoice"))
        assert result.match is not None and result.match.by_number > 0
        seeded = quickbooks.disagreements()
        kinds = {d["kind"] for d in seeded}
        assert {"not_exported", "customer_renamed", "invoice_edited", "paid_in_quickbooks",
                "number_differs"} <= kinds
        expected_rows: dict[int, str] = {}
        for d in seeded:
            match = match_for(engine, SOURCE_ONLINE, d["autotask_invoice_id"])
            assert match is not None, d
            if d["kind"] == "not_exported":
                assert match.remote_id is None and "Not in QuickBooks" in (match.reason or "")
                expected_rows[d["autotask_invoice_id"]] = "not_in_quickbooks"
            elif d["kind"] == "number_differs":
                assert (match.remote_id, match.method) == (
                    d["quickbooks_invoice_id"], MatchMethod.BY_CUSTOMER_DATE_TOTAL), d
            else:
                assert (match.remote_id, match.method) == (
                    d["quickbooks_invoice_id"], MatchMethod.BY_NUMBER), d
            if d["kind"] == "invoice_edited":
                expected_rows[d["autotask_invoice_id"]] = "amounts_differ"
            if d["kind"] == "paid_in_quickbooks":
                expected_rows[d["autotask_invoice_id"]] = "paid_in_quickbooks"
        # The reconciliation lists exactly the seeded disagreements, each with its reason.
        report = reconcile(engine, SOURCE_ONLINE, USD)
        got = {row.invoice_id: {x.code for x in row.disagreements} for row in report.rows}
        assert got == {i: {code} for i, code in expected_rows.items()}


def test_a_stopped_first_read_resumes_and_cdc_keeps_it_current(engine: Engine) -> None:
    credentials = CredentialStore("resume")
    with sandboxes() as (autotask, quickbooks):
        sync_autotask(engine, autotask)
        store_connection(engine, credentials, quickbooks)
        cancel = threading.Event()

        def stop_after_first_invoice_page(entity: str, count: int) -> None:
            if entity == "Invoice" and count >= 50:
                cancel.set()

        with client_for(engine, credentials) as client:
            first = read_quickbooks_online(engine, client, cancel=cancel, page_size=50,
                                           on_progress=stop_after_first_invoice_page)
            assert first.match is None  # stopped before matching
            with session_scope(engine) as s:
                state = s.get(QuickBooksSyncState, (SOURCE_ONLINE, "Invoice"))
                assert state is not None and state.phase == "full"
                assert state.next_position == 51
            total = len(quickbooks.store.ids("Invoice"))
            before = client.request_count
            second = read_quickbooks_online(engine, client, page_size=50)
            # Resumed at 51: the remaining invoice pages only (the last one comes back short),
            # and one change-data-capture request for the customers, already read in full.
            assert client.request_count - before == (total - 50) // 50 + 1 + 1
            assert second.read["Invoice"] == total - 50
            assert count_rows(engine, QuickBooksInvoice) == total

            # An invoice exported later arrives through change data capture.
            waiting = next(d for d in quickbooks.disagreements() if d["kind"] == "not_exported")
            exported = quickbooks.export_invoice(waiting["autotask_invoice_number"])
            third = read_quickbooks_online(engine, client)
            assert third.incremental and not third.full
            match = match_for(engine, SOURCE_ONLINE, waiting["autotask_invoice_id"])
            assert match is not None and match.remote_id == str(exported["Id"])
            assert match.method == MatchMethod.BY_NUMBER

            # A last read older than CDC reaches back means a full read again.
            with session_scope(engine) as s:
                for state in s.scalars(select(QuickBooksSyncState)):
                    assert state.watermark is not None
                    state.watermark -= timedelta(days=31)
            fourth = read_quickbooks_online(engine, client)
            assert fourth.full == ["Customer", "Invoice"] and not fourth.incremental
