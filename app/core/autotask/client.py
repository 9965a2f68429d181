"""The Autotask PSA REST client PayDesk uses for everything it reads from and writes to Autotask.

What it does, and why:

* **Zones.** Autotask spreads customers over zones; `discover_zone` asks the (configurable)
  discovery service once per user and caches the answer. When discovery fails the caller can
  pass the zone address by hand (`zone_url`).
* **Safety.** Credentials go only to the zone's host: every URL is checked with
  `app.core.net.require_same_host` before anything is sent, redirects are not followed
  automatically, and HTTPS is required except for the loopback sandbox.
* **Paging.** `query_all` uses the paging Autotask documents as safe — repeat the query with
  `id gt <last id seen>` until a short page — and never follows `nextPageUrl` (which has to be
  POSTed, and which clients have silently lost records with).
* **Pacing.** At most `max_in_flight` (3) requests per entity endpoint at once (Autotask's
  thread limit); `ThresholdInformation` is read now and then and requests are spaced out
  before Autotask's 50 % / 75 % marks; 429s and thread-threshold refusals are waited out,
  honouring `Retry-After`.
* **Retries.** Reads are retried on transient failures — including, a few times, a 500 answer
  with an error message, which Autotask also gives for passing trouble. Writes are retried
  only when Autotask
  explicitly refused them before doing anything (rate limits) or when the connection could
  not even be opened; a create is never retried after a response was lost or an error came
  back, because the record may exist. Look it up first (`find_company_notes`).
* **Errors** are the typed exceptions of `app.core.autotask.errors`, with messages for people.

Threads: an `AutotaskClient` may be shared by several worker threads; each thread gets its
own `requests.Session`. All methods block; call them off the GUI thread.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import msgspec
import requests

from app.core import net
from app.core.autotask.errors import (
    AutotaskAuthError,
    AutotaskError,
    AutotaskNetworkError,
    AutotaskServerError,
    AutotaskTimeoutError,
    AutotaskTLSError,
    AutotaskValidationError,
    CredentialsRejectedError,
    ForeignHostRefusedError,
    IntegrationCodeError,
    PermissionDeniedError,
    RateLimitedError,
    ThreadLimitError,
    UnknownUserError,
    UnsafeAddressError,
    WrongSecretError,
    ZoneNotFoundError,
)

__all__ = [
    "DEFAULT_DISCOVERY_URL",
    "MAX_PAGE_SIZE",
    "AutotaskClient",
    "AutotaskCredentials",
    "ConnectionReport",
    "FieldInfo",
    "PacingPolicy",
    "PicklistValue",
    "RetryPolicy",
    "ThresholdInfo",
    "Timeouts",
    "ZoneInfo",
    "clear_metadata_cache",
    "discover_zone",
    "test_connection",
]

log = logging.getLogger(__name__)

DEFAULT_DISCOVERY_URL = "https://webservices.autotask.net/atservicesrest/"
"""Autotask's zone discovery service (`.../v1.0/zoneInformation?user=` is appended)."""

MAX_PAGE_SIZE = 500
"""The largest `MaxRecords` Autotask accepts."""

Filter = Mapping[str, Any]
Record = dict[str, Any]


@dataclass(frozen=True)
class AutotaskCredentials:
    """An Autotask API user. The secret and integration code never appear in `repr`."""

    username: str
    secret: str = field(repr=False)
    integration_code: str = field(repr=False)
    impersonation_resource_id: int | None = None

    def headers(self) -> dict[str, str]:
        """The authentication headers Autotask expects on every call."""
        headers = {
            "ApiIntegrationCode": self.integration_code,
            "UserName": self.username,
            "Secret": self.secret,
        }
        if self.impersonation_resource_id is not None:
            headers["ImpersonationResourceId"] = str(self.impersonation_resource_id)
        return headers


@dataclass(frozen=True)
class ZoneInfo:
    """Where an Autotask database lives: `api_url` ends with `/` (`.../ATServicesRest/`)."""

    name: str
    api_url: str
    web_url: str
    ci: int | None = None


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait to connect and to read each answer."""

    connect: float = 10.0
    read: float = 60.0

    def as_tuple(self) -> tuple[float, float]:
        return (self.connect, self.read)


@dataclass(frozen=True)
class PacingPolicy:
    """How politely the client uses Autotask's shared request budget.

    Autotask allows 10,000 requests per rolling hour per database — shared by every program
    connected to it — and slows every caller down past 50 % and 75 % of that. The client
    reads `ThresholdInformation` every `check_every_requests` requests (or `check_every_seconds`)
    and waits `moderate_delay` before each request once usage passes `moderate_at`,
    `strong_delay` past `strong_at`, and pauses (re-checking every `exhausted_wait` seconds,
    for at most `exhausted_max_wait`) past `exhausted_at`.
    """

    max_in_flight: int = 3
    check_every_requests: int = 100
    check_every_seconds: float = 120.0
    moderate_at: float = 0.45
    strong_at: float = 0.70
    exhausted_at: float = 0.95
    moderate_delay: float = 0.5
    strong_delay: float = 1.5
    exhausted_wait: float = 30.0
    exhausted_max_wait: float = 600.0


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait when a request may succeed if tried again."""

    attempts: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 120.0
    #: A read answered with HTTP 500 and an `errors` message is usually a refused query,
    #: but Autotask also answers passing trouble that way: such reads are tried this many
    #: times in all (never more than `attempts`), waiting `error_answer_wait` × the attempt
    #: number between tries. Writes answered that way are never repeated.
    error_answer_attempts: int = 5
    error_answer_wait: float = 0.25


