"""Connecting with Intuit's own OAuth library against the sandbox's OAuth server."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from intuitlib.exceptions import AuthClientError

from app.sandbox.quickbooks_online import QuickBooksOnlineSandbox
from tests.integration.quickbooks_online.conftest import Api

REDIRECT = "http://localhost:8765/callback"


def auth_client(qbo: QuickBooksOnlineSandbox, **kwargs: str) -> AuthClient:
    return AuthClient(kwargs.get("client_id", qbo.client_id),
                      kwargs.get("client_secret", qbo.client_secret), REDIRECT,
                      environment=qbo.discovery_url)


def consent(qbo: QuickBooksOnlineSandbox, client: AuthClient, state: str = "st-1") -> dict[
        str, str]:
    """Open the authorize address as a browser would; the redirect's query parameters."""
    url = client.get_authorization_url([Scopes.ACCOUNTING], state_token=state)
    response = requests.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def connected(qbo: QuickBooksOnlineSandbox) -> AuthClient:
    client = auth_client(qbo)
    answer = consent(qbo, client)
    client.get_bearer_token(answer["code"], realm_id=answer["realmId"])
    return client


def test_discovery_document_drives_intuit_oauth(qbo: QuickBooksOnlineSandbox) -> None:
    client = auth_client(qbo)
    assert client.auth_endpoint == f"{qbo.url}/connect/oauth2"
    assert client.token_endpoint == f"{qbo.url}/oauth2/v1/tokens/bearer"
    assert client.revoke_endpoint.startswith(qbo.url)
    assert client.user_info_url.startswith(qbo.url)
    assert client.issuer_uri and client.jwks_uri


def test_round_trip_code_state_realm_and_tokens(qbo: QuickBooksOnlineSandbox) -> None:
    client = auth_client(qbo)
    answer = consent(qbo, client, state="abc123")
    assert answer["state"] == "abc123"
    assert answer["realmId"] == qbo.realm_id
    client.get_bearer_token(answer["code"], realm_id=answer["realmId"])
    assert client.access_token and client.refresh_token
    assert client.expires_in == 3600
    assert client.x_refresh_token_expires_in == 100 * 86400
    api = Api(qbo, client.access_token)
    info = api.read("CompanyInfo", "1")
    assert info["CompanyName"] == "Northwind IT Services"
    # A code works once.
    with pytest.raises(AuthClientError) as refused:
        client.get_bearer_token(answer["code"], realm_id=answer["realmId"])
    assert refused.value.status_code == 400
    assert "invalid_grant" in refused.value.content.decode()


def test_wrong_client_secret_is_invalid_client(qbo: QuickBooksOnlineSandbox) -> None:
    client = auth_client(qbo, client_secret="wrong")
    answer = consent(qbo, client)
    with pytest.raises(AuthClientError) as refused:
        client.get_bearer_token(answer["code"])
    assert refused.value.status_code == 401
    assert "invalid_client" in refused.value.content.decode()


def test_consent_on_a_click_and_a_refusal(qbo: QuickBooksOnlineSandbox) -> None:
    qbo.consent = "click"
    client = auth_client(qbo)
    url = client.get_authorization_url([Scopes.ACCOUNTING], state_token="s-2")
    page = requests.get(url, timeout=10)
    assert page.status_code == 200
    assert 'id="connect"' in page.text.replace("'", '"')
    ticket = re.search(r"name='ticket' value='([^']+)'", page.text)
    assert ticket is not None
    allowed = requests.post(f"{qbo.url}/connect/oauth2", allow_redirects=False, timeout=10,
                            data={"ticket": ticket.group(1), "decision": "allow"})
    assert allowed.status_code == 302
    query = parse_qs(urlsplit(allowed.headers["Location"]).query)
    assert query["state"] == ["s-2"] and "code" in query
    # The same page cannot be used twice; Cancel sends access_denied.
    page = requests.get(url, timeout=10)
    ticket = re.search(r"name='ticket' value='([^']+)'", page.text)
    assert ticket is not None
    denied = requests.post(f"{qbo.url}/connect/oauth2", allow_redirects=False, timeout=10,
                           data={"ticket": ticket.group(1), "decision": "deny"})
    assert parse_qs(urlsplit(denied.headers["Location"]).query)["error"] == ["access_denied"]


def test_an_unregistered_redirect_uri_gets_an_error_page() -> None:
    with QuickBooksOnlineSandbox(invoices=10, companies=3,
                                 redirect_uris=("https://relay.example/qbo",)) as qbo:
        client = auth_client(qbo)
        url = client.get_authorization_url([Scopes.ACCOUNTING])
        page = requests.get(url, allow_redirects=False, timeout=10)
        assert page.status_code == 400
        assert "redirect_uri" in page.text


