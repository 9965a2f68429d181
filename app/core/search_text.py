"""Search boxes match what was typed, literally, on both database engines.

``%`` and ``_`` are wildcards to SQL's LIKE: typed into a search they must match themselves,
not every row. A NUL character cannot be sent to PostgreSQL at all (and PayDesk never stores
one), so it and the other invisible control characters are dropped from what is searched.
Use `contains_pattern` with ``.like(pattern, escape=LIKE_ESCAPE)``.
"""

from __future__ import annotations

__all__ = ["LIKE_ESCAPE", "clean_search", "contains_pattern"]

LIKE_ESCAPE = "\\"


def clean_search(text: str) -> str:
    """The typed text without control characters and surrounding spaces."""
    return "".join(ch for ch in text if ch >= " " and ch != "\x7f").strip()


def contains_pattern(text: str, *, lower: bool = True) -> str:
    """A LIKE pattern that finds ``text`` anywhere, each character standing for itself."""
    term = clean_search(text)
    escaped = (term.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%")
               .replace("_", LIKE_ESCAPE + "_"))
    return f"%{escaped.lower() if lower else escaped}%"
