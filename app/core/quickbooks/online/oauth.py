"""Signing in to QuickBooks Online: OAuth 2.0 with Intuit's own ``intuit-oauth`` library.

Intuit sends the person's browser back to a *redirect URI* registered on the MSP's Intuit app
with ``code``, ``state`` and ``realmId``. A desktop program has three ways to receive it:

1. **Loopback listener** (sandbox keys): Intuit accepts ``http://localhost:PORT/callback`` for
   development keys only. :class:`LoopbackListener` listens on 127.0.0.1 and takes the answer.
2. **Relay page** (production keys): production redirect URIs must be ``https://`` and may not
   be an IP address. ``resources/quickbooks/relay.html`` is a static page the MSP hosts on any
   https web space and registers as its redirect URI; it forwards ``code``, ``state`` and
   ``realmId`` to the loopback listener. The listener's port travels inside ``state``
   (``<port>.<random>``), so the page needs no configuration.
3. **Paste the address** (always offered): the person copies the address the browser landed
   on (even an error page) and PayDesk reads the answer from it (:func:`parse_redirect`).

``state`` is random for each attempt and checked; an answer with another ``state`` is refused.

Every request the library makes goes through :class:`_AuthClient`, which adds timeouts, keeps
TLS verification on, allows plain http only to loopback, follows no redirects, and refuses a
token endpoint on another server than the discovery document's (so the client secret only
ever goes to Intuit, or to the local sandbox that served the document).

Threads: everything here blocks on the network; run it off the GUI thread.
"""

from __future__ import annotations

import html
import queue
import secrets
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from intuitlib.exceptions import AuthClientError

from app.core.net import UnsafeURLError, host_of, origin_of, require_safe_url
from app.core.quickbooks.online.errors import (
    QuickBooksAuthorizationError,
    QuickBooksConnectionError,
    QuickBooksDisconnectedError,
    QuickBooksError,
)

__all__ = [
    "AuthorizationAnswer",
    "ConsentFlow",
    "LoopbackListener",
    "TokenSet",
    "exchange_code",
    "new_state",
    "open_auth_client",
    "parse_redirect",
    "refresh_tokens",
]

SCOPES = [Scopes.ACCOUNTING]
CALLBACK_PATH = "/callback"
TIMEOUT = (10.0, 30.0)


@dataclass(frozen=True, slots=True)
class TokenSet:
    access_token: str
    refresh_token: str
    expires_in: int

    def __repr__(self) -> str:  # never show a token
        return f"TokenSet(expires_in={self.expires_in})"


@dataclass(frozen=True, slots=True)
class AuthorizationAnswer:
    """What Intuit sent back: the one-time ``code`` and the company (``realm_id``)."""

    code: str
    realm_id: str

    def __repr__(self) -> str:
        return f"AuthorizationAnswer(realm_id={self.realm_id!r})"


class _AuthClient(AuthClient):  # type: ignore[misc]
    """``intuit-oauth``'s client with PayDesk's network rules on every request."""

    _allowed_origin: tuple[str, str, int] | None = None

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        require_safe_url(url, service="Intuit sign-in")
        if method.upper() != "GET" and not _intuit_or_same(url, self._allowed_origin):
            raise UnsafeURLError(
                f"The sign-in service named another server ({host_of(url)}) for the tokens. "
                "PayDesk did not send the QuickBooks client secret there."
            )
        kwargs.setdefault("timeout", TIMEOUT)
        kwargs["allow_redirects"] = method.upper() == "GET"
        kwargs["verify"] = True
        return super().request(method, url, *args, **kwargs)  # type: ignore[no-any-return]


def _intuit_or_same(url: str, allowed: tuple[str, str, int] | None) -> bool:
    if allowed is None:
        scheme, host, _port = origin_of(url)
        return scheme == "https" and (host == "intuit.com" or host.endswith(".intuit.com"))
    return origin_of(url) == allowed


