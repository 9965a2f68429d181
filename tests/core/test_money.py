"""Money is exact: what a bookkeeper types is what is charged, to the cent."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.money import (
    CurrencyMismatchError,
    InvalidAmountError,
    Money,
    currency_choices,
    currency_exponent,
)


@pytest.mark.parametrize(
    ("text", "currency", "locale", "minor"),
    [
        ("1,234.56", "USD", "en_US", 123_456),
        ("$1234.5", "USD", "en_US", 123_450),
        (" 12 ", "USD", "en_US", 1_200),
        ("1.234,56", "EUR", "de_DE", 123_456),
        ("1 234,56 €", "EUR", "fr_FR", 123_456),
        ("500", "JPY", "ja_JP", 500),
        ("1.005", "KWD", "en_US", 1_005),
    ],
)
def test_parse_what_people_type(text: str, currency: str, locale: str, minor: int) -> None:
    assert Money.parse(text, currency, locale) == Money(minor, currency)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Enter an amount"),
        ("12.345", "at most 2 decimal places"),
        ("12..3", "is not an amount"),
        ("ten", "is not an amount"),
        ("1e5", "is not an amount"),
    ],
)
def test_parse_refuses_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(InvalidAmountError, match=message):
        Money.parse(text, "USD")


def test_no_fractions_of_a_yen() -> None:
    with pytest.raises(InvalidAmountError, match="whole units"):
        Money.parse("10.5", "JPY")


def test_floats_are_refused() -> None:
    with pytest.raises(TypeError):
        Money(12.5, "USD")  # type: ignore[arg-type]


def test_currencies_never_mix() -> None:
    with pytest.raises(CurrencyMismatchError):
        Money(1, "USD") + Money(1, "EUR")


def test_formatting_follows_the_locale() -> None:
    amount = Money(123_456, "USD")
    assert amount.format("en_US") == "$1,234.56"
    assert amount.plain() == "1234.56"
    assert Money(123_456, "EUR").format("de_DE") == "1.234,56\xa0€"


def test_surcharge_percent_rounds_half_up_to_the_cent() -> None:
    assert Money(10_050, "USD").percent(Decimal("3")) == Money(302, "USD")  # 301.5 → 302


def test_currency_list_has_names_and_exponents() -> None:
    choices = dict(currency_choices())
    assert choices["USD"] == "US Dollar"
    assert currency_exponent("JPY") == 0
    assert currency_exponent("USD") == 2


@given(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=20).filter(
        lambda ws: sum(ws) > 0
    ),
)
def test_allocate_is_exact(minor: int, weights: list[int]) -> None:
    parts = Money(minor, "USD").allocate(weights)
    assert sum(p.minor for p in parts) == minor
    assert all(w > 0 or p.minor == 0 or minor < 0 for p, w in zip(parts, weights, strict=True))


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False))
def test_decimal_round_trip(value: Decimal) -> None:
    assert Money.from_decimal(value, "USD").to_decimal() == value
