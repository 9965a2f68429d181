"""Test Connection and the stored client, over real HTTP to the Autotask sandbox (no Qt)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from app.core.config import Profile
from app.core.connections import (
    load_autotask_client,
    record_successful_test,
    save_autotask_secret,
)
from app.core.credentials import CredentialStore
from app.core.setup.autotask_step import AutotaskForm, run_connection_test
from app.core.setup.outcomes import FailureKind
from app.sandbox.autotask.server import AutotaskSandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[AutotaskSandbox]:
    with AutotaskSandbox(companies=12, contacts=10, contracts=5, tickets=10, invoices=20,
                         seed=3) as server:
        yield server


def form_for(sandbox: AutotaskSandbox, **changes: str) -> AutotaskForm:
    c = sandbox.credentials
    values = {"username": c.username, "secret": c.secret,
              "integration_code": c.integration_code, "discovery_url": sandbox.url}
    values.update(changes)
    return AutotaskForm(**values)  # type: ignore[arg-type]


def test_a_good_sign_in_reports_zone_count_and_usage(sandbox: AutotaskSandbox) -> None:
    outcome = run_connection_test(form_for(sandbox))
    assert outcome.ok and outcome.report is not None
    assert outcome.report.api_url == sandbox.zone_url
    assert outcome.report.company_count == 12
    assert outcome.report.request_threshold == 10_000


@pytest.mark.parametrize(
    ("changes", "kind"),
    [
        ({"secret": "wrong"}, FailureKind.WRONG_SECRET),
        ({"integration_code": "WRONG"}, FailureKind.INTEGRATION_CODE),
        ({"username": "nobody@sandbox.example"}, FailureKind.ZONE_NOT_FOUND),
        ({"zone_url": "http://127.0.0.1:9/ATServicesRest/"}, FailureKind.NO_NETWORK),
    ],
    ids=["secret", "code", "zone", "network"],
)
def test_failures_come_back_as_outcomes_not_exceptions(
    sandbox: AutotaskSandbox, changes: dict[str, str], kind: FailureKind
) -> None:
    outcome = run_connection_test(form_for(sandbox, **changes))
    assert not outcome.ok and outcome.failure is not None
    assert outcome.failure.kind is kind


def test_unknown_user_with_a_typed_zone(sandbox: AutotaskSandbox) -> None:
    outcome = run_connection_test(
        form_for(sandbox, username="nobody@sandbox.example", zone_url=sandbox.zone_url))
    assert outcome.failure is not None and outcome.failure.kind is FailureKind.UNKNOWN_USER


def test_the_stored_connection_gives_a_working_client(
    sandbox: AutotaskSandbox, engine: Engine, profile: Profile
) -> None:
    store = CredentialStore(profile.key)
    form = form_for(sandbox)
    outcome = run_connection_test(form)
    assert outcome.report is not None
    save_autotask_secret(store, form.secret)
    record_successful_test(engine, form.connection(), outcome.report)
    client = load_autotask_client(engine, store)
    assert client is not None
    try:
        assert client.count("Companies") == 12
    finally:
        client.close()
