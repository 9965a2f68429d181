"""The stand-in merchant account: customer profiles, transactions, batches, hosted-page tokens.

Each public ``do_*`` method answers one API request (already checked for element order and
authentication) with the JSON object Authorize.Net returns. Call them holding :attr:`lock`.

Rules kept as Authorize.Net keeps them:

* Transactions are ``capturedPendingSettlement`` until the daily batch settles them
  (:meth:`MerchantState.settle_batch`, the stand-in's admin switch), then
  ``settledSuccessfully``. A void works only before settlement; a refund only after, within
  120 days of settlement, for at most what is left, and needs the card's last 4 digits (or the
  payment profile) of the original.
* A repeat of an ``authCaptureTransaction`` or ``refundTransaction`` with the same amount,
  payment, invoice number and type inside the duplicate window (``duplicateWindow`` setting,
  default 120 s) is refused with response code 3, reason 11, and no new transaction.
* Card and account numbers are kept only as the last 4 digits; card codes are never kept.
"""

from __future__ import annotations

import itertools
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from app.sandbox.authorizenet.cards import TEST_CARDS, Trigger, bank_name, charge_trigger

__all__ = ["ApiFailure", "Bank", "Card", "MerchantState", "PaymentProfile", "Transaction"]

Obj = dict[str, Any]

DEFAULT_DUPLICATE_WINDOW = 120
MAX_DUPLICATE_WINDOW = 28_800
REFUND_DAYS = 120
HOSTED_TOKEN_MINUTES = 15