@dataclass(frozen=True)
class ThresholdInfo:
    """Autotask's request budget: `used` of `threshold` in the last `timeframe_minutes`."""

    threshold: int
    timeframe_minutes: int
    used: int

    @property
    def usage(self) -> float:
        """Fraction of the budget used, 0.0 … 1.0+."""
        return self.used / self.threshold if self.threshold > 0 else 0.0


@dataclass(frozen=True)
class PicklistValue:
    value: str
    label: str
    is_active: bool
    sort_order: int


@dataclass(frozen=True)
class FieldInfo:
    """One field of an entity as `entityInformation/fields` describes it."""

    name: str
    data_type: str
    is_queryable: bool
    is_read_only: bool
    is_required: bool
    is_picklist: bool
    picklist: tuple[PicklistValue, ...] = ()

    def label_for(self, value: object) -> str | None:
        """The picklist label for a stored code (codes are strings of integers)."""
        text = str(value)
        for item in self.picklist:
            if item.value == text:
                return item.label
        return None


@dataclass(frozen=True)
class ConnectionReport:
    """What Test Connection found: where the data lives, how much there is, budget used."""

    zone_name: str
    api_url: str
    web_url: str
    company_count: int
    requests_used: int
    request_threshold: int
    timeframe_minutes: int
    #: The zone address was typed by the person, not found by Autotask's zone lookup.
    typed_zone: bool = False


# --------------------------------------------------------------------------- caches

# Entity metadata per tenant: (zone API URL, customer database id or user, entity) -> fields.
# Picklists differ per tenant but rarely change, so every client of one tenant shares them.
_fields_cache: dict[tuple[str, str, str], tuple[FieldInfo, ...]] = {}
_fields_lock = threading.Lock()


# Autotask's thread limit counts per (integration code, entity endpoint) across every
# program using the code, so the in-flight slots are shared by all clients of this process
# that talk to the same zone with the same code (the code is kept only as a digest).
_slots: dict[tuple[str, str, str], threading.BoundedSemaphore] = {}
_slots_lock = threading.Lock()


def clear_metadata_cache() -> None:
    """Forget cached entity metadata (e.g. after the user changed picklists in Autotask)."""
    with _fields_lock:
        _fields_cache.clear()


# --------------------------------------------------------------------------- zones

_zone_cache: dict[tuple[str, str], ZoneInfo] = {}
_zone_lock = threading.Lock()


