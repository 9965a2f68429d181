"""QuickBooks Online tokens: access tokens renewed before they expire, refresh tokens that
rotate and are never lost.

Intuit's refresh token can change on every refresh, and only the newest one is sure to keep
working. The rules PayDesk keeps:

* **The newest refresh token reaches the keychain before anything uses it.** After a refresh,
  the new refresh token is written first; only then is the new access token handed to a
  request. So a refresh token that was ever *used* is always in the keychain.
* **The one before stays too** (``quickbooks.refresh_token.previous``) until the newest has
  worked once. A crash *between* Intuit's answer and the keychain write leaves the keychain
  holding the token that was sent — which Intuit still honours, because its successor was
  never used — and the next start simply refreshes with it again. If the newest one in the
  keychain is refused, the previous one is tried before the connection is declared lost.
* **Refused both** (revoked in QuickBooks, 100 days unused, the app's keys changed):
  :class:`~app.core.quickbooks.online.errors.QuickBooksDisconnectedError` — "QuickBooks
  disconnected — Reconnect in Setup". Postings stay queued; nothing is lost.

Access tokens (one hour) are renewed five minutes before they expire, and once more when an
API request is answered 401 (:meth:`TokenManager.renew_after_rejection`).

**One refresh at a time per keychain entry, across processes.** The window and a scheduled
``paydesk sync`` may run together on one profile. Two refreshes with the same token would each
get a successor, and the slower keychain write could leave the one Intuit already retired; so
the refresh and its keychain write run under a lock file named after the keychain service
(:class:`RefreshLock`), and the token is read from the keychain again inside it.

``checkpoint`` names the steps (``quickbooks.tokens.after_refresh``,
``quickbooks.tokens.after_save``) so the crash tests can kill the process exactly there.

Threads: a manager may be shared by the API client's threads; one refresh runs at a time.
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO

from intuitlib.client import AuthClient

from app.core.clock import utcnow
from app.core.credentials import CredentialStore, SecretName
from app.core.quickbooks.online.errors import QuickBooksDisconnectedError
from app.core.quickbooks.online.oauth import TokenSet, open_auth_client, refresh_tokens

__all__ = ["RefreshLock", "TokenManager", "store_new_tokens"]

RENEW_BEFORE = timedelta(minutes=5)


def _no_checkpoint(_step: str) -> None:
    return None


class RefreshLock:
    """An exclusive lock file shared by every process refreshing one keychain entry."""

    def __init__(self, service: str, folder: Path | None = None) -> None:
        digest = hashlib.sha256(service.encode()).hexdigest()[:16]
        self.path = (folder or Path(tempfile.gettempdir())) / f"paydesk-qbo-{digest}.lock"

    @contextmanager
    def held(self, timeout: float = 60.0) -> Iterator[None]:
        with open(self.path, "a+b") as handle:
            self._acquire(handle, timeout)
            try:
                yield
            finally:
                self._release(handle)

    @staticmethod
    def _acquire(handle: IO[bytes], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if sys.platform == "win32":
                    import msvcrt

                    handle.seek(0)
                    msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
                else:
                    import fcntl

                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except OSError:
                if time.monotonic() >= deadline:
                    return  # a stuck holder must not stop QuickBooks for good
                time.sleep(0.05)

    @staticmethod
    def _release(handle: IO[bytes]) -> None:
        try:
            if sys.platform == "win32":
                import msvcrt

                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
            else:
                import fcntl

                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        except OSError:
            pass


def store_new_tokens(credentials: CredentialStore, tokens: TokenSet) -> None:
    """Keep the refresh token of a fresh connection (the previous one no longer applies)."""
    credentials.set(SecretName.QUICKBOOKS_REFRESH_TOKEN, tokens.refresh_token)
    credentials.delete(SecretName.QUICKBOOKS_REFRESH_TOKEN_PREVIOUS)


class TokenManager:
    """Hands out a valid access token for the stored connection."""

    def __init__(
        self,
        credentials: CredentialStore,
        *,
        client_id: str,
        environment: str,
        checkpoint: Callable[[str], None] = _no_checkpoint,
        clock: Callable[[], datetime] = utcnow,
        initial: TokenSet | None = None,
    ) -> None:
        self._credentials = credentials
        self._client_id = client_id
        self._environment = environment
        self._checkpoint = checkpoint
        self._clock = clock
        self._lock = threading.Lock()
        self._auth: AuthClient | None = None
        self._access: str | None = None
        self._expires_at: datetime | None = None
        self.refresh_count = 0
        self._file_lock = RefreshLock(credentials.service)
        if initial is not None:
            self._access = initial.access_token
            self._expires_at = clock() + timedelta(seconds=initial.expires_in)

    def _client(self) -> AuthClient:
        if self._auth is None:
            secret = self._credentials.get(SecretName.QUICKBOOKS_CLIENT_SECRET)
            if not secret:
                raise QuickBooksDisconnectedError(
                    "the Intuit app's client secret is not in this computer's keychain")
            self._auth = open_auth_client(self._client_id, secret, self._environment)
        return self._auth

    def access_token(self) -> str:
        """A token good for at least a few more minutes (refreshing first when needed)."""
        with self._lock:
            if (self._access is None or self._expires_at is None
                    or self._clock() >= self._expires_at - RENEW_BEFORE):
                self._refresh_locked()
            assert self._access is not None
            return self._access

    def renew_after_rejection(self, rejected: str) -> str:
        """QuickBooks answered 401 to ``rejected``: renew once (unless another thread already
        did) and return the token to retry with."""
        with self._lock:
            if self._access is not None and self._access != rejected:
                return self._access
            self._refresh_locked()
            assert self._access is not None
            return self._access

    def _refresh_locked(self) -> None:
        with self._file_lock.held():
            self._refresh_with_file_lock()

    def _refresh_with_file_lock(self) -> None:
        current = self._credentials.get(SecretName.QUICKBOOKS_REFRESH_TOKEN)
        previous = self._credentials.get(SecretName.QUICKBOOKS_REFRESH_TOKEN_PREVIOUS)
        if not current and not previous:
            raise QuickBooksDisconnectedError("no QuickBooks sign-in is stored on this computer")
        client = self._client()
        tokens: TokenSet | None = None
        used = ""
        last_error: QuickBooksDisconnectedError | None = None
        for candidate in (current, previous):
            if not candidate or candidate == used:
                continue
            used = candidate
            try:
                tokens = refresh_tokens(client, candidate)
                break
            except QuickBooksDisconnectedError as exc:
                last_error = exc
        if tokens is None:
            assert last_error is not None
            raise last_error
        self._checkpoint("quickbooks.tokens.after_refresh")
        # Write-ahead: the newest refresh token is in the keychain before anything uses it.
        if tokens.refresh_token != current:
            # Keep the one that just worked until its successor has worked in turn.
            self._credentials.set(SecretName.QUICKBOOKS_REFRESH_TOKEN_PREVIOUS, used)
            self._credentials.set(SecretName.QUICKBOOKS_REFRESH_TOKEN, tokens.refresh_token)
        self._checkpoint("quickbooks.tokens.after_save")
        self.refresh_count += 1
        self._access = tokens.access_token
        self._expires_at = self._clock() + timedelta(seconds=tokens.expires_in)

    def forget_access(self) -> None:
        """Drop the access token (the next request refreshes)."""
        with self._lock:
            self._access = None
            self._expires_at = None

    def close(self) -> None:
        if self._auth is not None:
            self._auth.close()
            self._auth = None
