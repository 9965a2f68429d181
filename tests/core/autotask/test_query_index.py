"""The sandbox answers date, id and OR filters from indexes: same records as reading all."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from app.core.autotask.dates import format_autotask_datetime
from app.sandbox.autotask.query import compile_query
from app.sandbox.autotask.schema import entity_schema
from app.sandbox.autotask.server import AutotaskSandbox, _matching

ENTITY_FIELDS = {
    "Companies": ("lastTrackedModifiedDateTime", "createDate", "lastActivityDate"),
    "Tickets": ("lastTrackedModificationDateTime", "createDate", "lastActivityDate"),
    "Invoices": ("paidDate", "voidedDate", "createDateTime"),
}


def _random_filter(rng: random.Random, table: Any, fields: tuple[str, ...],
                   moments: list[datetime]) -> dict[str, Any]:
    kind = rng.randrange(5)
    op = rng.choice(["gt", "gte", "lt", "lte", "eq"])
    if kind <= 1:
        return {"op": op, "field": rng.choice(fields),
                "value": format_autotask_datetime(rng.choice(moments))}
    if kind == 2:
        index = rng.randrange(table.count)
        return {"op": op, "field": "id", "value": table.id_at(index) + rng.choice([-1, 0, 1])}
    if kind == 3:
        ids = [table.id_at(rng.randrange(table.count)) for _ in range(rng.randrange(1, 6))]
        return {"op": "in", "field": "id", "value": [*ids, 1]}
    return {"op": rng.choice(["exist", "notExist"]), "field": rng.choice(fields)}


def test_indexed_queries_match_reading_every_record() -> None:
    rng = random.Random(20261126)
    sandbox = AutotaskSandbox(companies=120, contacts=30, contracts=20, tickets=1500,
                              invoices=900, seed=11)
    data = sandbox.data
    with data.lock:
        # Changed and appended records must be found too (they are not in the indexes).
        for _ in range(15):
            invoice = data.invoices.id_at(rng.randrange(data.invoices.count))
            (data.void_invoice if rng.random() < 0.5 else data.pay_invoice)(invoice)
            data.change("Companies", data.companies.id_at(rng.randrange(120)), {})
        company = data.add_company({"companyName": "Newly Added Ltd"})
        data.add_invoice(company["id"], [("Setup", Decimal("1.00"), Decimal("80.00"))])
    now = datetime.now(UTC)
    indexed = 0
    for entity, fields in ENTITY_FIELDS.items():
        schema = entity_schema(entity)
        assert schema is not None
        with data.lock:
            table = data.table(entity)
            assert table is not None
            everything = list(table.iter_from(None))
            moments = [now, now - timedelta(days=3)]
            for record in rng.sample(everything, 40):
                for name in fields:
                    value = record.get(name)
                    if isinstance(value, str):
                        moments.append(datetime.fromisoformat(value.replace("Z", "+00:00"))
                                       .replace(tzinfo=UTC))
        for _ in range(150):
            items = [_random_filter(rng, table, fields, moments)
                     for _ in range(rng.randrange(1, 4))]
            if rng.random() < 0.5:
                items = [{"op": "or", "items": items}]
            if rng.random() < 0.3:
                items.append(_random_filter(rng, table, fields, moments))
            compiled = compile_query(schema, {"filter": items})
            expected = [r["id"] for r in everything if compiled.predicate(r)]
            with data.lock:
                indexed += table.select(compiled.plan) is not None
                found = [r["id"] for r in _matching(table, compiled, None)
                         if compiled.predicate(r)]
                start = expected[len(expected) // 2] if expected else None
                later = [r["id"] for r in _matching(table, compiled, start)
                         if compiled.predicate(r)]
            assert found == expected, items
            assert later == [i for i in expected if start is None or i > start], items
    assert indexed > 150  # most random filters were answered from an index


def test_changed_since_reads_only_the_changed_records() -> None:
    sandbox = AutotaskSandbox(companies=3000, contacts=10, contracts=10, tickets=10,
                              invoices=10, seed=3)
    data = sandbox.data
    with data.lock:
        changed = data.change("Companies", data.companies.id_at(1234), {"phone": "555-0100"})
        assert changed is not None
        table = data.companies
        schema = entity_schema("Companies")
        assert schema is not None
        since = format_autotask_datetime(datetime.now(UTC) - timedelta(minutes=5))
        compiled = compile_query(schema, {"filter": [{"op": "or", "items": [
            {"op": "gt", "field": "id", "value": table.max_generated_id()},
            {"op": "gte", "field": "lastTrackedModifiedDateTime", "value": since}]}]})
        selected = table.select(compiled.plan)
        assert selected is not None and len(selected) < 10
        assert [r["id"] for r in _matching(table, compiled, None)
                if compiled.predicate(r)] == [changed["id"]]
