"""The payment pipeline through the second gateway: the same invoices, balances and Autotask
postings as with Stripe, and — without idempotency keys — a lost answer settled by looking
the charge up, never by charging again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from app.core.gateways.authorizenet import AuthorizeNetGateway
from app.core.gateways.repository import SavedMethods
from app.core.payments import PaymentPipeline, PaymentState, recover_payments
from app.sandbox.authorizenet import AuthorizeNetSandbox
from tests.integration.authorizenet.support import charges_for, save_test_method
from tests.integration.payments.support import PayWorld, pay_world


@pytest.fixture
def world(sqlite_engine: Engine) -> Iterator[PayWorld]:
    with pay_world(sqlite_engine, ["500.00", "250.00"]) as w:
        yield w


@pytest.fixture
def authnet() -> Iterator[AuthorizeNetSandbox]:
    with AuthorizeNetSandbox(merchant_name="Northwind IT Services") as server:
        yield server


def _gateway(sandbox: AuthorizeNetSandbox, tmp_path: Path,
             grace: timedelta = timedelta(seconds=1)) -> AuthorizeNetGateway:
    return AuthorizeNetGateway(sandbox.api_login_id, sandbox.transaction_key,
                               api_base=sandbox.url, timeout=(2.0, 5.0),
                               launch_dir=tmp_path / "forms", lookup_grace=grace)


def _use_authorizenet(world: PayWorld, sandbox: AuthorizeNetSandbox,
                      gateway: AuthorizeNetGateway) -> int:
    """Switch the world to Authorize.Net with one saved approving card; its method id."""
    world.gateway = gateway  # type: ignore[assignment]
    saved = SavedMethods(world.engine, gateway)
    customer = saved.customer_for(world.company_id)
    token = save_test_method(sandbox, customer, "approve")
    return next(m.id for m in saved.refresh(world.company_id) if m.token == token)


def test_a_payment_and_its_refund_through_authorizenet(
    world: PayWorld, authnet: AuthorizeNetSandbox, tmp_path: Path
) -> None:
    gateway = _gateway(authnet, tmp_path)
    method_id = _use_authorizenet(world, authnet, gateway)
    pipeline = PaymentPipeline(world.engine, gateway, actor="dana@frontdesk")
    assert pipeline.key_lifetime == timedelta(0)  # no keys: never repeated blindly

    outcome = pipeline.pay(world.request([world.invoice_ids[0]], amount="100.00",
                                         method=None, method_id=method_id))

    assert outcome.approved
    assert len(charges_for(authnet, outcome.reference)) == 1
    assert world.balances()[world.invoice_ids[0]] == 40000
    assert [t for t, _, _ in world.postings()] == ["autotask_note"]
    refund = pipeline.refund(outcome.payment_id, None, "Charged the wrong client")
    assert refund.state.value == "succeeded"
    assert world.balances()[world.invoice_ids[0]] == 50000
    world.ledger_is_consistent()


def test_a_lost_answer_is_looked_up_and_never_charged_twice(
    world: PayWorld, authnet: AuthorizeNetSandbox, tmp_path: Path
) -> None:
    gateway = _gateway(authnet, tmp_path)
    method_id = _use_authorizenet(world, authnet, gateway)
    pipeline = PaymentPipeline(world.engine, gateway, actor="dana@frontdesk")
    authnet.add_fault("drop_after_commit", request="createTransactionRequest")

    outcome = pipeline.pay(world.request([world.invoice_ids[0]], amount="100.00",
                                         method=None, method_id=method_id))
    # The charge went through but its answer was lost: the pipeline looked it up.
    assert outcome.state in (PaymentState.SUCCEEDED, PaymentState.UNKNOWN)
    report = recover_payments(world.engine, _gateway(authnet, tmp_path), actor="dana@frontdesk")
    assert report.errors == ()
    assert len(charges_for(authnet, outcome.reference)) == 1
    assert world.balances()[world.invoice_ids[0]] == 40000


def test_nothing_found_within_the_grace_stays_unknown_then_fails_without_a_charge(
    world: PayWorld, authnet: AuthorizeNetSandbox, tmp_path: Path
) -> None:
    gateway = _gateway(authnet, tmp_path, grace=timedelta(minutes=10))
    method_id = _use_authorizenet(world, authnet, gateway)
    pipeline = PaymentPipeline(world.engine, gateway, actor="dana@frontdesk",
                               lookup_grace=timedelta(minutes=10))
    authnet.add_fault("drop_before", request="createTransactionRequest")

    outcome = pipeline.pay(world.request([world.invoice_ids[0]], amount="100.00",
                                         method=None, method_id=method_id))

    assert outcome.state is PaymentState.UNKNOWN  # not listed: not yet proof of anything
    assert charges_for(authnet, outcome.reference) == []
    # Once the grace is over, "not found" is proof: nothing was charged.
    later = PaymentPipeline(world.engine, gateway, actor="dana@frontdesk",
                            lookup_grace=timedelta(0))
    settled = later.resolve(outcome.payment_id)
    assert settled.state is PaymentState.FAILED
    assert charges_for(authnet, outcome.reference) == []
    assert world.balances()[world.invoice_ids[0]] == 50000
