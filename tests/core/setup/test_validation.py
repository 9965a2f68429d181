"""What a bookkeeper types during setup is checked before anything is sent to Autotask."""

from __future__ import annotations

import pytest

from app.core.setup.currency import (
    currency_list,
    default_currency,
    filter_currencies,
    is_selectable_currency,
    label,
)
from app.core.setup.validation import (
    validate_integration_code,
    validate_secret,
    validate_username,
    validate_zone_url,
)


@pytest.mark.parametrize("name", ["api@msp.com", "api.paydesk@my-msp.co.uk", " x@y.io "])
def test_email_user_names_are_accepted(name: str) -> None:
    assert validate_username(name) is None


@pytest.mark.parametrize("name", ["", "api", "api@msp", "api @msp.com", "a@@msp.com"])
def test_other_user_names_say_an_email_is_needed(name: str) -> None:
    message = validate_username(name)
    assert message is not None and "email" in message


def test_empty_secret_is_fine_only_when_one_is_stored() -> None:
    assert validate_secret("") is not None
    assert validate_secret("", stored=True) is None
    assert validate_secret("abc") is None
    assert "space" in (validate_secret(" abc") or "")


def test_integration_code_must_be_present_without_spaces() -> None:
    assert "integration code" in (validate_integration_code("  ") or "")
    assert validate_integration_code("ABC DEF") is not None
    assert validate_integration_code("ABCDEF12") is None


@pytest.mark.parametrize("url", ["", "https://webservices15.autotask.net/ATServicesRest/",
                                 "http://127.0.0.1:8123/ATServicesRest/"])
def test_zone_address_may_be_empty_https_or_loopback(url: str) -> None:
    assert validate_zone_url(url) is None


@pytest.mark.parametrize("url", ["webservices15.autotask.net", "http://webservices15.autotask.net/",
                                 "ftp://x.example/"])
def test_unsafe_or_partial_zone_addresses_are_refused(url: str) -> None:
    assert validate_zone_url(url) is not None


def test_default_currency_follows_the_country_of_the_locale() -> None:
    assert default_currency("en_US") == "USD"
    assert default_currency("en_GB") == "GBP"
    assert default_currency("de_DE") == "EUR"
    assert default_currency("en_CA") == "CAD"
    assert default_currency("en") == "USD"  # no country: the common case for Autotask users


def test_currency_search_matches_code_and_name_words() -> None:
    choices = [("USD", "US Dollar"), ("AUD", "Australian Dollar"), ("EUR", "Euro")]
    assert filter_currencies(choices, "dollar") == choices[:2]
    assert filter_currencies(choices, "aus dol") == [("AUD", "Australian Dollar")]
    assert filter_currencies(choices, "eur") == [("EUR", "Euro")]
    assert filter_currencies(choices, "") == choices
    assert label(("EUR", "Euro")) == "Euro (EUR)"


def test_only_real_money_is_offered() -> None:
    codes = {code for code, _ in currency_list()}
    assert {"USD", "EUR", "GBP", "XCD", "JPY"} <= codes
    assert not {"XAU", "XXX", "XTS", "XDR"} & codes
    assert is_selectable_currency("usd") and not is_selectable_currency("XAU")
