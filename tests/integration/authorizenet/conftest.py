from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from app.core.gateways.authorizenet import AuthorizeNetGateway
from app.sandbox.authorizenet import AuthorizeNetSandbox


@pytest.fixture
def sandbox() -> Iterator[AuthorizeNetSandbox]:
    with AuthorizeNetSandbox(merchant_name="Northwind IT Services") as server:
        yield server


def make_gateway(sandbox: AuthorizeNetSandbox, tmp_path: Path, *,
                 timeout: tuple[float, float] = (2.0, 10.0),
                 lookup_grace: timedelta = timedelta(seconds=1)) -> AuthorizeNetGateway:
    return AuthorizeNetGateway(sandbox.api_login_id, sandbox.transaction_key,
                               api_base=sandbox.url, timeout=timeout,
                               launch_dir=tmp_path / "forms", lookup_grace=lookup_grace)


@pytest.fixture
def gateway(sandbox: AuthorizeNetSandbox, tmp_path: Path) -> AuthorizeNetGateway:
    return make_gateway(sandbox, tmp_path)


@pytest.fixture
def customer(gateway: AuthorizeNetGateway) -> str:
    return gateway.ensure_customer(1001, "Acme Dental", "ap@acme.test",
                                   idempotency_key="customer-1001")
