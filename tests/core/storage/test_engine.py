"""How PayDesk opens its database: SQLite settings, file permissions, readable failures."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from app.core.storage.engine import DatabaseError, open_database, sqlite_url


def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    engine = open_database(sqlite_url(tmp_path / "paydesk.sqlite3"))
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert connection.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
    finally:
        engine.dispose()


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_a_new_database_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "profile" / "paydesk.sqlite3"
    engine = open_database(sqlite_url(path))
    engine.dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_database_that_cannot_be_opened_says_so_without_its_password() -> None:
    url = "postgresql+psycopg://paydesk:Hunter2Secret@127.0.0.1:1/paydesk"
    with pytest.raises(DatabaseError) as raised:
        open_database(url, connect_args={"connect_timeout": 2})
    message = str(raised.value)
    assert "could not open its database" in message
    assert "Hunter2Secret" not in message


def test_only_the_credentials_module_talks_to_the_keychain() -> None:
    root = Path(__file__).resolve().parents[3] / "app"
    offenders = [
        path.relative_to(root).as_posix()
        for path in root.rglob("*.py")
        if path.name != "credentials.py"
        and any(
            line.strip().startswith(("import keyring", "from keyring"))
            for line in path.read_text(encoding="utf-8").splitlines()
        )
    ]
    assert offenders == []
