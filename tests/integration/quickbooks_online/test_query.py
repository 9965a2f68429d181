"""QuickBooks' query language over HTTP: filters, paging, counting, errors."""

# QuickBooks' query language is text: these tests build queries from values they chose.
# ruff: noqa: S608

from __future__ import annotations

from decimal import Decimal

from tests.integration.quickbooks_online.conftest import Api, fault, make_sandbox


def test_paging_walks_every_invoice_once(api: Api) -> None:
    total = api.query("SELECT COUNT(*) FROM Invoice")["totalCount"]
    seen: list[str] = []
    position = 1
    while True:
        page = api.query(f"SELECT * FROM Invoice STARTPOSITION {position} MAXRESULTS 100")
        invoices = page.get("Invoice", [])
        if invoices:
            assert page["startPosition"] == position
            assert page["maxResults"] == len(invoices)
        seen.extend(i["Id"] for i in invoices)
        if len(invoices) < 100:
            break
        position += 100
    assert len(seen) == len(set(seen)) == total
    assert [int(i) for i in seen] == sorted(int(i) for i in seen)


def test_maxresults_is_capped_at_1000_and_nothing_found_has_no_entity_key(api: Api) -> None:
    with make_sandbox(invoices=1200) as bigger:
        page = Api(bigger, str(bigger.connect()["access_token"])).query(
            "SELECT * FROM Invoice MAXRESULTS 5000")
        assert len(page["Invoice"]) == 1000
        assert page["maxResults"] == 1000
    assert api.query("SELECT * FROM Invoice WHERE DocNumber = 'nope'") == {}
    assert api.query("SELECT * FROM Invoice STARTPOSITION 999999") == {}


def test_default_page_is_100(api: Api) -> None:
    assert len(api.query("SELECT * FROM Invoice")["Invoice"]) == 100


def test_operators(api: Api) -> None:
    by_number = api.query("select * from invoice where DocNumber in ('1001', '1002', 'x')")
    assert sorted(i["DocNumber"] for i in by_number["Invoice"]) == ["1001", "1002"]
    open_ = api.query("SELECT * FROM Invoice WHERE Balance > '0' MAXRESULTS 1000")["Invoice"]
    assert open_ and all(Decimal(str(i["Balance"])) > 0 for i in open_)
    dated = api.query("SELECT * FROM Invoice WHERE TxnDate >= '2026-01-01' AND "
                      "TxnDate < '2026-02-01' MAXRESULTS 1000").get("Invoice", [])
    assert all("2026-01-01" <= i["TxnDate"] < "2026-02-01" for i in dated)
    customer = api.query("SELECT * FROM Customer WHERE Id = '3'")["Customer"][0]
    named = api.query("SELECT * FROM Customer WHERE DisplayName = "
                      f"'{customer['DisplayName'].replace(chr(39), chr(92) + chr(39))}'")
    assert named["Customer"][0]["Id"] == "3"
    prefix = customer["DisplayName"][:4].replace("'", "\\'")
    liked = api.query(f"SELECT * FROM Customer WHERE DisplayName LIKE '{prefix}%'")
    assert "3" in [c["Id"] for c in liked["Customer"]]
    theirs = api.query("SELECT * FROM Invoice WHERE CustomerRef = '3' MAXRESULTS 1000")
    assert all(i["CustomerRef"]["value"] == "3" for i in theirs.get("Invoice", []))


def test_order_by_both_spellings(api: Api) -> None:
    a = api.query("SELECT * FROM Invoice ORDERBY TotalAmt DESC MAXRESULTS 20")["Invoice"]
    b = api.query("SELECT * FROM Invoice ORDER BY TotalAmt DESC MAXRESULTS 20")["Invoice"]
    assert [i["Id"] for i in a] == [i["Id"] for i in b]
    totals = [Decimal(str(i["TotalAmt"])) for i in a]
    assert totals == sorted(totals, reverse=True)


def test_selected_fields_are_sparse(api: Api) -> None:
    page = api.query("SELECT Id, DocNumber, Balance FROM Invoice MAXRESULTS 3")["Invoice"]
    assert set(page[0]) <= {"Id", "DocNumber", "Balance", "SyncToken", "domain", "sparse"}
    assert page[0]["sparse"] is True


def test_post_query_as_text_body(api: Api) -> None:
    response = api.session.post(f"{api.base}/query", data="SELECT COUNT(*) FROM Customer",
                                headers={"Content-Type": "application/text"}, timeout=10)
    assert response.json()["QueryResponse"]["totalCount"] == 40


def test_query_errors(api: Api) -> None:
    bad = api.get("query", query="SELECT * FROM Invoice WHERE")
    assert bad.status_code == 400
    assert fault(bad)["code"] == "4000"
    assert fault(api.get("query", query="SELECT * FROM Nope"))["code"] == "4001"
    assert fault(api.get("query", query="SELECT * FROM Invoice WHERE Colour = 'red'"))[
        "code"] == "4001"
    assert fault(api.get("query", query="SELECT * FROM Invoice WHERE Balance > '0' OR "
                                        "Balance < '0'"))["code"] == "4000"


def test_reading_what_is_not_there_is_610(api: Api) -> None:
    response = api.get("invoice/1")
    assert response.status_code == 400
    assert fault(response)["code"] == "610"
    assert response.json()["Fault"]["type"] == "ValidationFault"


def test_query_results_follow_writes(api: Api) -> None:
    query = "SELECT COUNT(*) FROM Invoice WHERE Balance > '0'"
    before = api.query(query)["totalCount"]
    listed = api.query("SELECT * FROM Invoice WHERE Balance > '0' ORDERBY Balance DESC "
                       "MAXRESULTS 1000")["Invoice"]
    target = listed[0]
    body = {"CustomerRef": {"value": target["CustomerRef"]["value"]},
            "TotalAmt": Decimal(str(target["Balance"])),
            "Line": [{"Amount": Decimal(str(target["Balance"])),
                      "LinkedTxn": [{"TxnId": target["Id"], "TxnType": "Invoice"}]}]}
    assert api.post("payment", body).status_code == 200
    assert api.query(query)["totalCount"] == before - 1
    again = api.query("SELECT * FROM Invoice WHERE Balance > '0' ORDERBY Balance DESC "
                      "MAXRESULTS 1000")["Invoice"]
    assert [i["Id"] for i in again] == [i["Id"] for i in listed[1:]]
    paid = api.query(f"SELECT * FROM Invoice WHERE Balance = '0' AND Id = '{target['Id']}'")
    assert paid["Invoice"][0]["Id"] == target["Id"]


def test_lookups_by_customer_agree_with_reading_everything(api: Api) -> None:
    for entity in ("Invoice", "Payment"):
        everything: list[dict] = []  # type: ignore[type-arg]
        position = 1
        while True:
            page = api.query(f"SELECT * FROM {entity} STARTPOSITION {position} MAXRESULTS 1000")
            everything.extend(page.get(entity, []))
            if len(page.get(entity, [])) < 1000:
                break
            position += 1000
        for customer in ("3", "17"):
            expected = [r["Id"] for r in everything if r["CustomerRef"]["value"] == customer]
            found = api.query(f"SELECT * FROM {entity} WHERE CustomerRef = '{customer}' "
                              "MAXRESULTS 1000").get(entity, [])
            assert [r["Id"] for r in found] == expected
            assert expected
