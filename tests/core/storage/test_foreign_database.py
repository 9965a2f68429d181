"""PayDesk never writes into another program's database, and a failed migration leaves
nothing behind."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import inspect

from app.core.storage import migrate
from app.core.storage.engine import DatabaseError, create_database_engine, open_database

_CREATE = {"stock": "CREATE TABLE stock (key TEXT PRIMARY KEY, value TEXT)",
           "settings": "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT)"}


def _other_program(path: Path, table: str) -> str:
    with sqlite3.connect(path) as connection:
        connection.execute(_CREATE[table])
    connection.close()
    return f"sqlite:///{path}"


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as connection:
        found = {r[0] for r in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
    connection.close()
    return found


def test_a_database_holding_other_tables_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "inventory.sqlite3"
    url = _other_program(path, "stock")
    with pytest.raises(DatabaseError) as caught:
        open_database(url)
    assert "tables PayDesk did not create (stock)" in str(caught.value)
    assert "Nothing was changed" in str(caught.value)
    assert _tables(path) == {"stock"}


def test_a_migration_that_fails_half_way_leaves_nothing(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Even past the refusal (a clash in the middle of the schema), nothing stays behind."""
    path = tmp_path / "clash.sqlite3"
    url = _other_program(path, "settings")  # PayDesk has a table of that name too
    monkeypatch.setattr(migrate, "_refuse_foreign_tables", lambda engine: None)
    engine = create_database_engine(url)
    try:
        with pytest.raises(Exception, match="already exists"):
            migrate.upgrade_to_head(engine)
        assert set(inspect(engine).get_table_names()) == {"settings"}
    finally:
        engine.dispose()
    assert _tables(path) == {"settings"}
