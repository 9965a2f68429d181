"""The sandbox gateway's state: customers, payment methods, intents, charges, refunds and
checkout sessions, with Stripe's rules for how they change.

Everything lives in memory for the life of the server, behind one lock. Objects are kept
as the JSON dicts Stripe returns; keys starting with ``_`` are the sandbox's own notes
(the outcome a test card stands for, when a bank debit settles) and never leave the server.
No card number, CVC or bank account number is ever stored: a number is read once, when a
method is created, to pick brand, last 4 and outcome.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from app.sandbox.gateway.cards import (
    BANK_NAMES,
    TEST_PAYMENT_METHODS,
    BankOutcome,
    CardOutcome,
)

__all__ = ["GatewayState", "StripeError", "ValidationFailed"]

Obj = dict[str, Any]

#: Smallest charge Stripe accepts, in minor units, for the currencies that have one.
MINIMUM_CHARGE = {"usd": 50, "cad": 50, "aud": 50, "eur": 50, "gbp": 30, "chf": 50, "nzd": 50}
SUPPORTED_CURRENCIES = (
    "usd", "aud", "cad", "chf", "dkk", "eur", "gbp", "hkd", "jpy", "mxn", "nok", "nzd",
    "sek", "sgd", "zar",
)  # fmt: skip
ZERO_DECIMAL = {"jpy", "krw", "vnd", "clp", "pyg", "xof", "xaf", "ugx", "rwf", "kmf"}

_ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class StripeError(Exception):
    """An error response in Stripe's shape. Raised during execution: stored for replay."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        payment_intent: Obj | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.decline_code = decline_code
        self.payment_intent = payment_intent
        self.headers = headers or {}

    def body(self) -> Obj:
        error: Obj = {"type": self.type, "message": self.message}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"https://docs.stripe.com/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            error["param"] = self.param
        if self.decline_code:
            error["decline_code"] = self.decline_code
        if self.payment_intent is not None:
            error["payment_intent"] = self.payment_intent
        return {"error": error}


class ValidationFailed(StripeError):
    """Parameters refused before anything executed: Stripe stores no idempotent result."""

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None,
                 status: int = 400) -> None:
        super().__init__(status, message, param=param, code=code)


def missing(param: str) -> ValidationFailed:
    return ValidationFailed(f"Missing required param: {param}.", param=param,
                            code="parameter_missing")


def no_such(kind: str, object_id: str, param: str = "id") -> ValidationFailed:
    return ValidationFailed(f"No such {kind}: '{object_id}'", param=param,
                            code="resource_missing", status=404)


@dataclass
class CardDetails:
    """What the hosted page hands over after reading a card number (never the number)."""

    brand: str
    last4: str
    exp_month: int
    exp_year: int
    funding: str
    outcome: CardOutcome
    name: str | None
    postal_code: str | None


@dataclass
class BankDetails:
    """What the hosted page hands over for a bank account (never the account number)."""

    routing_number: str
    last4: str
    holder_name: str
    holder_type: str
    account_type: str
    outcome: BankOutcome


