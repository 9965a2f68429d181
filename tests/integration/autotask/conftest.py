"""Fixtures for the Autotask client against the Autotask sandbox over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from app.core.autotask import AutotaskClient, PacingPolicy, RetryPolicy
from app.sandbox.autotask import AutotaskSandbox

SMALL = {"companies": 40, "contacts": 80, "contracts": 20, "tickets": 200, "invoices": 1_234}


class RecordingSleep:
    """Stands in for `time.sleep` in the client: records each wait (and sleeps if `real`)."""

    def __init__(self, *, real: bool = False) -> None:
        self.calls: list[float] = []
        self.real = real

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        if self.real:
            time.sleep(seconds)

    @property
    def total(self) -> float:
        return sum(self.calls)


def first_invoice(sandbox: AutotaskSandbox) -> int:
    return int(sandbox.records("Invoices")[0]["id"])


def make_sandbox(**overrides: Any) -> AutotaskSandbox:
    options: dict[str, Any] = {"seed": 11, **SMALL}
    options.update(overrides)
    return AutotaskSandbox(**options)


def make_client(sandbox: AutotaskSandbox, **overrides: Any) -> AutotaskClient:
    options: dict[str, Any] = {
        "discovery_url": sandbox.url,
        "retry": RetryPolicy(attempts=4, backoff_base=0.01, backoff_max=0.05,
                             retry_after_max=2.0),
    }
    options.update(overrides)
    return AutotaskClient(sandbox.client_credentials(), **options)


@pytest.fixture
def sandbox() -> Iterator[AutotaskSandbox]:
    with make_sandbox() as running:
        yield running


@pytest.fixture
def client(sandbox: AutotaskSandbox) -> Iterator[AutotaskClient]:
    client = make_client(sandbox, pacing=PacingPolicy(check_every_requests=1000))
    yield client
    client.close()
