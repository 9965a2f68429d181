"""Fixtures shared by every test layer.

* ``engine``: an empty, migrated database for each test — SQLite always, and PostgreSQL as
  well when ``PAYDESK_TEST_POSTGRES_URL`` names a server where the user may create databases.
* ``sqlite_engine``: SQLite only, for tests that are not about storage.
* ``memory_keyring`` (autouse): the OS keychain replaced by an in-memory backend.
* ``profile``: a temporary profile folder with its SQLite database URL.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError

from app.core.config import Profile
from app.core.storage.engine import open_database, sqlite_url
from tests.keyring_memory import MemoryKeyring

POSTGRES_URL = os.environ.get("PAYDESK_TEST_POSTGRES_URL", "")


@pytest.fixture(autouse=True)
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def profile(tmp_path: Path) -> Profile:
    return Profile.open(tmp_path / "profile")


# --- databases ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file per test session; each test gets a copy (fast)."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    engine = open_database(sqlite_url(path))
    engine.dispose()
    return path


def _new_sqlite(template: Path, folder: Path) -> Engine:
    path = folder / f"paydesk-{uuid.uuid4().hex[:8]}.sqlite3"
    shutil.copyfile(template, path)
    return open_database(sqlite_url(path))


def drop_database(admin: Engine, name: str) -> None:
    """Drop a test database. ``WITH (FORCE)`` may not end a server process of another role —
    an autovacuum worker that started on the database, when the test role is not a superuser
    ("must be a member of the role whose process is being terminated"): then try again once
    that worker has finished, for 15 seconds at most."""
    deadline = time.monotonic() + 15
    while True:
        try:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            return
        except (OperationalError, ProgrammingError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


class _PostgresDatabases:
    """Creates one migrated template database, then a fresh copy of it for each test."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = make_url(admin_url)
        self.admin = create_engine(
            self.admin_url.set(database="postgres"), isolation_level="AUTOCOMMIT"
        )
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        self.template = f"paydesk_tpl_{worker}_{uuid.uuid4().hex[:6]}"
        self.created: list[str] = []
        with self.admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{self.template}"'))
        engine = open_database(self.admin_url.set(database=self.template).render_as_string(False))
        engine.dispose()

    def new(self) -> tuple[Engine, str]:
        name = f"paydesk_t_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
        url = self.admin_url.set(database=name).render_as_string(hide_password=False)
        return open_database(url), url

    def drop(self, name: str) -> None:
        drop_database(self.admin, name)

    def close(self) -> None:
        self.drop(self.template)
        self.admin.dispose()


@pytest.fixture(scope="session")
def _postgres() -> Iterator[_PostgresDatabases | None]:
    if not POSTGRES_URL:
        yield None
        return
    databases = _PostgresDatabases(POSTGRES_URL)
    try:
        yield databases
    finally:
        databases.close()


def _database_params() -> list[object]:
    params: list[object] = [pytest.param("sqlite", id="sqlite")]
    params.append(
        pytest.param(
            "postgresql",
            id="postgresql",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(
                    not POSTGRES_URL, reason="PAYDESK_TEST_POSTGRES_URL is not set"
                ),
            ],
        )
    )
    return params


@pytest.fixture(params=_database_params())
def engine(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    _sqlite_template: Path,
    _postgres: _PostgresDatabases | None,
) -> Iterator[Engine]:
    """An empty migrated database; the test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        eng = _new_sqlite(_sqlite_template, tmp_path)
        try:
            yield eng
        finally:
            eng.dispose()
        return
    assert _postgres is not None
    eng, url = _postgres.new()
    try:
        yield eng
    finally:
        eng.dispose()
        _postgres.drop(make_url(url).database or "")


@pytest.fixture
def sqlite_engine(tmp_path: Path, _sqlite_template: Path) -> Iterator[Engine]:
    eng = _new_sqlite(_sqlite_template, tmp_path)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def postgres_url() -> str:
    """The server URL for tests that need PostgreSQL itself (skips without one)."""
    if not POSTGRES_URL:
        pytest.skip("PAYDESK_TEST_POSTGRES_URL is not set")
    return POSTGRES_URL


@pytest.fixture(scope="module", params=["stripe", "authorizenet"])
def gateway_key(request: pytest.FixtureRequest) -> str:
    """The gateway a payment test runs for; every payment test runs for each
    (``tests/integration/payments/gateways.py`` has the gateways' test kits)."""
    return str(request.param)
