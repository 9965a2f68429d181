"""100,000 invoices: answering a deep page does not cost a read of everything per page."""

from __future__ import annotations

import time

import pytest

from app.sandbox.quickbooks_online import QuickBooksOnlineSandbox
from tests.integration.quickbooks_online.conftest import Api


@pytest.mark.slow
def test_deep_pages_of_100000_invoices_are_quick() -> None:
    with QuickBooksOnlineSandbox(seed=3, companies=3000, invoices=100_000) as qbo:
        api = Api(qbo, str(qbo.connect()["access_token"]))
        total = api.query("SELECT COUNT(*) FROM Invoice")["totalCount"]
        assert total > 95_000
        started = time.perf_counter()
        for position in (90_001, 45_001, 1):
            page = api.query(
                f"SELECT * FROM Invoice STARTPOSITION {position} MAXRESULTS 1000")  # noqa: S608
            assert len(page["Invoice"]) == 1000
        # Each page generates only the few chunks it shows (~0.2 s each on a busy machine).
        assert time.perf_counter() - started < 6
        found = api.query("SELECT * FROM Invoice WHERE DocNumber = '99000'")["Invoice"]
        assert found[0]["DocNumber"] == "99000"
