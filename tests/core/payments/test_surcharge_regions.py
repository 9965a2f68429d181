"""Where a surcharge is not allowed: the organization's Autotask address decides, the MSP's
list (a shared setting) says where, and both the Order Summary maths and the payment
pipeline's checks follow it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from app.core.money import Money
from app.core.payments import (
    MethodInfo,
    PayableInvoice,
    SurchargeSettings,
    compute_order_summary,
    load_order_context,
    load_surcharge_settings,
    save_surcharge_settings,
)
from app.core.payments.surcharge_regions import (
    DEFAULT_NOT_ALLOWED_IN,
    region_name,
    surcharge_region,
)
from app.core.storage.engine import session_scope
from app.core.storage.models import Organization, PicklistValue

T0 = datetime(2026, 3, 1, tzinfo=UTC)
CREDIT = MethodInfo("card", "credit")
ON = SurchargeSettings(enabled=True, percent=Decimal("3"))


@pytest.mark.parametrize(("state", "country", "region"), [
    ("CT", "United States", "US-CT"),
    ("Connecticut", "USA", "US-CT"),
    (" ct ", None, "US-CT"),
    ("QC", "Canada", "CA-QC"),
    ("Québec", "Canada", None),  # spelled in a way PayDesk does not know: not matched
    ("Quebec", "Canada", "CA-QC"),
    ("", "Puerto Rico", "US-PR"),
    ("OR", "United States", "US-OR"),
    ("NSW", "Australia", None),
    ("CT", "Australia", None),  # another country's rules are not on this list
    (None, "United States", None),
])
def test_the_region_comes_from_the_state_and_country(
    state: str | None, country: str | None, region: str | None
) -> None:
    assert surcharge_region(state, country) == region


def test_the_default_list_and_its_names() -> None:
    assert "US-CT" in DEFAULT_NOT_ALLOWED_IN and "US-MA" in DEFAULT_NOT_ALLOWED_IN
    assert SurchargeSettings().not_allowed_in == DEFAULT_NOT_ALLOWED_IN
    assert region_name("US-CT") == "Connecticut"


def _invoice() -> PayableInvoice:
    return PayableInvoice(1, "1001", 7, date(2026, 1, 1), date(2026, 2, 1),
                          Money(10_000, "USD"), Money(10_000, "USD"))


def test_no_surcharge_for_a_client_where_it_is_not_allowed() -> None:
    allowed = compute_order_summary([_invoice()], currency="USD", method=CREDIT, surcharge=ON,
                                    region="US-OR")
    assert allowed.surcharge == Money(300, "USD") and allowed.total == Money(10_300, "USD")

    refused = compute_order_summary([_invoice()], currency="USD", method=CREDIT, surcharge=ON,
                                    region="US-CT")
    assert refused.surcharge == Money(0, "USD") and refused.total == Money(10_000, "USD")
    assert refused.surcharge_disclosure is None
    assert "No surcharge: surcharges are not allowed for clients in Connecticut." in (
        refused.warnings)

    # The MSP's own list decides: take Connecticut off, and the surcharge is added.
    mine = SurchargeSettings(enabled=True, percent=Decimal("3"), not_allowed_in=("US-MA",))
    assert compute_order_summary([_invoice()], currency="USD", method=CREDIT, surcharge=mine,
                                 region="US-CT").surcharge == Money(300, "USD")


def test_the_list_is_stored_validated_and_reaches_the_order_context(engine: Engine) -> None:
    save_surcharge_settings(engine, SurchargeSettings(
        enabled=True, percent=Decimal("2.5"), not_allowed_in=("US-TX", "US-CT")))
    assert load_surcharge_settings(engine).not_allowed_in == ("US-CT", "US-TX")
    with pytest.raises(ValueError, match="Unknown state or province: US-ZZ"):
        save_surcharge_settings(engine, SurchargeSettings(not_allowed_in=("US-ZZ",)))

    with session_scope(engine) as s:
        s.add(PicklistValue(entity="Companies", field="countryID", value="237",
                            label="United States", is_active=True))
        s.add(Organization(id=7, name="Harbor Dental", state="TX", country="237",
                           is_active=True, synced_at=T0))
    order = load_order_context(engine, "USD", 7, [], None)
    assert order.region == "US-TX"
    assert not order.surcharge.allowed_in(order.region)