def test_refresh_rotates_the_refresh_token(qbo: QuickBooksOnlineSandbox) -> None:
    client = connected(qbo)
    first = client.refresh_token
    client.refresh()
    second = client.refresh_token
    assert second != first
    # Until the new one is used, the old one still works (a crash before saving the new
    # token is recoverable) — and using it again forks the chain: only the newest is good.
    client.refresh(refresh_token=first)
    third = client.refresh_token
    assert third not in (first, second)
    with pytest.raises(AuthClientError):
        client.refresh(refresh_token=second)
    client.refresh(refresh_token=third)
    fourth = client.refresh_token
    client.refresh(refresh_token=fourth)
    # Once its successor has been used, an old token is dead.
    for dead in (first, third):
        with pytest.raises(AuthClientError) as refused:
            client.refresh(refresh_token=dead)
        assert "invalid_grant" in refused.value.content.decode()
    client.refresh()  # the newest one is good


def test_an_old_refresh_token_dies_after_the_grace(qbo: QuickBooksOnlineSandbox) -> None:
    client = connected(qbo)
    first = client.refresh_token
    client.refresh()
    qbo.fast_forward(86400 + 1)
    with pytest.raises(AuthClientError):
        client.refresh(refresh_token=first)
    client.refresh()  # the newest still works


def test_access_tokens_expire_after_an_hour(qbo: QuickBooksOnlineSandbox) -> None:
    client = connected(qbo)
    api = Api(qbo, client.access_token)
    assert api.get("companyinfo/1").status_code == 200
    qbo.fast_forward(3601)
    expired = api.get("companyinfo/1")
    assert expired.status_code == 401
    error = expired.json()["fault"]["error"][0]
    assert error["code"] == "3200"
    assert "Token expired" in error["detail"]
    assert 'error="invalid_token"' in expired.headers["WWW-Authenticate"]
    client.refresh()
    assert Api(qbo, client.access_token).get("companyinfo/1").status_code == 200


def test_admin_expires_tokens_without_moving_the_clock(qbo: QuickBooksOnlineSandbox) -> None:
    client = connected(qbo)
    admin = requests.post(f"{qbo.admin_url}tokens/expire", timeout=10,
                          headers={"Authorization": f"Bearer {qbo.client_secret}"})
    assert admin.status_code == 200
    assert Api(qbo, client.access_token).get("companyinfo/1").status_code == 401


def test_revoking_disconnects(qbo: QuickBooksOnlineSandbox) -> None:
    client = connected(qbo)
    access = client.access_token
    assert client.revoke() is True
    assert Api(qbo, access).get("companyinfo/1").status_code == 401
    with pytest.raises(AuthClientError) as refused:
        client.refresh()
    assert "invalid_grant" in refused.value.content.decode()


def test_userinfo(qbo: QuickBooksOnlineSandbox) -> None:
    client = connected(qbo)
    info = client.get_user_info().json()
    assert info["email"]


def test_another_company_is_forbidden(qbo: QuickBooksOnlineSandbox) -> None:
    client = connected(qbo)
    response = requests.get(f"{qbo.api_base}/company/123/companyinfo/1", timeout=10,
                            headers={"Authorization": f"Bearer {client.access_token}"})
    assert response.status_code == 403


def test_production_keys_need_an_https_redirect_with_a_host_name() -> None:
    with QuickBooksOnlineSandbox(invoices=10, companies=3, production_keys=True) as qbo:
        for refused in ("http://localhost:8765/callback", "https://127.0.0.1/cb",
                        "https://localhost/cb"):
            client = AuthClient(qbo.client_id, qbo.client_secret, refused,
                                environment=qbo.discovery_url)
            page = requests.get(client.get_authorization_url([Scopes.ACCOUNTING]),
                                allow_redirects=False, timeout=10)
            assert page.status_code == 400, refused
        relay = "https://relay.example.com/paydesk/qbo"
        client = AuthClient(qbo.client_id, qbo.client_secret, relay,
                            environment=qbo.discovery_url)
        answer = requests.get(client.get_authorization_url([Scopes.ACCOUNTING], "s-9"),
                              allow_redirects=False, timeout=10)
        assert answer.status_code == 302
        landed = answer.headers["Location"]
        assert landed.startswith(relay + "?")
        # The address the browser landed on is all a person needs to paste back.
        query = {k: v[0] for k, v in parse_qs(urlsplit(landed).query).items()}
        assert query["state"] == "s-9"
        client.get_bearer_token(query["code"], realm_id=query["realmId"])
        assert client.access_token
