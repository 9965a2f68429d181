"""Converting Autotask records into rows: exact values, and plain reasons for bad ones."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from app.core.sync.specs import (
    SPECS_BY_ENTITY,
    ConvertContext,
    InvalidRecord,
    convert_billing_item,
    convert_company,
    convert_contact,
    convert_invoice,
)

USD = ConvertContext.for_currency("USD")
JPY = ConvertContext.for_currency("JPY")


def _invoice(**changes: object) -> dict[str, object]:
    record: dict[str, object] = {
        "id": 212, "companyID": 180, "invoiceNumber": "1000", "invoiceTotal": Decimal("1594.82"),
        "totalTaxValue": Decimal("24.57"), "isVoided": False, "paidDate": None,
        "invoiceDateTime": "2023-12-01T00:00:00", "dueDate": "2023-12-31T00:00:00",
        "createDateTime": "2023-12-01T08:12:31.8551234Z",
    }
    record.update(changes)
    return record


def test_invoice_amounts_become_minor_units_and_state_is_derived() -> None:
    row = convert_invoice(_invoice(), USD)
    assert row["total_minor"] == 159482 and row["tax_minor"] == 2457
    assert row["status"] == "open" and row["balance_minor"] == 159482
    assert row["invoice_date"] == date(2023, 12, 1)
    # Seven fractional digits and a Z: stored as naive UTC, 100 ns digit dropped.
    assert row["created_at"] == datetime(2023, 12, 1, 8, 12, 31, 855123)
    paid = convert_invoice(_invoice(paidDate="2024-01-05T00:00:00"), USD)
    assert paid["status"] == "paid" and paid["balance_minor"] == 0
    assert convert_invoice(_invoice(isVoided=True), USD)["status"] == "void"


def test_amounts_follow_the_internal_currency_exponent() -> None:
    assert convert_invoice(_invoice(invoiceTotal=Decimal("1500"), totalTaxValue=Decimal("0")),
                           JPY)["total_minor"] == 1500
    # A line keeps four decimal places whatever the currency (ten-thousandths).
    line = {"id": 1, "totalAmount": Decimal("10.1200"), "quantity": Decimal("1.50")}
    row = convert_billing_item(line, USD)
    assert row["total_e4"] == 101200 and row["quantity"] == "1.50"


@pytest.mark.parametrize("currency", ["USD", "JPY"])
def test_line_amounts_are_kept_exactly_to_four_places(currency: str) -> None:
    """Four-decimal unit prices make line amounts with sub-cent (or sub-yen) parts: kept
    exactly, never rounded, never held back; a fifth place is refused."""
    ctx = ConvertContext.for_currency(currency)
    line = {"id": 1, "quantity": Decimal("3"), "rate": Decimal("12.3456"),
            "extendedPrice": Decimal("37.0368"), "taxDollars": Decimal("0.0012"),
            "totalAmount": Decimal("37.0380")}
    row = convert_billing_item(line, ctx)
    assert (row["extended_price_e4"], row["tax_e4"], row["total_e4"]) == (370368, 12, 370380)
    assert row["rate"] == "12.3456"
    with pytest.raises(InvalidRecord, match="more than 4 decimal places"):
        convert_billing_item({**line, "totalAmount": Decimal("37.03801")}, ctx)
    # An invoice total still has to fit the currency.
    with pytest.raises(InvalidRecord, match="does not round"):
        convert_invoice(_invoice(invoiceTotal=Decimal("37.0380")), ctx)


@pytest.mark.parametrize("total", [Decimal("12.345678"), Decimal("0.001"), "10.125"])
def test_amounts_that_do_not_fit_the_currency_are_refused_never_rounded(total: object) -> None:
    with pytest.raises(InvalidRecord) as caught:
        convert_invoice(_invoice(invoiceTotal=total), USD)
    assert "more decimal places than USD has (2)" in caught.value.reason
    assert "does not round" in caught.value.reason
    with pytest.raises(InvalidRecord, match="more decimal places than JPY"):
        convert_invoice(_invoice(invoiceTotal=Decimal("1500.5"), totalTaxValue=0), JPY)


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"invoiceTotal": Decimal("1E+20")}, "far too large"),
        ({"invoiceTotal": float("nan")}, "is not a number"),
        ({"invoiceTotal": Decimal("NaN")}, "is not a number"),
        ({"invoiceTotal": Decimal("-Infinity")}, "is not a number"),
        ({"totalTaxValue": float("inf")}, "is not a number"),
        ({"companyID": 10**19}, "far too large"),
        ({"companyID": Decimal("1E+50")}, "far too large"),
        ({"paymentTerm": "99999999999999999999999"}, "far too large"),
        ({"invoiceNumber": "INV\x00-1"}, "NUL character"),
        ({"comments": "broken \ud800 emoji"}, "broken character"),
        ({"invoiceDateTime": "0001-01-01T00:00:00"}, "not a plausible date"),
        ({"dueDate": "9999-12-31T00:00:00"}, "not a plausible date"),
        ({"createDateTime": "0001-01-01T00:00:00+05:00"}, "not a plausible date"),
        ({"createDateTime": "9999-12-31T23:59:59-05:00"}, "not a plausible date"),
        ({"createDateTime": "3024-05-01T10:00:00Z"}, "not a plausible date"),
    ],
)
def test_values_a_database_would_refuse_are_refused_with_a_reason(
        changes: dict[str, object], words: str) -> None:
    with pytest.raises(InvalidRecord) as caught:
        convert_invoice(_invoice(**changes), USD)
    assert words in caught.value.reason
    assert "\x00" not in caught.value.reason
    caught.value.reason.encode("utf-8")  # storable as it is


def test_a_status_beyond_a_32_bit_column_is_refused() -> None:
    with pytest.raises(InvalidRecord, match="far too large"):
        convert_company({"id": 5, "companyName": "Acme", "companyType": 2**31}, USD)
    assert convert_company({"id": 5, "companyName": "Acme", "companyType": 2**31 - 1},
                           USD)["company_type"] == 2**31 - 1


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"invoiceTotal": None}, "The invoice total (invoiceTotal) is missing"),
        ({"invoiceTotal": "twelve"}, "The invoice total (invoiceTotal) is not a number"),
        ({"invoiceTotal": True}, "The invoice total (invoiceTotal) is not a number"),
        ({"invoiceDateTime": "0000-00-00T00:00:00"}, "The invoice date (invoiceDateTime)"),
        ({"companyID": None}, "The organization (companyID) is missing"),
        ({"invoiceNumber": ""}, "the invoice number is missing"),
        ({"id": None}, "the record has no valid id"),
        ({"isVoided": "maybe"}, "The void flag (isVoided) is not true or false"),
    ],
)
def test_bad_records_are_refused_with_a_reason(changes: dict[str, object],
                                               reason: str) -> None:
    with pytest.raises(InvalidRecord) as caught:
        convert_invoice(_invoice(**changes), USD)
    assert caught.value.reason.startswith(reason)


def test_company_and_contact_fields() -> None:
    company = convert_company({"id": 5, "companyName": "Café Lumière", "isActive": True,
                               "countryID": 237, "postalCode": "H2X 1Y4"}, USD)
    assert company["name"] == "Café Lumière" and company["country"] == "237"
    with pytest.raises(InvalidRecord, match="company name"):
        convert_company({"id": 5, "companyName": "  "}, USD)
    # Autotask sends a contact's isActive as 0/1.
    contact = convert_contact({"id": 9, "companyID": 5, "isActive": 0}, USD)
    assert contact["is_active"] is False


def test_every_spec_reads_only_fields_it_stores_or_tracks() -> None:
    for spec in SPECS_BY_ENTITY.values():
        assert "id" in spec.fields
        assert set(spec.tracking_fields) <= set(spec.fields)
        assert len(spec.fields) == len(set(spec.fields))
        columns = {c.name for c in spec.table.columns}
        assert set(spec.compare_columns) <= columns
