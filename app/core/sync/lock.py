"""One sync per database, across every seat that shares it.

* **PostgreSQL**: a session-level advisory lock, held on a dedicated connection for the
  whole run. The server frees it by itself when that connection dies (a killed process
  never leaves it behind).
* **SQLite**: a lock row (``settings`` key ``sync.lock``) taken with a compare-and-set
  update. A heartbeat thread refreshes it; a row whose process is gone (same computer) or
  whose heartbeat stopped more than `STALE_AFTER` ago is taken over.

Either way the holder's computer, process and start time are written to that row, so a
second sync can tell the bookkeeper who is syncing and since when.

Threads: `SyncLock` is used by the thread that runs `run_sync`; its heartbeat runs on a
thread of its own.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select, text, update
from sqlalchemy.exc import IntegrityError

from app.core.clock import utcnow
from app.core.config import current_actor
from app.core.storage.engine import session_scope
from app.core.storage.models import Setting

LOCK_KEY = "sync.lock"
STALE_AFTER = timedelta(minutes=3)
HEARTBEAT_SECONDS = 20.0
log = logging.getLogger(__name__)
_ADVISORY_KEY = zlib.crc32(b"paydesk.sync")


class SyncError(Exception):
    """A sync could not run; ``message`` is for people."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class LockHolder:
    actor: str
    host: str
    pid: int
    since: datetime

    def describe(self) -> str:
        local = self.since.astimezone()
        return f"{self.actor} on {self.host}, since {local:%H:%M} ({local:%d %b %Y})"


class SyncAlreadyRunningError(SyncError):
    def __init__(self, holder: LockHolder | None) -> None:
        who = holder.describe() if holder else "another PayDesk"
        super().__init__(
            f"A sync is already running ({who}). PayDesk will not start a second one at the "
            "same time; wait for it to finish."
        )
        self.holder = holder


def _process_alive(pid: int) -> bool:
    if os.name != "posix":
        return True  # rely on the heartbeat where signalling a process is not harmless
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _holder_from(value: Any) -> LockHolder | None:
    if not isinstance(value, dict):
        return None
    try:
        return LockHolder(
            actor=str(value["actor"]),
            host=str(value["host"]),
            pid=int(value["pid"]),
            since=datetime.fromisoformat(str(value["since"])),
        )
    except (KeyError, TypeError, ValueError):
        return None


class SyncLock:
    """The database-wide sync lock. ``acquire()`` raises `SyncAlreadyRunningError`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.token = uuid.uuid4().hex
        self._pg: Connection | None = None
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None
        self._held = False

    # ----------------------------------------------------------------- public

    def acquire(self) -> None:
        if self.engine.dialect.name == "postgresql":
            self._acquire_postgres()
        else:
            self._acquire_row()
            self._heartbeat = threading.Thread(
                target=self._beat, name="paydesk-sync-lock", daemon=True
            )
            self._heartbeat.start()
        self._held = True

    def release(self) -> None:
        if not self._held:
            return
        self._held = False
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join(timeout=5)
        try:
            with session_scope(self.engine) as session:
                row = session.get(Setting, LOCK_KEY)
                if row is not None and isinstance(row.value.get("v"), dict) and (
                    row.value["v"].get("token") == self.token
                ):
                    row.value = {"v": None}
                    row.updated_at = utcnow()
        finally:
            if self._pg is not None:
                try:
                    self._pg.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _ADVISORY_KEY})
                finally:
                    self._pg.close()
                    self._pg = None

    def __enter__(self) -> SyncLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    # ----------------------------------------------------------------- internals

    def _me(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "actor": current_actor(),
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "since": utcnow().isoformat(),
        }

    def _acquire_postgres(self) -> None:
        connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        got = connection.execute(
            text("SELECT pg_try_advisory_lock(:k)"), {"k": _ADVISORY_KEY}
        ).scalar()
        if not got:
            connection.close()
            raise SyncAlreadyRunningError(current_holder(self.engine))
        self._pg = connection
        self._write_row(self._me(), expected=None, force=True)

    def _acquire_row(self) -> None:
        for _attempt in range(3):
            with session_scope(self.engine) as session:
                row = session.get(Setting, LOCK_KEY)
                stamp = row.updated_at if row is not None else None
                value = row.value.get("v") if row is not None else None
            if row is not None and value is not None and not self._stale(value, stamp):
                raise SyncAlreadyRunningError(_holder_from(value))
            if self._write_row(self._me(), expected=stamp, force=row is None):
                return
        raise SyncAlreadyRunningError(current_holder(self.engine))

    def _stale(self, value: Any, stamp: datetime | None) -> bool:
        holder = _holder_from(value)
        if holder is None:
            return True
        if (holder.host == socket.gethostname() and holder.pid != os.getpid()
                and not _process_alive(holder.pid)):
            return True
        return stamp is None or utcnow() - stamp > STALE_AFTER

    def _write_row(self, value: dict[str, Any], *, expected: datetime | None,
                   force: bool) -> bool:
        """Compare-and-set the lock row; True when this process now holds it."""
        now = utcnow()
        actor = str(value["actor"])
        try:
            with session_scope(self.engine) as session:
                if force:
                    row = session.get(Setting, LOCK_KEY)
                    if row is None:
                        session.add(Setting(key=LOCK_KEY, value={"v": value}, updated_at=now,
                                            updated_by=actor))
                        return True
                    row.value = {"v": value}
                    row.updated_at = now
                    row.updated_by = actor
                    return True
                result = session.execute(
                    update(Setting)
                    .where(Setting.key == LOCK_KEY, Setting.updated_at == expected)
                    .values(value={"v": value}, updated_at=now, updated_by=actor)
                    .execution_options(synchronize_session=False)
                )
                return bool(result.rowcount == 1)  # type: ignore[attr-defined]
        except IntegrityError:
            return False  # another process inserted the row first

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                with session_scope(self.engine) as session:
                    row = session.get(Setting, LOCK_KEY)
                    if row is not None and isinstance(row.value.get("v"), dict) and (
                        row.value["v"].get("token") == self.token
                    ):
                        row.updated_at = utcnow()
            except Exception:  # a missed heartbeat is retried on the next beat
                log.warning("Could not refresh the sync lock's heartbeat", exc_info=True)


def current_holder(engine: Engine) -> LockHolder | None:
    """Who holds the sync lock right now, as far as the lock row tells (None: nobody)."""
    with session_scope(engine) as session:
        value = session.scalar(select(Setting.value).where(Setting.key == LOCK_KEY))
    return _holder_from(value.get("v")) if isinstance(value, dict) else None
