"""Substring search indexes and the language-aware name order, per database engine.

Invoice History finds an invoice by any part of its number, its QuickBooks number or its
organization's name. A substring can start anywhere, so a B-tree cannot seek to it; at a
million invoices scanning is too slow for a keystroke. Both engines have an index made for
it, keyed by trigrams (every run of three characters), which answers terms of three
characters or more:

* **SQLite** — FTS5 tables with the ``trigram`` tokenizer (SQLite 3.34+):
  ``invoices_fts`` over ``invoices.search_key`` and ``organizations_fts`` over
  ``organizations.name``, both "external content" tables kept right by triggers on every
  insert, update and delete (so the sync's upserts, payments and fixtures all maintain them);
  ``payments_fts`` (reference and gateway ids) and ``refunds_fts`` (reference and refund id)
  the same way, for Payment Search and Transactions.
* **PostgreSQL** — ``pg_trgm`` GIN indexes on the same expressions, which serve ``LIKE
  '%term%'`` and ``ILIKE`` directly. ``pg_trgm`` is a trusted extension (PostgreSQL 13+): a
  role that may create objects in the database can install it. Where it cannot be installed, PayDesk
  works without it (searches scan instead, slower over very large histories) and logs how
  to add it.

Names sort as people expect ("Bäckerei" before "Bright Path"): PostgreSQL through its ICU
root collation (``und-x-icu``) where the server has ICU, SQLite through the ``paydesk_name``
collation that PayDesk registers on every connection (accents and case set aside first,
then the exact text, so two different names never compare equal). Both have an index in
that order, so sorting by name walks the index.

The objects are created by the initial revision (``install``) and left out of the
model/migration comparison (``is_hand_written``); queries ask ``capabilities`` what the
database has.
"""

from __future__ import annotations

import functools
import logging
import unicodedata
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine

__all__ = [
    "NAME_COLLATION_SQLITE",
    "SearchCapabilities",
    "bulk_maintained",
    "capabilities",
    "install",
    "is_hand_written",
    "name_sort_key",
    "register_sqlite_functions",
    "sorted_by_name",
    "trigram_phrase",
]

log = logging.getLogger(__name__)

#: The collation SQLite connections get from ``register_sqlite_functions``.
NAME_COLLATION_SQLITE = "paydesk_name"
#: PostgreSQL's ICU root collation: language-neutral Unicode order (CLDR root).
NAME_COLLATION_POSTGRES = "und-x-icu"
#: Trigram indexes answer terms at least this long (shorter ones are scanned).
TRIGRAM_MIN = 3
#: PostgreSQL's trigram extension (a contrib module: some servers do not ship it).
TRIGRAM_EXTENSION = "pg_trgm"

_HAND_WRITTEN_PREFIXES = (
    "invoices_fts", "organizations_fts", "search_index_paused", "payments_fts", "refunds_fts",
)
_HAND_WRITTEN_INDEXES = frozenset(
    {"ix_invoices_search_trgm", "ix_organizations_name_trgm", "ix_organizations_name_sort",
     "ix_payments_search_trgm", "ix_refunds_search_trgm", "ix_payments_transaction_sort"}
)


def is_hand_written(name: str) -> bool:
    """A table or index created by ``install`` rather than from the models."""
    return name in _HAND_WRITTEN_INDEXES or name.startswith(_HAND_WRITTEN_PREFIXES)


# --- the name order ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=65_536)
def name_sort_key(name: str) -> tuple[str, str]:
    """How a name sorts: letters without their accents and case first (so "Bäckerei" sits
    among the B's, before "Bright Path"), then the exact text to order names that differ
    only in accents or case the same way every time."""
    decomposed = unicodedata.normalize("NFKD", name)
    base = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return base.casefold(), name


def _collate(left: str, right: str) -> int:
    a, b = name_sort_key(left), name_sort_key(right)
    return (a > b) - (a < b)


