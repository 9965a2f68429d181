"""``paydesk sync`` against the sandbox, with the connection stored as Setup stores it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.__main__ import main
from app.core.config import Profile, set_internal_currency
from app.core.connections import (
    AutotaskConnection,
    save_autotask_connection,
    save_autotask_secret,
)
from app.core.credentials import CredentialStore
from app.core.storage.engine import open_database
from app.core.sync.lock import SyncLock
from tests.integration.sync.support import small_sandbox


def _set_up(folder: Path, url: str, username: str, code: str, secret: str) -> None:
    profile = Profile.open(folder)
    engine = open_database(profile.database_url)
    set_internal_currency(engine, "USD")
    save_autotask_connection(engine, AutotaskConnection(
        username=username, integration_code=code, discovery_url=url))
    save_autotask_secret(CredentialStore(profile.key), secret)
    engine.dispose()


def test_sync_command_json_then_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "profile"
    with small_sandbox() as sandbox:
        c = sandbox.credentials
        _set_up(folder, sandbox.url, c.username, c.integration_code, c.secret)

        assert main(["--profile", str(folder), "sync", "--json"]) == 0
        figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert figures["status"] == "succeeded" and figures["kind"] == "full"
        assert figures["entities"]["Companies"]["inserted"] == sandbox.count("Companies")
        assert figures["requests"] > 0 and figures["seconds"] > 0

        assert main(["--profile", str(folder), "sync"]) == 0
        table = capsys.readouterr().out
        assert "Organizations" in table and "Invoice lines" in table
        assert "Sync finished" in table


def test_sync_command_explains_what_is_missing(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--profile", str(tmp_path / "empty"), "sync"]) == 2
    assert "not connected to Autotask" in capsys.readouterr().err


def test_sync_command_says_who_is_syncing(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "profile"
    with small_sandbox() as sandbox:
        c = sandbox.credentials
        _set_up(folder, sandbox.url, c.username, c.integration_code, c.secret)
        engine = open_database(Profile.open(folder).database_url)
        holder = SyncLock(engine)
        holder.acquire()
        try:
            assert main(["--profile", str(folder), "sync", "--json"]) == 2
        finally:
            holder.release()
            engine.dispose()
    answer = json.loads(capsys.readouterr().out)
    assert answer["status"] == "not_started" and "already running" in answer["error"]
