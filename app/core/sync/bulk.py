"""Bulk reads and upserts for the sync, in SQLAlchemy Core.

The mirror tables are addressed through *plain* copies of their `Table`s whose columns use
the storage types' underlying representation (naive-UTC `DateTime`, `String` for exact
decimals): the converters in `app.core.sync.specs` already produce those values, and skipping
the per-value type hooks keeps a first sync of hundreds of thousands of rows fast.

Upserts are ``INSERT ... ON CONFLICT (id) DO UPDATE`` on SQLite and PostgreSQL, executed
with the driver's executemany for a whole page at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from itertools import chain
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Date,
    DateTime,
    Dialect,
    MetaData,
    Table,
    bindparam,
    delete,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.types import TypeDecorator

_plain_metadata = MetaData()


@cache
def plain_table(table: Table) -> Table:
    """A copy of ``table`` whose columns skip `TypeDecorator` processing."""
    columns = []
    for column in table.columns:
        kind = column.type
        if isinstance(kind, TypeDecorator):
            kind = kind.impl_instance
        columns.append(Column(column.name, kind, primary_key=column.primary_key))
    return Table(table.name, _plain_metadata, *columns)


@cache
def _upsert_sql(dialect: Dialect, table: Table, columns: tuple[str, ...]
                ) -> tuple[str, tuple[str, ...]]:
    """The upsert's SQL text for this dialect and the order its parameters go in."""
    module: Any = postgresql if dialect.name == "postgresql" else sqlite
    stmt = module.insert(table).values({c: bindparam(c) for c in columns})
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.id],
        set_={c: stmt.excluded[c] for c in columns if c != "id"},
    )
    compiled = stmt.compile(dialect=dialect)
    order = tuple(compiled.positiontup or ()) if dialect.name == "sqlite" else columns
    return str(compiled), order


@cache
def _sqlite_layout(table: Table, order: tuple[str, ...]
                   ) -> tuple[itemgetter[Any], tuple[int, ...], tuple[int, ...]]:
    """How to lay out a row for SQLite: a getter for the values in parameter order, and
    the positions holding datetimes and dates (stored as SQLAlchemy's own text forms)."""
    instants = tuple(i for i, c in enumerate(order)
                     if isinstance(table.c[c].type, DateTime))
    days = tuple(i for i, c in enumerate(order)
                 if isinstance(table.c[c].type, Date) and not isinstance(table.c[c].type,
                                                                          DateTime))
    return itemgetter(*order), instants, days


def _sqlite_params(table: Table, order: tuple[str, ...],
                   rows: Sequence[dict[str, Any]]) -> list[Any]:
    getter, instants, days = _sqlite_layout(table, order)
    if len(order) == 1:
        return [(getter(row),) for row in rows]
    if not instants and not days:
        return [getter(row) for row in rows]
    # Column by column: the conversions run as comprehensions over one column and the
    # transposes in C, instead of a Python loop over every value of every row.
    columns = list(zip(*map(getter, rows), strict=True))
    for i in instants:
        column = columns[i]
        if column.count(column[0]) == len(column):  # one value throughout (synced_at)
            first = column[0]
            text = None if first is None else first.isoformat(" ", "microseconds")
            columns[i] = (text,) * len(column)
        else:
            columns[i] = tuple([None if v is None else v.isoformat(" ", "microseconds")
                                for v in column])
    for i in days:
        columns[i] = tuple([None if v is None else v.isoformat() for v in columns[i]])
    return list(zip(*columns, strict=True))


def prepare_upsert(dialect: Dialect, table: Table, rows: Sequence[dict[str, Any]]
                   ) -> tuple[str, list[Any]]:
    """The upsert's SQL and one driver parameter set per row (all rows with the same keys).

    The values are put in the columns' storage form here, so fetcher threads can do this
    work while the writer thread is inside the database.
    """
    if dialect.name not in ("sqlite", "postgresql"):
        raise RuntimeError(f"PayDesk's sync does not support the {dialect.name} database")
    sql, order = _upsert_sql(dialect, table, tuple(rows[0]))
    if dialect.name == "sqlite":
        return sql, _sqlite_params(table, order, rows)
    return sql, list(rows)


#: SQLite: rows per statement at most, and bound values per statement at most (SQLite's
#: own limit before 3.32 was 999).
SQLITE_ROWS_PER_STATEMENT = 50
SQLITE_VALUES_PER_STATEMENT = 999


