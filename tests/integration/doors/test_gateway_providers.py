"""The gateway-provider door: a new gateway is one provider registered once — its form, its
connection, its adapter — and every payment remembers the account that took it, so refunds
and follow-ups go to that account or are refused with what to do."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from app.core.credentials import CredentialStore
from app.core.gateways.connection import (
    GatewayConnection,
    describe_missing_gateway,
    gateway_names,
    load_gateway,
    save_gateway_connection,
    save_gateway_secret,
)
from app.core.gateways.protocol import PaymentGateway
from app.core.gateways.providers import (
    CredentialField,
    SandboxAccount,
    get_provider,
    register_provider,
    unregister_provider,
)
from app.core.gateways.stripe_gateway import StripeGateway
from app.core.payments import PaymentPipeline, PaymentRefused
from app.sandbox.gateway import GatewaySandbox
from tests.integration.payments.gateways import start_kit
from tests.integration.payments.support import PayWorld, pay_world


class AcmePayProvider:
    """A test-only gateway that speaks Stripe's API under its own name and form."""

    key = "acmepay"
    name = "Acme Pay"
    fields = (CredentialField("api_token", "API token", secret=True),)
    idempotency_window: timedelta | None = None
    shareable_pay_links = True
    where_to_find = "Acme Pay's portal > Settings > API."

    def validate(self, values: Mapping[str, str], *, stored: frozenset[str]) -> dict[str, str]:
        token = values.get("api_token", "").strip()
        if not token and "api_token" not in stored:
            return {"api_token": self.where_to_find}
        return {}

    def open(self, connection: GatewayConnection, secrets: Mapping[str, str],
             **options: Any) -> PaymentGateway:
        return StripeGateway(secrets["api_token"], api_base=connection.api_base or None,
                             account=f"acmepay:test:{connection.account_id}", **options)

    @contextmanager
    def sandbox(self, **options: Any) -> Iterator[SandboxAccount]:
        with GatewaySandbox(**options) as server:
            yield SandboxAccount(GatewayConnection(gateway=self.key, api_base=server.url),
                                 {"api_token": server.secret_key}, server.url)


@pytest.fixture
def acme() -> Iterator[AcmePayProvider]:
    provider = AcmePayProvider()
    register_provider(provider)
    yield provider
    unregister_provider(provider.key)


def test_a_registered_provider_is_offered_stored_and_opened_like_stripe(
    acme: AcmePayProvider, sqlite_engine: Engine, memory_keyring: Any
) -> None:
    credentials = CredentialStore("acme-test")
    assert {"stripe": "Stripe", "acmepay": "Acme Pay"}.items() <= gateway_names().items()
    provider = get_provider("acmepay")
    assert provider is acme
    assert provider.validate({}, stored=frozenset()) == {"api_token": acme.where_to_find}
    assert provider.validate({}, stored=frozenset({"api_token"})) == {}

    with acme.sandbox() as account:
        save_gateway_connection(sqlite_engine, account.connection)
        assert load_gateway(sqlite_engine, credentials) is None
        assert "Acme Pay" in (describe_missing_gateway(sqlite_engine, credentials) or "")
        save_gateway_secret(credentials, "acmepay", account.secrets["api_token"])
        gateway = load_gateway(sqlite_engine, credentials)
        assert gateway is not None
        info = gateway.test_connection()
        assert info.mode.value == "test"
        assert gateway.account_key.startswith("acmepay:test:")


@pytest.fixture
def world(sqlite_engine: Engine, gateway_key: str) -> Iterator[PayWorld]:
    with pay_world(sqlite_engine, ["500.00"], gateway_key) as w:
        yield w


def test_a_refund_goes_to_the_account_that_took_the_payment(world: PayWorld) -> None:
    key = world.kit.key
    name = gateway_names()[key]
    first = world.kit.gateway(account=f"{key}:test:first")
    world.gateway = first
    outcome = PaymentPipeline(world.engine, first).pay(
        world.request([world.invoice_ids[0]], amount="100.00"))
    assert outcome.approved
    world.kit.settle_batch()  # a day later: settled, so Authorize.Net refunds (not voids)

    with start_kit(key, account_name="New Processor Account") as replacement_kit:
        replacement = replacement_kit.gateway(account=f"{key}:test:second")
        # The gateway was replaced since; the old account's key is gone from this computer.
        refused = PaymentPipeline(world.engine, replacement)
        with pytest.raises(PaymentRefused) as raised:
            refused.refund(outcome.payment_id, None, "Client overpaid")
        message = str(raised.value)
        assert f"another {name} account" in message
        assert "dashboard" in message and "Setup…" in message
        assert world.balances()[world.invoice_ids[0]] == 40000  # nothing recorded

        # Its credentials still at hand: the refund goes to the account that took it.
        resolving = PaymentPipeline(
            world.engine, replacement,
            other_accounts=lambda account: first if account == first.account_key else None)
        refund = resolving.refund(outcome.payment_id, None, "Client overpaid")
        assert refund.state.value == "succeeded"
        assert world.kit.refunds_made() == 1  # at the first account…
        assert replacement_kit.refunds_made() == 0  # …not the new one
        assert world.balances()[world.invoice_ids[0]] == 50000
