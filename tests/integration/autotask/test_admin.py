"""The sandbox's admin interface (under /_sandbox/, not part of Autotask's surface)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import requests

from app.core.autotask import AutotaskClient
from app.sandbox.autotask import AutotaskSandbox


def _admin(sandbox: AutotaskSandbox, method: str, path: str, body: Any = None) -> Any:
    response = requests.request(method, sandbox.admin_url + path, json=body, timeout=(5, 30))
    assert response.status_code == 200, response.text
    return response.json()


def test_admin_changes_are_seen_by_the_client(sandbox: AutotaskSandbox,
                                              client: AutotaskClient) -> None:
    company = _admin(sandbox, "POST", "companies", {"companyName": "Ōtaki Plumbing & Gas"})
    assert client.get("Companies", company["id"])["companyName"] == "Ōtaki Plumbing & Gas"  # type: ignore[index]
    renamed = _admin(sandbox, "PATCH", f"companies/{company['id']}", {"phone": "555-0101"})
    assert renamed["phone"] == "555-0101"

    invoice = _admin(sandbox, "POST", "invoices", {
        "companyID": company["id"], "invoiceDate": "2026-03-01", "taxRate": "0.05",
        "lines": [{"name": "Onsite support", "quantity": "1.5", "rate": "150"},
                  {"name": "Cable", "quantity": "3", "rate": "9.99"}]})
    fetched = client.get("Invoices", invoice["id"])
    assert fetched is not None
    assert fetched["invoiceTotal"] == Decimal("267.72")  # 225 + 29.97 + 5 % tax, per line
    lines = [r for p in client.query_all("BillingItems", [
        {"op": "eq", "field": "invoiceID", "value": invoice["id"]}]) for r in p]
    assert sum(line["totalAmount"] for line in lines) == fetched["invoiceTotal"]

    _admin(sandbox, "POST", f"invoices/{invoice['id']}/pay", {"date": "2026-03-20"})
    assert client.get("Invoices", invoice["id"])["paidDate"] == "2026-03-20T00:00:00"  # type: ignore[index]
    _admin(sandbox, "POST", f"invoices/{invoice['id']}/void")
    assert client.get("Invoices", invoice["id"])["isVoided"] is True  # type: ignore[index]


def test_admin_reports_notes_patches_and_requests(sandbox: AutotaskSandbox,
                                                  client: AutotaskClient) -> None:
    company = sandbox.records("Companies")[0]["id"]
    invoice = sandbox.records("Invoices")[0]["id"]
    client.create_note(company, {"description": "ref PD-9", "actionType": 15})
    client.patch("Invoices", invoice, {"paidDate": "2026-01-05"})
    assert [n["description"] for n in _admin(sandbox, "GET", "notes")["items"]] == ["ref PD-9"]
    assert _admin(sandbox, "GET", "patches")["items"][0]["fields"] == {
        "paidDate": "2026-01-05T00:00:00"}
    stats = _admin(sandbox, "GET", "stats")
    assert stats["requests"]["POST companies"] == 1
    assert stats["requests"]["PATCH invoices"] == 1
    assert stats["thresholdUsed"] == stats["requests"]["total"] - stats["requests"][
        "GET zoneinformation"]
    _admin(sandbox, "POST", "stats/reset")
    assert _admin(sandbox, "GET", "stats")["requests"] == {"total": 0}


def test_admin_switches_faults(sandbox: AutotaskSandbox, client: AutotaskClient) -> None:
    faults = _admin(sandbox, "PATCH", "faults", {"latency_ms": 5.5, "error_body": "html"})
    assert faults["latency_ms"] == 5.5 and sandbox.faults.error_body == "html"
    assert isinstance(sandbox.faults.latency_ms, float)
    assert client.count("Companies") == 40
    _admin(sandbox, "POST", "faults/next", {"status": 503, "times": 1})
    assert client.count("Companies") == 40
    assert client.stats().retries == 1
    bad = requests.patch(sandbox.admin_url + "faults", json={"no_such_switch": 1},
                         timeout=(5, 30))
    assert bad.status_code == 400
    _admin(sandbox, "POST", "usage", {"used": 9_000})
    assert client.threshold_information().used >= 9_000


def test_admin_info_names_the_sizes_and_bad_records() -> None:
    with AutotaskSandbox(companies=5, contacts=5, contracts=2, tickets=10, invoices=30,
                         bad_records=2) as sandbox:
        info = _admin(sandbox, "GET", "info")
        assert info["sizes"]["invoices"] == 30
        assert info["counts"]["invoices"] == 30
        assert len(info["badRecords"]) == 2
        assert "secret" not in info


def test_fault_switches_take_numbers_with_a_fraction(sandbox: AutotaskSandbox,
                                                     client: AutotaskClient) -> None:
    faults = _admin(sandbox, "PATCH", "faults", {
        "latency_ms": 150.0, "latency_jitter_ms": 2.5, "slow_ms": 10.5, "slow_rate": 1,
        "mutate_every": 4.0, "error_status": 503, "drop_rate": 0,
        "scripted": [{"status": 500.0, "delay_ms": 5.5, "retry_after": 0.5, "times": 1.0,
                      "path_contains": "/nowhere"}]})
    assert faults["latency_ms"] == 150.0 and faults["mutate_every"] == 4
    assert faults["scripted"][0]["delay_ms"] == 5.5 and faults["scripted"][0]["times"] == 1
    assert isinstance(sandbox.faults.latency_ms, float)
    assert isinstance(sandbox.faults.scripted[0].retry_after, float)
    fault = _admin(sandbox, "POST", "faults/next", {"status": 503, "delay_ms": 20.5,
                                                    "times": 1, "path_contains": "Companies"})
    assert fault["delay_ms"] == 20.5
    _admin(sandbox, "PATCH", "faults", {"latency_ms": 1.5, "slow_rate": 0})
    assert client.count("Companies") > 0  # the request with the fractional delays is served
    for wrong in ({"mutate_every": 2.5}, {"latency_ms": "fast"}, {"error_status": 500.5}):
        response = requests.patch(sandbox.admin_url + "faults", json=wrong, timeout=(5, 30))
        assert response.status_code == 400, wrong
