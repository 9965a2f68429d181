"""Intuit's OAuth 2.0 server, as the sandbox plays it.

* Authorization codes are single-use and last 5 minutes; the token exchange must repeat
  the ``redirect_uri`` the authorize request used.
* Access tokens last 3,600 s (``expires_in``); refresh tokens 100 days, rolling
  (``x_refresh_token_expires_in``).
* **Rotation**: every refresh answers with a *new* refresh token. The one it replaces keeps
  working for a grace period (``refresh_grace_seconds``, default 24 hours — Intuit's refresh
  token value used to change at most once a day, and a client that crashed before saving the
  new token can still come back with the old one) **until the new token is used once**; from
  then on the old one is refused with ``invalid_grant``. Refreshing again with the old token
  inside the grace issues another new token and kills the unused one from before, so only
  the newest token of a chain is ever good.
* Revoking any token of a connection (refresh or access) disconnects it: every token of that
  grant stops working.
* The clock is the sandbox's (`clock()`), so tests fast-forward expiry through the admin API.

Thread-safety: all methods take the server's lock.
"""

from __future__ import annotations

import ipaddress
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = ["AccessToken", "OAuthError", "OAuthServer", "RefreshToken"]

ACCESS_SECONDS = 3600
REFRESH_SECONDS = 100 * 86400
CODE_SECONDS = 300
SCOPE_ACCOUNTING = "com.intuit.quickbooks.accounting"


class OAuthError(Exception):
    """An OAuth error answer: ``{"error": code, "error_description": ...}``."""

    def __init__(self, status: int, error: str, description: str = "") -> None:
        super().__init__(description or error)
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        out = {"error": self.error}
        if self.description:
            out["error_description"] = self.description
        return out


@dataclass
class _Grant:
    """One connection (one consent): its tokens die together when revoked."""

    realm_id: str
    scope: str
    revoked: bool = False


@dataclass
class AccessToken:
    value: str
    grant: _Grant
    expires_at: float

    def problem(self, now: float) -> str | None:
        if self.grant.revoked:
            return "Token revoked"
        if now >= self.expires_at:
            return "Token expired"
        return None


@dataclass
class RefreshToken:
    value: str
    grant: _Grant
    expires_at: float
    successor: RefreshToken | None = None
    superseded_at: float | None = None
    used: bool = False
    killed: bool = False


@dataclass
class _Code:
    value: str
    redirect_uri: str
    grant: _Grant
    expires_at: float
    used: bool = False