def _normalise_base(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def discover_zone(
    username: str,
    *,
    discovery_url: str = DEFAULT_DISCOVERY_URL,
    timeouts: Timeouts = Timeouts(),
    refresh: bool = False,
) -> ZoneInfo:
    """Ask Autotask which zone holds `username`; cached per (discovery service, user).

    The discovery call needs no credentials and is never throttled, so only the user name
    is sent. Raises `ZoneNotFoundError` when Autotask cannot tell, network errors otherwise.
    """
    base = _normalise_base(discovery_url)
    try:
        net.require_safe_url(base, service="Autotask's zone lookup")
    except net.UnsafeURLError as exc:
        raise UnsafeAddressError(str(exc)) from None
    key = (base.lower(), username.strip().lower())
    if not refresh:
        with _zone_lock:
            cached = _zone_cache.get(key)
        if cached is not None:
            return cached
    url = f"{base}v1.0/zoneInformation?user={quote(username.strip())}"
    try:
        response = requests.get(url, timeout=timeouts.as_tuple(), allow_redirects=False)
    except requests.RequestException as exc:
        raise _network_error(exc) from None
    body = _json_or_none(response)
    if response.status_code != 200 or not isinstance(body, dict) or not body.get("url"):
        texts = _error_texts(body)
        about_zone = any("zone" in t.lower() for t in texts)
        if response.status_code >= 500 and not about_zone:
            raise AutotaskServerError(status=response.status_code, details=texts)
        raise ZoneNotFoundError(status=response.status_code, details=texts)
    api_url = _normalise_base(str(body["url"]))
    try:
        net.require_safe_url(api_url, service="your Autotask zone")
    except net.UnsafeURLError as exc:
        raise UnsafeAddressError(str(exc)) from None
    _require_autotask_zone(api_url, base)
    ci = body.get("ci")
    zone = ZoneInfo(
        name=str(body.get("zoneName") or net.host_of(api_url)),
        api_url=api_url,
        web_url=str(body.get("webUrl") or ""),
        ci=int(ci) if isinstance(ci, int | str) and str(ci).isdigit() else None,
    )
    with _zone_lock:
        _zone_cache[key] = zone
    return zone


#: The domains Autotask's zones live on. A discovered zone elsewhere is refused: the zone
#: receives the API user's secret with every request.
AUTOTASK_DOMAINS = ("autotask.net",)


def is_autotask_host(host: str) -> bool:
    name = host.lower().rstrip(".")
    return any(name == d or name.endswith("." + d) for d in AUTOTASK_DOMAINS)


def _require_autotask_zone(api_url: str, discovery_base: str) -> None:
    """Accept a discovered zone only where the credentials may go.

    Over https on Autotask's own domains; or, when the zone lookup itself is a sandbox on
    this computer, that same sandbox (same scheme, host and port). Anything else is refused
    before a single request is made, so nothing is sent there.
    """
    if net.is_loopback_host(net.host_of(discovery_base)):
        if net.origin_of(api_url) == net.origin_of(discovery_base):
            return
    elif net.origin_of(api_url)[0] == "https" and is_autotask_host(net.host_of(api_url)):
        return
    raise UnsafeAddressError(
        f"Autotask's zone lookup named a server that is not Autotask's "
        f"({net.host_of(api_url) or api_url}). PayDesk did not contact it and sent no "
        "credentials there. Check the zone lookup address in Setup, or enter your zone's "
        "address by hand (Autotask shows it under Admin > API).")


def manual_zone(api_url: str) -> ZoneInfo:
    """A `ZoneInfo` for a zone address typed in by hand (`.../ATServicesRest/`)."""
    base = _normalise_base(api_url.strip())
    lowered = base.lower()
    for suffix in ("v1.0/",):
        if lowered.endswith(suffix):
            base = base[: -len(suffix)]
    try:
        net.require_safe_url(base, service="your Autotask zone")
    except net.UnsafeURLError as exc:
        raise UnsafeAddressError(str(exc)) from None
    return ZoneInfo(name=net.host_of(base), api_url=base, web_url="")


# --------------------------------------------------------------------------- errors


#: Autotask's answers decoded in C, numbers with a fraction as exact Decimals: a sync reads
#: hundreds of thousands of records, and this is three times the standard library's speed.
_DECODER = msgspec.json.Decoder(float_hook=Decimal)


def _json_or_none(response: requests.Response) -> Any:
    encoding = response.encoding
    if encoding is None or encoding.lower().replace("-", "") == "utf8":
        try:
            return _DECODER.decode(response.content)
        except msgspec.DecodeError:
            pass  # not JSON, or text msgspec refuses (half of a surrogate pair): see below
    try:
        return response.json(parse_float=Decimal)
    except ValueError:
        return None


def _error_texts(body: Any) -> tuple[str, ...]:
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list):
            return tuple(str(e) for e in errors if e is not None)
        for key in ("Message", "message", "error"):
            if isinstance(body.get(key), str):
                return (body[key],)
    return ()


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _network_error(exc: requests.RequestException) -> AutotaskNetworkError:
    if isinstance(exc, requests.exceptions.SSLError):
        return AutotaskTLSError()
    if isinstance(exc, requests.exceptions.Timeout):
        return AutotaskTimeoutError()
    return AutotaskNetworkError()


def error_from_response(response: requests.Response) -> AutotaskError:
    """Turn an unsuccessful Autotask answer into the matching typed error."""
    status = response.status_code
    body = _json_or_none(response)
    texts = _error_texts(body)
    joined = " ".join(texts).lower()
    retry_after = _retry_after(response)
    if "thread threshold" in joined or "itgenatr005" in joined:
        return ThreadLimitError(retry_after=retry_after, status=status, details=texts)
    if status == 429:
        return RateLimitedError(retry_after=retry_after, status=status, details=texts)
    if status == 401:
        return WrongSecretError(status=status, details=texts)
    if status == 403:
        return PermissionDeniedError(status=status, details=texts)
    if "integration code" in joined or "integrationcode" in joined:
        return IntegrationCodeError(status=status, details=texts)
    if "user" in joined and "user-defined" not in joined and (
        "not found" in joined or "unknown" in joined or "not authenticated" in joined
        or "could not be authenticated" in joined or "invalid user" in joined
    ):
        return UnknownUserError(status=status, details=texts)
    if "permission" in joined or "not authorized" in joined or "access denied" in joined:
        return PermissionDeniedError(status=status, details=texts)
    if "request threshold" in joined or ("exceeded the" in joined and "limit" in joined):
        return RateLimitedError(retry_after=retry_after, status=status, details=texts)
    if status in (502, 503, 504) or not texts:
        return AutotaskServerError(status=status, details=texts)
    if status in (404, 405):
        return AutotaskError(
            "Autotask does not offer this operation at this address. "
            + " ".join(texts),
            status=status,
            details=texts,
        )
    return AutotaskValidationError(texts, status=status)


