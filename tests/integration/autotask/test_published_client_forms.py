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


def test_patch_goes_to_the_entity_with_the_id_in_the_body(sandbox: AutotaskSandbox) -> None:
    """Autotask's update is `PATCH /V1.0/{Entity}` with the id in the body; the record's own
    address takes GET only (py-autotask 2.3.0's `update()` PATCHes it and fails there)."""
    invoice = sandbox.records("Invoices")[0]["id"]
    wrong = requests.patch(f"{_base(sandbox)}/Invoices/{invoice}", headers=_headers(sandbox),
                           json={"id": invoice, "paidDate": "2026-02-03"}, timeout=(5, 30))
    assert wrong.status_code == 405
    assert sandbox.record("Invoices", invoice)["paidDate"] != "2026-02-03T00:00:00"  # type: ignore[index]
    response = requests.patch(f"{_base(sandbox)}/Invoices", headers=_headers(sandbox),
                              json={"id": invoice, "paidDate": "2026-02-03"}, timeout=(5, 30))
    assert response.json() == {"itemId": invoice}
    assert sandbox.record("Invoices", invoice)["paidDate"] == "2026-02-03T00:00:00"  # type: ignore[index]
    count = requests.post(_base(sandbox) + "/Invoices/query/count", headers=_headers(sandbox),
                          json={}, timeout=(5, 30))
    assert count.json() == {"queryCount": 1_234}


def test_every_record_carries_its_user_defined_fields(sandbox: AutotaskSandbox) -> None:
    for entity in ("Companies", "Contacts", "Tickets", "Invoices", "BillingItems"):
        response = requests.post(f"{_base(sandbox)}/{entity}/query", headers=_headers(sandbox),
                                 json={"MaxRecords": 50, "Filter": [{"op": "exist",
                                                                     "field": "id"}]},
                                 timeout=(5, 30))
        items = response.json()["items"]
        assert items and all(isinstance(i["userDefinedFields"], list) for i in items), entity


def test_a_get_query_pages_by_get_to_the_end(sandbox: AutotaskSandbox) -> None:
    search = '{"MaxRecords": 500, "filter": [{"op": "exist", "field": "id"}]}'
    url: str | None = f"{_base(sandbox)}/Invoices/query?search={search}"
    ids: list[int] = []
    while url:
        page = requests.get(url, headers=_headers(sandbox), timeout=(5, 30))
        assert page.status_code == 200, page.text
        ids += [item["id"] for item in page.json()["items"]]
        url = page.json()["pageDetails"]["nextPageUrl"]
    assert ids == [r["id"] for r in sandbox.records("Invoices")]


def test_true_and_false_are_taken_for_integer_flags(sandbox: AutotaskSandbox) -> None:
    """django-autotask's contact sync filters Contacts.isActive (an integer) with "true"."""
    for value, flag in (("true", 1), ("false", 0), (True, 1)):
        response = requests.post(f"{_base(sandbox)}/Contacts/query", headers=_headers(sandbox),
                                 json={"filter": [{"op": "eq", "field": "isActive",
                                                   "value": value}]}, timeout=(5, 30))
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        assert items and all(i["isActive"] == flag for i in items)


def test_timestamps_have_one_form_per_field_and_none_lies_ahead(
        sandbox: AutotaskSandbox) -> None:
    import re
    from datetime import UTC, datetime

    from app.core.autotask.dates import parse_autotask_datetime

    now = datetime.now(UTC)
    for entity, fields in (("Tickets", ("createDate", "lastActivityDate",
                                        "lastTrackedModificationDateTime", "completedDate")),
                           ("Companies", ("createDate", "lastTrackedModifiedDateTime")),
                           ("Invoices", ("createDateTime",))):
        for name in fields:
            shapes = set()
            for record in sandbox.records(entity):
                value = record.get(name)
                if value is None:
                    continue
                shapes.add(re.sub(r"\d", "9", value))
                if name != "dueDateTime":
                    moment = parse_autotask_datetime(value)
                    assert moment is not None and moment <= now, (entity, name, value)
            assert len(shapes) == 1 and next(iter(shapes)).endswith("Z"), (entity, name, shapes)
