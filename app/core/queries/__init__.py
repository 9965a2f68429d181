"""Read-side queries for the screens that look at the local database.

Invoice History, the Invoice page and the Organization view never load whole tables: a
screen asks for the ordered ids of what it shows (one indexed SQL query), then for the rows
of the few ids on screen, and for aggregates computed by the database. Everything returned
is a frozen dataclass or a list of ids; no ORM object leaves this package.

Qt-free: these functions run on whichever thread calls them, each with its own short
session or connection.
"""
