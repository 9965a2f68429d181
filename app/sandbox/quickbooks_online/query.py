"""QuickBooks Online's query language, as far as the sandbox needs it.

``SELECT * | COUNT(*) | Field, Field FROM Entity [WHERE cond AND cond ...]
[ORDERBY Field [ASC|DESC], ...] [STARTPOSITION n] [MAXRESULTS n]``

* conditions are ``Field op value`` joined by ``AND`` only (QuickBooks has no ``OR``);
  operators ``= < > <= >= IN LIKE`` (``LIKE`` with ``%`` wildcards); values are quoted
  strings (``\\'`` escapes a quote), numbers, ``true``/``false``; ``IN ('a', 'b')``;
* a reference field (``CustomerRef``) compares its ``value``; dotted names reach into
  objects (``MetaData.LastUpdatedTime``);
* keywords in any case; ``ORDER BY`` (two words, what python-quickbooks sends) is accepted
  like ``ORDERBY`` (Intuit's documented spelling) — QuickBooks accepts both;
* ``STARTPOSITION`` is 1-based; ``MAXRESULTS`` above 1000 is answered with 1000 (QuickBooks
  caps it rather than failing).

Errors are `QueryError` with QuickBooks' codes: 4000 (the parser could not read it) and
4001 (a property or entity it does not know).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["Condition", "Query", "QueryError", "parse_query"]

MAX_RESULTS = 1000
DEFAULT_RESULTS = 100


class QueryError(Exception):
    def __init__(self, code: str, message: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.message = message
        self.detail = detail


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: Any  # str | Decimal | bool | tuple of those (IN)

    def matches(self, record: dict[str, Any]) -> bool:
        actual = lookup(record, self.field)
        if actual is None:
            return False
        if self.op == "in":
            return any(_compare(actual, v) == 0 for v in self.value)
        if self.op == "like":
            return _like(str(self.value)).fullmatch(str(actual)) is not None
        order = _compare(actual, self.value)
        if order is None:
            return False
        return {"=": order == 0, "<": order < 0, ">": order > 0, "<=": order <= 0,
                ">=": order >= 0}[self.op]


@dataclass
class Query:
    entity: str
    count: bool = False
    fields: tuple[str, ...] | None = None
    conditions: list[Condition] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    start: int = 1
    max_results: int = DEFAULT_RESULTS

    def matches(self, record: dict[str, Any]) -> bool:
        return all(c.matches(record) for c in self.conditions)

    def shape_key(self) -> tuple[Any, ...]:
        """What identifies the result set (not the page)."""
        return (self.entity, tuple(self.conditions), tuple(self.order))


def lookup(record: dict[str, Any], name: str) -> Any:
    value: Any = record
    for part in name.split("."):
        if not isinstance(value, dict):
            return None
        found = value.get(part)
        if found is None:
            lowered = part.lower()
            found = next((v for k, v in value.items() if k.lower() == lowered), None)
        value = found
    if isinstance(value, dict) and "value" in value:
        return value["value"]
    return value


_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T")


def _normal(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    return value


def _compare(actual: Any, wanted: Any) -> int | None:
    a, b = _normal(actual), _normal(wanted)
    if isinstance(a, bool) or isinstance(b, bool):
        if isinstance(b, str):
            b = b.lower() == "true"
        return 0 if a == b else (-1 if a < b else 1)
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        try:
            da = a if isinstance(a, Decimal) else Decimal(str(a))
            db = b if isinstance(b, Decimal) else Decimal(str(b))
        except InvalidOperation:
            return None
        return (da > db) - (da < db)
    sa, sb = str(a), str(b)
    if _DATETIME.match(sa) or _DATETIME.match(sb):
        ta, tb = _moment(sa), _moment(sb)
        if ta is None or tb is None:
            return None
        return (ta > tb) - (ta < tb)
    if sa.isdigit() and sb.isdigit():  # ids compare as numbers
        return (int(sa) > int(sb)) - (int(sa) < int(sb))
    la, lb = sa.lower(), sb.lower()
    return (la > lb) - (la < lb)


def _moment(text: str) -> datetime | None:
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time()).astimezone()
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.astimezone()
    except ValueError:
        return None


def _like(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(p) for p in pattern.split("%")), re.IGNORECASE)


_TOKEN = re.compile(r"""\s*(?:
    (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<op><=|>=|!=|=|<|>|\(|\)|,|\*)
  | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
)""", re.VERBOSE)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip().rstrip(";")
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise _parse_error(text[pos:pos + 20])
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def _parse_error(near: str) -> QueryError:
    return QueryError("4000", "Error parsing query",
                      f"QueryParserError: Encountered \"{near.strip()}\" in the query.")


def parse_query(text: str, known: Callable[[str], str | None],
                fields_of: Callable[[str], set[str]]) -> Query:
    """Parse ``text``. ``known(name)`` gives an entity's proper name (None: unknown);
    ``fields_of(entity)`` the queryable top-level fields (lower case)."""
    tokens = _tokens(text)
    pos = 0

    def peek(offset: int = 0) -> tuple[str, str]:
        return tokens[pos + offset] if pos + offset < len(tokens) else ("end", "")

    def take() -> tuple[str, str]:
        nonlocal pos
        token = peek()
        if token[0] == "end":
            raise _parse_error("<EOF>")
        pos += 1
        return token

    def keyword(word: str) -> bool:
        token = peek()
        return token[0] == "word" and token[1].lower() == word

    def expect_keyword(word: str) -> None:
        token = take()
        if token[0] != "word" or token[1].lower() != word:
            raise _parse_error(token[1])

    expect_keyword("select")
    count = False
    selected: list[str] = []
    if peek()[1] == "*":
        take()
    elif keyword("count") and peek(1)[1] == "(":
        take(), take()
        if take()[1] != "*" or take()[1] != ")":
            raise _parse_error("COUNT")
        count = True
    else:
        while True:
            kind, value = take()
            if kind != "word":
                raise _parse_error(value)
            selected.append(value)
            if peek()[1] != ",":
                break
            take()
    expect_keyword("from")
    kind, raw_entity = take()
    entity = known(raw_entity) if kind == "word" else None
    if entity is None:
        raise QueryError("4001", "Invalid query",
                         f"QueryValidationError: Invalid entity name : {raw_entity}")
    queryable = fields_of(entity)

    def check_field(name: str) -> str:
        if name.split(".")[0].lower() not in queryable:
            raise QueryError("4001", "Invalid query",
                             f"QueryValidationError: property '{name}' is not queryable")
        return name

    query = Query(entity=entity, count=count,
                  fields=tuple(check_field(f) for f in selected) or None)
    if keyword("where"):
        take()
        while True:
            kind, name = take()
            if kind != "word":
                raise _parse_error(name)
            check_field(name)
            op_kind, op = take()
            if op_kind == "word" and op.lower() in ("in", "like"):
                op = op.lower()
            elif op_kind != "op" or op not in ("=", "<", ">", "<=", ">="):
                raise _parse_error(op)
            if op == "in":
                if take()[1] != "(":
                    raise _parse_error(name)
                values: list[Any] = []
                while True:
                    values.append(_value(take()))
                    sep = take()[1]
                    if sep == ")":
                        break
                    if sep != ",":
                        raise _parse_error(sep)
                query.conditions.append(Condition(name, "in", tuple(values)))
            else:
                query.conditions.append(Condition(name, op, _value(take())))
            if keyword("and"):
                take()
                continue
            if keyword("or"):
                raise _parse_error("OR")
            break
    if keyword("orderby") or (keyword("order") and peek(1)[1].lower() == "by"):
        if take()[1].lower() == "order":
            take()
        while True:
            kind, name = take()
            if kind != "word":
                raise _parse_error(name)
            check_field(name)
            descending = False
            if keyword("desc") or keyword("asc"):
                descending = take()[1].lower() == "desc"
            query.order.append((name, descending))
            if peek()[1] != ",":
                break
            take()
    while keyword("startposition") or keyword("maxresults"):
        word = take()[1].lower()
        kind, number = take()
        if kind != "number" or "." in number or int(number) < 0:
            raise _parse_error(number)
        if word == "startposition":
            query.start = max(1, int(number))
        else:
            query.max_results = min(MAX_RESULTS, int(number))
    if peek()[0] != "end":
        raise _parse_error(peek()[1])
    return query


def _value(token: tuple[str, str]) -> Any:
    kind, text = token
    if kind == "string":
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    if kind == "number":
        return Decimal(text)
    if kind == "word" and text.lower() in ("true", "false"):
        return text.lower() == "true"
    raise _parse_error(text)
