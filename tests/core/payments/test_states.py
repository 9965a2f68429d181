"""The payment and refund state machines: only the documented moves are possible."""

from __future__ import annotations

import itertools

import pytest

from app.core.payments import IN_FLIGHT_STATES, InvalidTransitionError, PaymentState, RefundState
from app.core.payments.states import (
    can_transition,
    check_refund_transition,
    check_transition,
)

S = PaymentState

ALLOWED = {
    (S.CREATED, S.SUBMITTED), (S.CREATED, S.FAILED), (S.CREATED, S.AWAITING_CLIENT),
    (S.SUBMITTED, S.SUCCEEDED), (S.SUBMITTED, S.PROCESSING), (S.SUBMITTED, S.DECLINED),
    (S.SUBMITTED, S.FAILED), (S.SUBMITTED, S.UNKNOWN),
    (S.UNKNOWN, S.SUCCEEDED), (S.UNKNOWN, S.PROCESSING), (S.UNKNOWN, S.DECLINED),
    (S.UNKNOWN, S.FAILED),
    (S.AWAITING_CLIENT, S.SUCCEEDED), (S.AWAITING_CLIENT, S.PROCESSING),
    (S.AWAITING_CLIENT, S.EXPIRED),
    (S.PROCESSING, S.SUCCEEDED), (S.PROCESSING, S.RETURNED), (S.PROCESSING, S.VOIDED),
    (S.SUCCEEDED, S.PARTIALLY_REFUNDED), (S.SUCCEEDED, S.REFUNDED),
    (S.PARTIALLY_REFUNDED, S.PARTIALLY_REFUNDED), (S.PARTIALLY_REFUNDED, S.REFUNDED),
    # A pending refund that fails gives the payment back.
    (S.PARTIALLY_REFUNDED, S.SUCCEEDED), (S.REFUNDED, S.PARTIALLY_REFUNDED),
    (S.REFUNDED, S.SUCCEEDED),
}


@pytest.mark.parametrize(("old", "new"), list(itertools.product(S, S)))
def test_every_pair_of_states(old: PaymentState, new: PaymentState) -> None:
    allowed = (old, new) in ALLOWED
    assert can_transition(old, new) is allowed
    if allowed:
        assert check_transition(old.value, new.value) is new
    else:
        with pytest.raises(InvalidTransitionError):
            check_transition(old, new)


def test_a_charge_can_never_be_taken_again_once_it_has_an_outcome() -> None:
    for final in (S.DECLINED, S.FAILED, S.RETURNED, S.VOIDED, S.EXPIRED):
        assert final.is_final
        assert not any(can_transition(final, other) for other in S)
    # Nothing ever goes back to being sent.
    assert not any(can_transition(state, S.SUBMITTED) for state in S if state is not S.CREATED)
    # Refunded only ever goes back to what the charge was, when a pending refund fails.
    assert not S.REFUNDED.is_final
    assert {n for n in S if can_transition(S.REFUNDED, n)} == {S.PARTIALLY_REFUNDED, S.SUCCEEDED}


def test_in_flight_states_reserve_balances_and_received_states_count() -> None:
    assert set(IN_FLIGHT_STATES) == {"created", "submitted", "unknown", "awaiting_client"}
    assert {s for s in S if s.money_received} == {
        S.SUCCEEDED, S.PROCESSING, S.PARTIALLY_REFUNDED, S.REFUNDED}
    assert not set(IN_FLIGHT_STATES) & {s.value for s in S if s.money_received}


def test_every_state_has_a_label() -> None:
    assert all(s.label and s.label[0].isupper() for s in S)
    assert all(r.label for r in RefundState)


def test_refund_transitions() -> None:
    assert check_refund_transition("created", "succeeded") is RefundState.SUCCEEDED
    assert check_refund_transition("unknown", "pending") is RefundState.PENDING
    assert check_refund_transition("pending", "succeeded") is RefundState.SUCCEEDED
    for old, new in (("succeeded", "failed"), ("failed", "succeeded"), ("succeeded", "created")):
        with pytest.raises(InvalidTransitionError):
            check_refund_transition(old, new)
