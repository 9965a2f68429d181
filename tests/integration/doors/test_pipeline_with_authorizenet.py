"""The payment pipeline through the second gateway, on what only a gateway without
idempotency keys has: no key lifetime, and a lost answer settled by looking the charge up —
"not listed yet" stays unknown for the lookup grace, never charged again. (Everything both
gateways share runs for both in ``tests/integration/payments`` and ``tests/reliability``.)"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from app.core.gateways.authorizenet import AuthorizeNetGateway
from app.core.payments import PaymentPipeline, PaymentState, recover_payments
from tests.integration.payments.support import PayWorld, pay_world, usd


@pytest.fixture
def world(sqlite_engine: Engine) -> Iterator[PayWorld]:
    with pay_world(sqlite_engine, ["500.00", "250.00"], "authorizenet") as w:
        yield w


def _gateway(world: PayWorld, grace: timedelta) -> AuthorizeNetGateway:
    sandbox = world.gateway_sandbox
    return AuthorizeNetGateway(sandbox.api_login_id, sandbox.transaction_key,
                               api_base=sandbox.url, timeout=(2.0, 5.0), lookup_grace=grace)


def test_a_payment_and_its_refund_through_authorizenet(world: PayWorld) -> None:
    pipeline = world.pipeline
    assert pipeline.key_lifetime == timedelta(0)  # no keys: never repeated blindly

    outcome = pipeline.pay(world.request([world.invoice_ids[0]], amount="100.00"))

    assert outcome.approved
    assert len(world.charges(outcome.reference)) == 1
    assert world.balances()[world.invoice_ids[0]] == 40000
    assert [t for t, _, _ in world.postings()] == ["autotask_note"]
    refund = pipeline.refund(outcome.payment_id, None, "Charged the wrong client")
    assert refund.state.value == "succeeded"
    # Not settled yet: Authorize.Net voids the whole charge (its only way back before the
    # batch); PayDesk records the money returned as a refund of the payment.
    [charge] = world.charges(outcome.reference)
    assert [t["status"] for t in world.gateway_sandbox.transactions()
            if t["transId"] == charge] == ["voided"]
    assert world.kit.refunded(charge) == usd("100.00")
    assert world.balances()[world.invoice_ids[0]] == 50000
    world.ledger_is_consistent()


def test_a_lost_answer_is_looked_up_and_never_charged_twice(world: PayWorld) -> None:
    world.kit.lose_charge_answers()

    outcome = world.pipeline.pay(world.request([world.invoice_ids[0]], amount="100.00"))
    # The charge went through but its answer was lost: the pipeline looked it up.
    assert outcome.state in (PaymentState.SUCCEEDED, PaymentState.UNKNOWN)
    report = recover_payments(world.engine, world.kit.gateway(), actor="dana@frontdesk")
    assert report.errors == ()
    assert len(world.charges(outcome.reference)) == 1
    assert world.balances()[world.invoice_ids[0]] == 40000


def test_nothing_found_within_the_grace_stays_unknown_then_fails_without_a_charge(
    world: PayWorld,
) -> None:
    method_id = world.method("approve")
    patient = _gateway(world, grace=timedelta(minutes=10))
    pipeline = PaymentPipeline(world.engine, patient, actor="dana@frontdesk")
    assert pipeline.lookup_grace == timedelta(minutes=10)  # the adapter's own grace
    world.gateway_sandbox.add_fault("drop_before", request="createTransactionRequest")

    outcome = pipeline.pay(world.request([world.invoice_ids[0]], amount="100.00",
                                         method=None, method_id=method_id))

    assert outcome.state is PaymentState.UNKNOWN  # not listed: not yet proof of anything
    assert world.charges(outcome.reference) == []
    # Once the grace is over, "not found" is proof: nothing was charged.
    later = PaymentPipeline(world.engine, patient, actor="dana@frontdesk",
                            lookup_grace=timedelta(0))
    settled = later.resolve(outcome.payment_id)
    assert settled.state is PaymentState.FAILED
    assert world.charges(outcome.reference) == []
    assert world.balances()[world.invoice_ids[0]] == 50000
