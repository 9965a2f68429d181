"""AutoPay defaults shared by every seat: the decline retry schedule, the timing a new rule
starts with, and how many days ahead a reminder goes out. Stored under ``autopay.defaults``
through :func:`app.core.config.get_setting` / :func:`~app.core.config.set_setting` (JSON).

Threads: reads and writes the database; run on a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from app.core.config import get_setting, set_setting

__all__ = [
    "DEFAULTS_KEY",
    "MAX_RETRIES",
    "AutoPayDefaults",
    "load_autopay_defaults",
    "save_autopay_defaults",
]

DEFAULTS_KEY = "autopay.defaults"
#: More retries than this irritate the card issuer (and the customer's bank) without helping.
MAX_RETRIES = 4
MAX_RETRY_DAY = 60

TIMINGS = ("due_date", "after_invoice_date")


@dataclass(frozen=True, slots=True)
class AutoPayDefaults:
    """``retry_after_days``: after a decline, charge again this many days after the *first*
    decline (default 3 and 7), then stop and list it for a person. ``timing`` and
    ``days_after_invoice`` pre-fill a new rule. ``reminder_days`` is how many days before an
    AutoPay charge the client is reminded."""

    retry_after_days: tuple[int, ...] = (3, 7)
    timing: str = "due_date"
    days_after_invoice: int = 0
    reminder_days: int = 3

    def problem(self) -> str | None:
        """Why these defaults cannot be saved, in words for the bookkeeper, or ``None``."""
        days = self.retry_after_days
        if len(days) > MAX_RETRIES:
            return f"Retry a declined charge at most {MAX_RETRIES} times."
        if any(d < 1 or d > MAX_RETRY_DAY for d in days):
            return f"Retry days must be between 1 and {MAX_RETRY_DAY}."
        if list(days) != sorted(set(days)):
            return "Retry days must increase, for example 3 and 7."
        if self.timing not in TIMINGS:
            return "Choose when AutoPay charges: on the due date or after the invoice date."
        if not 0 <= self.days_after_invoice <= 120:
            return "Days after the invoice date must be between 0 and 120."
        if not 0 <= self.reminder_days <= 30:
            return "Send the reminder between 0 and 30 days ahead."
        return None

    def to_json(self) -> dict[str, Any]:
        return {"retry_after_days": list(self.retry_after_days), "timing": self.timing,
                "days_after_invoice": self.days_after_invoice,
                "reminder_days": self.reminder_days}


def load_autopay_defaults(engine: Engine) -> AutoPayDefaults:
    """The stored defaults; anything missing or unreadable falls back to the built-in ones."""
    raw = get_setting(engine, DEFAULTS_KEY, None)
    base = AutoPayDefaults()
    if not isinstance(raw, dict):
        return base
    try:
        days = raw.get("retry_after_days", list(base.retry_after_days))
        loaded = AutoPayDefaults(
            retry_after_days=tuple(int(d) for d in days),
            timing=str(raw.get("timing", base.timing)),
            days_after_invoice=int(raw.get("days_after_invoice", base.days_after_invoice)),
            reminder_days=int(raw.get("reminder_days", base.reminder_days)),
        )
    except (TypeError, ValueError):
        return base
    return base if loaded.problem() else loaded


def save_autopay_defaults(engine: Engine, defaults: AutoPayDefaults,
                          actor: str | None = None) -> None:
    """Store the defaults for every seat; raises ``ValueError`` with the reason when invalid."""
    problem = defaults.problem()
    if problem:
        raise ValueError(problem)
    set_setting(engine, DEFAULTS_KEY, defaults.to_json(), actor)
