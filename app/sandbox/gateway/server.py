"""A local, Stripe-compatible payment gateway: a real HTTP server on loopback.

It speaks the part of Stripe's API PayDesk uses — customers, payment methods (with the
``pm_card_*`` test methods), payment intents (confirm, cancel, list, search), refunds and
Checkout Sessions — so the Stripe adapter runs against it unchanged: form-encoded bracket
bodies, ``Authorization: Bearer sk_test_…``, errors in Stripe's shape, declines as 402.

It also serves the hosted checkout page for each session, keeps Stripe's idempotency rules
(replay, 400 on a key reused with other parameters, 409 while the first is running), lets
bank debits stay ``processing`` until settled, and has fault switches for tests: 429,
5xx, slow responses, and "committed, then the connection dropped".

Use it in-process (tests, ``--demo``)::

    with GatewaySandbox() as sandbox:
        gateway = StripeGateway(sandbox.secret_key, api_base=sandbox.url)

or from the command line: ``paydesk sandbox gateway --port 0``.

Admin endpoints (same Bearer key), all JSON:

* ``GET /_sandbox/state`` — counts and every payment intent (id, status, amount, metadata);
* ``POST /_sandbox/faults`` ``{"kind": "rate_limit"|"server_error"|"slow"|"drop_after_commit",
  "count": 1, "path": "/v1/payment_intents", "method": "POST", "status": 500, "seconds": 2}``
  — ``count`` -1 means until cleared; ``DELETE /_sandbox/faults`` clears them;
* ``POST /_sandbox/payment_intents/{id}/settle`` ``{"outcome": "succeeded"|"failed",
  "failure_code": "insufficient_funds"}`` — end a processing bank debit (without an
  outcome, as the test account number says);
* ``POST /_sandbox/config`` ``{"ach_settle_seconds": 3}`` — settle bank debits by themselves;
  ``{"refunds_pending": true}`` — new refunds wait ``pending`` until settled;
* ``POST /_sandbox/refunds/{id}/settle`` ``{"outcome": "succeeded"|"failed",
  "failure_reason": "lost_or_stolen_card"}`` — end a pending refund (a failed one gives the
  amount back to the charge).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from app.sandbox.gateway.checkout import (
    FormProblem,
    read_bank_form,
    read_card_form,
    render_checkout_page,
    render_message_page,
)
from app.sandbox.gateway.forms import FormError, decode_form
from app.sandbox.gateway.state import GatewayState, Obj, StripeError, ValidationFailed
from app.sandbox.loopback import LoopbackHTTPServer, LoopbackServer

__all__ = ["Fault", "GatewaySandbox"]

log = logging.getLogger(__name__)

FAULT_KINDS = ("rate_limit", "server_error", "slow", "drop_after_commit")


@dataclass
class Fault:
    """One fault switch. It fires on requests to ``/v1`` paths starting with ``path``
    (and with ``method`` when given), ``count`` times (-1: until cleared)."""

    kind: str
    count: int = 1
    path: str = "/v1/"
    method: str | None = None
    status: int = 500
    seconds: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        return (self.count != 0 and path.startswith(self.path)
                and (self.method is None or self.method.upper() == method))


@dataclass
class _IdempotentResult:
    fingerprint: str
    done: bool = False
    status: int = 0
    body: bytes = b""
    started: float = field(default_factory=time.monotonic)


Handler = Callable[[Obj, "re.Match[str]"], Obj]


class GatewaySandbox(LoopbackServer):
    """The sandbox gateway server. ``start()`` binds ``host:port`` (0 = any free port)."""

    service_name = "the sandbox gateway"

    def server_classes(self) -> tuple[type[LoopbackHTTPServer], type[BaseHTTPRequestHandler]]:
        return _Server, _RequestHandler

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        secret_key: str | None = None,
        account_name: str = "PayDesk Sandbox Gateway",
        ach_settle_seconds: float | None = None,
        default_currency: str = "usd",
    ) -> None:
        super().__init__(host, port)
        self.secret_key = secret_key or "sk_test_" + secrets.token_hex(12)
        if not re.fullmatch(r"sk_(test|live)_[A-Za-z0-9]+", self.secret_key):
            raise ValueError("a sandbox secret key looks like sk_test_ followed by letters")
        self.state = GatewayState(
            livemode=self.secret_key.startswith("sk_live_"),
            account_name=account_name,
            default_currency=default_currency,
            ach_settle_seconds=ach_settle_seconds,
        )
        self.faults: list[Fault] = []
        self._faults_lock = threading.Lock()
        self._idempotency: dict[str, _IdempotentResult] = {}
        self._idempotency_lock = threading.Lock()
        self.requests_served = 0
        self._route_table = self._routes()

    # --- switches for tests and the demo ----------------------------------------------
    def add_fault(self, kind: str, *, count: int = 1, path: str = "/v1/",
                  method: str | None = None, status: int = 500, seconds: float = 0.0) -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; choose from {', '.join(FAULT_KINDS)}")
        fault = Fault(kind, count, path, method, status, seconds)
        with self._faults_lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._faults_lock:
            self.faults.clear()

    def settle(self, intent_id: str, *, succeed: bool | None = None,
               failure_code: str | None = None) -> Obj:
        with self.state.lock:
            return self.state.public(self.state.settle(intent_id, succeed=succeed,
                                                       failure_code=failure_code))

    def settle_refund(self, refund_id: str, *, succeed: bool = True,
                      failure_reason: str = "lost_or_stolen_card") -> Obj:
        with self.state.lock:
            return self.state.public(self.state.settle_refund(
                refund_id, succeed=succeed, failure_reason=failure_reason))

    def _take_faults(self, method: str, path: str) -> list[Fault]:
        fired: list[Fault] = []
        with self._faults_lock:
            for fault in self.faults:
                if fault.matches(method, path) and all(f.kind != fault.kind for f in fired):
                    fired.append(fault)
                    if fault.count > 0:
                        fault.count -= 1
            self.faults = [f for f in self.faults if f.count != 0]
        return fired

    # --- the API ----------------------------------------------------------------------
    def _routes(self) -> list[tuple[str, re.Pattern[str], Handler]]:
        s = self.state

        def page(items: list[Obj], params: Obj, url: str) -> Obj:
            return _list_page(s, items, params, url)

        table: list[tuple[str, str, Handler]] = [
            ("GET", r"/v1/account", lambda p, m: s.account()),
            ("GET", r"/v1/country_specs/(?P<id>[^/]+)", lambda p, m: s.country_spec(m["id"])),
            ("POST", r"/v1/customers", lambda p, m: s.create_customer(p)),
            ("GET", r"/v1/customers/search",
             lambda p, m: _search_page(s, s.search("customer", _query(p)), p,
                                       "/v1/customers/search")),
            ("GET", r"/v1/customers/(?P<id>cus_\w+)",
             lambda p, m: s.get(m["id"], "customer")),
            ("POST", r"/v1/customers/(?P<id>cus_\w+)",
             lambda p, m: s.update_customer(m["id"], p)),
            ("GET", r"/v1/customers/(?P<id>cus_\w+)/payment_methods",
             lambda p, m: page(s.customer_methods(m["id"], p.get("type")), p,
                               f"/v1/customers/{m['id']}/payment_methods")),
            ("POST", r"/v1/payment_methods", lambda p, m: s.create_payment_method(p)),
            ("GET", r"/v1/payment_methods",
             lambda p, m: page(s.customer_methods(_required(p, "customer"), p.get("type")), p,
                               "/v1/payment_methods")),
            ("GET", r"/v1/payment_methods/(?P<id>pm_\w+)",
             lambda p, m: s.resolve_method(m["id"], param="id")),
            ("POST", r"/v1/payment_methods/(?P<id>pm_\w+)/attach",
             lambda p, m: s.attach(m["id"], p.get("customer"))),
            ("POST", r"/v1/payment_methods/(?P<id>pm_\w+)/detach",
             lambda p, m: s.detach(m["id"])),
            ("POST", r"/v1/payment_intents", lambda p, m: s.create_payment_intent(p)),
            ("GET", r"/v1/payment_intents",
             lambda p, m: page(s.list_payment_intents(p), p, "/v1/payment_intents")),
            ("GET", r"/v1/payment_intents/search",
             lambda p, m: _search_page(s, s.search("payment_intent", _query(p)), p,
                                       "/v1/payment_intents/search")),
            ("GET", r"/v1/payment_intents/(?P<id>pi_\w+)",
             lambda p, m: s.get(m["id"], "payment_intent")),
            ("POST", r"/v1/payment_intents/(?P<id>pi_\w+)/confirm",
             lambda p, m: s.confirm_payment_intent(m["id"], p)),
            ("POST", r"/v1/payment_intents/(?P<id>pi_\w+)/cancel",
             lambda p, m: s.cancel_payment_intent(m["id"], p)),
            ("GET", r"/v1/charges/(?P<id>ch_\w+)", lambda p, m: s.get(m["id"], "charge")),
            ("POST", r"/v1/refunds", lambda p, m: s.create_refund(p)),
            ("GET", r"/v1/refunds/(?P<id>re_\w+)", lambda p, m: s.get(m["id"], "refund")),
            ("GET", r"/v1/refunds",
             lambda p, m: page([r for r in s.all("refund")
                                if p.get("payment_intent") in (None, r["payment_intent"])],
                               p, "/v1/refunds")),
            ("POST", r"/v1/checkout/sessions",
             lambda p, m: s.create_checkout_session(p, self.url)),
            ("GET", r"/v1/checkout/sessions/(?P<id>cs_\w+)",
             lambda p, m: s.checkout_session(m["id"])),
            ("POST", r"/v1/checkout/sessions/(?P<id>cs_\w+)/expire",
             lambda p, m: s.expire_checkout_session(m["id"])),
            ("GET", r"/v1/setup_intents/(?P<id>seti_\w+)",
             lambda p, m: s.setup_intent(m["id"])),
        ]
        return [(method, re.compile(pattern + "$"), fn) for method, pattern, fn in table]

    def handle_api(self, method: str, path: str, query: str, body: bytes,
                   headers: dict[str, str]) -> tuple[int, bytes, dict[str, str], bool]:
        """Answer one ``/v1`` request: ``(status, body, headers, drop_connection)``."""
        request_id = "req_" + secrets.token_hex(7)
        out_headers = {"Request-Id": request_id, "Stripe-Version": headers.get(
            "stripe-version", "")}
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer ") or not auth.removeprefix("Bearer ").strip():
            return _error(401, "You did not provide an API key. You need to provide your API "
                          "key in the Authorization header, using Bearer auth (e.g. "
                          "'Authorization: Bearer YOUR_SECRET_KEY').", out_headers)
        key = auth.removeprefix("Bearer ").strip()
        if not secrets.compare_digest(key, self.secret_key):
            return _error(401, f"Invalid API Key provided: {key[:8]}{'*' * 12}{key[-4:]}",
                          out_headers)

        fired = {f.kind: f for f in self._take_faults(method, path)}
        if "rate_limit" in fired:
            out_headers["Retry-After"] = "1"
            return _error(429, "Too many requests hit the API too quickly. We recommend an "
                          "exponential backoff of your requests.", out_headers,
                          code="rate_limit")
        if "server_error" in fired:
            status = fired["server_error"].status
            return _error(status, "An unknown error occurred", out_headers, type_="api_error")

        try:
            params = decode_form(query if method != "POST" else body.decode("utf-8"))
        except (FormError, UnicodeDecodeError) as exc:
            return _error(400, str(exc), out_headers)

        route = self._match(method, path)
        if route is None:
            return _error(404, f"Unrecognized request URL ({method}: {path}). Please see "
                          "https://stripe.com/docs or we can help at "
                          "https://support.stripe.com/.", out_headers)
        handler, match = route

        idem_key = headers.get("idempotency-key") if method == "POST" else None
        slot: _IdempotentResult | None = None
        if idem_key is not None:
            if len(idem_key) > 255:
                return _error(400, "Idempotency keys can be at most 255 characters long.",
                              out_headers, param="Idempotency-Key")
            fingerprint = _fingerprint(method, path, body)
            with self._idempotency_lock:
                slot = self._idempotency.get(idem_key)
                if slot is not None:
                    if slot.fingerprint != fingerprint:
                        return _error(
                            400, "Keys for idempotent requests can only be used with the same "
                            "parameters they were first used with. Try using a key other than "
                            f"'{idem_key}' if you meant to execute a different request.",
                            out_headers, type_="idempotency_error")
                    if not slot.done:
                        return _error(
                            409, "There is currently another in-progress request using this "
                            "Idempotent Key (that probably means you submitted twice, and the "
                            "other request is still going through): "
                            f"{idem_key}. Please try again later.",
                            out_headers, code="idempotency_key_in_use")
                    out_headers["Idempotent-Replayed"] = "true"
                    out_headers["Original-Request"] = request_id
                    return slot.status, slot.body, out_headers, False
                slot = _IdempotentResult(fingerprint)
                self._idempotency[idem_key] = slot
            out_headers["Idempotency-Key"] = idem_key

        if "slow" in fired:
            time.sleep(fired["slow"].seconds)

        expand = params.pop("expand", [])
        expand = expand if isinstance(expand, list) else [expand]
        try:
            with self.state.lock:
                self.state.settle_due()
                result = handler(params, match)
                status, payload = 200, self.state.render(result, expand)
        except ValidationFailed as exc:
            # Stripe keeps no result for a request that failed validation.
            if idem_key is not None:
                with self._idempotency_lock:
                    self._idempotency.pop(idem_key, None)
            status, payload = exc.status, exc.body()
        except StripeError as exc:
            status, payload = exc.status, exc.body()
            out_headers.update(exc.headers)
        except Exception:
            log.exception("sandbox gateway failed on %s %s", method, path)
            status, payload = 500, {"error": {"type": "api_error",
                                              "message": "An unknown error occurred"}}
        data = json.dumps(payload).encode()
        if slot is not None:
            with self._idempotency_lock:
                if self._idempotency.get(idem_key or "") is slot:
                    slot.status, slot.body, slot.done = status, data, True
        return status, data, out_headers, "drop_after_commit" in fired

    def _match(self, method: str, path: str) -> tuple[Handler, re.Match[str]] | None:
        for route_method, pattern, handler in self._route_table:
            if route_method == method:
                found = pattern.match(path)
                if found:
                    return handler, found
        return None

    # --- admin ------------------------------------------------------------------------
    def handle_admin(self, method: str, path: str, body: bytes,
                     headers: dict[str, str]) -> tuple[int, Obj]:
        if headers.get("authorization", "") != f"Bearer {self.secret_key}":
            return 401, {"error": {"type": "invalid_request_error",
                                   "message": "Admin endpoints need the sandbox's secret key."}}
        try:
            data: Any = json.loads(body or b"{}")
        except ValueError:
            return 400, {"error": {"type": "invalid_request_error", "message": "Send JSON."}}
        if not isinstance(data, dict):
            return 400, {"error": {"type": "invalid_request_error", "message": "Send an object."}}
        if method == "GET" and path == "/_sandbox/state":
            return 200, self.snapshot()
        if path == "/_sandbox/faults" and method == "DELETE":
            self.clear_faults()
            return 200, {"faults": []}
        if path == "/_sandbox/faults" and method == "POST":
            try:
                self.add_fault(
                    str(data.get("kind")), count=int(data.get("count", 1)),
                    path=str(data.get("path", "/v1/")), method=data.get("method"),
                    status=int(data.get("status", 500)), seconds=float(data.get("seconds", 0)),
                )
            except (TypeError, ValueError) as exc:
                return 400, {"error": {"type": "invalid_request_error", "message": str(exc)}}
            with self._faults_lock:
                return 200, {"faults": [asdict(f) for f in self.faults]}
        if path == "/_sandbox/config" and method == "POST":
            if "ach_settle_seconds" in data:
                value = data["ach_settle_seconds"]
                self.state.ach_settle_seconds = None if value is None else float(value)
            if "refunds_pending" in data:
                self.state.refunds_pending = bool(data["refunds_pending"])
            return 200, {"ach_settle_seconds": self.state.ach_settle_seconds,
                         "refunds_pending": self.state.refunds_pending}
        refund = re.fullmatch(r"/_sandbox/refunds/(re_\w+)/settle", path)
        if refund and method == "POST":
            outcome = data.get("outcome", "succeeded")
            if outcome not in ("succeeded", "failed"):
                return 400, {"error": {"type": "invalid_request_error",
                                       "message": "outcome is succeeded or failed"}}
            try:
                settled = self.settle_refund(
                    refund.group(1), succeed=outcome == "succeeded",
                    failure_reason=str(data.get("failure_reason") or "lost_or_stolen_card"))
            except StripeError as exc:
                return exc.status, exc.body()
            return 200, settled
        settle = re.fullmatch(r"/_sandbox/payment_intents/(pi_\w+)/settle", path)
        if settle and method == "POST":
            outcome = data.get("outcome")
            if outcome not in (None, "succeeded", "failed"):
                return 400, {"error": {"type": "invalid_request_error",
                                       "message": "outcome is succeeded or failed"}}
            try:
                intent = self.settle(
                    settle.group(1),
                    succeed=None if outcome is None else outcome == "succeeded",
                    failure_code=data.get("failure_code"),
                )
            except StripeError as exc:
                return exc.status, exc.body()
            return 200, intent
        return 404, {"error": {"type": "invalid_request_error",
                               "message": f"Unrecognized admin URL ({method}: {path})"}}

    def snapshot(self) -> Obj:
        """Counts and payment intents, for tests and people checking what happened."""
        with self.state.lock:
            self.state.settle_due()
            counts = {}
            for kind in ("customer", "payment_method", "payment_intent", "charge", "refund",
                         "checkout.session", "setup_intent"):
                counts[kind] = len(self.state.all(kind))
            intents = [
                {k: i[k] for k in ("id", "status", "amount", "currency", "customer",
                                   "payment_method", "metadata", "latest_charge")}
                for i in self.state.all("payment_intent")
            ]
        return {"counts": counts, "payment_intents": intents,
                "ach_settle_seconds": self.state.ach_settle_seconds}

    # --- hosted checkout page -----------------------------------------------------------
    def handle_checkout(self, method: str, path: str, query: str,
                        body: bytes) -> tuple[int, str, dict[str, str]]:
        match = re.fullmatch(r"/checkout/(cs_\w+)(/complete|/canceled)?", path)
        if match is None:
            return 404, render_message_page("Page not found",
                                            "This address is not a payment form."), {}
        session_id, tail = match.group(1), match.group(2)
        merchant = self.state.account_name
        with self.state.lock:
            try:
                session = dict(self.state.checkout_session(session_id))
            except StripeError:
                return 404, render_message_page(
                    "Payment form not found",
                    "This payment form does not exist. Ask for a new link."), {}
        if tail == "/complete":
            return 200, render_message_page(
                "All done", f"Your details were sent to {merchant}. You can close this window."
            ), {}
        if tail == "/canceled":
            return 200, render_message_page(
                "Nothing was saved",
                "You left the payment form. You can close this window."), {}
        if session["status"] == "complete":
            return 200, render_message_page(
                "Already completed",
                "This payment form has already been completed. You can close this window."), {}
        if session["status"] == "expired":
            return 410, render_message_page(
                "This payment form has expired",
                f"Ask {merchant} for a new link."), {}
        chosen = dict(parse_qsl(query)).get("method", "card")
        if method == "GET":
            return 200, render_checkout_page(session, merchant=merchant,
                                             test_mode=not self.state.livemode,
                                             method=chosen), {}
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        chosen = form.get("method", chosen)
        problem: str | None = None
        problem_field: str | None = None
        try:
            if chosen == "us_bank_account" and "us_bank_account" in session[
                    "payment_method_types"]:
                bank = read_bank_form(form)
                new_method = self.state.create_bank_method(bank)
                mandate = {"accepted_at": int(time.time()), "type": "online"}
            else:
                chosen = "card"
                card = read_card_form(form)
                new_method = self.state.create_card_method(card)
                mandate = None
            with self.state.lock:
                done = self.state.complete_checkout(session_id, new_method, mandate=mandate)
            target = str(done["success_url"]).replace("{CHECKOUT_SESSION_ID}", session_id)
            return 303, "", {"Location": target}
        except FormProblem as exc:
            problem, problem_field = exc.message, exc.field
        except StripeError as exc:
            problem = exc.message
        finally:
            form.pop("card_number", None)
            form.pop("card_cvc", None)
            form.pop("account_number", None)
            form.pop("account_number_confirm", None)
        with self.state.lock:
            session = dict(self.state.checkout_session(session_id))
        return 402 if problem_field is None else 400, render_checkout_page(
            session, merchant=merchant, test_mode=not self.state.livemode, method=chosen,
            form=form, problem=problem, problem_field=problem_field), {}


def _fingerprint(method: str, path: str, body: bytes) -> str:
    pairs = sorted(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return hashlib.sha256(repr((method, path, pairs)).encode()).hexdigest()


def _error(status: int, message: str, headers: dict[str, str], *,
           type_: str = "invalid_request_error", code: str | None = None,
           param: str | None = None) -> tuple[int, bytes, dict[str, str], bool]:
    error = StripeError(status, message, type=type_, code=code, param=param)
    return status, json.dumps(error.body()).encode(), headers, False


def _required(params: Obj, name: str) -> str:
    value = params.get(name)
    if not value:
        raise ValidationFailed(f"Missing required param: {name}.", param=name,
                               code="parameter_missing")
    return str(value)


def _query(params: Obj) -> str:
    return _required(params, "query")


def _limit(params: Obj) -> int:
    try:
        limit = int(params.get("limit") or 10)
    except ValueError:
        raise ValidationFailed("Invalid integer: limit", param="limit") from None
    if not 1 <= limit <= 100:
        raise ValidationFailed("Limit must be between 1 and 100.", param="limit")
    return limit


def _list_page(state: GatewayState, items: list[Obj], params: Obj, url: str) -> Obj:
    limit = _limit(params)
    after = params.get("starting_after")
    if after:
        ids = [i["id"] for i in items]
        if after not in ids:
            raise ValidationFailed(f"No such object: '{after}'", param="starting_after")
        items = items[ids.index(after) + 1:]
    return {"object": "list", "url": url, "has_more": len(items) > limit,
            "data": [state.public(i) for i in items[:limit]]}


def _search_page(state: GatewayState, items: list[Obj], params: Obj, url: str) -> Obj:
    limit = _limit(params)
    start = 0
    if params.get("page"):
        try:
            start = int(params["page"])
        except ValueError:
            raise ValidationFailed("Invalid page", param="page") from None
    chunk = items[start:start + limit]
    more = start + limit < len(items)
    return {"object": "search_result", "url": url, "has_more": more,
            "next_page": str(start + limit) if more else None,
            "data": [state.public(i) for i in chunk]}


class _Server(LoopbackHTTPServer):
    sandbox: GatewaySandbox


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes; without this, Nagle's algorithm and the
    # client's delayed ACK add ~40 ms to every keep-alive response.
    disable_nagle_algorithm = True
    server_version = "PayDeskSandboxGateway/1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self, method: str) -> None:
        sandbox = self.server.sandbox
        sandbox.requests_served += 1
        parts = urlsplit(self.path)
        body = self._body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        if parts.path.startswith("/v1/"):
            status, data, out, drop = sandbox.handle_api(method, parts.path, parts.query, body,
                                                         headers)
            if drop:
                self._drop()
                return
            self._send(status, data, "application/json", out)
        elif parts.path.startswith("/_sandbox/"):
            code, payload = sandbox.handle_admin(method, parts.path, body, headers)
            self._send(code, json.dumps(payload).encode(), "application/json", {})
        elif parts.path.startswith("/checkout/") and method in ("GET", "POST"):
            code, page, out = sandbox.handle_checkout(method, parts.path, parts.query, body)
            self._send(code, page.encode(), "text/html; charset=utf-8", {
                **out,
                "Cache-Control": "no-store",
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                           "form-action 'self' http: https:",
                "X-Frame-Options": "DENY",
                "Referrer-Policy": "no-referrer",
            })
        else:
            self._send(404, json.dumps({"error": {"type": "invalid_request_error",
                                                  "message": "Not found"}}).encode(),
                       "application/json", {})

    def _send(self, status: int, data: bytes, content_type: str, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            if value:
                self.send_header(name, value)
        self.end_headers()
        if data:
            self.wfile.write(data)

    def _drop(self) -> None:
        """The money moved, then the connection broke: close without any response."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")
