"""Each Test Connection failure has its own plain-language headline and fix."""

from __future__ import annotations

import pytest

from app.core.autotask import (
    AutotaskError,
    AutotaskNetworkError,
    AutotaskServerError,
    AutotaskTLSError,
    ConnectionReport,
    IntegrationCodeError,
    PermissionDeniedError,
    RateLimitedError,
    UnknownUserError,
    UnsafeAddressError,
    WrongSecretError,
    ZoneNotFoundError,
)
from app.core.setup.outcomes import FailureKind, describe_failure, describe_success

CASES: list[tuple[AutotaskError, FailureKind, str, str | None]] = [
    (WrongSecretError(), FailureKind.WRONG_SECRET, "secret", "secret"),
    (UnknownUserError(), FailureKind.UNKNOWN_USER, "user name", "username"),
    (IntegrationCodeError(), FailureKind.INTEGRATION_CODE, "Integration Vendor",
     "integration_code"),
    (ZoneNotFoundError(), FailureKind.ZONE_NOT_FOUND, "Advanced", "username"),
    (AutotaskNetworkError(), FailureKind.NO_NETWORK, "internet connection", "zone_url"),
    (AutotaskTLSError(), FailureKind.TLS, "IT administrator", None),
    (RateLimitedError(), FailureKind.RATE_LIMITED, "Wait a few minutes", None),
    (PermissionDeniedError(), FailureKind.NO_PERMISSION, "security level", None),
    (UnsafeAddressError("The address must start with https://."), FailureKind.UNSAFE_ADDRESS,
     "https://", "zone_url"),
    (AutotaskServerError(), FailureKind.AUTOTASK_PROBLEM, "status page", None),
]


@pytest.mark.parametrize(("error", "kind", "words", "field"), CASES,
                         ids=[c[1].value for c in CASES])
def test_each_failure_has_its_own_fix(
    error: AutotaskError, kind: FailureKind, words: str, field: str | None
) -> None:
    failure = describe_failure(error)
    assert failure.kind is kind
    assert words in failure.fix
    assert failure.field == field
    assert "HTTP" not in failure.text() and "Exception" not in failure.text()


def test_fixes_are_all_different() -> None:
    fixes = {describe_failure(c[0]).fix for c in CASES}
    assert len(fixes) == len(CASES)


def test_autotask_own_words_are_kept_for_support() -> None:
    failure = describe_failure(UnknownUserError(details=("User not found",)))
    assert failure.autotask_said == "User not found"
    assert "Autotask said: User not found" in failure.text()


def test_success_shows_zone_web_address_organizations_and_usage() -> None:
    lines = dict(describe_success(ConnectionReport(
        zone_name="America East 3", api_url="https://webservices15.autotask.net/ATServicesRest/",
        web_url="https://ww15.autotask.net/", company_count=1234, requests_used=87,
        request_threshold=10000, timeframe_minutes=60)))
    assert lines == {
        "Zone": "America East 3",
        "Autotask web address": "https://ww15.autotask.net/",
        "Organizations": "1,234",
        "API usage": "87 of 10,000 requests in the last 60 minutes",
    }


def test_a_typed_zone_is_described_as_typed_and_named_when_not_autotask() -> None:
    from app.core.autotask.client import ConnectionReport
    from app.core.setup.outcomes import describe_success
    from app.core.setup.validation import typed_zone_notice

    report = ConnectionReport("Sandbox", "https://psa.example.com/ATServicesRest/", "", 3, 1,
                              10_000, 60, typed_zone=True)
    zone = dict(describe_success(report))["Zone"]
    assert zone.startswith("https://psa.example.com/") and "you typed" in zone
    assert typed_zone_notice("https://psa.example.com/ATServicesRest/")
    assert typed_zone_notice("https://webservices2.autotask.net/ATServicesRest/") is None
    assert typed_zone_notice("http://127.0.0.1:8080/ATServicesRest/") is None
    assert typed_zone_notice("") is None