def register_sqlite_functions(dbapi_connection: Any) -> None:
    """Give a SQLite connection the ``paydesk_name`` collation. Every PayDesk connection
    needs it: the name index is kept in that order, so writing a name uses it too."""
    dbapi_connection.create_collation(NAME_COLLATION_SQLITE, _collate)


# --- installing ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _BulkStatements:
    """A trigram table's entries for a list of ids (``IN`` and its parameters appended)."""

    remove: str
    add: str


_SQLITE_BULK = {
    "invoices": _BulkStatements(
        remove="INSERT INTO invoices_fts(invoices_fts, rowid, search_key) "
               "SELECT 'delete', id, search_key FROM invoices WHERE id IN ",
        add="INSERT INTO invoices_fts(rowid, search_key) "
            "SELECT id, search_key FROM invoices WHERE id IN ",
    ),
    "organizations": _BulkStatements(
        remove="INSERT INTO organizations_fts(organizations_fts, rowid, name) "
               "SELECT 'delete', id, name FROM organizations WHERE id IN ",
        add="INSERT INTO organizations_fts(rowid, name) "
            "SELECT id, name FROM organizations WHERE id IN ",
    ),
}

_SQLITE_STATEMENTS = [
    # While this table has a row, the insert and update triggers below do nothing: the
    # writer that put it there (in its own, uncommitted transaction, so no other connection
    # ever sees it) maintains the index itself, a page at a time (``bulk_maintained``).
    "CREATE TABLE search_index_paused (paused INTEGER PRIMARY KEY)",
    # Invoice and QuickBooks numbers (the stored, lower-cased ``search_key``).
    """CREATE VIRTUAL TABLE invoices_fts USING fts5(
           search_key, content='invoices', content_rowid='id', tokenize='trigram')""",
    """CREATE TRIGGER invoices_fts_insert AFTER INSERT ON invoices
       WHEN NOT EXISTS (SELECT 1 FROM search_index_paused) BEGIN
           INSERT INTO invoices_fts(rowid, search_key) VALUES (new.id, new.search_key);
       END""",
    """CREATE TRIGGER invoices_fts_delete AFTER DELETE ON invoices BEGIN
           INSERT INTO invoices_fts(invoices_fts, rowid, search_key)
           VALUES ('delete', old.id, old.search_key);
       END""",
    """CREATE TRIGGER invoices_fts_update AFTER UPDATE OF invoice_number, qb_doc_number
       ON invoices WHEN old.search_key IS NOT new.search_key
       AND NOT EXISTS (SELECT 1 FROM search_index_paused) BEGIN
           INSERT INTO invoices_fts(invoices_fts, rowid, search_key)
           VALUES ('delete', old.id, old.search_key);
           INSERT INTO invoices_fts(rowid, search_key) VALUES (new.id, new.search_key);
       END""",
    # Organization names.
    """CREATE VIRTUAL TABLE organizations_fts USING fts5(
           name, content='organizations', content_rowid='id', tokenize='trigram')""",
    """CREATE TRIGGER organizations_fts_insert AFTER INSERT ON organizations
       WHEN NOT EXISTS (SELECT 1 FROM search_index_paused) BEGIN
           INSERT INTO organizations_fts(rowid, name) VALUES (new.id, new.name);
       END""",
    """CREATE TRIGGER organizations_fts_delete AFTER DELETE ON organizations BEGIN
           INSERT INTO organizations_fts(organizations_fts, rowid, name)
           VALUES ('delete', old.id, old.name);
       END""",
    """CREATE TRIGGER organizations_fts_update AFTER UPDATE OF name ON organizations
       WHEN old.name IS NOT new.name AND NOT EXISTS (SELECT 1 FROM search_index_paused) BEGIN
           INSERT INTO organizations_fts(organizations_fts, rowid, name)
           VALUES ('delete', old.id, old.name);
           INSERT INTO organizations_fts(rowid, name) VALUES (new.id, new.name);
       END""",
    # Payment Search and Transactions find a payment or a refund by any part of its
    # reference or its gateway ids. Payments are written one at a time by PayDesk itself
    # (never by the sync), so their triggers always run.
    """CREATE VIRTUAL TABLE payments_fts USING fts5(
           reference, gateway_transaction_id, gateway_payment_id,
           content='payments', content_rowid='id', tokenize='trigram')""",
    """CREATE TRIGGER payments_fts_insert AFTER INSERT ON payments BEGIN
           INSERT INTO payments_fts(rowid, reference, gateway_transaction_id, gateway_payment_id)
           VALUES (new.id, new.reference, new.gateway_transaction_id, new.gateway_payment_id);
       END""",
    """CREATE TRIGGER payments_fts_delete AFTER DELETE ON payments BEGIN
           INSERT INTO payments_fts(payments_fts, rowid, reference, gateway_transaction_id,
                                    gateway_payment_id)
           VALUES ('delete', old.id, old.reference, old.gateway_transaction_id,
                   old.gateway_payment_id);
       END""",
    """CREATE TRIGGER payments_fts_update
       AFTER UPDATE OF reference, gateway_transaction_id, gateway_payment_id ON payments
       WHEN old.reference IS NOT new.reference
         OR old.gateway_transaction_id IS NOT new.gateway_transaction_id
         OR old.gateway_payment_id IS NOT new.gateway_payment_id BEGIN
           INSERT INTO payments_fts(payments_fts, rowid, reference, gateway_transaction_id,
                                    gateway_payment_id)
           VALUES ('delete', old.id, old.reference, old.gateway_transaction_id,
                   old.gateway_payment_id);
           INSERT INTO payments_fts(rowid, reference, gateway_transaction_id, gateway_payment_id)
           VALUES (new.id, new.reference, new.gateway_transaction_id, new.gateway_payment_id);
       END""",
    """CREATE VIRTUAL TABLE refunds_fts USING fts5(
           reference, gateway_refund_id, content='refunds', content_rowid='id',
           tokenize='trigram')""",
    """CREATE TRIGGER refunds_fts_insert AFTER INSERT ON refunds BEGIN
           INSERT INTO refunds_fts(rowid, reference, gateway_refund_id)
           VALUES (new.id, new.reference, new.gateway_refund_id);
       END""",
    """CREATE TRIGGER refunds_fts_delete AFTER DELETE ON refunds BEGIN
           INSERT INTO refunds_fts(refunds_fts, rowid, reference, gateway_refund_id)
           VALUES ('delete', old.id, old.reference, old.gateway_refund_id);
       END""",
    """CREATE TRIGGER refunds_fts_update AFTER UPDATE OF reference, gateway_refund_id ON refunds
       WHEN old.reference IS NOT new.reference
         OR old.gateway_refund_id IS NOT new.gateway_refund_id BEGIN
           INSERT INTO refunds_fts(refunds_fts, rowid, reference, gateway_refund_id)
           VALUES ('delete', old.id, old.reference, old.gateway_refund_id);
           INSERT INTO refunds_fts(rowid, reference, gateway_refund_id)
           VALUES (new.id, new.reference, new.gateway_refund_id);
       END""",
    f"""CREATE INDEX ix_organizations_name_sort
        ON organizations (name COLLATE {NAME_COLLATION_SQLITE}, id)""",
]


