"""Engine and session setup for SQLite (default) and PostgreSQL (shared by several seats).

``open_database(url)`` is the only way PayDesk opens a database: it applies SQLite's pragmas
(WAL, foreign keys, busy timeout), keeps a new SQLite file readable only by its owner, and
runs the alembic migrations to the newest revision.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
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
    from app.core.storage.search import register_sqlite_functions

    register_sqlite_functions(dbapi_connection)
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
    ping_when_idle = "pool_pre_ping" not in kwargs
    if make_url(url).get_backend_name() == "postgresql":
        kwargs["connect_args"] = _postgres_timeouts(url, kwargs.get("connect_args") or {})
    engine = create_engine(url, **kwargs)
    if ping_when_idle:
        event.listen(engine, "checkout", _ping_if_idle)
        event.listen(engine, "checkin", _note_checkin)
    return engine


#: A pooled server connection unused for longer than this is checked before it is handed
#: out (a server restart or a dropped network shows up as a fresh connection, not an error).
POOL_IDLE_PING_S = 20.0


def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
    record.info["paydesk_checked_in"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """SQLAlchemy's ``pool_pre_ping`` asks the server on every checkout — one network round
    trip more for every query a screen waits for, 2 ms or more on a shared server. Asking
    only when the connection sat unused for a while keeps the protection where it matters
    (connections left idle while a server restarts or a laptop sleeps) at no cost to a
    person typing or scrolling."""
    last = record.info.get("paydesk_checked_in")
    if last is None or time.monotonic() - last < POOL_IDLE_PING_S:
        return
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SELECT 1")
    except Exception as exc:
        raise DisconnectionError("the pooled connection no longer answers") from exc
    finally:
        with contextlib.suppress(Exception):
            cursor.close()
    if getattr(dbapi_connection, "autocommit", True) is False:
        # psycopg opened a transaction for the ping; end it so the connection is idle.
        dbapi_connection.rollback()


def read_connection(engine: Engine) -> Connection:
    """A connection for reading only (screens' id queries and pages of rows, in workers).

    On PostgreSQL it reads in autocommit mode: no BEGIN before the query and no ROLLBACK
    after it, two round trips a screen would otherwise wait for on a shared server. Each
    statement still sees one consistent snapshot. SQLite is unchanged."""
    connection = engine.connect()
    if engine.dialect.name == "postgresql":
        connection.execution_options(isolation_level="AUTOCOMMIT")
    return connection


#: A PostgreSQL server that accepts connections but never answers must not hang PayDesk.
POSTGRES_CONNECT_TIMEOUT_S = 10
POSTGRES_STATEMENT_TIMEOUT_MS = 300_000


def _postgres_timeouts(url: str, connect_args: dict[str, Any]) -> dict[str, Any]:
    """Connect and statement timeouts, unless the address sets its own."""
    query = make_url(url).query
    merged = dict(connect_args)
    if "connect_timeout" not in query:
        merged.setdefault("connect_timeout", POSTGRES_CONNECT_TIMEOUT_S)
    if "options" not in query:
        merged.setdefault("options", f"-c statement_timeout={POSTGRES_STATEMENT_TIMEOUT_MS}")
    return merged


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
            f"PayDesk could not open its database at {safe}: {_why(exc)}."
        ) from exc
    return engine


def describe_database_failure(exc: BaseException) -> str | None:
    """A sentence for a database request that failed while PayDesk was working (the server
    timed a statement out, went away, or refused); None when ``exc`` is not a database error.
    Never the driver's text, which can quote values."""
    from sqlalchemy.exc import SQLAlchemyError

    if not isinstance(exc, SQLAlchemyError):
        return None
    cause = getattr(exc, "orig", None) or exc
    text = str(cause).lower()
    if type(cause).__name__ == "QueryCanceled" or "statement timeout" in text:
        return ("The database server did not finish a request in time (PayDesk waits at most "
                f"{_statement_timeout_text()} for one): it may be overloaded, or another "
                "program may be holding a lock. Try again; if it happens again, ask whoever "
                "runs the database server to look at it.")
    return ("PayDesk could not work with its database "
            f"({type(cause).__name__}). Check that the database server is running and "
            "reachable, then try again.")


def _statement_timeout_text() -> str:
    seconds = POSTGRES_STATEMENT_TIMEOUT_MS / 1000
    return f"{seconds:g} seconds" if seconds != 1 else "1 second"


def _why(exc: BaseException) -> str:
    """The cause of a failed open in words, with what to do (never the driver's text,
    which can quote the address and its password)."""
    cause = getattr(exc, "orig", None) or exc
    text = str(cause).lower()
    if "password authentication failed" in text or "no password supplied" in text:
        return "the server refused the user name or password. Check them in the address"
    if "does not exist" in text and "database" in text:
        return "the server has no database of that name. Create it, or check the address"
    if "timeout" in text or "timed out" in text:
        return ("the server did not answer in time. Check the server's address and that "
                "it is running")
    if "connection refused" in text or "could not connect" in text or "connection failed" \
            in text:
        return ("nothing answered at that address. Check the server's address and that it "
                "is running")
    if "not a database" in text or "malformed" in text or "encrypted" in text:
        return ("the file is not a database or is damaged. Restore it from a backup, or "
                "choose another file")
    if "unable to open" in text or "readonly" in text or "read-only" in text:
        return ("the file cannot be opened for writing. Check the folder exists and that "
                "you may write to it")
    return (f"{type(cause).__name__}. Check that the file or server is reachable and that "
            "you may write to it")


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
