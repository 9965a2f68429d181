"""The Authorize.Net provider entry: its form fields and their checks, opening an adapter
from a stored connection, its local stand-in, and ``paydesk sandbox authorize-net``."""

from __future__ import annotations

import subprocess
import sys

from app.core.gateways import GatewayMode
from app.core.gateways.authorizenet import (
    PRODUCTION_API_BASE,
    SANDBOX_API_BASE,
    AuthorizeNetGateway,
)
from app.core.gateways.authorizenet.provider import PROVIDER, api_base_for
from app.core.gateways.connection import GatewayConnection
from app.core.gateways.providers import get_provider, iter_secret_fields

GOOD = {"api_login_id": "5KP3u95bQpv", "transaction_key": "346HZ32z3fP4hTG2",
        "environment": ""}


def test_entry_describes_the_gateway() -> None:
    assert get_provider("authorizenet") is PROVIDER
    assert PROVIDER.name == "Authorize.Net"
    assert PROVIDER.idempotency_window is None
    assert [f.name for f in PROVIDER.fields] == ["api_login_id", "transaction_key",
                                                 "environment"]
    assert [f.name for f in iter_secret_fields(PROVIDER)] == ["transaction_key"]
    assert "API Credentials & Keys" in PROVIDER.where_to_find


def test_validation_messages() -> None:
    assert PROVIDER.validate(GOOD, stored=frozenset()) == {}
    problems = PROVIDER.validate({"api_login_id": "5KP3 u95b", "transaction_key": "short",
                                  "environment": "staging"}, stored=frozenset())
    assert problems == {
        "api_login_id": "An API login ID is up to 25 letters and digits, without spaces. Copy "
                        "it again from Account > Settings > API Credentials & Keys.",
        "transaction_key": "A transaction key is exactly 16 letters and digits. Copy it "
                           "again; if it is lost, create a new one in the Merchant Interface.",
        "environment": "Choose your merchant account, or an Authorize.Net sandbox account.",
    }
    missing = PROVIDER.validate({**GOOD, "transaction_key": ""}, stored=frozenset())
    assert set(missing) == {"transaction_key"}
    kept = PROVIDER.validate({**GOOD, "transaction_key": ""},
                             stored=frozenset({"transaction_key"}))
    assert kept == {}


def test_environment_chooses_the_address() -> None:
    assert api_base_for("") == PRODUCTION_API_BASE
    assert api_base_for("Sandbox") == SANDBOX_API_BASE
    connection = GatewayConnection(gateway="authorizenet")
    opened = PROVIDER.open(connection, {"api_login_id": "abc", "transaction_key": "k" * 16})
    assert isinstance(opened, AuthorizeNetGateway)
    assert (opened.api_base, opened.mode) == (PRODUCTION_API_BASE, GatewayMode.LIVE)


def test_sandbox_account_opens_and_connects() -> None:
    with PROVIDER.sandbox(merchant_name="Contoso Managed IT") as account:
        assert account.connection.api_base == account.url
        assert "transaction_key" in account.secrets
        gateway = PROVIDER.open(account.connection, account.secrets)
        info = gateway.test_connection()
        assert info.display_name == "Contoso Managed IT"
        assert info.mode is GatewayMode.TEST
        assert gateway.kind == "authorizenet-test"


def test_command_prints_url_and_credentials_and_serves() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "sandbox", "authorize-net", "--port", "0",
         "--merchant-name", "Contoso Managed IT"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip().removeprefix("url: ")
        login = process.stdout.readline().strip().removeprefix("api login id: ")
        key = process.stdout.readline().strip().removeprefix("transaction key: ")
        assert url.startswith("http://127.0.0.1:"), url
        info = AuthorizeNetGateway(login, key, api_base=url).test_connection()
        assert info.display_name == "Contoso Managed IT"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
        if process.stderr is not None:
            process.stderr.close()


def test_a_shorter_lookup_grace_is_for_the_local_stand_in_only() -> None:
    """Crash tests ask the stand-in's connection for a one-second grace; the same setting on
    a connection to Authorize.Net itself is ignored, and the pipeline follows the adapter."""
    from datetime import timedelta

    from app.core.gateways.authorizenet.gateway import LOOKUP_GRACE
    from app.core.payments import PaymentPipeline

    settings = (("api_login_id", "5KP3u95bQpv"), ("environment", "sandbox"),
                ("lookup_grace_seconds", "1"))
    secrets = {"transaction_key": "346HZ32z3fP4hTG2"}
    local = PROVIDER.open(GatewayConnection(gateway="authorizenet",
                                            api_base="http://127.0.0.1:8123",
                                            settings=settings), secrets)
    real = PROVIDER.open(GatewayConnection(gateway="authorizenet", api_base=SANDBOX_API_BASE,
                                           settings=settings), secrets)
    assert local.lookup_grace == timedelta(seconds=1)
    assert real.lookup_grace == LOOKUP_GRACE
    unset = PROVIDER.open(GatewayConnection(gateway="authorizenet",
                                            api_base="http://127.0.0.1:8123",
                                            settings=settings[:2]), secrets)
    assert unset.lookup_grace == LOOKUP_GRACE
    from sqlalchemy import create_engine

    engine = create_engine("sqlite://")
    assert PaymentPipeline(engine, local).lookup_grace == timedelta(seconds=1)
    assert PaymentPipeline(engine, real).lookup_grace == LOOKUP_GRACE
