"""Throttling (per minute and at once) and the fault switches, over HTTP."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from app.sandbox.quickbooks_online import QuickBooksOnlineSandbox
from tests.integration.quickbooks_online.conftest import Api, fault, make_sandbox


def test_over_the_per_minute_limit_is_429_throttle_exceeded_in_xml() -> None:
    with make_sandbox(requests_per_minute=5) as qbo:
        api = Api(qbo, str(qbo.connect()["access_token"]))
        statuses = [api.get("companyinfo/1").status_code for _ in range(7)]
        assert statuses == [200] * 5 + [429] * 2
        refused = api.get("companyinfo/1")
        assert refused.headers["Content-Type"].startswith("application/xml")
        assert "errorCode=003001" in refused.text
        assert 'code="3001"' in refused.text
        assert refused.headers["Retry-After"] == "60"
        qbo.requests_per_minute = 500
        assert api.get("companyinfo/1").status_code == 200


def test_more_than_ten_at_once_is_throttled() -> None:
    with make_sandbox() as qbo:
        api = Api(qbo, str(qbo.connect()["access_token"]))
        qbo.add_fault("slow", count=-1, path="/companyinfo", seconds=0.6)
        start = threading.Barrier(14)

        def call(_: int) -> int:
            session = requests.Session()
            session.headers.update(api.session.headers)
            start.wait()
            return session.get(f"{api.base}/companyinfo/1", timeout=10).status_code

        with ThreadPoolExecutor(14) as pool:
            statuses = list(pool.map(call, range(14)))
        assert statuses.count(200) == 10
        assert statuses.count(429) == 4
        assert qbo.max_in_flight_seen == 10


def test_server_errors_in_json_and_html(api: Api, qbo: QuickBooksOnlineSandbox) -> None:
    qbo.add_fault("server_error", status=503)
    response = api.get("companyinfo/1")
    assert response.status_code == 503
    assert fault(response)["code"] == "10000"
    qbo.add_fault("server_error", status=502, body="html")
    html = api.get("companyinfo/1")
    assert html.status_code == 502
    assert html.headers["Content-Type"] == "text/html"
    assert api.get("companyinfo/1").status_code == 200


def test_throttle_drop_and_expired_token_switches(api: Api, qbo: QuickBooksOnlineSandbox) -> None:
    qbo.add_fault("throttle", count=2, path="/query")
    assert api.get("query", query="SELECT * FROM Item").status_code == 429
    assert api.get("companyinfo/1").status_code == 200  # the path did not match
    assert api.get("query", query="SELECT * FROM Item").status_code == 429
    assert api.get("query", query="SELECT * FROM Item").status_code == 200
    qbo.add_fault("drop")
    with pytest.raises(requests.ConnectionError):
        api.get("companyinfo/1")
    qbo.add_fault("expired_token")
    assert api.get("companyinfo/1").status_code == 401
    assert api.get("companyinfo/1").status_code == 200


def test_faults_through_the_admin_api(api: Api, qbo: QuickBooksOnlineSandbox) -> None:
    headers = {"Authorization": f"Bearer {qbo.client_secret}"}
    added = requests.post(f"{qbo.admin_url}faults", headers=headers, timeout=10,
                          json={"kind": "server_error", "count": -1, "status": 500})
    assert added.status_code == 200
    assert api.get("companyinfo/1").status_code == 500
    assert api.get("companyinfo/1").status_code == 500
    requests.delete(f"{qbo.admin_url}faults", headers=headers, timeout=10)
    assert api.get("companyinfo/1").status_code == 200
    bad = requests.post(f"{qbo.admin_url}faults", headers=headers, timeout=10,
                        json={"kind": "meteor"})
    assert bad.status_code == 400
    config = requests.post(f"{qbo.admin_url}config", headers=headers, timeout=10,
                           json={"requests_per_minute": 1, "consent": "click"})
    assert config.json()["requests_per_minute"] == 1
    assert config.json()["consent"] == "click"
