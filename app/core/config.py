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
import json
import os
import socket
from collections.abc import Sequence
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


#: The audit action of a changed shared setting.
SETTING_CHANGED = "setting.changed"
#: Values longer than this (as JSON) are summarised in the audit entry, not copied (a logo).
_AUDIT_VALUE_LIMIT = 2000
#: Words that mark a value as secret-like: never copied into the audit log, even by mistake.
_SECRET_WORDS = ("password", "secret", "token", "api_key", "apikey", "private",
                 "integration_code")


def set_setting(
    engine: Engine, key: str, value: Any, actor: str | None = None, *, audit: bool = True
) -> None:
    """Store a JSON-serialisable value (never a secret; those go to app.core.credentials).

    A change is audited in the same transaction: who, when, which key, from what to what
    (``AuditEntry`` with action ``setting.changed``). Storing the value already stored
    changes nothing and is not audited. ``audit=False`` is for PayDesk's own bookkeeping
    state kept in this table (read watermarks, a service's status), which no person sets.
    """
    actor = actor or current_actor()
    stored = {"v": value}
    # Two seats (or two workers) may store a key nobody stored before at the same moment: the
    # second insert meets the first one's row, and is made again as an update.
    for attempt in (1, 2):
        try:
            _store_setting(engine, key, value, stored, actor, audit)
            return
        except IntegrityError:
            if attempt == 2:
                raise


def _store_setting(engine: Engine, key: str, value: Any, stored: dict[str, Any], actor: str,
                   audit: bool) -> None:
    with session_scope(engine) as session:
        row = session.get(Setting, key)
        before = None if row is None else row.value.get("v")
        if row is not None and row.value == stored:
            return
        now = utcnow()
        if row is None:
            session.add(Setting(key=key, value=stored, updated_at=now, updated_by=actor))
        else:
            row.value = stored
            row.updated_at = now
            row.updated_by = actor
        if audit:
            session.add(
                AuditEntry(
                    at=now,
                    actor=actor,
                    action=SETTING_CHANGED,
                    subject_type="settings",
                    subject_id=key[:100],
                    details={"key": key, "from": _audit_value(before),
                             "to": _audit_value(value)},
                )
            )


def _audit_value(value: Any) -> Any:
    """The value as the audit log keeps it: secret-looking fields masked, long values
    summarised (their size and a fingerprint, so a change can still be told apart)."""
    if isinstance(value, dict):
        value = {
            k: ("(hidden)" if any(word in str(k).lower() for word in _SECRET_WORDS)
                and v not in (None, "") else _audit_value(v))
            for k, v in value.items()
        }
    elif isinstance(value, list):
        value = [_audit_value(v) for v in value]
    text = json.dumps(value, sort_keys=True, default=str)
    if len(text) <= _AUDIT_VALUE_LIMIT:
        return value
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return {"summary": f"{len(text):,} characters", "sha256": digest}


@dataclass(frozen=True, slots=True)
class SettingChange:
    """When a shared setting was last changed, and by whom."""

    key: str
    changed_at: datetime
    changed_by: str


def last_setting_change(engine: Engine, keys: Sequence[str]) -> SettingChange | None:
    """The latest change among ``keys`` (a settings section shows it), or None if never set."""
    with session_scope(engine) as session:
        row = session.execute(
            select(Setting.key, Setting.updated_at, Setting.updated_by)
            .where(Setting.key.in_(list(keys)))
            .order_by(Setting.updated_at.desc())
            .limit(1)
        ).first()
        return None if row is None else SettingChange(row[0], row[1], row[2])


def setting_history(engine: Engine, key: str, limit: int = 20) -> list[AuditRecord]:
    """The audited changes of one setting, newest first."""
    with session_scope(engine) as session:
        rows = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.subject_type == "settings", AuditEntry.subject_id == key[:100],
                   AuditEntry.action == SETTING_CHANGED)
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(limit)
        ).all()
        return [
            AuditRecord(r.at, r.actor, (r.details or {}).get("from"), (r.details or {}).get("to"))
            for r in rows
        ]


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One audited change of a setting: when, who, from what to what."""

    at: datetime
    actor: str
    before: Any
    after: Any


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
