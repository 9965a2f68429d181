"""The profile folder, program-wide settings and the internal currency.

A *profile* is one PayDesk installation's folder (logs, the SQLite database, the instance
lock) plus the URL of its database. Several seats may share one PostgreSQL database, each
with its own profile folder. Settings that all seats share live in the database
(``settings`` table); window layout lives in the GUI's own per-seat settings.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import os
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from platformdirs import user_data_path
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from app.core.clock import utcnow
from app.core.money import is_known_currency
from app.core.storage.engine import session_scope, sqlite_url
from app.core.storage.models import AuditEntry, InternalCurrency, Setting

APP_NAME = "PayDesk"
DATABASE_FILENAME = "paydesk.sqlite3"


@dataclass(frozen=True, slots=True)
class Profile:
    """Where this PayDesk keeps its files, and which database it uses."""

    folder: Path
    database_url: str

    @classmethod
    def open(cls, folder: Path | None = None, database_url: str | None = None) -> Profile:
        folder = (folder or default_profile_folder()).expanduser().resolve()
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        if os.name == "posix":
            # The profile holds the database, logs and settings: only its owner may read it.
            with contextlib.suppress(OSError):
                folder.chmod(0o700)
        return cls(folder, database_url or sqlite_url(folder / DATABASE_FILENAME))

    @property
    def logs_folder(self) -> Path:
        return self.folder / "logs"

    @property
    def key(self) -> str:
        """A short stable id for this profile (keychain entries are kept per profile)."""
        return hashlib.sha256(str(self.folder).encode()).hexdigest()[:12]

    def describe_database(self) -> str:
        from sqlalchemy.engine import make_url

        url = make_url(self.database_url)
        if url.get_backend_name() == "sqlite":
            return f"SQLite file {url.database}"
        return f"PostgreSQL {url.render_as_string(hide_password=True)}"


def default_profile_folder() -> Path:
    return user_data_path(APP_NAME, appauthor=False, roaming=True)


def current_actor() -> str:
    """Who is at the keyboard, for the audit log: ``user@computer``."""
    try:
        user = getpass.getuser()
    except Exception:  # getuser raises OSError or KeyError when no name can be found
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


# --- settings shared by every seat -----------------------------------------------------------


def get_setting(engine: Engine, key: str, default: Any = None) -> Any:
    with session_scope(engine) as session:
        row = session.get(Setting, key)
        return default if row is None else row.value.get("v", default)


def set_setting(engine: Engine, key: str, value: Any, actor: str | None = None) -> None:
    """Store a JSON-serialisable value (never a secret; those go to app.core.credentials)."""
    actor = actor or current_actor()
    with session_scope(engine) as session:
        row = session.get(Setting, key)
        if row is None:
            session.add(Setting(key=key, value={"v": value}, updated_at=utcnow(), updated_by=actor))
        else:
            row.value = {"v": value}
            row.updated_at = utcnow()
            row.updated_by = actor


# --- the internal currency ----------------------------------------------------------------------


class CurrencyLockedError(Exception):
    """The internal currency is already set; it can never be changed."""


def get_internal_currency(engine: Engine) -> str | None:
    with session_scope(engine) as session:
        return session.scalar(select(InternalCurrency.code).where(InternalCurrency.id == 1))


@dataclass(frozen=True, slots=True)
class CurrencyLock:
    """The internal currency as it was locked: which, when, by whom."""

    code: str
    locked_at: datetime
    locked_by: str


def internal_currency_lock(engine: Engine) -> CurrencyLock | None:
    """When and by whom the internal currency was chosen (None before Setup chose it)."""
    with session_scope(engine) as session:
        row = session.scalars(select(InternalCurrency).where(InternalCurrency.id == 1)).first()
        return (CurrencyLock(row.code, row.locked_at, row.locked_by)
                if row is not None else None)


def set_internal_currency(engine: Engine, code: str, actor: str | None = None) -> None:
    """Set the internal currency once. Setting the same code again is harmless; a different
    one raises ``CurrencyLockedError`` (the database's triggers refuse it too)."""
    code = code.strip().upper()
    if not is_known_currency(code):
        raise ValueError(f"{code!r} is not an ISO 4217 currency code")
    actor = actor or current_actor()
    current = get_internal_currency(engine)
    if current is not None:
        if current == code:
            return
        raise CurrencyLockedError(
            f"The internal currency is {current} and can never be changed. "
            f"PayDesk cannot switch it to {code}."
        )
    try:
        with session_scope(engine) as session:
            now = utcnow()
            session.add(InternalCurrency(id=1, code=code, locked_at=now, locked_by=actor))
            session.add(
                AuditEntry(
                    at=now,
                    actor=actor,
                    action="currency.set",
                    subject_type="settings",
                    subject_id="internal_currency",
                    details={"currency": code},
                )
            )
    except IntegrityError as exc:
        # Another seat set it a moment ago.
        winner = get_internal_currency(engine)
        if winner == code:
            return
        raise CurrencyLockedError(
            f"The internal currency was just set to {winner} on another computer and can "
            "never be changed."
        ) from exc
