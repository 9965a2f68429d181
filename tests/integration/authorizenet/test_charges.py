"""Charges against the Authorize.Net stand-in over HTTP: approvals, the declines a bookkeeper
meets with the same sentences the Stripe adapter gives, eCheck debits, and the API's own
rules (element order, byte-order mark, credentials)."""

from __future__ import annotations

import pytest

from app.core.gateways import ChargeStatus, MethodType
from app.core.gateways.authorizenet import AuthorizeNetGateway
from app.core.gateways.declines import decline_reason
from app.core.gateways.errors import AuthenticationFailed, InvalidRequest
from app.core.money import Money
from app.sandbox.authorizenet import AuthorizeNetSandbox
from tests.integration.authorizenet.support import (
    charges_for,
    raw_call,
    save_bank,
    save_card,
    save_test_method,
)


def _charge(gateway: AuthorizeNetGateway, customer: str, token: str, minor: int,
            reference: str) -> object:
    return gateway.charge(customer, token, Money(minor, "USD"), idempotency_key=f"key-{reference}",
                          reference=reference, description="Invoice 1045")


def test_account_and_customer(gateway: AuthorizeNetGateway, sandbox: AuthorizeNetSandbox) -> None:
    info = gateway.test_connection()
    assert info.display_name == "Northwind IT Services"
    assert info.default_currency == "USD"
    assert gateway.kind == "authorizenet-test"
    first = gateway.ensure_customer(7, "Acme Dental", None, idempotency_key="c7")
    again = gateway.ensure_customer(7, "Acme Dental", None, idempotency_key="c7-again")
    assert first == again
    assert len(sandbox.state.customers) == 1


def test_approved_card_charge(gateway: AuthorizeNetGateway, customer: str,
                              sandbox: AuthorizeNetSandbox) -> None:
    token = save_card(sandbox, customer)
    [method] = gateway.list_methods(customer)
    assert (method.token, method.summary, method.expiry) == (token, "Visa •••• 1111", "08/2031")
    result = gateway.charge(customer, token, Money(128_050, "USD"), idempotency_key="pay-1",
                            reference="PD-7K3M9Q2X", description="Invoice 1045")
    assert result.status is ChargeStatus.SUCCEEDED
    assert result.amount == Money(128_050, "USD")
    assert (result.reference, result.idempotency_key) == ("PD-7K3M9Q2X", "pay-1")
    assert result.method is not None and result.method.token == token
    [made] = charges_for(sandbox, "PD-7K3M9Q2X")
    assert (made["amount"], made["refId"], made["status"]) == (
        "1280.50", "PD-7K3M9Q2X", "capturedPendingSettlement")


@pytest.mark.parametrize(("number", "zip_code", "minor", "code", "decline_code"), [
    ("4111111111111111", "46282", 5_000, "card_declined", "generic_decline"),
    ("4111111111111111", "46205", 5_000, "card_declined", "incorrect_zip"),
    ("4222222222222", "10001", 800, "expired_card", None),
    ("4222222222222", "10001", 4_400, "card_declined", "incorrect_cvc"),
    ("4222222222222", "10001", 400, "card_declined", "pickup_card"),
    ("4222222222222", "10001", 25_000, "card_declined", "fraudulent"),
])
def test_declines_read_as_for_stripe(gateway: AuthorizeNetGateway, customer: str,
                                     sandbox: AuthorizeNetSandbox, number: str, zip_code: str,
                                     minor: int, code: str, decline_code: str | None) -> None:
    token = save_card(sandbox, customer, number, zip_code=zip_code)
    result = gateway.charge(customer, token, Money(minor, "USD"), idempotency_key="d-1",
                            reference="PD-DECLINE", description="Invoice 9")
    assert result.status is ChargeStatus.DECLINED
    assert result.decline is not None
    assert (result.decline.code, result.decline.decline_code) == (code, decline_code)
    assert result.decline.reason == decline_reason(code, decline_code)
    # A decline is recorded as a transaction at Authorize.Net, as it is at Stripe.
    [made] = charges_for(sandbox, "PD-DECLINE")
    assert made["responseCode"] != 1
    assert made["status"] in ("declined", "generalError")


def test_decline_messages_are_plain(gateway: AuthorizeNetGateway, customer: str,
                                    sandbox: AuthorizeNetSandbox) -> None:
    avs = save_test_method(sandbox, customer, "avs_mismatch")
    result = gateway.charge(customer, avs, Money(2_000, "USD"), idempotency_key="avs",
                            reference="PD-AVS", description="Invoice 2")
    assert result.decline is not None
    assert result.decline.reason.startswith(
        "The card was declined because the billing ZIP code or address did not match")
    expired = save_card(sandbox, customer, "4222222222222")
    result = gateway.charge(customer, expired, Money(800, "USD"), idempotency_key="exp",
                            reference="PD-EXP", description="Invoice 3")
    assert result.decline is not None
    assert result.decline.reason == ("The card has expired. Ask the client for another card or "
                                     "payment method.")


