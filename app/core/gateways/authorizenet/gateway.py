"""Authorize.Net, through its JSON API (see :mod:`.client` for why not the official SDK).

* **Customers and saved methods** are CIM customer profiles and payment profiles. A
  customer profile carries ``merchantCustomerId`` ``PD-ORG-<organization id>`` so it is found
  again after a lost answer. A saved method's token is ``<customerProfileId>/<paymentProfileId>``.
  PayDesk keeps only the ids, brand or bank name, last 4 and expiry.
* **New methods** are entered on Authorize.Net's hosted forms — Accept Customer
  (``getHostedProfilePageRequest``) to save one, Accept Hosted (``getHostedPaymentPageRequest``)
  to pay and save — so no card or account number passes through PayDesk. The browser opens
  them by *posting* a page token; :mod:`.launch` writes the small page that does that.
* **Charges** are ``authCaptureTransaction`` on a payment profile, with the PayDesk reference
  as ``order.invoiceNumber`` and ``refId``, and the reference and idempotency key as user
  fields. Bank accounts are debited the same way (eCheck); they stay PROCESSING until the
  batch settles.
* **Refunds**: a void while the charge is unsettled (the whole amount only), a refund after
  settlement (with the payment profile, or the card's last 4 digits), partial refunds, and
  the 120-day limit as a plain message.

Never twice, without idempotency keys
-------------------------------------
Authorize.Net has no idempotency keys. :meth:`AuthorizeNetGateway.charge` keeps the promise
with three layers:

1. **Look before sending.** Before it sends a charge it lists the customer's transactions
   and looks for one with this reference as invoice number (and, when the transaction
   carries one, the same idempotency key). If there is one, that transaction's outcome is
   returned and nothing is sent. So calling ``charge`` again with the same reference and key
   — after a timeout, a dropped connection or a crash — replays, as Stripe's keys do.
2. **The duplicate window.** Every charge is sent with ``duplicateWindow`` =
   :data:`DUPLICATE_WINDOW_SECONDS` (8 hours, Authorize.Net's maximum). A blind repeat of
   the same amount, payment profile and invoice number inside that window is refused by
   Authorize.Net itself (response code 3, reason 11) and creates no transaction; ``charge``
   then looks the original up and returns it.
3. **Doubt is remembered.** When an answer is lost (``NetworkUnknownOutcome``, or
   ``GatewayUnavailable`` with ``outcome_unknown``), the adapter remembers the key; a repeat
   within :attr:`AuthorizeNetGateway.lookup_grace` is not sent at all (it raises
   ``GatewayUnavailable(outcome_unknown=True)``), because the first request may still be
   running and not yet visible in the transaction lists.
4. **On the wire is known.** While this adapter is sending a charge, a second ``charge`` with
   the same key (another thread) is not sent (``RequestInProgress``, as Stripe answers 409),
   and :meth:`~AuthorizeNetGateway.find_charge` for that key raises it instead of answering
   "not found" — however long ago the payment was marked sent.

:meth:`~AuthorizeNetGateway.find_charge` searches the customer's transactions, the
unsettled list and the settled batches since ``created_after``. A ``None`` is proof that
nothing was charged only once :attr:`~AuthorizeNetGateway.lookup_grace` has passed since the
request was sent: see :meth:`AuthorizeNetGateway.charge_absent`.

All methods block on the network; call them from a worker thread. An instance may be shared
between threads.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.core.gateways.authorizenet.client import (
    PRODUCTION_API_BASE,
    SANDBOX_API_BASE,
    ApiError,
    AuthorizeNetClient,
    element,
    settings,
)
from app.core.gateways.authorizenet.codes import DUPLICATE, classify
from app.core.gateways.authorizenet.launch import write_launch_page
from app.core.gateways.declines import decline_reason
from app.core.gateways.errors import (
    AuthenticationFailed,
    GatewayError,
    GatewayUnavailable,
    InvalidRequest,
    RequestInProgress,
)
from app.core.gateways.types import (
    METADATA_IDEMPOTENCY_KEY,
    METADATA_REFERENCE,
    ChargeResult,
    ChargeStatus,
    Decline,
    GatewayAccountInfo,
    GatewayMode,
    HostedMode,
    HostedSession,
    HostedSessionState,
    HostedSessionStatus,
    MethodType,
    RefundResult,
    RefundStatus,
    SavedMethod,
)
from app.core.money import Money

__all__ = [
    "DUPLICATE_WINDOW_SECONDS",
    "LOOKUP_GRACE",
    "REFUND_LIMIT_DAYS",
    "AuthorizeNetGateway",
]

log = logging.getLogger(__name__)

#: Authorize.Net's maximum duplicate window: a repeat of the same charge within 8 hours is
#: refused by the gateway itself.
DUPLICATE_WINDOW_SECONDS = 28_800
#: How long after sending a charge a lookup that finds nothing is not yet proof: the request
#: may still be running, or not yet listed. Authorize.Net documents no delay for its
#: transaction lists; this margin covers a slow request (the read timeout is 30 s) and
#: reporting that trails the payment system by a little.
LOOKUP_GRACE = timedelta(minutes=2)
#: Authorize.Net refunds a transaction only within 120 days of its settlement.
REFUND_LIMIT_DAYS = 120
#: Hosted form tokens are valid this long.
HOSTED_TOKEN_LIFETIME = timedelta(minutes=15)

_HOSTED_BASES = {SANDBOX_API_BASE: "https://test.authorize.net",
                 PRODUCTION_API_BASE: "https://accept.authorize.net"}
_BRANDS = {"visa": "visa", "mastercard": "mastercard", "americanexpress": "amex",
           "amex": "amex", "discover": "discover", "jcb": "jcb", "dinersclub": "diners"}
_UNSETTLED = {"capturedPendingSettlement", "FDSPendingReview", "FDSAuthorizedPendingReview",
              "authorizedPendingCapture", "underReview"}
_ORG_PREFIX = "PD-ORG-"
_SESSION_RE = re.compile(
    r"^anet:(?P<mode>setup|pay):(?P<customer>\d+):(?P<known>\d+):(?P<expires>\d+)"
    r"(?::(?P<reference>[A-Za-z0-9._-]{1,20}))?$")


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    text = str(value).replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _last4(masked: Any) -> str | None:
    digits = re.sub(r"\D", "", str(masked or ""))
    return digits[-4:] if digits else None


def _user_fields(value: Any) -> dict[str, str]:
    if isinstance(value, Mapping):
        value = value.get("userField")
    if isinstance(value, Mapping):
        value = [value]
    fields: dict[str, str] = {}
    for item in value or []:
        if isinstance(item, Mapping) and item.get("name"):
            fields[str(item["name"])] = str(item.get("value") or "")
    return fields


def _split_token(token: str) -> tuple[str, str]:
    customer, _, payment_profile = token.partition("/")
    if not (customer.isdigit() and payment_profile.isdigit()):
        raise InvalidRequest("This saved payment method does not belong to Authorize.Net. "
                             "Ask the client to add it again on the secure form.")
    return customer, payment_profile


def _ref_id(reference: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,20}", reference):
        raise InvalidRequest("Authorize.Net takes payment references of at most 20 letters "
                             "and digits; this one does not fit. Please report this to "
                             "PayDesk support.")
    return reference


class AuthorizeNetGateway:
    """:class:`~app.core.gateways.protocol.PaymentGateway` for Authorize.Net.

    ``api_base`` is :data:`~.client.SANDBOX_API_BASE` (a sandbox account, test mode),
    :data:`~.client.PRODUCTION_API_BASE` (live), or a loopback address (the local stand-in,
    test mode). ``currency`` is the account's currency (Authorize.Net accounts take one).
    ``launch_dir`` is where the pages that open the hosted forms are written.
    """

    def __init__(
        self,
        api_login_id: str,
        transaction_key: str,
        *,
        api_base: str = SANDBOX_API_BASE,
        timeout: tuple[float, float] = (5.0, 30.0),
        currency: str = "USD",
        return_url: str | None = None,
        launch_dir: Path | None = None,
        lookup_grace: timedelta = LOOKUP_GRACE,
        account: str | None = None,
    ) -> None:
        if not api_login_id.strip() or not transaction_key.strip():
            raise AuthenticationFailed("Enter the Authorize.Net API login ID and transaction "
                                       "key.")
        self._client = AuthorizeNetClient(api_login_id, transaction_key, api_base=api_base,
                                          timeout=timeout)
        self.api_base = self._client.api_base
        self._mode = GatewayMode.LIVE if self.api_base == PRODUCTION_API_BASE else (
            GatewayMode.TEST)
        #: ``authorizenet-test`` / ``authorizenet-live`` — see :attr:`PaymentGateway.kind`.
        self.kind = f"authorizenet-{self._mode.value}"
        #: The account (:func:`app.core.gateways.providers.account_key`), recorded on payments.
        self.account_key = account or f"authorizenet:{self._mode.value}:{api_login_id.strip()}"
        self._hosted_base = _HOSTED_BASES.get(self.api_base, self.api_base)
        self._currency = currency.upper()
        self._return_url = return_url
        self._launch_dir = launch_dir
        #: A lookup that finds nothing proves no charge only this long after the send.
        self.lookup_grace = lookup_grace
        self._doubt: dict[str, datetime] = {}
        #: Charges this adapter is sending right now, by idempotency key: while one is on the
        #: wire, a lookup that finds nothing proves nothing, however long ago the payment
        #: was marked sent (a computer that slept between marking and sending).
        self._in_flight: dict[str, datetime] = {}
        self._doubt_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"AuthorizeNetGateway(mode={self._mode.value}, api={self.api_base})"

    @property
    def mode(self) -> GatewayMode:
        return self._mode

    # --- account ------------------------------------------------------------------------------
    def test_connection(self) -> GatewayAccountInfo:
        """Check the credentials, and that the account allows what PayDesk relies on: reading
        transactions (the Transaction Details API, for recovery after a lost answer)."""
        details = self._client.call("getMerchantDetailsRequest")
        self._client.call("getUnsettledTransactionListRequest", {
            "sorting": element("sorting", orderBy="submitTimeUTC", orderDescending="true"),
            "paging": element("paging", limit="1", offset="1")})
        currencies = tuple(str(c).upper() for c in details.get("currencies") or ()) or ("USD",)
        mode = GatewayMode.TEST if details.get("isTestMode") else self._mode
        return GatewayAccountInfo(
            account_id=str(details.get("gatewayId") or ""),
            display_name=str(details.get("merchantName") or "Authorize.Net account"),
            mode=mode,
            default_currency=currencies[0],
            currencies=currencies,
        )

    # --- customers and methods ------------------------------------------------------------------
    def ensure_customer(
        self, organization_id: int, name: str, email: str | None, *, idempotency_key: str
    ) -> str:
        merchant_id = f"{_ORG_PREFIX}{organization_id}"
        with contextlib.suppress(_NotFound):
            return self._find_customer(merchant_id)
        try:
            answer = self._client.call("createCustomerProfileRequest", {
                "profile": element("customerProfile", merchantCustomerId=merchant_id,
                                   description=name[:255] or None,
                                   email=(email or None) and str(email)[:255]),
                "validationMode": "none",
            }, mutating=True)
        except ApiError as exc:
            if exc.code == "E00039":
                found = re.search(r"ID (\d+)", exc.text)
                if found:
                    return found.group(1)
                return self._find_customer(merchant_id)
            raise self._api_failure(exc) from None
        return str(answer["customerProfileId"])

    def _find_customer(self, merchant_id: str) -> str:
        try:
            answer = self._client.call("getCustomerProfileRequest",
                                       {"merchantCustomerId": merchant_id})
        except ApiError as exc:
            if exc.code == "E00040":
                raise _NotFound from None
            raise self._api_failure(exc) from None
        return str(answer["profile"]["customerProfileId"])

    def _profile(self, customer_id: str) -> dict[str, Any]:
        try:
            answer = self._client.call("getCustomerProfileRequest", {
                "customerProfileId": customer_id, "unmaskExpirationDate": "true"})
        except ApiError as exc:
            raise self._api_failure(exc) from None
        return dict(answer.get("profile") or {})

    @staticmethod
    def _method(customer_id: str, profile: Mapping[str, Any]) -> SavedMethod | None:
        token = f"{customer_id}/{profile.get('customerPaymentProfileId')}"
        payment = profile.get("payment") or {}
        bill = profile.get("billTo") or {}
        holder = " ".join(p for p in (bill.get("firstName"), bill.get("lastName")) if p) or None
        default = bool(profile.get("defaultPaymentProfile"))
        card = payment.get("creditCard")
        if card:
            expiry = str(card.get("expirationDate") or "")
            match = re.fullmatch(r"(\d{4})-(\d{2})", expiry)
            brand = _BRANDS.get(str(card.get("cardType") or "").lower().replace(" ", ""),
                                str(card.get("cardType") or "").lower() or None)
            return SavedMethod(
                token=token, method_type=MethodType.CARD, brand=brand,
                last4=_last4(card.get("cardNumber")),
                exp_month=int(match.group(2)) if match else None,
                exp_year=int(match.group(1)) if match else None,
                holder_name=holder, is_default=default)
        bank = payment.get("bankAccount")
        if bank:
            return SavedMethod(
                token=token, method_type=MethodType.US_BANK_ACCOUNT,
                brand=str(bank.get("bankName") or "") or None,
                last4=_last4(bank.get("accountNumber")),
                holder_name=str(bank.get("nameOnAccount") or "") or holder,
                is_default=default)
        return None

    def list_methods(self, customer_id: str) -> list[SavedMethod]:
        profile = self._profile(customer_id)
        methods = [m for m in (self._method(customer_id, p)
                               for p in profile.get("paymentProfiles") or ()) if m is not None]
        # Default first, then newest (payment profile ids grow).
        return sorted(methods, key=lambda m: (not m.is_default,
                                              -int(m.token.partition("/")[2])))

    def set_default_method(self, customer_id: str, token: str, *, idempotency_key: str) -> None:
        customer, payment_profile = _split_token(token)
        if customer != customer_id:
            raise InvalidRequest("This saved payment method belongs to another client.")
        current = next((p for p in self._profile(customer_id).get("paymentProfiles") or ()
                        if str(p.get("customerPaymentProfileId")) == payment_profile), None)
        if current is None:
            raise InvalidRequest("This saved payment method no longer exists at "
                                 "Authorize.Net. Refresh the client's methods.")
        payment = current.get("payment") or {}
        if payment.get("creditCard"):
            masked: dict[str, Any] = {"creditCard": element(
                "creditCard", cardNumber=payment["creditCard"].get("cardNumber"),
                expirationDate="XXXX")}
        else:
            bank = payment.get("bankAccount") or {}
            masked = {"bankAccount": element(
                "bankAccount", accountType=bank.get("accountType"),
                routingNumber=bank.get("routingNumber"), accountNumber=bank.get("accountNumber"),
                nameOnAccount=bank.get("nameOnAccount"))}
        bill = current.get("billTo") or {}
        try:
            self._client.call("updateCustomerPaymentProfileRequest", {
                "customerProfileId": customer_id,
                "paymentProfile": element(
                    "customerPaymentProfile",
                    billTo={k: bill[k] for k in ("firstName", "lastName", "zip") if bill.get(k)}
                    or None,
                    payment=masked, defaultPaymentProfile="true",
                    customerPaymentProfileId=payment_profile),
                "validationMode": "none",
            }, mutating=True)
        except ApiError as exc:
            raise self._api_failure(exc) from None

    def remove_method(self, token: str, *, idempotency_key: str) -> None:
        customer, payment_profile = _split_token(token)
        try:
            self._client.call("deleteCustomerPaymentProfileRequest", {
                "customerProfileId": customer, "customerPaymentProfileId": payment_profile},
                mutating=True)
        except ApiError as exc:
            if exc.code != "E00040":  # already gone: removed, as asked
                raise self._api_failure(exc) from None

    # --- hosted forms ---------------------------------------------------------------------------
    def _known_max(self, customer_id: str) -> int:
        ids = [int(p.get("customerPaymentProfileId") or 0)
               for p in self._profile(customer_id).get("paymentProfiles") or ()]
        return max(ids, default=0)

    def start_hosted_session(
        self,
        customer_id: str,
        *,
        mode: HostedMode,
        idempotency_key: str,
        amount: Money | None = None,
        description: str | None = None,
        reference: str | None = None,
        metadata: Mapping[str, str] | None = None,
        method_types: Sequence[MethodType] = (MethodType.CARD, MethodType.US_BANK_ACCOUNT),
        success_url: str | None = None,
        cancel_url: str | None = None,
    ) -> HostedSession:
        if not method_types:
            raise InvalidRequest("Choose at least one kind of payment method for the form.")
        known = self._known_max(customer_id)
        return_url = success_url or self._return_url
        cards = MethodType.CARD in method_types
        banks = MethodType.US_BANK_ACCOUNT in method_types
        try:
            if mode is HostedMode.SETUP:
                options: dict[str, str | int] = {
                    "hostedProfilePaymentOptions": "showAll" if cards and banks else (
                        "showCreditCard" if cards else "showBankAccount"),
                    "hostedProfileValidationMode": "liveMode" if self._mode is (
                        GatewayMode.LIVE) else "testMode",
                    "hostedProfileCardCodeRequired": "true",
                    "hostedProfileBillingAddressRequired": "false",
                }
                if return_url:
                    options["hostedProfileReturnUrl"] = return_url
                    options["hostedProfileReturnUrlText"] = "Continue"
                answer = self._client.call("getHostedProfilePageRequest", {
                    "customerProfileId": customer_id,
                    "hostedProfileSettings": settings(options)}, mutating=True)
                tail = ""
                target = f"{self._hosted_base}/customer/addPayment"
            else:
                if amount is None or not amount.is_positive():
                    raise InvalidRequest("Enter an amount to pay on the secure form.")
                if not reference:
                    raise InvalidRequest("A payment on the secure form needs its reference.")
                self._check_currency(amount)
                return_options: dict[str, Any] = {"showReceipt": True}
                if return_url:
                    return_options.update(url=return_url, urlText="Continue")
                if cancel_url:
                    return_options.update(cancelUrl=cancel_url, cancelUrlText="Cancel")
                answer = self._client.call("getHostedPaymentPageRequest", {
                    "transactionRequest": self._transaction(
                        amount=amount, customer_id=customer_id, payment_profile=None,
                        reference=reference, description=description or "Payment",
                        idempotency_key=idempotency_key, metadata=metadata),
                    "hostedPaymentSettings": settings({
                        "hostedPaymentReturnOptions": _json(return_options),
                        "hostedPaymentButtonOptions": _json({"text": "Pay"}),
                        "hostedPaymentPaymentOptions": _json({
                            "cardCodeRequired": True, "showCreditCard": cards,
                            "showBankAccount": banks and amount.currency == "USD"}),
                        "hostedPaymentCustomerOptions": _json({
                            "showEmail": False, "requiredEmail": False,
                            "addPaymentProfile": True}),
                        "hostedPaymentBillingAddressOptions": _json({
                            "show": True, "required": False}),
                    }),
                }, mutating=True)
                tail = f":{_ref_id(reference)}"
                target = f"{self._hosted_base}/payment/payment"
        except ApiError as exc:
            raise self._api_failure(exc) from None
        # Counted from the answer (never earlier than Authorize.Net's own clock starts), in
        # whole seconds so that the session id carries it exactly.
        expires = (datetime.now(UTC) + HOSTED_TOKEN_LIFETIME).replace(microsecond=0) + (
            timedelta(seconds=1))
        kind = "setup" if mode is HostedMode.SETUP else "pay"
        session_id = f"anet:{kind}:{customer_id}:{known}:{int(expires.timestamp())}{tail}"
        url = write_launch_page(target, str(answer["token"]), directory=self._launch_dir)
        return HostedSession(session_id=session_id, url=url, mode=mode, expires_at=expires)

    def poll_hosted_session(self, session_id: str) -> HostedSessionStatus:
        match = _SESSION_RE.match(session_id)
        if match is None:
            raise InvalidRequest("This secure form does not belong to Authorize.Net.")
        customer, known = match["customer"], int(match["known"])
        expires = datetime.fromtimestamp(int(match["expires"]), UTC)
        mode = HostedMode.SETUP if match["mode"] == "setup" else HostedMode.PAYMENT
        new = [m for m in self.list_methods(customer) if int(m.token.partition("/")[2]) > known]
        new.sort(key=lambda m: -int(m.token.partition("/")[2]))
        method = new[0] if new else None
        charge: ChargeResult | None = None
        if mode is HostedMode.PAYMENT:
            found = self.find_charge(reference=match["reference"], customer_id=customer,
                                     created_after=expires - HOSTED_TOKEN_LIFETIME)
            if found is not None and found.status in (ChargeStatus.SUCCEEDED,
                                                      ChargeStatus.PROCESSING):
                charge = found
                # The saved profile the charge used; else the method just saved; else the
                # charge's own (not saved: no token).
                if found.method is not None and (found.method.token or method is None):
                    method = found.method
            done = charge is not None
        else:
            done = method is not None
        if done:
            state = HostedSessionState.COMPLETE
        elif datetime.now(UTC) >= expires:
            state = HostedSessionState.EXPIRED
        else:
            state = HostedSessionState.OPEN
        return HostedSessionStatus(session_id=session_id, state=state, mode=mode,
                                   method=method, charge=charge, expires_at=expires)

    def expire_hosted_session(self, session_id: str) -> HostedSessionStatus:
        """Authorize.Net cannot withdraw a hosted form token: the form stays usable until the
        token expires (15 minutes after it was made). So this reports where the session
        stands — ``OPEN`` until then — and a caller keeps watching an ``OPEN`` session until
        ``expires_at`` instead of taking it for closed."""
        return self.poll_hosted_session(session_id)

    # --- charges ----------------------------------------------------------------------------------
    def _check_currency(self, amount: Money) -> None:
        if amount.currency != self._currency:
            raise InvalidRequest(
                f"This Authorize.Net account takes payments in {self._currency}; "
                f"{amount.currency} cannot be charged.")

    def _transaction(self, *, amount: Money, customer_id: str, payment_profile: str | None,
                     reference: str, description: str, idempotency_key: str,
                     metadata: Mapping[str, str] | None) -> dict[str, Any]:
        fields = {METADATA_REFERENCE: reference, METADATA_IDEMPOTENCY_KEY: idempotency_key}
        for key, value in (metadata or {}).items():
            if len(fields) < 20 and key not in fields:
                fields[key] = str(value)[:255]
        profile: dict[str, Any] = {"customerProfileId": customer_id}
        if payment_profile is not None:
            profile = element("profile", customerProfileId=customer_id,
                              paymentProfile=element("paymentProfileRef",
                                                     paymentProfileId=payment_profile))
        else:
            profile = element("profile", customerProfileId=customer_id)
        return element(
            "transactionRequest",
            transactionType="authCaptureTransaction",
            amount=str(amount.to_decimal()),
            profile=profile,
            order=element("order", invoiceNumber=_ref_id(reference),
                          description=description[:255]),
            transactionSettings=settings({"duplicateWindow": DUPLICATE_WINDOW_SECONDS}),
            userFields={"userField": [element("userField", name=k, value=v)
                                      for k, v in fields.items()]},
        )

    def charge(
        self,
        customer_id: str,
        method_token: str,
        amount: Money,
        *,
        idempotency_key: str,
        reference: str,
        description: str,
        metadata: Mapping[str, str] | None = None,
        statement_descriptor: str | None = None,
    ) -> ChargeResult:
        """Charge a saved payment profile once — see the module's "Never twice" section.

        ``statement_descriptor`` is not sent: Authorize.Net takes the descriptor from the
        merchant account's settings.
        """
        if not amount.is_positive():
            raise InvalidRequest("The amount to charge must be more than zero.")
        self._check_currency(amount)
        customer, payment_profile = _split_token(method_token)
        if customer != customer_id:
            raise InvalidRequest("This saved payment method belongs to another client.")
        ref_id = _ref_id(reference)
        # 1. Look before sending: an earlier attempt of this payment may have gone through.
        # The charge goes on the customer's profile, so the customer's list is enough here.
        earlier = self._find(invoice=ref_id, kind="authCaptureTransaction",
                             idempotency_key=idempotency_key, customer_id=customer_id,
                             created_after=None, customer_only=True)
        existing = self._best(self._charge_result(d) for d in earlier) if earlier else None
        if existing is not None:
            log.info("charge %s already at Authorize.Net as %s; not sent again", reference,
                     existing.charge_id)
            return existing
        # 3. A lost answer moments ago: the first request may still land; do not send.
        with self._doubt_lock:
            doubted = self._doubt.get(idempotency_key)
        if doubted is not None and datetime.now(UTC) - doubted < self.lookup_grace:
            raise GatewayUnavailable(
                "Authorize.Net has not yet shown whether the first attempt of this payment "
                "went through. Nothing new was sent; PayDesk will check again in a moment.",
                outcome_unknown=True)
        request = self._transaction(
            amount=amount, customer_id=customer_id, payment_profile=payment_profile,
            reference=reference, description=description, idempotency_key=idempotency_key,
            metadata=metadata)
        sent_at = datetime.now(UTC)
        with self._doubt_lock:
            if idempotency_key in self._in_flight:
                # The same payment from another thread (a double click, a second window):
                # like Stripe's 409, never a second request relying on the duplicate window.
                raise RequestInProgress(
                    "This payment is being sent to Authorize.Net right now. Nothing new was "
                    "sent; PayDesk will check again in a moment.", outcome_unknown=True)
            self._in_flight[idempotency_key] = sent_at
        try:
            answer = self._client.call("createTransactionRequest",
                                       {"transactionRequest": request}, ref_id=ref_id,
                                       mutating=True)
        except GatewayError as exc:
            if exc.outcome_unknown:
                with self._doubt_lock:
                    self._doubt[idempotency_key] = sent_at
            raise
        except ApiError as exc:
            raise self._api_failure(exc) from None
        finally:
            with self._doubt_lock:
                self._in_flight.pop(idempotency_key, None)
        response = answer.get("transactionResponse") or {}
        response_code = int(response.get("responseCode") or 3)
        reason = self._reason(response)
        if reason == DUPLICATE:
            # 2. Authorize.Net already has this charge (same amount, profile and invoice number
            # within the window): report the original, never a second one.
            found = self.find_charge(reference=reference, customer_id=customer_id,
                                     created_after=sent_at - timedelta(
                                         seconds=DUPLICATE_WINDOW_SECONDS))
            if found is not None:
                return found
            with self._doubt_lock:
                self._doubt[idempotency_key] = sent_at
            raise GatewayUnavailable(
                "Authorize.Net says this payment was already sent a moment ago, but does not "
                "list it yet. Nothing new was charged; PayDesk will check again shortly.",
                outcome_unknown=True, code="duplicate_transaction")
        with self._doubt_lock:
            self._doubt.pop(idempotency_key, None)
        trans_id = str(response.get("transId") or "")
        if response_code in (1, 4) and trans_id not in ("", "0"):
            return self.refresh_charge(trans_id)
        kind = classify(response_code, reason)
        if kind.kind in ("decline", "retry"):
            bank = str(response.get("accountType") or "") == "eCheck"
            return ChargeResult(
                charge_id=trans_id if trans_id not in ("", "0") else f"declined:{reference}",
                status=ChargeStatus.DECLINED, amount=amount,
                amount_refunded=Money.zero(amount.currency), reference=reference,
                idempotency_key=idempotency_key,
                transaction_id=trans_id if trans_id not in ("", "0") else None,
                customer_id=customer_id,
                decline=Decline(kind.code, kind.decline_code,
                                decline_reason(kind.code, kind.decline_code, bank=bank),
                                self._reason_text(response)),
                created_at=sent_at, mode=self._mode,
                metadata={METADATA_REFERENCE: reference,
                          METADATA_IDEMPOTENCY_KEY: idempotency_key})
        if kind.kind == "auth":
            raise AuthenticationFailed(
                "Authorize.Net refused the API login ID. Check it in the Merchant Interface "
                "(Account > Settings > API Credentials & Keys).", code=str(reason))
        raise InvalidRequest(
            f"Authorize.Net refused the payment: {self._reason_text(response)} Nothing was "
            "charged.", code=kind.code)

    @staticmethod
    def _reason(response: Mapping[str, Any]) -> int:
        for key, code_key in (("errors", "errorCode"), ("messages", "code")):
            items = response.get(key) or []
            if isinstance(items, Mapping):
                items = [items]
            for item in items:
                with contextlib.suppress(TypeError, ValueError):
                    return int(item.get(code_key))
        return 0

    @staticmethod
    def _reason_text(response: Mapping[str, Any]) -> str:
        for key, text_key in (("errors", "errorText"), ("messages", "description")):
            items = response.get(key) or []
            if isinstance(items, Mapping):
                items = [items]
            for item in items:
                if item.get(text_key):
                    return str(item[text_key])
        return ""

    def charge_absent(self, sent_at: datetime, found: ChargeResult | None) -> bool:
        """True when a lookup result proves the charge sent at ``sent_at`` never happened:
        nothing was found and :attr:`lookup_grace` has passed since the send."""
        return found is None and datetime.now(UTC) - sent_at >= self.lookup_grace

    # --- lookups ------------------------------------------------------------------------------
    def _details(self, trans_id: str) -> dict[str, Any]:
        try:
            answer = self._client.call("getTransactionDetailsRequest", {"transId": trans_id})
        except ApiError as exc:
            if exc.code == "E00040":
                raise InvalidRequest("Authorize.Net has no transaction with this id.",
                                     code="E00040") from None
            raise self._api_failure(exc) from None
        return dict(answer.get("transaction") or {})

    def _pages(self, request: str, fields: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every transaction summary of a list request, newest first, 1000 a page."""
        offset = 1
        while True:
            try:
                answer = self._client.call(request, {
                    **fields,
                    "sorting": element("sorting", orderBy="submitTimeUTC",
                                       orderDescending="true"),
                    "paging": element("paging", limit="1000", offset=str(offset))})
            except ApiError as exc:
                if exc.code == "E00040":  # an empty customer or batch
                    return
                raise self._api_failure(exc) from None
            items = answer.get("transactions") or []
            yield from items
            total = int(answer.get("totalNumInResultSet") or 0)
            if len(items) < 1000 or offset * 1000 >= total:
                return
            offset += 1

    def _summaries(self, *, customer_id: str | None, created_after: datetime | None,
                   customer_only: bool = False) -> Iterator[dict[str, Any]]:
        """Transaction summaries where a charge made after ``created_after`` can be: the
        customer's transactions, then (unless ``customer_only``) the unsettled list and the
        settled batches."""
        since = (created_after - timedelta(days=1)) if created_after else None
        if customer_id:
            for item in self._pages("getTransactionListForCustomerRequest",
                                    {"customerProfileId": customer_id}):
                yield item
                when = _parse_time(item.get("submitTimeUTC"))
                if since is not None and when is not None and when < since:
                    break
        if customer_only:
            return
        yield from self._pages("getUnsettledTransactionListRequest", {})
        now = datetime.now(UTC)
        start = since or (now - timedelta(days=31))
        while start < now:
            # The last window reaches past now: a batch settled this second is included.
            end = min(start + timedelta(days=30), now + timedelta(hours=1))
            try:
                batches = self._client.call("getSettledBatchListRequest", {
                    "firstSettlementDate": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "lastSettlementDate": end.strftime("%Y-%m-%dT%H:%M:%SZ")})
            except ApiError as exc:
                raise self._api_failure(exc) from None
            for batch in sorted(batches.get("batchList") or [],
                                key=lambda b: str(b.get("settlementTimeUTC")), reverse=True):
                yield from self._pages("getTransactionListRequest",
                                       {"batchId": str(batch.get("batchId"))})
            start = end

    def _find(self, *, invoice: str, kind: str, idempotency_key: str | None,
              customer_id: str | None, created_after: datetime | None,
              customer_only: bool = False) -> list[dict[str, Any]]:
        """Details of every transaction of ``kind`` with ``invoice`` as invoice number (and
        the idempotency key, when the transaction carries one)."""
        seen: set[str] = set()
        found: list[dict[str, Any]] = []
        for summary in self._summaries(customer_id=customer_id, created_after=created_after,
                                       customer_only=customer_only):
            trans_id = str(summary.get("transId") or "")
            if summary.get("invoiceNumber") != invoice or trans_id in seen:
                continue
            seen.add(trans_id)
            details = self._details(trans_id)
            if details.get("transactionType") != kind:
                continue
            key = _user_fields(details.get("userFields")).get(METADATA_IDEMPOTENCY_KEY)
            if idempotency_key and key and key != idempotency_key:
                continue
            found.append(details)
            if customer_id and found:
                break  # the customer's list is complete for this reference
        return found

    def find_charge(
        self,
        *,
        reference: str | None = None,
        idempotency_key: str | None = None,
        customer_id: str | None = None,
        created_after: datetime | None = None,
    ) -> ChargeResult | None:
        """The charge with this reference (its invoice number), or ``None``.

        Authorize.Net lists transactions by customer, unsettled, and by settled batch, but
        cannot search by invoice number: with ``customer_id`` the customer's transactions are
        read (newest first, back to a day before ``created_after``), then the unsettled list,
        then the batches settled since ``created_after`` (31 days back without it). Matching
        transactions are read in detail. ``None`` is proof that nothing was charged only once
        :attr:`lookup_grace` has passed since the request was sent (:meth:`charge_absent`).
        While this adapter is still sending the charge with ``idempotency_key`` (another
        thread), nothing found raises ``GatewayUnavailable(outcome_unknown=True)`` instead.
        """
        if not reference:
            raise ValueError("Authorize.Net lookups need the payment reference "
                             "(its invoice number)")
        found = self._find(invoice=reference, kind="authCaptureTransaction",
                           idempotency_key=idempotency_key, customer_id=customer_id,
                           created_after=created_after)
        if not found:
            with self._doubt_lock:
                sending = bool(idempotency_key and idempotency_key in self._in_flight)
            if sending:
                raise RequestInProgress(
                    "This payment is still on its way to Authorize.Net, so it is not listed "
                    "yet. Nothing new was sent; PayDesk will check again in a moment.",
                    outcome_unknown=True)
            return None
        return self._best(self._charge_result(d) for d in found)

    @staticmethod
    def _best(results: Iterable[ChargeResult]) -> ChargeResult:
        rank = {ChargeStatus.SUCCEEDED: 0, ChargeStatus.PROCESSING: 1,
                ChargeStatus.REQUIRES_ACTION: 2, ChargeStatus.CANCELED: 3,
                ChargeStatus.DECLINED: 4}
        return sorted(results, key=lambda r: (
            rank[r.status], -(r.created_at.timestamp() if r.created_at else 0)))[0]

    def _charge_result(self, details: Mapping[str, Any]) -> ChargeResult:
        status_text = str(details.get("transactionStatus") or "")
        payment = details.get("payment") or {}
        bank = bool(payment.get("bankAccount"))
        if status_text == "settledSuccessfully":
            status = ChargeStatus.SUCCEEDED
        elif status_text == "capturedPendingSettlement":
            status = ChargeStatus.PROCESSING if bank else ChargeStatus.SUCCEEDED
        elif status_text in _UNSETTLED:
            status = ChargeStatus.PROCESSING
        elif status_text == "voided":
            status = ChargeStatus.CANCELED
        else:
            status = ChargeStatus.DECLINED
        amount = Money.from_decimal(str(details.get("authAmount") or "0"), self._currency,
                                    exact=False)
        fields = _user_fields(details.get("userFields"))
        profile = details.get("profile") or {}
        customer = str(profile.get("customerProfileId") or "") or None
        method: SavedMethod | None = None
        pp = str(profile.get("customerPaymentProfileId") or "")
        # Paid on the hosted form without saving the method: described, but with no token
        # (there is nothing to charge again).
        token = f"{customer}/{pp}" if customer and pp else ""
        if payment.get("creditCard") or bank:
            if payment.get("creditCard"):
                card = payment["creditCard"]
                method = SavedMethod(
                    token=token, method_type=MethodType.CARD,
                    brand=_BRANDS.get(str(card.get("cardType") or "").lower()),
                    last4=_last4(card.get("cardNumber")))
            elif bank:
                account = payment["bankAccount"]
                method = SavedMethod(
                    token=token, method_type=MethodType.US_BANK_ACCOUNT,
                    brand=str(account.get("bankName") or "") or None,
                    last4=_last4(account.get("accountNumber")),
                    holder_name=str(account.get("nameOnAccount") or "") or None)
        decline: Decline | None = None
        returned = (details.get("returnedItems") or {}).get("returnedItem") or []
        if status_text == "returnedItem" and returned:
            # The bank sent the eCheck debit back: NACHA return code (R01 insufficient funds).
            item = returned[0] if isinstance(returned, list) else returned
            code = str(item.get("code") or "returned")
            decline = Decline(code, None, decline_reason(code, None, bank=True),
                              str(item.get("description") or ""))
        elif status is ChargeStatus.DECLINED:
            reason = int(details.get("responseReasonCode") or 2)
            kind = classify(int(details.get("responseCode") or 2), reason)
            decline = Decline(kind.code, kind.decline_code,
                              decline_reason(kind.code, kind.decline_code, bank=bank),
                              str(details.get("responseReasonDescription") or ""))
        reference = str((details.get("order") or {}).get("invoiceNumber") or "") or None
        return ChargeResult(
            charge_id=str(details.get("transId")),
            status=status,
            amount=amount,
            amount_refunded=Money.zero(self._currency),
            reference=fields.get(METADATA_REFERENCE) or reference,
            idempotency_key=fields.get(METADATA_IDEMPOTENCY_KEY),
            transaction_id=str(details.get("transId")),
            customer_id=customer,
            method=method,
            decline=decline,
            created_at=_parse_time(details.get("submitTimeUTC")),
            mode=self._mode,
            metadata=fields,
        )

    def refresh_charge(self, charge_id: str) -> ChargeResult:
        return self._charge_result(self._details(charge_id))

    # --- refunds and voids ---------------------------------------------------------------
    def refund(
        self,
        charge_id: str,
        amount: Money | None,
        *,
        idempotency_key: str,
        reason: str | None = None,
        reference: str | None = None,
    ) -> RefundResult:
        """Give money back: a void while the charge is unsettled (only the whole amount), a
        refund after settlement (within 120 days). Repeating with the same reference returns
        the refund already made instead of making another."""
        if amount is not None and not amount.is_positive():
            raise InvalidRequest("The amount to refund must be more than zero.")
        details = self._details(charge_id)
        status = str(details.get("transactionStatus") or "")
        total = Money.from_decimal(str(details.get("authAmount") or "0"), self._currency,
                                   exact=False)
        if amount is not None:
            self._check_currency(amount)
        if status == "voided":
            return RefundResult(refund_id=f"void:{charge_id}", charge_id=charge_id,
                                status=RefundStatus.SUCCEEDED, amount=total, reason=reason)
        if status in _UNSETTLED:
            if amount is not None and amount != total:
                raise InvalidRequest(
                    "This payment has not settled yet (Authorize.Net settles once a day), so "
                    f"only the whole {total.format()} can be given back now (Authorize.Net "
                    "cancels the charge). Refund the whole amount, or refund part of it after "
                    "it settles, usually tomorrow.",
                    code="refund_not_allowed")
            self.cancel(charge_id, idempotency_key=idempotency_key)
            return RefundResult(refund_id=f"void:{charge_id}", charge_id=charge_id,
                                status=RefundStatus.SUCCEEDED, amount=total, reason=reason)
        if status != "settledSuccessfully":
            raise InvalidRequest("This payment was not charged, so there is nothing to refund.",
                                 code="refund_not_allowed")
        settled = _parse_time((details.get("batch") or {}).get("settlementTimeUTC"))
        if settled is not None and datetime.now(UTC) - settled > timedelta(
                days=REFUND_LIMIT_DAYS):
            raise InvalidRequest(self._too_old(settled), code="refund_too_old")
        refund_amount = amount or total
        profile = details.get("profile") or {}
        payment_source = details.get("payment") or {}
        if reference:
            earlier = self._find(invoice=_ref_id(reference), kind="refundTransaction",
                                 idempotency_key=idempotency_key,
                                 customer_id=str(profile.get("customerProfileId") or "")
                                 or None, created_after=datetime.now(UTC) - timedelta(days=1))
            if earlier:
                return self._refund_result(earlier[0], charge_id, reason)
        fields: dict[str, Any] = {
            "transactionType": "refundTransaction",
            "amount": str(refund_amount.to_decimal()),
        }
        if profile.get("customerPaymentProfileId"):
            fields["profile"] = element(
                "profile", customerProfileId=str(profile["customerProfileId"]),
                paymentProfile=element("paymentProfileRef",
                                       paymentProfileId=str(profile["customerPaymentProfileId"])))
        elif payment_source.get("creditCard"):
            fields["payment"] = {"creditCard": element(
                "creditCard", cardNumber=_last4(payment_source["creditCard"].get("cardNumber")),
                expirationDate="XXXX")}
        else:
            account = payment_source.get("bankAccount") or {}
            fields["payment"] = {"bankAccount": element(
                "bankAccount", routingNumber=account.get("routingNumber"),
                accountNumber=_last4(account.get("accountNumber")),
                nameOnAccount=account.get("nameOnAccount"))}
        user = {METADATA_IDEMPOTENCY_KEY: idempotency_key}
        if reference:
            user[METADATA_REFERENCE] = reference
        request = element(
            "transactionRequest", **fields, refTransId=charge_id,
            order=element("order", invoiceNumber=_ref_id(reference) if reference else None,
                          description=(reason or "Refund")[:255]),
            transactionSettings=settings({"duplicateWindow": DUPLICATE_WINDOW_SECONDS}),
            userFields={"userField": [element("userField", name=k, value=v)
                                      for k, v in user.items()]})
        try:
            answer = self._client.call("createTransactionRequest",
                                       {"transactionRequest": request},
                                       ref_id=_ref_id(reference) if reference else None,
                                       mutating=True)
        except ApiError as exc:
            raise self._api_failure(exc) from None
        response = answer.get("transactionResponse") or {}
        code = self._reason(response)
        trans_id = str(response.get("transId") or "")
        if str(response.get("responseCode")) == "1" and trans_id not in ("", "0"):
            return self.refresh_refund(trans_id)
        if code == DUPLICATE and reference:
            earlier = self._find(invoice=reference, kind="refundTransaction",
                                 idempotency_key=None, customer_id=None,
                                 created_after=datetime.now(UTC) - timedelta(days=1))
            if earlier:
                return self._refund_result(earlier[0], charge_id, reason)
            raise GatewayUnavailable(
                "Authorize.Net says this refund was already sent a moment ago, but does not "
                "list it yet. Nothing new was refunded; PayDesk will check again shortly.",
                outcome_unknown=True, code="duplicate_transaction")
        if code == 54:
            raise InvalidRequest(
                self._too_old(settled) if settled is not None and datetime.now(UTC) - settled
                > timedelta(days=REFUND_LIMIT_DAYS) else
                "Authorize.Net will not refund this payment: it must have settled, be at "
                f"most {REFUND_LIMIT_DAYS} days old, and be refunded to the same card or "
                "account. Refund the client another way (a check or a credit).",
                code="refund_not_allowed")
        if code == 55:
            raise InvalidRequest(
                "The refund is more than is left of this payment after earlier refunds. "
                "Refund a smaller amount.", code="refund_exceeds_charge")
        raise InvalidRequest(
            f"Authorize.Net refused the refund: {self._reason_text(response)} Nothing was "
            "refunded.", code=str(code))

    @staticmethod
    def _too_old(settled: datetime) -> str:
        return (f"This payment settled on {settled:%B %d, %Y}, more than {REFUND_LIMIT_DAYS} "
                "days ago, and Authorize.Net refunds only within 120 days of settlement. "
                "Refund the client another way (a check or a credit on the account).")

    def _refund_result(self, details: Mapping[str, Any], charge_id: str,
                       reason: str | None) -> RefundResult:
        status_text = str(details.get("transactionStatus") or "")
        status = {"refundPendingSettlement": RefundStatus.SUCCEEDED,
                  "refundSettledSuccessfully": RefundStatus.SUCCEEDED,
                  "voided": RefundStatus.CANCELED}.get(status_text, RefundStatus.FAILED)
        return RefundResult(
            refund_id=str(details.get("transId")),
            charge_id=str(details.get("refTransId") or charge_id),
            status=status,
            amount=Money.from_decimal(str(details.get("authAmount") or "0"), self._currency,
                                      exact=False),
            reason=reason or (str((details.get("order") or {}).get("description") or "")
                              or None),
            failure_reason=(str(details.get("responseReasonDescription") or "")
                            if status is RefundStatus.FAILED else None),
            created_at=_parse_time(details.get("submitTimeUTC")),
        )

    def refresh_refund(self, refund_id: str) -> RefundResult:
        if refund_id.startswith("void:"):
            charge_id = refund_id.removeprefix("void:")
            details = self._details(charge_id)
            voided = details.get("transactionStatus") == "voided"
            return RefundResult(
                refund_id=refund_id, charge_id=charge_id,
                status=RefundStatus.SUCCEEDED if voided else RefundStatus.FAILED,
                amount=Money.from_decimal(str(details.get("authAmount") or "0"),
                                          self._currency, exact=False),
                failure_reason=None if voided else "The payment was not cancelled.")
        return self._refund_result(self._details(refund_id), "", None)

    def cancel(self, charge_id: str, *, idempotency_key: str) -> ChargeResult:
        """Void an unsettled charge. Voiding twice is harmless (the second finds it voided)."""
        details = self._details(charge_id)
        status = str(details.get("transactionStatus") or "")
        if status == "voided":
            return self._charge_result(details)
        if status not in _UNSETTLED:
            raise InvalidRequest(
                "This payment has already settled, so it can no longer be cancelled. "
                "Refund it instead." if status == "settledSuccessfully" else
                "This payment was not charged, so there is nothing to cancel.",
                code="void_not_allowed")
        request = element("transactionRequest", transactionType="voidTransaction",
                          refTransId=charge_id)
        try:
            answer = self._client.call("createTransactionRequest",
                                       {"transactionRequest": request}, mutating=True)
        except ApiError as exc:
            raise self._api_failure(exc) from None
        response = answer.get("transactionResponse") or {}
        if str(response.get("responseCode")) != "1":
            after = self._details(charge_id)
            if after.get("transactionStatus") != "voided":
                raise InvalidRequest(
                    f"Authorize.Net could not cancel the payment: {self._reason_text(response)}"
                    " If it has settled, refund it instead.", code="void_not_allowed")
            return self._charge_result(after)
        return self.refresh_charge(charge_id)

    # --- errors -----------------------------------------------------------------------------------
    @staticmethod
    def _api_failure(exc: ApiError) -> GatewayError:
        if exc.code == "E00040":
            return InvalidRequest("Authorize.Net has no record of this client or payment "
                                  "method any more. Refresh the client's methods.",
                                  code=exc.code)
        return InvalidRequest(f"Authorize.Net refused the request: {exc.text}", code=exc.code)


class _NotFound(Exception):
    pass


def _json(value: Mapping[str, Any]) -> str:
    import json

    return json.dumps(value, separators=(",", ":"))


if TYPE_CHECKING:
    from app.core.gateways.protocol import PaymentGateway

    def _satisfies_protocol(gateway: AuthorizeNetGateway) -> PaymentGateway:
        return gateway  # mypy checks that the adapter fits the protocol
