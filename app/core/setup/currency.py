"""The internal-currency step: the choices, their search, and the locale's default."""

from __future__ import annotations

import locale as _locale

from babel import Locale, UnknownLocaleError
from babel.numbers import get_territory_currencies

from app.core.clock import utcnow
from app.core.money import currency_choices

__all__ = ["CurrencyChoice", "currency_list", "default_currency", "filter_currencies",
           "is_selectable_currency", "label", "system_locale_name"]

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


#: ISO 4217 "X" codes that are real money; the other X codes are metals, funds and test codes.
_X_CURRENCIES = frozenset({"XAF", "XCD", "XCG", "XOF", "XPF"})


def is_selectable_currency(code: str) -> bool:
    """A currency invoices can be in (not gold, a fund unit or the ISO test code)."""
    code = code.strip().upper()
    if code.startswith("X") and code not in _X_CURRENCIES:
        return False
    return any(c == code for c, _ in currency_choices("en_US"))


def currency_list(locale_name: str = "en_US") -> list[CurrencyChoice]:
    """Every currency invoices can be in, ``(code, name)``, sorted by name in that language."""
    return [c for c in currency_choices(locale_name)
            if not c[0].startswith("X") or c[0] in _X_CURRENCIES]


def label(choice: CurrencyChoice) -> str:
    code, name = choice
    return f"{name} ({code})"


def filter_currencies(choices: list[CurrencyChoice], text: str) -> list[CurrencyChoice]:
    """Choices whose code or name contains every word typed (case-insensitive)."""
    words = text.casefold().split()
    if not words:
        return list(choices)
    return [c for c in choices if all(w in label(c).casefold() for w in words)]
