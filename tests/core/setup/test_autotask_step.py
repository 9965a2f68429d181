"""Test Connection as page state: only a pass for the values now in the fields counts."""

from __future__ import annotations

from app.core.autotask import ConnectionReport, WrongSecretError
from app.core.setup.autotask_step import AutotaskForm, AutotaskStepState, TestOutcome, TestState
from app.core.setup.outcomes import describe_failure

GOOD = AutotaskForm(username="api@msp.com", secret="s3cret", integration_code="CODE1")
REPORT = ConnectionReport("Zone 1", "https://webservices1.autotask.net/ATServicesRest/",
                          "https://ww1.autotask.net/", 10, 1, 10000, 60)
PASS = TestOutcome(report=REPORT)
FAIL = TestOutcome(failure=describe_failure(WrongSecretError()))


def test_next_only_after_a_pass() -> None:
    step = AutotaskStepState(GOOD)
    assert not step.can_advance()
    ticket = step.start_test()
    assert step.state is TestState.TESTING and not step.can_test()
    assert step.finish_test(ticket, PASS)
    assert step.can_advance()


def test_a_failure_keeps_next_disabled() -> None:
    step = AutotaskStepState(GOOD)
    assert step.finish_test(step.start_test(), FAIL)
    assert step.state is TestState.FAILED and not step.can_advance()


def test_editing_any_field_after_a_pass_clears_it() -> None:
    for change in ({"username": "x@msp.com"}, {"secret": "other"},
                   {"integration_code": "CODE2"}, {"zone_url": "https://z.autotask.net/"}):
        step = AutotaskStepState(GOOD)
        step.finish_test(step.start_test(), PASS)
        assert step.edit(**change)
        assert step.state is TestState.UNTESTED and not step.can_advance()


def test_typing_the_same_value_again_keeps_the_pass() -> None:
    step = AutotaskStepState(GOOD)
    step.finish_test(step.start_test(), PASS)
    assert not step.edit(username="api@msp.com")
    assert step.can_advance()


def test_a_result_after_cancel_or_edit_is_ignored() -> None:
    step = AutotaskStepState(GOOD)
    ticket = step.start_test()
    step.cancel_test()
    assert not step.finish_test(ticket, PASS)
    assert step.state is TestState.UNTESTED and not step.can_advance()
    ticket = step.start_test()
    step.edit(secret="typed-while-testing")
    assert not step.finish_test(ticket, PASS)
    assert not step.can_advance()


def test_invalid_forms_cannot_be_tested() -> None:
    form = AutotaskForm(username="not-an-email", secret="s", integration_code="C")
    step = AutotaskStepState(form)
    assert not step.can_test()
    assert set(step.form.errors()) == {"username"}


def test_stored_secret_is_used_when_the_field_is_left_empty() -> None:
    form = AutotaskForm(username="api@msp.com", integration_code="CODE1", secret_stored=True)
    assert form.is_valid()
    assert form.credentials("from-keychain").secret == "from-keychain"
    assert "from-keychain" not in repr(form)
    step = AutotaskStepState(form, stored_secret="from-keychain")
    step.finish_test(step.start_test(), PASS)
    assert step.can_advance()
