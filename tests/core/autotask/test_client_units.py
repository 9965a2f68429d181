"""Client pieces that need no server: credentials, URL safety, error classification."""

from __future__ import annotations

import pytest
import requests

from app.core import net
from app.core.autotask import (
    AutotaskCredentials,
    AutotaskServerError,
    AutotaskValidationError,
    IntegrationCodeError,
    PermissionDeniedError,
    RateLimitedError,
    ThreadLimitError,
    UnknownUserError,
    WrongSecretError,
    manual_zone,
)
from app.core.autotask.client import error_from_response


def test_credentials_repr_hides_the_secret_and_code() -> None:
    creds = AutotaskCredentials("api@msp.example", "Sup3r-Secret!", "TRACKINGCODE123")
    for text in (repr(creds), str(creds)):
        assert "Sup3r-Secret!" not in text and "TRACKINGCODE123" not in text
        assert "api@msp.example" in text
    assert creds.headers()["Secret"] == "Sup3r-Secret!"
    assert "ImpersonationResourceId" not in creds.headers()
    assert AutotaskCredentials("a", "b", "c", 42).headers()["ImpersonationResourceId"] == "42"


@pytest.mark.parametrize("url", ["https://webservices15.autotask.net/ATServicesRest/",
                                 "http://127.0.0.1:8080/x", "http://localhost/x",
                                 "http://[::1]:9000/"])
def test_safe_urls(url: str) -> None:
    assert net.require_safe_url(url) == url


@pytest.mark.parametrize("url", ["http://webservices15.autotask.net/", "ftp://127.0.0.1/",
                                 "https://user:pw@host.example/", "webservices.autotask.net",
                                 "http://10.0.0.5/"])
def test_unsafe_urls(url: str) -> None:
    with pytest.raises(net.UnsafeURLError):
        net.require_safe_url(url)


def test_same_host_compares_scheme_host_and_port() -> None:
    zone = "https://webservices15.autotask.net/ATServicesRest/"
    assert net.require_same_host(
        "https://WEBSERVICES15.autotask.net:443/ATServicesRest/V1.0/x", zone)
    for other in ("https://webservices2.autotask.net/ATServicesRest/",
                  "https://webservices15.autotask.net:8443/", "https://evil.example/"):
        with pytest.raises(net.ForeignHostError):
            net.require_same_host(other, zone)


def test_manual_zone_accepts_the_address_with_or_without_version() -> None:
    assert manual_zone("https://webservices15.autotask.net/ATServicesRest/V1.0/").api_url == (
        "https://webservices15.autotask.net/ATServicesRest/")
    assert manual_zone("https://webservices15.autotask.net/ATServicesRest").api_url == (
        "https://webservices15.autotask.net/ATServicesRest/")


def _response(status: int, body: str, content_type: str = "application/json",
              retry_after: str | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body.encode()
    response.headers["Content-Type"] = content_type
    if retry_after:
        response.headers["Retry-After"] = retry_after
    return response


@pytest.mark.parametrize(("status", "body", "kind"), [
    (401, '{"errors": ["Authorization has been denied"]}', WrongSecretError),
    (401, "", WrongSecretError),
    (500, '{"errors": ["IntegrationCode is invalid."]}', IntegrationCodeError),
    (500, '{"errors": ["User x@y not found or not authenticated."]}', UnknownUserError),
    (403, '{"errors": ["Forbidden"]}', PermissionDeniedError),
    (500, '{"errors": ["You do not have permission to query Invoices."]}',
     PermissionDeniedError),
    (429, '{"errors": ["slow down"]}', RateLimitedError),
    (500, '{"errors": ["Thread Threshold Exceeded ... Itgenatr005"]}', ThreadLimitError),
    (405, '{"errors": ["thread threshold of 3 threads has been exceeded"]}', ThreadLimitError),
    (500, '<html><body>Runtime Error</body></html>', AutotaskServerError),
    (503, '{"errors": ["Service Unavailable"]}', AutotaskServerError),
    (500, '{"errors": ["The field isVoided is read-only."]}', AutotaskValidationError),
])
def test_error_classification(status: int, body: str, kind: type[Exception]) -> None:
    error = error_from_response(_response(status, body))
    assert type(error) is kind
    assert "HTTP" not in error.message


def test_retry_after_is_read() -> None:
    error = error_from_response(_response(429, "{}", retry_after="7"))
    assert isinstance(error, RateLimitedError) and error.retry_after == 7.0
    assert error.retryable


def test_validation_message_passes_autotasks_text_through() -> None:
    error = error_from_response(_response(500, '{"errors": ["When assigning a Resource, you '
                                               'must assign both fields.", "Second."]}'))
    assert isinstance(error, AutotaskValidationError)
    assert "When assigning a Resource" in error.message and "Second." in error.message
    assert not error.retryable


def test_request_bodies_never_send_an_amount_through_a_float() -> None:
    import json
    from decimal import Decimal

    from app.core.autotask.client import _json_default

    assert json.dumps({"id": Decimal("1045")}, default=_json_default) == '{"id": 1045}'
    with pytest.raises(TypeError, match="fraction"):
        json.dumps({"amount": Decimal("0.10")}, default=_json_default)


def test_answers_are_read_with_exact_amounts_and_any_text_json_can_carry() -> None:
    from decimal import Decimal

    from app.core.autotask.client import _json_or_none

    body = _json_or_none(_response(200, '{"items": [{"id": 7, "total": 12.30, "n": 3}]}'))
    assert body == {"items": [{"id": 7, "total": Decimal("12.30"), "n": 3}]}
    assert type(body["items"][0]["total"]) is Decimal
    # Half of an emoji, which JSON can carry and the fast decoder refuses: still read, so
    # the one record is quarantined instead of the whole page failing.
    odd = _json_or_none(_response(200, '{"items": [{"id": 8, "name": "Blue \\ud83d"}]}'))
    assert odd == {"items": [{"id": 8, "name": "Blue \ud83d"}]}
    latin = _response(200, "", "application/json; charset=latin-1")
    latin._content = '{"name": "Café"}'.encode("latin-1")
    assert _json_or_none(latin) == {"name": "Café"}
    assert _json_or_none(_response(200, "<html>maintenance</html>")) is None
