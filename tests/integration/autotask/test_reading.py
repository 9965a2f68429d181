"""Reading from the sandbox: paging, limits, next-page links, metadata — over real HTTP."""

from __future__ import annotations

import json
import random
import time
from decimal import Decimal
from typing import Any

import pytest
import requests

from app.core.autotask import AutotaskClient, AutotaskValidationError, PacingPolicy
from app.sandbox.autotask import AutotaskSandbox, Faults
from tests.integration.autotask.conftest import make_client, make_sandbox


def _headers(sandbox: AutotaskSandbox) -> dict[str, str]:
    c = sandbox.credentials
    # Header names in the casing some published clients use.
    return {"ApiIntegrationcode": c.integration_code, "username": c.username,
            "SECRET": c.secret, "Content-Type": "application/json"}


def _all(client: AutotaskClient, entity: str, **kw: object) -> list[dict[str, object]]:
    return [record for page in client.query_all(entity, **kw) for record in page]  # type: ignore[arg-type]


def test_query_all_reads_every_page_in_id_order(client: AutotaskClient,
                                                sandbox: AutotaskSandbox) -> None:
    pages = list(client.query_all("Invoices"))
    assert [len(p) for p in pages] == [500, 500, 234]
    ids = [r["id"] for p in pages for r in p]
    assert ids == sorted(ids) == [r["id"] for r in sandbox.records("Invoices")]
    assert client.count("Invoices") == 1_234


def test_paging_with_records_created_mid_sync_loses_and_repeats_nothing() -> None:
    with make_sandbox(faults=Faults(mutate_every=1)) as sandbox:
        client = make_client(sandbox, pacing=PacingPolicy(check_every_requests=1000))
        before = {r["id"] for r in sandbox.records("Invoices")}
        seen: list[int] = []
        for page in client.query_all("Invoices", page_size=100):
            seen.extend(int(r["id"]) for r in page)
        after = {r["id"] for r in sandbox.records("Invoices")}
        kinds = {m["kind"] for m in sandbox.mutations}
        assert len(sandbox.mutations) >= 12
        assert "invoice created" in kinds
        assert len(seen) == len(set(seen))  # nothing twice
        assert set(seen) == after  # nothing lost, new invoices included
        assert after > before


def test_query_all_with_filter_and_fields_includes_id(client: AutotaskClient,
                                                      sandbox: AutotaskSandbox) -> None:
    rows = _all(client, "Invoices", filters=[{"op": "eq", "field": "isvoided", "value": True}],
                fields=["invoiceNumber", "invoiceTotal"])
    expected = [r for r in sandbox.records("Invoices") if r["isVoided"]]
    assert rows and [r["id"] for r in rows] == [r["id"] for r in expected]
    assert set(rows[0]) == {"id", "invoiceNumber", "invoiceTotal"}
    assert isinstance(rows[0]["invoiceTotal"], Decimal)


def test_invoice_totals_equal_their_lines_to_the_cent(client: AutotaskClient) -> None:
    lines: dict[int, Decimal] = {}
    for page in client.query_all("BillingItems", fields=["invoiceID", "totalAmount"]):
        for line in page:
            lines[line["invoiceID"]] = lines.get(line["invoiceID"], Decimal(0)) + line[
                "totalAmount"]
    invoices = _all(client, "Invoices")
    assert len(invoices) == 1_234
    assert all(inv["invoiceTotal"] == lines[int(str(inv["id"]))] for inv in invoices)


@pytest.mark.parametrize("max_records", [0, 501, -1])
def test_max_records_outside_1_to_500_is_refused(sandbox: AutotaskSandbox,
                                                 max_records: int) -> None:
    response = requests.post(f"{sandbox.zone_url}V1.0/Invoices/query", headers=_headers(sandbox),
                             json={"MaxRecords": max_records,
                                   "Filter": [{"op": "gt", "field": "id", "value": 0}]},
                             timeout=(5, 30))
    assert response.status_code == 500
    assert response.json() == {"errors": ["maxCountOfRecordsToReturn must be between 1 and 500"]}


def test_client_refuses_page_sizes_autotask_would_reject(client: AutotaskClient) -> None:
    with pytest.raises(ValueError):
        client.query_page("Invoices", max_records=501)
    with pytest.raises(ValueError):
        list(client.query_all("Invoices", page_size=0))
    assert len(client.query_page("Invoices", max_records=1)) == 1


