"""Zone discovery, Test Connection and every authentication failure, over real HTTP."""

from __future__ import annotations

import logging

import pytest

from app.core.autotask import (
    AutotaskClient,
    AutotaskCredentials,
    AutotaskNetworkError,
    AutotaskServerError,
    ConnectionReport,
    CredentialsRejectedError,
    IntegrationCodeError,
    UnknownUserError,
    UnsafeAddressError,
    WrongSecretError,
    ZoneNotFoundError,
    discover_zone,
    test_connection,
)
from app.sandbox.autotask import AutotaskSandbox
from tests.integration.autotask.conftest import first_invoice, make_client


def test_zone_discovery_finds_the_sandbox_zone_and_caches_it(sandbox: AutotaskSandbox) -> None:
    zone = discover_zone(sandbox.credentials.username, discovery_url=sandbox.url, refresh=True)
    assert zone.api_url == sandbox.zone_url
    assert zone.api_url.endswith("/")
    assert zone.name and zone.web_url
    again = discover_zone(sandbox.credentials.username.upper(), discovery_url=sandbox.url)
    assert again == zone
    assert sandbox.request_counts().get("GET zoneinformation") == 1


def test_zone_discovery_failure_says_what_to_do(sandbox: AutotaskSandbox) -> None:
    with pytest.raises(ZoneNotFoundError) as caught:
        discover_zone("nobody@example.com", discovery_url=sandbox.url, refresh=True)
    assert "Zone information could not be determined" in caught.value.details
    assert "by hand" in caught.value.message


def test_manual_zone_url_works_when_discovery_is_not_possible(sandbox: AutotaskSandbox) -> None:
    client = AutotaskClient(sandbox.client_credentials(), zone_url=sandbox.zone_url + "V1.0",
                            discovery_url="https://discovery.invalid/atservicesrest/")
    assert client.count("Companies") == 40
    assert sandbox.request_counts().get("GET zoneinformation") is None


def test_plain_http_to_a_remote_host_is_refused_before_connecting() -> None:
    with pytest.raises(UnsafeAddressError):
        AutotaskClient(AutotaskCredentials("u@example.com", "s3cret-value", "CODE"),
                       zone_url="http://webservices15.autotask.net/ATServicesRest/")


def test_test_connection_reports_zone_companies_and_usage(sandbox: AutotaskSandbox) -> None:
    report = test_connection(sandbox.client_credentials(), discovery_url=sandbox.url)
    assert isinstance(report, ConnectionReport)
    assert report.zone_name == "Sandbox (this computer)"
    assert report.web_url.startswith(sandbox.origin)
    assert report.company_count == 40
    assert report.request_threshold == 10_000
    assert report.requests_used == 1  # ThresholdInformation counts itself


def _credentials(sandbox: AutotaskSandbox, **change: str) -> AutotaskCredentials:
    c = sandbox.credentials
    values = {"username": c.username, "secret": c.secret, "integration_code": c.integration_code}
    values.update(change)
    return AutotaskCredentials(values["username"], values["secret"], values["integration_code"])


def test_wrong_secret_is_reported_as_such(sandbox: AutotaskSandbox) -> None:
    with pytest.raises(WrongSecretError) as caught:
        test_connection(_credentials(sandbox, secret="not-the-secret"), zone_url=sandbox.zone_url)
    assert caught.value.status == 401
    assert "secret" in caught.value.message


def test_unknown_user_is_reported_although_autotask_answers_500(
        sandbox: AutotaskSandbox) -> None:
    with pytest.raises(UnknownUserError) as caught:
        test_connection(_credentials(sandbox, username="someone@else.example"),
                        zone_url=sandbox.zone_url)
    assert caught.value.status == 500
    assert "user name" in caught.value.message


def test_bad_integration_code_is_reported_although_autotask_answers_500(
        sandbox: AutotaskSandbox) -> None:
    with pytest.raises(IntegrationCodeError) as caught:
        test_connection(_credentials(sandbox, integration_code="WRONGCODE"),
                        zone_url=sandbox.zone_url)
    assert caught.value.status == 500
    assert "integration code" in caught.value.message


def test_auth_failures_are_not_retried(sandbox: AutotaskSandbox) -> None:
    client = make_client(sandbox)
    bad = AutotaskClient(_credentials(sandbox, secret="wrong"), zone=client.zone)
    before = sandbox.request_counts()["total"]
    with pytest.raises(WrongSecretError):
        bad.get("Companies", 174)
    assert sandbox.request_counts()["total"] == before + 1


def test_no_secret_in_logs_exceptions_or_reprs(sandbox: AutotaskSandbox,
                                               caplog: pytest.LogCaptureFixture) -> None:
    secret = sandbox.credentials.secret
    code = sandbox.credentials.integration_code
    caplog.set_level(logging.DEBUG)
    client = make_client(sandbox)
    client.count("Invoices")
    sandbox.fail_next(status=503, body="html")
    client.get("Invoices", first_invoice(sandbox))
    errors: list[Exception] = []
    for wrong in (_credentials(sandbox, secret="x" + secret),
                  _credentials(sandbox, integration_code="x")):
        try:
            AutotaskClient(wrong, zone=client.zone).count("Companies")
        except Exception as exc:
            errors.append(exc)
    assert len(errors) == 2
    texts = [caplog.text, repr(client), repr(client.credentials), str(client.credentials),
             *(str(e) for e in errors), *(repr(e) for e in errors)]
    for text in texts:
        assert secret not in text
        assert code not in text


def test_zone_lookup_server_error_is_not_mistaken_for_an_unknown_user(
        sandbox: AutotaskSandbox) -> None:
    sandbox.fail_next(status=503, body="html", path_contains="zoneInformation")
    with pytest.raises(AutotaskServerError):
        discover_zone(sandbox.credentials.username, discovery_url=sandbox.url, refresh=True)
    assert discover_zone(sandbox.credentials.username, discovery_url=sandbox.url,
                         refresh=True).api_url == sandbox.zone_url


def test_unreachable_autotask_is_a_network_error() -> None:
    with AutotaskSandbox(companies=1, contacts=0, contracts=0, tickets=0, invoices=0) as gone:
        url = gone.url
    with pytest.raises(AutotaskNetworkError) as caught:
        discover_zone("someone@example.com", discovery_url=url, refresh=True)
    assert "internet connection" in caught.value.message


def test_an_unfamiliar_refusal_of_test_connection_names_both_credentials(
        sandbox: AutotaskSandbox) -> None:
    sandbox.fail_next(status=500, message="Something went wrong", path_contains="Threshold")
    with pytest.raises(CredentialsRejectedError) as caught:
        test_connection(sandbox.client_credentials(), zone_url=sandbox.zone_url)
    assert "user name or the integration code" in caught.value.message
    assert caught.value.details == ("Something went wrong",)
