"""The Autotask sandbox: a real HTTP server on loopback that behaves like Autotask's REST API.

Start it in-process:

    with AutotaskSandbox(seed=7, companies=500, invoices=5000) as sandbox:
        client = AutotaskClient(sandbox.credentials, discovery_url=sandbox.url)

or from the command line (`paydesk sandbox autotask`, see `cli.py`).

What it serves (paths and header names in any letter case, like Autotask):

* `GET  /atservicesrest/v1.0/zoneInformation?user=` (no authentication, never throttled)
  and `GET /atservicesrest/versioninformation`.
* Under `/atservicesrest/v1.0/` (= `ATServicesRest/V1.0/`): `{Entity}/query` (POST, or GET
  with `?search=`), `query/count`, `query/next` (GET for a query sent as GET; for a POST
  query only POST, GET is 405), `{Entity}/{id}` (GET only; PATCH/PUT there are 405),
  bare `{Entity}` (GET 405, POST create, PATCH/PUT update with the id in the body),
  `entityInformation`,
  `entityInformation/fields`, `entityInformation/userDefinedFields`, `ThresholdInformation`,
  and `Companies/{id}/Notes` (POST create; `.../Notes/query` and top-level `CompanyNotes/query`).
* Autotask's authentication answers (wrong secret 401; unknown user or integration code 500),
  its request limits (`limits.py`) and the fault switches of `faults.py`.
* An admin interface under `/_sandbox/` that is not part of Autotask: read requests, notes
  and PATCHes received; create or change companies and invoices; set any field of any
  record to any value (`PATCH records/{Entity}/{id}`, for damaged-data tests); void or pay
  an invoice; switch faults. The same is available on the `AutotaskSandbox` object.

Published clients work against it unchanged once given the sandbox's zone URL: py-autotask
2.3.0 (get, query, count — it sends `{}` for "all" —, field metadata, child creates; its
`update()` PATCHes `{Entity}/{id}`, which Autotask and the sandbox answer with 405; its
entity-level `query_all` stops after the first page, here as against Autotask, because it
pages by an `offset` Autotask does not have) and atrest 1.0.2 (GET queries with a raw JSON
`search`, creates with capitalised field names).

Threads: one thread per connection (stdlib `ThreadingHTTPServer`); every data access holds
the data set's lock.
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import json
import logging
import random
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from app.core.autotask.dates import parse_autotask_datetime
from app.core.net import is_loopback_host
from app.sandbox.autotask.data import DataSizes, Record, SandboxData, encode_json, project
from app.sandbox.autotask.faults import Faults, ScriptedFault
from app.sandbox.autotask.limits import RequestBudget, ThreadGate
from app.sandbox.autotask.query import QueryError, compile_query, lower_keys
from app.sandbox.autotask.schema import PICKLISTS, EntitySchema, entity_schema

__all__ = ["AutotaskSandbox", "SandboxCredentials"]

log = logging.getLogger(__name__)


_HTML_ERROR = (
    "<!DOCTYPE html>\r\n<html>\r\n<head><title>Runtime Error</title></head>\r\n<body>"
    "<h1>Server Error in '/ATServicesRest' Application.</h1><h2><i>Runtime Error</i></h2>"
    "<p>An application error occurred on the server.</p></body>\r\n</html>\r\n"
)


@dataclass(frozen=True)
class SandboxCredentials:
    """The sandbox's API user (what the CLI prints)."""

    username: str
    secret: str
    integration_code: str


class _HTTPError(Exception):
    def __init__(self, status: int, errors: list[str] | None = None,
                 body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
                 ) -> None:
        super().__init__(status)
        self.status = status
        self.body = body if body is not None else {"errors": errors or []}
        self.headers = headers or {}


def _method_not_allowed(method: str) -> _HTTPError:
    return _HTTPError(405, body={
        "Message": f"The requested resource does not support http method '{method}'."})


