"""The ``paydesk`` command: version, help, and a full smoke start in a separate process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from app import __version__
from app.cli import COMMANDS


def _paydesk() -> list[str]:
    """The installed ``paydesk`` script beside this Python, else ``python -m app``."""
    script = Path(sys.executable).parent / "paydesk"
    if script.is_file():
        return [str(script)]
    found = shutil.which("paydesk")
    return [found] if found else [sys.executable, "-m", "app"]


def _run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run(
        [*_paydesk(), *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def test_version() -> None:
    result = _run("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"PayDesk {__version__}"


def test_help_lists_the_options_and_commands() -> None:
    result = _run("--help")
    assert result.returncode == 0, result.stderr
    for option in ("--profile", "--database-url", "--demo", "--smoke"):
        assert option in result.stdout
    names = [module.rsplit(".", 1)[-1] for module in COMMANDS]
    assert names, "no sub-commands are registered"
    for name in names:
        assert name in result.stdout


def test_smoke_start_migrates_shows_the_window_and_exits_zero(tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    result = _run("--smoke", "--profile", str(profile), timeout=120)
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout
    assert (profile / "paydesk.sqlite3").is_file()
    log = (profile / "logs" / "paydesk.log").read_text(encoding="utf-8")
    assert "Smoke start passed" in log


def test_smoke_start_reports_a_database_it_cannot_open(tmp_path: Path) -> None:
    result = _run(
        "--smoke",
        "--profile",
        str(tmp_path / "profile"),
        "--database-url",
        "postgresql+psycopg://nobody:wrong@127.0.0.1:1/paydesk",
        timeout=120,
    )
    assert result.returncode == 2
    assert "could not open its database" in result.stderr
    assert "wrong" not in result.stderr  # the password is never shown


def test_demo_smoke_start_runs_against_the_sandbox(tmp_path: Path) -> None:
    # The README's first command ends in ``paydesk --demo``; this starts it fully, offscreen.
    result = _run("--demo", "--smoke", timeout=180)
    assert result.returncode == 0, result.stderr
    assert "paydesk-demo" in result.stdout or "started" in result.stdout
