"""PostgreSQL keeps PayDesk safe the same way SQLite does: every connection carries the
statement timeout (300 s), a statement that runs past it ends in one plain sentence instead
of a hang, and a migration that fails part way leaves nothing behind."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from app.__main__ import main
from app.cli.failures import EXIT_CANNOT_START
from app.core.storage import engine as engine_module
from app.core.storage import migrate
from app.core.storage.engine import (
    create_database_engine,
    describe_database_failure,
    open_database,
)
from tests.conftest import drop_database

pytestmark = pytest.mark.postgres


@pytest.fixture
def empty_database(postgres_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database (its URL); dropped afterwards."""
    admin_url = make_url(postgres_url).set(database="postgres")
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"paydesk_safety_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        drop_database(admin, name)
        admin.dispose()


def test_every_connection_carries_the_300_second_statement_timeout(empty_database: str) -> None:
    engine = open_database(empty_database)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SHOW statement_timeout")).scalar() == "5min"
            assert connection.execute(text(
                "SELECT setting FROM pg_settings WHERE name = 'statement_timeout'"
            )).scalar() == "300000"  # milliseconds: 300 s
    finally:
        engine.dispose()


def test_a_statement_past_the_timeout_ends_in_one_sentence(
        empty_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "POSTGRES_STATEMENT_TIMEOUT_MS", 1000)
    engine = open_database(empty_database)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SHOW statement_timeout")).scalar() == "1s"
            started = time.monotonic()
            with pytest.raises(OperationalError) as caught:
                connection.execute(text("SELECT pg_sleep(5)"))
            assert time.monotonic() - started < 4  # cancelled by the server, not waited out
    finally:
        engine.dispose()
    sentence = describe_database_failure(caught.value)
    assert sentence is not None and "\n" not in sentence
    assert sentence.startswith("The database server did not finish a request in time")
    assert "1 second" in sentence


def test_a_command_blocked_by_a_lock_stops_in_one_line_not_a_hang(
        empty_database: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], tmp_path: object) -> None:
    """Another program holds a lock on PayDesk's settings: ``paydesk sync`` waits for it at
    most the statement timeout, then says so in one line (exit status 2)."""
    open_database(empty_database).dispose()  # PayDesk's tables, as after a first start
    monkeypatch.setattr(engine_module, "POSTGRES_STATEMENT_TIMEOUT_MS", 1000)
    blocker = create_engine(empty_database)
    try:
        with blocker.connect() as holding:
            holding.execute(text("LOCK TABLE settings IN ACCESS EXCLUSIVE MODE"))
            started = time.monotonic()
            code = main(["--profile", str(tmp_path), "--database-url", empty_database,
                         "sync"])
            elapsed = time.monotonic() - started
            holding.rollback()
    finally:
        blocker.dispose()
    captured = capsys.readouterr()
    err = captured.err
    assert "Traceback" not in err
    assert elapsed < 20
    assert code == EXIT_CANNOT_START
    assert err.strip().splitlines()[-1].startswith(
        "The database server did not finish a request in time")


def test_a_migration_that_fails_part_way_leaves_nothing(
        empty_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Like the SQLite test: a clash in the middle of the schema (a table of the same name as
    one of PayDesk's), past the refusal of foreign tables, and nothing stays behind."""
    setup = create_engine(empty_database)
    with setup.begin() as connection:
        connection.execute(text("CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT)"))
    setup.dispose()
    monkeypatch.setattr(migrate, "_refuse_foreign_tables", lambda engine: None)
    engine = create_database_engine(empty_database)
    try:
        with pytest.raises(Exception, match="already exists"):
            migrate.upgrade_to_head(engine)
        assert set(inspect(engine).get_table_names()) == {"settings"}
        with engine.connect() as connection:  # no half schema: no types, triggers or functions
            assert connection.execute(text(
                "SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                "WHERE n.nspname = 'public' AND t.typtype = 'e'")).scalar() == 0
            assert connection.execute(text(
                "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                "WHERE n.nspname = 'public'")).scalar() == 0
            assert connection.execute(text(
                "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal")).scalar() == 0
    finally:
        engine.dispose()
