"""`paydesk sandbox autotask` as a user runs it: a separate process, read over HTTP."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

from app.core.autotask import AutotaskClient, AutotaskCredentials, PacingPolicy

ROOT = Path(__file__).resolve().parents[3]


@contextmanager
def running_sandbox(*args: str) -> Iterator[dict[str, str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "sandbox", "autotask", "--port", "0", *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        info: dict[str, str] = {}
        for _ in range(4):
            name, _, value = process.stdout.readline().rstrip("\n").partition(": ")
            info[name] = value
        assert set(info) == {"url", "username", "secret", "integration code"}, info
        yield info
    finally:
        process.send_signal(signal.SIGINT)
        try:
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def _read_everything(info: dict[str, str]) -> tuple[str, int, int]:
    client = AutotaskClient(
        AutotaskCredentials(info["username"], info["secret"], info["integration code"]),
        discovery_url=info["url"], pacing=PacingPolicy(check_every_requests=10_000))
    digest = hashlib.sha256()
    lines: dict[int, Decimal] = defaultdict(Decimal)
    line_count = 0
    for page in client.query_all("BillingItems"):
        line_count += len(page)
        for line in page:
            lines[line["invoiceID"]] += line["totalAmount"]
    invoices = 0
    for entity in ("Companies", "Invoices"):
        for page in client.query_all(entity):
            for record in page:
                if entity == "Invoices":
                    invoices += 1
                    assert record["invoiceTotal"] == lines[record["id"]]
                record.pop("createDateTime", None)  # stamped at generation, date-stable
                digest.update(json.dumps(record, sort_keys=True, default=str).encode())
    assert client.count("Invoices") == invoices
    assert client.count("BillingItems") == line_count
    return digest.hexdigest(), invoices, line_count


def test_command_line_sandbox_serves_complete_data_and_the_same_for_the_same_seed() -> None:
    args = ("--seed", "7", "--companies", "500", "--invoices", "5000")
    with running_sandbox(*args) as info:
        assert info["url"].startswith("http://127.0.0.1:")
        first = _read_everything(info)
    with running_sandbox(*args, "--secret", "another-secret-value") as info:
        assert info["secret"] == "another-secret-value"
        second = _read_everything(info)
    assert first == second
    assert first[1] == 5000
    assert 14_000 < first[2] < 16_000
