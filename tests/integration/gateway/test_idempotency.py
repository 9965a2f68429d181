"""Stripe's idempotency rules, kept by the sandbox and relied on by the adapter."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from app.core.gateways import (
    ChargeStatus,
    IdempotencyKeyReused,
    RequestInProgress,
)
from app.core.gateways.stripe_gateway import StripeGateway
from app.core.money import Money
from app.sandbox.gateway import GatewaySandbox
from tests.integration.gateway.support import TIMEOUT, attach_test_method, intents_with_reference


def test_same_key_replays_the_first_charge(gateway: StripeGateway, customer: str,
                                           sandbox: GatewaySandbox) -> None:
    token = attach_test_method(sandbox, customer, "pm_card_visa")
    first = gateway.charge(customer, token, Money(7_700, "USD"), idempotency_key="same-key",
                           reference="PD-I1", description="Invoice 1")
    again = gateway.charge(customer, token, Money(7_700, "USD"), idempotency_key="same-key",
                           reference="PD-I1", description="Invoice 1")
    assert again.charge_id == first.charge_id
    assert len(intents_with_reference(sandbox, "PD-I1")) == 1


def test_declines_are_replayed_too(gateway: StripeGateway, customer: str,
                                   sandbox: GatewaySandbox) -> None:
    token = attach_test_method(sandbox, customer, "pm_card_chargeDeclinedInsufficientFunds")
    first = gateway.charge(customer, token, Money(7_700, "USD"), idempotency_key="declined-key",
                           reference="PD-I2", description="Invoice 2")
    again = gateway.charge(customer, token, Money(7_700, "USD"), idempotency_key="declined-key",
                           reference="PD-I2", description="Invoice 2")
    assert first.status is again.status is ChargeStatus.DECLINED
    assert again.charge_id == first.charge_id
    assert len(intents_with_reference(sandbox, "PD-I2")) == 1


def test_replay_over_raw_http_is_byte_identical_and_marked(sandbox: GatewaySandbox,
                                                          customer: str) -> None:
    headers = {"Authorization": f"Bearer {sandbox.secret_key}", "Idempotency-Key": "raw-1"}
    body = {"amount": "1500", "currency": "usd", "customer": customer,
            "payment_method": "pm_card_visa", "confirm": "true", "off_session": "true",
            "metadata[paydesk_reference]": "PD-RAW"}
    first = requests.post(f"{sandbox.url}/v1/payment_intents", data=body, headers=headers,
                          timeout=TIMEOUT)
    second = requests.post(f"{sandbox.url}/v1/payment_intents", data=body, headers=headers,
                           timeout=TIMEOUT)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert "Idempotent-Replayed" not in first.headers
    assert second.headers["Idempotent-Replayed"] == "true"


def test_same_key_with_other_parameters_is_refused(gateway: StripeGateway, customer: str,
                                                   sandbox: GatewaySandbox) -> None:
    token = attach_test_method(sandbox, customer, "pm_card_visa")
    gateway.charge(customer, token, Money(1_000, "USD"), idempotency_key="reused",
                   reference="PD-I3", description="Invoice 3")
    with pytest.raises(IdempotencyKeyReused) as caught:
        gateway.charge(customer, token, Money(2_000, "USD"), idempotency_key="reused",
                       reference="PD-I3", description="Invoice 3")
    assert caught.value.http_status == 400
    assert "Nothing new was charged" in caught.value.message
    [intent] = intents_with_reference(sandbox, "PD-I3")
    assert intent["amount"] == 1_000


def test_raw_idempotency_error_has_stripes_shape(sandbox: GatewaySandbox, customer: str) -> None:
    headers = {"Authorization": f"Bearer {sandbox.secret_key}", "Idempotency-Key": "raw-2"}
    url = f"{sandbox.url}/v1/customers"
    assert requests.post(url, data={"name": "A"}, headers=headers, timeout=TIMEOUT).ok
    clash = requests.post(url, data={"name": "B"}, headers=headers, timeout=TIMEOUT)
    assert clash.status_code == 400
    assert clash.json()["error"]["type"] == "idempotency_error"


def test_validation_failures_are_not_stored(sandbox: GatewaySandbox, customer: str) -> None:
    """Stripe keeps no result when parameters fail validation: the corrected request with
    the same key runs."""
    headers = {"Authorization": f"Bearer {sandbox.secret_key}", "Idempotency-Key": "raw-3"}
    url = f"{sandbox.url}/v1/payment_intents"
    body = {"currency": "usd", "customer": customer, "payment_method": "pm_card_visa",
            "confirm": "true"}
    missing = requests.post(url, data=body, headers=headers, timeout=TIMEOUT)
    assert missing.status_code == 400
    assert missing.json()["error"]["param"] == "amount"
    fixed = requests.post(url, data={**body, "amount": "900"}, headers=headers, timeout=TIMEOUT)
    assert fixed.status_code == 200 and fixed.json()["status"] == "succeeded"


def test_concurrent_duplicate_gets_409(sandbox: GatewaySandbox, customer: str) -> None:
    token = attach_test_method(sandbox, customer, "pm_card_visa")
    # The first request holds the key for a second while it "executes".
    sandbox.add_fault("slow", seconds=1.0, path="/v1/payment_intents", method="POST")
    slow_gateway = StripeGateway(sandbox.secret_key, api_base=sandbox.url, max_network_retries=0)
    results: list[object] = []

    def first_charge() -> None:
        results.append(slow_gateway.charge(customer, token, Money(3_000, "USD"),
                                           idempotency_key="concurrent", reference="PD-I4",
                                           description="Invoice 4"))

    worker = threading.Thread(target=first_charge)
    worker.start()
    try:
        deadline_gateway = StripeGateway(sandbox.secret_key, api_base=sandbox.url,
                                         max_network_retries=0)
        # Give the first request time to reach the server and take the key.
        time.sleep(0.3)
        with pytest.raises(RequestInProgress) as caught:
            deadline_gateway.charge(customer, token, Money(3_000, "USD"),
                                    idempotency_key="concurrent", reference="PD-I4",
                                    description="Invoice 4")
        assert caught.value.http_status == 409
        assert caught.value.retryable
    finally:
        worker.join(timeout=10)
    assert len(results) == 1
    # Once the first has finished, the same key replays its result.
    replay = slow_gateway.charge(customer, token, Money(3_000, "USD"),
                                 idempotency_key="concurrent", reference="PD-I4",
                                 description="Invoice 4")
    assert replay.status is ChargeStatus.SUCCEEDED
    assert len(intents_with_reference(sandbox, "PD-I4")) == 1


def test_sdk_retry_after_409_picks_up_the_finished_result(sandbox: GatewaySandbox,
                                                          customer: str) -> None:
    """With retries on, the SDK waits after a 409 and then gets the replayed result."""
    token = attach_test_method(sandbox, customer, "pm_card_visa")
    sandbox.add_fault("slow", seconds=0.4, path="/v1/payment_intents", method="POST")
    gateway = StripeGateway(sandbox.secret_key, api_base=sandbox.url, max_network_retries=0)
    patient = StripeGateway(sandbox.secret_key, api_base=sandbox.url, max_network_retries=3)
    thread = threading.Thread(target=lambda: gateway.charge(
        customer, token, Money(3_100, "USD"), idempotency_key="k409", reference="PD-I5",
        description="Invoice 5"))
    thread.start()
    time.sleep(0.15)
    result = patient.charge(customer, token, Money(3_100, "USD"), idempotency_key="k409",
                            reference="PD-I5", description="Invoice 5")
    thread.join(timeout=10)
    assert result.status is ChargeStatus.SUCCEEDED
    assert len(intents_with_reference(sandbox, "PD-I5")) == 1
