"""The sandbox's seeded data: deterministic, realistic, exact, and generated on demand."""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from datetime import date
from decimal import Decimal

from app.sandbox.autotask.data import DataSizes, SandboxData
from app.sandbox.autotask.schema import PICKLISTS

ANCHOR = date(2026, 6, 1)
SIZES = DataSizes(companies=60, contacts=150, contracts=40, tickets=1_500, invoices=2_500)


def _data(seed: int = 7, **kw: object) -> SandboxData:
    return SandboxData(SIZES, seed=seed, anchor=ANCHOR, **kw)  # type: ignore[arg-type]


def test_same_seed_same_data_whatever_the_reading_order() -> None:
    forward, backward = _data(), _data()
    for name in ("invoices", "billingitems", "tickets", "contacts", "companies"):
        table_b = backward.table(name)
        assert table_b is not None
        for chunk in reversed(range(table_b.num_chunks)):  # generate in reverse order
            table_b.chunk(chunk)
        table_f = forward.table(name)
        assert table_f is not None
        assert list(table_f.iter_from(None)) == list(table_b.iter_from(None))


def test_another_seed_gives_other_data() -> None:
    assert [r["companyName"] for r in _data(7).companies.iter_from(None)] != [
        r["companyName"] for r in _data(8).companies.iter_from(None)]


