"""The payment and refund state machines.

A payment is written to the database in ``created`` with its idempotency key *before* the
gateway is called, then moves only along the arrows below. Every move goes through
:func:`check_transition`, so an impossible move (``declined`` → ``succeeded``) is a bug that
fails loudly instead of a ledger that quietly disagrees with the gateway::

    created ──▶ submitted ──▶ succeeded ──▶ partially_refunded ──▶ refunded
       │            │    ├──▶ processing ──▶ succeeded | returned | voided
       │            │    ├──▶ declined | failed
       │            └───▶ unknown ──▶ (looked up at the gateway) succeeded | processing | …
       ├──▶ failed            (refused before the gateway was called)
       └──▶ awaiting_client ──▶ succeeded | processing | expired     (pay links)

``unknown`` means the charge may or may not have happened (timeout, dropped connection,
crash). It is resolved only by asking the gateway about the payment's idempotency key —
never by charging again.
"""

from __future__ import annotations

import enum

__all__ = [
    "IN_FLIGHT_STATES",
    "InvalidTransitionError",
    "PaymentState",
    "RefundState",
    "can_transition",
    "check_refund_transition",
    "check_transition",
]


class PaymentState(enum.StrEnum):
    CREATED = "created"
    SUBMITTED = "submitted"
    AWAITING_CLIENT = "awaiting_client"
    SUCCEEDED = "succeeded"
    PROCESSING = "processing"
    DECLINED = "declined"
    FAILED = "failed"
    UNKNOWN = "unknown"
    RETURNED = "returned"
    VOIDED = "voided"
    EXPIRED = "expired"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"

    @property
    def label(self) -> str:
        return _PAYMENT_LABELS[self]

    @property
    def is_final(self) -> bool:
        """Nothing more can happen to the payment. (Refunded is not final: a refund the
        gateway accepted as pending can still fail and give the payment back.)"""
        return self in (
            PaymentState.DECLINED,
            PaymentState.FAILED,
            PaymentState.RETURNED,
            PaymentState.VOIDED,
            PaymentState.EXPIRED,
        )

    @property
    def money_received(self) -> bool:
        """Whether the payment's allocations count against invoice balances."""
        return self in (
            PaymentState.SUCCEEDED,
            PaymentState.PROCESSING,
            PaymentState.PARTIALLY_REFUNDED,
            PaymentState.REFUNDED,
        )


_PAYMENT_LABELS = {
    PaymentState.CREATED: "Starting",
    PaymentState.SUBMITTED: "Sent to the gateway",
    PaymentState.AWAITING_CLIENT: "Waiting for the client",
    PaymentState.SUCCEEDED: "Approved",
    PaymentState.PROCESSING: "Processing",
    PaymentState.DECLINED: "Declined",
    PaymentState.FAILED: "Failed",
    PaymentState.UNKNOWN: "Checking with the gateway",
    PaymentState.RETURNED: "Returned by the bank",
    PaymentState.VOIDED: "Voided",
    PaymentState.EXPIRED: "Pay link expired",
    PaymentState.PARTIALLY_REFUNDED: "Partially refunded",
    PaymentState.REFUNDED: "Refunded",
}

#: States of a payment whose outcome is not known yet. Their allocations reserve the
#: invoices' balances, so no other payment can take the same money meanwhile.
IN_FLIGHT_STATES: tuple[str, ...] = (
    PaymentState.CREATED.value,
    PaymentState.SUBMITTED.value,
    PaymentState.UNKNOWN.value,
    PaymentState.AWAITING_CLIENT.value,
)

#: Outcomes a charge can have once the gateway has answered (or been asked).
_OUTCOMES = frozenset(
    {
        PaymentState.SUCCEEDED,
        PaymentState.PROCESSING,
        PaymentState.DECLINED,
        PaymentState.FAILED,
    }
)

_PAYMENT_TRANSITIONS: dict[PaymentState, frozenset[PaymentState]] = {
    PaymentState.CREATED: frozenset(
        {PaymentState.SUBMITTED, PaymentState.FAILED, PaymentState.AWAITING_CLIENT}
    ),
    PaymentState.SUBMITTED: _OUTCOMES | {PaymentState.UNKNOWN},
    PaymentState.UNKNOWN: _OUTCOMES,
    PaymentState.AWAITING_CLIENT: frozenset(
        {PaymentState.SUCCEEDED, PaymentState.PROCESSING, PaymentState.EXPIRED}
    ),
    PaymentState.PROCESSING: frozenset(
        {PaymentState.SUCCEEDED, PaymentState.RETURNED, PaymentState.VOIDED}
    ),
    PaymentState.SUCCEEDED: frozenset(
        {PaymentState.PARTIALLY_REFUNDED, PaymentState.REFUNDED}
    ),
    # A refund the gateway accepted as pending can still fail; the money then stays with the
    # merchant and the payment goes back to what is left of it.
    PaymentState.PARTIALLY_REFUNDED: frozenset(
        {PaymentState.PARTIALLY_REFUNDED, PaymentState.REFUNDED, PaymentState.SUCCEEDED}
    ),
    PaymentState.REFUNDED: frozenset(
        {PaymentState.PARTIALLY_REFUNDED, PaymentState.SUCCEEDED}
    ),
}


class InvalidTransitionError(RuntimeError):
    """A state change the machine does not allow — a programming error, never user input."""


def can_transition(current: PaymentState | str, new: PaymentState | str) -> bool:
    return PaymentState(new) in _PAYMENT_TRANSITIONS.get(PaymentState(current), frozenset())


def check_transition(current: PaymentState | str, new: PaymentState | str) -> PaymentState:
    """``new`` as a :class:`PaymentState` when the move is allowed; raises otherwise."""
    if not can_transition(current, new):
        raise InvalidTransitionError(f"a payment cannot go from {current} to {new}")
    return PaymentState(new)


class RefundState(enum.StrEnum):
    """A refund (or a void of an unsettled bank debit).

    ``created`` is written with the refund's idempotency key before the gateway is called;
    ``unknown`` is resolved by repeating the call with the same key (the gateway replays).
    ``pending`` and ``succeeded`` both count as money given back.
    """

    CREATED = "created"
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"

    @property
    def label(self) -> str:
        return {
            RefundState.CREATED: "Starting",
            RefundState.PENDING: "Pending",
            RefundState.SUCCEEDED: "Refunded",
            RefundState.FAILED: "Failed",
            RefundState.UNKNOWN: "Checking with the gateway",
        }[self]


_REFUND_TRANSITIONS: dict[RefundState, frozenset[RefundState]] = {
    RefundState.CREATED: frozenset(
        {RefundState.PENDING, RefundState.SUCCEEDED, RefundState.FAILED, RefundState.UNKNOWN}
    ),
    RefundState.UNKNOWN: frozenset(
        {RefundState.PENDING, RefundState.SUCCEEDED, RefundState.FAILED}
    ),
    RefundState.PENDING: frozenset({RefundState.SUCCEEDED, RefundState.FAILED}),
}


def check_refund_transition(current: RefundState | str, new: RefundState | str) -> RefundState:
    if RefundState(new) not in _REFUND_TRANSITIONS.get(RefundState(current), frozenset()):
        raise InvalidTransitionError(f"a refund cannot go from {current} to {new}")
    return RefundState(new)
