"""Secrets, and the only module that talks to the OS keychain (``keyring``).

Windows Credential Locker, macOS Keychain or the Secret Service on Linux hold PayDesk's
secrets (the Autotask API secret, the gateway key, QuickBooks tokens). Nothing else in the
program stores a secret. When no secure backend is usable, secrets are kept in memory for
this run only and the program says so (the person is asked again at the next start).
"""

from __future__ import annotations

import contextlib
import logging
import threading

import keyring
import keyring.backend
import keyring.errors

from app.core.logs import register_secret

log = logging.getLogger(__name__)

SERVICE_PREFIX = "PayDesk"

#: Backends that do not keep a secret safe (plain files) or do not keep it at all.
_INSECURE_BACKENDS = {
    "keyring.backends.fail.Keyring",
    "keyring.backends.null.Keyring",
    "keyrings.alt.file.PlaintextKeyring",
    "keyrings.alt.file.EncryptedKeyring",
    "keyring.backends.chainer.ChainerBackend:empty",
}


class SecretName:
    """Names (not values) of the secrets PayDesk keeps in the keychain."""

    AUTOTASK_SECRET = "autotask.secret"  # noqa: S105
    STRIPE_SECRET_KEY = "stripe.secret_key"  # noqa: S105
    QUICKBOOKS_REFRESH_TOKEN = "quickbooks.refresh_token"  # noqa: S105
    QUICKBOOKS_CLIENT_SECRET = "quickbooks.client_secret"  # noqa: S105
    QUICKBOOKS_DESKTOP_PASSWORD = "quickbooks_desktop.web_connector_password"  # noqa: S105
    # The refresh token before the newest, kept until the newest has worked once.
    QUICKBOOKS_REFRESH_TOKEN_PREVIOUS = "quickbooks.refresh_token.previous"  # noqa: S105


def _backend_id(backend: keyring.backend.KeyringBackend) -> str:
    name = f"{type(backend).__module__}.{type(backend).__qualname__}"
    if name == "keyring.backends.chainer.ChainerBackend" and not getattr(
        backend, "backends", None
    ):
        return name + ":empty"
    return name


class CredentialStore:
    """Per-profile secrets in the OS keychain, or in memory when no keychain is usable.

    Thread-safe; values are registered with the log redactor as soon as they are seen.
    """

    def __init__(self, profile_key: str) -> None:
        self.service = f"{SERVICE_PREFIX}:{profile_key}"
        self._memory: dict[str, str] = {}
        self._lock = threading.Lock()
        backend = keyring.get_keyring()
        self.backend_name = _backend_id(backend)
        self.is_secure = self.backend_name not in _INSECURE_BACKENDS

    def __repr__(self) -> str:
        return f"CredentialStore(service={self.service!r}, backend={self.backend_name!r})"

    def describe_backend(self) -> str:
        """A sentence for the doctor and the settings screen."""
        if self.is_secure:
            return f"Secrets are kept in the system keychain ({self.backend_name})."
        return (
            "No secure system keychain is available, so PayDesk keeps secrets only in memory "
            "and will ask for them again at the next start."
        )

    def get(self, name: str) -> str | None:
        with self._lock:
            if not self.is_secure:
                value = self._memory.get(name)
            else:
                try:
                    value = keyring.get_password(self.service, name)
                except keyring.errors.KeyringError as exc:
                    log.warning("The system keychain could not be read: %s", type(exc).__name__)
                    value = self._memory.get(name)
        if value:
            register_secret(value)
        return value

    def set(self, name: str, value: str) -> None:
        if not value:
            raise ValueError("an empty secret cannot be stored")
        register_secret(value)
        with self._lock:
            if not self.is_secure:
                self._memory[name] = value
                return
            try:
                keyring.set_password(self.service, name, value)
            except keyring.errors.KeyringError as exc:
                log.warning("The system keychain refused a secret: %s", type(exc).__name__)
                self._memory[name] = value
                raise KeychainUnavailableError(
                    "The system keychain refused to store the secret. PayDesk will use it for "
                    "this session only."
                ) from exc

    def delete(self, name: str) -> None:
        with self._lock:
            self._memory.pop(name, None)
            if not self.is_secure:
                return
            with contextlib.suppress(keyring.errors.PasswordDeleteError):
                keyring.delete_password(self.service, name)

    def has(self, name: str) -> bool:
        return self.get(name) is not None


class KeychainUnavailableError(Exception):
    """The keychain could not store a secret; it is kept in memory for this run."""