class ApiFailure(Exception):
    """An envelope-level error (``resultCode: Error``) with its ``E000nn`` code."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


@dataclass
class Card:
    last4: str
    brand: str
    expiry: str  # YYYY-MM


@dataclass
class Bank:
    last4: str
    routing_last4: str
    account_type: str
    name_on_account: str
    bank_name: str
    echeck_type: str


@dataclass
class PaymentProfile:
    profile_id: int
    customer_profile_id: int
    card: Card | None
    bank: Bank | None
    first_name: str = ""
    last_name: str = ""
    zip_code: str = ""
    default: bool = False
    #: The full test number, kept only for the sandbox's triggers (a real gateway keeps it
    #: too; it never leaves the stand-in and is never logged).
    _number: str = field(default="", repr=False)


@dataclass
class CustomerProfile:
    profile_id: int
    merchant_customer_id: str
    description: str
    email: str
    payment_profiles: dict[int, PaymentProfile] = field(default_factory=dict)


@dataclass
class Transaction:
    trans_id: int
    kind: str  # authCaptureTransaction | refundTransaction | voidTransaction
    status: str
    amount: Decimal
    submitted: datetime
    response_code: int
    reason: int
    text: str
    invoice_number: str = ""
    description: str = ""
    ref_id: str = ""
    customer_profile_id: int | None = None
    payment_profile_id: int | None = None
    card: Card | None = None
    bank: Bank | None = None
    auth_code: str = ""
    avs: str = "P"
    cvv: str = ""
    ref_trans_id: int | None = None
    user_fields: list[Obj] = field(default_factory=list)
    batch_id: int | None = None
    settled: datetime | None = None
    refunded: Decimal = Decimal("0")
    first_name: str = ""
    last_name: str = ""
    returned: Obj | None = None

    @property
    def account_number(self) -> str:
        last4 = self.card.last4 if self.card else self.bank.last4 if self.bank else ""
        return f"XXXX{last4}"

    @property
    def account_type(self) -> str:
        return self.card.brand if self.card else "eCheck"


@dataclass
class Batch:
    batch_id: int
    settled: datetime
    transactions: list[int]


@dataclass
class HostedToken:
    token: str
    kind: str  # payment | profile
    expires: datetime
    customer_profile_id: int | None
    settings: dict[str, str]
    transaction: Obj = field(default_factory=dict)
    used: bool = False


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _int(value: Any, what: str) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        raise ApiFailure("E00003", f"The '{what}' element is invalid - The value "
                         f"'{value}' is invalid according to its datatype.") from None


def parse_amount(value: Any) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ApiFailure("E00003", "The 'amount' element is invalid.") from None
    if amount != amount.quantize(Decimal("0.01")):
        raise ApiFailure("E00003", "The 'amount' element is invalid - more than two decimals.")
    return amount


class MerchantState:
    """One Authorize.Net merchant account in memory. Guard every call with :attr:`lock`."""

    def __init__(self, *, merchant_name: str, gateway_id: str) -> None:
        self.lock = threading.RLock()
        self.merchant_name = merchant_name
        self.gateway_id = gateway_id
        self.customers: dict[int, CustomerProfile] = {}
        self.transactions: dict[int, Transaction] = {}
        self.batches: dict[int, Batch] = {}
        self.tokens: dict[str, HostedToken] = {}
        #: Transactions appear in the list queries only this long after they were made.
        self.list_lag = timedelta(0)
        self._customer_ids = itertools.count(500_000_001)
        self._payment_profile_ids = itertools.count(600_000_001)
        self._trans_ids = itertools.count(120_000_000_001)
        self._batch_ids = itertools.count(9_000_001)

    # --- merchant -------------------------------------------------------------------------
    def do_getMerchantDetailsRequest(self, request: Obj) -> Obj:
        return {
            "isTestMode": False,
            "processors": [{"name": "First Data Nashville"}],
            "merchantName": self.merchant_name,
            "gatewayId": self.gateway_id,
            "marketTypes": ["eCommerce"],
            "productCodes": ["CNP"],
            "paymentMethods": ["AmericanExpress", "DinersClub", "Discover", "eCheck", "JCB",
                               "MasterCard", "Visa"],
            "currencies": ["USD"],
        }

    def do_authenticateTestRequest(self, request: Obj) -> Obj:
        return {}

    # --- customer profiles ------------------------------------------------------------------
    def _customer(self, value: Any) -> CustomerProfile:
        customer = self.customers.get(_int(value, "customerProfileId"))
        if customer is None:
            raise ApiFailure("E00040", "The record cannot be found.")
        return customer

    def do_createCustomerProfileRequest(self, request: Obj) -> Obj:
        profile = request.get("profile") or {}
        merchant_id = str(profile.get("merchantCustomerId") or "")
        description = str(profile.get("description") or "")
        email = str(profile.get("email") or "")
        if not (merchant_id or description or email):
            raise ApiFailure("E00041", "One or more fields in the profile must contain a value.")
        if len(merchant_id) > 20:
            raise ApiFailure("E00003", "The 'merchantCustomerId' element is invalid - The "
                             "actual length is greater than the MaxLength value.")
        for existing in self.customers.values():
            if (existing.merchant_customer_id, existing.description, existing.email) == (
                    merchant_id, description, email):
                raise ApiFailure("E00039", "A duplicate record with ID "
                                 f"{existing.profile_id} already exists.")
        customer = CustomerProfile(next(self._customer_ids), merchant_id, description, email)
        self.customers[customer.profile_id] = customer
        return {"customerProfileId": str(customer.profile_id),
                "customerPaymentProfileIdList": [], "customerShippingAddressIdList": [],
                "validationDirectResponseList": []}

    def do_getCustomerProfileRequest(self, request: Obj) -> Obj:
        if "customerProfileId" in request:
            customer = self._customer(request["customerProfileId"])
        else:
            wanted = str(request.get("merchantCustomerId") or "")
            email = str(request.get("email") or "")
            found = [c for c in self.customers.values()
                     if (wanted and c.merchant_customer_id == wanted)
                     or (not wanted and email and c.email == email)]
            if not found:
                raise ApiFailure("E00040", "The record cannot be found.")
            customer = found[0]
        unmask = str(request.get("unmaskExpirationDate", "")).lower() == "true"
        profile: Obj = {
            "paymentProfiles": [self.public_payment_profile(p, unmask=unmask)
                                for p in customer.payment_profiles.values()],
            "profileType": "regular",
            "customerProfileId": str(customer.profile_id),
            "merchantCustomerId": customer.merchant_customer_id,
            "description": customer.description,
            "email": customer.email,
        }
        return {"profile": profile, "subscriptionIds": []}

    @staticmethod
    def public_payment_profile(p: PaymentProfile, *, unmask: bool = False) -> Obj:
        payment: Obj
        if p.card is not None:
            payment = {"creditCard": {"cardNumber": f"XXXX{p.card.last4}",
                                      "expirationDate": p.card.expiry if unmask else "XXXX",
                                      "cardType": p.card.brand}}
        else:
            assert p.bank is not None
            payment = {"bankAccount": {"accountType": p.bank.account_type,
                                       "routingNumber": f"XXXX{p.bank.routing_last4}",
                                       "accountNumber": f"XXXX{p.bank.last4}",
                                       "nameOnAccount": p.bank.name_on_account,
                                       "echeckType": p.bank.echeck_type,
                                       "bankName": p.bank.bank_name}}
        public: Obj = {"customerProfileId": str(p.customer_profile_id),
                       "customerPaymentProfileId": str(p.profile_id),
                       "payment": payment,
                       "billTo": {"firstName": p.first_name, "lastName": p.last_name,
                                  "zip": p.zip_code},
                       "customerType": "business"}
        if p.default:
            public = {"defaultPaymentProfile": True, **public}
        return public

    def add_payment_profile(self, customer_id: int, *, card_number: str | None = None,
                            expiry: str | None = None, bank: Bank | None = None,
                            first_name: str = "", last_name: str = "", zip_code: str = "",
                            default: bool = False) -> PaymentProfile:
        """Save a card (test number) or bank account on a customer profile."""
        customer = self._customer(customer_id)
        card: Card | None = None
        if card_number is not None:
            if card_number not in TEST_CARDS:
                raise ApiFailure("E00027", "The credit card number is invalid.")
            if expiry is None:
                raise ApiFailure("E00027", "Credit card expiration date is invalid.")
            for existing in customer.payment_profiles.values():
                if existing._number == card_number and existing.card is not None:
                    raise ApiFailure("E00039", "A duplicate customer payment profile already "
                                     "exists.")
            card = Card(card_number[-4:], TEST_CARDS[card_number], expiry)
        elif bank is None:
            raise ApiFailure("E00029", "Payment information is required.")
        first = not customer.payment_profiles
        profile = PaymentProfile(next(self._payment_profile_ids), customer.profile_id, card,
                                 bank, first_name, last_name, zip_code, default or first,
                                 card_number or "")
        if profile.default:
            for other in customer.payment_profiles.values():
                other.default = False
        customer.payment_profiles[profile.profile_id] = profile
        return profile

    def do_createCustomerPaymentProfileRequest(self, request: Obj) -> Obj:
        customer = self._customer(request.get("customerProfileId"))
        body = request.get("paymentProfile") or {}
        payment = body.get("payment") or {}
        bill = body.get("billTo") or {}
        card = payment.get("creditCard")
        bank = payment.get("bankAccount")
        common: dict[str, Any] = {"first_name": str(bill.get("firstName") or ""),
                  "last_name": str(bill.get("lastName") or ""),
                  "zip_code": str(bill.get("zip") or ""),
                  "default": str(body.get("defaultPaymentProfile", "")).lower() == "true"}
        if card:
            saved = self.add_payment_profile(
                customer.profile_id, card_number=str(card.get("cardNumber") or ""),
                expiry=str(card.get("expirationDate") or "") or None, **common)
        elif bank:
            account = str(bank.get("accountNumber") or "")
            routing = str(bank.get("routingNumber") or "")
            saved = self.add_payment_profile(
                customer.profile_id,
                bank=Bank(account[-4:], routing[-4:], str(bank.get("accountType") or "checking"),
                          str(bank.get("nameOnAccount") or ""), bank_name(routing),
                          str(bank.get("echeckType") or "WEB")), **common)
        else:
            raise ApiFailure("E00029", "Payment information is required.")
        return {"customerProfileId": str(customer.profile_id),
                "customerPaymentProfileId": str(saved.profile_id)}

    def do_updateCustomerPaymentProfileRequest(self, request: Obj) -> Obj:
        customer = self._customer(request.get("customerProfileId"))
        body = request.get("paymentProfile") or {}
        profile = customer.payment_profiles.get(
            _int(body.get("customerPaymentProfileId"), "customerPaymentProfileId"))
        if profile is None:
            raise ApiFailure("E00040", "The record cannot be found.")
        if "payment" not in body:
            raise ApiFailure("E00029", "Payment information is required.")
        card = (body["payment"] or {}).get("creditCard")
        if card and profile.card and not str(card.get("cardNumber", "")).endswith(
                profile.card.last4):
            raise ApiFailure("E00027", "The credit card number is invalid.")
        if str(body.get("defaultPaymentProfile", "")).lower() == "true":
            for other in customer.payment_profiles.values():
                other.default = other is profile
        return {}

    def do_deleteCustomerPaymentProfileRequest(self, request: Obj) -> Obj:
        customer = self._customer(request.get("customerProfileId"))
        profile_id = _int(request.get("customerPaymentProfileId"), "customerPaymentProfileId")
        if customer.payment_profiles.pop(profile_id, None) is None:
            raise ApiFailure("E00040", "The record cannot be found.")
        return {}

    # --- hosted pages -----------------------------------------------------------------------
    @staticmethod
    def _settings(body: Any) -> dict[str, str]:
        settings = (body or {}).get("setting") or []
        if isinstance(settings, dict):
            settings = [settings]
        return {str(s.get("settingName")): str(s.get("settingValue") or "") for s in settings}

    def do_getHostedProfilePageRequest(self, request: Obj) -> Obj:
        customer = self._customer(request.get("customerProfileId"))
        token = self._new_token("profile", customer.profile_id,
                                self._settings(request.get("hostedProfileSettings")))
        return {"token": token.token}

    def do_getHostedPaymentPageRequest(self, request: Obj) -> Obj:
        transaction = request.get("transactionRequest") or {}
        if transaction.get("transactionType") != "authCaptureTransaction":
            raise ApiFailure("E00003", "The hosted payment page takes authCaptureTransaction.")
        parse_amount(transaction.get("amount"))
        customer_id: int | None = None
        profile = transaction.get("profile") or {}
        if profile.get("customerProfileId"):
            customer_id = self._customer(profile["customerProfileId"]).profile_id
        token = self._new_token("payment", customer_id,
                                self._settings(request.get("hostedPaymentSettings")),
                                transaction)
        return {"token": token.token}

    def _new_token(self, kind: str, customer_id: int | None, settings: dict[str, str],
                   transaction: Obj | None = None) -> HostedToken:
        token = HostedToken(secrets.token_urlsafe(48), kind,
                            _now() + timedelta(minutes=HOSTED_TOKEN_MINUTES), customer_id,
                            settings, transaction or {})
        self.tokens[token.token] = token
        return token

    def hosted_token(self, token: str, kind: str) -> HostedToken:
        found = self.tokens.get(token)
        if found is None or found.kind != kind:
            raise ApiFailure("E00114", "Invalid OTS Token.")
        if found.expires < _now():
            raise ApiFailure("E00115", "The token has expired.")
        return found

    # --- transactions -----------------------------------------------------------------------
    def do_createTransactionRequest(self, request: Obj) -> Obj:
        body = request.get("transactionRequest") or {}
        kind = body.get("transactionType")
        if kind == "authCaptureTransaction":
            transaction = self._auth_capture(body, str(request.get("refId") or ""))
        elif kind == "refundTransaction":
            transaction = self._refund(body, str(request.get("refId") or ""))
        elif kind == "voidTransaction":
            transaction = self._void(body)
        else:
            raise ApiFailure("E00003", f"The transaction type {kind!r} is not supported here.")
        return {"transactionResponse": self.transaction_response(transaction)}

    def transaction_response(self, t: Transaction) -> Obj:
        response: Obj = {
            "responseCode": str(t.response_code),
            "authCode": t.auth_code,
            "avsResultCode": t.avs,
            "cvvResultCode": t.cvv,
            "cavvResultCode": "",
            "transId": str(t.trans_id),
            "refTransID": str(t.ref_trans_id or ""),
            "transHash": "",
            "testRequest": "0",
            "accountNumber": t.account_number,
            "accountType": t.account_type,
        }
        if t.response_code in (1, 4):
            response["messages"] = [{"code": str(t.reason), "description": t.text}]
        else:
            response["errors"] = [{"errorCode": str(t.reason), "errorText": t.text}]
        if t.user_fields:
            response["userFields"] = list(t.user_fields)
        if t.customer_profile_id is not None:
            response["profile"] = {"customerProfileId": str(t.customer_profile_id),
                                   "customerPaymentProfileId": str(t.payment_profile_id or "")}
        return response

    def _duplicate_window(self, body: Obj) -> int:
        settings = self._settings(body.get("transactionSettings"))
        if "duplicateWindow" not in settings:
            return DEFAULT_DUPLICATE_WINDOW
        window = _int(settings["duplicateWindow"], "duplicateWindow")
        if not 0 <= window <= MAX_DUPLICATE_WINDOW:
            raise ApiFailure("E00003", "duplicateWindow is between 0 and 28800 seconds.")
        return window

    def _find_duplicate(self, kind: str, amount: Decimal, identity: str, invoice: str,
                        window: int) -> Transaction | None:
        since = _now() - timedelta(seconds=window)
        for t in self.transactions.values():
            if (t.kind == kind and t.amount == amount and t.invoice_number == invoice
                    and t.submitted >= since and t.reason != 11
                    and self._identity(t) == identity):
                return t
        return None

    @staticmethod
    def _identity(t: Transaction | PaymentProfile) -> str:
        if isinstance(t, PaymentProfile):
            number = t._number or (t.bank.last4 if t.bank else "")
            return f"pp:{t.profile_id}:{number}"
        return getattr(t, "_identity_key", "")

    def _record(self, t: Transaction, identity: str) -> Transaction:
        t._identity_key = identity  # type: ignore[attr-defined]
        self.transactions[t.trans_id] = t
        return t

    def _payment_source(self, body: Obj) -> tuple[PaymentProfile | None, Obj]:
        profile_ref = body.get("profile") or {}
        if profile_ref:
            customer = self._customer(profile_ref.get("customerProfileId"))
            pp_id = _int((profile_ref.get("paymentProfile") or {}).get("paymentProfileId"),
                         "paymentProfileId")
            profile = customer.payment_profiles.get(pp_id)
            if profile is None:
                raise ApiFailure("E00040", "The record cannot be found.")
            return profile, {}
        return None, body.get("payment") or {}

    def _auth_capture(self, body: Obj, ref_id: str, *, hosted_card: Obj | None = None,
                      saved: PaymentProfile | None = None) -> Transaction:
        amount = parse_amount(body.get("amount"))
        if amount <= 0:
            raise ApiFailure("E00027", "A valid amount is required.")
        order = body.get("order") or {}
        invoice = str(order.get("invoiceNumber") or "")
        if len(invoice) > 20:
            raise ApiFailure("E00003", "The 'invoiceNumber' element is invalid - The actual "
                             "length is greater than the MaxLength value.")
        window = self._duplicate_window(body)
        profile, payment = (saved, {}) if saved is not None else self._payment_source(body)
        card_code: str | None = None
        number: str | None = None
        bank: Bank | None = None
        card: Card | None = None
        zip_code = str((body.get("billTo") or {}).get("zip") or "")
        first = str((body.get("billTo") or {}).get("firstName") or "")
        last = str((body.get("billTo") or {}).get("lastName") or "")
        if profile is not None:
            card, bank, zip_code = profile.card, profile.bank, profile.zip_code
            number = profile._number or None
            first, last = profile.first_name, profile.last_name
            identity = self._identity(profile)
        elif hosted_card is not None:
            number = str(hosted_card["number"])
            card = Card(number[-4:], TEST_CARDS[number], str(hosted_card["expiry"]))
            card_code = str(hosted_card.get("code") or "")
            zip_code = str(hosted_card.get("zip") or "")
            identity = f"card:{number}"
        elif payment.get("creditCard"):
            cc = payment["creditCard"]
            number = str(cc.get("cardNumber") or "")
            if number not in TEST_CARDS:
                raise ApiFailure("E00027", "The credit card number is invalid.")
            card = Card(number[-4:], TEST_CARDS[number], str(cc.get("expirationDate") or ""))
            card_code = str(cc.get("cardCode") or "") or None
            identity = f"card:{number}"
        elif payment.get("bankAccount"):
            ba = payment["bankAccount"]
            account = str(ba.get("accountNumber") or "")
            bank = Bank(account[-4:], str(ba.get("routingNumber") or "")[-4:],
                        str(ba.get("accountType") or "checking"),
                        str(ba.get("nameOnAccount") or ""), "SANDBOX TEST BANK",
                        str(ba.get("echeckType") or "WEB"))
            identity = f"bank:{account}"
        else:
            raise ApiFailure("E00027", "Credit card number is required.")
        duplicate = self._find_duplicate("authCaptureTransaction", amount, identity, invoice,
                                         window)
        if duplicate is not None:
            return self._rejected_duplicate(duplicate, card, bank, ref_id)
        if card is not None:
            trigger = charge_trigger(card_number=number, amount=amount, zip_code=zip_code,
                                     card_code=card_code)
            if card.expiry and card.expiry < _now().strftime("%Y-%m") and trigger.reason == 1:
                trigger = charge_trigger(card_number="4222222222222", amount=Decimal(8),
                                         zip_code=None, card_code=None)
        else:
            trigger = Trigger(1, 1, "This transaction has been approved.", "P", "")
        status = {1: "capturedPendingSettlement", 2: "declined", 4: "FDSPendingReview"}.get(
            trigger.response_code, "generalError")
        t = Transaction(
            trans_id=next(self._trans_ids), kind="authCaptureTransaction", status=status,
            amount=amount, submitted=_now(), response_code=trigger.response_code,
            reason=trigger.reason, text=trigger.text, invoice_number=invoice,
            description=str(order.get("description") or ""), ref_id=ref_id,
            customer_profile_id=profile.customer_profile_id if profile else None,
            payment_profile_id=profile.profile_id if profile else None,
            card=card, bank=bank,
            auth_code=secrets.token_hex(3).upper() if trigger.response_code == 1 else "",
            avs=trigger.avs if card else "P", cvv=trigger.cvv if card_code else "",
            user_fields=self._user_fields(body), first_name=first, last_name=last,
        )
        return self._record(t, identity)

    @staticmethod
    def _user_fields(body: Obj) -> list[Obj]:
        fields = (body.get("userFields") or {}).get("userField") or []
        if isinstance(fields, dict):
            fields = [fields]
        if len(fields) > 20:
            raise ApiFailure("E00003", "At most 20 user fields.")
        return [{"name": str(f.get("name")), "value": str(f.get("value") or "")}
                for f in fields]

    def _rejected_duplicate(self, original: Transaction, card: Card | None, bank: Bank | None,
                            ref_id: str) -> Transaction:
        # Refused, recorded nowhere: Authorize.Net keeps no transaction for a duplicate.
        return Transaction(
            trans_id=0, kind=original.kind, status="rejected", amount=original.amount,
            submitted=_now(), response_code=3, reason=11,
            text="A duplicate transaction has been submitted.", ref_id=ref_id, card=card,
            bank=bank, avs="P")

    def _transaction(self, value: Any) -> Transaction:
        t = self.transactions.get(_int(value, "refTransId"))
        if t is None:
            raise _Refused(16)
        return t

    def _refund(self, body: Obj, ref_id: str) -> Transaction:
        amount = parse_amount(body.get("amount"))
        try:
            original = self._transaction(body.get("refTransId"))
        except _Refused as refused:
            return self._refusal(refused.reason, amount, ref_id)
        invoice = str((body.get("order") or {}).get("invoiceNumber") or "")
        if original.kind != "authCaptureTransaction" or original.status != "settledSuccessfully":
            return self._refusal(54, amount, ref_id, original)
        assert original.settled is not None
        if _now() - original.settled > timedelta(days=REFUND_DAYS):
            return self._refusal(54, amount, ref_id, original)
        profile_ref = body.get("profile") or {}
        payment = body.get("payment") or {}
        if profile_ref:
            pp = (profile_ref.get("paymentProfile") or {}).get("paymentProfileId")
            if str(pp) != str(original.payment_profile_id) or str(
                    profile_ref.get("customerProfileId")) != str(original.customer_profile_id):
                return self._refusal(54, amount, ref_id, original)
        elif payment.get("creditCard"):
            if not str(payment["creditCard"].get("cardNumber") or "").endswith(
                    original.card.last4 if original.card else "----"):
                return self._refusal(54, amount, ref_id, original)
        elif payment.get("bankAccount"):
            if not str(payment["bankAccount"].get("accountNumber") or "").endswith(
                    original.bank.last4 if original.bank else "----"):
                return self._refusal(54, amount, ref_id, original)
        else:
            return self._refusal(33, amount, ref_id, original)
        if amount <= 0 or original.refunded + amount > original.amount:
            return self._refusal(55, amount, ref_id, original)
        identity = f"refund:{original.trans_id}"
        duplicate = self._find_duplicate("refundTransaction", amount, identity, invoice,
                                         self._duplicate_window(body))
        if duplicate is not None:
            return self._rejected_duplicate(duplicate, original.card, original.bank, ref_id)
        original.refunded += amount
        t = Transaction(
            trans_id=next(self._trans_ids), kind="refundTransaction",
            status="refundPendingSettlement", amount=amount, submitted=_now(), response_code=1,
            reason=1, text="This transaction has been approved.", invoice_number=invoice,
            ref_id=ref_id, customer_profile_id=original.customer_profile_id,
            payment_profile_id=original.payment_profile_id, card=original.card,
            bank=original.bank, ref_trans_id=original.trans_id, avs="P",
            user_fields=self._user_fields(body), first_name=original.first_name,
            last_name=original.last_name)
        return self._record(t, identity)

    def _refusal(self, reason: int, amount: Decimal, ref_id: str,
                 original: Transaction | None = None) -> Transaction:
        from app.sandbox.authorizenet.cards import REASONS

        code, text = REASONS[reason]
        return Transaction(trans_id=0, kind="refundTransaction", status="rejected",
                           amount=amount, submitted=_now(), response_code=code, reason=reason,
                           text=text, ref_id=ref_id,
                           card=original.card if original else None,
                           bank=original.bank if original else None,
                           ref_trans_id=original.trans_id if original else None)

    def _void(self, body: Obj) -> Transaction:
        try:
            original = self._transaction(body.get("refTransId"))
        except _Refused as refused:
            return self._refusal(refused.reason, Decimal(0), "")
        if original.status == "voided":
            return Transaction(trans_id=original.trans_id, kind="voidTransaction",
                               status="voided", amount=original.amount, submitted=_now(),
                               response_code=1, reason=310,
                               text="This transaction has already been voided.",
                               card=original.card, bank=original.bank,
                               ref_trans_id=original.trans_id, avs="P")
        if original.status not in ("capturedPendingSettlement", "FDSPendingReview",
                                   "refundPendingSettlement", "authorizedPendingCapture"):
            return self._refusal(16, original.amount, "", original)
        original.status = "voided"
        if original.kind == "refundTransaction" and original.ref_trans_id is not None:
            parent = self.transactions[original.ref_trans_id]
            parent.refunded -= original.amount
        return Transaction(trans_id=original.trans_id, kind="voidTransaction", status="voided",
                           amount=original.amount, submitted=_now(), response_code=1,
                           reason=1, text="This transaction has been approved.",
                           card=original.card, bank=original.bank,
                           ref_trans_id=original.trans_id, avs="P",
                           auth_code=original.auth_code)

    # --- settlement (the stand-in's admin switch) ------------------------------------------------
    def settle_batch(self, at: datetime | None = None) -> Batch | None:
        """Settle every transaction waiting for settlement into one batch, as Authorize.Net
        does at the daily cut-off. ``at`` back-dates the batch (to test the 120-day rule)."""
        moment = at or _now()
        # Like Authorize.Net, the batch takes every transaction of the day — declined and
        # voided ones too (its statistics count them) — except those held for review.
        waiting = [t for t in self.transactions.values()
                   if t.batch_id is None and t.status not in _HELD]
        if not any(t.status in _SETTLING for t in waiting):
            return None
        batch = Batch(next(self._batch_ids), moment, [t.trans_id for t in waiting])
        for t in waiting:
            if t.status in _SETTLING:
                t.status = ("settledSuccessfully" if t.kind == "authCaptureTransaction"
                            else "refundSettledSuccessfully")
            t.batch_id, t.settled = batch.batch_id, moment
            if at is not None and t.submitted > moment:
                t.submitted = moment - timedelta(minutes=5)
        self.batches[batch.batch_id] = batch
        return batch

    def return_echeck(self, trans_id: int, code: str) -> Transaction:
        """The bank returns an eCheck debit (``R01`` insufficient funds, ``R02`` account
        closed, …), as it does days after the debit."""
        t = self.transactions.get(trans_id)
        if t is None or t.bank is None or t.kind != "authCaptureTransaction":
            raise ApiFailure("E00040", "The record cannot be found.")
        if t.status not in ("capturedPendingSettlement", "settledSuccessfully"):
            raise ApiFailure("E00027", "Only a debit that went through can be returned.")
        t.status = "returnedItem"
        t.returned = {"id": str(trans_id), "dateUTC": _iso(_now()), "code": code,
                      "description": _RETURN_TEXTS.get(code, "Returned by the bank.")}
        return t

    # --- reporting ----------------------------------------------------------------------------
    def _visible(self) -> Iterator[Transaction]:
        cutoff = _now() - self.list_lag
        for t in self.transactions.values():
            if t.submitted <= cutoff:
                yield t

    def summary(self, t: Transaction) -> Obj:
        summary: Obj = {
            "transId": str(t.trans_id),
            "submitTimeUTC": _iso(t.submitted),
            "submitTimeLocal": t.submitted.strftime("%Y-%m-%dT%H:%M:%S"),
            "transactionStatus": t.status,
            "invoiceNumber": t.invoice_number,
            "firstName": t.first_name,
            "lastName": t.last_name,
            "accountType": t.account_type,
            "accountNumber": t.account_number,
            "settleAmount": f"{t.amount:.2f}",
            "marketType": "eCommerce",
            "product": "Card Not Present",
        }
        if t.customer_profile_id is not None:
            summary["profile"] = {"customerProfileId": str(t.customer_profile_id),
                                  "customerPaymentProfileId": str(t.payment_profile_id or "")}
        return summary

    @staticmethod
    def _page(items: list[Obj], request: Obj) -> tuple[list[Obj], int]:
        sorting = request.get("sorting") or {}
        descending = str(sorting.get("orderDescending", "false")).lower() == "true"
        items.sort(key=lambda s: (s["submitTimeUTC"], int(s["transId"])), reverse=descending)
        paging = request.get("paging") or {}
        limit = _int(paging.get("limit", 1000), "limit")
        offset = _int(paging.get("offset", 1), "offset")
        if not 1 <= limit <= 1000 or offset < 1:
            raise ApiFailure("E00003", "paging: limit is 1-1000 and offset starts at 1.")
        start = (offset - 1) * limit
        return items[start:start + limit], len(items)

    def do_getUnsettledTransactionListRequest(self, request: Obj) -> Obj:
        # Every transaction not yet in a batch, declined and voided ones included.
        items = [self.summary(t) for t in self._visible() if t.batch_id is None]
        page, total = self._page(items, request)
        return {"transactions": page, "totalNumInResultSet": total}

    def do_getTransactionListRequest(self, request: Obj) -> Obj:
        batch = self.batches.get(_int(request.get("batchId"), "batchId"))
        if batch is None:
            raise ApiFailure("E00040", "The record cannot be found.")
        items = [self.summary(self.transactions[i]) for i in batch.transactions]
        page, total = self._page(items, request)
        return {"transactions": page, "totalNumInResultSet": total}

    def do_getTransactionListForCustomerRequest(self, request: Obj) -> Obj:
        customer = self._customer(request.get("customerProfileId"))
        wanted_pp = request.get("customerPaymentProfileId")
        items = [self.summary(t) for t in self._visible()
                 if t.customer_profile_id == customer.profile_id
                 and (wanted_pp is None or str(t.payment_profile_id) == str(wanted_pp))]
        page, total = self._page(items, request)
        return {"transactions": page, "totalNumInResultSet": total}

    def do_getSettledBatchListRequest(self, request: Obj) -> Obj:
        def moment(name: str, default: datetime) -> datetime:
            value = request.get(name)
            if not value:
                return default
            try:
                parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            except ValueError:
                raise ApiFailure("E00003", f"The '{name}' element is invalid.") from None
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

        last = moment("lastSettlementDate", _now())
        first = moment("firstSettlementDate", last - timedelta(days=31))
        if last - first > timedelta(days=31):
            raise ApiFailure("E00059", "The date range cannot exceed 31 days.")
        batches = [{"batchId": str(b.batch_id), "settlementTimeUTC": _iso(b.settled),
                    "settlementState": "settledSuccessfully", "paymentMethod": "creditCard",
                    "marketType": "eCommerce", "product": "Card Not Present"}
                   for b in self.batches.values() if first <= b.settled <= last]
        return {"batchList": batches}

    def do_getTransactionDetailsRequest(self, request: Obj) -> Obj:
        t = self.transactions.get(_int(request.get("transId"), "transId"))
        if t is None:
            raise ApiFailure("E00040", "The record cannot be found.")
        payment: Obj
        if t.card is not None:
            payment = {"creditCard": {"cardNumber": t.account_number,
                                      "expirationDate": "XXXX", "cardType": t.card.brand}}
        elif t.bank is not None:
            payment = {"bankAccount": {"routingNumber": f"XXXX{t.bank.routing_last4}",
                                       "accountNumber": t.account_number,
                                       "nameOnAccount": t.bank.name_on_account,
                                       "echeckType": t.bank.echeck_type,
                                       "bankName": t.bank.bank_name}}
        else:
            payment = {}
        details: Obj = {
            "transId": str(t.trans_id),
            "refTransId": str(t.ref_trans_id or ""),
            "submitTimeUTC": _iso(t.submitted),
            "submitTimeLocal": t.submitted.strftime("%Y-%m-%dT%H:%M:%S"),
            "transactionType": t.kind,
            "transactionStatus": t.status,
            "responseCode": t.response_code,
            "responseReasonCode": t.reason,
            "responseReasonDescription": t.text,
            "authCode": t.auth_code,
            "AVSResponse": t.avs,
            "order": {"invoiceNumber": t.invoice_number, "description": t.description},
            "authAmount": f"{t.amount:.2f}",
            "settleAmount": f"{t.amount:.2f}",
            "taxExempt": False,
            "payment": payment,
            "billTo": {"firstName": t.first_name, "lastName": t.last_name},
            "recurringBilling": False,
            "product": "Card Not Present",
            "marketType": "eCommerce",
        }
        if t.batch_id is not None and t.settled is not None:
            details["batch"] = {"batchId": str(t.batch_id),
                                "settlementTimeUTC": _iso(t.settled),
                                "settlementState": "settledSuccessfully"}
        if t.customer_profile_id is not None:
            details["profile"] = {"customerProfileId": str(t.customer_profile_id),
                                  "customerPaymentProfileId": str(t.payment_profile_id or "")}
        if t.user_fields:
            details["userFields"] = {"userField": list(t.user_fields)}
        if t.returned is not None:
            details["returnedItems"] = {"returnedItem": [dict(t.returned)]}
        return {"transaction": details}

    # --- the hosted payment form ----------------------------------------------------------------
    def pay_on_hosted_form(self, token: HostedToken, *, card_number: str | None,
                           expiry: str | None, card_code: str | None, zip_code: str,
                           first_name: str, last_name: str, bank: Bank | None,
                           save: bool) -> Transaction:
        """Charge what a hosted payment token describes with what the client typed; save the
        method on the customer profile when the form asked to and the payment went through."""
        body = dict(token.transaction)
        body["billTo"] = {"firstName": first_name, "lastName": last_name, "zip": zip_code}
        body.pop("profile", None)
        saved: PaymentProfile | None = None
        hosted: Obj | None = None
        if card_number is not None:
            hosted = {"number": card_number, "expiry": expiry, "code": card_code,
                      "zip": zip_code}
        else:
            assert bank is not None
        already_saved = False
        if save and token.customer_profile_id is not None:
            try:
                saved = self.add_payment_profile(
                    token.customer_profile_id, card_number=card_number, expiry=expiry,
                    bank=bank, first_name=first_name, last_name=last_name, zip_code=zip_code)
            except ApiFailure as failure:
                if failure.code != "E00039":
                    raise
                # The card is already saved on the profile: Authorize.Net charges it and
                # answers E00039 for the profile part only; the payment goes through on the
                # payment profile that exists.
                saved = next(p for p in self._customer(token.customer_profile_id)
                             .payment_profiles.values()
                             if p.card is not None and p._number == card_number)
                already_saved = True
            hosted = None
        elif bank is not None:
            body["payment"] = {"bankAccount": {"accountNumber": "hosted" + bank.last4,
                                               "routingNumber": bank.routing_last4,
                                               "nameOnAccount": bank.name_on_account}}
        t = self._auth_capture(body, "", hosted_card=hosted, saved=saved)
        if saved is not None and t.response_code != 1 and not already_saved:
            # A declined card is not kept.
            self.customers[saved.customer_profile_id].payment_profiles.pop(saved.profile_id)
            t.payment_profile_id = None
        if t.trans_id and token.customer_profile_id is not None:
            t.customer_profile_id = token.customer_profile_id
        if t.response_code == 1:
            token.used = True
        return t


#: Waiting for the batch, and what it turns into once settled.
_SETTLING = ("capturedPendingSettlement", "refundPendingSettlement")
#: Held for review: not settled until someone approves them in the Merchant Interface.
_HELD = ("FDSPendingReview", "FDSAuthorizedPendingReview", "authorizedPendingCapture")

_RETURN_TEXTS = {
    "R01": "Insufficient Funds",
    "R02": "Account Closed",
    "R03": "No Account/Unable to Locate Account",
    "R10": "Customer Advises Not Authorized",
}


class _Refused(Exception):
    def __init__(self, reason: int) -> None:
        super().__init__(reason)
        self.reason = reason
