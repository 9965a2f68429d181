"""Typed Autotask failures, each with a message a bookkeeper can act on.

Every exception carries `message` (plain words: what happened, what to do), the HTTP
`status` when there was one, and `details` — Autotask's own texts (the `errors` list) when it
sent some. No exception ever contains the API secret: messages are built from fixed text and
from what Autotask answered, never from request headers.
"""

from __future__ import annotations

__all__ = [
    "AutotaskAuthError",
    "AutotaskError",
    "AutotaskNetworkError",
    "AutotaskServerError",
    "AutotaskTLSError",
    "AutotaskTimeoutError",
    "AutotaskValidationError",
    "CredentialsRejectedError",
    "ForeignHostRefusedError",
    "IntegrationCodeError",
    "PermissionDeniedError",
    "RateLimitedError",
    "ThreadLimitError",
    "UnknownUserError",
    "UnsafeAddressError",
    "WrongSecretError",
    "ZoneNotFoundError",
]


class AutotaskError(Exception):
    """Base class: something went wrong talking to Autotask.

    `retryable` says whether trying again later may help (network trouble, rate limits,
    server errors) as opposed to something a person has to fix (credentials, permissions,
    rejected data).
    """

    retryable = False

    def __init__(
        self, message: str, *, status: int | None = None, details: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.details = details

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status!r})"


class AutotaskAuthError(AutotaskError):
    """The API user's credentials were not accepted (base for the specific cases)."""


class WrongSecretError(AutotaskAuthError):
    """Autotask knows the API user but the secret is wrong (HTTP 401)."""

    def __init__(self, *, status: int | None = 401, details: tuple[str, ...] = ()) -> None:
        super().__init__(
            "Autotask did not accept the API user's secret. Copy the secret again from "
            "Autotask > Admin > Resources/Users (the API user's Security tab) — if it was "
            "changed there, enter the new one.",
            status=status,
            details=details,
        )


class UnknownUserError(AutotaskAuthError):
    """Autotask does not know the API user name (Autotask answers HTTP 500 for this)."""

    def __init__(self, *, status: int | None = 500, details: tuple[str, ...] = ()) -> None:
        super().__init__(
            "Autotask does not recognise this API user name. Check the user name — it is the "
            "API user's email address, exactly as shown in Autotask > Admin > Resources/Users — "
            "and that the API user is active.",
            status=status,
            details=details,
        )


class IntegrationCodeError(AutotaskAuthError):
    """Autotask rejected the API integration code (tracking identifier), HTTP 500."""

    def __init__(self, *, status: int | None = 500, details: tuple[str, ...] = ()) -> None:
        super().__init__(
            "Autotask rejected the API integration code. Check the API user's Integration "
            "Vendor (tracking identifier) in Autotask > Admin > Resources/Users and copy the "
            "code again.",
            status=status,
            details=details,
        )


class CredentialsRejectedError(AutotaskAuthError):
    """Autotask refused a first, harmless call with a message PayDesk does not recognise.

    Autotask answers HTTP 500 both for an unknown user and for a bad integration code, and
    its wording may change; when Test Connection's first call is refused that way, this
    error names both possibilities and carries Autotask's own text in `details`.
    """

    def __init__(self, *, status: int | None = 500, details: tuple[str, ...] = ()) -> None:
        said = " ".join(details).strip()
        super().__init__(
            "Autotask did not accept the API user name or the integration code. Check both "
            "in Autotask > Admin > Resources/Users (the user name is the API user's email "
            "address; the integration code is its Integration Vendor / tracking identifier)."
            + (f" Autotask said: {said}" if said else ""),
            status=status,
            details=details,
        )


class ZoneNotFoundError(AutotaskError):
    """`zoneInformation` could not tell which Autotask zone hosts this user."""

    def __init__(self, *, status: int | None = None, details: tuple[str, ...] = ()) -> None:
        super().__init__(
            "Autotask could not tell which data centre (zone) holds this API user. Check the "
            "user name for typing mistakes; if it is right, enter your zone's address by hand "
            "(for example https://webservices15.autotask.net/ATServicesRest/).",
            status=status,
            details=details,
        )


