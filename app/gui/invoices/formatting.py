"""How every screen writes dates, times and money — one format everywhere, from the locale.

Dates use babel's medium format in the user's locale ("Nov 20, 2026", "20.11.2026"); a
moment adds the locale's short time in the locale's own way ("Nov 20, 2026, 2:05 PM",
"20.11.2026, 14:05"), in this computer's time zone. ``date_text`` and ``datetime_text`` are
the only places in ``app.gui`` that turn a date into words (the display locale is set once,
from the application's context, by ``set_display_locale``). Amounts are ``Money`` in the
internal currency, formatted by babel; zero is written out ("$0.00"), never left blank.
Formatting is cached because a table repaints the same few hundred values over and over.
The caches are plain dicts keyed by tuples of ints, strings and dates rather than
``functools.lru_cache``: an LRU entry is a list the garbage collector tracks, and thousands
of them made while scrolling set off full collections that freeze the table for a frame.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime

from babel import Locale
from babel.dates import format_date, format_time
from babel.numbers import NumberPattern

from app.core.money import Money

#: Entries kept per cache before it is emptied and refilled with what is on screen.
_CACHE_LIMIT = 50_000
_date_texts: dict[tuple[date, str], str] = {}
_money_texts: dict[tuple[int, str, str], str] = {}


#: The locale dates are written in when a screen does not pass its own.
_display_locale = "en_US"


def set_display_locale(locale: str) -> None:
    """Write dates in ``locale`` from now on (called once, when the application starts)."""
    global _display_locale
    _display_locale = locale


def display_locale() -> str:
    return _display_locale


def date_text(value: date | datetime | None, locale: str | None = None) -> str:
    """``Nov 20, 2026`` in en_US. A moment (``datetime``) is its day on this computer."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone().date()
    locale = locale or _display_locale
    key = (value, locale)
    text = _date_texts.get(key)
    if text is None:
        if len(_date_texts) >= _CACHE_LIMIT:
            _date_texts.clear()
        text = _date_texts[key] = str(format_date(value, format="medium", locale=locale))
    return text


def datetime_text(value: datetime | None, locale: str | None = None) -> str:
    """``Nov 20, 2026, 2:05 PM`` in en_US: the date as ``date_text`` writes it and the
    locale's short time, in this computer's time zone."""
    if value is None:
        return ""
    locale = locale or _display_locale
    local = value.astimezone()
    time = str(format_time(local, format="short", locale=locale))
    return _datetime_pattern(locale).format(time, date_text(local.date(), locale))


def date_edit_format(locale: str | None = None) -> str:
    """The locale's medium date as a ``QDateEdit`` display format (``MMM d, yyyy`` in
    en_US), so a date typed or picked reads as the dates in the tables."""
    pattern = str(Locale.parse(locale or _display_locale).date_formats["medium"].pattern)
    return re.sub(r"y+", "yyyy", pattern)


def time_text(value: datetime, locale: str | None = None) -> str:
    """``2:05 PM`` in en_US: the locale's short time, in this computer's time zone."""
    return str(format_time(value.astimezone(), format="short", locale=locale or _display_locale))


@functools.cache
def _datetime_pattern(locale: str) -> str:
    """How the locale joins a date and a time (``{1}, {0}`` in en_US: date, then time)."""
    pattern = Locale.parse(locale).datetime_formats.get("medium")
    text = str(pattern) if pattern is not None else "{1} {0}"
    return text.replace("'", "")


@functools.cache
def _currency_pattern(locale: str) -> tuple[Locale, NumberPattern]:
    parsed = Locale.parse(locale)
    return parsed, parsed.currency_formats["standard"]


def money_text(minor: int, currency: str, locale: str) -> str:
    """The same text as ``Money.format`` (babel's standard currency format), about six
    times faster: the locale and its pattern are parsed once, not for every cell."""
    key = (minor, currency, locale)
    text = _money_texts.get(key)
    if text is None:
        if len(_money_texts) >= _CACHE_LIMIT:
            _money_texts.clear()
        parsed, pattern = _currency_pattern(locale)
        text = str(pattern.apply(Money(minor, currency).to_decimal(), parsed, currency=currency))
        _money_texts[key] = text
    return text


def local_today() -> date:
    """Today on this computer's calendar (Overdue is decided against it)."""
    return datetime.now(UTC).astimezone().date()