class GatewayState:
    """One Stripe account's objects. Every public method takes the lock."""

    def __init__(
        self,
        *,
        livemode: bool = False,
        account_name: str = "PayDesk Sandbox Gateway",
        default_currency: str = "usd",
        ach_settle_seconds: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.lock = threading.RLock()
        self.livemode = livemode
        self.account_id = "acct_" + self._random(16)
        self.account_name = account_name
        self.default_currency = default_currency
        self.ach_settle_seconds = ach_settle_seconds
        #: New refunds start ``pending`` (as Stripe's do when the bank takes time) until
        #: :meth:`settle_refund`; otherwise they succeed at once.
        self.refunds_pending = False
        self.clock = clock
        self.objects: dict[str, Obj] = {}
        self._order = 0

    # --- helpers ----------------------------------------------------------------------
    @staticmethod
    def _random(length: int) -> str:
        return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))

    def new_id(self, prefix: str) -> str:
        mode = "live" if self.livemode else "test"
        infix = f"{mode}_" if prefix == "cs" else ""
        return f"{prefix}_{infix}{self._random(24)}"

    def now(self) -> int:
        return int(self.clock())

    def _store(self, obj: Obj) -> Obj:
        self._order += 1
        obj["_order"] = self._order
        self.objects[obj["id"]] = obj
        return obj

    def get(self, object_id: str, kind: str, *, param: str = "id") -> Obj:
        obj = self.objects.get(object_id)
        if obj is None or obj["object"] != kind:
            raise no_such(kind, object_id, param)
        return obj

    def all(self, kind: str) -> list[Obj]:
        """Objects of one kind, newest first (Stripe's list order)."""
        found = [o for o in self.objects.values() if o["object"] == kind]
        return sorted(found, key=lambda o: -o["_order"])

    @staticmethod
    def public(obj: Obj) -> Obj:
        return {k: v for k, v in obj.items() if not k.startswith("_")}

    # --- account ----------------------------------------------------------------------
    def account(self) -> Obj:
        return {
            "id": self.account_id,
            "object": "account",
            "business_profile": {"name": self.account_name},
            "settings": {"dashboard": {"display_name": self.account_name}},
            "country": "US",
            "default_currency": self.default_currency,
            "charges_enabled": True,
            "livemode": self.livemode,
        }

    def country_spec(self, country: str) -> Obj:
        if country.upper() != "US":
            raise no_such("country_spec", country)
        return {
            "id": "US",
            "object": "country_spec",
            "default_currency": "usd",
            "supported_payment_currencies": list(SUPPORTED_CURRENCIES),
            "supported_payment_methods": ["card", "us_bank_account"],
        }

    # --- customers --------------------------------------------------------------------
    def create_customer(self, params: Obj) -> Obj:
        metadata = _metadata(params.get("metadata"))
        customer: Obj = {
            "id": self.new_id("cus"),
            "object": "customer",
            "created": self.now(),
            "name": params.get("name"),
            "email": params.get("email"),
            "description": params.get("description"),
            "metadata": metadata,
            "invoice_settings": {"default_payment_method": None},
            "livemode": self.livemode,
        }
        return self._store(customer)

    def update_customer(self, customer_id: str, params: Obj) -> Obj:
        customer = self.get(customer_id, "customer")
        settings = params.get("invoice_settings")
        default_pm = settings.get("default_payment_method") if isinstance(settings, dict) else None
        if default_pm:
            method = self.get(default_pm, "payment_method",
                              param="invoice_settings[default_payment_method]")
            if method.get("customer") != customer_id:
                raise ValidationFailed(
                    f"No such PaymentMethod: '{default_pm}'; It does not belong to this customer.",
                    param="invoice_settings[default_payment_method]",
                    code="resource_missing",
                )
        for field in ("name", "email", "description"):
            if field in params:
                customer[field] = params[field] or None
        if "metadata" in params:
            customer["metadata"] = {**customer["metadata"], **_metadata(params["metadata"])}
            customer["metadata"] = {k: v for k, v in customer["metadata"].items() if v != ""}
        if isinstance(settings, dict) and "default_payment_method" in settings:
            customer["invoice_settings"]["default_payment_method"] = default_pm or None
        return customer

    # --- payment methods --------------------------------------------------------------
    def _card_method(self, card: CardDetails, *, alias: str | None = None) -> Obj:
        method: Obj = {
            "id": self.new_id("pm"),
            "object": "payment_method",
            "type": "card",
            "created": self.now(),
            "customer": None,
            "livemode": self.livemode,
            "metadata": {},
            "billing_details": {
                "name": card.name,
                "email": None,
                "address": {"postal_code": card.postal_code},
            },
            "card": {
                "brand": card.brand,
                "last4": card.last4,
                "exp_month": card.exp_month,
                "exp_year": card.exp_year,
                "funding": card.funding,
                "country": "US",
                "checks": {"cvc_check": "pass" if card.postal_code else None},
            },
            "_outcome": card.outcome,
        }
        if alias:
            method["_alias"] = alias
        return self._store(method)

    def create_bank_method(self, bank: BankDetails) -> Obj:
        with self.lock:
            method: Obj = {
                "id": self.new_id("pm"),
                "object": "payment_method",
                "type": "us_bank_account",
                "created": self.now(),
                "customer": None,
                "livemode": self.livemode,
                "metadata": {},
                "billing_details": {"name": bank.holder_name, "email": None, "address": {}},
                "us_bank_account": {
                    "bank_name": BANK_NAMES.get(bank.routing_number, "Bank"),
                    "last4": bank.last4,
                    "routing_number": bank.routing_number,
                    "account_holder_type": bank.holder_type,
                    "account_type": bank.account_type,
                    "status_details": {},
                },
                "_bank": bank.outcome,
            }
            return self._store(method)

    def create_card_method(self, card: CardDetails) -> Obj:
        with self.lock:
            return self._card_method(card)

    def resolve_method(self, method_id: str, param: str = "payment_method") -> Obj:
        """A stored method, or a fresh copy of a ``pm_card_*`` test method (as Stripe does)."""
        if method_id in TEST_PAYMENT_METHODS:
            last4, outcome = TEST_PAYMENT_METHODS[method_id]
            year = time.gmtime(self.clock()).tm_year + 3
            details = CardDetails(outcome.brand, last4, 12, year, outcome.funding, outcome,
                                  None, None)
            return self._card_method(details, alias=method_id)
        return self.get(method_id, "payment_method", param=param)

    def create_payment_method(self, params: Obj) -> Obj:
        card = params.get("card")
        if isinstance(card, dict) and "number" in card:
            raise ValidationFailed(
                "Sending credit card numbers directly to the Stripe API is generally unsafe. "
                "To continue processing use Stripe.js, the Stripe mobile bindings, or Stripe "
                "Elements. For more information, see https://dashboard.stripe.com/account/"
                "integration/settings.",
                param="card[number]",
            )
        raise ValidationFailed(
            "Payment methods are collected on the hosted checkout page in this sandbox. "
            "Use a Checkout Session, or a test method such as pm_card_visa.",
        )

    def attach(self, method_id: str, customer_id: str | None) -> Obj:
        if not customer_id:
            raise missing("customer")
        customer = self.get(customer_id, "customer", param="customer")
        method = self.resolve_method(method_id, param="payment_method")
        if method.get("customer") and method["customer"] != customer["id"]:
            raise ValidationFailed(
                "The payment method you provided has already been attached to a customer.",
                code="payment_method_unexpected_state",
            )
        outcome: CardOutcome | None = method.get("_outcome")
        if outcome is not None and outcome.on_save is not None:
            code, decline_code, message = outcome.on_save
            raise StripeError(402, message, type="card_error", code=code,
                              decline_code=decline_code, param="")
        method["customer"] = customer["id"]
        return method

    def detach(self, method_id: str) -> Obj:
        method = self.get(method_id, "payment_method")
        customer_id = method.get("customer")
        if not customer_id:
            raise ValidationFailed(
                "The payment method you provided is not attached to a customer so detachment "
                "is impossible.",
                code="payment_method_unexpected_state",
            )
        method["customer"] = None
        customer = self.objects.get(customer_id)
        if customer and customer["invoice_settings"]["default_payment_method"] == method_id:
            customer["invoice_settings"]["default_payment_method"] = None
        return method

    def customer_methods(self, customer_id: str, method_type: str | None) -> list[Obj]:
        self.get(customer_id, "customer", param="customer")
        return [
            m
            for m in self.all("payment_method")
            if m.get("customer") == customer_id and (method_type in (None, m["type"]))
        ]

    # --- payment intents --------------------------------------------------------------
    def create_payment_intent(self, params: Obj) -> Obj:
        amount = _positive_int(params.get("amount"), "amount")
        currency = _currency(params.get("currency"))
        minimum = MINIMUM_CHARGE.get(currency, 1)
        if amount < minimum:
            raise ValidationFailed(
                f"Amount must be at least {minimum} {currency}", param="amount",
                code="amount_too_small",
            )
        customer_id = params.get("customer") or None
        if customer_id:
            self.get(customer_id, "customer", param="customer")
        method_id = params.get("payment_method") or None
        method: Obj | None = None
        if method_id:
            method = self.resolve_method(method_id)
            if method.get("customer") and method["customer"] != customer_id:
                raise ValidationFailed(
                    "The provided PaymentMethod belongs to a different customer.",
                    param="payment_method", code="resource_missing",
                )
        confirm = _bool(params.get("confirm"))
        if confirm and method is None:
            raise missing("payment_method")
        types = params.get("payment_method_types") or (
            [method["type"]] if method else ["card", "us_bank_account"]
        )
        intent: Obj = {
            "id": self.new_id("pi"),
            "object": "payment_intent",
            "amount": amount,
            "amount_received": 0,
            "currency": currency,
            "customer": customer_id,
            "description": params.get("description"),
            "metadata": _metadata(params.get("metadata")),
            "payment_method": method["id"] if method else None,
            "payment_method_types": list(types),
            "statement_descriptor": params.get("statement_descriptor"),
            "statement_descriptor_suffix": params.get("statement_descriptor_suffix"),
            "setup_future_usage": params.get("setup_future_usage"),
            "status": "requires_confirmation" if method else "requires_payment_method",
            "created": self.now(),
            "canceled_at": None,
            "cancellation_reason": None,
            "last_payment_error": None,
            "latest_charge": None,
            "next_action": None,
            "processing": None,
            "livemode": self.livemode,
        }
        self._store(intent)
        if confirm:
            # ``_authenticated`` is set (as a bool, which a form value never is) by the hosted
            # page, where the cardholder is present and passes 3-D Secure.
            return self._confirm(intent, off_session=_bool(params.get("off_session")),
                                 authenticated=params.get("_authenticated") is True)
        return intent

    def confirm_payment_intent(self, intent_id: str, params: Obj) -> Obj:
        intent = self.get(intent_id, "payment_intent")
        if intent["status"] not in ("requires_confirmation", "requires_payment_method"):
            raise ValidationFailed(
                f"This PaymentIntent's status is {intent['status']}, so it cannot be confirmed.",
                code="payment_intent_unexpected_state",
            )
        if params.get("payment_method"):
            method = self.resolve_method(params["payment_method"])
            intent["payment_method"] = method["id"]
        if not intent["payment_method"]:
            raise missing("payment_method")
        return self._confirm(intent, off_session=_bool(params.get("off_session")),
                             authenticated=params.get("_authenticated") is True)

    def _confirm(self, intent: Obj, *, off_session: bool, authenticated: bool = False) -> Obj:
        method = self.objects[intent["payment_method"]]
        if method["type"] not in intent["payment_method_types"]:
            raise ValidationFailed(
                f"The PaymentMethod type {method['type']} is not allowed for this PaymentIntent.",
                param="payment_method", code="payment_intent_incompatible_payment_method",
            )
        charge = self._new_charge(intent, method)
        intent["latest_charge"] = charge["id"]
        intent["last_payment_error"] = None
        if method["type"] == "us_bank_account":
            if intent["currency"] != "usd":
                raise ValidationFailed("US bank account debits must be in usd.",
                                       param="currency")
            intent["status"] = "processing"
            intent["processing"] = {"type": "us_bank_account"}
            charge["status"] = "pending"
            if self.ach_settle_seconds is not None:
                intent["_settle_at"] = self.clock() + self.ach_settle_seconds
            return intent
        outcome: CardOutcome = method["_outcome"]
        failure = outcome.on_save or outcome.on_charge
        if outcome.authentication and failure is None and not authenticated:
            if off_session:
                failure = ("authentication_required", "authentication_required",
                           "Your card was declined. This transaction requires authentication.")
            else:
                intent["status"] = "requires_action"
                intent["next_action"] = {"type": "use_stripe_sdk"}
                charge["status"] = "pending"
                return intent
        if failure is not None:
            code, decline_code, message = failure
            charge.update(status="failed", paid=False, failure_code=decline_code or code,
                          failure_message=message)
            error = {"type": "card_error", "code": code, "decline_code": decline_code,
                     "message": message, "charge": charge["id"],
                     "payment_method": self.public(method)}
            intent["status"] = "requires_payment_method"
            intent["last_payment_error"] = error
            raise StripeError(402, message, type="card_error", code=code,
                              decline_code=decline_code,
                              payment_intent=self.render(intent))
        self._succeed(intent, charge)
        return intent

    def _new_charge(self, intent: Obj, method: Obj) -> Obj:
        details: Obj = {"type": method["type"]}
        if method["type"] == "card":
            card = method["card"]
            details["card"] = {k: card[k] for k in ("brand", "last4", "exp_month", "exp_year",
                                                    "funding", "country")}
        else:
            bank = method["us_bank_account"]
            details["us_bank_account"] = {k: bank[k] for k in ("bank_name", "last4",
                                                               "routing_number",
                                                               "account_holder_type",
                                                               "account_type")}
        charge: Obj = {
            "id": self.new_id("ch"),
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": 0,
            "amount_refunded": 0,
            "currency": intent["currency"],
            "customer": intent["customer"],
            "payment_intent": intent["id"],
            "payment_method": method["id"],
            "payment_method_details": details,
            "metadata": dict(intent["metadata"]),
            "description": intent["description"],
            "status": "pending",
            "paid": False,
            "refunded": False,
            "failure_code": None,
            "failure_message": None,
            "created": self.now(),
            "livemode": self.livemode,
        }
        return self._store(charge)

    def _succeed(self, intent: Obj, charge: Obj) -> None:
        intent["status"] = "succeeded"
        intent["amount_received"] = intent["amount"]
        intent["processing"] = None
        intent.pop("_settle_at", None)
        charge.update(status="succeeded", paid=True, amount_captured=charge["amount"])

    def settle(self, intent_id: str, *, succeed: bool | None = None,
               failure_code: str | None = None) -> Obj:
        """End a processing bank debit: as the account's test outcome, or as told."""
        intent = self.get(intent_id, "payment_intent")
        if intent["status"] != "processing":
            raise ValidationFailed(
                f"This PaymentIntent's status is {intent['status']}; only processing bank "
                "debits can be settled.",
                code="payment_intent_unexpected_state",
            )
        charge = self.objects[intent["latest_charge"]]
        method = self.objects[intent["payment_method"]]
        planned: BankOutcome = method.get("_bank") or BankOutcome()
        if succeed is None:
            succeed = planned.failure is None
        if succeed:
            self._succeed(intent, charge)
            return intent
        code, message = planned.failure or (
            (failure_code, "The bank debit failed.") if failure_code
            else ("insufficient_funds",
                  "The customer's account has insufficient funds to cover this payment.")
        )
        if failure_code:
            code = failure_code
        charge.update(status="failed", failure_code=code, failure_message=message)
        intent.update(status="requires_payment_method", processing=None)
        intent.pop("_settle_at", None)
        intent["last_payment_error"] = {
            "type": "invalid_request_error",
            "code": "payment_method_microdeposit_verification_failed"
            if code == "verification_failed" else code,
            "message": message,
            "charge": charge["id"],
            "payment_method": self.public(method),
        }
        return intent

    def settle_due(self) -> None:
        """Settle every processing debit whose configured delay has passed."""
        now = self.clock()
        for intent in list(self.objects.values()):
            settle_at = intent.get("_settle_at")
            if settle_at is not None and settle_at <= now and intent["status"] == "processing":
                self.settle(intent["id"])

    def cancel_payment_intent(self, intent_id: str, params: Obj) -> Obj:
        intent = self.get(intent_id, "payment_intent")
        cancellable = {"requires_payment_method", "requires_confirmation", "requires_action",
                       "requires_capture", "processing"}
        if intent["status"] not in cancellable:
            raise ValidationFailed(
                "You cannot cancel this PaymentIntent because it has a status of "
                f"{intent['status']}. Only a PaymentIntent with one of the following statuses "
                "may be canceled: requires_payment_method, requires_capture, "
                "requires_confirmation, requires_action, processing.",
                code="payment_intent_unexpected_state",
            )
        reason = params.get("cancellation_reason") or "requested_by_customer"
        intent.update(status="canceled", canceled_at=self.now(), cancellation_reason=reason,
                      processing=None, next_action=None)
        intent.pop("_settle_at", None)
        if intent["latest_charge"]:
            charge = self.objects[intent["latest_charge"]]
            if charge["status"] == "pending":
                charge.update(status="failed", failure_code="canceled",
                              failure_message="The payment was canceled.")
        return intent

    def list_payment_intents(self, params: Obj) -> list[Obj]:
        customer = params.get("customer")
        created = params.get("created")
        found = self.all("payment_intent")
        if customer:
            found = [i for i in found if i["customer"] == customer]
        if isinstance(created, dict):
            for op, test in (("gte", int.__ge__), ("gt", int.__gt__), ("lte", int.__le__),
                             ("lt", int.__lt__)):
                if op in created:
                    bound = _int(created[op], f"created[{op}]")
                    found = [i for i in found if test(i["created"], bound)]
        elif created:
            bound = _int(created, "created")
            found = [i for i in found if i["created"] == bound]
        return found

    # --- refunds ----------------------------------------------------------------------
    def create_refund(self, params: Obj) -> Obj:
        intent_id = params.get("payment_intent")
        charge_id = params.get("charge")
        if intent_id:
            intent = self.get(intent_id, "payment_intent", param="payment_intent")
            charge_id = intent["latest_charge"]
            if intent["status"] != "succeeded" or not charge_id:
                raise ValidationFailed(
                    "This PaymentIntent does not have a successful charge to refund.",
                    param="payment_intent",
                )
        elif not charge_id:
            raise missing("payment_intent")
        charge = self.get(charge_id, "charge", param="charge")
        if charge["status"] != "succeeded":
            raise ValidationFailed(f"Charge {charge_id} has not succeeded and cannot be refunded.",
                                   param="charge")
        remaining = charge["amount"] - charge["amount_refunded"]
        if remaining <= 0:
            raise ValidationFailed(f"Charge {charge_id} has already been refunded.",
                                   code="charge_already_refunded")
        amount = remaining if params.get("amount") in (None, "") else _positive_int(
            params["amount"], "amount")
        if amount > remaining:
            raise ValidationFailed(
                f"Refund amount ({_show(amount, charge['currency'])}) is greater than unrefunded "
                f"amount on charge ({_show(remaining, charge['currency'])})",
                param="amount", code="amount_too_large",
            )
        reason = params.get("reason") or None
        if reason not in (None, "duplicate", "fraudulent", "requested_by_customer"):
            raise ValidationFailed(
                "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer",
                param="reason",
            )
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        refund: Obj = {
            "id": self.new_id("re"),
            "object": "refund",
            "amount": amount,
            "currency": charge["currency"],
            "charge": charge["id"],
            "payment_intent": charge["payment_intent"],
            "reason": reason,
            "metadata": _metadata(params.get("metadata")),
            "status": "pending" if self.refunds_pending else "succeeded",
            "failure_reason": None,
            "created": self.now(),
        }
        return self._store(refund)

    def settle_refund(self, refund_id: str, *, succeed: bool = True,
                      failure_reason: str = "lost_or_stolen_card") -> Obj:
        """End a pending refund. A failed refund gives the amount back to the charge (the
        money stays with the merchant), as Stripe does."""
        refund = self.get(refund_id, "refund")
        if refund["status"] != "pending":
            raise ValidationFailed(
                f"This refund's status is {refund['status']}; only pending refunds can be "
                "settled.", code="refund_unexpected_state")
        if succeed:
            refund["status"] = "succeeded"
            return refund
        charge = self.objects[refund["charge"]]
        charge["amount_refunded"] -= refund["amount"]
        charge["refunded"] = False
        refund.update(status="failed", failure_reason=failure_reason)
        return refund

    # --- checkout sessions --------------------------------------------------------------
    def create_checkout_session(self, params: Obj, base_url: str) -> Obj:
        mode = params.get("mode")
        if mode not in ("setup", "payment"):
            raise (missing("mode") if not mode else ValidationFailed(
                "Invalid mode: must be one of payment, setup or subscription", param="mode"))
        success_url = params.get("success_url")
        if not success_url:
            raise missing("success_url")
        customer_id = params.get("customer") or None
        if customer_id:
            self.get(customer_id, "customer", param="customer")
        elif mode == "setup":
            raise missing("customer")
        types = params.get("payment_method_types") or ["card"]
        if not isinstance(types, list) or not set(types) <= {"card", "us_bank_account"}:
            raise ValidationFailed("Invalid payment_method_types", param="payment_method_types")
        amount_total: int | None = None
        currency: str | None = params.get("currency")
        name = None
        if mode == "payment":
            items = params.get("line_items")
            if not isinstance(items, list) or not items:
                raise missing("line_items")
            amount_total = 0
            for index, item in enumerate(items):
                price = item.get("price_data") if isinstance(item, dict) else None
                if not isinstance(price, dict):
                    raise missing(f"line_items[{index}][price_data]")
                unit = _positive_int(price.get("unit_amount"),
                                     f"line_items[{index}][price_data][unit_amount]")
                quantity = _positive_int(item.get("quantity", "1"),
                                         f"line_items[{index}][quantity]")
                currency = _currency(price.get("currency"))
                amount_total += unit * quantity
                product = price.get("product_data") or {}
                name = name or product.get("name")
        elif currency:
            currency = _currency(currency)
        now = self.now()
        expires_at = _int(params["expires_at"], "expires_at") if params.get("expires_at") else (
            now + 24 * 3600)
        if not now + 30 * 60 - 5 <= expires_at <= now + 24 * 3600:
            raise ValidationFailed(
                "The `expires_at` timestamp must be between 30 minutes and 24 hours from "
                "Checkout Session creation.", param="expires_at")
        session_id = self.new_id("cs")
        session: Obj = {
            "id": session_id,
            "object": "checkout.session",
            "mode": mode,
            "status": "open",
            "payment_status": "unpaid" if mode == "payment" else "no_payment_required",
            "customer": customer_id,
            "client_reference_id": params.get("client_reference_id"),
            "success_url": success_url,
            "cancel_url": params.get("cancel_url"),
            "url": f"{base_url}/checkout/{session_id}",
            "payment_method_types": types,
            "amount_total": amount_total,
            "currency": currency,
            "metadata": _metadata(params.get("metadata")),
            "payment_intent": None,
            "setup_intent": None,
            "created": now,
            "expires_at": expires_at,
            "livemode": self.livemode,
            "_product_name": name,
            "_payment_intent_data": params.get("payment_intent_data") or {},
            "_setup_intent_data": params.get("setup_intent_data") or {},
        }
        return self._store(session)

    def checkout_session(self, session_id: str) -> Obj:
        session = self.get(session_id, "checkout.session")
        if session["status"] == "open" and session["expires_at"] <= self.now():
            session["status"] = "expired"
        return session

    def expire_checkout_session(self, session_id: str) -> Obj:
        session = self.checkout_session(session_id)
        if session["status"] != "open":
            raise ValidationFailed(
                'Only Checkout Sessions with a status in ["open"] can be expired.'
            )
        session["status"] = "expired"
        return session

    def complete_checkout(self, session_id: str, method: Obj, *, mandate: Obj | None) -> Obj:
        """Finish a hosted session with a method just entered on the page.

        Raises :class:`StripeError` (402) when the card is declined; the session stays open
        so the person can try another card, as on Stripe's page.
        """
        session = self.checkout_session(session_id)
        if session["status"] != "open":
            raise ValidationFailed("This Checkout Session is no longer open.")
        customer_id = session["customer"]
        if mandate is not None:
            method["_mandate"] = mandate
        if session["mode"] == "setup":
            if customer_id:
                self.attach(method["id"], customer_id)
            setup_intent: Obj = {
                "id": self.new_id("seti"),
                "object": "setup_intent",
                "status": "succeeded",
                "customer": customer_id,
                "payment_method": method["id"],
                "usage": "off_session",
                "metadata": _metadata(session["_setup_intent_data"].get("metadata")),
                "created": self.now(),
                "livemode": self.livemode,
            }
            self._store(setup_intent)
            session["setup_intent"] = setup_intent["id"]
            session["status"] = "complete"
            return session
        data = session["_payment_intent_data"]
        earlier = self.objects.get(session["payment_intent"] or "")
        try:
            if earlier is not None and earlier["status"] == "requires_payment_method":
                # Another try on the same page reuses the session's PaymentIntent, as Stripe does.
                earlier["payment_method_types"] = [method["type"]]
                intent = self.confirm_payment_intent(
                    earlier["id"], {"payment_method": method["id"], "_authenticated": True})
            else:
                intent = self.create_payment_intent({
                    "amount": str(session["amount_total"]),
                    "currency": session["currency"],
                    "customer": customer_id,
                    "payment_method": method["id"],
                    "description": data.get("description") or session["_product_name"],
                    "metadata": data.get("metadata") or {},
                    "setup_future_usage": data.get("setup_future_usage"),
                    "payment_method_types": [method["type"]],
                    "confirm": "true",
                    "_authenticated": True,
                })
        except StripeError as exc:
            if exc.payment_intent is not None:
                session["payment_intent"] = exc.payment_intent["id"]
            raise
        session["payment_intent"] = intent["id"]
        if customer_id and data.get("setup_future_usage"):
            method["customer"] = customer_id  # saved for later, once the payment went through
        session["status"] = "complete"
        session["payment_status"] = "paid" if intent["status"] == "succeeded" else "unpaid"
        return session

    def setup_intent(self, intent_id: str) -> Obj:
        return self.get(intent_id, "setup_intent")

    # --- rendering --------------------------------------------------------------------
    def render(self, obj: Obj, expand: Iterable[str] = ()) -> Obj:
        """The public JSON of an object with ``expand`` paths replaced by their objects."""
        out = self.public(obj)
        for path in expand:
            out = self._expand(out, path.split("."))
        return out

    def _expand(self, node: Any, parts: list[str]) -> Any:
        if not parts or not isinstance(node, dict):
            return node
        head, rest = parts[0], parts[1:]
        if head == "data" and isinstance(node.get("data"), list):
            node["data"] = [self._expand(item, rest) for item in node["data"]]
            return node
        value = node.get(head)
        if isinstance(value, str) and value in self.objects:
            value = self.public(self.objects[value])
        node[head] = self._expand(value, rest)
        return node

    # --- search -----------------------------------------------------------------------
    def search(self, kind: str, query: str) -> list[Obj]:
        clauses = _parse_query(query)
        found = []
        for obj in self.all(kind):
            if all(_field_matches(obj, field, value) for field, value in clauses):
                found.append(obj)
        return found


