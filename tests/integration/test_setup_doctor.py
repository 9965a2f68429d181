"""``paydesk setup`` + ``paydesk sync`` + ``paydesk doctor``, headless, as IT would run them.

Each command runs in its own process against ``paydesk sandbox autotask`` (also its own
process), sharing a profile folder and a file-backed test keychain.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.__main__ import build_parser

ROOT = Path(__file__).resolve().parents[2]
SECRET = "sandbox-secret-4711"
CODE = "SANDBOXCODE42"
USER = "paydesk-api@sandbox.example"


@dataclass
class Sandbox:
    process: subprocess.Popen[str]
    url: str


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "sandbox", "autotask", "--port", "0", "--companies", "25",
         "--contacts", "40", "--contracts", "10", "--tickets", "60", "--invoices", "120",
         "--secret", SECRET, "--integration-code", CODE],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("url: "), first + (process.stderr.read() if process.stderr else "")
        yield Sandbox(process, first.split(": ", 1)[1].strip())
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


@pytest.fixture
def paydesk(tmp_path: Path):  # type: ignore[no-untyped-def]
    profile = tmp_path / "profile"
    keyring_file = tmp_path / "keyring.json"

    def run(*args: str, secret: str | None = None) -> Result:
        env = dict(os.environ)
        env.pop("PAYDESK_AUTOTASK_SECRET", None)
        env.update(
            PYTHON_KEYRING_BACKEND="tests.integration.file_keyring.FileKeyring",
            PAYDESK_TEST_KEYRING_FILE=str(keyring_file),
            PYTHONPATH=str(ROOT),
        )
        if secret is not None:
            env["PAYDESK_AUTOTASK_SECRET"] = secret
        done = subprocess.run(
            [sys.executable, "-m", "app", "--profile", str(profile), *args],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
            stdin=subprocess.DEVNULL,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    run.profile = profile  # type: ignore[attr-defined]
    run.keyring_file = keyring_file  # type: ignore[attr-defined]
    return run


def setup_args(sandbox: Sandbox, *, user: str = USER, code: str = CODE,
               currency: str = "USD") -> list[str]:
    return ["setup", "--currency", currency, "--autotask-username", user,
            "--autotask-integration-code", code, "--autotask-discovery-url", sandbox.url]


def test_setup_sync_doctor_all_well(paydesk, sandbox: Sandbox) -> None:  # type: ignore[no-untyped-def]
    before = paydesk("doctor")
    assert before.code == 1
    assert "has not been set up" in " ".join(before.out.split())

    setup = paydesk(*setup_args(sandbox), secret=SECRET)
    assert setup.code == 0, setup.text
    assert "Connected to Autotask." in setup.out
    assert "Organizations: 25" in setup.out
    assert "Internal currency: USD" in setup.out
    assert SECRET not in setup.text

    sync = paydesk("sync")
    assert sync.code == 0, sync.text

    doctor = paydesk("doctor")
    assert doctor.code == 0, doctor.text
    for title in ("Profile", "Database", "Keychain", "Currency", "Autotask", "Last sync"):
        assert f"[OK ] {title}" in doctor.out, doctor.out
    assert "USD (locked)" in doctor.out
    assert "Everything is in order." in doctor.out
    found = re.search(r"full sync finished just now; ([\d,]+) records read", doctor.out)
    assert found is not None, doctor.out
    assert int(found.group(1).replace(",", "")) > 25 + 40 + 10 + 60 + 120  # plus invoice lines

    # The secret is in the keychain only: not in the database file, the logs or any output.
    assert SECRET in paydesk.keyring_file.read_text()
    for path in paydesk.profile.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    with sqlite3.connect(paydesk.profile / "paydesk.sqlite3") as db:
        settings = " ".join(str(row) for row in db.execute("select * from settings"))
    assert USER in settings and CODE in settings and SECRET not in settings


def test_wrong_secret_fails_and_saves_nothing(paydesk, sandbox: Sandbox) -> None:  # type: ignore[no-untyped-def]
    result = paydesk(*setup_args(sandbox), secret="not-the-secret")
    assert result.code == 1
    assert "Autotask did not accept the secret." in result.err
    assert "Nothing was saved." in result.err
    doctor = paydesk("doctor")
    assert doctor.code == 1
    assert "[FIX] Currency" in doctor.out and "[FIX] Autotask" in doctor.out


@pytest.mark.parametrize(
    ("user", "code", "message"),
    [
        ("typo@sandbox.example", CODE, "could not tell which data centre (zone)"),
        (USER, "WRONGCODE", "does not recognise the API integration code"),
    ],
    ids=["zone-not-found", "integration-code"],
)
def test_each_failure_says_what_to_fix(paydesk, sandbox: Sandbox, user: str, code: str,  # type: ignore[no-untyped-def]
                                        message: str) -> None:
    result = paydesk(*setup_args(sandbox, user=user, code=code), secret=SECRET)
    assert result.code == 1
    assert message in result.err


def test_bad_values_and_missing_secret_exit_2(paydesk, sandbox: Sandbox,
                                             capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    bad = paydesk(*setup_args(sandbox, user="not-an-email", currency="XAU"), secret=SECRET)
    assert bad.code == 2
    assert "not a currency code" in bad.err and "email address" in bad.err
    no_secret = paydesk(*setup_args(sandbox))
    assert no_secret.code == 2
    assert "PAYDESK_AUTOTASK_SECRET" in no_secret.err
    with pytest.raises(SystemExit):
        build_parser().parse_args(["setup", "--help"])
    help_text = capsys.readouterr().out
    assert "--autotask-username" in help_text and "secret" in help_text
    assert "--autotask-secret" not in help_text  # the secret is never taken from argv


def test_currency_cannot_change_on_a_second_setup(paydesk, sandbox: Sandbox) -> None:  # type: ignore[no-untyped-def]
    assert paydesk(*setup_args(sandbox), secret=SECRET).code == 0
    again = paydesk(*setup_args(sandbox, currency="EUR"), secret=SECRET)
    assert again.code == 3
    assert "already USD and can never be changed" in again.err
    # The same currency again is fine, and the stored secret is reused without a prompt.
    assert paydesk(*setup_args(sandbox)).code == 0


def test_doctor_explains_an_unreachable_autotask(paydesk, sandbox: Sandbox) -> None:  # type: ignore[no-untyped-def]
    assert paydesk(*setup_args(sandbox), secret=SECRET).code == 0
    discovery_down = "http://127.0.0.1:9/atservicesrest/"
    moved = paydesk("setup", "--currency", "USD", "--autotask-username", USER,
                    "--autotask-integration-code", CODE, "--autotask-discovery-url",
                    discovery_down, secret=SECRET)
    assert moved.code == 1 and "could not reach Autotask" in moved.err
    doctor = paydesk("doctor")
    assert doctor.code == 1
    assert "[OK ] Autotask" in doctor.out  # the failed setup changed nothing
    assert "[FIX] Last sync" in doctor.out and "paydesk sync" in doctor.out

    # Now Autotask itself cannot be reached with the stored connection.
    closed = "http://127.0.0.1:9/ATServicesRest/"
    with sqlite3.connect(paydesk.profile / "paydesk.sqlite3") as db:
        (raw,) = db.execute(
            "select value from settings where key = 'autotask.connection'").fetchone()
        value = json.loads(raw)
        value["v"].update(zone_url=closed, api_url=closed)
        db.execute("update settings set value = ? where key = 'autotask.connection'",
                   (json.dumps(value),))
    doctor = paydesk("doctor")
    assert doctor.code == 1
    assert "[FIX] Autotask" in doctor.out
    assert "could not reach Autotask" in " ".join(doctor.out.split())
