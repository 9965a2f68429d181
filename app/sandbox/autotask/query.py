"""The sandbox's query engine: Autotask's filter language, compiled to a Python predicate.

Follows Autotask's rules: operators `eq, noteq, gt, gte, lt, lte, beginsWith, endsWith,
contains, exist, notExist, in, notIn`, groups `{"op": "and"|"or", "items": [...]}`, a
top-level list is ANDed, field names and JSON keys are case-insensitive, booleans must be
literal `true`/`false`, fields that are not queryable are refused, one UDF per query
(`"udf": true`), string comparisons ignore letter case. Errors are `QueryError`, whose text
the server sends back as Autotask would (`{"errors": [...]}`, HTTP 500).

Besides the predicate, a query gets a `Plan`: the part of its filter that the sandbox's
indexes answer (id ranges and lists, the change-tracking date fields, AND/OR of those), so
that "changed since" and paging by id cost what the page costs, as in Autotask, rather than
a read of every record. The predicate still decides, so results are the same either way.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from app.core.autotask.dates import parse_autotask_datetime
from app.sandbox.autotask.schema import EntitySchema, FieldSpec

__all__ = ["CompiledQuery", "Plan", "QueryError", "compile_query", "lower_keys"]

Record = Mapping[str, Any]
Predicate = Callable[[Record], bool]
Plan = tuple[Any, ...] | None
"""What an index can answer of a filter, as a small tree: `("id", op, n)`, `("ids", [n…])`,
`("date", field, op, datetime)`, `("nodate", field)` (no readable value),
`("and", [plan…])`, `("or", [plan…])`; None where only
reading every record can tell. Every record a plan selects is still checked against the
predicate, so a plan only has to select at least the matching records."""

OPERATORS = {"eq", "noteq", "gt", "gte", "lt", "lte", "beginswith", "endswith", "contains",
             "exist", "notexist", "in", "notin"}
MAX_RECORDS = 500


class QueryError(Exception):
    """A query Autotask would refuse; `str(error)` is Autotask-style text."""


def lower_keys(value: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k).lower(): v for k, v in value.items()}


@dataclass(frozen=True)
class CompiledQuery:
    predicate: Predicate
    after_id: int | None
    """Lower bound on id implied by a top-level `id gt/gte` (lets paging start in place)."""
    include_fields: tuple[str, ...] | None
    max_records: int
    id_only: bool = False
    """True when the filter is only `id gt/gte/lt/lte` / `id exist` (the id bounds say it
    all)."""
    before_id: int | None = None
    """Upper bound on id implied by a top-level `id lt/lte` (no record above it matches)."""
    plan: Plan = None
    """How indexes can narrow the records to check (see `Plan`)."""


@functools.lru_cache(maxsize=262_144)
def _stored_datetime(text: str) -> datetime | None:
    try:
        return parse_autotask_datetime(text)
    except ValueError:
        return None


def _as_number(spec: FieldSpec, value: Any, integer: bool) -> Any:
    if integer and (isinstance(value, bool) or (
            isinstance(value, str) and value.strip().lower() in ("true", "false"))):
        # Autotask takes true/false for its integer flags (Contacts.isActive is 0/1);
        # django-autotask's contact sync sends exactly that.
        return 1 if value is True or str(value).strip().lower() == "true" else 0
    if isinstance(value, bool):
        raise QueryError(f"Value for field {spec.name} is not a valid {spec.data_type}.")
    try:
        if integer:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value) if not isinstance(value, str) else int(value.strip())
        return Decimal(str(value))
    except (ValueError, InvalidOperation, TypeError):
        raise QueryError(
            f"Value {value!r} for field {spec.name} is not a valid {spec.data_type}.") from None


def _coerce(spec: FieldSpec, value: Any) -> Any:
    kind = spec.data_type.lower()
    if kind == "boolean":
        if not isinstance(value, bool):
            raise QueryError(
                f"Value for field {spec.name} must be a boolean literal (true or false).")
        return value
    if kind in ("integer", "long", "short"):
        return _as_number(spec, value, True)
    if kind in ("decimal", "double", "float"):
        return _as_number(spec, value, False)
    if kind in ("datetime", "date"):
        if not isinstance(value, str):
            raise QueryError(f"Value for field {spec.name} is not a valid date.")
        parsed = _stored_datetime(value)
        if parsed is None:
            raise QueryError(f"Value {value!r} for field {spec.name} is not a valid date.")
        return parsed
    if value is None:
        return None
    return str(value).lower()


def _getter(spec: FieldSpec) -> Callable[[Record], Any]:
    name = spec.name
    kind = spec.data_type.lower()
    if kind in ("datetime", "date"):
        def get_datetime(record: Record) -> Any:
            raw = record.get(name)
            return _stored_datetime(raw) if isinstance(raw, str) else None
        return get_datetime
    if kind == "string":
        def get_text(record: Record) -> Any:
            raw = record.get(name)
            return raw.lower() if isinstance(raw, str) else raw
        return get_text
    if kind in ("decimal", "double", "float"):
        def get_decimal(record: Record) -> Any:
            raw = record.get(name)
            return Decimal(str(raw)) if raw is not None and not isinstance(raw, Decimal) else raw
        return get_decimal

    def get_plain(record: Record) -> Any:
        return record.get(name)
    return get_plain


def _udf_getter(name: str) -> Callable[[Record], Any]:
    lowered = name.lower()

    def get(record: Record) -> Any:
        for udf in record.get("userDefinedFields") or ():
            if str(udf.get("name", "")).lower() == lowered:
                value = udf.get("value")
                return value.lower() if isinstance(value, str) else value
        return None
    return get


def _compare(op: str, get: Callable[[Record], Any], target: Any) -> Predicate:
    if op == "eq":
        return lambda r: (v := get(r)) is not None and v == target
    if op == "noteq":
        return lambda r: (v := get(r)) is not None and v != target
    if op == "gt":
        return lambda r: (v := get(r)) is not None and v > target
    if op == "gte":
        return lambda r: (v := get(r)) is not None and v >= target
    if op == "lt":
        return lambda r: (v := get(r)) is not None and v < target
    if op == "lte":
        return lambda r: (v := get(r)) is not None and v <= target
    raise AssertionError(op)


class _Compiler:
    def __init__(self, schema: EntitySchema) -> None:
        self.schema = schema
        self.udfs = 0

    def node(self, raw: Any) -> Predicate:
        if not isinstance(raw, Mapping):
            raise QueryError("Each filter must be an object with op, field and value.")
        item = lower_keys(raw)
        op = str(item.get("op", "")).lower()
        if op in ("and", "or"):
            children = item.get("items")
            if not isinstance(children, list) or not children:
                raise QueryError(f"The '{op}' filter needs a non-empty items list.")
            predicates = [self.node(child) for child in children]
            if op == "and":
                return lambda r: all(p(r) for p in predicates)
            return lambda r: any(p(r) for p in predicates)
        if op not in OPERATORS:
            raise QueryError(f"Unknown filter operator '{item.get('op')}'.")
        field_name = item.get("field")
        if not isinstance(field_name, str) or not field_name:
            raise QueryError("A filter is missing its field.")
        if item.get("udf") is True:
            self.udfs += 1
            if self.udfs > 1:
                raise QueryError("Only one user-defined field may be used in a query.")
            if not self.schema.has_udfs:
                raise QueryError(f"{self.schema.name} has no user-defined fields.")
            get = _udf_getter(field_name)
            spec = FieldSpec(field_name, "string")
        else:
            found = self.schema.field(field_name)
            if found is None:
                raise QueryError(
                    f"Unable to find {field_name} in the {self.schema.name} entity.")
            if not found.queryable:
                raise QueryError(f"The field {found.name} is not queryable.")
            spec = found
            get = _getter(spec)
        if op == "exist":
            return lambda r: (v := get(r)) is not None and v != ""
        if op == "notexist":
            return lambda r: (v := get(r)) is None or v == ""
        if "value" not in item:
            raise QueryError(f"The filter on {spec.name} is missing its value.")
        value = item["value"]
        if op in ("in", "notin"):
            if not isinstance(value, list):
                raise QueryError(f"The '{op}' filter on {spec.name} needs a list of values.")
            targets = {_coerce(spec, v) for v in value}
            if op == "in":
                return lambda r: (v := get(r)) is not None and v in targets
            return lambda r: (v := get(r)) is not None and v not in targets
        if op in ("beginswith", "endswith", "contains"):
            if spec.data_type.lower() != "string":
                raise QueryError(f"The '{item.get('op')}' operator only applies to text fields.")
            text = str(value).lower()
            if op == "beginswith":
                return lambda r: isinstance(v := get(r), str) and v.startswith(text)
            if op == "endswith":
                return lambda r: isinstance(v := get(r), str) and v.endswith(text)
            return lambda r: isinstance(v := get(r), str) and text in v
        target = _coerce(spec, value)
        if target is None:
            return lambda r: False
        return _compare(op, get, target)


def _only_id(filters: list[Any]) -> bool:
    for raw in filters:
        if not isinstance(raw, Mapping):
            return False
        item = lower_keys(raw)
        if str(item.get("field", "")).lower() != "id" or item.get("udf") is True:
            return False
        op = str(item.get("op", "")).lower()
        if op == "exist":
            continue
        value = item.get("value")
        if (op not in ("gt", "gte", "lt", "lte") or isinstance(value, bool)
                or not isinstance(value, int)):
            return False
    return True


def _id_ceiling(filters: list[Any]) -> int | None:
    """The largest id a top-level `id lt/lte` allows (None: no such bound)."""
    bound: int | None = None
    for raw in filters:
        if not isinstance(raw, Mapping):
            continue
        item = lower_keys(raw)
        if str(item.get("field", "")).lower() != "id" or item.get("udf") is True:
            continue
        op = str(item.get("op", "")).lower()
        value = item.get("value")
        if isinstance(value, bool) or not isinstance(value, int):
            continue
        candidate = value - 1 if op == "lt" else value if op == "lte" else None
        if candidate is not None and (bound is None or candidate < bound):
            bound = candidate
    return bound


_INDEX_OPS = ("gt", "gte", "lt", "lte", "eq")


def _plan(schema: EntitySchema, raw: Any) -> Plan:
    """The index plan of one (already validated) filter node."""
    item = lower_keys(raw)
    op = str(item.get("op", "")).lower()
    if op in ("and", "or"):
        return (op, [_plan(schema, child) for child in item["items"]])
    if item.get("udf") is True:
        return None
    spec = schema.field(str(item.get("field")))
    if spec is None:
        return None
    value = item.get("value")
    if spec.name.lower() == "id":
        if op == "in" and isinstance(value, list) and all(
                isinstance(v, int) and not isinstance(v, bool) for v in value):
            return ("ids", sorted(set(value)))
        if op in _INDEX_OPS and isinstance(value, int) and not isinstance(value, bool):
            return ("id", op, value)
        return None
    if spec.data_type.lower() in ("datetime", "date") and op == "notexist":
        return ("nodate", spec.name)
    if spec.data_type.lower() in ("datetime", "date") and op in _INDEX_OPS:
        target = _coerce(spec, value)
        return ("date", spec.name, op, target) if target is not None else None
    return None


def _id_bound(filters: list[Any]) -> int | None:
    bound: int | None = None
    for raw in filters:
        if not isinstance(raw, Mapping):
            continue
        item = lower_keys(raw)
        if str(item.get("field", "")).lower() != "id" or item.get("udf") is True:
            continue
        op = str(item.get("op", "")).lower()
        value = item.get("value")
        if isinstance(value, bool) or not isinstance(value, int | str):
            continue
        try:
            number = int(value)
        except ValueError:
            continue
        candidate = number if op == "gt" else number - 1 if op == "gte" else None
        if candidate is not None and (bound is None or candidate > bound):
            bound = candidate
    return bound


def compile_query(schema: EntitySchema, body: Mapping[str, Any], *,
                  need_max_records: bool = True) -> CompiledQuery:
    """Compile a query body (`Filter`, `MaxRecords`, `IncludeFields`; keys in any case)."""
    query = lower_keys(body)
    filters = query.get("filter")
    if filters is None:
        filters = []
    if isinstance(filters, Mapping):
        filters = [filters]
    if not isinstance(filters, list):
        raise QueryError("The query filter must be a list of filters.")
    if not filters:
        # Autotask's own examples always send a filter; published clients send `{}` for
        # "everything" (a count of all records), which is accepted as `id exist`.
        filters = [{"op": "exist", "field": "id"}]
    compiler = _Compiler(schema)
    predicates = [compiler.node(f) for f in filters]
    if len(predicates) == 1:
        predicate = predicates[0]
    else:
        def predicate(record: Record) -> bool:
            return all(p(record) for p in predicates)
    max_records = MAX_RECORDS
    if "maxrecords" in query and query["maxrecords"] is not None:
        raw = query["maxrecords"]
        if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_RECORDS:
            raise QueryError("maxCountOfRecordsToReturn must be between 1 and 500")
        max_records = raw
    include: tuple[str, ...] | None = None
    raw_include = query.get("includefields")
    if raw_include:
        if not isinstance(raw_include, list):
            raise QueryError("IncludeFields must be a list of field names.")
        names: list[str] = []
        for name in raw_include:
            spec = schema.field(str(name))
            if spec is None:
                raise QueryError(f"Unable to find {name} in the {schema.name} entity.")
            names.append(spec.name)
        include = tuple(dict.fromkeys(names))
    plan: Plan = ("and", [_plan(schema, f) for f in filters])
    return CompiledQuery(predicate, _id_bound(filters), include, max_records,
                         id_only=_only_id(filters), before_id=_id_ceiling(filters), plan=plan)
