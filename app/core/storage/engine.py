"""Engine and session setup for SQLite (default) and PostgreSQL (shared by several seats).

``open_database(url)`` is the only way PayDesk opens a database: it applies SQLite's pragmas
(WAL, foreign keys, busy timeout), keeps a new SQLite file readable only by its owner, and
runs the alembic migrations to the newest revision.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

#: How long a SQLite connection waits for another writer before giving up (milliseconds).
SQLITE_BUSY_TIMEOUT_MS = 15_000


class DatabaseError(Exception):
    """The database could not be opened or upgraded; the message says what to do."""


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def is_sqlite(engine_or_url: Engine | str) -> bool:
    url = engine_or_url.url if isinstance(engine_or_url, Engine) else make_url(engine_or_url)
    return url.get_backend_name() == "sqlite"


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _restrict_sqlite_file(url: str) -> None:
    """A new SQLite file is created readable and writable by its owner only (POSIX)."""
    database = make_url(url).database
    if not database or database == ":memory:" or os.name != "posix":
        return
    path = Path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, stat.S_IRUSR | stat.S_IWUSR)
        os.close(fd)
    path.chmod(stat.S_IRUSR | stat.S_IWUSR)


def create_database_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with PayDesk's connection settings, without running migrations."""
    if is_sqlite(url):
        _restrict_sqlite_file(url)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _on_sqlite_connect)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def open_database(url: str, *, migrate: bool = True, **kwargs: Any) -> Engine:
    """Open (and by default migrate) the database at ``url``."""
    from app.core.storage.migrate import upgrade_to_head

    try:
        engine = create_database_engine(url, **kwargs)
        if migrate:
            upgrade_to_head(engine)
    except DatabaseError:
        raise
    except Exception as exc:
        safe = make_url(url).render_as_string(hide_password=True)
        raise DatabaseError(
            f"PayDesk could not open its database at {safe}: {exc.__class__.__name__}. "
            "Check that the file or server is reachable and that you may write to it."
        ) from exc
    return engine


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commits on success, rolls back on error, always closes."""
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