@cache
def _sqlite_several_rows(sql: str, rows: int) -> str | None:
    """``sql`` (an ``INSERT ... VALUES (?, ...) ON CONFLICT ...`` for one row) for
    ``rows`` rows, or None when it does not have that shape."""
    head, found, rest = sql.partition(" VALUES (")
    values, found_too, tail = rest.partition(") ON CONFLICT ")
    if not found or not found_too or set(values) - set("?, "):
        return None
    group = f"({values})"
    return f"{head} VALUES {', '.join([group] * rows)} ON CONFLICT {tail}"


def execute_upsert(connection: Connection, sql: str, params: Sequence[Any]) -> None:
    """Run the upsert `prepare_upsert` made, for every row of ``params``.

    On SQLite the rows go several to a statement: the driver then steps the database once
    for many rows instead of once a row, and gives up and takes back the interpreter's
    lock (the GIL) as many times fewer — with the sync's other threads busy, taking it back
    is what a row-at-a-time write waited for most. Rows of one statement are written or
    refused together (the caller then writes them one at a time to find the refused one).
    """
    width = len(params[0]) if params else 0
    per = min(SQLITE_ROWS_PER_STATEMENT, SQLITE_VALUES_PER_STATEMENT // max(1, width))
    several = (_sqlite_several_rows(sql, per)
               if connection.dialect.name == "sqlite" and per > 1 and len(params) >= per
               else None)
    if several is None:
        connection.exec_driver_sql(sql, list(params))
        return
    whole = len(params) - len(params) % per
    connection.exec_driver_sql(several, [
        tuple(chain.from_iterable(params[start : start + per]))
        for start in range(0, whole, per)
    ])
    if whole < len(params):
        connection.exec_driver_sql(sql, list(params[whole:]))


def upsert(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert or update ``rows`` (all with the same keys) by primary key ``id``: one
    driver-level executemany, skipping SQLAlchemy's per-value processing."""
    if rows:
        sql, params = prepare_upsert(connection.dialect, table, rows)
        execute_upsert(connection, sql, params)


def existing_rows(
    connection: Connection,
    table: Table,
    columns: Sequence[str],
    *,
    ids: Iterable[int] | None = None,
    id_range: tuple[int, int | None] | None = None,
) -> dict[int, tuple[Any, ...]]:
    """Stored rows as ``{id: (column values…)}``, either for ``ids`` or for the id range
    ``(after, up_to]`` (``up_to`` None: no upper end)."""
    wanted = [table.c[name] for name in columns]
    query = select(table.c.id, *wanted)
    if id_range is not None:
        after, up_to = id_range
        query = query.where(table.c.id > after)
        if up_to is not None:
            query = query.where(table.c.id <= up_to)
        return {row[0]: tuple(row[1:]) for row in connection.execute(query)}
    id_list = list(ids or ())
    found: dict[int, tuple[Any, ...]] = {}
    for start in range(0, len(id_list), 500):
        chunk = id_list[start : start + 500]
        for row in connection.execute(query.where(table.c.id.in_(chunk))):
            found[row[0]] = tuple(row[1:])
    return found


def index_names(connection: Connection) -> set[str]:
    """Names of the indexes the database holds now (this schema's, on PostgreSQL)."""
    if connection.dialect.name == "postgresql":
        query = "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
    else:
        query = "SELECT name FROM sqlite_master WHERE type = 'index'"
    return {row[0] for row in connection.exec_driver_sql(query)}


def drop_secondary_indexes(connection: Connection, table: Table) -> list[str]:
    """Drop the model's secondary indexes of ``table`` (the primary key stays): a first
    sync into an empty table fills it far faster without them, and building each index
    once from the finished table (a sort) costs a fraction of keeping it up to date row by
    row. `restore_secondary_indexes` puts them back. Returns the names dropped."""
    present = index_names(connection)
    dropped = []
    for index in sorted(table.indexes, key=lambda i: str(i.name)):
        if index.name in present:
            index.drop(connection)
            dropped.append(str(index.name))
    return dropped


def restore_secondary_indexes(connection: Connection, tables: Iterable[Table]) -> list[str]:
    """Create every model index of ``tables`` that the database lacks (those
    `drop_secondary_indexes` took away for a first sync — also after a run was killed
    before it could put them back). Returns the names created."""
    present = index_names(connection)
    created = []
    for table in tables:
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            if index.name not in present:
                index.create(connection)
                created.append(str(index.name))
    return created


def is_empty(connection: Connection, table: Table) -> bool:
    return connection.execute(select(table.c.id).limit(1)).first() is None


def delete_ids(connection: Connection, table: Table, ids: Sequence[int]) -> None:
    for start in range(0, len(ids), 500):
        connection.execute(delete(table).where(table.c.id.in_(list(ids[start : start + 500]))))
