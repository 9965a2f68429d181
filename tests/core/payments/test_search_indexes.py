"""Payment Search and Transactions find a payment by any part of its reference or gateway ids
from a trigram index, and sort by transaction id from an index, on SQLite and PostgreSQL.

Whether the index is used is read from the database's own query plan: a scan of every
payment gives the same rows, only a million times slower, so the rows alone cannot tell."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

from sqlalchemy import Engine, update

from app.core.payments import (
    PaymentSearchCriteria,
    SearchSort,
    SearchType,
    TransactionSort,
    payment_search_ids,
    transaction_ids,
)
from app.core.payments.fixtures import build_payment_history
from app.core.queries.payments import (
    PaymentSearchTotals,
    _search_ids_query,
    payment_search_first_page,
    payment_search_rows,
    payment_search_totals,
    refund_key,
    sale_key,
)
from app.core.storage.engine import session_scope
from app.core.storage.models import Organization, Payment, Refund
from app.core.storage.search import capabilities

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _ledger(engine: Engine) -> None:
    """Five sales (two without a gateway transaction id) and two refunds."""
    txns = {1: "ch_3PqXa9Lk2B", 2: "ch_7ZZxk0aaQ1", 3: None, 4: "pi_7ZZxk0bbR2", 5: None}
    with session_scope(engine) as s:
        for pid, txn in txns.items():
            s.add(Payment(
                id=pid, reference=f"PD-{pid:08d}", idempotency_key=f"k{pid}",
                organization_id=1, currency="USD", amount_minor=1_000, surcharge_minor=0,
                total_minor=1_000, gateway="stripe", state="succeeded",
                created_at=T0 + timedelta(days=pid), created_by="dana@frontdesk",
                gateway_transaction_id=txn,
                gateway_payment_id="cs_test_Hosted55" if pid == 5 else None))
        s.flush()
        s.add(Refund(id=1, payment_id=1, reference="RF-00000001", idempotency_key="r1",
                     amount_minor=500, kind="refund", state="succeeded",
                     gateway_refund_id="re_9Yw4Tt", created_at=T0 + timedelta(days=6),
                     created_by="dana@frontdesk"))
        s.add(Refund(id=2, payment_id=2, reference="RF-00000002", idempotency_key="r2",
                     amount_minor=300, kind="refund", state="succeeded",
                     gateway_refund_id=None, created_at=T0 + timedelta(days=7),
                     created_by="dana@frontdesk"))


def _found(engine: Engine, text: str) -> list[int]:
    return list(payment_search_ids(engine, PaymentSearchCriteria(transaction_id=text)))


def test_any_part_of_a_transaction_id_or_reference_finds_the_row(engine: Engine) -> None:
    _ledger(engine)
    # Inside the id, in another case; the refund of a matching payment comes with it.
    assert _found(engine, "pqxA9") == [refund_key(1), sale_key(1)]
    # Two payments share "7zzxk0"; the refund of payment 2 too.
    assert _found(engine, "7zzXK0") == [refund_key(2), sale_key(4), sale_key(2)]
    # A refund by its own gateway id, a payment by its hosted-page id, by its reference.
    assert _found(engine, "Yw4t") == [refund_key(1)]
    assert _found(engine, "hosted5") == [sale_key(5)]
    assert _found(engine, "00003") == [sale_key(3)]
    assert _found(engine, "RF-00000002") == [refund_key(2)]
    # Terms shorter than a trigram are matched too (by a scan).
    assert _found(engine, "aq") == [refund_key(2), sale_key(2)]
    assert _found(engine, "zzzz") == []
    totals = payment_search_totals(engine, PaymentSearchCriteria(transaction_id="7zzxk0"))
    assert (totals.sales, totals.refunds) == (2, 1)
    assert list(transaction_ids(engine, text="7ZZXK0")) == [4, 2]
    assert list(transaction_ids(engine, text="hosted55")) == [5]


def test_the_index_follows_changed_ids(engine: Engine) -> None:
    """A payment's transaction id arrives after it was recorded (the gateway answers later);
    the search finds the new id and no longer the old one."""
    _ledger(engine)
    with session_scope(engine) as s:
        s.execute(update(Payment).where(Payment.id == 3).values(
            gateway_transaction_id="ch_Arrived77"))
        s.execute(update(Payment).where(Payment.id == 1).values(
            gateway_transaction_id="ch_Replaced11"))
        s.execute(update(Refund).where(Refund.id == 2).values(gateway_refund_id="re_Late42"))
    assert _found(engine, "arrived7") == [sale_key(3)]
    assert _found(engine, "replaced1") == [refund_key(1), sale_key(1)]
    assert _found(engine, "3PqXa9") == []
    assert _found(engine, "late42") == [refund_key(2)]
    with session_scope(engine) as s:
        s.execute(update(Payment).where(Payment.id == 4).values(reference="PD-RENAMED"))
    assert _found(engine, "renamed") == [sale_key(4)]
    assert _found(engine, "PD-00000004") == []


def test_sorting_by_transaction_id_orders_ties_by_id(engine: Engine) -> None:
    """Sales without an id sort as "" (first when ascending), ties in the order of their ids
    and the refunds merged in by their own ids, the whole order reversed when descending."""
    _ledger(engine)
    ascending = list(payment_search_ids(engine, PaymentSearchCriteria(),
                                        sort=SearchSort.TRANSACTION_ID, descending=False))
    # "" (refund 2, sales 3 and 5: ties by the id of the row), ch_3…, ch_7…, pi_7…, re_9…
    assert ascending == [refund_key(2), sale_key(3), sale_key(5), sale_key(1), sale_key(2),
                         sale_key(4), refund_key(1)]
    descending = list(payment_search_ids(engine, PaymentSearchCriteria(),
                                         sort=SearchSort.TRANSACTION_ID))
    assert descending == ascending[::-1]
    first = list(payment_search_ids(engine, PaymentSearchCriteria(),
                                    sort=SearchSort.TRANSACTION_ID, descending=False, limit=2))
    assert first == ascending[:2]
    by_type = list(payment_search_ids(engine, PaymentSearchCriteria(), sort=SearchSort.TYPE,
                                      descending=False))
    assert by_type == [refund_key(1), refund_key(2)] + [sale_key(n) for n in range(1, 6)]


def _plan(engine: Engine, criteria: PaymentSearchCriteria, sort: SearchSort) -> str:
    """The database's plan for Payment Search's id query, with its parameters bound as the
    query runs them (a bound value in place of an indexed expression's constant would not
    match the index)."""
    with engine.connect() as connection:
        query = _search_ids_query(criteria, capabilities(connection), sort, True, None)
        compiled = query.compile(dialect=connection.dialect,
                                 compile_kwargs={"render_postcompile": True})
        if connection.dialect.name == "sqlite":
            positional = tuple(compiled.params[name] for name in compiled.positiontup or ())
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", positional).all()
            return "\n".join(str(row[-1]) for row in rows)
        # A handful of rows is cheaper to scan than to look up: ask for the plan an index
        # would give, as it does over a long history.
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        rows = connection.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params).all()
        return "\n".join(str(row[0]) for row in rows)


def test_the_search_and_the_sort_use_their_indexes(engine: Engine) -> None:
    _ledger(engine)
    by_text = _plan(engine, PaymentSearchCriteria(transaction_id="7zzxk0"), SearchSort.DATE)
    by_txn = _plan(engine, PaymentSearchCriteria(type=SearchType.SALE),
                   SearchSort.TRANSACTION_ID)
    if engine.dialect.name == "sqlite":
        assert "payments_fts" in by_text and "refunds_fts" in by_text, by_text
        assert "SCAN payments\n" not in by_text + "\n", by_text
    else:
        assert "ix_payments_search_trgm" in by_text and "ix_refunds_search_trgm" in by_text, (
            by_text)
    assert "ix_payments_transaction_sort" in by_txn, by_txn


def test_a_page_of_only_refunds_or_only_sales_reads_whole_rows(engine: Engine) -> None:
    """A page is one statement over sales and refunds; either may be missing from a page."""
    _ledger(engine)
    (refund,) = payment_search_rows(engine, [refund_key(1)])
    assert (refund.type, refund.payment_id, refund.reference, refund.transaction_id) == (
        SearchType.REFUND, 1, "RF-00000001", "re_9Yw4Tt")
    assert refund.refund_amount is not None and refund.refund_amount.minor == 500
    assert refund.sale_amount is None and refund.organization_name == "Organization 1"
    sale, hosted = payment_search_rows(engine, [sale_key(2), sale_key(5)])
    assert (sale.reference, sale.transaction_id, hosted.transaction_id) == (
        "PD-00000002", "ch_7ZZxk0aaQ1", "cs_test_Hosted55")
    assert sale.applied_amount is not None and sale.applied_amount.minor == 0
    assert payment_search_rows(engine, []) == []


def test_the_listing_shows_its_first_page_and_reads_the_rest_after(engine: Engine) -> None:
    """Payment Search's loader answers with a page of keys at once; the whole order and its
    totals come from ``rest`` (run by the table's model in a worker)."""
    from app.gui.payments.search import _search_listing
    from app.gui.widgets.lazy_table import PAGE_SIZE, Listing

    build_payment_history(engine, payments=PAGE_SIZE + 60, organizations=3)
    criteria = PaymentSearchCriteria()
    every = list(payment_search_ids(engine, criteria, sort=SearchSort.AMOUNT, descending=False))
    listing = _search_listing(engine, criteria, SearchSort.AMOUNT, False)
    assert list(listing.ids) == every[:PAGE_SIZE] and listing.info is None
    # The first page's rows come with its keys (the model does not fetch them again).
    assert listing.rows is not None and set(listing.rows) >= set(listing.ids)
    assert [listing.rows[key] for key in listing.ids] == payment_search_rows(
        engine, listing.ids)
    assert listing.rest is not None
    whole = listing.rest()
    assert isinstance(whole, Listing) and list(whole.ids) == every
    assert whole.info == payment_search_totals(engine, criteria)
    # A listing that fits in a page is complete at once; only its totals come after.
    one = _search_listing(engine, PaymentSearchCriteria(organization_id=2, type=SearchType.REFUND),
                          SearchSort.DATE, True)
    assert one.rest is not None and len(one.ids) < PAGE_SIZE
    rest = one.rest()
    assert isinstance(rest, Listing) and list(rest.ids) == list(one.ids)
    assert isinstance(rest.info, PaymentSearchTotals) and rest.info.refunds == len(one.ids)


def test_transactions_show_their_first_page_and_read_the_rest_after(engine: Engine) -> None:
    from app.gui.payments.transactions import _first_page_then_rest
    from app.gui.widgets.lazy_table import PAGE_SIZE, Listing

    build_payment_history(engine, payments=PAGE_SIZE + 40, organizations=7)
    for sort in (TransactionSort.AMOUNT, TransactionSort.ORGANIZATION):
        ids = partial(transaction_ids, engine, sort=sort, descending=False)
        every = list(ids())
        listing = _first_page_then_rest(ids)
        assert list(listing.ids) == every[:PAGE_SIZE] and listing.rest is not None
        rest = listing.rest()
        assert not isinstance(rest, Listing) and list(rest) == every
    small = _first_page_then_rest(partial(transaction_ids, engine, organization_id=3))
    assert small.rest is None and 0 < len(small.ids) < PAGE_SIZE


def test_transactions_sorted_by_organization_name_then_id(engine: Engine) -> None:
    """By the organization's name in the language-aware order (a payment whose organization is
    not known sorts as no name), ties by payment id; descending reverses it all."""
    with session_scope(engine) as s:
        for org_id, name in ((1, "Bright Path"), (2, "Bäckerei Ost"), (3, "acme")):
            s.add(Organization(id=org_id, name=name, synced_at=T0))
        for pid, org_id in ((1, 1), (2, 2), (3, 3), (4, 1), (5, 9), (6, 2)):
            s.add(Payment(
                id=pid, reference=f"PD-{pid:08d}", idempotency_key=f"k{pid}",
                organization_id=org_id, currency="USD", amount_minor=1_000, surcharge_minor=0,
                total_minor=1_000, gateway="stripe", state="succeeded", created_at=T0,
                created_by="dana@frontdesk"))
    ascending = list(transaction_ids(engine, sort=TransactionSort.ORGANIZATION,
                                     descending=False))
    # (unknown) 5; acme 3; Bäckerei 2, 6; Bright Path 1, 4.
    assert ascending == [5, 3, 2, 6, 1, 4]
    assert list(transaction_ids(engine, sort=TransactionSort.ORGANIZATION)) == ascending[::-1]
    for limit in (1, 2, 3, 5, 6, 9):  # a first page, across the unknown/known boundary
        assert list(transaction_ids(engine, sort=TransactionSort.ORGANIZATION,
                                    descending=False, limit=limit)) == ascending[:limit]
        assert list(transaction_ids(engine, sort=TransactionSort.ORGANIZATION,
                                    limit=limit)) == ascending[::-1][:limit]


def test_a_page_of_rows_is_one_statement(engine: Engine) -> None:
    """Scrolling reads a page of rows in one round trip on either screen (each statement is
    at least one; on a shared server each costs milliseconds)."""
    from sqlalchemy import event

    from app.core.payments import transaction_rows

    _ledger(engine)
    _found(engine, "warm")  # what the database has is looked up once per engine
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        search_page = payment_search_rows(
            engine, [refund_key(2), sale_key(5), refund_key(1), sale_key(1)])
        searched = len(statements)
        rows = transaction_rows(engine, [5, 4, 3, 2, 1])
        listed = len(statements)
        first, first_rows = payment_search_first_page(
            engine, PaymentSearchCriteria(transaction_id="7zzxk0"), limit=200)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert [row.key for row in search_page] == [refund_key(2), sale_key(5), refund_key(1),
                                                sale_key(1)]
    assert [row.payment_id for row in rows] == [5, 4, 3, 2, 1]
    assert searched == 1 and listed == 2 and len(statements) == 3, statements
    assert list(first) == [refund_key(2), sale_key(4), sale_key(2)]
    assert [first_rows[key].reference for key in first] == [
        "RF-00000002", "PD-00000004", "PD-00000002"]
