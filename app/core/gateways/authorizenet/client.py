"""A thin client for Authorize.Net's JSON API over ``requests``.

Why not the official SDK (``authorizenet`` on PyPI): it speaks Authorize.Net's XML API through
PyXB-generated bindings. PyXB is unmaintained and has a poor record on current Python
versions, and the bindings pull a large generated schema module into the program for the
dozen calls PayDesk makes. The JSON API is the same service (one endpoint, JSON mapped to the
XML schema inside), so a small client over ``requests`` is easier to read, test and keep.

What this client takes care of:

* **Element order.** The JSON is turned into XML and checked against the schema, where the
  children of an element are a sequence: the same fields in another order are refused
  (``E00003``). :func:`element` builds every object in the documented order, whatever order
  the caller names the fields in, and refuses a field it does not know.
* **The byte-order mark.** Answers begin with a UTF-8 BOM; they are decoded as ``utf-8-sig``.
* **Where the key goes.** The API login ID and transaction key are sent only to Authorize.Net's
  own endpoints, or to a loopback address (the local stand-in), never elsewhere; TLS is
  verified. They never appear in a log line, ``repr`` or exception.
* **Lost answers.** A request that may have reached Authorize.Net without an answer coming
  back raises :class:`~app.core.gateways.errors.NetworkUnknownOutcome` for calls that move
  money (``mutating``) — the caller looks the outcome up before doing anything else.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from typing import Any

import requests

from app.core.gateways.errors import (
    AuthenticationFailed,
    GatewayUnavailable,
    InvalidRequest,
    NetworkUnknownOutcome,
)
from app.core.net import UnsafeURLError, is_loopback_host, require_safe_url
from app.core.net import host_of as _host_of

__all__ = [
    "PRODUCTION_API_BASE",
    "SANDBOX_API_BASE",
    "ApiError",
    "AuthorizeNetClient",
    "element",
]

log = logging.getLogger(__name__)

SANDBOX_API_BASE = "https://apitest.authorize.net"
PRODUCTION_API_BASE = "https://api.authorize.net"
API_PATH = "/xml/v1/request.api"

Obj = dict[str, Any]

#: The schema order of every object PayDesk sends (AnetApiSchema.xsd), children in sequence.
ORDER: dict[str, tuple[str, ...]] = {
    "merchantAuthentication": ("name", "transactionKey"),
    "transactionRequest": (
        "transactionType", "amount", "currencyCode", "payment", "profile", "solution",
        "callId", "terminalNumber", "authCode", "refTransId", "splitTenderId", "order",
        "lineItems", "tax", "duty", "shipping", "taxExempt", "poNumber", "customer", "billTo",
        "shipTo", "customerIP", "cardholderAuthentication", "retail", "employeeId",
        "transactionSettings", "userFields", "surcharge", "merchantDescriptor",
    ),
    "payment": ("creditCard", "bankAccount"),
    "creditCard": ("cardNumber", "expirationDate", "cardCode"),
    "bankAccount": ("accountType", "routingNumber", "accountNumber", "nameOnAccount",
                    "echeckType", "bankName"),
    "profile": ("createProfile", "customerProfileId", "paymentProfile", "shippingProfileId"),
    "paymentProfileRef": ("paymentProfileId", "cardCode"),
    "order": ("invoiceNumber", "description"),
    "customer": ("type", "id", "email"),
    "setting": ("settingName", "settingValue"),
    "userField": ("name", "value"),
    "sorting": ("orderBy", "orderDescending"),
    "paging": ("limit", "offset"),
    "customerProfile": ("merchantCustomerId", "description", "email", "paymentProfiles",
                        "shipToList", "profileType"),
    "customerPaymentProfile": ("customerType", "billTo", "payment", "driversLicense", "taxId",
                               "defaultPaymentProfile", "subsequentAuthInformation",
                               "excludeFromAccountUpdater", "customerPaymentProfileId"),
    # Requests: the root object's children, after merchantAuthentication/clientId/refId.
    "createTransactionRequest": ("transactionRequest",),
    "getTransactionDetailsRequest": ("transId",),
    "getUnsettledTransactionListRequest": ("status", "sorting", "paging"),
    "getTransactionListRequest": ("batchId", "sorting", "paging"),
    "getSettledBatchListRequest": ("includeStatistics", "firstSettlementDate",
                                   "lastSettlementDate"),
    "getTransactionListForCustomerRequest": ("customerProfileId", "customerPaymentProfileId",
                                             "sorting", "paging"),
    "getMerchantDetailsRequest": (),
    "createCustomerProfileRequest": ("profile", "validationMode"),
    "getCustomerProfileRequest": ("customerProfileId", "merchantCustomerId", "email",
                                  "unmaskExpirationDate", "includeIssuerInfo"),
    "createCustomerPaymentProfileRequest": ("customerProfileId", "paymentProfile",
                                            "validationMode"),
    "updateCustomerPaymentProfileRequest": ("customerProfileId", "paymentProfile",
                                            "validationMode"),
    "deleteCustomerPaymentProfileRequest": ("customerProfileId", "customerPaymentProfileId"),
    "getHostedProfilePageRequest": ("customerProfileId", "hostedProfileSettings"),
    "getHostedPaymentPageRequest": ("transactionRequest", "hostedPaymentSettings"),
}


def element(kind: str, **fields: Any) -> Obj:
    """An object of schema type ``kind`` with ``fields`` in the documented order; ``None``
    values are left out. A field the type does not have is a programming error."""
    order = ORDER[kind]
    unknown = set(fields) - set(order)
    if unknown:
        raise ValueError(f"{kind} has no element {', '.join(sorted(unknown))}")
    return {name: fields[name] for name in order if fields.get(name) is not None}


def settings(pairs: Mapping[str, str | int]) -> Obj:
    """``{"setting": [{"settingName": …, "settingValue": …}, …]}`` in the given order."""
    return {"setting": [element("setting", settingName=name, settingValue=str(value))
                        for name, value in pairs.items()]}


class ApiError(Exception):
    """An answer with ``resultCode: Error`` that the caller may want to handle itself
    (``E00039`` duplicate profile, ``E00040`` not found). ``code`` is the ``E000nn`` code,
    ``text`` Authorize.Net's own text, ``body`` the decoded answer."""

    def __init__(self, code: str, text: str, body: Obj) -> None:
        super().__init__(f"{code}: {text}")
        self.code = code
        self.text = text
        self.body = body


