"""Whether setup is complete, and what is missing, in words."""

from __future__ import annotations

from sqlalchemy import Engine

from app.core.autotask import ConnectionReport
from app.core.config import Profile, set_internal_currency
from app.core.connections import (
    AutotaskConnection,
    record_successful_test,
    save_autotask_connection,
    save_autotask_secret,
)
from app.core.credentials import CredentialStore
from app.core.setup.steps import (
    SetupRequirement,
    is_setup_complete,
    register_requirement,
    requirements,
    setup_status,
    unregister_requirement,
)

CONNECTION = AutotaskConnection(username="api@msp.com", integration_code="CODE1")
REPORT = ConnectionReport("Zone 1", "https://webservices1.autotask.net/ATServicesRest/",
                          "https://ww1.autotask.net/", 10, 1, 10000, 60)


def test_fresh_profile_is_missing_currency_and_autotask(engine: Engine, profile: Profile) -> None:
    store = CredentialStore(profile.key)
    status = setup_status(engine, store)
    assert [r.key for r, _ in status.missing] == ["currency", "autotask"]
    assert not is_setup_complete(engine, store)


def test_untested_connection_or_missing_secret_is_not_complete(
    engine: Engine, profile: Profile
) -> None:
    store = CredentialStore(profile.key)
    set_internal_currency(engine, "USD")
    save_autotask_connection(engine, CONNECTION)
    save_autotask_secret(store, "secret-1")
    [(_, problem)] = setup_status(engine, store).missing
    assert "Test Connection" in problem
    record_successful_test(engine, CONNECTION, REPORT)
    assert is_setup_complete(engine, store)
    store.delete("autotask.secret")
    [(_, problem)] = setup_status(engine, store).missing
    assert "secret" in problem


def test_plug_in_requirements_are_checked_in_step_order(
    engine: Engine, profile: Profile
) -> None:
    store = CredentialStore(profile.key)
    extra = SetupRequirement("gateway", "Payment gateway", lambda _e, _c: "No gateway yet.")
    register_requirement(extra)
    try:
        assert [r.key for r in requirements()] == ["currency", "autotask", "gateway"]
        assert [r.key for r, _ in setup_status(engine, store).missing][-1] == "gateway"
    finally:
        unregister_requirement("gateway")
    assert [r.key for r in requirements()] == ["currency", "autotask"]
