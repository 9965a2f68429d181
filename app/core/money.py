"""Exact money: integer minor units plus an ISO 4217 currency code.

Money is never a float in PayDesk. Amounts are held as integers in the currency's minor unit
(cents for USD, yen for JPY, fils for KWD) and parsed from text or `Decimal` only. Formatting
and currency names come from babel so every screen speaks the user's locale.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from babel import Locale, UnknownLocaleError
from babel.numbers import (
    format_currency,
    get_currency_name,
    get_currency_precision,
    list_currencies,
)

__all__ = [
    "CurrencyMismatchError",
    "InvalidAmountError",
    "Money",
    "currency_choices",
    "currency_exponent",
    "is_known_currency",
]


class CurrencyMismatchError(ValueError):
    """Two amounts in different currencies were combined."""


class InvalidAmountError(ValueError):
    """Text or a number could not be read as an amount of money; the message says why."""


@functools.cache
def currency_exponent(code: str) -> int:
    """Number of minor-unit digits of an ISO 4217 currency (2 for USD, 0 for JPY, 3 for KWD)."""
    return int(get_currency_precision(code.upper()))


@functools.cache
def _known_currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def is_known_currency(code: str) -> bool:
    return code.upper() in _known_currencies()


def currency_choices(locale: str = "en_US") -> list[tuple[str, str]]:
    """Every ISO 4217 currency babel knows, as ``(code, name)`` sorted by name."""
    choices = []
    for code in _known_currencies():
        # Skip funds and historic units (codes whose name babel cannot give in this locale).
        name = get_currency_name(code, locale=locale)
        if name and name != code:
            choices.append((code, name))
    return sorted(choices, key=lambda pair: (pair[1].casefold(), pair[0]))


_AMOUNT_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


@dataclass(frozen=True, slots=True, order=False)
class Money:
    """An amount in integer minor units of ``currency``. Immutable and exact."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise TypeError(f"Money.minor must be an int, not {type(self.minor).__name__}")
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isupper():
            raise ValueError(f"not an ISO 4217 currency code: {self.currency!r}")

    # --- construction -------------------------------------------------------------------
    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def from_decimal(
        cls, value: Decimal | int | str, currency: str, *, exact: bool = True
    ) -> Money:
        """Build from a major-unit value (``Decimal("12.34")`` → 1234 cents).

        With ``exact`` (the default) a value with more digits than the currency allows is an
        error — a bookkeeper typing ``12.345`` dollars must be told, not silently rounded.
        Without it the value is rounded half-even (banker's rounding), for data from APIs.
        """
        try:
            dec = value if isinstance(value, Decimal) else Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise InvalidAmountError(f"{value!r} is not a number") from exc
        if not dec.is_finite():
            raise InvalidAmountError(f"{value!r} is not a number")
        exponent = currency_exponent(currency)
        scaled = dec.scaleb(exponent)
        integral = scaled.to_integral_value(rounding=ROUND_HALF_EVEN)
        if exact and integral != scaled:
            unit = "whole units" if exponent == 0 else f"{exponent} decimal places"
            raise InvalidAmountError(f"{currency} amounts have at most {unit}")
        return cls(int(integral), currency)

    @classmethod
    def parse(cls, text: str, currency: str, locale: str = "en_US") -> Money:
        """Read an amount typed by a person: ``"1,234.50"``, ``"$1234.5"``, ``" 12 "``.

        Group separators and the currency symbol are accepted; anything else is refused with a
        message that can be shown next to the field.
        """
        return cls.from_decimal(cls.parse_decimal(text, currency, locale), currency)

    @staticmethod
    def parse_decimal(text: str, currency: str, locale: str = "en_US") -> Decimal:
        """The number a person typed, exactly as typed (``"25,000.005"`` →
        ``Decimal("25000.005")``), before the currency's decimals are checked."""
        from babel.numbers import get_currency_symbol, get_decimal_symbol, get_group_symbol

        raw = text.strip()
        if not raw:
            raise InvalidAmountError("Enter an amount")
        try:
            loc = Locale.parse(locale)
        except (ValueError, UnknownLocaleError):
            loc = Locale.parse("en_US")
        symbol = get_currency_symbol(currency, locale=loc)
        cleaned = raw.replace(symbol, "").replace(currency, "").replace("\u00a0", " ").strip()
        group = get_group_symbol(loc)
        decimal_sep = get_decimal_symbol(loc)
        cleaned = cleaned.replace(" ", "")
        if group not in (" ", "\u00a0", "\u202f"):
            cleaned = cleaned.replace(group, "")
        cleaned = cleaned.replace(decimal_sep, ".")
        if not _AMOUNT_RE.match(cleaned):
            raise InvalidAmountError(f"“{raw}” is not an amount")
        return Decimal(cleaned)

    # --- views --------------------------------------------------------------------------
    @property
    def exponent(self) -> int:
        return currency_exponent(self.currency)

    def to_decimal(self) -> Decimal:
        """The amount in major units, exactly (``Decimal("12.34")``)."""
        return Decimal(self.minor).scaleb(-self.exponent)

    def format(self, locale: str = "en_US") -> str:
        """``$1,234.56`` in en_US, ``1.234,56 €`` in de_DE."""
        return str(format_currency(self.to_decimal(), self.currency, locale=locale))

    def plain(self) -> str:
        """Machine-friendly fixed-point text with the currency's digits: ``"1234.50"``."""
        return f"{self.to_decimal():.{self.exponent}f}"

    def __str__(self) -> str:
        return f"{self.plain()} {self.currency}"

    # --- arithmetic ---------------------------------------------------------------------
    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatchError(f"{self.currency} and {other.currency} cannot be mixed")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.minor), self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.minor <= other.minor

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor > other.minor

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.minor >= other.minor

    def __bool__(self) -> bool:
        return self.minor != 0

    def is_positive(self) -> bool:
        return self.minor > 0

    def percent(self, rate: Decimal) -> Money:
        """``rate`` percent of this amount, rounded half-up to the minor unit (surcharges)."""
        from decimal import ROUND_HALF_UP

        value = (Decimal(self.minor) * rate / Decimal(100)).to_integral_value(ROUND_HALF_UP)
        return Money(int(value), self.currency)

    def allocate(self, weights: list[int]) -> list[Money]:
        """Split into parts proportional to ``weights`` that add up exactly to this amount.

        Remainders go one minor unit at a time to the first parts (largest-remainder rule).
        """
        if not weights or any(w < 0 for w in weights) or sum(weights) == 0:
            raise ValueError("weights must be non-negative and not all zero")
        total = sum(weights)
        shares = [self.minor * w // total for w in weights]
        remainder = self.minor - sum(shares)
        order = sorted(
            range(len(weights)), key=lambda i: -((self.minor * weights[i]) % total)
        )
        for i in order[:remainder]:
            shares[i] += 1
        return [Money(s, self.currency) for s in shares]


#: Invoice lines keep Autotask's amounts exactly to this many decimal places (a four-decimal
#: unit price times a quantity), as integer ten-thousandths of the currency's major unit.
#: Totals, balances and payments are always whole minor units (:class:`Money`).
LINE_AMOUNT_PLACES = 4


def line_amount(ten_thousandths: int) -> Decimal:
    """A stored line amount in major units, exactly: ``370368`` → ``Decimal("37.0368")``."""
    return Decimal(ten_thousandths).scaleb(-LINE_AMOUNT_PLACES)


def minor_as_line_amount(minor: int, currency: str) -> int:
    """Whole minor units as line ten-thousandths (to compare lines with a total)."""
    factor: int = 10 ** (LINE_AMOUNT_PLACES - currency_exponent(currency))
    return minor * factor


def format_exact(amount: Decimal, currency: str, locale: str = "en_US") -> str:
    """An amount as it is, never rounded: the currency's usual decimals at least, and any
    further ones it has — ``$12.3456``, ``$12.50``, ``12,3456 €``."""
    return str(format_currency(amount, currency, locale=locale, decimal_quantization=False))
