"""Helpers for tests that drive the sandbox gateway: start it, and fill its hosted page over
plain HTTP the way a browser posts the form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
import stripe

from app.core.gateways.stripe_gateway import StripeGateway
from app.sandbox.gateway import GatewaySandbox

TIMEOUT = (2.0, 10.0)


def make_gateway(sandbox: GatewaySandbox, *, retries: int = 0,
                 timeout: tuple[float, float] = (2.0, 10.0)) -> StripeGateway:
    return StripeGateway(sandbox.secret_key, api_base=sandbox.url, max_network_retries=retries,
                         timeout=timeout)


@dataclass
class FormAnswer:
    status: int
    location: str | None
    text: str

    @property
    def completed(self) -> bool:
        return self.status == 303


def submit_card(url: str, number: str, *, expiry: str = "12 / 34", cvc: str = "123",
                postal: str = "10001", name: str = "Dana Client") -> FormAnswer:
    data = {"method": "card", "card_number": number, "card_expiry": expiry, "card_cvc": cvc,
            "postal_code": postal, "cardholder_name": name}
    return _post(url, data)


def submit_bank(url: str, account: str = "000123456789", *, routing: str = "110000000",
                holder: str = "Acme Dental LLC", holder_type: str = "company",
                mandate: bool = True) -> FormAnswer:
    data = {"method": "us_bank_account", "account_holder_name": holder,
            "routing_number": routing, "account_number": account,
            "account_number_confirm": account, "account_holder_type": holder_type,
            "account_type": "checking"}
    if mandate:
        data["mandate"] = "accepted"
    return _post(url, data)


def _post(url: str, data: dict[str, str]) -> FormAnswer:
    response = requests.post(url, data=data, timeout=TIMEOUT, allow_redirects=False)
    return FormAnswer(response.status_code, response.headers.get("Location"), response.text)


def admin(sandbox: GatewaySandbox, method: str, path: str,
          body: dict[str, Any] | None = None) -> Any:
    """Call one of the sandbox's admin endpoints over HTTP."""
    response = requests.request(method, f"{sandbox.url}{path}", json=body or {},
                                headers={"Authorization": f"Bearer {sandbox.secret_key}"},
                                timeout=TIMEOUT)
    response.raise_for_status()
    return response.json()


def intents_with_reference(sandbox: GatewaySandbox, reference: str) -> list[dict[str, Any]]:
    state = admin(sandbox, "GET", "/_sandbox/state")
    return [i for i in state["payment_intents"]
            if i["metadata"].get("paydesk_reference") == reference]


def attach_test_method(sandbox: GatewaySandbox, customer_id: str, alias: str) -> str:
    """Attach one of Stripe's ``pm_card_*`` test methods to a customer, as a developer would
    with the Stripe SDK; returns the new method's token."""
    client = stripe.StripeClient(sandbox.secret_key, base_addresses={"api": sandbox.url},
                                 http_client=stripe.RequestsClient(timeout=TIMEOUT))
    method = client.v1.payment_methods.attach(alias, params={"customer": customer_id})
    return str(method.id)
