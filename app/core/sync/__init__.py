"""Sync: Autotask into the local database — full, incremental, in the background, resumable.

Public surface: `run_sync`, `SyncOptions`, the progress/result dataclasses, `SyncError` and
`SyncAlreadyRunningError`, the schedule settings (`app.core.sync.schedule`) and the run
history reader (`app.core.sync.history`).
"""

from app.core.sync.engine import SyncOptions, run_sync
from app.core.sync.lock import LockHolder, SyncAlreadyRunningError, SyncError, current_holder
from app.core.sync.progress import (
    EntityCounts,
    EntityPhase,
    EntityProgress,
    RunStatus,
    SyncKind,
    SyncProgress,
    SyncResult,
)

__all__ = [
    "EntityCounts",
    "EntityPhase",
    "EntityProgress",
    "LockHolder",
    "RunStatus",
    "SyncAlreadyRunningError",
    "SyncError",
    "SyncKind",
    "SyncOptions",
    "SyncProgress",
    "SyncResult",
    "current_holder",
    "run_sync",
    "sync_from_sandbox",
]


def sync_from_sandbox(sandbox: object, engine: object) -> SyncResult:
    """Sync a running Autotask sandbox (``app.sandbox.autotask``) into ``engine`` — for the
    screenshots and the demo. Duck-typed so the core does not import the sandbox."""
    import threading

    from app.core.autotask import AutotaskClient

    client = AutotaskClient(sandbox.client_credentials(),  # type: ignore[attr-defined]
                            discovery_url=sandbox.url)  # type: ignore[attr-defined]
    try:
        return run_sync(engine, client, cancel=threading.Event())  # type: ignore[arg-type]
    finally:
        client.close()
