"""Helpers for tests against the Authorize.Net stand-in: raw API calls (as a developer makes
them), the hosted forms posted over plain HTTP the way a browser posts them, and counts."""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import requests

from app.sandbox.authorizenet import API_PATH, AuthorizeNetSandbox

TIMEOUT = (2.0, 10.0)


def raw_call(sandbox: AuthorizeNetSandbox, name: str, fields: dict[str, Any], *,
             key: str | None = None) -> dict[str, Any]:
    """One API request with the stand-in's credentials first, fields in the given order."""
    body = {"merchantAuthentication": {"name": sandbox.api_login_id,
                                       "transactionKey": key or sandbox.transaction_key},
            **fields}
    response = requests.post(sandbox.url + API_PATH, data=json.dumps({name: body}),
                             headers={"Content-Type": "application/json"}, timeout=TIMEOUT)
    assert response.content.startswith(b"\xef\xbb\xbf")  # Authorize.Net's byte-order mark
    answer: dict[str, Any] = json.loads(response.content.decode("utf-8-sig"))
    return answer


def save_card(sandbox: AuthorizeNetSandbox, customer_id: str, number: str = "4111111111111111",
              *, zip_code: str = "10001", expiry: str = "2031-08") -> str:
    """Save a test card on a customer profile the way a developer does through the API;
    returns the method's token (``<customer>/<payment profile>``)."""
    answer = raw_call(sandbox, "createCustomerPaymentProfileRequest", {
        "customerProfileId": customer_id,
        "paymentProfile": {
            "billTo": {"firstName": "Dana", "lastName": "Client", "zip": zip_code},
            "payment": {"creditCard": {"cardNumber": number, "expirationDate": expiry}},
        },
        "validationMode": "none",
    })
    assert answer["messages"]["resultCode"] == "Ok", answer
    return f"{customer_id}/{answer['customerPaymentProfileId']}"


#: Saved test methods by how charging them ends, for tests written for either gateway:
#: (card number, billing ZIP). Authorize.Net's sandbox declines by ZIP, not by card.
TEST_METHODS: dict[str, tuple[str, str]] = {
    "approve": ("4111111111111111", "10001"),
    "approve_mastercard": ("5424000000000015", "10001"),
    # Another Visa than "approve"'s: Authorize.Net keeps one payment profile per card number.
    "decline": ("4007000000027", "46282"),
    "avs_mismatch": ("4111111111111111", "46205"),
}


def save_test_method(sandbox: AuthorizeNetSandbox, customer_id: str,
                     outcome: str = "approve") -> str:
    """Save the test card whose charges end as ``outcome`` (a key of :data:`TEST_METHODS`)."""
    number, zip_code = TEST_METHODS[outcome]
    return save_card(sandbox, customer_id, number, zip_code=zip_code)


def save_bank(sandbox: AuthorizeNetSandbox, customer_id: str,
              account: str = "000123456789") -> str:
    answer = raw_call(sandbox, "createCustomerPaymentProfileRequest", {
        "customerProfileId": customer_id,
        "paymentProfile": {
            "billTo": {"firstName": "Acme", "lastName": "Dental", "zip": "10001"},
            "payment": {"bankAccount": {"accountType": "checking",
                                        "routingNumber": "121042882",
                                        "accountNumber": account,
                                        "nameOnAccount": "Acme Dental LLC",
                                        "echeckType": "WEB"}},
        },
    })
    assert answer["messages"]["resultCode"] == "Ok", answer
    return f"{customer_id}/{answer['customerPaymentProfileId']}"


@dataclass(frozen=True)
class Launch:
    action: str
    token: str


def read_launch(url: str) -> Launch:
    """The form address and token in the page PayDesk opens in the browser."""
    text = Path(unquote(urlsplit(url).path)).read_text(encoding="utf-8")
    action = re.search(r'action="([^"]+)"', text)
    token = re.search(r'name="token" value="([^"]+)"', text)
    assert action and token
    return Launch(html.unescape(action.group(1)), html.unescape(token.group(1)))


@dataclass
class FormAnswer:
    status: int
    text: str


def submit_card(url: str, number: str, *, expiry: str = "08/31", code: str = "123",
                zip_code: str = "10001", save: bool = True) -> FormAnswer:
    launch = read_launch(url)
    data = {"token": launch.token, "method": "card", "submitted": "yes", "cardNumber": number,
            "expirationDate": expiry, "cardCode": code, "firstName": "Dana",
            "lastName": "Client", "zip": zip_code}
    if save:
        data["saveProfile"] = "yes"
    response = requests.post(launch.action, data=data, timeout=TIMEOUT)
    return FormAnswer(response.status_code, response.text)


def submit_bank(url: str, account: str = "000123456789", *, save: bool = False) -> FormAnswer:
    launch = read_launch(url)
    data = {"token": launch.token, "method": "bank", "submitted": "yes",
            "nameOnAccount": "Acme Dental LLC", "accountType": "checking",
            "routingNumber": "121042882", "accountNumber": account, "authorize": "yes",
            "firstName": "Acme", "lastName": "Dental", "zip": "10001"}
    if save:
        data["saveProfile"] = "yes"
    response = requests.post(launch.action, data=data, timeout=TIMEOUT)
    return FormAnswer(response.status_code, response.text)


def charges_for(sandbox: AuthorizeNetSandbox, reference: str) -> list[dict[str, Any]]:
    """Transactions the stand-in really made for a reference (refused duplicates are not
    transactions)."""
    return [t for t in sandbox.transactions()
            if t["invoiceNumber"] == reference and t["type"] == "authCaptureTransaction"]
