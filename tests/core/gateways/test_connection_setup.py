"""The stored gateway connection and the setup step's Test Connection rules, against the
sandbox gateway over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from app.core.config import Profile
from app.core.credentials import CredentialStore, SecretName
from app.core.gateways import GatewayMode
from app.core.gateways.connection import (
    GatewayConnection,
    describe_missing_gateway,
    load_gateway,
    load_gateway_connection,
    record_gateway_test,
    register_gateway_requirement,
    save_gateway_connection,
    save_gateway_secret,
)
from app.core.gateways.setup_step import (
    GatewayForm,
    GatewayStepState,
    TestState,
    run_gateway_test,
)
from app.core.setup.steps import setup_status, unregister_requirement
from app.sandbox.gateway import GatewaySandbox


@pytest.fixture
def sandbox() -> Iterator[GatewaySandbox]:
    with GatewaySandbox(account_name="Northwind IT Services") as server:
        yield server


@pytest.fixture
def credentials(profile: Profile) -> CredentialStore:
    return CredentialStore(profile.key)


def test_form_checks_the_key_and_return_page() -> None:
    assert "secret_key" in GatewayForm().errors()
    assert "publishable" in GatewayForm(secret_key="pk_live_abcdefgh12").errors()["secret_key"]
    assert GatewayForm(secret_stored=True).is_valid()
    assert GatewayForm(secret_key="sk_live_abcdefgh12").mode() is GatewayMode.LIVE
    assert GatewayForm(secret_key="sk_test_abcdefgh12").mode() is GatewayMode.TEST
    bad = GatewayForm(secret_key="sk_test_abcdefgh12", return_url="http://example.com")
    assert "https://" in bad.errors()["return_url"]
    assert GatewayForm(secret_key="sk_test_abcdefgh12",
                       return_url="https://northwind.example/paid").is_valid()
    assert "sk_test_abcdefgh12" not in repr(GatewayForm(secret_key="sk_test_abcdefgh12"))


def test_test_connection_reports_the_account(sandbox: GatewaySandbox) -> None:
    form = GatewayForm(secret_key=sandbox.secret_key, api_base=sandbox.url)
    outcome = run_gateway_test(form, internal_currency="USD")
    assert outcome.ok and outcome.info is not None
    assert outcome.info.display_name == "Northwind IT Services"
    assert outcome.warning is None
    odd = run_gateway_test(form, internal_currency="INR")
    assert odd.ok and odd.warning is not None and "INR" in odd.warning


def test_wrong_key_fails_in_plain_words(sandbox: GatewaySandbox) -> None:
    outcome = run_gateway_test(GatewayForm(secret_key="sk_test_wrongwrong", api_base=sandbox.url))
    assert not outcome.ok
    assert outcome.message is not None and "refused the secret key" in outcome.message


def test_unreachable_gateway_fails_in_plain_words(sandbox: GatewaySandbox) -> None:
    form = GatewayForm(secret_key=sandbox.secret_key, api_base=sandbox.url)
    sandbox.stop()
    outcome = run_gateway_test(form)
    assert not outcome.ok and outcome.message is not None
    assert "could not be reached" in outcome.message


def test_step_state_allows_next_only_after_a_pass_for_the_same_key(
    sandbox: GatewaySandbox,
) -> None:
    state = GatewayStepState(GatewayForm(api_base=sandbox.url))
    assert not state.can_test()
    state.edit(secret_key=sandbox.secret_key)
    ticket = state.start_test()
    assert state.state is TestState.TESTING and not state.can_test()
    assert state.finish_test(ticket, run_gateway_test(state.form))
    assert state.can_advance()
    # The return page does not change which account was tested.
    assert not state.edit(return_url="https://northwind.example")
    assert state.can_advance()
    # Another key does.
    assert state.edit(secret_key="sk_test_anotherkey1")
    assert state.state is TestState.UNTESTED and not state.can_advance()


def test_outdated_results_are_ignored(sandbox: GatewaySandbox) -> None:
    state = GatewayStepState(GatewayForm(secret_key=sandbox.secret_key, api_base=sandbox.url))
    first = state.start_test()
    state.cancel_test()
    assert not state.finish_test(first, run_gateway_test(state.form))
    assert state.state is TestState.UNTESTED
    second = state.start_test()
    state.edit(secret_key="sk_test_changedkey1")
    assert not state.finish_test(second, run_gateway_test(state.form))
    assert not state.can_advance()


def test_connection_round_trip_and_loading(engine: Engine, credentials: CredentialStore,
                                           sandbox: GatewaySandbox) -> None:
    assert load_gateway(engine, credentials) is None
    assert describe_missing_gateway(engine, credentials) == (
        "No payment gateway is connected yet. Run Setup… to connect your payment gateway.")
    form = GatewayForm(secret_key=sandbox.secret_key, api_base=sandbox.url)
    save_gateway_connection(engine, form.connection())
    missing = describe_missing_gateway(engine, credentials)
    assert missing is not None and "secret key is not stored" in missing
    assert missing.endswith("Run Setup… and enter it again to connect your payment gateway.")
    save_gateway_secret(credentials, "stripe", sandbox.secret_key)
    assert credentials.get(SecretName.STRIPE_SECRET_KEY) == sandbox.secret_key
    untested = describe_missing_gateway(engine, credentials)
    assert untested is not None and "Test Connection" in untested
    assert "Run Setup…" in untested
    outcome = run_gateway_test(form)
    assert outcome.info is not None
    record_gateway_test(engine, form.connection(), outcome.info)
    assert describe_missing_gateway(engine, credentials) is None
    stored = load_gateway_connection(engine)
    assert stored is not None
    assert (stored.account_name, stored.mode, stored.default_currency) == (
        "Northwind IT Services", GatewayMode.TEST, "USD")
    assert sandbox.secret_key not in str(stored.to_json())
    gateway = load_gateway(engine, credentials)
    assert gateway is not None and gateway.kind == "stripe-test"
    assert gateway.test_connection().display_name == "Northwind IT Services"
    # Saving the same account again keeps the test result.
    again = save_gateway_connection(engine, GatewayConnection(api_base=sandbox.url,
                                                              return_url="https://x.example"))
    assert again.verified_at is not None and again.return_url == "https://x.example"


def test_the_gateway_can_be_a_setup_requirement(engine: Engine,
                                                credentials: CredentialStore) -> None:
    register_gateway_requirement()
    try:
        missing = dict((r.key, problem) for r, problem in setup_status(engine, credentials).missing)
        assert missing["gateway"] == (
            "No payment gateway is connected yet. Run Setup… to connect your payment gateway.")
    finally:
        unregister_requirement("gateway")
