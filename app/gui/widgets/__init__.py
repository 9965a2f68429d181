"""Small widgets every screen reuses, so PayDesk looks and behaves the same everywhere.

* ``EmptyState`` — what a screen shows when it has nothing yet: a title, what to do next,
  and an optional action button.
* ``StatusPill`` / ``StatusPillDelegate`` — a status shown with colour *and* words (never
  colour alone), as a label or inside a table cell.
* ``MoneyDelegate`` — right-aligned amounts in a table, formatted in the user's locale.
* ``SearchField`` — a search box that reports what to search for after the person pauses.
* ``remember_columns`` — a table keeps its column widths, order and sort per seat.
"""

from app.gui.widgets.empty_state import EmptyState
from app.gui.widgets.money import MoneyDelegate
from app.gui.widgets.pill import (
    PILL_TONE_ROLE,
    StatusPill,
    StatusPillDelegate,
    Tone,
    invoice_status_tone,
)
from app.gui.widgets.remembered import remember_columns
from app.gui.widgets.search import SearchField

__all__ = [
    "PILL_TONE_ROLE",
    "EmptyState",
    "MoneyDelegate",
    "SearchField",
    "StatusPill",
    "StatusPillDelegate",
    "Tone",
    "invoice_status_tone",
    "remember_columns",
]
