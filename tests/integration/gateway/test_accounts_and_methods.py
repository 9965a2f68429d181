"""Test Connection, keys and modes, customers and saved-method management."""

from __future__ import annotations

import pytest
import requests

from app.core.gateways import (
    AuthenticationFailed,
    GatewayMode,
    InvalidRequest,
)
from app.core.gateways.stripe_gateway import StripeGateway, stripe_mode_from_key
from app.sandbox.gateway import GatewaySandbox
from tests.integration.gateway.support import TIMEOUT, attach_test_method


def test_test_connection_describes_the_account(gateway: StripeGateway) -> None:
    assert gateway.kind == "stripe-test"
    info = gateway.test_connection()
    assert info.display_name == "Northwind IT Services"
    assert info.mode is GatewayMode.TEST
    assert info.default_currency == "USD"
    assert {"USD", "EUR", "GBP", "CAD"} <= set(info.currencies)
    assert info.account_id.startswith("acct_")


def test_wrong_key_is_an_authentication_failure(sandbox: GatewaySandbox) -> None:
    wrong = StripeGateway("sk_test_thisisnotthekey", api_base=sandbox.url,
                          max_network_retries=0)
    with pytest.raises(AuthenticationFailed) as caught:
        wrong.test_connection()
    assert "Stripe refused the secret key" in caught.value.message
    assert "sk_test_thisisnotthekey" not in caught.value.message


def test_live_key_gives_live_mode() -> None:
    with GatewaySandbox(secret_key="sk_live_sandboxlivekey1") as live:
        gateway = StripeGateway(live.secret_key, api_base=live.url)
        assert gateway.mode is GatewayMode.LIVE
        assert gateway.kind == "stripe-live"
        assert gateway.test_connection().mode is GatewayMode.LIVE


@pytest.mark.parametrize(
    ("key", "mode"),
    [("sk_test_abcdefgh12", GatewayMode.TEST), ("sk_live_abcdefgh12", GatewayMode.LIVE),
     ("rk_live_abcdefgh12", GatewayMode.LIVE), (" sk_test_abcdefgh12\n", GatewayMode.TEST)],
)
def test_mode_comes_from_the_key(key: str, mode: GatewayMode) -> None:
    assert stripe_mode_from_key(key) is mode


@pytest.mark.parametrize(("key", "words"), [("pk_test_abcdefgh12", "publishable key"),
                                            ("hello", "does not look like")])
def test_keys_that_are_not_secret_keys_are_explained(key: str, words: str) -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        StripeGateway(key)
    assert words in caught.value.message


def test_key_is_sent_only_to_stripe_or_loopback() -> None:
    with pytest.raises(InvalidRequest):
        StripeGateway("sk_test_abcdefgh12", api_base="http://stripe.example.com")
    with pytest.raises(InvalidRequest):
        StripeGateway("sk_test_abcdefgh12", api_base="http://10.0.0.5:8080")
    StripeGateway("sk_test_abcdefgh12", api_base="http://127.0.0.1:9")
    StripeGateway("sk_test_abcdefgh12", api_base="https://api.stripe.com/")


def test_repr_hides_the_key(sandbox: GatewaySandbox) -> None:
    gateway = StripeGateway(sandbox.secret_key, api_base=sandbox.url)
    assert sandbox.secret_key not in repr(gateway)
    assert sandbox.secret_key not in repr(sandbox)
    assert "mode=test" in repr(gateway)


def test_ensure_customer_finds_the_existing_customer(gateway: StripeGateway) -> None:
    first = gateway.ensure_customer(42, "Acme Dental", None, idempotency_key="c42-a")
    second = gateway.ensure_customer(42, "Acme Dental", None, idempotency_key="c42-b")
    other = gateway.ensure_customer(43, "Bayside Law", None, idempotency_key="c43")
    assert first == second != other


def test_saved_methods_default_and_remove(gateway: StripeGateway, customer: str,
                                          sandbox: GatewaySandbox) -> None:
    visa = attach_test_method(sandbox, customer, "pm_card_visa")
    amex = attach_test_method(sandbox, customer, "pm_card_amex")
    methods = gateway.list_methods(customer)
    assert {m.token for m in methods} == {visa, amex}
    assert not any(m.is_default for m in methods)
    gateway.set_default_method(customer, amex, idempotency_key="default-amex")
    methods = gateway.list_methods(customer)
    assert methods[0].token == amex and methods[0].is_default
    assert methods[0].summary == "American Express •••• 0005"
    gateway.remove_method(amex, idempotency_key="remove-amex")
    methods = gateway.list_methods(customer)
    assert [m.token for m in methods] == [visa]
    assert not methods[0].is_default


def test_raw_card_numbers_are_refused_by_the_api(sandbox: GatewaySandbox) -> None:
    response = requests.post(
        f"{sandbox.url}/v1/payment_methods",
        data={"type": "card", "card[number]": "4242424242424242", "card[exp_month]": "12",
              "card[exp_year]": "2030", "card[cvc]": "123"},
        headers={"Authorization": f"Bearer {sandbox.secret_key}"}, timeout=TIMEOUT)
    assert response.status_code == 400
    assert "unsafe" in response.json()["error"]["message"]


def test_errors_have_stripes_shape(sandbox: GatewaySandbox) -> None:
    auth = {"Authorization": f"Bearer {sandbox.secret_key}"}
    unknown = requests.get(f"{sandbox.url}/v1/customers/cus_nothere", headers=auth,
                           timeout=TIMEOUT)
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "resource_missing"
    assert unknown.headers["Request-Id"].startswith("req_")
    no_key = requests.get(f"{sandbox.url}/v1/account", timeout=TIMEOUT)
    assert no_key.status_code == 401
    assert no_key.json()["error"]["type"] == "invalid_request_error"
    declined = requests.post(
        f"{sandbox.url}/v1/payment_intents", headers=auth, timeout=TIMEOUT,
        data={"amount": "2000", "currency": "usd", "payment_method": "pm_card_chargeDeclined",
              "confirm": "true"})
    assert declined.status_code == 402
    error = declined.json()["error"]
    assert (error["type"], error["code"], error["decline_code"]) == (
        "card_error", "card_declined", "generic_decline")
    assert error["payment_intent"]["status"] == "requires_payment_method"