def test_echeck_debit_processes_until_the_batch_settles(
        gateway: AuthorizeNetGateway, customer: str, sandbox: AuthorizeNetSandbox) -> None:
    token = save_bank(sandbox, customer)
    [method] = gateway.list_methods(customer)
    assert method.method_type is MethodType.US_BANK_ACCOUNT
    assert method.summary == "Wells Fargo Bank NA •••• 6789"
    result = gateway.charge(customer, token, Money(45_000, "USD"), idempotency_key="ach-1",
                            reference="PD-ACH1", description="Invoice 77")
    assert result.status is ChargeStatus.PROCESSING
    sandbox.settle()
    assert gateway.refresh_charge(result.charge_id).status is ChargeStatus.SUCCEEDED


def test_other_currencies_and_foreign_methods_are_refused(
        gateway: AuthorizeNetGateway, customer: str, sandbox: AuthorizeNetSandbox) -> None:
    token = save_card(sandbox, customer)
    with pytest.raises(InvalidRequest, match="takes payments in USD"):
        gateway.charge(customer, token, Money(100, "EUR"), idempotency_key="eur",
                       reference="PD-EUR", description="x")
    with pytest.raises(InvalidRequest, match=r"does not belong to Authorize\.Net"):
        gateway.charge(customer, "pm_card_visa", Money(100, "USD"), idempotency_key="pm",
                       reference="PD-PM", description="x")
    assert sandbox.transactions() == []


def test_wrong_transaction_key_is_a_plain_message(sandbox: AuthorizeNetSandbox) -> None:
    wrong = AuthorizeNetGateway(sandbox.api_login_id, "0000000000000000", api_base=sandbox.url)
    with pytest.raises(AuthenticationFailed, match="refused the API login ID or transaction key"):
        wrong.test_connection()


def test_the_stand_in_refuses_elements_out_of_order(sandbox: AuthorizeNetSandbox,
                                                    customer: str) -> None:
    answer = raw_call(sandbox, "getCustomerProfileRequest",
                      {"unmaskExpirationDate": "true", "customerProfileId": customer})
    assert answer["messages"]["resultCode"] == "Error"
    assert answer["messages"]["message"][0]["code"] == "E00003"
    assert "has invalid child element 'customerProfileId'" in (
        answer["messages"]["message"][0]["text"])
    good = raw_call(sandbox, "getCustomerProfileRequest",
                    {"customerProfileId": customer, "unmaskExpirationDate": "true"})
    assert good["messages"]["resultCode"] == "Ok"


def test_keys_go_only_to_authorize_net_or_loopback() -> None:
    with pytest.raises(InvalidRequest, match=r"only to https://api\.authorize\.net"):
        AuthorizeNetGateway("login", "0123456789abcdef", api_base="https://example.com")
    with pytest.raises(InvalidRequest, match="https://"):
        AuthorizeNetGateway("login", "0123456789abcdef", api_base="http://example.com")
    live = AuthorizeNetGateway("login", "0123456789abcdef",
                               api_base="https://api.authorize.net/xml/v1/request.api")
    assert live.kind == "authorizenet-live"


def test_returned_echeck_reads_as_insufficient_funds(
        gateway: AuthorizeNetGateway, customer: str, sandbox: AuthorizeNetSandbox) -> None:
    import requests

    token = save_bank(sandbox, customer)
    result = gateway.charge(customer, token, Money(45_000, "USD"), idempotency_key="ach-r",
                            reference="PD-ACHR", description="Invoice 78")
    response = requests.post(f"{sandbox.url}/_sandbox/transactions/{result.charge_id}/return",
                             json={"code": "R01"}, timeout=5,
                             headers={"Authorization": f"Bearer {sandbox.transaction_key}"})
    assert response.status_code == 200
    returned = gateway.refresh_charge(result.charge_id)
    assert returned.status is ChargeStatus.DECLINED
    assert returned.decline is not None
    assert returned.decline.code == "R01"
    assert returned.decline.reason == decline_reason("insufficient_funds", bank=True)


def test_nested_elements_out_of_order_are_refused(sandbox: AuthorizeNetSandbox,
                                                  customer: str) -> None:
    token = save_card(sandbox, customer)
    answer = raw_call(sandbox, "createTransactionRequest", {"transactionRequest": {
        "transactionType": "authCaptureTransaction", "amount": "10.00",
        "order": {"invoiceNumber": "PD-ORDER"},
        "profile": {"customerProfileId": customer,
                    "paymentProfile": {"paymentProfileId": token.partition("/")[2]}}}})
    assert answer["messages"]["message"][0]["code"] == "E00003"
    assert "'transactionRequest'" in answer["messages"]["message"][0]["text"]
    assert charges_for(sandbox, "PD-ORDER") == []