def _show(amount: int, currency: str) -> str:
    if currency in ZERO_DECIMAL:
        return f"{amount} {currency.upper()}"
    return f"${amount / 100:.2f}" if currency == "usd" else f"{amount / 100:.2f} {currency.upper()}"


def _metadata(value: Any) -> dict[str, str]:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise ValidationFailed("Invalid metadata: must be an object", param="metadata")
    if len(value) > 50:
        raise ValidationFailed("Metadata can have at most 50 keys.", param="metadata")
    for key, item in value.items():
        if len(key) > 40 or not isinstance(item, str) or len(item) > 500:
            raise ValidationFailed(
                "Metadata keys can be at most 40 characters and values at most 500.",
                param=f"metadata[{key}]",
            )
    return {k: v for k, v in value.items() if v != ""}


def _int(value: Any, param: str) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise ValidationFailed(f"Invalid integer: {value}", param=param) from None


def _positive_int(value: Any, param: str) -> int:
    if value in (None, ""):
        raise missing(param)
    number = _int(value, param)
    if number <= 0:
        raise ValidationFailed(f"Invalid {param}: must be greater than 0", param=param)
    return number


def _currency(value: Any) -> str:
    if not value:
        raise missing("currency")
    code = str(value).lower()
    if code not in SUPPORTED_CURRENCIES:
        raise ValidationFailed(f"Invalid currency: {code}. Stripe currently supports these "
                               f"currencies: {', '.join(SUPPORTED_CURRENCIES)}",
                               param="currency")
    return code


def _bool(value: Any) -> bool:
    return str(value).lower() == "true"


_CLAUSE_RE = re.compile(
    r"""\s*(metadata\[['"](?P<meta>[^'"]+)['"]\]|(?P<field>[a-z_]+))\s*:\s*
        (?P<quote>['"])(?P<value>.*?)(?P=quote)\s*""",
    re.VERBOSE,
)


def _parse_query(query: str) -> list[tuple[str, str]]:
    """Stripe search clauses joined by AND: ``metadata['k']:'v' AND status:'succeeded'``."""
    clauses: list[tuple[str, str]] = []
    parts = re.split(r"\s+AND\s+", query.strip(), flags=re.IGNORECASE)
    for part in parts:
        match = _CLAUSE_RE.fullmatch(part)
        if not match:
            raise ValidationFailed(f"Invalid search query: {query}", param="query")
        field = f"metadata.{match['meta']}" if match["meta"] else match["field"]
        clauses.append((field, match["value"]))
    return clauses


def _field_matches(obj: Obj, field: str, value: str) -> bool:
    if field.startswith("metadata."):
        return bool(obj.get("metadata", {}).get(field.removeprefix("metadata.")) == value)
    actual = obj.get(field)
    return actual is not None and str(actual) == value