#: Envelope codes that mean the credentials are wrong or lack a permission.
_AUTH_MESSAGES = {
    "E00007": "Authorize.Net refused the API login ID or transaction key. Copy both again from "
              "the Authorize.Net Merchant Interface (Account > Settings > API Credentials & "
              "Keys); a new transaction key replaces the old one.",
    "E00008": "Authorize.Net says this API login is inactive. Check the account in the "
              "Authorize.Net Merchant Interface, or create a new transaction key.",
    "E00011": "This Authorize.Net account does not allow reading transactions, which PayDesk "
              "needs to make sure no payment is ever charged twice. In the Merchant Interface "
              "open Account > Settings > Transaction Details API and turn it on.",
    "E00044": "Customer Information Manager (CIM) is not enabled on this Authorize.Net "
              "account. PayDesk needs it to keep clients' saved cards. Ask Authorize.Net to "
              "enable CIM on the account.",
    "E00124": "Authorize.Net refused the credentials. Copy the API login ID and transaction "
              "key again from the Merchant Interface.",
}
_UNAVAILABLE = {"E00001", "E00104"}


class AuthorizeNetClient:
    """Sends one request at a time to one Authorize.Net endpoint. Thread-safe: one HTTP
    session per thread."""

    def __init__(self, api_login_id: str, transaction_key: str, *, api_base: str,
                 timeout: tuple[float, float] = (5.0, 30.0)) -> None:
        self.api_base = check_api_base(api_base)
        self._login = api_login_id.strip()
        self._key = transaction_key.strip()
        self._timeout = timeout
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"AuthorizeNetClient(api={self.api_base})"

    @property
    def url(self) -> str:
        return self.api_base + API_PATH

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = False  # no proxy or netrc credentials picked up from outside
            self._local.session = session
        return session

    def call(self, request: str, fields: Obj | None = None, *, ref_id: str | None = None,
             mutating: bool = False) -> Obj:
        """Send ``request`` (e.g. ``"createTransactionRequest"``) with its ``fields`` and
        return the decoded answer when ``resultCode`` is ``Ok`` — or, for a transaction, when
        the answer carries a ``transactionResponse`` (a decline is an answer, not an error).
        Raises :class:`ApiError` for other ``Error`` answers the caller may handle, typed
        gateway errors for everything else."""
        ordered = element(request, **(fields or {}))
        body: Obj = {"merchantAuthentication": element(
            "merchantAuthentication", name=self._login, transactionKey=self._key)}
        if ref_id is not None:
            body["refId"] = ref_id
        body.update(ordered)
        payload = json.dumps({request: body}, separators=(",", ":")).encode()
        log.debug("Authorize.Net %s (%d bytes)", request, len(payload))
        try:
            response = self._session().post(
                self.url, data=payload, timeout=self._timeout, allow_redirects=False,
                headers={"Content-Type": "application/json", "Accept": "application/json"})
        except requests.exceptions.SSLError:
            raise GatewayUnavailable(
                "PayDesk could not verify Authorize.Net's security certificate, so nothing was "
                "sent. Check that no firewall or proxy intercepts secure connections.",
                outcome_unknown=False) from None
        except requests.exceptions.ConnectTimeout:
            raise _unreachable() from None
        except requests.exceptions.ConnectionError as exc:
            if _never_connected(exc):
                raise _unreachable() from None
            raise self._lost(mutating) from None
        except requests.exceptions.Timeout:
            raise self._lost(mutating) from None
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise GatewayUnavailable(
                "Authorize.Net had a problem and could not answer. "
                + ("PayDesk will check whether it went through before trying again."
                   if mutating else "Try again in a few minutes."),
                outcome_unknown=mutating, http_status=response.status_code)
        try:
            answer = json.loads(response.content.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError):
            raise GatewayUnavailable(
                "Authorize.Net answered in a way PayDesk did not expect. "
                + ("PayDesk will check whether it went through before trying again."
                   if mutating else "Try again in a few minutes."),
                outcome_unknown=mutating, http_status=response.status_code) from None
        if not isinstance(answer, dict):
            raise GatewayUnavailable("Authorize.Net answered in a way PayDesk did not expect.",
                                     outcome_unknown=mutating)
        messages = answer.get("messages") or {}
        if messages.get("resultCode") == "Ok" or answer.get("transactionResponse"):
            return answer
        first = (messages.get("message") or [{}])[0]
        code, text = str(first.get("code") or ""), str(first.get("text") or "")
        log.info("Authorize.Net %s answered %s", request, code)
        if code in _AUTH_MESSAGES:
            raise AuthenticationFailed(_AUTH_MESSAGES[code], code=code)
        if code in _UNAVAILABLE:
            raise GatewayUnavailable(
                "Authorize.Net could not process the request right now. "
                + ("PayDesk will check whether it went through before trying again."
                   if mutating else "Try again in a few minutes."),
                outcome_unknown=mutating, code=code)
        if code == "E00003":
            raise InvalidRequest(
                "Authorize.Net could not read a request from PayDesk, so nothing was done. "
                f"Please report this to PayDesk support ({text[:160]}).", code=code)
        if code == "E00009":
            raise InvalidRequest(
                "The Authorize.Net account is in Test Mode, so it cannot take this payment. "
                "Turn Test Mode off in the Merchant Interface (Account > Settings > Test "
                "Mode).", code=code)
        raise ApiError(code, text, answer)

    @staticmethod
    def _lost(mutating: bool) -> Exception:
        if mutating:
            return NetworkUnknownOutcome(
                "The connection to Authorize.Net broke before its answer arrived, so PayDesk "
                "does not know yet whether this went through. PayDesk will check with "
                "Authorize.Net before trying again.")
        return GatewayUnavailable(
            "Authorize.Net did not answer in time. Check the internet connection and try "
            "again.", outcome_unknown=False)


