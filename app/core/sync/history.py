"""What the Sync area shows besides live progress: past runs, quarantined records, and the
schedule setting. Plain frozen dataclasses out; call off the GUI thread."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select

from app.core.config import get_setting, set_setting
from app.core.storage.engine import session_scope
from app.core.storage.models import QuarantinedRecord, SyncRun
from app.core.sync.progress import EntityCounts
from app.core.sync.specs import SPECS

INTERVAL_SETTING = "sync.interval_minutes"
DEFAULT_INTERVAL_MINUTES = 15
#: Choices a bookkeeper gets; 0 means "only when I press Sync now".
INTERVAL_CHOICES = (0, 5, 15, 30, 60, 120, 240)
#: Whether PayDesk syncs shortly after it starts (True) or waits for the first interval.
RUN_AT_START_SETTING = "sync.run_at_start"
DEFAULT_RUN_AT_START = True


@dataclass(frozen=True, slots=True)
class RunRow:
    id: int
    kind: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    fetched: int
    inserted: int
    updated: int
    deleted: int
    quarantined: int
    requests: int
    error: str | None
    entities: tuple[EntityCounts, ...] = ()

    @property
    def seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


def _entity_counts(counts: dict[str, Any]) -> tuple[EntityCounts, ...]:
    found = []
    for spec in SPECS:
        value = counts.get(spec.entity)
        if isinstance(value, dict):
            found.append(EntityCounts(
                spec.entity, spec.label, int(value.get("fetched") or 0),
                int(value.get("inserted") or 0), int(value.get("updated") or 0),
                int(value.get("deleted") or 0), int(value.get("quarantined") or 0),
                int(value.get("requests") or 0), value.get("error")))
    return tuple(found)


@dataclass(frozen=True, slots=True)
class QuarantineRow:
    entity: str
    record_id: int | None
    reason: str
    created_at: datetime
    #: The record as a bookkeeper finds it in Autotask ("Invoice 1042", "Acme Ltd").
    record: str = ""
    #: What to do about it, in Autotask or not at all.
    fix: str = ""


#: Where each kind of record is corrected in Autotask.
_WHERE = {
    "Companies": "the organization in Autotask (CRM > Organizations)",
    "Contacts": "the contact in Autotask (CRM > Contacts)",
    "Contracts": "the contract in Autotask (Contracts > Search Contracts)",
    "Tickets": "the ticket in Autotask (Service Desk > Search Tickets)",
    "BillingItems": "the billing item in Autotask (Contracts > Approve and Post)",
    "PaymentTerms": "the payment term in Autotask (Admin > Features & Settings > Finance)",
}


def describe_record(entity: str, record_id: int | None, payload: Any) -> str:
    """The quarantined record as a bookkeeper would look it up in Autotask."""
    data = payload if isinstance(payload, dict) else {}
    copies = data.get("copies")
    if isinstance(copies, list) and copies and isinstance(copies[0], dict):
        data = copies[0]

    def text(name: str) -> str:
        value = data.get(name)
        return str(value).strip()[:80] if isinstance(value, str | int) and str(value).strip() \
            else ""

    suffix = f" (id {record_id})" if record_id is not None else ""
    if entity == "Companies" and text("companyName"):
        return f"{text('companyName')}{suffix}"
    if entity == "Invoices" and text("invoiceNumber"):
        return f"Invoice {text('invoiceNumber')}{suffix}"
    if entity == "Tickets" and text("ticketNumber"):
        return f"Ticket {text('ticketNumber')}{suffix}"
    if entity == "Contacts" and (text("firstName") or text("lastName")):
        return f"{text('firstName')} {text('lastName')}".strip() + suffix
    if entity == "Contracts" and text("contractName"):
        return f"{text('contractName')}{suffix}"
    if entity == "BillingItems" and text("invoiceID"):
        return f"A line of invoice id {text('invoiceID')}{suffix}"
    label = next((s.label for s in SPECS if s.entity == entity), entity)
    singular = label[:-1] if label.endswith("s") else label
    return f"{singular}{suffix}" if suffix else f"A record of {label.lower()}"


def fix_hint(entity: str, reason: str) -> str:
    """What a bookkeeper does about a quarantined record."""
    if "times in one answer" in reason:
        return ("Nothing to change: PayDesk tries again at the next sync. If it keeps "
                "happening, report it to Autotask support.")
    if "PayDesk takes payments in" in reason:
        return ("Take this payment outside PayDesk (Autotask's own payment tools or your "
                "bank), then mark the invoice paid in Autotask.")
    if "which Autotask did not return" in reason:
        return ("In Autotask, check the invoice's organization (it may have been merged or "
                "made inactive); the invoice comes back once its organization does.")
    if entity == "Invoices":
        return ("Check the invoice in Autotask (Contracts > Invoices). If it is wrong there, "
                "void it and invoice again, or ask Autotask support to correct it; the next "
                "sync picks it up.")
    where = _WHERE.get(entity, "the record in Autotask")
    return f"Open {where} and correct the value named; the next sync picks it up."


def _total(counts: dict[str, Any], key: str) -> int:
    return sum(int(v.get(key) or 0) for v in counts.values() if isinstance(v, dict))


def recent_runs(engine: Engine, limit: int = 100) -> list[RunRow]:
    with session_scope(engine) as session:
        runs = session.scalars(
            select(SyncRun).order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(limit))
        return [
            RunRow(r.id, r.kind, r.status, r.started_at, r.finished_at,
                   _total(r.counts, "fetched"), _total(r.counts, "inserted"),
                   _total(r.counts, "updated"), _total(r.counts, "deleted"),
                   _total(r.counts, "quarantined"), r.requests, r.error,
                   _entity_counts(r.counts))
            for r in runs
        ]


def quarantined_records(engine: Engine, limit: int = 500) -> list[QuarantineRow]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(QuarantinedRecord.entity, QuarantinedRecord.record_id,
                   QuarantinedRecord.reason, QuarantinedRecord.created_at,
                   QuarantinedRecord.payload)
            .order_by(QuarantinedRecord.created_at.desc(), QuarantinedRecord.id.desc())
            .limit(limit))
        return [QuarantineRow(entity, record_id, reason, created_at,
                              describe_record(entity, record_id, payload),
                              fix_hint(entity, reason))
                for entity, record_id, reason, created_at, payload in rows]


def held_back_invoices(engine: Engine) -> int:
    """How many invoices Autotask sent that PayDesk holds back (quarantined)."""
    with session_scope(engine) as session:
        return int(session.scalar(
            select(func.count()).select_from(QuarantinedRecord).where(
                QuarantinedRecord.entity == "Invoices")) or 0)


def last_success(engine: Engine) -> datetime | None:
    with session_scope(engine) as session:
        return session.scalar(
            select(SyncRun.finished_at).where(SyncRun.status == "succeeded")
            .order_by(SyncRun.finished_at.desc()).limit(1))


def interval_minutes(engine: Engine) -> int:
    value = get_setting(engine, INTERVAL_SETTING, DEFAULT_INTERVAL_MINUTES)
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return DEFAULT_INTERVAL_MINUTES


def set_interval_minutes(engine: Engine, minutes: int, actor: str | None = None) -> None:
    if minutes < 0:
        raise ValueError("the sync interval cannot be negative")
    set_setting(engine, INTERVAL_SETTING, int(minutes), actor=actor)


@dataclass(frozen=True, slots=True)
class SyncSchedule:
    """When the window syncs on its own: every ``interval_minutes`` (0 = only on demand),
    and shortly after PayDesk starts when ``run_at_start``. Shared by every seat."""

    interval_minutes: int = DEFAULT_INTERVAL_MINUTES
    run_at_start: bool = DEFAULT_RUN_AT_START


def load_sync_schedule(engine: Engine) -> SyncSchedule:
    """Runs on a worker thread (a settings read)."""
    raw = get_setting(engine, RUN_AT_START_SETTING, DEFAULT_RUN_AT_START)
    return SyncSchedule(interval_minutes(engine),
                        raw if isinstance(raw, bool) else DEFAULT_RUN_AT_START)


def save_sync_schedule(engine: Engine, schedule: SyncSchedule, actor: str | None = None) -> None:
    """Store the schedule for every seat (each setting audited when it changes)."""
    if schedule.interval_minutes < 0:
        raise ValueError("The sync interval cannot be negative.")
    if schedule.interval_minutes > 24 * 60:
        raise ValueError("Sync at least once a day (every 1,440 minutes or less).")
    set_interval_minutes(engine, schedule.interval_minutes, actor=actor)
    set_setting(engine, RUN_AT_START_SETTING, bool(schedule.run_at_start), actor=actor)
