"""The seeded company: what Autotask's export would have made, plus the disagreements."""

# QuickBooks' query language is text: these tests build queries from values they chose.
# ruff: noqa: S608

from __future__ import annotations

from decimal import Decimal

import requests

from app.sandbox.autotask import AutotaskSandbox
from app.sandbox.quickbooks_online import QuickBooksOnlineSandbox
from tests.integration.quickbooks_online.conftest import SMALL, Api


def _all(api: Api, entity: str) -> list[dict]:  # type: ignore[type-arg]
    out: list[dict] = []  # type: ignore[type-arg]
    position = 1
    while True:
        page = api.query(f"SELECT * FROM {entity} STARTPOSITION {position} MAXRESULTS 1000")
        out.extend(page.get(entity, []))
        if len(page.get(entity, [])) < 1000:
            return out
        position += 1000


def test_invoices_match_the_autotask_sandbox_except_the_listed_disagreements(
        api: Api, qbo: QuickBooksOnlineSandbox) -> None:
    autotask = AutotaskSandbox(**SMALL)
    invoices = {r["invoiceNumber"]: r for r in autotask.records("Invoices")}
    names = {r["id"]: r["companyName"] for r in autotask.records("Companies")}
    books = {i["DocNumber"]: i for i in _all(api, "Invoice")}
    customers = {c["Id"]: c for c in _all(api, "Customer")}
    disagreements = qbo.disagreements()
    kinds = {d["kind"] for d in disagreements}
    assert kinds == {"not_exported", "customer_renamed", "invoice_edited",
                     "paid_in_quickbooks", "number_differs"}
    by_number = {d["autotask_invoice_number"]: d for d in disagreements}
    renamed = {d["customer_id"] for d in disagreements if d["kind"] == "customer_renamed"}
    checked = 0
    for number, at in invoices.items():
        kind = by_number.get(number, {}).get("kind")
        if at["isVoided"] or kind == "not_exported":
            assert number not in books
            continue
        doc = number if kind != "number_differs" else by_number[number][
            "quickbooks_doc_number"]
        qb = books[doc]
        assert qb["TxnDate"] == at["invoiceDateTime"][:10]
        total = Decimal(str(qb["TotalAmt"]))
        balance = Decimal(str(qb["Balance"]))
        if kind == "invoice_edited":
            assert total == at["invoiceTotal"] + Decimal("25.00")
        else:
            assert total == at["invoiceTotal"]
        if at["paidDate"] or kind == "paid_in_quickbooks":
            assert balance == 0
        else:
            assert balance == total
        customer = customers[qb["CustomerRef"]["value"]]
        if customer["Id"] in renamed:
            assert customer["DisplayName"] != names[at["companyID"]]
        else:
            assert customer["DisplayName"] == names[at["companyID"]]
            assert qb["CustomerRef"]["name"] == names[at["companyID"]]
        checked += 1
    assert checked > 400


def test_paid_in_quickbooks_has_a_payment_paydesk_did_not_make(
        api: Api, qbo: QuickBooksOnlineSandbox) -> None:
    paid = next(d for d in qbo.disagreements() if d["kind"] == "paid_in_quickbooks")
    invoice = api.read("Invoice", paid["quickbooks_invoice_id"])
    assert Decimal(str(invoice["Balance"])) == 0
    link = invoice["LinkedTxn"][0]
    payment = api.read("Payment", link["TxnId"])
    assert payment["Line"][0]["LinkedTxn"][0]["TxnId"] == invoice["Id"]
    assert qbo.payment_counts()["created_through_api"] == 0


def test_the_admin_api_lists_disagreements_and_exports(qbo: QuickBooksOnlineSandbox,
                                                       api: Api) -> None:
    headers = {"Authorization": f"Bearer {qbo.client_secret}"}
    listed = requests.get(f"{qbo.admin_url}disagreements", headers=headers, timeout=10)
    assert listed.json()["disagreements"] == qbo.disagreements()
    assert requests.get(f"{qbo.admin_url}state", timeout=10).status_code == 401
    missing = next(d for d in qbo.disagreements() if d["kind"] == "not_exported")
    exported = requests.post(f"{qbo.admin_url}export", headers=headers, timeout=10,
                             json={"autotask_invoice_number": missing[
                                 "autotask_invoice_number"]})
    assert exported.status_code == 200, exported.text
    found = api.query("SELECT * FROM Invoice WHERE DocNumber = "
                      f"'{missing['autotask_invoice_number']}'")
    assert len(found["Invoice"]) == 1


