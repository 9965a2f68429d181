"""Change data capture over HTTP: the 30-day window, deletions, the 1,000-object cap."""

from __future__ import annotations

from datetime import timedelta

from app.sandbox.quickbooks_online import QuickBooksOnlineSandbox
from tests.integration.quickbooks_online.conftest import (
    Api,
    fault,
    make_sandbox,
    open_invoice,
    payment_body,
)


def _cdc(api: Api, entities: str, since: str) -> dict[str, list[dict]]:  # type: ignore[type-arg]
    response = api.get("cdc", entities=entities, changedSince=since)
    assert response.status_code == 200, response.text
    parts = response.json()["CDCResponse"][0]["QueryResponse"]
    out: dict[str, list[dict]] = {}  # type: ignore[type-arg]
    for part in parts:
        for key, value in part.items():
            if isinstance(value, list):
                out[key] = value
    return out


def test_changes_and_deletions_since(api: Api, qbo: QuickBooksOnlineSandbox) -> None:
    since = qbo.store.now().isoformat()
    assert _cdc(api, "Invoice,Payment", since) == {}
    invoice = open_invoice(api)
    payment = api.post("payment", payment_body(invoice, "10.00")).json()["Payment"]
    changed = _cdc(api, "Invoice,Payment", since)
    assert [i["Id"] for i in changed["Invoice"]] == [invoice["Id"]]
    assert [p["Id"] for p in changed["Payment"]] == [payment["Id"]]
    api.post("payment", {"Id": payment["Id"], "SyncToken": payment["SyncToken"]},
             operation="delete")
    deleted = _cdc(api, "Payment", since)["Payment"]
    assert deleted == [{"Id": payment["Id"], "domain": "QBO", "status": "Deleted",
                        "MetaData": deleted[0]["MetaData"]}]


def test_more_than_30_days_back_is_refused(api: Api, qbo: QuickBooksOnlineSandbox) -> None:
    too_old = (qbo.store.now() - timedelta(days=31)).isoformat()
    response = api.get("cdc", entities="Invoice", changedSince=too_old)
    assert response.status_code == 400
    assert fault(response)["element"] == "changedSince"
    ok = (qbo.store.now() - timedelta(days=29)).isoformat()
    assert api.get("cdc", entities="Invoice", changedSince=ok).status_code == 200
    assert fault(api.get("cdc", entities="Invoice"))["code"] == "2020"


def test_at_most_1000_objects() -> None:
    # 20,000 invoices in one year: the newest month alone has more than 1,000 changes.
    with make_sandbox(invoices=20_000, companies=200, years=1) as qbo:
        api = Api(qbo, str(qbo.connect()["access_token"]))
        since = (qbo.store.now() - timedelta(days=29)).isoformat()
        everything = qbo.store.changed_since("Invoice", qbo.store.now() - timedelta(days=29))
        assert len(everything) > 1000
        changed = _cdc(api, "Invoice,Customer", since)
        assert sum(len(v) for v in changed.values()) == 1000
