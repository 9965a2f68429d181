"""Every command fails in one clear line: no traceback, a documented exit status.

Each command is run in-process through ``app.__main__.main`` (what the ``paydesk`` script
calls) against inputs people have actually met: a database address that does not parse, a
database that cannot be reached, refuses the password, never answers, or is not a database
at all; a profile path that is a file; a logs folder that cannot be written; sign-in values
with characters outside Latin-1 or spaces around them.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from app.__main__ import main
from app.cli.failures import EXIT_CANNOT_START
from tests.conftest import POSTGRES_URL

SETUP = ["setup", "--currency", "USD", "--autotask-username", "api@example.com",
         "--autotask-integration-code", "CODE42",
         "--autotask-discovery-url", "http://127.0.0.1:9/atservicesrest/"]
COMMANDS = {
    "sync": ["sync"],
    "doctor": ["doctor"],
    "setup": SETUP,
    "payments recover": ["payments", "recover"],
}


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return code, captured.out, captured.err


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYDESK_AUTOTASK_SECRET", "a-secret-value")


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(("url", "words"), [
    ("not a database address", "not a database address PayDesk understands"),
    ("mysql://user@server/paydesk", "PostgreSQL and SQLite"),
    ("postgresql+psycopg:///paydesk", "names no PostgreSQL server"),
])
def test_a_database_url_that_does_not_parse(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                            command: str, url: str, words: str) -> None:
    code, _out, err = _run(capsys, "--profile", str(tmp_path / "p"), "--database-url", url,
                           *COMMANDS[command])
    assert code == EXIT_CANNOT_START
    assert words in _one_line(err)


def test_the_window_refuses_a_bad_database_url_in_one_line(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _out, err = _run(capsys, "--smoke", "--profile", str(tmp_path / "p"),
                           "--database-url", "nonsense")
    assert code == EXIT_CANNOT_START and "--database-url" in _one_line(err)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_profile_path_that_is_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                       command: str) -> None:
    path = tmp_path / "profile"
    path.write_text("not a folder")
    code, _out, err = _run(capsys, "--profile", str(path), *COMMANDS[command])
    assert code == EXIT_CANNOT_START
    assert "is a file, not a folder" in _one_line(err)


def _corrupt_sqlite(tmp_path: Path) -> str:
    path = tmp_path / "broken.sqlite3"
    path.write_bytes(b"this is not a database file" * 200)
    return f"sqlite:///{path}"


def _foreign_sqlite(tmp_path: Path) -> str:
    import sqlite3

    path = tmp_path / "other-program.sqlite3"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE invoices (number TEXT, amount REAL)")
        connection.execute("INSERT INTO invoices VALUES ('A-1', 12.5)")
    connection.close()
    return f"sqlite:///{path}"


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A loopback server that accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()


@pytest.mark.parametrize("command", ["sync", "setup", "payments recover"])
@pytest.mark.parametrize("database", ["unreachable", "corrupt", "silent", "foreign",
                                      "wrong password"])
def test_a_database_that_cannot_be_used(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                        silent_server: int, command: str,
                                        database: str) -> None:
    if database == "unreachable":
        url = "postgresql+psycopg://paydesk:x@127.0.0.1:1/paydesk"
    elif database == "corrupt":
        url = _corrupt_sqlite(tmp_path)
    elif database == "silent":
        url = f"postgresql+psycopg://paydesk:x@127.0.0.1:{silent_server}/p?connect_timeout=2"
    elif database == "foreign":
        url = _foreign_sqlite(tmp_path)
    else:
        if not POSTGRES_URL:
            pytest.skip("PAYDESK_TEST_POSTGRES_URL is not set")
        url = make_url(POSTGRES_URL).set(password="wrong").render_as_string(False)
    started = time.monotonic()
    code, _out, err = _run(capsys, "--profile", str(tmp_path / "p"), "--database-url", url,
                           *COMMANDS[command])
    assert time.monotonic() - started < 30
    assert code == EXIT_CANNOT_START
    line = _one_line(err) if command != "setup" else err.strip().splitlines()[-1]
    assert "database" in line.lower()
    assert "x@" not in err  # the password is never shown
    if database == "foreign":
        assert "tables PayDesk did not create (invoices)" in line
        import sqlite3

        path = make_url(url).database
        assert path is not None
        with sqlite3.connect(path) as connection:  # nothing was added to it
            names = {r[0] for r in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
        connection.close()
        assert names == {"invoices"}


def test_doctor_reports_a_database_that_never_answers(capsys: pytest.CaptureFixture[str],
                                                      tmp_path: Path, silent_server: int) -> None:
    url = f"postgresql+psycopg://paydesk:x@127.0.0.1:{silent_server}/p?connect_timeout=2"
    started = time.monotonic()
    code, out, _err = _run(capsys, "--profile", str(tmp_path / "p"), "--database-url", url,
                           "doctor")
    assert time.monotonic() - started < 30
    assert code == 1 and "[FIX]" in out


@pytest.mark.parametrize("command", COMMANDS)
def test_a_logs_folder_that_cannot_be_written_does_not_stop_a_command(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str) -> None:
    profile = tmp_path / "p"
    profile.mkdir()
    (profile / "logs").write_text("a file where the logs folder should be")
    code, out, err = _run(capsys, "--profile", str(profile), *COMMANDS[command])
    # The command does its usual work (here: PayDesk is not set up yet) — no crash.
    assert code in (1, 2), out + err
    assert "PayDesk stopped because" not in err


def test_without_a_log_file_no_traceback_reaches_the_terminal(tmp_path: Path) -> None:
    import subprocess
    import sys

    blocked = tmp_path / "logs"
    blocked.write_text("a file where the logs folder should be")
    script = (
        "import logging, sys\n"
        "from pathlib import Path\n"
        "from app.core.logs import setup_logging\n"
        f"assert setup_logging(Path({str(blocked)!r})) is None\n"
        "try:\n"
        "    raise ValueError('inside')\n"
        "except ValueError:\n"
        "    logging.getLogger('app.core.sync').exception('The sync stopped')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "inside" not in done.stderr


def test_the_window_starts_without_a_writable_logs_folder(tmp_path: Path) -> None:
    import subprocess
    import sys

    profile = tmp_path / "p"
    profile.mkdir()
    (profile / "logs").write_text("not a folder")
    done = subprocess.run([sys.executable, "-m", "app", "--smoke", "--profile", str(profile)],
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("option", "value", "words"), [
    ("--autotask-username", "zoë@exämple.com", None),
    ("--autotask-username", "api@例え.jp", "user name contains a character"),
    ("--autotask-integration-code", "CODE–42", "integration code contains a character"),
])
def test_setup_refuses_sign_in_values_outside_latin1(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, option: str, value: str,
        words: str | None) -> None:
    argv = list(SETUP)
    argv[argv.index(option) + 1] = value
    code, _out, err = _run(capsys, "--profile", str(tmp_path / "p"), *argv)
    if words is None:  # Latin-1 letters are fine; the (unreachable) zone lookup fails
        assert code == 1 and "Nothing was saved" in err
        return
    assert code == 2 and words in _one_line(err)


@pytest.mark.parametrize(("secret", "words"), [
    ("  a-secret-with-spaces ", "starts or ends with a space"),
    ("sécret-ok-but-€", "secret contains a character"),
])
def test_setup_says_what_is_wrong_with_the_secret(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        secret: str, words: str) -> None:
    monkeypatch.setenv("PAYDESK_AUTOTASK_SECRET", secret)
    code, _out, err = _run(capsys, "--profile", str(tmp_path / "p"), *SETUP)
    assert code == 2
    assert words in err.strip().splitlines()[-1]
    assert "internet" not in err


def test_profile_and_logs_are_private(capsys: pytest.CaptureFixture[str],
                                      tmp_path: Path) -> None:
    profile = tmp_path / "p"
    _run(capsys, "--profile", str(profile), "doctor")
    assert profile.stat().st_mode & 0o777 == 0o700
    assert (profile / "logs").stat().st_mode & 0o777 == 0o700
    assert (profile / "logs" / "paydesk.log").stat().st_mode & 0o777 == 0o600


def test_the_window_leaves_every_profile_file_private(tmp_path: Path) -> None:
    """After the window ran (its layout saved in window.ini, the database, the log), every
    folder of the profile is 0700 and every file 0600."""
    import subprocess
    import sys

    profile = tmp_path / "p"
    done = subprocess.run([sys.executable, "-m", "app", "--smoke", "--profile", str(profile)],
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert done.returncode == 0, done.stderr
    found = {path.relative_to(profile).as_posix(): path.stat().st_mode & 0o777
             for path in [profile, *profile.rglob("*")]}
    assert {"window.ini", "paydesk.sqlite3", "logs/paydesk.log"} <= set(found)
    assert {name: mode for name, mode in found.items()
            if mode != (0o700 if (profile / name).is_dir() else 0o600)} == {}