@dataclass
class OAuthServer:
    client_id: str
    client_secret: str
    realm_id: str
    clock: Callable[[], float]
    refresh_grace_seconds: float = 86400.0
    access_seconds: float = ACCESS_SECONDS
    redirect_uris: tuple[str, ...] | None = None
    production_keys: bool = False
    """Production keys: redirect addresses must be https with a host name (Intuit's rule);
    development (sandbox) keys also accept http://localhost."""
    lock: threading.RLock = field(default_factory=threading.RLock)
    access_tokens: dict[str, AccessToken] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshToken] = field(default_factory=dict)
    codes: dict[str, _Code] = field(default_factory=dict)
    token_requests: int = 0

    # ------------------------------------------------------------------ authorize
    def check_authorize(self, params: dict[str, str]) -> str | None:
        """A problem with an authorize request (shown on the page), or None."""
        if params.get("client_id") != self.client_id:
            return "The app's client ID is not known (invalid_client)."
        if params.get("response_type") != "code":
            return "response_type must be code (unsupported_response_type)."
        scopes = (params.get("scope") or "").split()
        if SCOPE_ACCOUNTING not in scopes and "com.intuit.quickbooks.payment" not in scopes:
            return f"The scope must include {SCOPE_ACCOUNTING} (invalid_scope)."
        redirect = params.get("redirect_uri") or ""
        if not redirect:
            return "redirect_uri is missing."
        if self.production_keys and not _production_redirect(redirect):
            return ("The redirect_uri query parameter value is invalid. Production apps must "
                    "use an https address with a host name (not localhost or an IP address).")
        if self.redirect_uris is not None and redirect not in self.redirect_uris:
            return ("The redirect_uri query parameter value is invalid. Make sure it is "
                    "listed in the Redirect URIs section on your app's keys tab and matches "
                    "it exactly.")
        return None

    def issue_code(self, redirect_uri: str, scope: str) -> str:
        with self.lock:
            value = "AB1" + secrets.token_urlsafe(30)
            self.codes[value] = _Code(value, redirect_uri, _Grant(self.realm_id, scope),
                                      self.clock() + CODE_SECONDS)
            return value

    # ------------------------------------------------------------------ tokens
    def check_client(self, client_id: str | None, client_secret: str | None) -> None:
        if client_id != self.client_id or not secrets.compare_digest(
                client_secret or "", self.client_secret):
            raise OAuthError(401, "invalid_client")

    def token(self, form: dict[str, str]) -> dict[str, object]:
        with self.lock:
            self.token_requests += 1
            grant_type = form.get("grant_type")
            if grant_type == "authorization_code":
                return self._exchange(form)
            if grant_type == "refresh_token":
                return self._refresh(form)
            raise OAuthError(400, "unsupported_grant_type")

    def _exchange(self, form: dict[str, str]) -> dict[str, object]:
        code = self.codes.get(form.get("code") or "")
        now = self.clock()
        if code is None or code.used or now >= code.expires_at:
            raise OAuthError(400, "invalid_grant")
        if form.get("redirect_uri") != code.redirect_uri:
            raise OAuthError(400, "invalid_grant")
        code.used = True
        return self._issue(code.grant, None)

    def _refresh(self, form: dict[str, str]) -> dict[str, object]:
        token = self.refresh_tokens.get(form.get("refresh_token") or "")
        now = self.clock()
        if token is None or token.killed or token.grant.revoked or now >= token.expires_at:
            raise OAuthError(400, "invalid_grant", "Incorrect or invalid refresh token")
        if token.successor is not None:
            newest_used = token.successor.used
            over = token.superseded_at is not None and \
                now >= token.superseded_at + self.refresh_grace_seconds
            if newest_used or over:
                raise OAuthError(400, "invalid_grant", "Incorrect or invalid refresh token")
            token.successor.killed = True  # the chain forks: only the newest stays good
        token.used = True
        return self._issue(token.grant, token)

    def _issue(self, grant: _Grant, previous: RefreshToken | None) -> dict[str, object]:
        now = self.clock()
        access = AccessToken("eyJ" + secrets.token_urlsafe(48), grant,
                             now + self.access_seconds)
        self.access_tokens[access.value] = access
        refresh = RefreshToken("AB11" + secrets.token_urlsafe(36), grant, now + REFRESH_SECONDS)
        self.refresh_tokens[refresh.value] = refresh
        if previous is not None:
            previous.successor = refresh
            previous.superseded_at = now
        return {"token_type": "bearer", "access_token": access.value,
                "refresh_token": refresh.value, "expires_in": int(self.access_seconds),
                "x_refresh_token_expires_in": REFRESH_SECONDS}

    def revoke(self, token: str) -> None:
        with self.lock:
            found = self.refresh_tokens.get(token) or self.access_tokens.get(token)
            if found is None:
                raise OAuthError(400, "invalid_request", "Token not found")
            found.grant.revoked = True

    def access(self, value: str) -> AccessToken | None:
        with self.lock:
            return self.access_tokens.get(value)

    # ------------------------------------------------------------------ admin
    def expire_access_tokens(self) -> int:
        """Make every access token issued so far expired (as an hour later)."""
        with self.lock:
            now = self.clock()
            for token in self.access_tokens.values():
                token.expires_at = min(token.expires_at, now)
            return len(self.access_tokens)

    def revoke_all(self) -> None:
        with self.lock:
            for token in self.refresh_tokens.values():
                token.grant.revoked = True
            for access in self.access_tokens.values():
                access.grant.revoked = True

    def state(self) -> dict[str, object]:
        with self.lock:
            now = self.clock()
            return {
                "access_tokens": sum(1 for t in self.access_tokens.values()
                                     if t.problem(now) is None),
                "refresh_tokens_issued": len(self.refresh_tokens),
                "token_requests": self.token_requests,
                "refresh_grace_seconds": self.refresh_grace_seconds,
            }


def _production_redirect(address: str) -> bool:
    parts = urlsplit(address)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not host or host == "localhost":
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return True
    return False
