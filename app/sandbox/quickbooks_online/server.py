"""The QuickBooks Online sandbox server: a real HTTP server on loopback.

See the package docstring (`app.sandbox.quickbooks_online`) for what it serves.
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
import logging
import secrets
import socket
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, urlencode, urlsplit

from app.core.net import is_loopback_host
from app.sandbox.autotask.data import DataSizes, _mix, encode_json
from app.sandbox.quickbooks_online.data import CompanyData, Record
from app.sandbox.quickbooks_online.oauth import OAuthError, OAuthServer
from app.sandbox.quickbooks_online.query import QueryError, parse_query
from app.sandbox.quickbooks_online.store import ENTITIES, CompanyStore, QboFault, not_found

__all__ = ["FAULT_KINDS", "Fault", "QuickBooksOnlineSandbox"]

log = logging.getLogger(__name__)

FAULT_KINDS = ("server_error", "throttle", "drop", "expired_token", "lose_response", "slow")
REQUEST_ID_MAX = 50
CDC_MAX_DAYS = 30
CDC_MAX_OBJECTS = 1000

_QUERYABLE: dict[str, set[str]] = {
    "Invoice": {"id", "docnumber", "txndate", "duedate", "totalamt", "balance", "customerref",
                "currencyref", "metadata", "synctoken", "emailstatus",
                "printstatus", "linkedtxn"},
    "Payment": {"id", "txndate", "totalamt", "unappliedamt", "customerref", "metadata",
                "paymentrefnum", "paymentmethodref", "deposittoaccountref", "currencyref",
                "synctoken"},
    "Customer": {"id", "displayname", "companyname", "fullyqualifiedname", "active",
                 "balance", "metadata", "primaryemailaddr", "synctoken", "currencyref"},
    "Account": {"id", "name", "fullyqualifiedname", "accounttype", "accountsubtype",
                "classification", "active", "metadata", "currentbalance"},
    "Item": {"id", "name", "fullyqualifiedname", "type", "active", "metadata"},
    "PaymentMethod": {"id", "name", "type", "active", "metadata"},
    "Term": {"id", "name", "active", "metadata"},
    "CreditMemo": {"id", "docnumber", "txndate", "totalamt", "balance", "remainingcredit",
                   "customerref", "metadata"},
    "RefundReceipt": {"id", "docnumber", "txndate", "totalamt", "customerref", "metadata",
                      "deposittoaccountref"},
    "SalesReceipt": {"id", "docnumber", "txndate", "totalamt", "customerref", "metadata",
                     "deposittoaccountref"},
    "CompanyInfo": {"id", "companyname", "country", "metadata"},
    "Preferences": {"id", "metadata"},
}
_BY_LOWER = {e.lower(): e for e in ENTITIES}


@dataclass
class Fault:
    """One fault switch: fires on API requests whose path contains ``path`` (and with
    ``method`` when given), ``count`` times (-1: until cleared).

    Kinds: ``server_error`` (``status`` 500/502/503/504, QuickBooks' JSON fault or, with
    ``body="html"``, an HTML error page), ``throttle`` (429 ThrottleExceeded), ``drop`` (the
    connection closes before anything happens), ``expired_token`` (401 as for an expired
    access token), ``lose_response`` (the write is made, then the connection closes without
    an answer), ``slow`` (answer ``seconds`` later)."""

    kind: str
    count: int = 1
    path: str = "/v3/"
    method: str | None = None
    status: int = 500
    seconds: float = 0.0
    body: str = "json"

    def matches(self, method: str, path: str) -> bool:
        return (self.count != 0 and self.path.lower() in path.lower()
                and (self.method is None or self.method.upper() == method))


class _Reply:
    """What the handler sends: status, body, content type, headers, or a dropped line."""

    def __init__(self, status: int, body: bytes = b"", content_type: str = "application/json",
                 headers: dict[str, str] | None = None, *, drop: bool = False) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or {}
        self.drop = drop


class QuickBooksOnlineSandbox:
    """A local QuickBooks Online company with Intuit's OAuth server in front of it.

    Construct, ``start()`` (binds ``host:port``, 0 = any free port), use ``url``,
    ``discovery_url``, ``client_id``, ``client_secret``, ``realm_id``; ``stop()``.
    """

    def __init__(
        self,
        *,
        companies: int = DataSizes.companies,
        contacts: int = DataSizes.contacts,
        contracts: int = DataSizes.contracts,
        tickets: int = DataSizes.tickets,
        invoices: int = DataSizes.invoices,
        lines_per_invoice: float = DataSizes.lines_per_invoice,
        years: int = DataSizes.years,
        seed: int = 7,
        anchor: date | None = None,
        currency: str = "USD",
        multicurrency: bool = False,
        company_name: str = "Northwind IT Services",
        disagreements: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        client_id: str | None = None,
        client_secret: str | None = None,
        realm_id: str | None = None,
        consent: str = "auto",
        redirect_uris: tuple[str, ...] | None = None,
        production_keys: bool = False,
        refresh_grace_seconds: float = 86400.0,
        requests_per_minute: int = 500,
        max_concurrent: int = 10,
        honour_requestid: bool = True,
    ) -> None:
        if not is_loopback_host(host):
            raise ValueError(f"the sandbox only listens on this computer (not on {host!r})")
        currency = currency.upper()
        if len(currency) != 3 or not currency.isalpha():
            raise ValueError(f"{currency!r} is not a currency code")
        if consent not in ("auto", "click", "deny"):
            raise ValueError("consent is auto, click or deny")
        self.sizes = DataSizes(companies=companies, contacts=contacts, contracts=contracts,
                               tickets=tickets, invoices=invoices,
                               lines_per_invoice=lines_per_invoice, years=years)
        self.seed = seed
        self.clock_offset = 0.0
        self.realm_id = realm_id or str(9341_0000_0000_0000 + _mix(seed, 0x4EA1) % 10**12)
        self.client_id = client_id or "AB" + secrets.token_hex(24)
        self.client_secret = client_secret or secrets.token_urlsafe(30)
        self.data = CompanyData(self.sizes, seed=seed, anchor=anchor, currency=currency,
                                company_name=company_name, disagreements=disagreements)
        self.store = CompanyStore(self.data, clock=self.clock, realm_id=self.realm_id,
                                  multicurrency=multicurrency)
        self.oauth = OAuthServer(self.client_id, self.client_secret, self.realm_id,
                                 clock=self.clock, refresh_grace_seconds=refresh_grace_seconds,
                                 redirect_uris=redirect_uris,
                                 production_keys=production_keys)
        self.consent = consent
        self._host = host
        self._port = port
        self.requests_per_minute = requests_per_minute
        self.max_concurrent = max_concurrent
        self.honour_requestid = honour_requestid
        self.faults: list[Fault] = []
        self._faults_lock = threading.Lock()
        self._limit_lock = threading.Lock()
        self._recent: deque[float] = deque()
        self._in_flight = 0
        self.max_in_flight_seen = 0
        self.throttled = 0
        self.requests_served = 0
        self.api_requests = 0
        self._replies: dict[str, tuple[int, bytes]] = {}
        self._pending_consent: dict[str, dict[str, str]] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def clock(self) -> float:
        """The sandbox's time (real time plus whatever the admin API fast-forwarded)."""
        return time.time() + self.clock_offset

    def start(self) -> Self:
        if self._server is not None:
            return self
        server = _Server((self._host, self._port), _Handler)
        server.sandbox = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={
            "poll_interval": 0.1}, name="quickbooks-online-sandbox", daemon=True)
        self._thread.start()
        # Prepare the invoice index and the customers now, not on the first request (about
        # a second per 100,000 invoices); a request that comes first simply waits for it.
        threading.Thread(target=self._prepare, name="quickbooks-online-sandbox-prepare",
                         daemon=True).start()
        return self

    def _prepare(self) -> None:
        try:
            self.data.index()
            self.data.customers()
        except Exception:  # pragma: no cover - a request will report it
            log.exception("preparing the QuickBooks Online sandbox's data failed")

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The origin, e.g. ``http://127.0.0.1:54321`` (API base: ``url + "/v3"``)."""
        if self._server is None:
            raise RuntimeError("the QuickBooks Online sandbox is not running")
        return f"http://{self._host}:{self._server.server_address[1]}"

    @property
    def api_base(self) -> str:
        """Where ``/company/<realmId>/...`` goes: the stand-in for
        ``https://sandbox-quickbooks.api.intuit.com/v3``."""
        return self.url + "/v3"

    @property
    def discovery_url(self) -> str:
        """The OpenID discovery document (give it to intuit-oauth as ``environment``)."""
        return self.url + "/.well-known/openid_sandbox_configuration"

    @property
    def admin_url(self) -> str:
        return self.url + "/_sandbox/"

    # ------------------------------------------------------------------ Python admin API
    def fast_forward(self, seconds: float) -> float:
        """Move the sandbox's clock on (token expiry, timestamps, CDC windows)."""
        self.clock_offset += seconds
        return self.clock_offset

    def expire_access_tokens(self) -> int:
        return self.oauth.expire_access_tokens()

    def add_fault(self, kind: str, *, count: int = 1, path: str = "/v3/",
                  method: str | None = None, status: int = 500, seconds: float = 0.0,
                  body: str = "json") -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; choose from {', '.join(FAULT_KINDS)}")
        fault = Fault(kind, count, path, method, status, seconds, body)
        with self._faults_lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._faults_lock:
            self.faults.clear()

    def connect(self, redirect_uri: str = "http://localhost:8765/callback") -> dict[str, Any]:
        """Tokens for tests that do not care about the consent dance (same as a real one)."""
        code = self.oauth.issue_code(redirect_uri, "com.intuit.quickbooks.accounting")
        return self.oauth.token({"grant_type": "authorization_code", "code": code,
                                 "redirect_uri": redirect_uri})

    def disagreements(self) -> list[Record]:
        self.data.index()
        return [d.as_json() for d in self.data.disagreements]

    def payment_counts(self) -> Record:
        return self.store.payment_counts()

    def record(self, entity: str, id_: str) -> Record | None:
        found = self.store.get(entity, id_)
        return None if found is None else json.loads(encode_json(found), parse_float=Decimal)

    def export_invoice(self, autotask_invoice_number: str) -> Record:
        """Export one of the not-yet-exported invoices now (as Autotask's export would)."""
        self.data.index()
        index = int(autotask_invoice_number) - 1000
        exported: Record = json.loads(encode_json(self.store.export_invoice(index)),
                                    parse_float=Decimal)
        return exported

    def touch(self, entity: str, id_: str) -> Record:
        """Someone saved the record in QuickBooks: its SyncToken moves on (a stale write
        from a client that read it before is then refused with 5010)."""
        if entity not in ENTITIES:
            raise ValueError(f"unknown entity {entity!r}")
        touched: Record = json.loads(encode_json(self.store.touch(entity, id_)),
                                     parse_float=Decimal)
        return touched

    def pay_in_quickbooks(self, invoice_id: str, amount: Decimal | None = None) -> Record:
        """A person records a payment on an invoice in QuickBooks, outside PayDesk (not
        counted by `payment_counts`)."""
        invoice = self.store.require("Invoice", invoice_id)
        paid = amount if amount is not None else Decimal(str(invoice["Balance"]))
        payment = self.store.create_payment({
            "CustomerRef": {"value": invoice["CustomerRef"]["value"]}, "TotalAmt": paid,
            "PaymentMethodRef": {"value": "2"}, "PrivateNote": "Entered in QuickBooks",
            "Line": [{"Amount": paid, "LinkedTxn": [{"TxnId": invoice_id,
                                                     "TxnType": "Invoice"}]}]},
            through_api=False)
        paid_record: Record = json.loads(encode_json(payment), parse_float=Decimal)
        return paid_record

    def snapshot(self) -> Record:
        counts = {e: len(self.store.ids(e)) for e in ("Customer", "Invoice", "Payment",
                                                      "CreditMemo", "RefundReceipt",
                                                      "SalesReceipt",
                                                      "PaymentMethod", "Item", "Account")}
        return {
            "realm_id": self.realm_id, "currency": self.data.currency,
            "clock_offset": self.clock_offset, "consent": self.consent,
            "requests_per_minute": self.requests_per_minute,
            "max_concurrent": self.max_concurrent, "honour_requestid": self.honour_requestid,
            "requests_served": self.requests_served,
            "api_requests": self.api_requests, "throttled": self.throttled,
            "max_in_flight_seen": self.max_in_flight_seen, "counts": counts,
            "oauth": self.oauth.state(),
            "faults": [asdict(f) for f in self.faults],
        }

    # ------------------------------------------------------------------ limits
    def _admit(self) -> bool:
        with self._limit_lock:
            now = time.monotonic()
            while self._recent and self._recent[0] <= now - 60.0:
                self._recent.popleft()
            if len(self._recent) >= self.requests_per_minute or \
                    self._in_flight >= self.max_concurrent:
                self.throttled += 1
                return False
            self._recent.append(now)
            self._in_flight += 1
            self.max_in_flight_seen = max(self.max_in_flight_seen, self._in_flight)
            return True

    def _release(self) -> None:
        with self._limit_lock:
            self._in_flight -= 1

    def _take_faults(self, method: str, path: str) -> dict[str, Fault]:
        fired: dict[str, Fault] = {}
        with self._faults_lock:
            for fault in self.faults:
                if fault.kind not in fired and fault.matches(method, path):
                    fired[fault.kind] = fault
                    if fault.count > 0:
                        fault.count -= 1
            self.faults = [f for f in self.faults if f.count != 0]
        return fired

    # ------------------------------------------------------------------ answers
    def _json(self, status: int, value: Any, headers: dict[str, str] | None = None) -> _Reply:
        return _Reply(status, encode_json(value), "application/json;charset=UTF-8", headers)

    def _fault(self, fault: QboFault) -> _Reply:
        return self._json(fault.status, fault.body(self.store.now_text()),
                          {"intuit_tid": secrets.token_hex(16)})

    def _auth_fault(self, detail: str) -> _Reply:
        body = {"fault": {"error": [{
            "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
            "detail": detail, "code": "3200"}], "type": "AUTHENTICATION"},
            "time": self.store.now_text()}
        return self._json(401, body, {
            "WWW-Authenticate": 'Bearer realm="Intuit", error="invalid_token"'})

    def _throttle_reply(self) -> _Reply:
        # QuickBooks answers throttling in XML even when JSON was asked for.
        body = (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<IntuitResponse time="{self.store.now_text()}" '
            'xmlns="http://schema.intuit.com/finance/v3">\n'
            '    <Fault type="SERVICE">\n        <Error code="3001">\n'
            "            <Message>message=ThrottleExceeded; errorCode=003001; "
            "statusCode=429</Message>\n"
            "            <Detail>The request limit was reached.  Try again later</Detail>\n"
            "        </Error>\n    </Fault>\n</IntuitResponse>\n")
        return _Reply(429, body.encode(), "application/xml", {"Retry-After": "60"})

    def _server_error(self, fault: Fault) -> _Reply:
        if fault.body == "html":
            page = ("<html><head><title>Service Unavailable</title></head><body>"
                    "<h1>Service Unavailable</h1></body></html>")
            return _Reply(fault.status, page.encode(), "text/html")
        error = QboFault("10000", "An application error has occurred while processing your "
                         "request", "System Failure Error: An unexpected error occurred while "
                         "accessing or saving your data. Please wait a few minutes and try "
                         "again. If the problem persists, contact customer support.",
                         status=fault.status, kind="SystemFault")
        return self._fault(error)

    # ------------------------------------------------------------------ the API
    def handle_api(self, method: str, path: str, query: str, body: bytes,
                   headers: dict[str, str]) -> _Reply:
        self.api_requests += 1
        parts = [p for p in path.split("/") if p]
        # /v3/company/<realm>/<rest...>
        if len(parts) < 4 or parts[1].lower() != "company":
            return self._json(404, {"Fault": {"Error": [{"Message": "Not found",
                                                         "Detail": path, "code": "0"}],
                                              "type": "ValidationFault"}})
        realm = parts[2]
        auth = headers.get("authorization", "")
        token_value = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        token = self.oauth.access(token_value) if token_value else None
        if token is None:
            return self._auth_fault("Token validation failed: the access token is missing "
                                    "or not one this server issued")
        problem = token.problem(self.clock())
        if problem is not None:
            return self._auth_fault(f"{problem}: {token_value[:12]}...")
        if realm != token.grant.realm_id:
            return self._json(403, {"fault": {"error": [{
                "message": "message=ApplicationAuthorizationFailed; errorCode=003100; "
                           "statusCode=403", "detail": "", "code": "3100"}],
                "type": "SERVICE"}, "time": self.store.now_text()})
        fired = self._take_faults(method, path)
        if "expired_token" in fired:
            return self._auth_fault(f"Token expired: {token_value[:12]}...")
        if "drop" in fired:
            return _Reply(0, drop=True)
        if "throttle" in fired:
            self.throttled += 1
            return self._throttle_reply()
        if "server_error" in fired:
            return self._server_error(fired["server_error"])
        if not self._admit():
            return self._throttle_reply()
        try:
            if "slow" in fired:
                time.sleep(fired["slow"].seconds)
            params = dict(parse_qsl(query, keep_blank_values=True))
            lowered = {k.lower(): v for k, v in params.items()}
            request_id = lowered.get("requestid")
            if method == "POST" and request_id is not None and self.honour_requestid:
                if not request_id or len(request_id) > REQUEST_ID_MAX:
                    return self._fault(QboFault(
                        "2010", "Request has invalid or unsupported property",
                        f"requestid must be 1 to {REQUEST_ID_MAX} characters",
                        element="requestid"))
                with self.store.lock:
                    earlier = self._replies.get(request_id)
                    if earlier is not None:
                        return _Reply(earlier[0], earlier[1], "application/json;charset=UTF-8",
                                      {"intuit_tid": secrets.token_hex(16)})
                    reply = self._route(method, parts[3:], lowered, body, headers)
                    if reply.status == 200:
                        self._replies[request_id] = (reply.status, reply.body)
            else:
                reply = self._route(method, parts[3:], lowered, body, headers)
            if "lose_response" in fired:
                return _Reply(0, drop=True)
            return reply
        finally:
            self._release()

    def _route(self, method: str, rest: list[str], params: dict[str, str], body: bytes,
               headers: dict[str, str]) -> _Reply:
        try:
            # Every QuickBooks answer names its transaction id (what Intuit support asks for).
            return self._json(200, self._answer(method, rest, params, body, headers),
                              {"intuit_tid": secrets.token_hex(16)})
        except QboFault as fault:
            return self._fault(fault)
        except QueryError as error:
            return self._fault(QboFault(error.code, error.message, error.detail,
                                        kind="ValidationFault"))

    def _answer(self, method: str, rest: list[str], params: dict[str, str], body: bytes,
                headers: dict[str, str]) -> Record:
        store = self.store
        now = store.now_text()
        name = rest[0].lower()
        if name == "query":
            text = params.get("query")
            if method == "POST" and text is None:
                text = body.decode("utf-8", "replace")
            if not text:
                raise QboFault("4000", "Error parsing query", "QueryParserError: empty query")
            return {"QueryResponse": self._query(text), "time": now}
        if name == "cdc" and method == "GET":
            return {"CDCResponse": [{"QueryResponse": self._cdc(params)}], "time": now}
        entity = _BY_LOWER.get(name)
        if entity is None:
            raise QboFault("4001", "Invalid query", f"Unsupported entity: {rest[0]}",
                           status=400)
        if method == "GET":
            if entity == "Preferences" and len(rest) == 1:
                return {"Preferences": store.require("Preferences", "1"), "time": now}
            if len(rest) != 2:
                raise not_found(entity, "")
            id_ = rest[1]
            if entity == "CompanyInfo" and id_ == self.realm_id:
                id_ = "1"  # Intuit documents companyinfo/<realmId>; the record's Id is 1
            return {entity: store.require(entity, id_), "time": now}
        if method != "POST" or len(rest) != 1:
            raise QboFault("500", "Unsupported Operation",
                           f"Operation {method} is not supported.")
        data = _json_body(body)
        _check_properties(entity, data)
        operation = params.get("operation", "create").lower()
        include = params.get("include", "").lower()
        if operation == "delete":
            if entity not in ("Payment", "CreditMemo", "RefundReceipt", "SalesReceipt",
                              "Invoice"):
                raise QboFault("500", "Unsupported Operation",
                               f"Operation Delete is not supported for {entity}.")
            return {entity: store.delete(entity, data), "time": now}
        if entity == "Payment" and operation == "update" and include == "void":
            return {"Payment": store.void_payment(data), "time": now}
        if entity == "SalesReceipt" and operation == "update" and include == "void":
            return {"SalesReceipt": store.void_sales_receipt(data), "time": now}
        if operation == "void" and entity == "Invoice":
            return {"Invoice": store.void_invoice(data), "time": now}
        if operation == "void":
            # Intuit voids a Payment with ?operation=update&include=void; ?operation=void is
            # for invoices only.
            raise QboFault("500", "Unsupported Operation",
                           f"Operation Void is not supported for {entity}. Void a payment "
                           "with operation=update&include=void and a sparse body (Id, "
                           "SyncToken, sparse=true).")
        if operation not in ("create", "update"):
            raise QboFault("500", "Unsupported Operation",
                           f"Operation {operation} is not supported.")
        if entity == "Payment":
            record = store.update_payment(data) if data.get("Id") else store.create_payment(data)
        elif entity == "Invoice" and data.get("Id"):
            record = store.update_invoice(data)
        elif entity == "Customer" and data.get("Id"):
            record = store.update_customer(data)
        elif entity == "PaymentMethod" and data.get("Id"):
            record = store.update_payment_method(data)
        elif data.get("Id"):
            raise QboFault("500", "Unsupported Operation",
                           f"Updating a {entity} is not supported by this sandbox.")
        elif entity in ("Invoice", "CreditMemo", "RefundReceipt", "SalesReceipt"):
            record = store.create_sales_txn(entity, data)
        elif entity == "Customer":
            record = store.create_customer(data)
        elif entity in ("PaymentMethod", "Item"):
            record = store.create_list_entry(entity, data)
        else:
            raise QboFault("500", "Unsupported Operation",
                           f"Operation Create is not supported for {entity}.")
        return {entity: record, "time": now}

    def _query(self, text: str) -> Record:
        query = parse_query(text, lambda n: _BY_LOWER.get(n.lower()),
                            lambda e: _QUERYABLE.get(e, {"id"}))
        total, records = self.store.run_query(query)
        if query.count:
            return {"totalCount": total}
        if not records:
            return {}
        if query.fields:
            keep = {f.split(".")[0] for f in query.fields} | {"Id", "SyncToken", "domain",
                                                            "sparse"}
            records = [{k: v for k, v in r.items() if k in keep} for r in records]
            for record in records:
                record["sparse"] = True
        return {query.entity: records, "startPosition": query.start,
                "maxResults": len(records)}

    def _cdc(self, params: dict[str, str]) -> list[Record]:
        entities_text = params.get("entities")
        since_text = params.get("changedsince")
        if not entities_text:
            raise QboFault("2020", "Required param missing, need to supply the required value "
                           "for the API", "Required parameter entities is missing in the "
                           "request", element="entities")
        if not since_text:
            raise QboFault("2020", "Required param missing, need to supply the required value "
                           "for the API", "Required parameter changedSince is missing in the "
                           "request", element="changedSince")
        try:
            since = datetime.fromisoformat(since_text.replace("Z", "+00:00"))
        except ValueError:
            raise QboFault("2010", "Request has invalid or unsupported property",
                           f"changedSince {since_text!r} is not a date-time",
                           element="changedSince") from None
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        # QuickBooks' timestamps have whole seconds: compare at that resolution.
        since = since.replace(microsecond=0)
        now = datetime.fromtimestamp(self.clock(), UTC)
        if since < now - timedelta(days=CDC_MAX_DAYS):
            raise QboFault("6000", "A business validation error has occurred while processing "
                           "your request", "Business Validation Error: changedSince is more "
                           f"than {CDC_MAX_DAYS} days ago. Read everything with a query "
                           "instead.", element="changedSince")
        out: list[Record] = []
        budget = CDC_MAX_OBJECTS
        for raw in entities_text.split(","):
            entity = _BY_LOWER.get(raw.strip().lower())
            if entity is None:
                raise QboFault("4001", "Invalid query",
                               f"QueryValidationError: Invalid entity name : {raw}")
            changed = self.store.changed_since(entity, since)[:max(0, budget)]
            budget -= len(changed)
            part: Record = {"startPosition": 1, "maxResults": len(changed)}
            if changed:
                part[entity] = changed
            out.append(part)
        return out

    # ------------------------------------------------------------------ OAuth pages
    def discovery(self) -> Record:
        base = self.url
        return {
            "issuer": f"{base}/op/v1",
            "authorization_endpoint": f"{base}/connect/oauth2",
            "token_endpoint": f"{base}/oauth2/v1/tokens/bearer",
            "userinfo_endpoint": f"{base}/v1/openid_connect/userinfo",
            "revocation_endpoint": f"{base}/oauth2/v1/tokens/revoke",
            "jwks_uri": f"{base}/op/v1/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile", "address", "phone"],
            "token_endpoint_auth_methods_supported": ["client_secret_post",
                                                      "client_secret_basic"],
            "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"],
        }

    def authorize(self, method: str, query: str, body: bytes) -> _Reply:
        if method == "POST":
            form = dict(parse_qsl(body.decode("utf-8", "replace")))
            params = self._pending_consent.pop(form.get("ticket", ""), None)
            if params is None:
                return _page(400, "This sign-in page has expired",
                             "Go back to the app and connect again.")
            if form.get("decision") != "allow":
                return self._redirect(params, {"error": "access_denied"})
            return self._grant(params)
        params = dict(parse_qsl(query, keep_blank_values=True))
        problem = self.oauth.check_authorize(params)
        if problem is not None:
            return _page(400, "Something went wrong", problem)
        if self.consent == "auto":
            return self._grant(params)
        if self.consent == "deny":
            return self._redirect(params, {"error": "access_denied"})
        ticket = secrets.token_urlsafe(16)
        self._pending_consent[ticket] = params
        company = html.escape(self.data.company_name)
        page = (
            f"<p>Connect <b>{company}</b> (company {html.escape(self.realm_id)}) to the app?"
            "</p><form method='post' action='/connect/oauth2'>"
            f"<input type='hidden' name='ticket' value='{ticket}'>"
            "<button name='decision' value='allow' id='connect'>Connect</button> "
            "<button name='decision' value='deny' id='cancel'>Cancel</button></form>")
        return _page(200, "Intuit — connect an app", page, raw=True)

    def _grant(self, params: dict[str, str]) -> _Reply:
        code = self.oauth.issue_code(params["redirect_uri"], params.get("scope", ""))
        return self._redirect(params, {"code": code, "realmId": self.realm_id})

    def _redirect(self, params: dict[str, str], values: dict[str, str]) -> _Reply:
        values = dict(values)
        if "state" in params:
            values["state"] = params["state"]
        target = params["redirect_uri"]
        target += ("&" if "?" in target else "?") + urlencode(values)
        return _Reply(302, b"", "text/plain", {"Location": target})

    def token_endpoint(self, body: bytes, headers: dict[str, str]) -> _Reply:
        client_id, client_secret = _basic(headers.get("authorization", ""))
        form = dict(parse_qsl(body.decode("utf-8", "replace")))
        if client_id is None:
            client_id, client_secret = form.get("client_id"), form.get("client_secret")
        try:
            self.oauth.check_client(client_id, client_secret)
            return self._json(200, self.oauth.token(form), {"Cache-Control": "no-store"})
        except OAuthError as error:
            return self._json(error.status, error.body())

    def revoke_endpoint(self, body: bytes, headers: dict[str, str]) -> _Reply:
        client_id, client_secret = _basic(headers.get("authorization", ""))
        try:
            self.oauth.check_client(client_id, client_secret)
            try:
                data = json.loads(body or b"{}")
            except ValueError:
                data = dict(parse_qsl(body.decode("utf-8", "replace")))
            token = str(data.get("token") or "") if isinstance(data, dict) else ""
            if not token:
                raise OAuthError(400, "invalid_request", "token is missing")
            self.oauth.revoke(token)
            return _Reply(200)
        except OAuthError as error:
            return self._json(error.status, error.body())

    def userinfo(self, headers: dict[str, str]) -> _Reply:
        auth = headers.get("authorization", "")
        token = self.oauth.access(auth[7:].strip()) if auth.lower().startswith("bearer ") \
            else None
        if token is None or token.problem(self.clock()) is not None:
            return self._json(401, {"error": "invalid_token"})
        return self._json(200, {"sub": f"sandbox-user-{self.seed}", "givenName": "Robin",
                                "familyName": "Bookkeeper", "email": "books@example.com",
                                "emailVerified": True})

    # ------------------------------------------------------------------ admin over HTTP
    def handle_admin(self, method: str, path: str, body: bytes,
                     headers: dict[str, str]) -> _Reply:
        if headers.get("authorization", "") != f"Bearer {self.client_secret}":
            return self._json(401, {"error": "Admin endpoints need the sandbox's client "
                                             "secret as a Bearer token."})
        try:
            data: Any = json.loads(body or b"{}", parse_float=Decimal)
        except ValueError:
            return self._json(400, {"error": "Send JSON."})
        if not isinstance(data, dict):
            return self._json(400, {"error": "Send a JSON object."})
        name = path.removeprefix("/_sandbox/").strip("/")
        try:
            return self._json(200, self._admin(method, name, data))
        except (KeyError, TypeError, ValueError) as exc:
            return self._json(400, {"error": str(exc)})
        except QboFault as fault:
            return self._fault(fault)

    def _admin(self, method: str, name: str, data: Record) -> Any:
        if method == "GET" and name == "state":
            return self.snapshot()
        if method == "GET" and name == "disagreements":
            return {"disagreements": self.disagreements()}
        if method == "GET" and name == "payments":
            return self.payment_counts()
        if method == "GET" and name == "writes":
            return {"writes": list(self.store.writes)}
        if method == "POST" and name == "clock":
            return {"clock_offset": self.fast_forward(float(data.get("seconds", 0)))}
        if method == "POST" and name == "tokens/expire":
            return {"expired": self.expire_access_tokens()}
        if method == "POST" and name == "tokens/revoke":
            self.oauth.revoke_all()
            return {"revoked": True}
        if method == "POST" and name == "faults":
            fault = self.add_fault(
                str(data.get("kind")), count=int(data.get("count", 1)),
                path=str(data.get("path", "/v3/")), method=data.get("method"),
                status=int(data.get("status", 500)), seconds=float(data.get("seconds", 0)),
                body=str(data.get("body", "json")))
            return {"added": asdict(fault), "faults": [asdict(f) for f in self.faults]}
        if method == "DELETE" and name == "faults":
            self.clear_faults()
            return {"faults": []}
        if method == "POST" and name == "config":
            if "consent" in data:
                if data["consent"] not in ("auto", "click", "deny"):
                    raise ValueError("consent is auto, click or deny")
                self.consent = str(data["consent"])
            if "requests_per_minute" in data:
                self.requests_per_minute = int(data["requests_per_minute"])
            if "max_concurrent" in data:
                self.max_concurrent = int(data["max_concurrent"])
            if "honour_requestid" in data:
                self.honour_requestid = bool(data["honour_requestid"])
            if "refresh_grace_seconds" in data:
                self.oauth.refresh_grace_seconds = float(data["refresh_grace_seconds"])
            if "multicurrency" in data:
                self.store.set_multicurrency(bool(data["multicurrency"]))
            if "book_close_date" in data:
                value = data["book_close_date"]
                self.store.set_book_close_date(None if value is None
                                               else date.fromisoformat(str(value)))
            return self.snapshot()
        if method == "POST" and name == "touch":
            return {str(data["entity"]): self.touch(str(data["entity"]), str(data["Id"]))}
        if method == "POST" and name == "pay":
            return {"Payment": self.pay_in_quickbooks(str(data["invoice_id"]),
                                                      Decimal(str(data["amount"]))
                                                      if "amount" in data else None)}
        if method == "POST" and name == "export":
            return {"Invoice": self.export_invoice(str(data["autotask_invoice_number"]))}
        raise ValueError(f"unknown admin operation {method} /_sandbox/{name}")