#: Payment Search sorted by transaction id walks this index on either engine: the expression
#: is the one ``app.core.queries.payments`` sorts by (a payment without an id sorts as "").
#: Written here because alembic cannot compare an index on an expression with the models.
_TRANSACTION_SORT_INDEX = (
    "CREATE INDEX ix_payments_transaction_sort "
    "ON payments (coalesce(gateway_transaction_id, ''), id, state)"
)


def install(connection: Connection) -> None:
    """Create the search indexes and the name-order index this engine supports."""
    if connection.dialect.name in ("sqlite", "postgresql"):
        connection.exec_driver_sql(_TRANSACTION_SORT_INDEX)
    if connection.dialect.name == "sqlite":
        driver = connection.connection.driver_connection
        register_sqlite_functions(driver)
        if not _sqlite_has_trigram(connection):
            log.warning(
                "This SQLite (%s) has no trigram tokenizer; Invoice History searches will scan "
                "instead of using an index. Install a newer PayDesk build to speed them up.",
                connection.exec_driver_sql("select sqlite_version()").scalar(),
            )
            statements = _SQLITE_STATEMENTS[-1:]
        else:
            statements = _SQLITE_STATEMENTS
        for statement in statements:
            connection.exec_driver_sql(statement)
        return
    if connection.dialect.name != "postgresql":
        return
    if _postgres_trigram(connection):
        connection.exec_driver_sql(
            "CREATE INDEX ix_invoices_search_trgm ON invoices USING gin (search_key gin_trgm_ops)"
        )
        connection.exec_driver_sql(
            "CREATE INDEX ix_organizations_name_trgm ON organizations "
            "USING gin (lower(name) gin_trgm_ops)"
        )
        # Payment Search and Transactions: ILIKE on any of these columns uses the index.
        connection.exec_driver_sql(
            "CREATE INDEX ix_payments_search_trgm ON payments USING gin (reference gin_trgm_ops, "
            "gateway_transaction_id gin_trgm_ops, gateway_payment_id gin_trgm_ops)"
        )
        connection.exec_driver_sql(
            "CREATE INDEX ix_refunds_search_trgm ON refunds USING gin "
            "(reference gin_trgm_ops, gateway_refund_id gin_trgm_ops)"
        )
    if _postgres_has_collation(connection):
        connection.exec_driver_sql(
            f'CREATE INDEX ix_organizations_name_sort ON organizations '
            f'(name COLLATE "{NAME_COLLATION_POSTGRES}", id)'
        )