def test_next_page_url_of_a_post_query_must_be_posted_and_get_is_405(sandbox: AutotaskSandbox,
                                                     client: AutotaskClient) -> None:
    body = {"MaxRecords": 500, "Filter": [{"op": "exist", "field": "id"}]}
    first = requests.post(f"{sandbox.zone_url}V1.0/Invoices/query", headers=_headers(sandbox),
                          json=body, timeout=(5, 30)).json()
    next_url = first["pageDetails"]["nextPageUrl"]
    assert first["pageDetails"]["count"] == 500 and first["pageDetails"]["requestCount"] == 500
    assert next_url.startswith(sandbox.origin)
    wrong = requests.get(next_url, headers=_headers(sandbox), timeout=(5, 30))
    assert wrong.status_code == 405
    assert wrong.json() == {
        "Message": "The requested resource does not support http method 'GET'."}
    second = client.query_next_page(next_url, body)
    assert second["items"][0]["id"] > first["items"][-1]["id"]
    third = client.query_next_page(second["pageDetails"]["nextPageUrl"], body)
    assert third["pageDetails"]["nextPageUrl"] is None
    assert len(first["items"]) + len(second["items"]) + len(third["items"]) == 1_234


def test_get_query_with_search_parameter_and_case_insensitive_paths(
        sandbox: AutotaskSandbox) -> None:
    search = json.dumps({"filter": [{"OP": "beginsWith", "Field": "COMPANYNAME", "value": "a"}]})
    response = requests.get(f"{sandbox.origin}/atservicesrest/v1.0/companies/QUERY",
                            params={"search": search}, headers=_headers(sandbox),
                            timeout=(5, 30))
    assert response.status_code == 200
    names = [item["companyName"] for item in response.json()["items"]]
    assert names and all(n.lower().startswith("a") for n in names)


def test_get_by_id_and_absent_record(client: AutotaskClient, sandbox: AutotaskSandbox) -> None:
    first = sandbox.records("Invoices")[0]
    got = client.get("Invoices", first["id"])
    assert got is not None and got["invoiceNumber"] == first["invoiceNumber"]
    assert client.get("Invoices", first["id"] + 100_000_000) is None


def test_bare_entity_get_is_405(sandbox: AutotaskSandbox) -> None:
    response = requests.get(f"{sandbox.zone_url}V1.0/Invoices", headers=_headers(sandbox),
                            timeout=(5, 30))
    assert response.status_code == 405


def test_non_queryable_field_and_string_boolean_are_refused(client: AutotaskClient) -> None:
    with pytest.raises(AutotaskValidationError) as caught:
        client.query_page("Invoices", [{"op": "gt", "field": "dueDate",
                                        "value": "2024-01-01T00:00:00Z"}])
    assert "not queryable" in caught.value.message
    with pytest.raises(AutotaskValidationError):
        client.query_page("Invoices", [{"op": "eq", "field": "isVoided", "value": "true"}])


def test_entity_fields_and_picklists_are_cached(client: AutotaskClient,
                                                sandbox: AutotaskSandbox) -> None:
    statuses = client.picklist("Tickets", "status")
    assert statuses["5"] == "Complete"
    assert client.field_info("Invoices", "DUEDATE").is_queryable is False  # type: ignore[union-attr]
    client.picklist("Tickets", "priority")
    client.entity_fields("tickets")
    assert sandbox.request_counts().get("GET tickets") == 1
    terms = client.picklist("Invoices", "paymentTerm")
    assert "Net 30" in terms.values()


def test_notes_are_created_under_their_company_and_found_by_reference(
        client: AutotaskClient, sandbox: AutotaskSandbox) -> None:
    company = sandbox.records("Companies")[3]["id"]
    note_id = client.create_note(company, {
        "title": "Payment received", "actionType": 15,
        "description": "Payment of 120.50 for invoice 1004 (ref PD-7F3A)"})
    assert [n["id"] for n in sandbox.notes()] == [note_id]
    found = client.find_company_notes(company, "pd-7f3a")
    assert [n["id"] for n in found] == [note_id]
    assert client.find_company_notes(company, "PD-0000") == []
    other = sandbox.records("Companies")[4]["id"]
    assert client.find_company_notes(other, "PD-7F3A") == []