_COMMON = {"Id", "SyncToken", "sparse", "domain", "MetaData", "status"}
_TXN = _COMMON | {"TxnDate", "DocNumber", "PrivateNote", "CurrencyRef", "ExchangeRate",
                  "CustomerRef", "Line", "TotalAmt", "TxnSource", "CustomField", "LinkedTxn",
                  "TxnTaxDetail", "DepartmentRef", "ClassRef", "CustomerMemo", "BillEmail",
                  "BillAddr", "ShipAddr", "ApplyTaxAfterDiscount", "PrintStatus",
                  "EmailStatus", "GlobalTaxCalculation", "TransactionLocationType",
                  "HomeTotalAmt", "Balance", "HomeBalance", "ProjectRef", "RecurDataRef"}
_PROPERTIES: dict[str, set[str]] = {
    "Payment": _TXN | {"DepositToAccountRef", "PaymentMethodRef", "PaymentRefNum",
                       "UnappliedAmt", "ProcessPayment", "ARAccountRef", "CreditCardPayment",
                       "TaxExemptionRef"},
    "SalesReceipt": _TXN | {"DepositToAccountRef", "PaymentMethodRef", "PaymentRefNum",
                            "CreditCardPayment", "DeliveryInfo", "ShipDate", "TrackingNum",
                            "ShipMethodRef", "ShipFromAddr"},
    "RefundReceipt": _TXN | {"DepositToAccountRef", "PaymentMethodRef", "PaymentRefNum",
                             "CheckPayment", "CreditCardPayment", "PaymentType"},
    "CreditMemo": _TXN | {"RemainingCredit", "SalesTermRef", "InvoiceRef"},
    "Invoice": _TXN | {"DueDate", "SalesTermRef", "Deposit", "DepositToAccountRef",
                       "AllowOnlineCreditCardPayment", "AllowOnlineACHPayment",
                       "AllowIPNPayment", "AllowOnlinePayment", "ShipDate", "TrackingNum",
                       "ShipMethodRef", "DeliveryInfo", "InvoiceLink"},
    "Customer": _COMMON | {"DisplayName", "Title", "GivenName", "MiddleName", "FamilyName",
                           "Suffix", "FullyQualifiedName", "CompanyName", "PrintOnCheckName",
                           "Active", "PrimaryPhone", "AlternatePhone", "Mobile", "Fax",
                           "PrimaryEmailAddr", "WebAddr", "BillAddr", "ShipAddr", "Notes",
                           "Job", "BillWithParent", "ParentRef", "Level", "Taxable",
                           "Balance", "BalanceWithJobs", "CurrencyRef",
                           "PreferredDeliveryMethod", "ResaleNum", "SalesTermRef",
                           "PaymentMethodRef", "DefaultTaxCodeRef", "TaxExemptionReasonId"},
    "PaymentMethod": _COMMON | {"Name", "Active", "Type"},
    "Item": _COMMON | {"Name", "Description", "Active", "FullyQualifiedName", "Taxable",
                       "UnitPrice", "Type", "IncomeAccountRef", "ExpenseAccountRef",
                       "PurchaseDesc", "PurchaseCost", "TrackQtyOnHand", "Sku",
                       "SalesTaxIncluded", "SubItem", "ParentRef", "Level"},
}


