"""A published Autotask client, unchanged, against `paydesk sandbox autotask`.

py-autotask (from PyPI, pinned in the test extra) is pointed at the sandbox's zone the way
its documentation says (``api_url``) and used through its own calls and its own
authenticated session: query and page to the end in both of Autotask's forms, count, get
by id, create a company note, read user-defined fields, filter an integer flag with
``"true"``. What py-autotask does that Autotask does not accept is pinned here as well, so
the sandbox keeps answering as Autotask does (see the notes on each test).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from app.sandbox.autotask import AutotaskSandbox
from tests.integration.autotask.conftest import SMALL

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # its pydantic config still uses v1 key names
    from py_autotask import AutotaskClient
    from py_autotask.exceptions import AutotaskAPIError


@pytest.fixture(scope="module")
def sandbox() -> Iterator[AutotaskSandbox]:
    with AutotaskSandbox(seed=11, **SMALL) as running:
        yield running


@pytest.fixture
def client(sandbox: AutotaskSandbox) -> AutotaskClient:
    c = sandbox.credentials
    return AutotaskClient.create(username=c.username, integration_code=c.integration_code,
                                 secret=c.secret, api_url=sandbox.zone_url)


def _api(client: AutotaskClient) -> str:
    return f"{client.auth.api_url.rstrip('/')}/v1.0"


def test_post_query_pages_to_the_end_through_next_page_url(
        client: AutotaskClient, sandbox: AutotaskSandbox) -> None:
    body: dict[str, Any] = {"MaxRecords": 500,
                            "filter": [{"op": "gte", "field": "id", "value": 0}]}
    first = client.query("Invoices", body)
    ids = [item["id"] for item in first.items]
    url = first.page_details.next_page_url
    while url:  # a POST query's next page is POSTed with the same body
        page = client.session.post(url, json=body, timeout=30)
        assert page.status_code == 200, page.text
        ids += [item["id"] for item in page.json()["items"]]
        url = page.json()["pageDetails"]["nextPageUrl"]
    assert ids == [r["id"] for r in sandbox.records("Invoices")]


def test_get_query_pages_to_the_end_by_get(client: AutotaskClient,
                                           sandbox: AutotaskSandbox) -> None:
    search = json.dumps({"MaxRecords": 500, "filter": [{"op": "exist", "field": "id"}]})
    url: str | None = f"{_api(client)}/Tickets/query?search={quote(search)}"
    ids: list[int] = []
    pages = 0
    while url:  # published clients follow a GET query's nextPageUrl with GET
        page = client.session.get(url, timeout=30)
        assert page.status_code == 200, page.text
        ids += [item["id"] for item in page.json()["items"]]
        url = page.json()["pageDetails"]["nextPageUrl"]
        pages += 1
    assert ids == [r["id"] for r in sandbox.records("Tickets")] and pages == 1
    companies = f"{_api(client)}/Contacts/query?search=" + quote(json.dumps(
        {"MaxRecords": 25, "filter": [{"op": "gt", "field": "id", "value": 0}]}))
    seen: list[int] = []
    while companies:
        page = client.session.get(companies, timeout=30)
        assert page.status_code == 200, page.text
        seen += [item["id"] for item in page.json()["items"]]
        companies = page.json()["pageDetails"]["nextPageUrl"]
    assert seen == [r["id"] for r in sandbox.records("Contacts")] and len(seen) > 25


def test_safe_paging_by_id_with_its_query_call(client: AutotaskClient,
                                               sandbox: AutotaskSandbox) -> None:
    """Autotask's documented safe method: repeat with `id gt <last>` until a short page."""
    last, ids = 0, []
    while True:
        page = client.query("Invoices", filters=[{"op": "gt", "field": "id", "value": last}],
                            max_records=500)
        ids += [item["id"] for item in page.items]
        if len(page.items) < 500:
            break
        last = page.items[-1]["id"]
    assert ids == [r["id"] for r in sandbox.records("Invoices")]


def test_count_get_and_user_defined_fields(client: AutotaskClient,
                                           sandbox: AutotaskSandbox) -> None:
    assert client.count("Invoices") == sandbox.count("Invoices") == SMALL["invoices"]
    invoice = sandbox.records("Invoices")[7]
    got = client.get("Invoices", invoice["id"])
    assert got is not None and got["invoiceNumber"] == invoice["invoiceNumber"]
    assert got["userDefinedFields"] == []  # present, as Autotask sends it on every record
    assert client.get("Invoices", invoice["id"] + 10**9) is None
    company = client.get("Companies", sandbox.records("Companies")[0]["id"])
    assert company is not None and isinstance(company["userDefinedFields"], list)


def test_integer_flag_filtered_with_true(client: AutotaskClient) -> None:
    page = client.query("Contacts", filters=[{"op": "eq", "field": "isActive",
                                              "value": "true"}], max_records=500)
    assert page.items and all(item["isActive"] == 1 for item in page.items)


def test_create_a_company_note(client: AutotaskClient, sandbox: AutotaskSandbox) -> None:
    company = sandbox.records("Companies")[2]["id"]
    created = client.create_child_entity("Companies", company, "Notes", {
        "title": "Payment received", "description": "USD 120.00 on invoice 1001",
        "actionType": 3})
    notes = [n for n in sandbox.notes() if n["id"] == created.item_id]
    assert notes and notes[0]["companyID"] == company
    assert notes[0]["title"] == "Payment received"


def test_its_update_on_the_record_address_is_refused_as_autotask_does(
        client: AutotaskClient, sandbox: AutotaskSandbox) -> None:
    """py-autotask 2.3.0 `update()` PATCHes `/{Entity}/{id}`; Autotask updates by
    `PATCH /{Entity}` with the id in the body (the reference, and django-autotask and the
    PowerShell AutotaskAPI module, use that form). Nothing changes."""
    invoice = sandbox.records("Invoices")[9]
    with pytest.raises(AutotaskAPIError):
        client.update("Invoices", {"id": invoice["id"], "paidDate": "2026-01-05"})
    assert sandbox.record("Invoices", invoice["id"]) == invoice
    answer = client.session.patch(f"{_api(client)}/Invoices", timeout=30,
                                  json={"id": invoice["id"], "paidDate": "2026-01-05"})
    assert answer.json() == {"itemId": invoice["id"]}
