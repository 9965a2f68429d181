"""The errors every payment gateway raises, typed by what the caller should do next.

Every message is written for a bookkeeper (what happened, what to do). None of them carries
a secret key, a card or bank number, or a raw response body.

What a caller does with each, for a mutating call such as a charge:

==========================  ===================================================================
``Declined``                the gateway refused; nothing moved. (``charge()`` returns a declined
                            :class:`~app.core.gateways.types.ChargeResult` instead of raising.)
``InvalidRequest``          PayDesk sent something the gateway will not accept; nothing moved;
                            retrying the same request will fail the same way.
``IdempotencyKeyReused``    the key was already used with different parameters — a bug or a
                            clash; nothing new moved.
``AuthenticationFailed``    the secret key is wrong, revoked or lacks permission.
``RateLimited``             too many requests; nothing moved; retry after ``retry_after``.
``GatewayUnavailable``      the gateway failed or is down. Whether a mutating call took effect
                            is unknown when ``outcome_unknown`` is true — look it up or retry
                            with the same idempotency key.
``RequestInProgress``       the same idempotency key is still being processed; wait, then retry
                            with the same key.
``NetworkUnknownOutcome``   the connection broke or timed out; the call may have taken effect.
                            Recover with ``find_charge`` or a retry with the same key — never
                            with a new key.
==========================  ===================================================================
"""

from __future__ import annotations

__all__ = [
    "AuthenticationFailed",
    "Declined",
    "GatewayError",
    "GatewayUnavailable",
    "IdempotencyKeyReused",
    "InvalidRequest",
    "NetworkUnknownOutcome",
    "RateLimited",
    "RequestInProgress",
]


class GatewayError(Exception):
    """Base of every gateway failure.

    ``message`` is for a bookkeeper; ``code`` is the gateway's code when it gave one;
    ``retryable`` says whether repeating the same request (same idempotency key) later can
    succeed; ``outcome_unknown`` says a mutating call may have taken effect.
    """

    retryable: bool = False
    outcome_unknown: bool = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        http_status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status
        self.request_id = request_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code!r})"


class Declined(GatewayError):
    """The card issuer or bank refused. ``decline_code`` is the finer reason when given."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        decline_code: str | None = None,
        charge_id: str | None = None,
        http_status: int | None = 402,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, code=code, http_status=http_status, request_id=request_id)
        self.decline_code = decline_code
        self.charge_id = charge_id


class InvalidRequest(GatewayError):
    """The gateway rejected the request itself (missing/invalid parameter, unknown id, a
    refund larger than the charge…). ``param`` names the offending parameter."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        http_status: int | None = 400,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, code=code, http_status=http_status, request_id=request_id)
        self.param = param


class IdempotencyKeyReused(InvalidRequest):
    """The idempotency key was used before for a request with different parameters."""


class AuthenticationFailed(GatewayError):
    """The secret key was refused (wrong, revoked, or not allowed to do this)."""


class RateLimited(GatewayError):
    """The gateway asks PayDesk to slow down. Nothing was done; retry later."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        code: str | None = None,
        http_status: int | None = 429,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, code=code, http_status=http_status, request_id=request_id)
        self.retry_after = retry_after


class GatewayUnavailable(GatewayError):
    """The gateway had an internal error or could not be reached before sending anything."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        outcome_unknown: bool = True,
        code: str | None = None,
        http_status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, code=code, http_status=http_status, request_id=request_id)
        self.outcome_unknown = outcome_unknown


class RequestInProgress(GatewayUnavailable):
    """Another request with the same idempotency key is still running at the gateway."""


class NetworkUnknownOutcome(GatewayError):
    """The connection failed after the request may have been sent; the outcome is unknown."""

    retryable = True
    outcome_unknown = True