class PermissionDeniedError(AutotaskError):
    """The API user is valid but its security level does not allow this operation."""

    def __init__(
        self, what: str = "this", *, status: int | None = 403, details: tuple[str, ...] = ()
    ) -> None:
        super().__init__(
            f"The Autotask API user is not allowed to do {what}. Give the API user a security "
            "level that can read companies, contracts, tickets and invoices and add notes, in "
            "Autotask > Admin > Resources/Users.",
            status=status,
            details=details,
        )


class RateLimitedError(AutotaskError):
    """Autotask refused the request because of its request limits; try again later."""

    retryable = True

    def __init__(
        self,
        message: str = (
            "Autotask is limiting how many requests PayDesk may make right now (the hourly "
            "limit is shared by every program connected to your Autotask). PayDesk will try "
            "again shortly."
        ),
        *,
        retry_after: float | None = None,
        status: int | None = 429,
        details: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message, status=status, details=details)
        self.retry_after = retry_after


class ThreadLimitError(RateLimitedError):
    """Autotask refused a request because too many ran at once on one entity (Itgenatr005)."""

    def __init__(
        self,
        *,
        retry_after: float | None = None,
        status: int | None = None,
        details: tuple[str, ...] = (),
    ) -> None:
        super().__init__(
            "Autotask refused a request because too many were running at the same time. "
            "PayDesk will slow down and try again.",
            retry_after=retry_after,
            status=status,
            details=details,
        )


class AutotaskValidationError(AutotaskError):
    """Autotask rejected the data sent; `details` holds Autotask's own messages."""

    def __init__(self, details: tuple[str, ...], *, status: int | None = 500) -> None:
        text = " ".join(d.strip() for d in details if d.strip()) or "no reason given"
        super().__init__(f"Autotask did not accept the change: {text}", status=status,
                         details=details)


class AutotaskServerError(AutotaskError):
    """Autotask answered with a server error that is not a validation message."""

    retryable = True

    def __init__(
        self,
        message: str = (
            "Autotask had a problem answering (a server error on Autotask's side). Try again "
            "in a few minutes; if it keeps happening, check Autotask's status page."
        ),
        *,
        status: int | None = 500,
        details: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message, status=status, details=details)


class AutotaskNetworkError(AutotaskError):
    """Autotask could not be reached (no network, DNS failure, connection dropped).

    `sent` is False when the request certainly never reached Autotask (the connection
    could not be opened), which makes even a create safe to repeat.
    """

    retryable = True

    def __init__(self, message: str | None = None, *, sent: bool = True) -> None:
        super().__init__(
            message
            or "PayDesk could not reach Autotask. Check this computer's internet connection "
            "(and any proxy or firewall), then try again."
        )
        self.sent = sent


class AutotaskTLSError(AutotaskNetworkError):
    """The secure connection failed (certificate not trusted, TLS interception...)."""

    retryable = False

    def __init__(self) -> None:
        super().__init__(
            "PayDesk could not make a secure connection to Autotask: the server's certificate "
            "was not trusted. If your network inspects encrypted traffic, ask your IT "
            "administrator to allow Autotask's addresses."
        )


class AutotaskTimeoutError(AutotaskNetworkError):
    """Autotask did not answer in time."""

    def __init__(self, *, sent: bool = True) -> None:
        super().__init__(
            "Autotask took too long to answer. It may be busy; PayDesk will try again later.",
            sent=sent,
        )


class UnsafeAddressError(AutotaskError):
    """The configured address is not one PayDesk will send credentials to."""


class ForeignHostRefusedError(UnsafeAddressError):
    """A redirect or next-page link pointed at another host; nothing was sent there."""
