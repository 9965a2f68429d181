"""The QuickBooks Online Accounting API (v3) over ``requests``.

* Every address is built from the connection's ``api_base`` and checked with
  :func:`app.core.net.require_same_host`, and redirects are not followed: the bearer token is
  only ever sent to the configured QuickBooks host. TLS verification stays on; plain http only
  to loopback (the local sandbox).
* Money: answers are parsed with ``parse_float=Decimal``; amounts are sent as exact JSON
  numbers written from ``Decimal`` (:func:`dumps`), never through a float.
* Limits: at most 10 requests at once per company (QuickBooks' own concurrency limit, shared
  by every client in this process); a 429 is waited out (``Retry-After``, else a growing
  pause) and retried.
* Authentication: the access token comes from a
  :class:`~app.core.quickbooks.online.tokens.TokenManager`; a 401 renews it once and retries;
  a second 401 is :class:`QuickBooksDisconnectedError`.
* Failures: 5xx answers and dropped connections are retried (a few times, growing pauses)
  for reads and for creates that carry a ``requestid`` (QuickBooks replays those instead of
  writing twice); Fault bodies become the typed errors of
  :mod:`app.core.quickbooks.online.errors`.

Threads: a client may be shared by worker threads (the limit above is what bounds them).
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import quote

import requests

from app.core.net import require_safe_url, require_same_host
from app.core.quickbooks.online.errors import (
    QuickBooksConnectionError,
    QuickBooksDisconnectedError,
    QuickBooksError,
    QuickBooksServerError,
    QuickBooksStaleObjectError,
    QuickBooksThrottledError,
    fault_error,
)

__all__ = [
    "MAX_CONCURRENT",
    "MINOR_VERSION",
    "AccessTokens",
    "QuickBooksOnlineClient",
    "dumps",
    "quote_value",
]

log = logging.getLogger(__name__)

MINOR_VERSION = "75"
#: QuickBooks answers 429 past 10 requests in flight per company.
MAX_CONCURRENT = 10
#: The largest page the query endpoint gives.
MAX_PAGE = 1000

_limits_lock = threading.Lock()
_limits: dict[str, threading.BoundedSemaphore] = {}


def _limit_for(key: str) -> threading.BoundedSemaphore:
    with _limits_lock:
        semaphore = _limits.get(key)
        if semaphore is None:
            semaphore = _limits[key] = threading.BoundedSemaphore(MAX_CONCURRENT)
        return semaphore


class AccessTokens(Protocol):
    def access_token(self) -> str: ...

    def renew_after_rejection(self, rejected: str) -> str: ...


def dumps(value: Any) -> str:
    """JSON with every ``Decimal`` written exactly as a number (``55.00``), never a float."""
    marker = secrets.token_hex(8)
    numbers: list[str] = []

    def default(item: object) -> Any:
        if isinstance(item, Decimal):
            if not item.is_finite():
                raise ValueError("an amount must be a finite number")
            numbers.append(format(item, "f"))
            return f"{marker}{len(numbers) - 1}"
        if isinstance(item, datetime):
            return item.isoformat()
        if hasattr(item, "isoformat"):
            return item.isoformat()
        raise TypeError(f"cannot send {type(item).__name__} to QuickBooks")

    text = json.dumps(value, default=default, separators=(",", ":"))
    for index, number in enumerate(numbers):
        text = text.replace(f'"{marker}{index}"', number, 1)
    return text


def quote_value(value: str) -> str:
    """A string literal for QuickBooks' query language (quotes escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class QuickBooksOnlineClient:
    """One company's API. ``api_base`` is ``https://quickbooks.api.intuit.com/v3`` (or the
    sandbox host's, or the local sandbox's ``http://127.0.0.1:PORT/v3``); a base without the
    ``/v3`` gets it added."""

    def __init__(
        self,
        tokens: AccessTokens,
        realm_id: str,
        api_base: str,
        *,
        timeout: tuple[float, float] = (10.0, 60.0),
        attempts: int = 4,
        throttle_attempts: int = 8,
        max_wait: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
    ) -> None:
        base = api_base.rstrip("/")
        if not base.endswith("/v3"):
            base += "/v3"
        self.api_base = require_safe_url(base, service="QuickBooks Online")
        self.realm_id = realm_id
        self.tokens = tokens
        self.timeout = timeout
        self.attempts = attempts
        self.throttle_attempts = throttle_attempts
        self.max_wait = max_wait
        self._sleep = sleep
        self._session = session or requests.Session()
        self._session.trust_env = False  # no proxy or netrc credentials from the environment
        self._limit = _limit_for(f"{self.api_base}|{realm_id}")
        self._count_lock = threading.Lock()
        self.request_count = 0
        self.throttled_count = 0

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> QuickBooksOnlineClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- the transport

    def url(self, path: str) -> str:
        return f"{self.api_base}/company/{quote(self.realm_id, safe='')}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """One API call; the parsed JSON answer. See the module docstring for the rules."""
        url = require_same_host(self.url(path), self.api_base, service="QuickBooks Online")
        query = {"minorversion": MINOR_VERSION, **(params or {})}
        if request_id:
            query["requestid"] = request_id
        data = None if body is None else dumps(body).encode()
        replay_safe = method.upper() == "GET" or bool(request_id)
        token = self.tokens.access_token()
        renewed = False
        failures = 0
        throttled = 0
        while True:
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            if data is not None:
                headers["Content-Type"] = "application/json"
            try:
                with self._limit:
                    with self._count_lock:
                        self.request_count += 1
                    response = self._session.request(
                        method, url, params=query, data=data, headers=headers,
                        timeout=self.timeout, allow_redirects=False, verify=True)
            except requests.RequestException as exc:
                failures += 1
                if not replay_safe or failures >= self.attempts:
                    raise QuickBooksConnectionError(
                        "PayDesk could not reach QuickBooks Online (the connection failed or "
                        "timed out). It tries again later; check the internet connection if "
                        "this keeps happening.") from exc
                self._sleep(self._backoff(failures))
                continue
            status = response.status_code
            if status == 401:
                if renewed:
                    raise QuickBooksDisconnectedError()
                renewed = True
                token = self.tokens.renew_after_rejection(token)
                continue
            if status == 429:
                throttled += 1
                with self._count_lock:
                    self.throttled_count += 1
                if throttled >= self.throttle_attempts:
                    raise QuickBooksThrottledError(
                        "QuickBooks kept asking PayDesk to slow down. PayDesk tries again "
                        "in a few minutes.", status=429, code="003001")
                self._sleep(self._retry_after(response, throttled))
                continue
            if 300 <= status < 400:
                raise QuickBooksConnectionError(
                    f"QuickBooks Online answered with a redirect (HTTP {status}), which PayDesk "
                    "does not follow with your sign-in. Check the QuickBooks address in Setup.",
                    status=status)
            parsed = self._parse(response)
            if status >= 500:
                failures += 1
                if replay_safe and failures < self.attempts:
                    self._sleep(self._backoff(failures))
                    continue
                raise fault_error(status, parsed)
            if status >= 400 or (isinstance(parsed, dict)
                                 and ("Fault" in parsed and parsed.get("Fault"))):
                raise fault_error(status, parsed)
            if not isinstance(parsed, dict):
                raise QuickBooksServerError(
                    "QuickBooks Online gave an answer PayDesk could not read. It tries again "
                    "later.", status=status)
            return parsed

    @staticmethod
    def _parse(response: requests.Response) -> Any:
        try:
            return json.loads(response.content.decode("utf-8-sig") or "null",
                              parse_float=Decimal)
        except (ValueError, UnicodeDecodeError):
            return None

    def _backoff(self, attempt: int) -> float:
        return float(min(self.max_wait, (2 ** (attempt - 1)) * (0.5 + random.random() / 2)))

    def _retry_after(self, response: requests.Response, attempt: int) -> float:
        value = response.headers.get("Retry-After", "").strip()
        if value:
            try:
                return max(0.0, min(self.max_wait, float(value)))
            except ValueError:
                pass
        return self._backoff(attempt)

    # ----------------------------------------------------------------- reads

    def query(self, statement: str) -> dict[str, Any]:
        """``QueryResponse`` of one query statement."""
        answer = self.request("GET", "query", params={"query": statement})
        result = answer.get("QueryResponse")
        return result if isinstance(result, dict) else {}

    def query_page(self, entity: str, where: str = "", *, start: int = 1,
                   page_size: int = MAX_PAGE, order_by: str = "Id") -> list[dict[str, Any]]:
        """One page of ``SELECT * FROM entity [WHERE ...]`` from ``start`` (1-based)."""
        # QuickBooks' query language, not SQL; values in ``where`` go through quote_value.
        statement = f"SELECT * FROM {entity}"  # noqa: S608
        if where:
            statement += f" WHERE {where}"
        if order_by:
            statement += f" ORDERBY {order_by}"
        statement += f" STARTPOSITION {start} MAXRESULTS {min(page_size, MAX_PAGE)}"
        rows = self.query(statement).get(entity) or []
        return [r for r in rows if isinstance(r, dict)]

    def query_all(self, entity: str, where: str = "", *, start: int = 1,
                  page_size: int = MAX_PAGE) -> Iterator[tuple[int, list[dict[str, Any]]]]:
        """(start position, page) for every page; a short page ends it."""
        position = start
        while True:
            page = self.query_page(entity, where, start=position, page_size=page_size)
            yield position, page
            if len(page) < min(page_size, MAX_PAGE):
                return
            position += len(page)

    def count(self, entity: str, where: str = "") -> int:
        statement = f"SELECT COUNT(*) FROM {entity}"  # noqa: S608
        if where:
            statement += f" WHERE {where}"
        return int(self.query(statement).get("totalCount") or 0)

    def cdc(self, entities: Sequence[str], changed_since: datetime
            ) -> dict[str, list[dict[str, Any]]]:
        """Objects changed since ``changed_since`` (30 days back at most), by entity;
        deleted ones carry ``status: "Deleted"``."""
        answer = self.request("GET", "cdc", params={
            "entities": ",".join(entities),
            "changedSince": changed_since.isoformat(timespec="seconds"),
        })
        out: dict[str, list[dict[str, Any]]] = {e: [] for e in entities}
        for block in answer.get("CDCResponse") or []:
            for response in (block or {}).get("QueryResponse") or []:
                for entity in entities:
                    for row in (response or {}).get(entity) or []:
                        if isinstance(row, dict):
                            out[entity].append(row)
        return out

    def read(self, entity: str, remote_id: str) -> dict[str, Any]:
        answer = self.request("GET", f"{entity.lower()}/{quote(remote_id, safe='')}")
        row = answer.get(entity)
        if not isinstance(row, dict):
            raise QuickBooksServerError(f"QuickBooks' answer had no {entity} in it.")
        return row

    def company_info(self) -> dict[str, Any]:
        rows = self.query("SELECT * FROM CompanyInfo").get("CompanyInfo") or []
        if not rows or not isinstance(rows[0], dict):
            raise QuickBooksServerError("QuickBooks did not describe the company.")
        return rows[0]

    def preferences(self) -> dict[str, Any]:
        rows = self.query("SELECT * FROM Preferences").get("Preferences") or []
        return rows[0] if rows and isinstance(rows[0], dict) else {}

    # ----------------------------------------------------------------- writes

    def create(self, entity: str, body: Mapping[str, Any], *, request_id: str) -> dict[str, Any]:
        """Create with ``requestid`` (a retry returns the first answer, writes nothing)."""
        answer = self.request("POST", entity.lower(), body=dict(body), request_id=request_id)
        row = answer.get(entity)
        if not isinstance(row, dict):
            raise QuickBooksServerError(f"QuickBooks' answer had no {entity} in it.")
        return row

    def _write_current(self, entity: str, remote_id: str,
                       make: Callable[[dict[str, Any]], dict[str, Any]],
                       params: Mapping[str, str] | None, attempts: int = 3) -> dict[str, Any]:
        """Read the object, build the request from it (with its SyncToken) and send it; on a
        stale SyncToken read again and retry."""
        for attempt in range(attempts):
            current = self.read(entity, remote_id)
            try:
                answer = self.request("POST", entity.lower(), params=params, body=make(current))
            except QuickBooksStaleObjectError:
                if attempt == attempts - 1:
                    raise
                continue
            row = answer.get(entity)
            return row if isinstance(row, dict) else {}
        raise AssertionError("unreachable")

    def sparse_update(self, entity: str, remote_id: str, changes: Mapping[str, Any]
                      ) -> dict[str, Any]:
        def make(current: dict[str, Any]) -> dict[str, Any]:
            return {"Id": remote_id, "SyncToken": current.get("SyncToken"), "sparse": True,
                    **changes}
        return self._write_current(entity, remote_id, make, None)

    def void(self, entity: str, remote_id: str) -> dict[str, Any]:
        """Void a transaction (a Payment is voided as QuickBooks wants it: a sparse update
        with ``include=void``)."""
        def make(current: dict[str, Any]) -> dict[str, Any]:
            body = {"Id": remote_id, "SyncToken": current.get("SyncToken")}
            return {**body, "sparse": True} if entity == "Payment" else body
        params = ({"operation": "update", "include": "void"} if entity == "Payment"
                  else {"operation": "void"})
        return self._write_current(entity, remote_id, make, params)

    def delete(self, entity: str, remote_id: str) -> dict[str, Any]:
        def make(current: dict[str, Any]) -> dict[str, Any]:
            return {"Id": remote_id, "SyncToken": current.get("SyncToken")}
        return self._write_current(entity, remote_id, make, {"operation": "delete"})


def is_retryable(error: Exception) -> bool:
    return isinstance(error, QuickBooksConnectionError | QuickBooksServerError
                      | QuickBooksThrottledError) or (
        isinstance(error, QuickBooksError) and error.status is not None and error.status >= 500)
