from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.core.gateways.stripe_gateway import StripeGateway
from app.sandbox.gateway import GatewaySandbox
from tests.integration.gateway.support import make_gateway


@pytest.fixture
def sandbox() -> Iterator[GatewaySandbox]:
    with GatewaySandbox(account_name="Northwind IT Services") as server:
        yield server


@pytest.fixture
def gateway(sandbox: GatewaySandbox) -> StripeGateway:
    """The Stripe adapter pointed at the sandbox, without SDK retries (tests see each answer)."""
    return make_gateway(sandbox)


@pytest.fixture
def customer(gateway: StripeGateway) -> str:
    return gateway.ensure_customer(1001, "Acme Dental", "ap@acme.test",
                                   idempotency_key="customer-1001")
