"""Credentials stay with Autotask: a zone lookup that names another server is refused.

A second sandbox on this computer plays the foreign host; it must receive nothing — no
request at all, so certainly no `Secret`, `UserName` or `ApiIntegrationCode` — and the
message says why. Redirects and next-page links are covered in test_pacing_and_faults.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.core.autotask import AutotaskClient, UnsafeAddressError, discover_zone
from app.core.autotask.client import is_autotask_host, test_connection
from app.sandbox.autotask import AutotaskSandbox
from tests.integration.autotask.conftest import make_sandbox


@pytest.fixture
def sandbox() -> Iterator[AutotaskSandbox]:
    with make_sandbox() as running:
        yield running


@pytest.fixture
def foreign() -> Iterator[AutotaskSandbox]:
    with AutotaskSandbox(companies=2, contacts=0, contracts=0, tickets=0,
                         invoices=0) as running:
        yield running


def test_a_zone_on_another_server_gets_nothing(sandbox: AutotaskSandbox,
                                               foreign: AutotaskSandbox) -> None:
    sandbox.faults.zone_url = foreign.zone_url
    client = AutotaskClient(sandbox.client_credentials(), discovery_url=sandbox.url)
    with pytest.raises(UnsafeAddressError) as caught:
        client.count("Companies")
    message = caught.value.message
    assert "not Autotask's" in message and "sent no credentials there" in message
    assert "by hand" in message
    assert foreign.request_counts() == {"total": 0}
    # The Setup page's Test Connection takes the same path and reports the same sentence.
    with pytest.raises(UnsafeAddressError):
        test_connection(sandbox.client_credentials(), discovery_url=sandbox.url)
    assert foreign.request_counts() == {"total": 0}


@pytest.mark.parametrize("named", [
    "https://attacker.example/ATServicesRest/",
    "https://webservices15.autotask.net.attacker.example/ATServicesRest/",
    "https://autotask.net@attacker.example/ATServicesRest/",
    "http://webservices15.autotask.net/ATServicesRest/",
])
def test_a_zone_lookup_naming_any_host_but_autotask_is_refused(
        sandbox: AutotaskSandbox, named: str) -> None:
    sandbox.faults.zone_url = named
    with pytest.raises(UnsafeAddressError):
        discover_zone(sandbox.credentials.username, discovery_url=sandbox.url,
                      refresh=True)


def test_the_sandbox_is_accepted_only_as_its_own_zone(sandbox: AutotaskSandbox) -> None:
    zone = discover_zone(sandbox.credentials.username, discovery_url=sandbox.url,
                         refresh=True)
    assert zone.api_url == sandbox.zone_url
    assert AutotaskClient(sandbox.client_credentials(), zone=zone).count("Companies") == 40


def test_autotask_hosts() -> None:
    assert is_autotask_host("webservices15.autotask.net")
    assert is_autotask_host("WebServices2.Autotask.NET.")
    assert not is_autotask_host("autotask.net.example.com")
    assert not is_autotask_host("notautotask.net")
    assert not is_autotask_host("example.com")
