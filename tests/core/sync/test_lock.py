"""One sync per database: the second is told who holds the lock; a dead holder is replaced."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from sqlalchemy import Engine

from app.core.clock import utcnow
from app.core.config import set_setting
from app.core.sync.lock import LOCK_KEY, SyncAlreadyRunningError, SyncLock, current_holder


def test_second_lock_is_refused_with_the_holder(engine: Engine) -> None:
    first = SyncLock(engine)
    first.acquire()
    try:
        holder = current_holder(engine)
        assert holder is not None and holder.pid == os.getpid()
        with pytest.raises(SyncAlreadyRunningError) as caught:
            SyncLock(engine).acquire()
        assert caught.value.holder == holder
        assert socket.gethostname() in caught.value.message
    finally:
        first.release()
    assert current_holder(engine) is None
    again = SyncLock(engine)
    again.acquire()
    again.release()


def test_lock_of_a_killed_process_is_taken_over(sqlite_engine: Engine) -> None:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
    dead_pid = int(finished.stdout)
    set_setting(sqlite_engine, LOCK_KEY, {
        "token": "x", "actor": "someone@elsewhere", "host": socket.gethostname(),
        "pid": dead_pid, "since": utcnow().isoformat()})
    lock = SyncLock(sqlite_engine)
    lock.acquire()  # the holder's process is gone: no waiting for a timeout
    try:
        holder = current_holder(sqlite_engine)
        assert holder is not None and holder.pid == os.getpid()
    finally:
        lock.release()


def test_live_lock_on_another_computer_is_respected(sqlite_engine: Engine) -> None:
    set_setting(sqlite_engine, LOCK_KEY, {
        "token": "x", "actor": "anna@front-desk", "host": "front-desk-pc",
        "pid": 4242, "since": utcnow().isoformat()})
    with pytest.raises(SyncAlreadyRunningError) as caught:
        SyncLock(sqlite_engine).acquire()
    assert "anna@front-desk on front-desk-pc" in caught.value.message