class AutotaskSandbox:
    """A local Autotask. Construct, `start()`, use `url` + `credentials`, `stop()`."""

    def __init__(
        self,
        *,
        companies: int = DataSizes.companies,
        contacts: int = DataSizes.contacts,
        contracts: int = DataSizes.contracts,
        tickets: int = DataSizes.tickets,
        invoices: int = DataSizes.invoices,
        lines_per_invoice: float = DataSizes.lines_per_invoice,
        payment_terms: int = DataSizes.payment_terms,
        years: int = DataSizes.years,
        seed: int = 7,
        anchor: date | None = None,
        bad_records: int = 0,
        latency_ms: float = 0.0,
        threshold: int = 10_000,
        time_scale: float = 1.0,
        thread_limit: int = 3,
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = "paydesk-api@sandbox.example",
        secret: str | None = None,
        integration_code: str | None = None,
        warm: bool = False,
    ) -> None:
        if not is_loopback_host(host):
            raise ValueError(f"the sandbox only listens on this computer (not on {host!r})")
        self.sizes = DataSizes(companies=companies, contacts=contacts, contracts=contracts,
                               tickets=tickets, invoices=invoices,
                               lines_per_invoice=lines_per_invoice,
                               payment_terms=payment_terms, years=years)
        self.seed = seed
        self.data = SandboxData(self.sizes, seed=seed, anchor=anchor, bad_records=bad_records)
        for table in self.data.tables.values():
            schema = entity_schema(table.name)
            if schema is not None:
                table.index_fields = _indexed_fields(schema)
        self.faults = faults or Faults()
        if latency_ms:
            self.faults.latency_ms = latency_ms
        self.budget = RequestBudget(threshold=threshold, time_scale=time_scale)
        self.gate = ThreadGate(thread_limit)
        self._host = host
        self._port = port
        self.credentials = SandboxCredentials(
            username=username,
            secret=secret or secrets.token_urlsafe(18),
            integration_code=integration_code or secrets.token_hex(12).upper(),
        )
        self._rng = random.Random(seed * 7919 + 17)
        self._rng_lock = threading.Lock()
        self._stats_lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.requests_total = 0
        self.query_requests = 0
        self.received_patches: list[dict[str, Any]] = []
        self.mutations: list[dict[str, Any]] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._prefetch_lock = threading.Lock()
        self._prefetch_pending: set[tuple[str, int, tuple[str, ...] | None]] = set()
        self._prefetch_wakeup = threading.Event()
        self._prefetch_thread: threading.Thread | None = None
        self.warm = warm
        self._warm_thread: threading.Thread | None = None
        self._last_request = 0.0
        self._active_requests = 0
        self.warmed = False

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> str:
        """Start serving on a background thread; returns `url`."""
        if self._server is not None:
            return self.url
        server = _Server((self._host, self._port), _Handler)
        server.sandbox = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={
            "poll_interval": 0.2}, name="autotask-sandbox", daemon=True)
        self._thread.start()
        self._start_warming()
        return self.url

    def _start_warming(self) -> None:
        if self.warm and self._warm_thread is None:
            self._warm_thread = threading.Thread(target=self._warm_worker, daemon=True,
                                                 name="autotask-sandbox-warm")
            self._warm_thread.start()

    def _warm_worker(self) -> None:
        """Generate every record while idle, in the order a sync reads the entities.

        Generating the seeded data is the sandbox's own cost, not something Autotask
        spends; a long-lived sandbox (the command line's) does it when no request has come
        in for a moment, so that it never competes with serving (the next pages of a
        client that is paging are prepared by `_prefetch`).
        """
        order = ("companies", "contacts", "contracts", "tickets", "invoices", "billingitems")
        for name in order:
            table = self.data.table(name)
            if table is None or not table.count:
                continue
            # Keep every generated chunk: pages (whole or IncludeFields projections) then
            # cost only their JSON, made once per chunk on first use.
            table.keep_all_chunks()
            for number in range(table.num_chunks):
                while (self._active_requests
                       or time.monotonic() - self._last_request < _IDLE_BEFORE_WARMING):
                    if self._server is None:
                        return
                    time.sleep(_IDLE_BEFORE_WARMING / 2)
                if self._server is None:
                    return
                with self.data.lock:
                    if table.is_cached(number):
                        continue
                records = table.generate(number)  # outside the lock: requests go first
                with self.data.lock:
                    if not table.is_cached(number):
                        table.store_chunk(number, records)
        self.warmed = True

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> AutotaskSandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    def wait(self, timeout: float | None = None) -> None:
        """Block until the server thread ends (or `timeout` passes)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def serve_forever(self) -> None:
        """Serve on the calling thread until interrupted (the command line uses this)."""
        if self._server is None:
            server = _Server((self._host, self._port), _Handler)
            server.sandbox = self
            self._server = server
        self._start_warming()
        try:
            self._server.serve_forever(poll_interval=0.5)
        finally:
            self._server.server_close()
            self._server = None

    # ------------------------------------------------------------------ addresses
    @property
    def origin(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        host, port = self._server.server_address[:2]
        host_text = host.decode() if isinstance(host, bytes) else str(host)
        if self._host not in ("", "0.0.0.0", "::"):  # noqa: S104 - compared, never bound
            host_text = self._host
        if ":" in host_text:
            host_text = f"[{host_text}]"
        return f"http://{host_text}:{port}"

    @property
    def url(self) -> str:
        """The discovery base URL (Autotask's is https://webservices.autotask.net/atservicesrest/)."""
        return f"{self.origin}/atservicesrest/"

    @property
    def zone_url(self) -> str:
        """What `zoneInformation` answers: the zone's API base, ending with `/`."""
        return f"{self.origin}/ATServicesRest/"

    @property
    def admin_url(self) -> str:
        return f"{self.origin}/_sandbox/"

    def client_credentials(self) -> Any:
        """The credentials as `app.core.autotask.AutotaskCredentials`."""
        from app.core.autotask import AutotaskCredentials

        c = self.credentials
        return AutotaskCredentials(c.username, c.secret, c.integration_code)

    # ------------------------------------------------------------------ admin (Python side)
    def record(self, entity: str, record_id: int) -> Record | None:
        with self.data.lock:
            table = self.data.table(entity)
            found = table.get(record_id) if table else None
            return dict(found) if found else None

    def records(self, entity: str) -> list[Record]:
        """Every record of an entity, in id order (copies)."""
        with self.data.lock:
            table = self.data.table(entity)
            return [dict(r) for r in table.iter_from(None)] if table else []

    def count(self, entity: str) -> int:
        with self.data.lock:
            table = self.data.table(entity)
            return table.total() if table else 0

    def create_company(self, **fields: Any) -> Record:
        with self.data.lock:
            fields.setdefault("companyName", "New Client LLC")
            return dict(self.data.add_company(fields))

    def change_company(self, company_id: int, **fields: Any) -> Record:
        with self.data.lock:
            changed = self.data.change("Companies", company_id, fields)
        if changed is None:
            raise KeyError(company_id)
        return dict(changed)

    def change_record(self, entity: str, record_id: int, **fields: Any) -> Record:
        """Set any fields of any record to any value, as sent: how tests put damaged data
        (a total of 1E+20, a NUL in a name, NaN, a date in the year 1) in front of a client.
        Decimal values are written as JSON numbers with their digits, `Decimal("NaN")` and
        the infinities as the bare words `NaN` / `Infinity`."""
        with self.data.lock:
            if self.data.table(entity) is None:
                raise KeyError(entity)
            changed = self.data.change(entity, record_id, fields)
        if changed is None:
            raise KeyError(record_id)
        return dict(changed)

    def create_invoice(self, company_id: int,
                       lines: Sequence[tuple[str, Decimal | str, Decimal | str]],
                       *, invoice_day: date | None = None, payment_term: int | None = None,
                       tax_rate: Decimal | str = "0") -> Record:
        """Add an invoice with lines (name, quantity, rate); returns it."""
        with self.data.lock:
            return dict(self.data.add_invoice(
                company_id, [(n, Decimal(str(q)), Decimal(str(r))) for n, q, r in lines],
                invoice_day=invoice_day, payment_term=payment_term,
                tax_rate=Decimal(str(tax_rate))))

    def change_invoice(self, invoice_id: int, **fields: Any) -> Record:
        with self.data.lock:
            changed = self.data.change("Invoices", invoice_id, fields)
        if changed is None:
            raise KeyError(invoice_id)
        return dict(changed)

    def void_invoice(self, invoice_id: int) -> Record:
        with self.data.lock:
            changed = self.data.void_invoice(invoice_id)
        if changed is None:
            raise KeyError(invoice_id)
        return dict(changed)

    def pay_invoice(self, invoice_id: int, day: date | None = None) -> Record:
        with self.data.lock:
            changed = self.data.pay_invoice(invoice_id, day)
        if changed is None:
            raise KeyError(invoice_id)
        return dict(changed)

    def notes(self) -> list[Record]:
        """Company notes received from clients, oldest first."""
        return self.records("CompanyNotes")

    def patches(self) -> list[dict[str, Any]]:
        """Every PATCH/PUT received: `{"entity", "id", "fields", "at"}`."""
        with self._stats_lock:
            return [dict(p) for p in self.received_patches]

    def request_counts(self) -> dict[str, int]:
        """Requests by `"METHOD entity"` (lower-case entity) plus `"total"`."""
        with self._stats_lock:
            counts = dict(self.requests)
            counts["total"] = self.requests_total
            return counts

    def max_in_flight(self, entity: str | None = None) -> int:
        """Highest number of concurrent requests seen on one entity (or any)."""
        if entity is None:
            return max(self.gate.max_seen.values(), default=0)
        return self.gate.max_seen.get(entity.lower(), 0)

    def reset_counters(self) -> None:
        with self._stats_lock:
            self.requests.clear()
            self.requests_total = 0
        self.gate.reset_stats()

    def set_usage(self, used: int) -> None:
        """Set the hourly counter to `used` requests (as if other programs had used them)."""
        self.budget.reset()
        self.budget.preload(used)

    def fail_next(self, times: int = 1, **kwargs: Any) -> ScriptedFault:
        """Make the next `times` matching requests fail (see `ScriptedFault`)."""
        fault = ScriptedFault(times=times, **kwargs)
        with self._rng_lock:
            self.faults.scripted.append(fault)
        return fault

    @property
    def bad_record_ids(self) -> dict[int, str]:
        """Invoice id → kind of damage, for the deliberately malformed invoices."""
        return dict(self.data.bad_invoice_ids)

    def stats(self) -> dict[str, Any]:
        return {
            "requests": self.request_counts(),
            "maxInFlight": dict(self.gate.max_seen),
            "threadRefusals": self.gate.refusals,
            "thresholdUsed": self.budget.used(),
            "threshold": self.budget.threshold,
            "notes": len(self.data.notes.extra),
            "patches": len(self.received_patches),
            "mutations": list(self.mutations),
            "warmed": self.warmed,
        }

    # ------------------------------------------------------------------ internals
    def _count(self, method: str, entity: str) -> None:
        with self._stats_lock:
            self.requests[f"{method} {entity.lower()}"] += 1
            self.requests_total += 1

    def _random(self) -> float:
        with self._rng_lock:
            return self._rng.random()

    def _take_scripted(self, method: str, path: str) -> ScriptedFault | None:
        with self._rng_lock:
            for fault in self.faults.scripted:
                if fault.times > 0 and fault.matches(method, path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.scripted.remove(fault)
                    return fault
        return None

    def _mutate(self) -> None:
        """Change something, as a colleague in Autotask would during a sync."""
        data = self.data
        with self._rng_lock:
            choice = self._rng.randrange(4)
            pick = self._rng.random()
        with data.lock:
            invoices = data.invoices
            if choice == 0 or not invoices.total():
                record = data.add_company({"companyName": f"Walk-in Client {len(self.mutations)}"
                                                          " & Sons"})
                what = {"kind": "company created", "id": record["id"]}
            elif choice == 3:
                company = data.companies.id_at(int(pick * data.companies.count))
                record = data.add_invoice(company, [("Remote support", Decimal("1.50"),
                                                     Decimal("125.00"))])
                what = {"kind": "invoice created", "id": record["id"]}
            else:
                index = int(pick * invoices.count)
                target = invoices.id_at(index) if invoices.count else invoices.extra[0]["id"]
                if choice == 1:
                    data.void_invoice(target)
                    what = {"kind": "invoice voided", "id": target}
                else:
                    data.pay_invoice(target)
                    what = {"kind": "invoice paid", "id": target}
        self.mutations.append(what)

    def _serialize(self, table_name: str, record: Record) -> bytes:
        table = self.data.table(table_name)
        assert table is not None
        record_id = record["id"]
        if record_id in table.overrides or table.index_of(record_id) is None:
            return table.json_for(record)  # changed or appended: cached until it changes
        return encode_json(record)

    def _prefetch(self, table_name: str, last_id: int,
                  include: tuple[str, ...] | None = None) -> None:
        """Prepare the chunk after `last_id` in the background while the client reads.

        A client paging with `id gt` asks for it next; generating and serialising it while
        the client parses the current page keeps the first read of a large data set fast.
        """
        table = self.data.table(table_name)
        if table is None or table.count == 0:
            return
        first = table.chunk_after(last_id)
        if first is None:
            return
        wanted = [n for n in range(first, min(first + _PREFETCH_AHEAD, table.num_chunks))
                  if not table.is_serialized(n, include)]
        if not wanted:
            return
        with self._prefetch_lock:
            self._prefetch_pending.update((table_name, n, include) for n in wanted)
            if self._prefetch_thread is None or not self._prefetch_thread.is_alive():
                self._prefetch_thread = threading.Thread(
                    target=self._prefetch_worker, name="autotask-sandbox-prefetch", daemon=True)
                self._prefetch_thread.start()
            self._prefetch_wakeup.set()

    def _prefetch_worker(self) -> None:
        while self._server is not None:
            if not self._prefetch_wakeup.wait(timeout=1.0):
                continue
            with self._prefetch_lock:
                if not self._prefetch_pending:
                    self._prefetch_wakeup.clear()
                    continue
                job = min(self._prefetch_pending, key=lambda item: item[1])
                self._prefetch_pending.discard(job)
            table_name, number, include = job
            table = self.data.table(table_name)
            if table is None:
                continue
            # Generate and encode outside the lock so requests are not held up; generated
            # records depend only on the seed, so the result is the same either way.
            with self.data.lock:
                if table.is_serialized(number, include):
                    continue
                records = table.cached_chunk(number)
            if records is None:
                records = table.generate(number)
            entries = table.encode_chunk(records, include)
            with self.data.lock:
                if not table.is_cached(number):
                    table.store_chunk(number, records)
                table.store_serialized(number, include, entries)


_MAX_QUERY_STRING = 2048
_HTML_QUERY_TOO_LONG = (
    "<!DOCTYPE html><html><head><title>404 - Not Found</title></head><body>"
    "<h1>HTTP Error 404.15 - Not Found</h1><p>The request filtering module is configured to "
    "deny a request where the query string is too long.</p></body></html>"
)

_IDLE_BEFORE_WARMING = 0.1
"""Seconds with no API request in progress or just answered before warming takes a chunk."""

_PREFETCH_AHEAD = 2
"""Chunks prepared ahead of a client paging by id (each chunk is 1,000 records)."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True
    sandbox: AutotaskSandbox

    def server_activate(self) -> None:
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().server_activate()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.connections_lock:
                self.connections.discard(request)

    def close_connections(self) -> None:
        """End kept-alive connections so their threads finish when the sandbox stops."""
        with self.connections_lock:
            open_now = list(self.connections)
        for connection in open_now:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)


def _entity_info(schema: EntitySchema) -> dict[str, Any]:
    return {"info": {
        "name": schema.name,
        "canCreate": schema.can_create,
        "canDelete": False,
        "canQuery": schema.can_query,
        "canUpdate": schema.can_update,
        "hasUserDefinedFields": schema.has_udfs,
        "supportsWebhookCallouts": schema.name in ("Companies", "Contacts", "Tickets"),
        "userAccessForCreate": "All" if schema.can_create else "None",
        "userAccessForDelete": "None",
        "userAccessForQuery": "All",
        "userAccessForUpdate": "All" if schema.can_update else "None",
    }}


def _picklist_values(name: str, data: SandboxData) -> list[dict[str, Any]]:
    if name == "paymentTerm":
        values = {int(t["id"]): str(t["name"]) for t in data.payment_terms}
    else:
        values = PICKLISTS.get(name, {})
    return [
        {"value": str(code), "label": label, "isDefaultValue": False, "sortOrder": order,
         "parentValue": "", "isActive": True, "isSystem": name != "paymentTerm"}
        for order, (code, label) in enumerate(values.items())
    ]


def _fields_info(schema: EntitySchema, data: SandboxData) -> dict[str, Any]:
    return {"fields": [
        {
            "name": spec.name,
            "dataType": spec.data_type,
            "length": spec.length or 0,
            "isRequired": spec.required,
            "isReadOnly": spec.read_only,
            "isQueryable": spec.queryable,
            "isReference": spec.name.endswith("ID") and spec.name != "id",
            "referenceEntityType": "",
            "isPickList": spec.picklist is not None,
            "picklistValues": _picklist_values(spec.picklist, data) if spec.picklist else None,
            "picklistParentValueField": "",
            "isSupportedWebhookField": False,
        }
        for spec in schema.fields
    ]}


def _udf_info(schema: EntitySchema) -> dict[str, Any]:
    if not schema.has_udfs:
        return {"fields": []}
    name = "Billing Email" if schema.name == "Companies" else "Notes for Billing"
    return {"fields": [{
        "name": name, "dataType": "string", "length": 255, "isRequired": False,
        "isReadOnly": False, "isQueryable": True, "isReference": False,
        "referenceEntityType": "", "isPickList": False, "picklistValues": None,
        "picklistParentValueField": "", "isSupportedWebhookField": False,
    }]}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    server_version = "Microsoft-IIS/10.0"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("autotask sandbox: " + format, *args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # ------------------------------------------------------------------ plumbing
    @property
    def sandbox(self) -> AutotaskSandbox:
        return self.server.sandbox

    _gate_key: tuple[str, str] | None = None

    def _release_gate(self) -> None:
        """The request is done once its answer is ready: free its thread slot before
        sending, so a client that starts its next request on receipt is not refused."""
        if self._gate_key is not None:
            self.sandbox.gate.leave(*self._gate_key)
            self._gate_key = None

    def _send(self, status: int, body: bytes, content_type: str = "application/json; "
              "charset=utf-8", headers: dict[str, str] | None = None) -> None:
        self._release_gate()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, status: int, value: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, encode_json(value), headers=headers)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _json_body(self, raw: bytes) -> Any:
        if not raw.strip():
            return None
        try:
            return json.loads(raw, parse_float=Decimal)
        except ValueError:
            raise _HTTPError(500, ["The request body is not valid JSON."]) from None

    def _fault_response(self, *, status: int, body_kind: str, message: str,
                        retry_after: float | None = None) -> None:
        headers = {}
        if retry_after is not None:
            headers["Retry-After"] = _retry_after_text(retry_after)
        if body_kind == "html":
            self._send(status, _HTML_ERROR.encode(), "text/html; charset=utf-8", headers)
        elif body_kind == "empty":
            self._send(status, b"", "text/plain", headers)
        else:
            self._send_json(status, {"errors": [message]}, headers)

    def _drop(self) -> None:
        """Close the connection without answering (what a dropped connection looks like)."""
        self.close_connection = True

    # ------------------------------------------------------------------ dispatch
    def _dispatch(self, method: str) -> None:
        split = urlsplit(self.path)
        original = [s for s in split.path.split("/") if s]
        lowered = [s.lower() for s in original]
        params = {k.lower(): v[-1] for k, v in parse_qs(split.query).items()}
        raw = self._read_body()
        try:
            if lowered[:1] == ["_sandbox"]:
                self._admin(method, lowered[1:], original[1:], raw, params)
                return
            scripted = self.sandbox._take_scripted(method, split.path)
            if scripted is not None:
                self.sandbox._count(method, _entity_key(lowered))
                if scripted.delay_ms:
                    time.sleep(scripted.delay_ms / 1000)
                if scripted.drop:
                    self._drop()
                    return
                self._fault_response(status=scripted.status, body_kind=scripted.body,
                                     message=scripted.message, retry_after=scripted.retry_after)
                return
            if len(split.query) > _MAX_QUERY_STRING:
                # IIS refuses long query strings before Autotask sees them: use POST.
                self._send(404, _HTML_QUERY_TOO_LONG.encode(), "text/html; charset=utf-8")
                return
            if lowered[:1] != ["atservicesrest"]:
                raise _HTTPError(404, ["The requested resource was not found."])
            rest, rest_original = lowered[1:], original[1:]
            if rest == ["versioninformation"]:
                self._send_json(200, {"apiVersions": ["1.0"]})
                return
            if not rest or rest[0] != "v1.0":
                raise _HTTPError(404, ["The requested resource was not found."])
            rest, rest_original = rest[1:], rest_original[1:]
            if rest == ["zoneinformation"]:
                self._zone_information(method, params)
                return
            self._api(method, rest, rest_original, raw, params)
        except _HTTPError as error:
            self._send_json(error.status, error.body, error.headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _zone_information(self, method: str, params: dict[str, str]) -> None:
        self.sandbox._count(method, "zoneinformation")  # counted, never throttled
        if method != "GET":
            raise _method_not_allowed(method)
        user = params.get("user", "")
        if user.strip().lower() != self.sandbox.credentials.username.lower():
            raise _HTTPError(500, ["Zone information could not be determined"])
        self._send_json(200, {
            "zoneName": "Sandbox (this computer)",
            "url": self.sandbox.faults.zone_url or self.sandbox.zone_url,
            "webUrl": f"{self.sandbox.origin}/_sandbox/",
            "ci": 400000 + self.sandbox.seed,
        })

    def _authenticate(self) -> str:
        creds = self.sandbox.credentials
        user = (self.headers.get("UserName") or "").strip()
        code = (self.headers.get("ApiIntegrationCode") or "").strip()
        secret = self.headers.get("Secret") or ""
        if user.lower() != creds.username.lower():
            raise _HTTPError(500, [f"User {user or '(none)'} not found or not authenticated."
                                   if user else "UserName header is missing."])
        if code != creds.integration_code:
            raise _HTTPError(500, ["IntegrationCode is invalid."])
        if not secrets.compare_digest(secret.encode(), creds.secret.encode()):
            raise _HTTPError(401, ["Authorization has been denied for this request."])
        return code

    def _api(self, method: str, rest: list[str], original: list[str], raw: bytes,
             params: dict[str, str]) -> None:
        sandbox = self.sandbox
        with sandbox._stats_lock:
            sandbox._active_requests += 1
        try:
            self._api_call(method, rest, original, raw, params)
        finally:
            with sandbox._stats_lock:
                sandbox._active_requests -= 1
                sandbox._last_request = time.monotonic()

    def _api_call(self, method: str, rest: list[str], original: list[str], raw: bytes,
                  params: dict[str, str]) -> None:
        sandbox = self.sandbox
        entity_key = rest[0] if rest else ""
        sandbox._count(method, entity_key)  # every request received, refused ones too
        code = self._authenticate()
        admission = sandbox.budget.admit()
        if not admission.allowed:
            raise _HTTPError(429, [
                f"The request threshold of {sandbox.budget.threshold} requests per "
                f"{sandbox.budget.timeframe_minutes} minutes has been exceeded. "
                "Please try again later."],
                headers={"Retry-After": _retry_after_text(admission.retry_after)})
        faults = sandbox.faults
        if faults.redirect_to:
            target = faults.redirect_to.rstrip("/") + self.path
            self._send(307, b"", "text/plain", {"Location": target})
            return
        if not sandbox.gate.enter(code, entity_key):
            raise _HTTPError(faults.thread_refusal_status, [
                "Thread Threshold Exceeded: Error code Itgenatr005 - The threshold of "
                f"{sandbox.gate.limit} threads has been exceeded for integration code "
                f"requests to the {original[0] if original else ''} endpoint."],
                headers={"Retry-After": _retry_after_text(1.0 / sandbox.budget.time_scale)})
        self._gate_key = (code, entity_key)
        try:
            delay = admission.added_latency + faults.latency_ms / 1000
            if faults.latency_jitter_ms:
                delay += sandbox._random() * faults.latency_jitter_ms / 1000
            if faults.slow_rate and sandbox._random() < faults.slow_rate:
                delay += faults.slow_ms / 1000
            if delay > 0:
                time.sleep(delay)
            if faults.drop_rate and sandbox._random() < faults.drop_rate:
                self._drop()
                return
            if faults.error_rate and sandbox._random() < faults.error_rate:
                self._fault_response(status=faults.error_status,
                                     body_kind=faults.error_body,
                                     message="An unexpected error occurred on the server.")
                return
            self._route(method, rest, original, raw, params)
        finally:
            self._release_gate()

    def _schema(self, name: str) -> EntitySchema:
        schema = entity_schema(name)
        if schema is None:
            raise _HTTPError(404, body={
                "Message": f"No HTTP resource was found that matches the request URI "
                           f"'{self.sandbox.origin}{self.path}'."})
        return schema

    def _route(self, method: str, rest: list[str], original: list[str], raw: bytes,
               params: dict[str, str]) -> None:
        if rest == ["thresholdinformation"]:
            if method != "GET":
                raise _method_not_allowed(method)
            budget = self.sandbox.budget
            self._send_json(200, {"externalRequestThreshold": budget.threshold,
                                  "requestThresholdTimeframe": budget.timeframe_minutes,
                                  "currentTimeframeRequestCount": budget.used()})
            return
        if not rest:
            raise _HTTPError(404, ["The requested resource was not found."])
        # Child collection: Companies/{id}/Notes[/...]
        if len(rest) >= 3 and rest[1].isdigit() and rest[0] == "companies" and rest[2] == "notes":
            self._company_notes(method, int(rest[1]), rest[3:], raw, params)
            return
        schema = self._schema(rest[0])
        tail = rest[1:]
        if not tail:
            self._entity_root(method, schema, raw)
        elif tail[0] == "query":
            self._query_routes(method, schema, tail[1:], raw, params)
        elif tail[0] == "entityinformation":
            if method != "GET":
                raise _method_not_allowed(method)
            if tail[1:] == []:
                self._send_json(200, _entity_info(schema))
            elif tail[1:] == ["fields"]:
                self._send_json(200, _fields_info(schema, self.sandbox.data))
            elif tail[1:] == ["userdefinedfields"]:
                self._send_json(200, _udf_info(schema))
            else:
                raise _HTTPError(404, ["The requested resource was not found."])
        elif len(tail) == 1 and tail[0].lstrip("-").isdigit():
            if method == "GET":
                self._get_item(schema, int(tail[0]))
            elif method == "DELETE":
                raise _HTTPError(500, [f"{schema.name} cannot be deleted through the API."])
            else:
                raise _method_not_allowed(method)
        else:
            raise _HTTPError(404, ["The requested resource was not found."])

    # ------------------------------------------------------------------ reads
    def _get_item(self, schema: EntitySchema, record_id: int,
                  parent: tuple[str, int] | None = None) -> None:
        sandbox = self.sandbox
        with sandbox.data.lock:
            table = sandbox.data.table(schema.name)
            record = table.get(record_id) if table else None
            if record is not None and parent and record.get(parent[0]) != parent[1]:
                record = None
            body = (b'{"item":' + sandbox._serialize(schema.name, record) + b"}"
                    if record is not None else b'{"item":null}')
        self._send(200, body)

    def _search_body(self, method: str, raw: bytes, params: dict[str, str]) -> Any:
        if method == "GET":
            search = params.get("search")
            if not search:
                raise _HTTPError(500, ["The search parameter is required."])
            try:
                return json.loads(search, parse_float=Decimal)
            except ValueError:
                raise _HTTPError(500, ["The search parameter is not valid JSON."]) from None
        if method != "POST":
            raise _method_not_allowed(method)
        body = self._json_body(raw)
        if body is None and params.get("search"):
            return self._search_body("GET", raw, params)
        return body

    def _query_routes(self, method: str, schema: EntitySchema, tail: list[str], raw: bytes,
                      params: dict[str, str], extra_filter: dict[str, Any] | None = None
                      ) -> None:
        if tail not in ([], ["count"], ["next"]):
            raise _HTTPError(404, ["The requested resource was not found."])
        after: int | None = None
        via_get = method == "GET"
        if tail == ["next"]:
            # The next page of a query sent as GET is read with GET (published clients
            # follow it so, and Autotask serves it); that of a POST query only by POST.
            after, asked_by_get = _decode_paging(params.get("paging"))
            if via_get and not asked_by_get:
                raise _method_not_allowed("GET")
        body = self._search_body(method, raw, params)
        if not isinstance(body, dict):
            raise _HTTPError(500, ["A query body with a filter is required."])
        if extra_filter is not None:
            body = lower_keys(body)
            body["filter"] = [extra_filter, *list(body.get("filter") or [])]
        try:
            compiled = compile_query(schema, body)
        except QueryError as error:
            raise _HTTPError(500, [str(error)]) from None
        if tail == ["count"]:
            self._count(schema, compiled)
            return
        sandbox = self.sandbox
        sandbox.query_requests += 1
        every = sandbox.faults.mutate_every
        if every and sandbox.query_requests % every == 0:
            sandbox._mutate()
        self._query(schema, compiled, body, after, params, via_get=via_get)

    def _count(self, schema: EntitySchema, compiled: Any) -> None:
        data = self.sandbox.data
        with data.lock:
            table = data.table(schema.name)
            assert table is not None
            predicate = compiled.predicate
            if compiled.id_only:
                # Ids alone: counted from the id scheme, without reading any record.
                total = table.count_after(compiled.after_id)
                if compiled.before_id is not None:
                    total -= table.count_after(compiled.before_id)
                total = max(0, total)
            else:
                total = sum(1 for r in _matching(table, compiled, compiled.after_id)
                            if predicate(r))
        self._send_json(200, {"queryCount": total})

    def _query(self, schema: EntitySchema, compiled: Any, body: dict[str, Any],
               after: int | None, params: dict[str, str], *, via_get: bool = False) -> None:
        sandbox = self.sandbox
        data = sandbox.data
        limit = compiled.max_records
        start = compiled.after_id
        if after is not None and (start is None or after > start):
            start = after
        ceiling = compiled.before_id
        include = compiled.include_fields
        parts: list[bytes] = []
        records: list[Record] = []
        more = False
        last_id: int | None = None
        twice = set(sandbox.faults.duplicate_ids)
        blank = {i for entity, ids in sandbox.faults.blank_ids.items()
                 if entity.lower() == schema.name.lower() for i in ids}
        with data.lock:
            table = data.table(schema.name)
            assert table is not None
            predicate = compiled.predicate
            name = schema.name
            if compiled.id_only:
                # Paging by id alone (what careful clients do): ready-made JSON per record.
                for record_id, raw in table.iter_json_from(start, include):
                    if ceiling is not None and record_id > ceiling:
                        break
                    if len(parts) == limit:
                        more = True
                        break
                    if record_id in blank:
                        raw = _without_id(raw)
                    parts.append(raw)
                    if record_id in twice:
                        parts.append(raw)
                    last_id = record_id
            else:
                for record in _matching(table, compiled, start):
                    if not predicate(record):
                        continue
                    if len(parts) + len(records) == limit:
                        more = True
                        break
                    copies = 2 if record["id"] in twice else 1
                    for _ in range(copies):
                        if include is None:
                            raw = sandbox._serialize(name, record)
                            parts.append(_without_id(raw) if record["id"] in blank else raw)
                        else:
                            records.append(
                                {**record, "id": None} if record["id"] in blank else record)
                    last_id = record["id"]
        # Records are never changed in place (a change stores a new dict), so a page's
        # projection is encoded after the lock is released.
        parts.extend(encode_json(project(record, include)) for record in records
                     if include is not None)
        if more and include is not None and "id" not in include:
            raise _HTTPError(500, [
                "IncludeFields must contain id when the query returns more than "
                f"{limit} records."])
        if more and last_id is not None and compiled.id_only:
            sandbox._prefetch(schema.name, last_id, include)
        next_url = None
        if more and last_id is not None:
            next_url = self._next_url(schema, body, last_id, limit, params, via_get=via_get)
        details = encode_json({"count": len(parts), "requestCount": limit,
                               "prevPageUrl": None, "nextPageUrl": next_url})
        self._send(200, b'{"items":[' + b",".join(parts) + b'],"pageDetails":' + details + b"}")

    def _next_url(self, schema: EntitySchema, body: dict[str, Any], last_id: int, limit: int,
                  params: dict[str, str], *, via_get: bool = False) -> str:
        state: dict[str, Any] = {"lastId": last_id, "max": limit}
        if via_get:
            state["get"] = True
        paging = base64.urlsafe_b64encode(json.dumps(state).encode()).decode()
        origin = self.sandbox.origin
        host = self.sandbox.faults.next_page_host
        if host:
            origin = f"http://{host}"
        search = quote(encode_json(body).decode())
        return (f"{origin}/ATServicesRest/V1.0/{schema.name}/query/next?paging={paging}"
                f"&search={search}")

    # ------------------------------------------------------------------ writes
    def _entity_root(self, method: str, schema: EntitySchema, raw: bytes) -> None:
        if method == "GET":
            raise _method_not_allowed("GET")
        if method == "POST":
            if not schema.can_create or schema.name == "CompanyNotes":
                raise _HTTPError(500, [
                    f"{schema.name} cannot be created through the API."
                    if schema.name != "CompanyNotes" else
                    "CompanyNotes are created through their parent: POST Companies/{id}/Notes."])
            fields = self._json_body(raw)
            if not isinstance(fields, dict):
                raise _HTTPError(500, ["The request body must be an object."])
            record = self._create(schema, fields)
            self._send_json(200, {"itemId": record["id"]})
            return
        if method in ("PATCH", "PUT"):
            fields = self._json_body(raw)
            if not isinstance(fields, dict):
                raise _HTTPError(500, ["The request body must be an object."])
            record_id = self._update(schema, fields, replace=method == "PUT")
            self._send_json(200, {"itemId": record_id})
            return
        raise _method_not_allowed(method)

    def _validate_fields(self, schema: EntitySchema, fields: dict[str, Any], *,
                         creating: bool) -> dict[str, Any]:
        clean: dict[str, Any] = {}
        for key, value in fields.items():
            if key.lower() in ("id", "userdefinedfields"):
                continue
            spec = schema.field(key)
            if spec is None:
                raise _HTTPError(500, [f"Unable to find {key} in the {schema.name} entity."])
            if spec.read_only and not (creating and spec.name in ("companyID",)):
                raise _HTTPError(500, [f"The field {spec.name} is read-only."])
            clean[spec.name] = self._field_value(schema, spec.name, spec.data_type, value,
                                                 spec.length)
        if creating:
            missing = [s.name for s in schema.fields if s.required and clean.get(s.name) in
                       (None, "")]
            if missing:
                raise _HTTPError(500, [f"Required field {m} is missing a value."
                                       for m in missing])
        return clean

    def _field_value(self, schema: EntitySchema, name: str, kind: str, value: Any,
                     length: int | None) -> Any:
        if value is None:
            return None
        kind = kind.lower()
        if kind in ("datetime", "date"):
            if not isinstance(value, str):
                raise _HTTPError(500, [f"The value for {name} is not a valid date."])
            try:
                moment = parse_autotask_datetime(value)
            except ValueError:
                raise _HTTPError(500, [f"The value for {name} is not a valid date."]) from None
            if schema.name == "Invoices" and name == "paidDate":
                assert moment is not None
                return value[:10] + "T00:00:00"  # Autotask keeps the date only
            return value
        if kind == "boolean":
            if not isinstance(value, bool):
                raise _HTTPError(500, [f"The value for {name} must be true or false."])
            return value
        if kind in ("integer", "long", "short"):
            if isinstance(value, bool) or not isinstance(value, int):
                raise _HTTPError(500, [f"The value for {name} must be a whole number."])
            return value
        if kind in ("decimal", "double"):
            return Decimal(str(value))
        text = str(value)
        if length and len(text) > length:
            raise _HTTPError(500, [f"The value for {name} is longer than {length} characters."])
        return text

    def _create(self, schema: EntitySchema, fields: dict[str, Any]) -> Record:
        clean = self._validate_fields(schema, fields, creating=True)
        data = self.sandbox.data
        with data.lock:
            if schema.name == "Companies":
                return data.add_company(clean)
            table = data.table(schema.name)
            assert table is not None
            record: Record = {spec.name: None for spec in schema.fields}
            record.update(clean)
            record["id"] = table.next_id()
            now = data.now_text()
            for spec in schema.fields:  # what Autotask stamps on a new record
                if spec.read_only and spec.data_type == "dateTime" and spec.name.startswith(
                        ("create", "lastModified", "lastTracked", "lastActivity")):
                    record[spec.name] = now
            if schema.name == "Tickets":
                record["ticketNumber"] = f"T{now[:10].replace('-', '')}.{record['id'] % 10000:04d}"
            table.append(record)
            return record

    def _update(self, schema: EntitySchema, fields: dict[str, Any], *, replace: bool) -> int:
        if not schema.can_update:
            raise _HTTPError(500, [f"{schema.name} cannot be updated through the API."])
        raw_id = lower_keys(fields).get("id")
        if isinstance(raw_id, bool) or not isinstance(raw_id, int):
            raise _HTTPError(500, ["The id of the record to update is missing."])
        if replace:
            writable = {s.name: None for s in schema.fields if not s.read_only}
            writable.update({k: v for k, v in fields.items() if k.lower() != "id"})
            fields = writable
        clean = self._validate_fields(schema, fields, creating=False)
        data = self.sandbox.data
        with data.lock:
            changed = data.change(schema.name, raw_id, clean)
        if changed is None:
            raise _HTTPError(500, [f"{schema.name} with id {raw_id} was not found."])
        with self.sandbox._stats_lock:
            self.sandbox.received_patches.append({
                "entity": schema.name, "id": raw_id, "fields": clean,
                "method": "PUT" if replace else "PATCH", "at": data.now_text()})
        return raw_id

    def _company_notes(self, method: str, company_id: int, tail: list[str], raw: bytes,
                       params: dict[str, str]) -> None:
        schema = self._schema("CompanyNotes")
        data = self.sandbox.data
        with data.lock:
            exists = data.companies.get(company_id) is not None
        if not tail:
            if method == "POST":
                if not exists:
                    raise _HTTPError(500, [f"Company with id {company_id} was not found."])
                fields = self._json_body(raw)
                if not isinstance(fields, dict):
                    raise _HTTPError(500, ["The request body must be an object."])
                body_company = lower_keys(fields).get("companyid")
                if body_company is not None and body_company != company_id:
                    raise _HTTPError(500, ["companyID does not match the parent company."])
                fields = {k: v for k, v in fields.items() if k.lower() != "companyid"}
                clean = self._validate_fields(schema, fields, creating=False)
                missing = [s.name for s in schema.fields if s.required and s.name != "companyID"
                           and clean.get(s.name) in (None, "")]
                if missing:
                    raise _HTTPError(500, [f"Required field {m} is missing a value."
                                           for m in missing])
                clean["companyID"] = company_id
                with data.lock:
                    note = data.add_note(clean)
                self._send_json(200, {"itemId": note["id"]})
                return
            raise _method_not_allowed(method)
        if tail[0] == "query":
            self._query_routes(method, schema, tail[1:], raw, params, extra_filter={
                "op": "eq", "field": "companyID", "value": company_id})
            return
        if len(tail) == 1 and tail[0].isdigit() and method == "GET":
            self._get_item(schema, int(tail[0]), parent=("companyID", company_id))
            return
        raise _HTTPError(404, ["The requested resource was not found."])

    # ------------------------------------------------------------------ admin interface
    def _admin(self, method: str, path: list[str], original: list[str], raw: bytes,
               params: dict[str, str]) -> None:
        sandbox = self.sandbox
        body = self._json_body(raw) if raw else None
        fields = body if isinstance(body, dict) else {}
        try:
            if path in ([], ["info"]) and method == "GET":
                self._send_json(200, {
                    "url": sandbox.url, "zoneUrl": sandbox.zone_url,
                    "username": sandbox.credentials.username,
                    "integrationCode": sandbox.credentials.integration_code,
                    "seed": sandbox.seed, "sizes": sandbox.sizes.__dict__,
                    "counts": {name: t.total() for name, t in sandbox.data.tables.items()},
                    "badRecords": {str(k): v for k, v in sandbox.bad_record_ids.items()},
                })
            elif path == ["stats"] and method == "GET":
                self._send_json(200, sandbox.stats())
            elif path == ["stats", "reset"] and method == "POST":
                sandbox.reset_counters()
                self._send_json(200, {"ok": True})
            elif path == ["usage"] and method in ("POST", "PUT"):
                sandbox.set_usage(int(fields.get("used", 0)))
                self._send_json(200, {"used": sandbox.budget.used()})
            elif path == ["notes"] and method == "GET":
                self._send_json(200, {"items": sandbox.notes()})
            elif path == ["patches"] and method == "GET":
                self._send_json(200, {"items": sandbox.patches()})
            elif path == ["faults"] and method == "GET":
                self._send_json(200, sandbox.faults.to_json())
            elif path == ["faults"] and method in ("PUT", "PATCH", "POST"):
                sandbox.faults.update(fields)
                self._send_json(200, sandbox.faults.to_json())
            elif path == ["faults", "next"] and method == "POST":
                options = ScriptedFault.from_json({"times": 1, **fields}).__dict__
                fault = sandbox.fail_next(**options)
                self._send_json(200, fault.__dict__)
            elif path == ["companies"] and method == "POST":
                self._send_json(200, sandbox.create_company(**fields))
            elif len(path) == 2 and path[0] in ("companies", "invoices") and method == "GET":
                record = sandbox.record(path[0], int(path[1]))
                self._send_json(200 if record else 404, {"item": record})
            elif len(path) == 3 and path[0] == "records" and method == "PATCH":
                self._send_json(200, {"item": sandbox.change_record(
                    path[1], int(path[2]), **fields)})
            elif len(path) == 2 and path[0] == "companies" and method == "PATCH":
                self._send_json(200, sandbox.change_company(int(path[1]), **fields))
            elif path == ["invoices"] and method == "POST":
                lines = [(str(line["name"]), Decimal(str(line["quantity"])),
                          Decimal(str(line["rate"]))) for line in fields.get("lines", [])]
                if not lines:
                    raise _HTTPError(400, ["An invoice needs at least one line."])
                day = fields.get("invoiceDate")
                self._send_json(200, sandbox.create_invoice(
                    int(fields["companyID"]), lines,
                    invoice_day=date.fromisoformat(day) if day else None,
                    payment_term=fields.get("paymentTerm"),
                    tax_rate=str(fields.get("taxRate", "0"))))
            elif len(path) == 2 and path[0] == "invoices" and method == "PATCH":
                self._send_json(200, sandbox.change_invoice(int(path[1]), **fields))
            elif len(path) == 3 and path[0] == "invoices" and path[2] == "void" \
                    and method == "POST":
                self._send_json(200, sandbox.void_invoice(int(path[1])))
            elif len(path) == 3 and path[0] == "invoices" and path[2] == "pay" \
                    and method == "POST":
                day = fields.get("date")
                self._send_json(200, sandbox.pay_invoice(
                    int(path[1]), date.fromisoformat(day) if day else None))
            else:
                raise _HTTPError(404, ["No such sandbox admin operation."])
        except KeyError as exc:
            raise _HTTPError(404, [f"No record with id {exc}."]) from None
        except (ValueError, TypeError) as exc:
            raise _HTTPError(400, [str(exc)]) from None


_TRACKING_WORDS = ("modif", "activity", "create", "posted", "paid", "voided")


def _indexed_fields(schema: EntitySchema) -> tuple[str, ...]:
    """The date fields kept in a sorted index: those clients ask "changed since" about."""
    return tuple(f.name for f in schema.fields
                 if f.queryable and f.data_type.lower() in ("datetime", "date")
                 and any(word in f.name.lower() for word in _TRACKING_WORDS))


def _matching(table: Any, compiled: Any, start: int | None) -> Iterator[Record]:
    """The records, in id order above `start` and up to the query's id ceiling, that may
    match `compiled` — by index when its plan allows, otherwise all of them (caller holds
    the data lock; the predicate still decides)."""
    ceiling = compiled.before_id
    selected = table.select(compiled.plan)
    if selected is not None:
        position = 0 if start is None else bisect.bisect_right(selected, start)
        for record_id in selected[position:]:
            if ceiling is not None and record_id > ceiling:
                return
            record = table.get(record_id)
            if record is not None:
                yield record
        return
    for record in table.iter_from(start):
        if ceiling is not None and record["id"] > ceiling:
            return
        yield record


def _entity_key(lowered: list[str]) -> str:
    """The entity endpoint of an API path (`atservicesrest/v1.0/<entity>/...`)."""
    if len(lowered) >= 3 and lowered[0] == "atservicesrest" and lowered[1] == "v1.0":
        return lowered[2]
    return lowered[-1] if lowered else ""


def _retry_after_text(seconds: float) -> str:
    """Whole seconds like Autotask; fractions only when the sandbox clock is sped up."""
    if seconds >= 1:
        return str(int(seconds + 0.999))
    return f"{max(seconds, 0.001):.3f}"


def _decode_paging(value: str | None) -> tuple[int, bool]:
    """(last id served, whether the query was sent as GET) from a `paging` parameter."""
    if not value:
        raise _HTTPError(500, ["The paging parameter is missing."])
    try:
        padded = value + "=" * (-len(value) % 4)
        state = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return int(state["lastId"]), state.get("get") is True
    except (ValueError, KeyError, TypeError, AttributeError):
        raise _HTTPError(500, ["The paging parameter is not valid."]) from None


def _without_id(raw: bytes) -> bytes:
    """A record's JSON with its id replaced by null (the `blank_ids` fault)."""
    record = json.loads(raw, parse_float=Decimal)
    record["id"] = None
    return encode_json(record)
