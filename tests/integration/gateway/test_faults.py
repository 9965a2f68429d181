"""Rate limits, gateway errors, slow answers and lost answers: each surfaces as the typed
error the payment pipeline acts on, and a lost answer is resolved by lookup without a
second charge."""

from __future__ import annotations

import time

import pytest

from app.core.gateways import (
    ChargeResult,
    ChargeStatus,
    GatewayUnavailable,
    NetworkUnknownOutcome,
    RateLimited,
    RequestInProgress,
)
from app.core.gateways.stripe_gateway import StripeGateway
from app.core.money import Money
from app.sandbox.gateway import GatewaySandbox
from tests.integration.gateway.support import (
    admin,
    attach_test_method,
    intents_with_reference,
    make_gateway,
)


def _charge(gateway: StripeGateway, customer: str, token: str, reference: str,
            key: str) -> ChargeResult:
    return gateway.charge(customer, token, Money(8_800, "USD"), idempotency_key=key,
                          reference=reference, description="Invoice 3001")


def test_rate_limited_says_retry_later_and_nothing_moved(
    gateway: StripeGateway, customer: str, sandbox: GatewaySandbox
) -> None:
    token = attach_test_method(sandbox, customer, "pm_card_visa")
    admin(sandbox, "POST", "/_sandbox/faults", {"kind": "rate_limit", "count": 1})
    with pytest.raises(RateLimited) as caught:
        _charge(gateway, customer, token, "PD-F1", "f1")
    assert caught.value.retryable and caught.value.retry_after == 1.0
    assert "too many requests" in caught.value.message
    assert intents_with_reference(sandbox, "PD-F1") == []
    # Later, the same request goes through once.
    result = gateway.charge(customer, token, Money(8_800, "USD"), idempotency_key="f1",
                            reference="PD-F1", description="Invoice 3001")
    assert result.status is ChargeStatus.SUCCEEDED


@pytest.mark.parametrize("status", [500, 503])
def test_server_error_without_retries_is_gateway_unavailable(
    gateway: StripeGateway, customer: str, sandbox: GatewaySandbox, status: int
) -> None:
    token = attach_test_method(sandbox, customer, "pm_card_visa")
    sandbox.add_fault("server_error", status=status, path="/v1/payment_intents")
    with pytest.raises(GatewayUnavailable) as caught:
        _charge(gateway, customer, token, "PD-F2", "f2")
    assert caught.value.outcome_unknown and caught.value.http_status == status
    # The lookup shows nothing was charged, so a new attempt is safe.
    assert gateway.find_charge(reference="PD-F2", customer_id=customer) is None


def test_sdk_retries_server_errors_with_the_same_key(customer: str,
                                                     sandbox: GatewaySandbox) -> None:
    token = attach_test_method(sandbox, customer, "pm_card_visa")
    retrying = make_gateway(sandbox, retries=2)
    sandbox.add_fault("server_error", count=1, path="/v1/payment_intents", method="POST")
    result = _charge(retrying, customer, token, "PD-F3", "f3")
    assert result.status is ChargeStatus.SUCCEEDED
    assert len(intents_with_reference(sandbox, "PD-F3")) == 1


def test_read_errors_are_not_unknown_outcomes(gateway: StripeGateway, customer: str,
                                              sandbox: GatewaySandbox) -> None:
    sandbox.add_fault("server_error", path="/v1/customers")
    with pytest.raises(GatewayUnavailable) as caught:
        gateway.list_methods(customer)
    assert not caught.value.outcome_unknown


