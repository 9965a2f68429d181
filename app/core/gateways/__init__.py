"""Payment gateways: the :class:`PaymentGateway` protocol, its results and errors, and the
adapters (Stripe first).

Import from here::

    from app.core.gateways import PaymentGateway, ChargeResult, ChargeStatus, errors

The Stripe adapter lives in :mod:`app.core.gateways.stripe_gateway` (it imports the
``stripe`` SDK, so it is not imported here).
"""

from __future__ import annotations

from app.core.gateways import errors
from app.core.gateways.declines import decline_reason
from app.core.gateways.errors import (
    AuthenticationFailed,
    Declined,
    GatewayError,
    GatewayUnavailable,
    IdempotencyKeyReused,
    InvalidRequest,
    NetworkUnknownOutcome,
    RateLimited,
    RequestInProgress,
)
from app.core.gateways.protocol import PaymentGateway
from app.core.gateways.types import (
    METADATA_IDEMPOTENCY_KEY,
    METADATA_ORGANIZATION,
    METADATA_REFERENCE,
    ChargeResult,
    ChargeStatus,
    Decline,
    GatewayAccountInfo,
    GatewayMode,
    HostedMode,
    HostedSession,
    HostedSessionState,
    HostedSessionStatus,
    MethodType,
    RefundResult,
    RefundStatus,
    SavedMethod,
)

__all__ = [
    "METADATA_IDEMPOTENCY_KEY",
    "METADATA_ORGANIZATION",
    "METADATA_REFERENCE",
    "AuthenticationFailed",
    "ChargeResult",
    "ChargeStatus",
    "Decline",
    "Declined",
    "GatewayAccountInfo",
    "GatewayError",
    "GatewayMode",
    "GatewayUnavailable",
    "HostedMode",
    "HostedSession",
    "HostedSessionState",
    "HostedSessionStatus",
    "IdempotencyKeyReused",
    "InvalidRequest",
    "MethodType",
    "NetworkUnknownOutcome",
    "PaymentGateway",
    "RateLimited",
    "RefundResult",
    "RefundStatus",
    "RequestInProgress",
    "SavedMethod",
    "decline_reason",
    "errors",
]
