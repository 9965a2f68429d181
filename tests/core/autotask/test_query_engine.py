"""The sandbox's query engine: Autotask's filter language, checked without any HTTP."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from app.sandbox.autotask.query import CompiledQuery, QueryError, compile_query
from app.sandbox.autotask.schema import EntitySchema, entity_schema


def _schema(name: str) -> EntitySchema:
    schema = entity_schema(name)
    assert schema is not None
    return schema


INVOICES = _schema("invoices")
COMPANIES = _schema("Companies")

ROWS: list[dict[str, Any]] = [
    {"id": 10, "invoiceNumber": "1000", "companyID": 5, "isVoided": False,
     "invoiceTotal": Decimal("100.00"), "paidDate": "2024-01-10T00:00:00",
     "taxRegionName": "Québec GST+QST", "invoiceDateTime": "2024-01-01T00:00:00"},
    {"id": 11, "invoiceNumber": "1001", "companyID": 6, "isVoided": True,
     "invoiceTotal": Decimal("250.50"), "paidDate": None,
     "taxRegionName": "Texas", "invoiceDateTime": "2024-02-01T10:00:00.1234567Z"},
    {"id": 13, "invoiceNumber": "2001", "companyID": 5, "isVoided": False,
     "invoiceTotal": Decimal("99.99"), "paidDate": "2024-03-02T00:00:00",
     "taxRegionName": None, "invoiceDateTime": "2024-03-01T00:00:00.5"},
]


def _ids(query: CompiledQuery) -> list[int]:
    return [row["id"] for row in ROWS if query.predicate(row)]


def _run(*filters: dict[str, Any]) -> list[int]:
    return _ids(compile_query(INVOICES, {"Filter": list(filters)}))


@pytest.mark.parametrize(("flt", "expected"), [
    ({"op": "eq", "field": "companyID", "value": 5}, [10, 13]),
    ({"op": "noteq", "field": "companyID", "value": 5}, [11]),
    ({"op": "gt", "field": "id", "value": 10}, [11, 13]),
    ({"op": "gte", "field": "id", "value": 11}, [11, 13]),
    ({"op": "lt", "field": "invoiceTotal", "value": 100}, [13]),
    ({"op": "lte", "field": "invoiceTotal", "value": "100.00"}, [10, 13]),
    ({"op": "beginsWith", "field": "invoiceNumber", "value": "10"}, [10, 11]),
    ({"op": "endsWith", "field": "invoiceNumber", "value": "01"}, [11, 13]),
    ({"op": "contains", "field": "taxRegionName", "value": "QUÉBEC"}, [10]),
    ({"op": "exist", "field": "paidDate"}, [10, 13]),
    ({"op": "notExist", "field": "paidDate"}, [11]),
    ({"op": "in", "field": "id", "value": [11, 13, 99]}, [11, 13]),
    ({"op": "notIn", "field": "id", "value": [11]}, [10, 13]),
    ({"op": "eq", "field": "isVoided", "value": True}, [11]),
    ({"op": "gt", "field": "invoiceDateTime", "value": "2024-02-01T10:00:00Z"}, [11, 13]),
    ({"op": "gt", "field": "invoiceDateTime", "value": "2024-02-01T10:00:00.2"}, [13]),
    ({"op": "lt", "field": "paidDate", "value": "2024-02-01"}, [10]),
])
def test_each_operator(flt: dict[str, Any], expected: list[int]) -> None:
    assert _run(flt) == expected


def test_and_or_groups_and_top_level_and() -> None:
    assert _run({"op": "or", "items": [
        {"op": "eq", "field": "id", "value": 10},
        {"op": "and", "items": [{"op": "eq", "field": "companyID", "value": 5},
                                {"op": "gt", "field": "invoiceTotal", "value": 100}]},
    ]}) == [10]
    assert _run({"op": "eq", "field": "companyID", "value": 5},
                {"op": "gt", "field": "id", "value": 10}) == [13]


def test_field_names_and_keys_are_case_insensitive() -> None:
    query = compile_query(INVOICES, {"filter": [{"OP": "EQ", "FIELD": "COMPANYid", "Value": 6}],
                                     "maxrecords": 10, "includefields": ["INVOICENUMBER", "Id"]})
    assert _ids(query) == [11]
    assert query.include_fields == ("invoiceNumber", "id")
    assert query.max_records == 10


@pytest.mark.parametrize(("flt", "message"), [
    ({"op": "eq", "field": "isVoided", "value": "true"}, "boolean"),
    ({"op": "eq", "field": "isVoided", "value": 1}, "boolean"),
    ({"op": "gt", "field": "dueDate", "value": "2024-01-01"}, "not queryable"),
    ({"op": "eq", "field": "noSuchField", "value": 1}, "Unable to find noSuchField"),
    ({"op": "like", "field": "id", "value": 1}, "Unknown filter operator"),
    ({"op": "eq", "field": "id", "value": "abc"}, "not a valid"),
    ({"op": "eq", "field": "id"}, "missing its value"),
    ({"op": "in", "field": "id", "value": 3}, "list"),
    ({"op": "contains", "field": "id", "value": "3"}, "text fields"),
    ({"op": "gt", "field": "paidDate", "value": "soon"}, "not a valid date"),
    ({"op": "or", "items": []}, "non-empty"),
])
def test_refused_filters_say_why(flt: dict[str, Any], message: str) -> None:
    with pytest.raises(QueryError, match=message):
        compile_query(INVOICES, {"Filter": [flt]})


@pytest.mark.parametrize("max_records", [0, 501, -5, "50", True])
def test_max_records_must_be_1_to_500(max_records: object) -> None:
    with pytest.raises(QueryError, match="maxCountOfRecordsToReturn must be between 1 and 500"):
        compile_query(INVOICES, {"MaxRecords": max_records,
                                 "Filter": [{"op": "exist", "field": "id"}]})


def test_no_filter_means_every_record() -> None:
    query = compile_query(INVOICES, {"MaxRecords": 5})
    assert _ids(query) == [10, 11, 13] and query.id_only and query.max_records == 5


def test_one_udf_per_query_and_only_where_there_are_udfs() -> None:
    row = {"id": 1, "userDefinedFields": [{"name": "Billing Email", "value": "AP@X.example"}]}
    query = compile_query(COMPANIES, {"Filter": [
        {"op": "eq", "field": "billing email", "udf": True, "value": "ap@x.example"}]})
    assert query.predicate(row)
    with pytest.raises(QueryError, match="Only one"):
        compile_query(COMPANIES, {"Filter": [
            {"op": "exist", "field": "a", "udf": True},
            {"op": "exist", "field": "b", "udf": True}]})
    with pytest.raises(QueryError, match="no user-defined fields"):
        compile_query(INVOICES, {"Filter": [{"op": "exist", "field": "a", "udf": True}]})


def test_id_lower_bound_lets_paging_start_in_place() -> None:
    assert compile_query(INVOICES, {"Filter": [{"op": "gt", "field": "id", "value": 40}]}
                         ).after_id == 40
    assert compile_query(INVOICES, {"Filter": [{"op": "gte", "field": "ID", "value": 40},
                                               {"op": "gt", "field": "id", "value": 7}]}
                         ).after_id == 39
    assert compile_query(INVOICES, {"Filter": [{"op": "or", "items": [
        {"op": "gt", "field": "id", "value": 40}]}]}).after_id is None
