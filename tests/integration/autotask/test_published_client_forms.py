"""Request forms that published Autotask REST clients send, accepted as Autotask accepts them.

Checked by hand with py-autotask 2.3.0 and atrest 1.0.2 against the sandbox; these tests
send the same requests with plain `requests`, so they need neither library.
"""

from __future__ import annotations

import requests

from app.sandbox.autotask import AutotaskSandbox


def _headers(sandbox: AutotaskSandbox) -> dict[str, str]:
    c = sandbox.credentials
    return {"ApiIntegrationCode": c.integration_code, "UserName": c.username,
            "Secret": c.secret, "Content-Type": "application/json"}


def _base(sandbox: AutotaskSandbox) -> str:
    return sandbox.zone_url.rstrip("/") + "/v1.0"  # lower-case version, as some clients write


def test_get_query_with_a_raw_json_search_and_string_id(sandbox: AutotaskSandbox) -> None:
    ticket = sandbox.records("Tickets")[3]
    query = ('/Tickets/query?search={"filter":[{"op":"eq","field":"Id","value":"'
             f'{ticket["id"]}"}}]}}')
    response = requests.get(_base(sandbox) + query, headers=_headers(sandbox), timeout=(5, 30))
    assert response.status_code == 200
    assert [t["id"] for t in response.json()["items"]] == [ticket["id"]]


def test_create_with_capitalised_field_names(sandbox: AutotaskSandbox) -> None:
    company = sandbox.records("Companies")[0]["id"]
    response = requests.post(_base(sandbox) + "/Tickets", headers=_headers(sandbox), json={
        "Title": "Printer jam", "Description": "Paper stuck", "Status": 1, "Priority": 2,
        "CompanyID": company, "QueueID": 29683487}, timeout=(5, 30))
    assert response.status_code == 200
    created = sandbox.record("Tickets", response.json()["itemId"])
    assert created is not None
    assert created["title"] == "Printer jam" and created["companyID"] == company
    assert created["createDate"] and created["ticketNumber"].startswith("T")


def test_patch_on_the_record_address_and_count_without_filter(
        sandbox: AutotaskSandbox) -> None:
    invoice = sandbox.records("Invoices")[0]["id"]
    response = requests.patch(f"{_base(sandbox)}/Invoices/{invoice}", headers=_headers(sandbox),
                              json={"id": invoice, "paidDate": "2026-02-03"}, timeout=(5, 30))
    assert response.json() == {"itemId": invoice}
    assert sandbox.record("Invoices", invoice)["paidDate"] == "2026-02-03T00:00:00"  # type: ignore[index]
    count = requests.post(_base(sandbox) + "/Invoices/query/count", headers=_headers(sandbox),
                          json={}, timeout=(5, 30))
    assert count.json() == {"queryCount": 1_234}