def _never_connected(exc: requests.exceptions.ConnectionError) -> bool:
    """True when the connection was never made (nothing was sent): refused, no route, DNS."""
    text = repr(exc)
    return any(marker in text for marker in (
        "NewConnectionError", "Connection refused", "Name or service not known",
        "nodename nor servname", "getaddrinfo failed", "No route to host",
        "Network is unreachable"))


def _unreachable() -> GatewayUnavailable:
    return GatewayUnavailable(
        "Authorize.Net could not be reached, so nothing was sent. Check the internet "
        "connection and try again.", outcome_unknown=False)


def check_api_base(api_base: str) -> str:
    """Authorize.Net's sandbox or production address, or a loopback address (the local
    stand-in). Nothing else: the transaction key goes to no other host."""
    base = api_base.strip().rstrip("/")
    if base.endswith(API_PATH):
        base = base[: -len(API_PATH)]
    if base in (SANDBOX_API_BASE, PRODUCTION_API_BASE):
        return base
    try:
        require_safe_url(base, service="Authorize.Net")
    except UnsafeURLError as exc:
        raise InvalidRequest(str(exc)) from None
    if not is_loopback_host(_host_of(base)):
        raise InvalidRequest(
            f"PayDesk sends the Authorize.Net keys only to {PRODUCTION_API_BASE}, "
            f"{SANDBOX_API_BASE} or the stand-in on this computer.")
    return base