def _sqlite_has_trigram(connection: Connection) -> bool:
    nested = connection.begin_nested()
    try:
        connection.exec_driver_sql(
            "CREATE VIRTUAL TABLE temp.paydesk_trigram_probe USING fts5(x, tokenize='trigram')"
        )
    except Exception:
        nested.rollback()
        return False
    connection.exec_driver_sql("DROP TABLE temp.paydesk_trigram_probe")
    nested.commit()
    return True


def _postgres_trigram(connection: Connection) -> bool:
    """Whether ``pg_trgm`` is (or could now be) installed in this database."""
    installed = connection.exec_driver_sql(
        "SELECT 1 FROM pg_extension WHERE extname = %(name)s", {"name": TRIGRAM_EXTENSION}
    ).first()
    if installed:
        return True
    nested = connection.begin_nested()
    try:
        connection.exec_driver_sql(f'CREATE EXTENSION IF NOT EXISTS "{TRIGRAM_EXTENSION}"')
    except Exception as exc:
        nested.rollback()
        log.warning(
            "PostgreSQL would not install the pg_trgm extension (%s). PayDesk works without "
            "it, but searching Invoice History scans every invoice instead of using an index. "
            "To speed it up, ask the database administrator to run CREATE EXTENSION pg_trgm "
            "in this database, then create a new PayDesk database or run the statements in "
            "app/core/storage/search.py.",
            type(exc).__name__,
        )
        return False
    nested.commit()
    return True


def _postgres_has_collation(connection: Connection) -> bool:
    return (
        connection.exec_driver_sql(
            "SELECT 1 FROM pg_collation WHERE collname = %(name)s",
            {"name": NAME_COLLATION_POSTGRES},
        ).first()
        is not None
    )


# --- what queries may use -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SearchCapabilities:
    #: SQLite: the ``*_fts`` trigram tables exist (queries use MATCH for long terms).
    sqlite_fts: bool
    #: The collation to sort names by, or None for the database's own order.
    name_collation: str | None
    #: SQLite: the trigram tables' triggers can be paused for a bulk write
    #: (``bulk_maintained``; databases made before it cannot).
    sqlite_fts_pausable: bool = False
    #: SQLite: the payments' and refunds' trigram tables exist (``payments_fts``,
    #: ``refunds_fts``; databases made before them have none).
    sqlite_payments_fts: bool = False