def test_company_info_and_preferences(api: Api, qbo: QuickBooksOnlineSandbox) -> None:
    assert api.read("CompanyInfo", qbo.realm_id)["Id"] == "1"
    info = api.read("CompanyInfo", "1")
    assert info["CompanyName"] == "Northwind IT Services"
    assert info["Country"] == "US"
    prefs = api.get("preferences").json()["Preferences"]
    assert prefs["CurrencyPrefs"] == {"MultiCurrencyEnabled": False,
                                      "HomeCurrency": {"value": "USD"}}


def test_another_home_currency() -> None:
    with QuickBooksOnlineSandbox(invoices=20, companies=5, currency="CAD",
                                 multicurrency=True) as qbo:
        api = Api(qbo, str(qbo.connect()["access_token"]))
        prefs = api.get("preferences").json()["Preferences"]["CurrencyPrefs"]
        assert prefs["HomeCurrency"]["value"] == "CAD"
        assert prefs["MultiCurrencyEnabled"] is True
        assert api.read("CompanyInfo", "1")["Country"] == "CA"
        invoice = api.query("SELECT * FROM Invoice MAXRESULTS 1")["Invoice"][0]
        assert invoice["CurrencyRef"]["value"] == "CAD"


def test_lists_for_deposits_surcharges_and_methods(api: Api) -> None:
    accounts = {a["Name"]: a for a in api.query("SELECT * FROM Account")["Account"]}
    assert accounts["Undeposited Funds"]["AccountSubType"] == "UndepositedFunds"
    assert accounts["Checking"]["AccountType"] == "Bank"
    items = api.query("SELECT * FROM Item WHERE Name = 'Card surcharge'")["Item"]
    assert items[0]["IncomeAccountRef"]["name"] == "Card surcharge income"


def test_same_seed_same_company() -> None:
    a = QuickBooksOnlineSandbox(**{**SMALL, "realm_id": None})
    b = QuickBooksOnlineSandbox(**SMALL)
    assert a.realm_id == b.realm_id
    assert a.disagreements() == b.disagreements()


def test_invoice_lines_add_up_to_the_total(api: Api) -> None:
    for invoice in api.query("SELECT * FROM Invoice MAXRESULTS 40")["Invoice"]:
        sales = [line for line in invoice["Line"] if line["DetailType"] == "SalesItemLineDetail"]
        assert sales
        subtotal = sum(Decimal(str(line["Amount"])) for line in sales)
        assert subtotal + Decimal(str(invoice["TxnTaxDetail"]["TotalTax"])) == Decimal(
            str(invoice["TotalAmt"]))


def test_admin_payments_entered_in_quickbooks_and_colleague_edits(
        api: Api, qbo: QuickBooksOnlineSandbox) -> None:
    headers = {"Authorization": f"Bearer {qbo.client_secret}"}
    invoice = api.query("SELECT * FROM Invoice WHERE Balance > '50' MAXRESULTS 1")["Invoice"][0]
    paid = requests.post(f"{qbo.admin_url}pay", headers=headers, timeout=10,
                         json={"invoice_id": invoice["Id"]})
    assert paid.status_code == 200, paid.text
    assert Decimal(str(api.read("Invoice", invoice["Id"])["Balance"])) == 0
    assert qbo.payment_counts()["created_through_api"] == 0
    assert qbo.payment_counts()["payments"] == []
    payment = paid.json()["Payment"]
    touched = requests.post(f"{qbo.admin_url}touch", headers=headers, timeout=10,
                            json={"entity": "Payment", "Id": payment["Id"]})
    assert touched.json()["Payment"]["SyncToken"] == "1"
    stale = api.post("payment", {"Id": payment["Id"], "SyncToken": "0", "sparse": True,
                                 "PrivateNote": "late edit"})
    assert stale.json()["Fault"]["Error"][0]["code"] == "5010"
