"""Stripe as a gateway provider: its sign-in form, its 24-hour idempotency keys, its adapter
(:class:`~app.core.gateways.stripe_gateway.StripeGateway`) and its local sandbox."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from app.core.gateways.connection import GatewayConnection
from app.core.gateways.errors import AuthenticationFailed
from app.core.gateways.protocol import PaymentGateway
from app.core.gateways.providers import (
    CredentialField,
    SandboxAccount,
    account_key,
    register_provider,
)
from app.core.gateways.stripe_gateway import StripeGateway, stripe_mode_from_key
from app.core.gateways.types import GatewayMode

__all__ = ["STRIPE", "StripeProvider"]


class StripeProvider:
    key = "stripe"
    name = "Stripe"
    fields = (
        CredentialField(
            "secret_key", "Secret key", secret=True, placeholder="sk_live_… or sk_test_…",
            help="In the Stripe Dashboard: Developers > API keys > Secret key. Use a test key "
            "(sk_test_…) to try PayDesk without moving real money.",
        ),
    )
    #: Stripe keeps an idempotency key at least 24 hours; PayDesk trusts it for 23.
    idempotency_window: timedelta | None = timedelta(hours=23)
    lookup_grace = timedelta(0)
    shareable_pay_links = True
    where_to_find = ("Paste the secret key from the Stripe Dashboard (Developers > API keys).")

    def mode_of(self, values: Mapping[str, str]) -> GatewayMode | None:
        key = values.get("secret_key", "").strip()
        try:
            return stripe_mode_from_key(key) if key else None
        except AuthenticationFailed:
            return None

    def validate(self, values: Mapping[str, str], *, stored: frozenset[str]) -> dict[str, str]:
        problems: dict[str, str] = {}
        key = values.get("secret_key", "").strip()
        if not key and "secret_key" not in stored:
            problems["secret_key"] = self.where_to_find
        elif key:
            try:
                stripe_mode_from_key(key)
            except AuthenticationFailed as exc:
                problems["secret_key"] = exc.message
        return problems

    def open(
        self, connection: GatewayConnection, secrets: Mapping[str, str], **options: Any
    ) -> PaymentGateway:
        secret = secrets["secret_key"]
        mode = stripe_mode_from_key(secret)
        return StripeGateway(
            secret, api_base=connection.api_base or None,
            return_url=connection.return_url or None,
            account=account_key(self.key, mode.value, connection.account_id), **options,
        )

    @contextmanager
    def sandbox(self, **options: Any) -> Iterator[SandboxAccount]:
        from app.sandbox.gateway.server import GatewaySandbox

        with GatewaySandbox(**options) as server:
            connection = GatewayConnection(gateway=self.key, api_base=server.url,
                                           return_url="")
            yield SandboxAccount(connection=connection,
                                 secrets={"secret_key": server.secret_key}, url=server.url)


STRIPE = StripeProvider()
register_provider(STRIPE)
