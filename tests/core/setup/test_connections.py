"""The stored Autotask connection: settings in the database, the secret only in the keychain."""

from __future__ import annotations

from sqlalchemy import Engine

from app.core.autotask import AutotaskClient, ConnectionReport
from app.core.config import Profile
from app.core.connections import (
    AutotaskConnection,
    describe_missing_connection,
    load_autotask_client,
    load_autotask_connection,
    record_successful_test,
    save_autotask_connection,
    save_autotask_secret,
)
from app.core.credentials import CredentialStore, SecretName
from tests.keyring_memory import MemoryKeyring

CONNECTION = AutotaskConnection(
    username="api@example-msp.com",
    integration_code="CODE123",
    discovery_url="http://127.0.0.1:9/atservicesrest/",
)
REPORT = ConnectionReport(
    zone_name="Sandbox zone",
    api_url="http://127.0.0.1:9/ATServicesRest/",
    web_url="http://127.0.0.1:9/",
    company_count=12,
    requests_used=3,
    request_threshold=10_000,
    timeframe_minutes=60,
)


def test_nothing_stored_means_no_client_and_a_reason(engine: Engine, profile: Profile) -> None:
    store = CredentialStore(profile.key)
    assert load_autotask_connection(engine) is None
    assert load_autotask_client(engine, store) is None
    reason = describe_missing_connection(engine, store) or ""
    assert "not connected to Autotask" in reason and "`paydesk setup`" in reason
    in_window = describe_missing_connection(engine, store, in_window=True) or ""
    assert "Run Setup…" in in_window and "paydesk setup" not in in_window


def test_connection_without_secret_says_the_secret_is_missing(
    engine: Engine, profile: Profile
) -> None:
    store = CredentialStore(profile.key)
    save_autotask_connection(engine, CONNECTION)
    assert load_autotask_client(engine, store) is None
    reason = describe_missing_connection(engine, store) or ""
    assert "secret" in reason and "api@example-msp.com" in reason
    assert "Settings >" not in reason and "`paydesk setup`" in reason
    in_window = describe_missing_connection(engine, store, in_window=True) or ""
    assert "Run Setup…" in in_window and "paydesk setup" not in in_window


def test_client_uses_stored_zone_and_keychain_secret(
    engine: Engine, profile: Profile, memory_keyring: MemoryKeyring
) -> None:
    store = CredentialStore(profile.key)
    save_autotask_connection(engine, CONNECTION)
    save_autotask_secret(store, "s3cret-value")
    record_successful_test(engine, CONNECTION, REPORT)
    client = load_autotask_client(engine, store)
    assert isinstance(client, AutotaskClient)
    assert client.zone.api_url == REPORT.api_url  # no discovery needed
    assert client.credentials.secret == "s3cret-value"
    assert describe_missing_connection(engine, store) is None
    assert memory_keyring.entries[(store.service, SecretName.AUTOTASK_SECRET)] == "s3cret-value"
    stored = load_autotask_connection(engine)
    assert stored is not None and stored.verified_at is not None
    assert "s3cret-value" not in repr(stored) and "CODE123" not in repr(stored)


def test_changing_the_user_forgets_the_zone_found_for_the_old_one(
    engine: Engine,
) -> None:
    record_successful_test(engine, CONNECTION, REPORT)
    same = save_autotask_connection(engine, CONNECTION)
    assert same.api_url == REPORT.api_url
    other = AutotaskConnection(username="other@example-msp.com", integration_code="CODE123")
    changed = save_autotask_connection(engine, other)
    assert changed.api_url == "" and changed.verified_at is None
