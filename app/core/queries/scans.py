"""Queries that skip through an index instead of reading every row."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, func, select

__all__ = ["values_missing_from"]


def values_missing_from(column: Any, known: Any, name: str) -> Select[Any]:
    """The distinct non-null values of ``column`` that are not among ``known`` (a column of
    another table: the organizations, the payment terms), e.g. the organization ids
    invoices carry that are not synced yet.

    The distinct values are found by a loose index scan over an index that begins with
    ``column``: one seek per distinct value (a recursive query that both SQLite and
    PostgreSQL run), so a million rows with a few thousand distinct values cost a few
    thousand seeks, not a pass over every row. ``name`` names the recursive query."""
    walk = select(func.min(column).label("value")).cte(name, recursive=True)
    following = (
        select(column).where(column > walk.c.value).order_by(column).limit(1).scalar_subquery()
    )
    walk = walk.union_all(select(following).where(walk.c.value.is_not(None)))
    present: ColumnElement[Any] = walk.c.value
    return select(present).where(present.is_not(None), present.not_in(select(known)))
