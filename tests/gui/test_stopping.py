"""Ctrl+C in the terminal and SIGTERM from the system end ``paydesk --demo`` cleanly: the
window closes as Quit closes it, and the throwaway demo profile (database included) is gone.

A real ``paydesk --demo`` runs in a subprocess (offscreen) with its temporary folder in the
test's own folder, so what it leaves behind can be seen."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32",
                                reason="POSIX signals; Windows has no SIGTERM to send")

START_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0


def _wait_for(condition: object, timeout: float, what: str,
              process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        if process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"PayDesk ended before {what}: {process.returncode}\n{out}\n{err}")
        time.sleep(0.1)
    process.kill()
    out, err = process.communicate()
    raise AssertionError(f"timed out waiting for {what}\n{out}\n{err}")


def _window_open(temp: Path) -> bool:
    return any("PayDesk window open" in log.read_text(errors="replace")
               for log in temp.glob("paydesk-demo-*/profile/logs/*.log"))


@pytest.mark.parametrize("sent", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stop_signal_closes_the_demo_and_deletes_its_profile(
    tmp_path: Path, sent: signal.Signals
) -> None:
    temp = tmp_path / "temp"
    temp.mkdir()
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "TMPDIR": str(temp),
           "PYTHON_KEYRING_BACKEND": "tests.keyring_memory.MemoryKeyring"}
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "--demo", "--demo-quickbooks", "none"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        _wait_for(lambda: _window_open(temp), START_TIMEOUT, "the window opened", process)
        assert list(temp.glob("paydesk-demo-*/profile"))  # the throwaway profile exists
        # A terminal's Ctrl+C sends SIGINT to the process (group); SIGTERM comes from the system.
        process.send_signal(sent)
        _, err = process.communicate(timeout=STOP_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert list(temp.glob("paydesk-demo-*")) == []  # nothing left: no profile, no database