def test_slow_answer_times_out_then_lookup_finds_the_charge(
    customer: str, sandbox: GatewaySandbox
) -> None:
    token = attach_test_method(sandbox, customer, "pm_card_visa")
    impatient = make_gateway(sandbox, timeout=(2.0, 0.3))
    sandbox.add_fault("slow", seconds=0.8, path="/v1/payment_intents", method="POST")
    with pytest.raises(NetworkUnknownOutcome) as caught:
        _charge(impatient, customer, token, "PD-F4", "f4")
    assert caught.value.outcome_unknown and caught.value.retryable
    assert "does not know yet" in caught.value.message
    # The server finishes the charge after the client gave up.
    patient = make_gateway(sandbox)
    found = None
    for _ in range(30):
        found = patient.find_charge(reference="PD-F4", idempotency_key="f4",
                                              customer_id=customer)
        if found is not None:
            break
        time.sleep(0.1)
    assert found is not None and found.status is ChargeStatus.SUCCEEDED


def test_committed_then_dropped_is_resolved_by_lookup_without_a_second_charge(
    gateway: StripeGateway, customer: str, sandbox: GatewaySandbox
) -> None:
    token = attach_test_method(sandbox, customer, "pm_card_visa")
    sandbox.add_fault("drop_after_commit", path="/v1/payment_intents", method="POST")
    with pytest.raises(NetworkUnknownOutcome):
        _charge(gateway, customer, token, "PD-F5", "f5")
    # The money moved although the client saw a network error.
    [intent] = intents_with_reference(sandbox, "PD-F5")
    assert intent["status"] == "succeeded"
    found = gateway.find_charge(reference="PD-F5", idempotency_key="f5", customer_id=customer)
    assert found is not None and found.status is ChargeStatus.SUCCEEDED
    assert found.charge_id == intent["id"]
    # Repeating with the same key replays instead of charging again.
    replay = gateway.charge(customer, token, Money(8_800, "USD"), idempotency_key="f5",
                            reference="PD-F5", description="Invoice 3001")
    assert replay.charge_id == intent["id"]
    assert len(intents_with_reference(sandbox, "PD-F5")) == 1


def test_committed_then_dropped_with_sdk_retries_replays_once(
    customer: str, sandbox: GatewaySandbox
) -> None:
    token = attach_test_method(sandbox, customer, "pm_card_visa")
    retrying = make_gateway(sandbox, retries=2)
    sandbox.add_fault("drop_after_commit", path="/v1/payment_intents", method="POST")
    result = _charge(retrying, customer, token, "PD-F6", "f6")
    assert result.status is ChargeStatus.SUCCEEDED
    assert len(intents_with_reference(sandbox, "PD-F6")) == 1


def test_gateway_that_is_not_running(sandbox: GatewaySandbox) -> None:
    gateway = make_gateway(sandbox)
    sandbox.stop()
    with pytest.raises(GatewayUnavailable) as caught:
        gateway.test_connection()
    assert "could not be reached" in caught.value.message
    assert not caught.value.outcome_unknown


def test_repeat_with_the_same_key_is_the_certain_way_to_resolve_a_timeout(
    customer: str, sandbox: GatewaySandbox
) -> None:
    """Right after a timeout the charge may still be running: a lookup finds nothing yet,
    a repeat with the same key says "in progress", and once it is done the repeat replays
    the one charge."""
    token = attach_test_method(sandbox, customer, "pm_card_visa")
    impatient = make_gateway(sandbox, timeout=(2.0, 0.2))
    patient = make_gateway(sandbox)
    sandbox.add_fault("slow", seconds=1.0, path="/v1/payment_intents", method="POST")
    with pytest.raises(NetworkUnknownOutcome):
        _charge(impatient, customer, token, "PD-F7", "f7")
    assert patient.find_charge(reference="PD-F7", customer_id=customer) is None
    with pytest.raises(RequestInProgress):
        _charge(patient, customer, token, "PD-F7", "f7")
    deadline = time.monotonic() + 5
    while True:
        try:
            result = _charge(patient, customer, token, "PD-F7", "f7")
            break
        except RequestInProgress:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    assert result.status is ChargeStatus.SUCCEEDED
    assert len(intents_with_reference(sandbox, "PD-F7")) == 1
