"""Reading and writing Autotask's date and time values.

Autotask's REST API stores and returns UTC. Values come in more than one shape: with or
without a trailing `Z`, with 0 to 7 fractional digits (`2016-03-30T13:10:35.563`,
`2024-05-01T08:00:00.1234567Z`), sometimes with an explicit offset, and date-only fields
(`paidDate`) as `YYYY-MM-DD` or midnight timestamps. A value without a zone is UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

__all__ = [
    "AutotaskDateError",
    "format_autotask_date",
    "format_autotask_datetime",
    "parse_autotask_date",
    "parse_autotask_datetime",
]

_DATETIME_RE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[T ](?P<time>\d{2}:\d{2}(?::\d{2})?)(?:\.(?P<frac>\d{1,7}))?)?"
    r"(?P<zone>Z|z|[+-]\d{2}:?\d{2})?$"
)


class AutotaskDateError(ValueError):
    """A value Autotask sent could not be read as a date or time."""


def _fast_datetime(text: str) -> datetime | None:
    """The common shape — `YYYY-MM-DDTHH:MM:SS`, 1–7 fractional digits, `Z` or no zone —
    read by `datetime.fromisoformat` alone; None for anything else (the careful path)."""
    body = text[:-1] if text.endswith("Z") else text
    size = len(body)
    if size == 19:
        fraction_ok = True
    else:
        fraction_ok = 21 <= size <= 27 and body[19] == "." and body[20:].isdigit()
    if not fraction_ok or body[10] != "T" or body[4] != "-" or body[7] != "-" \
            or body[13] != ":" or body[16] != ":" or not body[:4].isdigit():
        return None
    try:
        return datetime.fromisoformat(body + "Z")  # aware UTC (faster than .replace)
    except ValueError:
        return None


def parse_autotask_datetime(value: str | None) -> datetime | None:
    """Parse an Autotask timestamp into an aware UTC `datetime` (None stays None).

    Accepts `Z` or no zone (meaning UTC) or an offset, and 0–7 fractional digits (the 7th
    digit — 100 ns — is dropped, Python keeps microseconds).
    """
    if value is None:
        return None
    fast = _fast_datetime(value)
    if fast is not None:
        return fast
    text = value.strip()
    if not text:
        return None
    match = _DATETIME_RE.match(text)
    if match is None:
        raise AutotaskDateError(f"Not an Autotask date/time: {value!r}")
    time_part = match["time"] or "00:00:00"
    if len(time_part) == 5:
        time_part += ":00"
    frac = (match["frac"] or "")[:6].ljust(6, "0")
    zone = match["zone"]
    if zone is None or zone in ("Z", "z"):
        offset = "+00:00"
    elif ":" in zone:
        offset = zone
    else:
        offset = f"{zone[:3]}:{zone[3:]}"
    try:
        parsed = datetime.fromisoformat(f"{match['date']}T{time_part}.{frac}{offset}")
    except ValueError as exc:
        raise AutotaskDateError(f"Not an Autotask date/time: {value!r}") from exc
    return parsed.astimezone(UTC)


def parse_autotask_date(value: str | None) -> date | None:
    """Parse a date-only field (`paidDate`, `startDate`...) as a calendar date.

    Autotask sends these as `YYYY-MM-DD` or as a midnight timestamp; the date part is
    taken as written (it is not shifted between zones).
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    match = _DATETIME_RE.match(text)
    if match is None:
        raise AutotaskDateError(f"Not an Autotask date: {value!r}")
    try:
        return date.fromisoformat(match["date"])
    except ValueError as exc:
        raise AutotaskDateError(f"Not an Autotask date: {value!r}") from exc


def format_autotask_datetime(value: datetime) -> str:
    """Format an aware datetime the way Autotask accepts it in filters: UTC with `Z`."""
    if value.tzinfo is None:
        raise ValueError("format_autotask_datetime needs an aware datetime")
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def format_autotask_date(value: date) -> str:
    """Format a calendar date for a date-only field (`paidDate`): `YYYY-MM-DD`."""
    return value.isoformat()