_CAPABILITIES: weakref.WeakKeyDictionary[Engine, SearchCapabilities] = (
    weakref.WeakKeyDictionary()
)


def capabilities(connection: Connection) -> SearchCapabilities:
    """What this database has of the objects ``install`` creates (looked up once per engine)."""
    engine = connection.engine
    found = _CAPABILITIES.get(engine)
    if found is not None:
        return found
    if connection.dialect.name == "sqlite":
        names = {
            row[0]
            for row in connection.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE name IN "
                "('invoices_fts', 'organizations_fts', 'ix_organizations_name_sort', "
                "'search_index_paused', 'payments_fts', 'refunds_fts')"
            )
        }
        fts = {"invoices_fts", "organizations_fts"} <= names
        found = SearchCapabilities(
            sqlite_fts=fts,
            sqlite_fts_pausable=fts and "search_index_paused" in names,
            sqlite_payments_fts={"payments_fts", "refunds_fts"} <= names,
            name_collation=NAME_COLLATION_SQLITE if "ix_organizations_name_sort" in names else None,
        )
    elif connection.dialect.name == "postgresql":
        found = SearchCapabilities(
            sqlite_fts=False,
            name_collation=NAME_COLLATION_POSTGRES if _postgres_has_collation(connection) else None,
        )
    else:
        found = SearchCapabilities(sqlite_fts=False, name_collation=None)
    _CAPABILITIES[engine] = found
    return found


#: Ids per statement when rewriting a page's index entries (well under SQLite's limit on
#: bound parameters).
_IDS_PER_STATEMENT = 500


@contextmanager
def bulk_maintained(connection: Connection, table_name: str, ids: Sequence[int],
                    existing: Sequence[int]) -> Iterator[None]:
    """Inside the ``with``: insert or update (never delete) the rows ``ids`` of
    ``table_name``, of which ``existing`` were already stored, with the search index kept by
    two bulk statements instead of a trigger per row.

    On SQLite with trigram tables, the stored rows' index entries are removed before (from
    their values as stored now), the triggers are paused for the writes, and the entries of
    every row then stored among ``ids`` (written, or left as it was when the database refused
    the new values) are added after. If the body raises, the caller must roll the
    transaction back (the pause and the removed entries go with it). Elsewhere (PostgreSQL's
    indexes are the database's own; a table without a trigram table) it only runs the body.
    """
    statements = _SQLITE_BULK.get(table_name)
    if (statements is None or not ids or connection.dialect.name != "sqlite"
            or not capabilities(connection).sqlite_fts_pausable):
        yield
        return
    _for_ids(connection, existing, statements.remove)
    connection.exec_driver_sql("INSERT INTO search_index_paused (paused) VALUES (1)")
    yield
    connection.exec_driver_sql("DELETE FROM search_index_paused")
    _for_ids(connection, ids, statements.add)


def _for_ids(connection: Connection, ids: Sequence[int], sql: str) -> None:
    for start in range(0, len(ids), _IDS_PER_STATEMENT):
        chunk = tuple(ids[start : start + _IDS_PER_STATEMENT])
        connection.exec_driver_sql(sql + "(" + ",".join("?" * len(chunk)) + ")", chunk)


def sorted_by_name(connection: Connection, column: Any) -> ColumnElement[Any]:
    """``column`` in the language-aware name order, where the database has it."""
    collation = capabilities(connection).name_collation
    if collation is None:
        return column  # type: ignore[no-any-return]
    return column.collate(collation)  # type: ignore[no-any-return]


def trigram_phrase(term: str) -> str | None:
    """An FTS5 MATCH expression finding ``term`` literally anywhere, or None when the term is
    too short for a trigram index (the caller scans instead)."""
    if len(term) < TRIGRAM_MIN:
        return None
    return '"' + term.replace('"', '""') + '"'