def _check_properties(entity: str, data: Record) -> None:
    """QuickBooks refuses a body naming a property the entity does not have."""
    known = _PROPERTIES.get(entity)
    if known is None:
        return
    for name in data:
        if name not in known:
            raise QboFault(
                "2010", "Request has invalid or unsupported property",
                f'Property Name:Unrecognized field "{name}" (class '
                f"com.intuit.schema.finance.v3.{entity}), not marked as ignorable specified "
                "is unsupported or invalid", element=name)


def _json_body(body: bytes) -> Record:
    try:
        data = json.loads(body or b"{}", parse_float=Decimal)
    except ValueError:
        raise QboFault("2010", "Request has invalid or unsupported property",
                       "Request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise QboFault("2010", "Request has invalid or unsupported property",
                       "Request body must be a JSON object")
    return data


def _basic(header: str) -> tuple[str | None, str | None]:
    if not header.lower().startswith("basic "):
        return None, None
    try:
        text = base64.b64decode(header[6:].strip()).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None, None
    client_id, _, secret = text.partition(":")
    return client_id, secret


def _page(status: int, title: str, message: str, *, raw: bool = False) -> _Reply:
    text = message if raw else f"<p>{html.escape(message)}</p>"
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title></head><body><h1>{html.escape(title)}</h1>{text}</body></html>")
    return _Reply(status, page.encode(), "text/html; charset=utf-8",
                  {"Cache-Control": "no-store", "X-Frame-Options": "DENY"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    # The default backlog of 5 makes bursts of parallel clients wait a second in SYN retries.
    request_queue_size = 128
    sandbox: QuickBooksOnlineSandbox


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "PayDeskSandboxQuickBooksOnline/1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _dispatch(self, method: str) -> None:
        sandbox = self.server.sandbox
        sandbox.requests_served += 1
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        path = parts.path
        lowered = path.lower()
        try:
            if lowered.startswith("/v3/"):
                reply = sandbox.handle_api(method, path, parts.query, body, headers)
            elif lowered.startswith("/_sandbox/"):
                reply = sandbox.handle_admin(method, path, body, headers)
            elif lowered in ("/.well-known/openid_sandbox_configuration",
                             "/.well-known/openid_configuration") and method == "GET":
                reply = sandbox._json(200, sandbox.discovery())
            elif lowered == "/connect/oauth2" and method in ("GET", "POST"):
                reply = sandbox.authorize(method, parts.query, body)
            elif lowered == "/oauth2/v1/tokens/bearer" and method == "POST":
                reply = sandbox.token_endpoint(body, headers)
            elif lowered == "/oauth2/v1/tokens/revoke" and method == "POST":
                reply = sandbox.revoke_endpoint(body, headers)
            elif lowered == "/v1/openid_connect/userinfo" and method == "GET":
                reply = sandbox.userinfo(headers)
            elif lowered == "/op/v1/jwks" and method == "GET":
                reply = sandbox._json(200, {"keys": []})
            else:
                reply = sandbox._json(404, {"error": "not_found", "path": path})
        except Exception:
            log.exception("QuickBooks Online sandbox failed on %s %s", method, path)
            reply = sandbox._server_error(Fault("server_error"))
        if reply.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if reply.body:
            self.wfile.write(reply.body)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

