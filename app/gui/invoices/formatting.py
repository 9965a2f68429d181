"""How Invoice History, the Invoice page and the Organization view write dates and money.

Dates use babel's medium format in the user's locale ("Nov 20, 2026", "20.11.2026");
amounts are ``Money`` in the internal currency, formatted by babel. Formatting is cached
because a table repaints the same few hundred values over and over.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime

from babel import Locale
from babel.dates import format_date
from babel.numbers import NumberPattern

from app.core.money import Money


@functools.lru_cache(maxsize=8192)
def date_text(value: date | None, locale: str) -> str:
    if value is None:
        return ""
    return str(format_date(value, format="medium", locale=locale))


@functools.cache
def _currency_pattern(locale: str) -> tuple[Locale, NumberPattern]:
    parsed = Locale.parse(locale)
    return parsed, parsed.currency_formats["standard"]


@functools.lru_cache(maxsize=16384)
def money_text(minor: int, currency: str, locale: str) -> str:
    """The same text as ``Money.format`` (babel's standard currency format), about six
    times faster: the locale and its pattern are parsed once, not for every cell."""
    parsed, pattern = _currency_pattern(locale)
    return str(pattern.apply(Money(minor, currency).to_decimal(), parsed, currency=currency))


def local_today() -> date:
    """Today on this computer's calendar (Overdue is decided against it)."""
    return datetime.now(UTC).astimezone().date()