def test_patch_invoice_paid_date_keeps_the_date_only(client: AutotaskClient,
                                                     sandbox: AutotaskSandbox) -> None:
    invoice = next(r for r in sandbox.records("Invoices") if not r["paidDate"])
    client.patch("Invoices", invoice["id"], {"paidDate": "2026-05-04T17:45:12.123Z"})
    assert sandbox.record("Invoices", invoice["id"])["paidDate"] == "2026-05-04T00:00:00"  # type: ignore[index]
    assert sandbox.patches()[-1]["fields"] == {"paidDate": "2026-05-04T00:00:00"}
    client.patch("Invoices", invoice["id"], {"paidDate": None})
    assert sandbox.record("Invoices", invoice["id"])["paidDate"] is None  # type: ignore[index]


def test_patch_of_a_read_only_invoice_field_passes_autotasks_message(
        client: AutotaskClient) -> None:
    with pytest.raises(AutotaskValidationError) as caught:
        client.patch("Invoices", 212, {"isVoided": True})
    assert caught.value.details == ("The field isVoided is read-only.",)
    assert "isVoided is read-only" in caught.value.message


def test_invoices_cannot_be_created(sandbox: AutotaskSandbox) -> None:
    response = requests.post(f"{sandbox.zone_url}V1.0/Invoices", headers=_headers(sandbox),
                             json={"companyID": 174}, timeout=(5, 30))
    assert response.status_code == 500
    assert "cannot be created" in response.json()["errors"][0]


def test_a_warm_sandbox_generates_its_data_while_idle() -> None:
    with make_sandbox(warm=True) as sandbox:
        deadline = time.monotonic() + 20
        while not sandbox.warmed:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        billing = sandbox.data.billing_items
        assert all(billing.is_cached(n) for n in range(billing.num_chunks))
        client = make_client(sandbox)
        assert sum(len(p) for p in client.query_all("Invoices")) == 1_234


def test_long_get_queries_are_refused_like_iis_does(sandbox: AutotaskSandbox) -> None:
    ids = list(range(1, 600))
    search = json.dumps({"filter": [{"op": "in", "field": "id", "value": ids}]})
    response = requests.get(f"{sandbox.zone_url}V1.0/Invoices/query",
                            params={"search": search}, headers=_headers(sandbox),
                            timeout=(5, 30))
    assert response.status_code == 404
    assert "query string is too long" in response.text
    posted = requests.post(f"{sandbox.zone_url}V1.0/Invoices/query", data=search,
                           headers=_headers(sandbox), timeout=(5, 30))
    assert posted.status_code == 200


def test_projected_pages_show_changes_made_after_they_were_first_served(
        client: AutotaskClient, sandbox: AutotaskSandbox) -> None:
    def read() -> dict[int, object]:
        return {r["id"]: r["paidDate"] for p in client.query_all(
            "Invoices", fields=["id", "paidDate"]) for r in p}

    before = read()
    target = next(i for i, paid in before.items() if paid is None)
    client.patch("Invoices", target, {"paidDate": "2026-04-01"})
    created = sandbox.create_invoice(sandbox.records("Companies")[0]["id"], [("Setup", "1", "99")])
    after = read()
    assert after[target] == "2026-04-01T00:00:00"
    assert after[created["id"]] is None
    assert {k: v for k, v in after.items() if k not in (target, created["id"])} == {
        k: v for k, v in before.items() if k != target}


def test_counts_by_id_range_match_the_records(sandbox: AutotaskSandbox) -> None:
    rng = random.Random(4)
    company = sandbox.records("Companies")[0]["id"]
    sandbox.create_invoice(company, [("Setup", "1", "99")])
    client = make_client(sandbox)
    ids = [int(r["id"]) for r in sandbox.records("Invoices")]
    for _ in range(12):
        low, high = sorted(rng.sample(ids, 2))
        low += rng.choice([-1, 0, 1])
        filters: list[dict[str, Any]] = [{"op": rng.choice(["gt", "gte"]), "field": "id",
                                          "value": low},
                                         {"op": rng.choice(["lt", "lte"]), "field": "id",
                                          "value": high}]
        expected = sum(1 for i in ids if (i > low if filters[0]["op"] == "gt" else i >= low)
                       and (i < high if filters[1]["op"] == "lt" else i <= high))
        assert client.count("Invoices", filters) == expected
        assert client.count("Invoices", filters[:1]) == sum(
            1 for i in ids if (i > low if filters[0]["op"] == "gt" else i >= low))
    assert client.count("Invoices", [{"op": "gt", "field": "id", "value": ids[-1]},
                                     {"op": "lt", "field": "id", "value": ids[0]}]) == 0