def open_auth_client(client_id: str, client_secret: str, environment: str,
                     redirect_uri: str = "", *, state: str | None = None) -> AuthClient:
    """The library's client for ``environment`` (``sandbox``, ``production`` or a discovery
    URL). Reads the discovery document (one GET)."""
    env = environment.strip()
    if env.lower() not in ("sandbox", "sand", "production", "prod"):
        require_safe_url(env, service="the QuickBooks sign-in service")
    allowed = None if env.lower() in ("sandbox", "sand", "production", "prod") else origin_of(env)

    class _Client(_AuthClient):
        _allowed_origin = allowed

    try:
        client = _Client(client_id, client_secret, redirect_uri, env, state_token=state)
    except (requests.RequestException, ValueError) as exc:
        raise QuickBooksConnectionError(
            "PayDesk could not reach Intuit's sign-in service. Check the internet connection "
            "and try again."
        ) from exc
    except AuthClientError as exc:
        raise QuickBooksConnectionError(
            f"Intuit's sign-in service did not answer as expected (error {exc.status_code}). "
            "Try again in a few minutes."
        ) from exc
    return client


def new_state(port: int | None = None) -> str:
    """A fresh random ``state``; with a port, ``<port>.<random>`` so the relay page knows
    where the loopback listener is."""
    token = secrets.token_urlsafe(24)
    return f"{port}.{token}" if port else token


def _grant_error(exc: AuthClientError) -> QuickBooksError:
    try:
        body = exc.response.json()
    except ValueError:
        body = {}
    error = str(body.get("error") or "") if isinstance(body, dict) else ""
    if error in ("invalid_grant", "invalid_client", "unauthorized_client"):
        return QuickBooksDisconnectedError()
    if int(exc.status_code) >= 500:
        return QuickBooksConnectionError(
            f"Intuit's sign-in service had a problem (error {exc.status_code}). PayDesk tries "
            "again later."
        )
    return QuickBooksAuthorizationError(
        f"Intuit refused the sign-in ({error or exc.status_code}). Check the client id and "
        "secret of your Intuit app, then connect again."
    )


def exchange_code(client: AuthClient, answer: AuthorizationAnswer) -> TokenSet:
    """Trade the one-time code for tokens."""
    try:
        client.get_bearer_token(answer.code, realm_id=answer.realm_id)
    except AuthClientError as exc:
        error = _grant_error(exc)
        if isinstance(error, QuickBooksDisconnectedError):
            raise QuickBooksAuthorizationError(
                "Intuit did not accept the sign-in answer (it may have been used already or "
                "be more than a few minutes old, or the client secret is wrong). Click "
                "Connect to start again."
            ) from exc
        raise error from exc
    except requests.RequestException as exc:
        raise QuickBooksConnectionError(
            "PayDesk could not reach Intuit's sign-in service. Check the internet connection "
            "and try again."
        ) from exc
    return _tokens_of(client)


def refresh_tokens(client: AuthClient, refresh_token: str) -> TokenSet:
    """One refresh: new access token and (maybe new) refresh token."""
    try:
        client.refresh(refresh_token=refresh_token)
    except AuthClientError as exc:
        raise _grant_error(exc) from exc
    except requests.RequestException as exc:
        raise QuickBooksConnectionError(
            "PayDesk could not reach Intuit's sign-in service to renew the QuickBooks "
            "connection. It tries again shortly."
        ) from exc
    return _tokens_of(client)


def _tokens_of(client: AuthClient) -> TokenSet:
    access = str(client.access_token or "")
    refresh = str(client.refresh_token or "")
    if not access or not refresh:
        raise QuickBooksAuthorizationError(
            "Intuit's answer had no tokens in it. Click Connect to try again."
        )
    return TokenSet(access, refresh, int(client.expires_in or 3600))


# --- the answer: pasted, or received by the loopback listener ----------------------------------


def parse_redirect(text: str, expected_state: str) -> AuthorizationAnswer:
    """Read ``code``, ``state`` and ``realmId`` from the address the browser landed on (or
    just its query part). Raises :class:`QuickBooksAuthorizationError` with a plain message."""
    raw = text.strip()
    if not raw:
        raise QuickBooksAuthorizationError(
            "Paste the whole address from the browser's address bar after you clicked "
            "Connect in QuickBooks."
        )
    query = urlsplit(raw).query if "://" in raw else raw.lstrip("?")
    values = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items() if v}
    return answer_from(values, expected_state)


