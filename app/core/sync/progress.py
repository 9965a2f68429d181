"""What a sync reports while it runs and when it ends: plain frozen dataclasses.

They cross threads (the sync's writer thread → the caller's progress callback → the GUI),
so they hold only numbers, text and tuples — never ORM objects.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


class SyncKind(enum.StrEnum):
    FULL = "full"  # the first sync, or one asked for with --full
    INCREMENTAL = "incremental"  # changes since the last sync
    RECONCILE = "reconcile"  # the periodic full pass that also finds vanished records


class RunStatus(enum.StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class EntityPhase(enum.StrEnum):
    WAITING = "waiting"
    COUNTING = "counting"
    FETCHING = "fetching"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class EntityCounts:
    """Per-entity totals of one run."""

    entity: str
    label: str
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    quarantined: int = 0
    requests: int = 0
    error: str | None = None

    def as_dict(self) -> dict[str, int | str | None]:
        return {
            "fetched": self.fetched,
            "inserted": self.inserted,
            "updated": self.updated,
            "deleted": self.deleted,
            "quarantined": self.quarantined,
            "requests": self.requests,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class EntityProgress:
    """Where one entity stands during a run. ``total`` is an estimate (None when unknown)."""

    entity: str
    label: str
    phase: EntityPhase
    counts: EntityCounts
    total: int | None = None
    eta_seconds: float | None = None

    @property
    def fraction(self) -> float | None:
        if self.phase is EntityPhase.DONE:
            return 1.0
        if not self.total:
            return None
        return min(1.0, self.counts.fetched / self.total)


@dataclass(frozen=True, slots=True)
class SyncProgress:
    """A snapshot sent to ``on_progress`` after pages are committed.

    ``changed_ids`` holds, per local table (``organizations``, ``invoices`` …), the ids of
    rows inserted, updated or deleted since the previous snapshot, so open screens can
    refresh exactly those rows.
    """

    run_id: int
    kind: SyncKind
    started_at: datetime
    entities: tuple[EntityProgress, ...]
    requests: int
    eta_seconds: float | None
    changed_ids: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    @property
    def current(self) -> EntityProgress | None:
        """The entity a one-line status should mention: the busiest one still fetching."""
        active = [e for e in self.entities if e.phase is EntityPhase.FETCHING]
        if not active:
            return None
        return max(active, key=lambda e: (e.total or 0) - e.counts.fetched)

    @property
    def fraction(self) -> float | None:
        """Overall progress 0..1 from the entities' estimates (None when nothing is known)."""
        totals = [(e.counts.fetched, e.total) for e in self.entities if e.total]
        if not totals:
            return None
        done = sum(min(f, t) for f, t in totals if t)
        whole = sum(t for _, t in totals if t)
        return done / whole if whole else None


@dataclass(frozen=True, slots=True)
class SyncResult:
    """How a run ended."""

    run_id: int
    kind: SyncKind
    status: RunStatus
    started_at: datetime
    finished_at: datetime
    requests: int
    entities: tuple[EntityCounts, ...]
    error: str | None = None

    @property
    def seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def fetched(self) -> int:
        return sum(e.fetched for e in self.entities)

    @property
    def quarantined(self) -> int:
        return sum(e.quarantined for e in self.entities)

    def as_dict(self) -> dict[str, object]:
        """The ``paydesk sync --json`` object."""
        return {
            "run_id": self.run_id,
            "kind": self.kind.value,
            "status": self.status.value,
            "started_at": self.started_at.isoformat(),
            "seconds": round(self.seconds, 3),
            "requests": self.requests,
            "error": self.error,
            "entities": {e.entity: e.as_dict() for e in self.entities},
        }
