"""The QuickBooks Online sandbox's query language, without a server."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.sandbox.quickbooks_online.query import MAX_RESULTS, QueryError, parse_query

ENTITIES = {"invoice": "Invoice", "customer": "Customer"}
FIELDS = {"Invoice": {"id", "docnumber", "balance", "txndate", "customerref", "metadata"},
          "Customer": {"id", "displayname", "active"}}


def parse(text: str):  # type: ignore[no-untyped-def]
    return parse_query(text, lambda n: ENTITIES.get(n.lower()), lambda e: FIELDS[e])


def test_the_whole_grammar() -> None:
    q = parse("select * from INVOICE where Balance > '0' and DocNumber in ('1', 'O\\'Neil') "
              "and MetaData.LastUpdatedTime >= '2026-01-01T00:00:00-08:00' "
              "orderby TxnDate desc, Id startposition 11 maxresults 50")
    assert q.entity == "Invoice"
    assert [(c.field, c.op) for c in q.conditions] == [
        ("Balance", ">"), ("DocNumber", "in"), ("MetaData.LastUpdatedTime", ">=")]
    assert q.conditions[1].value == ("1", "O'Neil")
    assert q.order == [("TxnDate", True), ("Id", False)]
    assert (q.start, q.max_results) == (11, 50)
    assert parse("SELECT COUNT(*) FROM Customer WHERE Active = true").count is True
    assert parse("SELECT * FROM Invoice MAXRESULTS 5000").max_results == MAX_RESULTS


def test_matching_rules() -> None:
    record = {"Id": "12", "DocNumber": "1045", "Balance": Decimal("10.50"),
              "TxnDate": "2026-03-01", "CustomerRef": {"value": "7", "name": "Acme"},
              "MetaData": {"LastUpdatedTime": "2026-03-02T09:00:00-08:00"}}
    assert parse("SELECT * FROM Invoice WHERE CustomerRef = '7'").matches(record)
    assert parse("SELECT * FROM Invoice WHERE Balance >= '10.5'").matches(record)
    assert not parse("SELECT * FROM Invoice WHERE Balance > '10.50'").matches(record)
    assert parse("SELECT * FROM Invoice WHERE Id < '100'").matches(record)  # as numbers
    assert parse("SELECT * FROM Invoice WHERE TxnDate < '2026-03-02'").matches(record)
    assert parse("SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime > "
                 "'2026-03-02T16:59:59Z'").matches(record)
    assert parse("SELECT * FROM Invoice WHERE DocNumber LIKE '10%'").matches(record)
    assert not parse("SELECT * FROM Invoice WHERE DocNumber LIKE '%9'").matches(record)


@pytest.mark.parametrize(("text", "code"), [
    ("SELECT * FROM Invoice WHERE", "4000"),
    ("SELECT * FROM Invoice WHERE Balance > '0' OR Balance < '0'", "4000"),
    ("SELECT * FROM Invoice ORDERBY", "4000"),
    ("SELECT * FROM Invoice MAXRESULTS ten", "4000"),
    ("DELETE FROM Invoice", "4000"),
    ("SELECT * FROM Bill", "4001"),
    ("SELECT * FROM Invoice WHERE Colour = 'red'", "4001"),
])
def test_errors(text: str, code: str) -> None:
    with pytest.raises(QueryError) as raised:
        parse(text)
    assert raised.value.code == code