# --------------------------------------------------------------------------- client


@dataclass
class RequestStats:
    """Requests sent by one client, in total and per entity endpoint (thread-safe counters)."""

    total: int = 0
    by_entity: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    waits_seconds: float = 0.0


class AutotaskClient:
    """Talks to one Autotask database as one API user. See the module docstring."""

    def __init__(
        self,
        credentials: AutotaskCredentials,
        *,
        zone: ZoneInfo | None = None,
        zone_url: str | None = None,
        discovery_url: str = DEFAULT_DISCOVERY_URL,
        timeouts: Timeouts = Timeouts(),
        pacing: PacingPolicy = PacingPolicy(),
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.credentials = credentials
        self.timeouts = timeouts
        self.pacing = pacing
        self.retry = retry
        self._sleep = sleep
        self._discovery_url = discovery_url
        self._zone: ZoneInfo | None = zone or (manual_zone(zone_url) if zone_url else None)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._code_digest = hashlib.sha256(credentials.integration_code.encode()).hexdigest()
        self._stats = RequestStats()
        self._since_check = 0
        self._last_check = 0.0
        self._threshold: ThresholdInfo | None = None
        self._checking = False
        self._checked = threading.Condition(self._lock)
        _register_secret(credentials.secret)

    def __repr__(self) -> str:
        zone = self._zone.api_url if self._zone else "undiscovered"
        return f"AutotaskClient(user={self.credentials.username!r}, zone={zone!r})"

    # ----------------------------------------------------------------- public: zone, stats

    @property
    def zone(self) -> ZoneInfo:
        """The zone of this API user, discovered on first use."""
        if self._zone is None:
            self._zone = discover_zone(
                self.credentials.username,
                discovery_url=self._discovery_url,
                timeouts=self.timeouts,
            )
        return self._zone

    @property
    def api_base(self) -> str:
        """`<zone url>V1.0/` — every entity path is relative to this."""
        return self.zone.api_url + "V1.0/"

    def stats(self) -> RequestStats:
        """A copy of the request counters (requests actually sent to Autotask)."""
        with self._lock:
            return RequestStats(
                total=self._stats.total,
                by_entity=dict(self._stats.by_entity),
                retries=self._stats.retries,
                waits_seconds=self._stats.waits_seconds,
            )

    @property
    def request_count(self) -> int:
        """Requests sent so far (including ThresholdInformation checks)."""
        with self._lock:
            return self._stats.total

    @property
    def last_threshold(self) -> ThresholdInfo | None:
        """The most recent `ThresholdInformation` answer, if one was read."""
        with self._lock:
            return self._threshold

    def close(self) -> None:
        """Close this thread's session (other threads' sessions close when they end)."""
        session = getattr(self._local, "session", None)
        if session is not None:
            session.close()
            self._local.session = None

    # ----------------------------------------------------------------- public: reads

    def get(self, entity: str, record_id: int) -> Record | None:
        """One record by id, or None when Autotask has no such record."""
        body = self._call("GET", f"{entity}/{int(record_id)}", entity=entity, read=True)
        item = body.get("item") if isinstance(body, dict) else None
        return item if isinstance(item, dict) else None

    def query_page(
        self,
        entity: str,
        filters: Sequence[Filter] = (),
        fields: Sequence[str] | None = None,
        *,
        max_records: int = MAX_PAGE_SIZE,
    ) -> list[Record]:
        """One query call (at most `max_records`, 1..500), records in id order."""
        body = self._call(
            "POST", f"{entity}/query", entity=entity, read=True,
            json_body=_query_body(filters, fields, max_records),
        )
        items = body.get("items") if isinstance(body, dict) else None
        return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []

    def query_all(
        self,
        entity: str,
        filters: Sequence[Filter] = (),
        fields: Sequence[str] | None = None,
        *,
        after_id: int | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[list[Record]]:
        """Yield every matching record, one page (≤ `page_size`) at a time, in id order.

        Pages with `id gt <last id seen>` until a short page, so records created while
        paging are picked up once and nothing is read twice. `after_id` resumes after a
        checkpoint. `fields`, when given, always includes `id`.
        """
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}")
        if fields is not None and not any(f.lower() == "id" for f in fields):
            fields = ["id", *fields]
        last_id = after_id
        while True:
            page_filters = list(filters)
            if last_id is not None:
                page_filters.append({"op": "gt", "field": "id", "value": last_id})
            page = self.query_page(entity, page_filters, fields, max_records=page_size)
            if page:
                yield page
                new_last = max(int(r["id"]) for r in page)
                if last_id is not None and new_last <= last_id:
                    raise AutotaskServerError(
                        "Autotask returned records out of order while PayDesk was reading "
                        f"{entity}; the read was stopped so nothing is skipped. Try again."
                    )
                last_id = new_last
            if len(page) < page_size:
                return

    def count(self, entity: str, filters: Sequence[Filter] = ()) -> int:
        """How many records match (`query/count`)."""
        body = self._call(
            "POST", f"{entity}/query/count", entity=entity, read=True,
            json_body={"filter": _ensure_filter(filters)},
        )
        value = body.get("queryCount") if isinstance(body, dict) else None
        if not isinstance(value, int):
            raise AutotaskServerError("Autotask's answer to a count request was not understood.")
        return value

    def query_next_page(self, next_page_url: str, query: Mapping[str, Any]) -> dict[str, Any]:
        """POST a `pageDetails.nextPageUrl` with the original query body.

        PayDesk pages with `query_all`; this exists to cross-check Autotask's own paging. The
        URL must be on the zone's host — otherwise `ForeignHostRefusedError` is raised and
        nothing (credentials included) is sent.
        """
        split = urlsplit(next_page_url)
        entity = split.path.rstrip("/").split("/")[-3] if split.path.count("/") >= 3 else "next"
        body = self._call("POST", next_page_url, entity=entity, read=True,
                          json_body=dict(query), absolute=True)
        return body if isinstance(body, dict) else {}

    def threshold_information(self) -> ThresholdInfo:
        """Autotask's request budget right now (this call counts against it)."""
        body = self._call("GET", "ThresholdInformation", entity="ThresholdInformation",
                          read=True, pace=False)
        info = _parse_threshold(body)
        with self._lock:
            self._threshold = info
            self._since_check = 0
            self._last_check = time.monotonic()
        return info

    def _tenant_key(self, entity: str) -> tuple[str, str, str]:
        zone = self.zone
        tenant = str(zone.ci) if zone.ci is not None else self.credentials.username.lower()
        return (zone.api_url.lower(), tenant, entity.lower())

    def entity_fields(self, entity: str, *, refresh: bool = False) -> tuple[FieldInfo, ...]:
        """Field metadata and picklists of `entity`, cached per tenant (for the process)."""
        key = self._tenant_key(entity)
        if not refresh:
            with _fields_lock:
                cached = _fields_cache.get(key)
            if cached is not None:
                return cached
        body = self._call("GET", f"{entity}/entityInformation/fields", entity=entity, read=True)
        raw = body.get("fields") if isinstance(body, dict) else None
        fields = tuple(_parse_field(f) for f in raw if isinstance(f, dict)) if isinstance(
            raw, list) else ()
        with _fields_lock:
            _fields_cache[key] = fields
        return fields

    def field_info(self, entity: str, name: str) -> FieldInfo | None:
        """One field's metadata (case-insensitive name), or None if the entity has no such."""
        lowered = name.lower()
        for info in self.entity_fields(entity):
            if info.name.lower() == lowered:
                return info
        return None

    def picklist(self, entity: str, field_name: str) -> dict[str, str]:
        """`{code: label}` of one picklist field (codes are strings, per tenant)."""
        info = self.field_info(entity, field_name)
        return {p.value: p.label for p in info.picklist} if info else {}

    def find_company_notes(
        self, company_id: int, text: str, *, in_field: str = "description"
    ) -> list[Record]:
        """Notes of a company whose `in_field` contains `text` (e.g. a payment reference).

        Used to check whether a note already exists before creating it again.
        """
        filters: list[Filter] = [
            {"op": "eq", "field": "companyID", "value": int(company_id)},
            {"op": "contains", "field": in_field, "value": text},
        ]
        found: list[Record] = []
        for page in self.query_all("CompanyNotes", list(filters)):
            found.extend(page)
        return found

    # ----------------------------------------------------------------- public: writes

    def patch(self, entity: str, record_id: int, changes: Mapping[str, Any]) -> int:
        """Update only the fields in `changes` on one record; returns the record id.

        PATCH sets fields to the values sent, so repeating it is harmless: it is retried
        like a read.
        """
        body = {"id": int(record_id), **{k: v for k, v in changes.items() if k != "id"}}
        answer = self._call("PATCH", entity, entity=entity, read=True, json_body=body)
        return _item_id(answer, default=int(record_id))

    def create_child(
        self, parent: str, parent_id: int, child: str, fields: Mapping[str, Any]
    ) -> int:
        """Create a child record (`POST {parent}/{id}/{child}`); returns the new id.

        Never retried after Autotask may have seen it: on a lost answer the caller must look
        the record up before trying again.
        """
        answer = self._call(
            "POST", f"{parent}/{int(parent_id)}/{child}", entity=parent, read=False,
            json_body=dict(fields),
        )
        return _item_id(answer)

    def create_note(self, company_id: int, fields: Mapping[str, Any]) -> int:
        """Add a note to a company (`POST Companies/{id}/Notes`); returns the note id."""
        body = {"companyID": int(company_id), **fields}
        return self.create_child("Companies", company_id, "Notes", body)

    # ----------------------------------------------------------------- internals

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers.update({"Accept": "application/json"})
            self._local.session = session
        return session

    def _slot(self, entity: str) -> threading.BoundedSemaphore:
        key = (self.zone.api_url.lower(), self._code_digest, entity.lower())
        with _slots_lock:
            slot = _slots.get(key)
            if slot is None:
                slot = threading.BoundedSemaphore(max(1, self.pacing.max_in_flight))
                _slots[key] = slot
            return slot

    @contextmanager
    def _in_flight(self, entity: str) -> Iterator[None]:
        slot = self._slot(entity)
        slot.acquire()
        try:
            yield
        finally:
            slot.release()

    def _count_request(self, entity: str) -> None:
        with self._lock:
            self._stats.total += 1
            key = entity
            self._stats.by_entity[key] = self._stats.by_entity.get(key, 0) + 1
            self._since_check += 1

    def _wait(self, seconds: float) -> None:
        if seconds <= 0:
            return
        with self._lock:
            self._stats.waits_seconds += seconds
        self._sleep(seconds)

    def _pace(self) -> None:
        """Check the budget now and then; wait before requests when it runs low."""
        policy = self.pacing
        with self._lock:
            # The first check is single-flight: threads starting together wait for the one
            # that asks (if it fails, the next waiting thread asks in turn).
            while self._threshold is None and self._checking:
                self._checked.wait()
            due = (
                self._threshold is None
                or self._since_check >= policy.check_every_requests
                or time.monotonic() - self._last_check >= policy.check_every_seconds
            )
            if due:
                # Claim the check so parallel threads do not all ask at once.
                self._since_check = 0
                self._last_check = time.monotonic()
                self._checking = True
        if due:
            try:
                self.threshold_information()
            finally:
                with self._lock:
                    self._checking = False
                    self._checked.notify_all()
        waited = 0.0
        while True:
            info = self.last_threshold
            if info is None:
                return
            usage = info.usage
            if usage >= policy.exhausted_at:
                if waited >= policy.exhausted_max_wait:
                    raise RateLimitedError(
                        "Autotask's hourly request limit is nearly used up (by PayDesk and "
                        "the other programs connected to your Autotask). PayDesk stopped "
                        "and will try again later.",
                        retry_after=policy.exhausted_wait,
                        status=None,
                    )
                log.info("Autotask request budget %.0f%% used; pausing", usage * 100)
                self._wait(policy.exhausted_wait)
                waited += policy.exhausted_wait
                self.threshold_information()
                continue
            if usage >= policy.strong_at:
                self._wait(policy.strong_delay)
            elif usage >= policy.moderate_at:
                self._wait(policy.moderate_delay)
            return

    def _backoff(self, attempt: int, error: AutotaskError) -> float:
        policy = self.retry
        if isinstance(error, RateLimitedError) and error.retry_after is not None:
            return min(float(error.retry_after), policy.retry_after_max)
        delay: float = min(policy.backoff_max, policy.backoff_base * (2 ** attempt))
        return delay * (0.5 + random.random() / 2)

    def _url_for(self, path: str, absolute: bool) -> str:
        url = path if absolute else self.api_base + path.lstrip("/")
        try:
            return net.require_same_host(url, self.zone.api_url, service="Autotask")
        except net.ForeignHostError as exc:
            raise ForeignHostRefusedError(str(exc)) from None
        except net.UnsafeURLError as exc:
            raise UnsafeAddressError(str(exc)) from None

    def _call(
        self,
        method: str,
        path: str,
        *,
        entity: str,
        read: bool,
        json_body: Any = None,
        absolute: bool = False,
        pace: bool = True,
    ) -> Any:
        url = self._url_for(path, absolute)
        attempts = max(1, self.retry.attempts)
        for attempt in range(attempts):
            if pace:
                self._pace()
            try:
                response = self._send(method, url, entity, json_body)
            except AutotaskNetworkError as error:
                may_retry = (read or not error.sent) and error.retryable
                if not may_retry or attempt == attempts - 1:
                    raise
                self._note_retry()
                self._wait(self._backoff(attempt, error))
                continue
            if 200 <= response.status_code < 300:
                body = _json_or_none(response)
                if body is None and response.content:
                    raise AutotaskServerError(
                        "Autotask's answer could not be read (it was not JSON).",
                        status=response.status_code,
                    )
                return body
            failure = error_from_response(response)
            if (read and response.status_code == 500
                    and isinstance(failure, AutotaskValidationError)):
                # Maybe a refused query, maybe passing trouble: a few quick tries tell.
                if attempt >= min(attempts, self.retry.error_answer_attempts) - 1:
                    raise failure
                self._note_retry()
                self._wait(self.retry.error_answer_wait * (attempt + 1))
                continue
            # A refusal (rate or thread limit) means Autotask did nothing: safe to repeat.
            refused = isinstance(failure, RateLimitedError)
            if not failure.retryable or not (read or refused) or attempt == attempts - 1:
                raise failure
            self._note_retry()
            self._wait(self._backoff(attempt, failure))
        raise AssertionError("unreachable")  # pragma: no cover

    def _note_retry(self) -> None:
        with self._lock:
            self._stats.retries += 1

    def _send(self, method: str, url: str, entity: str, json_body: Any) -> requests.Response:
        headers = self.credentials.headers()
        _require_sendable(headers)
        data = None
        if json_body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(json_body, default=_json_default).encode()
        session = self._session()
        zone_url = self.zone.api_url
        for _hop in range(3):
            with self._in_flight(entity):
                started = time.monotonic()
                try:
                    response = session.request(
                        method, url, headers=headers, data=data,
                        timeout=self.timeouts.as_tuple(), allow_redirects=False,
                    )
                except requests.exceptions.ConnectTimeout:
                    raise AutotaskTimeoutError(sent=False) from None
                except requests.exceptions.SSLError:
                    raise AutotaskTLSError() from None
                except requests.RequestException as exc:
                    log.debug("Autotask %s %s failed: %s", method, urlsplit(url).path,
                              type(exc).__name__)
                    if _connection_refused(exc):
                        raise AutotaskNetworkError(sent=False) from None
                    raise _network_error(exc) from None
                finally:
                    self._count_request(entity)
            log.debug("Autotask %s %s -> %s in %.0f ms", method, urlsplit(url).path,
                      response.status_code, (time.monotonic() - started) * 1000)
            if not response.is_redirect:
                return response
            target = urljoin(url, response.headers.get("Location", ""))
            try:
                net.require_same_host(target, zone_url, service="Autotask")
            except net.ForeignHostError as exc:
                raise ForeignHostRefusedError(str(exc)) from None
            except net.UnsafeURLError as exc:
                raise UnsafeAddressError(str(exc)) from None
            url = target
        raise AutotaskServerError("Autotask redirected PayDesk too many times.")


_HEADER_WORDS = {"UserName": "user name", "Secret": "secret",
                 "ApiIntegrationCode": "integration code"}


def _require_sendable(headers: Mapping[str, str]) -> None:
    """Sign-in values travel as HTTP headers, which carry Latin-1 only: refuse others (and
    spaces around them) before sending, in words, instead of failing inside the HTTP library."""
    for name, what in _HEADER_WORDS.items():
        value = headers.get(name, "")
        if value != value.strip():
            raise AutotaskAuthError(
                f"The Autotask API user's {what} starts or ends with a space. Enter it again "
                "in Setup without spaces.")
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise AutotaskAuthError(
                f"The Autotask API user's {what} contains characters Autotask sign-ins cannot "
                "carry. Copy it again from Autotask and enter it in Setup.") from None
        if any(ord(ch) < 0x20 or ch == "\x7f" for ch in value):
            raise AutotaskAuthError(
                f"The Autotask API user's {what} contains an invisible control character. "
                "Copy it again from Autotask and enter it in Setup.")


def _connection_refused(exc: requests.RequestException) -> bool:
    text = str(exc).lower()
    return "connection refused" in text or "failed to establish a new connection" in text


def _register_secret(secret: str) -> None:
    try:
        from app.core.logs import register_secret
    except ImportError:  # pragma: no cover - logs is always present in the application
        return
    register_secret(secret)


def _json_default(value: object) -> Any:
    if isinstance(value, Decimal):
        # Whole numbers go as JSON integers. A fraction would go through a float and could
        # come out different (amounts are money), so it is refused rather than rounded.
        if value == value.to_integral_value():
            return int(value)
        raise TypeError(f"{value} has a fraction; PayDesk does not send it to Autotask as a float")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"cannot send {type(value).__name__} to Autotask")


