"""A local stand-in for Authorize.Net: the JSON API, the hosted forms, settlement, faults.

It answers ``POST /xml/v1/request.api`` the way Authorize.Net does: one JSON object named
after the request, checked against the schema's element order (``E00003`` when out of order),
authenticated by ``merchantAuthentication`` (``E00007``), answered with a UTF-8 byte-order
mark before the JSON. It keeps CIM customer and payment profiles, transactions with the
settlement rules (void before the batch settles, refund after, 120 days, never more than was
charged), the duplicate window (response code 3, reason 11), the reporting queries (unsettled
list, settled batches and their transactions, a customer's transactions, details), and the
hosted forms: Accept Hosted (``/payment/payment``) and Accept Customer
(``/customer/addPayment``), which the browser opens by posting the page token.

Use it in-process (tests, ``--demo``)::

    with AuthorizeNetSandbox() as sandbox:
        gateway = AuthorizeNetGateway(sandbox.api_login_id, sandbox.transaction_key,
                                      api_base=sandbox.url)

or from the command line: ``paydesk sandbox authorize-net --port 0``.

Admin endpoints (``Authorization: Bearer <transaction key>``), all JSON:

* ``GET /_sandbox/state`` — every transaction (id, type, status, amount, invoice number);
* ``POST /_sandbox/settle`` ``{"at": "2026-01-02T03:00:00Z"}`` — run the daily batch now
  (``at`` back-dates it, to test the 120-day refund limit);
* ``POST /_sandbox/faults`` ``{"kind": "server_error"|"slow"|"drop_after_commit"|
  "error_after_commit"|"drop_before", "count": 1, "request": "createTransactionRequest",
  "status": 500, "seconds": 2}`` — ``count`` -1 means until cleared; ``DELETE`` clears;
* ``POST /_sandbox/transactions/{id}/return`` ``{"code": "R01"}`` — the bank returns an
  eCheck debit (R01 insufficient funds, R02 account closed, R03 no account, R10 not
  authorized);
* ``POST /_sandbox/config`` ``{"list_lag_seconds": 5}`` — new transactions show up in the
  list queries only after this long.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import secrets
import socket
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from app.sandbox.authorizenet.cards import (
    TEST_CARDS,
    bank_name,
    luhn_valid,
    routing_number_valid,
)
from app.sandbox.authorizenet.pages import render_form, render_message
from app.sandbox.authorizenet.schema import REQUEST_TYPES, SchemaError, check_order
from app.sandbox.authorizenet.state import (
    ApiFailure,
    Bank,
    MerchantState,
    Obj,
    Transaction,
)
from app.sandbox.loopback import LoopbackHTTPServer, LoopbackServer

__all__ = ["API_PATH", "AuthorizeNetSandbox", "Fault"]

log = logging.getLogger(__name__)

API_PATH = "/xml/v1/request.api"
FAULT_KINDS = ("server_error", "slow", "drop_after_commit", "error_after_commit", "drop_before")
BOM = "\ufeff".encode()


@dataclass
class Fault:
    """One fault switch: fires on requests named ``request`` (any request when empty),
    ``count`` times (-1: until cleared)."""

    kind: str
    count: int = 1
    request: str = ""
    status: int = 500
    seconds: float = 0.0

    def matches(self, name: str) -> bool:
        return self.count != 0 and self.request in ("", name)


class AuthorizeNetSandbox(LoopbackServer):
    """The stand-in server. ``start()`` binds ``host:port`` (0 = any free port)."""

    service_name = "the Authorize.Net stand-in"

    def server_classes(self) -> tuple[type[LoopbackHTTPServer], type[BaseHTTPRequestHandler]]:
        return _Server, _Handler

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_login_id: str | None = None,
        transaction_key: str | None = None,
        merchant_name: str = "PayDesk Sandbox Merchant",
    ) -> None:
        super().__init__(host, port)
        self.api_login_id = api_login_id or "sandbox" + secrets.token_hex(4)
        self.transaction_key = transaction_key or secrets.token_hex(8)
        if not re.fullmatch(r"[A-Za-z0-9]{1,25}", self.api_login_id):
            raise ValueError("an API login ID is 1 to 25 letters and digits")
        if not re.fullmatch(r"[A-Za-z0-9]{16}", self.transaction_key):
            raise ValueError("a transaction key is 16 letters and digits")
        self.state = MerchantState(merchant_name=merchant_name,
                                   gateway_id=str(100_000 + secrets.randbelow(800_000)))
        self.faults: list[Fault] = []
        self._faults_lock = threading.Lock()
        self.api_requests: list[str] = []

    # --- switches -------------------------------------------------------------------------------
    def add_fault(self, kind: str, *, count: int = 1, request: str = "", status: int = 500,
                  seconds: float = 0.0) -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; choose from {', '.join(FAULT_KINDS)}")
        fault = Fault(kind, count, request, status, seconds)
        with self._faults_lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._faults_lock:
            self.faults.clear()

    def settle(self, at: datetime | None = None) -> Obj | None:
        """Run the daily settlement batch now (``at``: back-date it)."""
        with self.state.lock:
            batch = self.state.settle_batch(at)
        if batch is None:
            return None
        return {"batchId": str(batch.batch_id), "transactions": [str(i) for i in
                                                                 batch.transactions]}

    def set_list_lag(self, seconds: float) -> None:
        with self.state.lock:
            self.state.list_lag = timedelta(seconds=seconds)

    def transactions(self) -> list[Obj]:
        """Every transaction the merchant has (for tests: count the charges)."""
        with self.state.lock:
            return [{"transId": str(t.trans_id), "type": t.kind, "status": t.status,
                     "amount": f"{t.amount:.2f}", "invoiceNumber": t.invoice_number,
                     "refId": t.ref_id, "refTransId": str(t.ref_trans_id or ""),
                     "responseCode": t.response_code, "reason": t.reason}
                    for t in self.state.transactions.values()]

    def _take_faults(self, name: str) -> dict[str, Fault]:
        fired: dict[str, Fault] = {}
        with self._faults_lock:
            for fault in self.faults:
                if fault.matches(name) and fault.kind not in fired:
                    fired[fault.kind] = fault
                    if fault.count > 0:
                        fault.count -= 1
            self.faults = [f for f in self.faults if f.count != 0]
        return fired

    # --- the API --------------------------------------------------------------------------------
    def handle_api(self, body: bytes) -> tuple[int, bytes, str]:
        """Answer one API call: ``(http status, body, what to do: send|drop)``."""
        try:
            text = body.decode("utf-8-sig")
            document = json.loads(text)
        except (UnicodeDecodeError, ValueError):
            return 200, _encode(_error_envelope(None, "E00003", "Root element is missing.")), "send"
        if not isinstance(document, dict) or len(document) != 1:
            return 200, _encode(_error_envelope(None, "E00003", "Root element is missing.")), "send"
        [(name, request)] = document.items()
        self.api_requests.append(name)
        ref_id = request.get("refId") if isinstance(request, dict) else None
        fired = self._take_faults(name)
        if "drop_before" in fired:
            return 0, b"", "drop"
        if "server_error" in fired:
            return (fired["server_error"].status,
                    b"<html><body><h1>Service Unavailable</h1></body></html>", "html")
        if "slow" in fired:
            time.sleep(fired["slow"].seconds)
        children = REQUEST_TYPES.get(name)
        if children is None or not isinstance(request, dict):
            return 200, _encode(_error_envelope(
                ref_id, "E00003", f"The element '{name}' in namespace 'AnetApi/xml/v1/schema/"
                "AnetApiSchema.xsd' is not declared.")), "send"
        try:
            check_order(name, request, children)
        except SchemaError as exc:
            return 200, _encode(_error_envelope(ref_id, "E00003", str(exc))), "send"
        if isinstance(ref_id, str) and len(ref_id) > 20:
            return 200, _encode(_error_envelope(
                ref_id, "E00003", "The 'AnetApi/xml/v1/schema/AnetApiSchema.xsd:refId' element "
                "is invalid - The value is invalid according to its datatype 'String' - The "
                "actual length is greater than the MaxLength value.")), "send"
        auth = request.get("merchantAuthentication") or {}
        if not (isinstance(auth, dict)
                and secrets.compare_digest(str(auth.get("name") or ""), self.api_login_id)
                and secrets.compare_digest(str(auth.get("transactionKey") or ""),
                                           self.transaction_key)):
            return 200, _encode(_error_envelope(
                ref_id, "E00007", "User authentication failed due to invalid authentication "
                "values.")), "send"
        handler = getattr(self.state, "do_" + name.removesuffix("Request") + "Request", None)
        try:
            with self.state.lock:
                assert handler is not None
                result = handler(request)
            payload = self._envelope(name, result, ref_id)
        except ApiFailure as failure:
            payload = _error_envelope(ref_id, failure.code, failure.text)
        except Exception:
            log.exception("Authorize.Net stand-in failed on %s", name)
            payload = _error_envelope(ref_id, "E00001", "An error occurred during processing. "
                                      "Please try again.")
        if "drop_after_commit" in fired:
            return 0, b"", "drop"
        if "error_after_commit" in fired:
            return (fired["error_after_commit"].status,
                    b"<html><body><h1>Gateway Timeout</h1></body></html>", "html")
        return 200, _encode(payload), "send"

    @staticmethod
    def _envelope(name: str, result: Obj, ref_id: Any) -> Obj:
        transaction = result.get("transactionResponse")
        failed = (transaction is not None
                  and str(transaction.get("responseCode")) not in ("1", "4"))
        payload: Obj = dict(result)
        if ref_id is not None:
            payload["refId"] = ref_id
        payload["messages"] = (
            {"resultCode": "Error",
             "message": [{"code": "E00027", "text": "The transaction was unsuccessful."}]}
            if failed else
            {"resultCode": "Ok", "message": [{"code": "I00001", "text": "Successful."}]})
        return payload

    # --- admin ----------------------------------------------------------------------------------
    def handle_admin(self, method: str, path: str, body: bytes,
                     headers: dict[str, str]) -> tuple[int, Obj]:
        if not secrets.compare_digest(headers.get("authorization", ""),
                                      f"Bearer {self.transaction_key}"):
            return 401, {"error": "Admin endpoints need the stand-in's transaction key."}
        try:
            data: Any = json.loads(body or b"{}")
        except ValueError:
            return 400, {"error": "Send JSON."}
        if not isinstance(data, dict):
            return 400, {"error": "Send an object."}
        if method == "GET" and path == "/_sandbox/state":
            return 200, {"transactions": self.transactions(),
                         "customers": len(self.state.customers),
                         "batches": len(self.state.batches)}
        if method == "POST" and path == "/_sandbox/settle":
            at = data.get("at")
            try:
                moment = datetime.fromisoformat(str(at).replace("Z", "+00:00")) if at else None
            except ValueError:
                return 400, {"error": "at is an ISO 8601 time"}
            return 200, {"batch": self.settle(moment)}
        if path == "/_sandbox/faults" and method == "DELETE":
            self.clear_faults()
            return 200, {"faults": []}
        if path == "/_sandbox/faults" and method == "POST":
            try:
                self.add_fault(str(data.get("kind")), count=int(data.get("count", 1)),
                               request=str(data.get("request", "")),
                               status=int(data.get("status", 500)),
                               seconds=float(data.get("seconds", 0)))
            except (TypeError, ValueError) as exc:
                return 400, {"error": str(exc)}
            with self._faults_lock:
                return 200, {"faults": [asdict(f) for f in self.faults]}
        returned = re.fullmatch(r"/_sandbox/transactions/(\d+)/return", path)
        if returned and method == "POST":
            try:
                with self.state.lock:
                    self.state.return_echeck(int(returned.group(1)),
                                             str(data.get("code") or "R01"))
            except ApiFailure as failure:
                return 400, {"error": failure.text}
            return 200, {"returned": returned.group(1)}
        if path == "/_sandbox/config" and method == "POST":
            if "list_lag_seconds" in data:
                self.set_list_lag(float(data["list_lag_seconds"]))
            return 200, {"list_lag_seconds": self.state.list_lag.total_seconds()}
        return 404, {"error": f"Unrecognized admin URL ({method}: {path})"}

    # --- hosted forms ---------------------------------------------------------------------------
    def handle_hosted(self, kind: str, body: bytes) -> tuple[int, str]:
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        merchant = self.state.merchant_name
        try:
            with self.state.lock:
                token = self.state.hosted_token(form.get("token", ""), kind)
        except ApiFailure:
            return 410, render_message(
                "This payment form has expired",
                f"The link is no longer valid. Ask {merchant} for a new one.")
        if token.used:
            return 200, render_message("Already completed",
                                       "This form has already been completed. You can close "
                                       "this window.")
        settings = token.settings
        method = form.get("method", "card")
        payment_options = _json_setting(settings, "hostedPaymentPaymentOptions")
        if kind == "payment":
            allow_bank = bool(payment_options.get("showBankAccount", True))
            allow_card = bool(payment_options.get("showCreditCard", True))
        else:
            shown = settings.get("hostedProfilePaymentOptions", "showAll")
            allow_bank, allow_card = shown != "showCreditCard", shown != "showBankAccount"
        if not allow_card:
            method = "bank"
        if method == "bank" and not allow_bank:
            method = "card"
        amount: str | None = None
        description = (f"Save a card or bank account so that {merchant} can charge your "
                       "invoices. Nothing is charged now.")
        offer_save = False
        if kind == "payment":
            transaction = token.transaction
            amount = "$" + f"{Decimal(str(transaction.get('amount'))):,.2f}"
            order = transaction.get("order") or {}
            description = str(order.get("description") or "Payment")
            customer_options = _json_setting(settings, "hostedPaymentCustomerOptions")
            offer_save = bool(customer_options.get("addPaymentProfile")) and (
                token.customer_profile_id is not None)
        values = {k: v for k, v in form.items()
                  if k in ("expirationDate", "firstName", "lastName", "zip", "nameOnAccount",
                           "routingNumber")}

        def page(problem: str | None = None, problem_field: str | None = None,
                 status: int = 200) -> tuple[int, str]:
            return status, render_form(
                kind=kind, token=token.token, merchant=merchant, amount=amount,
                description=description, method=method, allow_bank=allow_bank,
                offer_save=offer_save, values=values, problem=problem,
                problem_field=problem_field)

        if form.get("submitted") != "yes":
            return page()
        try:
            card_number, expiry, code, bank = _read_method(form, method)
        except _FormProblem as problem:
            return page(problem.message, problem.field, 400)
        finally:
            for secret_field in ("cardNumber", "cardCode", "accountNumber"):
                form.pop(secret_field, None)
        first, last, zip_code = (form.get("firstName", "").strip(),
                                 form.get("lastName", "").strip(), form.get("zip", "").strip())
        if not zip_code:
            return page("Enter the billing ZIP code.", "zip", 400)
        with self.state.lock:
            if kind == "profile":
                assert token.customer_profile_id is not None
                try:
                    self.state.add_payment_profile(
                        token.customer_profile_id, card_number=card_number, expiry=expiry,
                        bank=bank, first_name=first, last_name=last, zip_code=zip_code)
                except ApiFailure as failure:
                    return page(failure.text, None, 400)
                token.used = True
                return 200, render_message(
                    "Saved", f"Your payment method was saved for {merchant}. You can close "
                    "this window.", link=settings.get("hostedProfileReturnUrl") or None,
                    link_text=settings.get("hostedProfileReturnUrlText") or "Continue")
            save = form.get("saveProfile") == "yes" and offer_save
            try:
                done: Transaction = self.state.pay_on_hosted_form(
                    token, card_number=card_number, expiry=expiry, card_code=code,
                    zip_code=zip_code, first_name=first, last_name=last, bank=bank, save=save)
            except ApiFailure as failure:
                return page(failure.text, None, 400)
        if done.response_code != 1:
            return page(done.text, None, 402)
        options = _json_setting(settings, "hostedPaymentReturnOptions")
        return 200, render_message(
            "Thank you", f"Your payment of {amount} to {merchant} was approved. Transaction "
            f"{done.trans_id}. You can close this window.",
            link=str(options.get("url") or "") or None,
            link_text=str(options.get("urlText") or "Continue"))


class _FormProblem(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _read_method(form: dict[str, str],
                 method: str) -> tuple[str | None, str | None, str | None, Bank | None]:
    """Check the typed card or account the way the hosted form does; return
    ``(card number, YYYY-MM expiry, card code, bank)``."""
    if method == "bank":
        routing = re.sub(r"\s", "", form.get("routingNumber", ""))
        account = re.sub(r"\s", "", form.get("accountNumber", ""))
        name = form.get("nameOnAccount", "").strip()
        if not name:
            raise _FormProblem("nameOnAccount", "Enter the name on the account.")
        if not routing_number_valid(routing):
            raise _FormProblem("routingNumber", "The routing number is not valid.")
        if not re.fullmatch(r"\d{5,17}", account):
            raise _FormProblem("accountNumber", "The account number is not valid.")
        if form.get("authorize") != "yes":
            raise _FormProblem("authorize", "Tick the box to authorize the debit.")
        account_type = form.get("accountType", "checking")
        echeck = "CCD" if account_type == "businessChecking" else "WEB"
        return None, None, None, Bank(account[-4:], routing[-4:], account_type, name[:22],
                                      bank_name(routing), echeck)
    number = re.sub(r"[\s-]", "", form.get("cardNumber", ""))
    if not number or not luhn_valid(number):
        raise _FormProblem("cardNumber", "The card number is not valid.")
    if number not in TEST_CARDS:
        raise _FormProblem("cardNumber", "This is a test account: use one of Authorize.Net's "
                           "test card numbers.")
    match = re.fullmatch(r"(\d{1,2})\s*/\s*(\d{2}|\d{4})", form.get("expirationDate", "").strip())
    if not match:
        raise _FormProblem("expirationDate", "Enter the expiry as MM/YY.")
    month, year = int(match.group(1)), int(match.group(2))
    year = year + 2000 if year < 100 else year
    if not 1 <= month <= 12:
        raise _FormProblem("expirationDate", "Enter the expiry as MM/YY.")
    expiry = f"{year:04d}-{month:02d}"
    if expiry < datetime.now(UTC).strftime("%Y-%m"):
        raise _FormProblem("expirationDate", "The card has expired.")
    code = form.get("cardCode", "").strip()
    if not re.fullmatch(r"\d{3,4}", code):
        raise _FormProblem("cardCode", "Enter the card code (3 or 4 digits).")
    return number, expiry, code, None


def _json_setting(settings: dict[str, str], name: str) -> dict[str, Any]:
    try:
        value = json.loads(settings.get(name) or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _error_envelope(ref_id: Any, code: str, text: str) -> Obj:
    payload: Obj = {}
    if ref_id is not None:
        payload["refId"] = ref_id
    payload["messages"] = {"resultCode": "Error", "message": [{"code": code, "text": text}]}
    return payload


def _encode(payload: Obj) -> bytes:
    return BOM + json.dumps(payload).encode()


class _Server(LoopbackHTTPServer):
    sandbox: AuthorizeNetSandbox


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "PayDeskAuthorizeNetStandIn/1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self, method: str) -> None:
        sandbox = self.server.sandbox
        path = urlsplit(self.path).path
        body = self._body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        if path == API_PATH and method == "POST":
            status, data, action = sandbox.handle_api(body)
            if action == "drop":
                self._drop()
                return
            kind = "text/html" if action == "html" else "application/json; charset=utf-8"
            self._send(status, data, kind)
        elif path.startswith("/_sandbox/"):
            code, payload = sandbox.handle_admin(method, path, body, headers)
            self._send(code, json.dumps(payload).encode(), "application/json")
        elif path in ("/payment/payment", "/customer/addPayment"):
            kind = "payment" if path == "/payment/payment" else "profile"
            if method == "POST":
                code, page = sandbox.handle_hosted(kind, body)
            else:
                code, page = 405, render_message(
                    "Open this form from the merchant's page",
                    "This secure form opens when the merchant's page sends you here.")
            self._send(code, page.encode(), "text/html; charset=utf-8", {
                "Cache-Control": "no-store",
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                           "form-action 'self'",
                "Referrer-Policy": "no-referrer",
            })
        else:
            self._send(404, b'{"error": "Not found"}', "application/json")

    def _send(self, status: int, data: bytes, content_type: str,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if data:
            self.wfile.write(data)

    def _drop(self) -> None:
        """Close without any answer (the request may or may not have taken effect)."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