def answer_from(values: dict[str, str], expected_state: str) -> AuthorizationAnswer:
    error = values.get("error", "")
    if error:
        if error == "access_denied":
            raise QuickBooksAuthorizationError(
                "The connection was not allowed in QuickBooks (Cancel was clicked). Click "
                "Connect and choose Connect on Intuit's page."
            )
        raise QuickBooksAuthorizationError(
            f"Intuit did not connect the company ({error}). Click Connect to try again."
        )
    state = values.get("state", "")
    if not secrets.compare_digest(state.encode(), expected_state.encode()):
        raise QuickBooksAuthorizationError(
            "This address belongs to a different sign-in attempt, so PayDesk did not use it. "
            "Click Connect again and paste the address that attempt lands on."
        )
    code = values.get("code", "")
    realm = values.get("realmId", "")
    if not code or not realm:
        raise QuickBooksAuthorizationError(
            "The address has no QuickBooks company in it. Paste the whole address from the "
            "browser's address bar after you chose the company and clicked Connect."
        )
    return AuthorizationAnswer(code=code, realm_id=realm)


_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>PayDesk</title></head>
<body style="font-family:sans-serif;margin:3em"><h1>{title}</h1><p>{text}</p></body></html>"""


class LoopbackListener:
    """A one-shot HTTP listener on 127.0.0.1 that receives Intuit's redirect (directly for
    sandbox keys, or forwarded by the relay page). Only ``GET /callback`` is answered."""

    def __init__(self, port: int = 0) -> None:
        self._answers: queue.Queue[dict[str, str]] = queue.Queue()
        answers = self._answers

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != CALLBACK_PATH:
                    self.send_error(404)
                    return
                values = {k: v[0] for k, v in parse_qs(parts.query).items() if v}
                answers.put(values)
                ok = "code" in values and "error" not in values
                body = _PAGE.format(
                    title="PayDesk received the answer" if ok else "QuickBooks did not connect",
                    text=html.escape(
                        "You can close this tab and return to PayDesk." if ok else
                        "Return to PayDesk to see what happened and try again."),
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return  # the query holds a one-time code: keep it out of logs

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="paydesk-quickbooks-callback", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def redirect_uri(self) -> str:
        return f"http://localhost:{self.port}{CALLBACK_PATH}"

    def wait(self, timeout: float, cancel: threading.Event | None = None) -> dict[str, str] | None:
        """The query values of the first callback, or None after ``timeout`` or ``cancel``."""
        step = 0.2
        waited = 0.0
        while waited < timeout:
            if cancel is not None and cancel.is_set():
                return None
            try:
                return self._answers.get(timeout=min(step, timeout - waited))
            except queue.Empty:
                waited += step
        return None

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class ConsentFlow:
    """One attempt to connect a company: the consent address, then the answer (from the
    loopback listener or pasted), then the tokens.

    ``redirect_uri``: empty → the loopback listener's own address (sandbox keys); an https
    address → the MSP's relay page (production keys), which forwards to the listener.
    """

    def __init__(self, client_id: str, client_secret: str, environment: str, *,
                 redirect_uri: str = "", port: int = 0, listen: bool = True) -> None:
        self.listener = LoopbackListener(port) if listen else None
        if redirect_uri:
            require_safe_url(redirect_uri, service="the redirect address")
        elif self.listener is None:
            raise ValueError("a redirect address is needed when PayDesk does not listen")
        self.redirect_uri = redirect_uri or (self.listener.redirect_uri if self.listener else "")
        self.state = new_state(self.listener.port if self.listener else None)
        self.client = open_auth_client(client_id, client_secret, environment,
                                       self.redirect_uri, state=self.state)

    @property
    def consent_url(self) -> str:
        return str(self.client.get_authorization_url(SCOPES, state_token=self.state))

    def wait(self, timeout: float, cancel: threading.Event | None = None
             ) -> AuthorizationAnswer | None:
        """The answer from the listener, or None when none came (then paste it)."""
        if self.listener is None:
            return None
        values = self.listener.wait(timeout, cancel)
        return None if values is None else answer_from(values, self.state)

    def accept_pasted(self, text: str) -> AuthorizationAnswer:
        return parse_redirect(text, self.state)

    def finish(self, answer: AuthorizationAnswer) -> TokenSet:
        return exchange_code(self.client, answer)

    def close(self) -> None:
        if self.listener is not None:
            self.listener.close()
        self.client.close()
