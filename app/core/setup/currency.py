"""The internal-currency step: the choices, their search, and the locale's default."""

from __future__ import annotations

import locale as _locale

from babel import Locale, UnknownLocaleError
from babel.numbers import get_territory_currencies

from app.core.clock import utcnow
from app.core.money import currency_choices

__all__ = ["CurrencyChoice", "currency_list", "default_currency", "filter_currencies",
           "system_locale_name"]

CurrencyChoice = tuple[str, str]
FALLBACK_CURRENCY = "USD"


def system_locale_name() -> str:
    """The computer's locale as babel names it (``en_US``), or ``en_US`` when unknown."""
    try:
        name = _locale.getlocale()[0] or ""
    except ValueError:
        name = ""
    name = name.split(".")[0]
    try:
        return str(Locale.parse(name)) if name and name not in ("C", "POSIX") else "en_US"
    except (ValueError, UnknownLocaleError):
        return "en_US"


def default_currency(locale_name: str) -> str:
    """The currency in use today in the locale's country (USD when the locale has none)."""
    try:
        territory = Locale.parse(locale_name).territory
    except (ValueError, UnknownLocaleError):
        territory = None
    if not territory:
        return FALLBACK_CURRENCY
    today = utcnow().date()
    codes = get_territory_currencies(territory, start_date=today, end_date=today, tender=True)
    return str(codes[0]) if codes else FALLBACK_CURRENCY


def currency_list(locale_name: str = "en_US") -> list[CurrencyChoice]:
    """Every ISO 4217 currency, ``(code, name)``, sorted by name in the given language."""
    return currency_choices(locale_name)


def label(choice: CurrencyChoice) -> str:
    code, name = choice
    return f"{name} ({code})"


def filter_currencies(choices: list[CurrencyChoice], text: str) -> list[CurrencyChoice]:
    """Choices whose code or name contains every word typed (case-insensitive)."""
    words = text.casefold().split()
    if not words:
        return list(choices)
    return [c for c in choices if all(w in label(c).casefold() for w in words)]