def test_sizes_ids_and_lookup() -> None:
    data = _data()
    for table, size in ((data.companies, 60), (data.contacts, 150), (data.contracts, 40),
                        (data.tickets, 1_500), (data.invoices, 2_500)):
        records = list(table.iter_from(None))
        ids = [r["id"] for r in records]
        assert len(records) == size == table.total()
        assert ids == sorted(set(ids))
        assert any(b - a > 1 for a, b in itertools.pairwise(ids))  # not contiguous
        middle = ids[size // 2]
        assert table.get(middle) == records[size // 2]
        assert table.get(middle + 1) is None or middle + 1 in ids
        assert [r["id"] for r in table.iter_from(middle)] == ids[size // 2 + 1:]
        assert table.count_after(middle) == size - size // 2 - 1


def test_billing_items_add_up_exactly_to_each_invoice() -> None:
    data = _data()
    totals: dict[int, Decimal] = defaultdict(Decimal)
    taxes: dict[int, Decimal] = defaultdict(Decimal)
    lines = list(data.billing_items.iter_from(None))
    for line in lines:
        assert line["extendedPrice"] == (line["quantity"] * line["rate"]).quantize(
            Decimal("0.01"))
        assert line["totalAmount"] == line["extendedPrice"] + line["taxDollars"]
        totals[line["invoiceID"]] += line["totalAmount"]
        taxes[line["invoiceID"]] += line["taxDollars"]
    invoices = list(data.invoices.iter_from(None))
    assert 2.5 < len(lines) / len(invoices) < 3.5
    assert data.billing_items.total() == len(lines)
    for invoice in invoices:
        assert invoice["invoiceTotal"] == totals[invoice["id"]]
        assert invoice["totalTaxValue"] == taxes[invoice["id"]]
        assert invoice["invoiceTotal"].as_tuple().exponent == -2
    ids = [line["id"] for line in lines]
    assert ids == sorted(ids)
    assert data.billing_items.get(ids[777]) == lines[777]


def test_realistic_msp_data() -> None:
    data = _data()
    names = [c["companyName"] for c in data.companies.iter_from(None)]
    assert any("&" in n for n in names)
    assert any("'" in n for n in names)
    assert any(re.search(r"[^\x00-\x7f]", n) for n in names)
    contacts = list(data.contacts.iter_from(None))
    assert any(c["emailAddress"] for c in contacts) and any(not c["emailAddress"]
                                                            for c in contacts)
    assert {c["contractType"] for c in data.contracts.iter_from(None)} >= {1, 3, 4, 7}
    tickets = list(data.tickets.iter_from(None))
    assert {t["status"] for t in tickets} == set(PICKLISTS["ticketStatus"])
    invoices = list(data.invoices.iter_from(None))
    assert any(i["isVoided"] for i in invoices)
    assert sum(1 for i in invoices if i["paidDate"]) > len(invoices) // 2
    assert any(not i["paidDate"] and not i["isVoided"] for i in invoices)
    assert {i["paymentTerm"] for i in invoices} <= {t["id"] for t in data.payment_terms}
    years = {i["invoiceDateTime"][:4] for i in invoices}
    assert len(years) >= 3
    assert max(i["invoiceDateTime"] for i in invoices) <= "2026-06-01T00:00:00"
    stamps = [t["lastTrackedModificationDateTime"] for t in tickets]
    assert all(s.endswith("Z") for s in stamps)  # one form per field, as Autotask writes
    assert any(re.search(r"\.\d{7}", s) for s in stamps)
    company_ids = {c["id"] for c in data.companies.iter_from(None)}
    assert all(i["companyID"] in company_ids for i in invoices)


def test_bad_records_only_when_asked() -> None:
    clean = _data()
    assert clean.bad_invoice_ids == {}
    damaged = _data(bad_records=4)
    assert sorted(damaged.bad_invoice_ids.values()) == [
        "bad-date", "empty-number", "missing-total", "unknown-company"]
    for invoice_id, kind in damaged.bad_invoice_ids.items():
        record = damaged.invoices.get(invoice_id)
        assert record is not None
        good = clean.invoices.get(invoice_id)
        assert record != good
        if kind == "missing-total":
            assert record["invoiceTotal"] is None


def test_changes_overlay_and_new_records() -> None:
    data = _data()
    first = data.invoices.id_at(0)
    data.void_invoice(first)
    assert data.invoices.get(first)["isVoided"] is True  # type: ignore[index]
    assert next(iter(data.invoices.iter_from(None)))["isVoided"] is True
    company = data.add_company({"companyName": "Zoë's Café & Bar"})
    assert company["id"] > data.companies.max_generated_id()
    invoice = data.add_invoice(company["id"], [("Setup", Decimal("2"), Decimal("150.005"))])
    assert invoice["invoiceTotal"] == Decimal("300.01")
    assert data.invoices.total() == 2_501
    assert list(data.invoices.iter_from(None))[-1] == invoice


def test_large_data_sets_are_generated_on_demand() -> None:
    # A sandbox with 100,000 invoices starts at once because nothing is generated until it
    # is read (how long generation takes is reported by benchmarks/autotask_throughput.py).
    data = SandboxData(DataSizes(companies=10_000, contacts=30_000, contracts=5_000,
                                 tickets=100_000, invoices=100_000), seed=3, anchor=ANCHOR)
    tables = [data.table(name) for name in (
        "companies", "contacts", "contracts", "tickets", "invoices", "billingitems")]

    def generated_chunks() -> int:
        return sum(table.is_cached(n) for table in tables if table is not None
                   for n in range(table.num_chunks))

    assert generated_chunks() == 0
    assert data.invoices.total() == 100_000
    assert 290_000 < data.billing_items.total() < 310_000
    last = data.invoices.id_at(99_999)
    assert data.invoices.get(last)["invoiceNumber"] == "100999"  # type: ignore[index]
    # Only the chunk holding the last invoice was made to answer that.
    assert generated_chunks() == 1
    assert data.invoices.is_cached(data.invoices.num_chunks - 1)


def test_references_point_at_records_of_the_same_company() -> None:
    data = _data()
    contacts = {c["id"]: c for c in data.contacts.iter_from(None)}
    contracts = {c["id"]: c for c in data.contracts.iter_from(None)}
    for contract in contracts.values():
        assert contacts[contract["contactID"]]["companyID"] == contract["companyID"]
        assert contacts[contract["contactID"]]["primaryContact"] is True
    tickets = list(data.tickets.iter_from(None))
    assert any(t["contactID"] for t in tickets) and any(t["contractID"] for t in tickets)
    for ticket in tickets:
        if ticket["contactID"]:
            assert contacts[ticket["contactID"]]["companyID"] == ticket["companyID"]
        if ticket["contractID"]:
            assert contracts[ticket["contractID"]]["companyID"] == ticket["companyID"]
    lines = [line for line in data.billing_items.iter_from(None) if line["contractID"]]
    assert lines
    assert all(contracts[line["contractID"]]["companyID"] == line["companyID"]
               for line in lines)
