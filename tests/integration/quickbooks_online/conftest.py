"""Fixtures: the QuickBooks Online sandbox over real HTTP, with tokens from its OAuth server."""

# QuickBooks' query language is text: these tests build queries from values they chose.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests

from app.sandbox.autotask.data import encode_json
from app.sandbox.quickbooks_online import QuickBooksOnlineSandbox

SMALL: dict[str, Any] = {"seed": 11, "companies": 40, "contacts": 80, "contracts": 20,
                         "tickets": 200, "invoices": 600}


class Api:
    """A thin HTTP client for the v3 API (what any QuickBooks client sends)."""

    def __init__(self, sandbox: QuickBooksOnlineSandbox, access_token: str) -> None:
        self.sandbox = sandbox
        self.base = f"{sandbox.api_base}/company/{sandbox.realm_id}"
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {access_token}",
                                     "Accept": "application/json"})

    def get(self, path: str, **params: Any) -> requests.Response:
        params.setdefault("minorversion", "75")
        return self.session.get(f"{self.base}/{path}", params=params, timeout=30)

    def post(self, path: str, body: Any, **params: Any) -> requests.Response:
        params.setdefault("minorversion", "75")
        # Amounts go out as exact JSON numbers (Decimal, never float).
        return self.session.post(f"{self.base}/{path}", params=params, data=encode_json(body),
                                 headers={"Content-Type": "application/json"}, timeout=30)

    def query(self, text: str) -> dict[str, Any]:
        response = self.get("query", query=text)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json(parse_float=Decimal)["QueryResponse"]
        return result

    def read(self, entity: str, id_: str) -> dict[str, Any]:
        response = self.get(f"{entity.lower()}/{id_}")
        assert response.status_code == 200, response.text
        record: dict[str, Any] = response.json(parse_float=Decimal)[entity]
        return record


def fault(response: requests.Response) -> dict[str, Any]:
    """The first error of a QuickBooks Fault answer."""
    error: dict[str, Any] = response.json()["Fault"]["Error"][0]
    return error


def make_sandbox(**overrides: Any) -> QuickBooksOnlineSandbox:
    return QuickBooksOnlineSandbox(**{**SMALL, **overrides})


@pytest.fixture
def qbo() -> Iterator[QuickBooksOnlineSandbox]:
    with make_sandbox() as running:
        yield running


@pytest.fixture
def api(qbo: QuickBooksOnlineSandbox) -> Api:
    return Api(qbo, str(qbo.connect()["access_token"]))


def open_invoice(api: Api, *, minimum: str = "100") -> dict[str, Any]:
    """An open invoice with at least `minimum` due, not one of the seeded disagreements."""
    special = {d["quickbooks_invoice_id"] for d in api.sandbox.disagreements()}
    found = api.query(f"SELECT * FROM Invoice WHERE Balance >= '{minimum}' MAXRESULTS 50")
    invoice = next(i for i in found["Invoice"] if i["Id"] not in special
                   and i["Balance"] == i["TotalAmt"])
    return api.read("Invoice", invoice["Id"])


def payment_body(invoice: dict[str, Any], amount: Decimal | str,
                 total: Decimal | str | None = None, **extra: Any) -> dict[str, Any]:
    return {"CustomerRef": {"value": invoice["CustomerRef"]["value"]},
            "TotalAmt": Decimal(total if total is not None else amount),
            "Line": [{"Amount": Decimal(amount),
                      "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}],
            **extra}
