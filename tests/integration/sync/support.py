"""Shared by the sync's integration and reliability tests: a sandbox-backed client and an
exact comparison of the local database with the sandbox's data."""

from __future__ import annotations

import hashlib
import threading
from typing import Any

from sqlalchemy import Engine, select

from app.core.autotask import AutotaskClient, RetryPolicy
from app.core.config import set_internal_currency
from app.core.sync import SyncProgress, SyncResult, run_sync
from app.core.sync.bulk import plain_table
from app.core.sync.specs import SPECS, ConvertContext, EntitySpec, InvalidRecord
from app.sandbox.autotask.server import AutotaskSandbox

CTX = ConvertContext.for_currency("USD")


def small_sandbox(**overrides: Any) -> AutotaskSandbox:
    sizes: dict[str, Any] = {"companies": 40, "contacts": 120, "contracts": 20,
                             "tickets": 700, "invoices": 600, "lines_per_invoice": 2.0}
    sizes.update(overrides)
    return AutotaskSandbox(**sizes)


def client_for(sandbox: AutotaskSandbox) -> AutotaskClient:
    return AutotaskClient(
        sandbox.client_credentials(), discovery_url=sandbox.url,
        retry=RetryPolicy(attempts=8, backoff_base=0.01, backoff_max=0.05,
                          retry_after_max=0.05),
    )


def prepare(engine: Engine) -> None:
    set_internal_currency(engine, "USD")


def sync(engine: Engine, client: AutotaskClient, *, full: bool = False,
         progress: list[SyncProgress] | None = None) -> SyncResult:
    sink = progress if progress is not None else []
    return run_sync(engine, client, full=full, cancel=threading.Event(),
                    on_progress=sink.append)


def expected_rows(sandbox: AutotaskSandbox, spec: EntitySpec) -> dict[int, tuple[Any, ...]]:
    """What the local table must hold for ``spec``: every valid sandbox record, converted."""
    rows: dict[int, tuple[Any, ...]] = {}
    bad = sandbox.bad_record_ids if spec.entity == "Invoices" else {}
    for record in sandbox.records(spec.entity):
        if record["id"] in bad:
            continue
        try:
            row = spec.convert(record, CTX)
        except InvalidRecord:
            continue
        rows[row["id"]] = tuple(row[c] for c in spec.compare_columns)
    return rows


def stored_rows(engine: Engine, spec: EntitySpec) -> dict[int, tuple[Any, ...]]:
    table = plain_table(spec.table)
    columns = [table.c[c] for c in spec.compare_columns]
    with engine.connect() as connection:
        return {r[0]: tuple(r[1:]) for r in connection.execute(select(table.c.id, *columns))}


def checksum(rows: dict[int, tuple[Any, ...]]) -> str:
    digest = hashlib.sha256()
    for key in sorted(rows):
        digest.update(repr((key, rows[key])).encode())
    return digest.hexdigest()[:16]


def differences(engine: Engine, sandbox: AutotaskSandbox) -> dict[str, str]:
    """Per entity whose local copy differs from the sandbox: what differs (empty = equal)."""
    found: dict[str, str] = {}
    for spec in SPECS:
        want = expected_rows(sandbox, spec)
        have = stored_rows(engine, spec)
        if checksum(want) == checksum(have):
            continue
        missing = sorted(set(want) - set(have))[:5]
        extra = sorted(set(have) - set(want))[:5]
        changed = sorted(i for i in set(want) & set(have) if want[i] != have[i])[:5]
        found[spec.entity] = f"missing {missing}, extra {extra}, different {changed}"
    return found
