"""The sync under faults and kills ends with the local database equal to Autotask's data."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, make_url

from app.core.sync import RunStatus
from app.sandbox.autotask.faults import Faults
from app.sandbox.autotask.server import AutotaskSandbox
from tests.integration.sync.support import client_for, differences, prepare, small_sandbox, sync

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def faulty_sandbox() -> Iterator[AutotaskSandbox]:
    faults = Faults(error_rate=0.05, error_body="json", drop_rate=0.02, mutate_every=7)
    with small_sandbox(faults=faults) as sandbox:
        yield sandbox


def test_faults_on_the_local_database_ends_equal(engine: Engine,
                                                 faulty_sandbox: AutotaskSandbox) -> None:
    sandbox = faulty_sandbox
    prepare(engine)
    client = client_for(sandbox)
    # Throttling and HTML error pages on top of the steady faults.
    sandbox.fail_next(times=3, status=429, retry_after=0.01, path_contains="query")
    sandbox.fail_next(times=2, status=500, body="html", path_contains="Invoices")
    first = sync(engine, client)
    assert first.status is RunStatus.SUCCEEDED, first.error
    assert sandbox.mutations, "the sandbox changed data while the sync paged"
    # Colleagues stop working in Autotask; the next sync catches their last changes.
    sandbox.faults.mutate_every = 0
    second = sync(engine, client)
    assert second.status is RunStatus.SUCCEEDED, second.error
    assert differences(engine, sandbox) == {}
    assert client.stats().retries > 0


def test_killed_several_times_then_rerun_ends_equal(sqlite_engine: Engine,
                                                    tmp_path: Path) -> None:
    prepare(sqlite_engine)
    url = make_url(str(sqlite_engine.url)).render_as_string(hide_password=False)
    rng = random.Random(4)
    with small_sandbox(latency_ms=80) as sandbox:
        c = sandbox.credentials
        command = [sys.executable, "-m", "tests.reliability.sync_worker", url, sandbox.url,
                   c.username, c.secret, c.integration_code]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        kills = 0
        for _attempt in range(6):
            if kills == 3:
                break
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL)
            # A sync of this sandbox takes about 1.5 s with the interpreter's start: kill it
            # somewhere in the middle (after start-up, before the end).
            time.sleep(rng.uniform(0.7, 1.3))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
            process.wait(timeout=30)
        assert kills == 3
        final = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                               timeout=120, check=False)
        assert final.stdout.strip() == "succeeded", final.stdout
        assert differences(sqlite_engine, sandbox) == {}
        # And a normal incremental sync afterwards finds nothing left to do.
        result = sync(sqlite_engine, client_for(sandbox))
        assert sum(e.inserted + e.updated + e.deleted for e in result.entities) == 0
