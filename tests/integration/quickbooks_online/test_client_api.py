"""The QuickBooks Online API client against the sandbox: never more than 10 requests at once,
429 waited out as asked, an expired access token renewed once, and QuickBooks' Fault answers
turned into typed errors with plain messages."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from app.core.config import set_internal_currency
from app.core.credentials import CredentialStore
from app.core.quickbooks.online.client import QuickBooksOnlineClient
from app.core.quickbooks.online.errors import (
    QuickBooksClosedPeriodError,
    QuickBooksDuplicateDocNumberError,
    QuickBooksStaleObjectError,
    QuickBooksValidationError,
)
from app.sandbox.quickbooks_online.server import QuickBooksOnlineSandbox
from tests.integration.quickbooks_online.qbo_support import client_for, store_connection

SIZES = {"companies": 4, "contacts": 4, "contracts": 1, "tickets": 1, "invoices": 60,
         "lines_per_invoice": 1.0, "seed": 3}


@pytest.fixture
def sandbox() -> Iterator[QuickBooksOnlineSandbox]:
    with QuickBooksOnlineSandbox(**SIZES) as server:
        yield server


@pytest.fixture
def client(sqlite_engine: Engine, sandbox: QuickBooksOnlineSandbox
           ) -> Iterator[tuple[QuickBooksOnlineClient, list[float]]]:
    set_internal_currency(sqlite_engine, "USD")
    credentials = CredentialStore("client")
    store_connection(sqlite_engine, credentials, sandbox)
    pauses: list[float] = []
    with client_for(sqlite_engine, credentials, sleep=pauses.append) as api:
        yield api, pauses


def _open_invoice(api: QuickBooksOnlineClient) -> dict[str, object]:
    rows = api.query("SELECT * FROM Invoice WHERE Balance > '0' MAXRESULTS 1")["Invoice"]
    return dict(rows[0])


def test_never_more_than_ten_at_once(client: tuple[QuickBooksOnlineClient, list[float]],
                                     sandbox: QuickBooksOnlineSandbox) -> None:
    api, _pauses = client
    sandbox.add_fault("slow", count=-1, seconds=0.2, path="/query")  # answers overlap
    with ThreadPoolExecutor(max_workers=40) as pool:
        names = list(pool.map(lambda _n: api.company_info()["CompanyName"], range(80)))
    assert set(names) == {"Northwind IT Services"}
    assert sandbox.throttled == 0  # 40 workers, yet never an eleventh request at once
    assert 2 <= sandbox.max_in_flight_seen <= 10


def test_throttling_is_waited_out_as_asked(client: tuple[QuickBooksOnlineClient, list[float]],
                                           sandbox: QuickBooksOnlineSandbox) -> None:
    api, pauses = client
    sandbox.add_fault("throttle", count=3, path="/query")
    rows = api.query_page("Customer", page_size=10)
    assert len(rows) == 4
    assert pauses == [60.0, 60.0, 60.0]  # QuickBooks' Retry-After, each time
    assert api.throttled_count == 3


def test_an_expired_access_token_is_renewed_once(
        client: tuple[QuickBooksOnlineClient, list[float]],
        sandbox: QuickBooksOnlineSandbox) -> None:
    api, _pauses = client
    api.company_info()
    renewals = api.tokens.refresh_count  # type: ignore[attr-defined]
    sandbox.expire_access_tokens()
    assert api.company_info()["CompanyName"] == "Northwind IT Services"
    assert api.tokens.refresh_count == renewals + 1  # type: ignore[attr-defined]


def test_paging_uses_startposition_and_maxresults(
        client: tuple[QuickBooksOnlineClient, list[float]],
        sandbox: QuickBooksOnlineSandbox) -> None:
    api, _pauses = client
    pages = list(api.query_all("Invoice", page_size=25))
    ids = [row["Id"] for _start, page in pages for row in page]
    assert [start for start, _page in pages] == [1 + 25 * n for n in range(len(pages))]
    assert len(ids) == len(set(ids)) == len(sandbox.store.ids("Invoice"))
    invoice = pages[0][1][0]
    assert isinstance(invoice["TotalAmt"], Decimal)  # never a float


def test_faults_become_plain_typed_errors(client: tuple[QuickBooksOnlineClient, list[float]],
                                          sandbox: QuickBooksOnlineSandbox) -> None:
    api, _pauses = client
    invoice = _open_invoice(api)
    customer = invoice["CustomerRef"]
    with pytest.raises(QuickBooksValidationError) as missing:
        api.create("Payment", {"TotalAmt": Decimal("1.00")}, request_id="t-missing-customer")
    assert "CustomerRef" in missing.value.message  # QuickBooks' own detail, shown

    payment = api.create("Payment", {
        "CustomerRef": customer, "TotalAmt": Decimal("1.00"),
        "Line": [{"Amount": Decimal("1.00"),
                  "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}],
    }, request_id="t-pay-1")
    stale_token = payment["SyncToken"]
    api.sparse_update("Payment", payment["Id"], {"PrivateNote": "first edit"})
    with pytest.raises(QuickBooksStaleObjectError) as stale:
        api.request("POST", "payment", body={"Id": payment["Id"], "SyncToken": stale_token,
                                             "sparse": True, "PrivateNote": "late"})
    assert "read" in stale.value.message and "again" in stale.value.message
    # sparse_update reads the current SyncToken first, so it goes through.
    assert api.sparse_update("Payment", payment["Id"], {"PrivateNote": "second"})[
        "PrivateNote"] == "second"

    with pytest.raises(QuickBooksDuplicateDocNumberError) as duplicate:
        api.create("Invoice", {
            "CustomerRef": customer, "DocNumber": invoice["DocNumber"],
            "Line": [{"Amount": Decimal("5.00"), "DetailType": "SalesItemLineDetail",
                      "SalesItemLineDetail": {"ItemRef": {"value": "1"}}}],
        }, request_id="t-dup")
    assert "document number" in duplicate.value.message

    sandbox.store.set_book_close_date(date.today())
    with pytest.raises(QuickBooksClosedPeriodError) as closed:
        api.create("Payment", {
            "CustomerRef": customer, "TotalAmt": Decimal("1.00"),
            "TxnDate": date.today().isoformat(),
            "Line": [{"Amount": Decimal("1.00"),
                      "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}],
        }, request_id="t-closed")
    assert "closed books period" in closed.value.message
    assert "Retry" in closed.value.message


def test_the_access_token_is_renewed_before_it_expires(sqlite_engine: Engine,
                                                       sandbox: QuickBooksOnlineSandbox) -> None:
    set_internal_currency(sqlite_engine, "USD")
    credentials = CredentialStore("early")
    store_connection(sqlite_engine, credentials, sandbox)
    now = [datetime.now(UTC)]
    with client_for(sqlite_engine, credentials, clock=lambda: now[0]) as api:
        api.company_info()
        assert api.tokens.refresh_count == 1  # type: ignore[attr-defined]
        now[0] += timedelta(minutes=54)
        api.company_info()
        assert api.tokens.refresh_count == 1  # type: ignore[attr-defined]
        now[0] += timedelta(minutes=2)  # within five minutes of the hour: renew first
        api.company_info()
        assert api.tokens.refresh_count == 2  # type: ignore[attr-defined]


def test_void_and_delete_read_the_sync_token_first(
        client: tuple[QuickBooksOnlineClient, list[float]],
        sandbox: QuickBooksOnlineSandbox) -> None:
    api, _pauses = client
    invoice = _open_invoice(api)
    balance = Decimal(str(invoice["Balance"]))

    def pay(request_id: str) -> dict[str, object]:
        return api.create("Payment", {
            "CustomerRef": invoice["CustomerRef"], "TotalAmt": Decimal("2.00"),
            "Line": [{"Amount": Decimal("2.00"),
                      "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}],
        }, request_id=request_id)

    first = pay("t-void")
    assert pay("t-void")["Id"] == first["Id"]  # requestid: replayed, not written twice
    api.sparse_update("Payment", str(first["Id"]), {"PrivateNote": "edited elsewhere"})
    voided = api.void("Payment", str(first["Id"]))
    assert Decimal(str(voided["TotalAmt"])) == 0
    second = pay("t-delete")
    api.delete("Payment", str(second["Id"]))
    assert sandbox.record("Payment", str(second["Id"])) is None
    after = api.read("Invoice", str(invoice["Id"]))
    assert Decimal(str(after["Balance"])) == balance  # both gone from the invoice
