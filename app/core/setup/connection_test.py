"""Test Connection as page state, shared by every setup step that signs in to a service.

A step's page holds a form (frozen dataclass) and a Test Connection button. The state goes
untested → testing → passed/failed. A result only counts for the exact values that were
tested (a fingerprint of the form, a hash so a secret is never kept in clear); editing what
the test depends on clears a result, and a result that arrives for an older test (after
Cancel or an edit) is ignored: each test gets a ticket, and only the newest one counts.

:class:`ConnectionTestState` is generic over the form and the outcome type; a step adapts it
by overriding the small hooks (:meth:`~ConnectionTestState._ready_to_test`,
:meth:`~ConnectionTestState._clears_result`, :meth:`~ConnectionTestState._form_complete`).
Used on one thread (the GUI thread in the wizard).
"""

from __future__ import annotations

import enum
from dataclasses import replace
from typing import Any, Generic, Protocol, TypeVar

__all__ = [
    "ConnectionTestState",
    "TestOutcomeLike",
    "TestState",
    "TestableForm",
]


class TestState(enum.Enum):
    UNTESTED = "untested"
    TESTING = "testing"
    PASSED = "passed"
    FAILED = "failed"


TestState.__test__ = False  # type: ignore[attr-defined]  # not a pytest class


class TestableForm(Protocol):
    """What the state needs of a form: whether it is acceptable, and what exactly is tested."""

    def is_valid(self) -> bool: ...

    def fingerprint(self, stored_secret: str | None = None) -> str: ...


class TestOutcomeLike(Protocol):
    """What the state needs of a finished test: whether it worked."""

    @property
    def ok(self) -> bool: ...


FormT = TypeVar("FormT", bound=TestableForm)
OutcomeT = TypeVar("OutcomeT", bound=TestOutcomeLike)


class ConnectionTestState(Generic[FormT, OutcomeT]):
    """Test Connection for one form: state, outcome, and whether Next is allowed."""

    #: The ``ValueError`` message when a test is started before the form allows it.
    not_ready_message = "the form has errors"

    def __init__(self, form: FormT, stored_secret: str | None = None) -> None:
        self.form = form
        self._stored_secret = stored_secret
        self.state = TestState.UNTESTED
        self.outcome: OutcomeT | None = None
        self._generation = 0
        self._tested: str | None = None

    # Hooks a step may override.

    def _ready_to_test(self) -> bool:
        """Whether the fields a test needs are acceptable (by default: all of them)."""
        return self.form.is_valid()

    def _clears_result(self, old: FormT, new: FormT) -> bool:
        """Whether changing ``old`` to ``new`` invalidates a result (by default: any change)."""
        return True

    def _form_complete(self) -> bool:
        """Extra condition for Next besides a matching pass (by default: none)."""
        return True

    def _normalise_secret(self, secret: str) -> str:
        """How a newly saved secret is kept for the fingerprint (by default: as typed)."""
        return secret

    # The state machine.

    def edit(self, **changes: Any) -> bool:
        """Apply field changes; returns True when that cleared a result (pass or fail)."""
        new_form: FormT = replace(self.form, **changes)  # type: ignore[type-var]
        if new_form == self.form:
            return False
        old_form, self.form = self.form, new_form
        if not self._clears_result(old_form, new_form):
            return False
        if self.state is TestState.TESTING:
            self._generation += 1  # the running test no longer matches the fields
        cleared = self.state is not TestState.UNTESTED
        self.state = TestState.UNTESTED
        self.outcome = None
        self._tested = None
        return cleared

    def can_test(self) -> bool:
        return self.state is not TestState.TESTING and self._ready_to_test()

    def start_test(self) -> int:
        """Mark a test as running; returns the ticket its result must come back with."""
        if not self._ready_to_test():
            raise ValueError(self.not_ready_message)
        self._generation += 1
        self.state = TestState.TESTING
        self.outcome = None
        self._tested = self.form.fingerprint(self._stored_secret)
        return self._generation

    def cancel_test(self) -> None:
        if self.state is TestState.TESTING:
            self._generation += 1
            self.state = TestState.UNTESTED
            self._tested = None

    def finish_test(self, ticket: int, outcome: OutcomeT) -> bool:
        """Record a result; False (and nothing changes) when it is for an outdated test."""
        if ticket != self._generation or self.state is not TestState.TESTING:
            return False
        self.outcome = outcome
        self.state = TestState.PASSED if outcome.ok else TestState.FAILED
        return True

    def secret_saved(self, secret: str) -> None:
        """The typed secret is now the stored one (the fingerprint stays the same)."""
        self._stored_secret = self._normalise_secret(secret)

    def can_advance(self) -> bool:
        """Next is allowed only after a pass for exactly the values now in the fields."""
        return (
            self.state is TestState.PASSED
            and self._tested is not None
            and self._tested == self.form.fingerprint(self._stored_secret)
            and self._form_complete()
        )