def _ensure_filter(filters: Sequence[Filter]) -> list[dict[str, Any]]:
    # Autotask insists on a filter; "id exists" matches everything.
    items = [dict(f) for f in filters]
    return items or [{"op": "exist", "field": "id"}]


def _query_body(
    filters: Sequence[Filter], fields: Sequence[str] | None, max_records: int
) -> dict[str, Any]:
    if not 1 <= max_records <= MAX_PAGE_SIZE:
        raise ValueError(f"max_records must be 1..{MAX_PAGE_SIZE}")
    body: dict[str, Any] = {"MaxRecords": max_records, "Filter": _ensure_filter(filters)}
    if fields is not None:
        body["IncludeFields"] = list(fields)
    return body


def _item_id(answer: Any, default: int | None = None) -> int:
    value = answer.get("itemId") if isinstance(answer, dict) else None
    if isinstance(value, int):
        return value
    if default is not None:
        return default
    raise AutotaskServerError("Autotask did not say which record it created.")


def _parse_threshold(body: Any) -> ThresholdInfo:
    if not isinstance(body, dict):
        raise AutotaskServerError("Autotask's request-limit answer could not be read.")
    try:
        return ThresholdInfo(
            threshold=int(body.get("externalRequestThreshold") or 0),
            timeframe_minutes=int(body.get("requestThresholdTimeframe") or 60),
            used=int(body.get("currentTimeframeRequestCount") or 0),
        )
    except (TypeError, ValueError):
        raise AutotaskServerError(
            "Autotask's request-limit answer could not be read.") from None


