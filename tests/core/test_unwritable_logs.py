"""A logs folder this user may not write to (not just a file where the folder should be):
every command still does its work, or fails in one clear line — never a traceback.

Run as an ordinary user, the folder is made read-only. Run as root (where permissions do not
bite), the commands run as the unprivileged user ``nobody`` through ``setpriv``, with the
logs folder left to root, as an administrator might have made it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOBODY = 65534
SETUP = ["setup", "--currency", "USD", "--autotask-username", "api@example.com",
         "--autotask-integration-code", "CODE42",
         "--autotask-discovery-url", "http://127.0.0.1:9/atservicesrest/"]


@dataclass
class Runner:
    """Runs ``python -m app`` as a user who cannot write the logs folder."""

    prefix: list[str]
    python: str
    home: Path
    profile: Path

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        env = {
            "HOME": str(self.home), "PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "offscreen",
            "PAYDESK_AUTOTASK_SECRET": "a-secret-value", "LANG": "C.UTF-8",
            "PYTHONPATH": os.pathsep.join([str(ROOT), sysconfig.get_paths()["purelib"]]),
        }
        return subprocess.run([*self.prefix, self.python, "-m", "app", "--profile",
                               str(self.profile), *argv], capture_output=True, text=True,
                              timeout=180, env=env, cwd=str(self.home))


def _same_python_for_nobody(prefix: list[str]) -> str | None:
    """An interpreter of this Python version that ``nobody`` may run (root's own may sit
    in a private folder)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (sys.executable, shutil.which(version, path="/usr/bin:/usr/local/bin")):
        if not candidate:
            continue
        done = subprocess.run([*prefix, candidate, "-c", "import sys; print(sys.version_info[:2])"],
                              capture_output=True, text=True, timeout=60)
        if done.returncode == 0 and done.stdout.strip() == str(tuple(sys.version_info[:2])):
            return candidate
    return None


@pytest.fixture
def runner() -> Iterator[Runner]:
    if os.name != "posix":
        pytest.skip("folder permissions are POSIX here")
    home = Path(tempfile.mkdtemp(prefix="paydesk-logs-"))
    try:
        profile = home / "profile"
        logs = profile / "logs"
        logs.mkdir(parents=True)
        if os.geteuid() == 0:
            setpriv = shutil.which("setpriv")
            if setpriv is None:
                pytest.skip("running as root without setpriv: cannot take permissions away")
            prefix = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
            for path in (home, profile):
                os.chown(path, NOBODY, NOBODY)
            home.chmod(0o700)
            profile.chmod(0o700)
            logs.chmod(0o755)  # root's folder: nobody may read it, not write in it
            python = _same_python_for_nobody(prefix)
            if python is None:
                pytest.skip("no Python of this version that the unprivileged user may run")
        else:
            prefix, python = [], sys.executable
            logs.chmod(0o555)
        probe = subprocess.run([*prefix, "touch", str(logs / "probe")], capture_output=True)
        assert probe.returncode != 0, "the logs folder must not be writable for the test user"
        yield Runner(prefix, python, home, profile)
    finally:
        (home / "profile" / "logs").chmod(0o755)
        shutil.rmtree(home, ignore_errors=True)


def _no_traceback(done: subprocess.CompletedProcess[str]) -> str:
    both = done.stdout + done.stderr
    assert "Traceback" not in both, both
    assert "PayDesk stopped because" not in both, both
    return both


def test_every_command_works_without_a_writable_logs_folder(runner: Runner) -> None:
    logs = runner.profile / "logs"

    doctor = runner.run("doctor")
    out = _no_traceback(doctor)
    assert doctor.returncode == 1  # not set up yet: its usual answer, with what to fix
    assert "[OK ] Profile" in out
    assert "[FIX] Log file" in out and "cannot write its log file" in out

    smoke = runner.run("--smoke")
    _no_traceback(smoke)
    assert smoke.returncode == 0, smoke.stderr
    assert "started; database: SQLite file" in smoke.stdout + smoke.stderr

    setup = runner.run(*SETUP)
    out = _no_traceback(setup)
    # Its usual work: the currency is chosen and the Autotask test runs (nothing listens at
    # that loopback address, so it says so plainly and saves nothing).
    assert setup.returncode == 1
    assert "could not reach Autotask" in out

    doctor = runner.run("doctor")
    _no_traceback(doctor)
    assert list(logs.iterdir()) == []  # nothing could be written there, and nothing was
