"""The generic Test Connection state: tickets, fingerprints and the hooks a step overrides."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from app.core.setup.autotask_step import AutotaskStepState
from app.core.setup.autotask_step import TestState as AutotaskTestState
from app.core.setup.connection_test import ConnectionTestState, TestState


@dataclass(frozen=True, slots=True)
class _Form:
    account: str = ""
    label: str = ""

    def is_valid(self) -> bool:
        return bool(self.account)

    def fingerprint(self, stored_secret: str | None = None) -> str:
        return f"{self.account}|{stored_secret or ''}"


@dataclass(frozen=True, slots=True)
class _Outcome:
    ok: bool


def _now(state: ConnectionTestState[_Form, _Outcome]) -> TestState:
    return state.state  # read afresh (mypy would keep the narrowing from an earlier assert)


class _AccountOnly(ConnectionTestState[_Form, _Outcome]):
    def _clears_result(self, old: _Form, new: _Form) -> bool:
        return old.account != new.account


def test_a_pass_counts_only_for_the_values_tested() -> None:
    state: ConnectionTestState[_Form, _Outcome] = ConnectionTestState(_Form("a"))
    ticket = state.start_test()
    assert state.state is TestState.TESTING and not state.can_test()
    assert state.finish_test(ticket, _Outcome(ok=True))
    assert state.can_advance()
    assert state.edit(label="x") is True  # by default any change clears the pass
    assert _now(state) is TestState.UNTESTED and not state.can_advance()


def test_an_outdated_ticket_is_ignored() -> None:
    state: ConnectionTestState[_Form, _Outcome] = ConnectionTestState(_Form("a"))
    first = state.start_test()
    state.cancel_test()
    second = state.start_test()
    assert not state.finish_test(first, _Outcome(ok=True))
    assert state.state is TestState.TESTING
    assert state.finish_test(second, _Outcome(ok=False))
    assert _now(state) is TestState.FAILED and not state.can_advance()


def test_a_step_can_keep_a_result_for_edits_that_do_not_matter() -> None:
    state = _AccountOnly(_Form("a"))
    state.finish_test(state.start_test(), _Outcome(ok=True))
    assert state.edit(label="x") is False
    assert state.form.label == "x" and state.can_advance()
    assert state.edit(account="b") is True and not state.can_advance()


def test_a_test_cannot_start_on_a_form_with_errors() -> None:
    state: ConnectionTestState[_Form, _Outcome] = ConnectionTestState(_Form(""))
    assert not state.can_test()
    with pytest.raises(ValueError):
        state.start_test()


def test_the_autotask_step_shares_the_state_machine() -> None:
    assert AutotaskTestState is TestState
    assert issubclass(AutotaskStepState, ConnectionTestState)