def _parse_field(raw: Mapping[str, Any]) -> FieldInfo:
    picklist = tuple(
        PicklistValue(
            value=str(p.get("value")),
            label=str(p.get("label") or ""),
            is_active=bool(p.get("isActive", True)),
            sort_order=int(p.get("sortOrder") or 0),
        )
        for p in (raw.get("picklistValues") or [])
        if isinstance(p, dict)
    )
    return FieldInfo(
        name=str(raw.get("name")),
        data_type=str(raw.get("dataType") or "string"),
        is_queryable=bool(raw.get("isQueryable", False)),
        is_read_only=bool(raw.get("isReadOnly", False)),
        is_required=bool(raw.get("isRequired", False)),
        is_picklist=bool(raw.get("isPickList", False)),
        picklist=picklist,
    )


def test_connection(
    credentials: AutotaskCredentials,
    *,
    discovery_url: str = DEFAULT_DISCOVERY_URL,
    zone_url: str | None = None,
    timeouts: Timeouts = Timeouts(connect=10.0, read=30.0),
) -> ConnectionReport:
    """What the setup wizard's Test Connection button runs.

    Finds the zone (or uses `zone_url`), then proves the credentials by counting companies
    and reading the request budget. Returns a `ConnectionReport`, or raises the specific
    `AutotaskError` (its `message` is ready to show). Blocks: run it in a worker.
    """
    zone = (
        manual_zone(zone_url)
        if zone_url
        else discover_zone(credentials.username, discovery_url=discovery_url,
                           timeouts=timeouts, refresh=True)
    )
    client = AutotaskClient(
        credentials, zone=zone, timeouts=timeouts,
        # An error message is reported as Autotask gave it: on a connection test it is
        # most often about the credentials, and the person is waiting for the answer.
        retry=RetryPolicy(attempts=2, backoff_base=0.5, backoff_max=2.0, retry_after_max=5.0,
                          error_answer_attempts=1),
        pacing=PacingPolicy(check_every_requests=1_000_000, check_every_seconds=1e9,
                            exhausted_max_wait=0.0),
    )
    try:
        try:
            budget = client.threshold_information()
        except AutotaskValidationError as exc:
            # Nothing about reading the request budget can be invalid: a refusal here is
            # Autotask not accepting the user or the code, in words PayDesk did not know.
            raise CredentialsRejectedError(status=exc.status, details=exc.details) from None
        companies = client.count("Companies")
    finally:
        client.close()
    return ConnectionReport(
        zone_name=zone.name,
        api_url=zone.api_url,
        web_url=zone.web_url,
        company_count=companies,
        requests_used=budget.used,
        request_threshold=budget.threshold,
        timeframe_minutes=budget.timeframe_minutes,
        typed_zone=bool(zone_url),
    )


# pytest would otherwise try to collect the public `test_connection` when imported in tests.
test_connection.__test__ = False  # type: ignore[attr-defined]
