"""The internal currency is chosen once and can never change — in the core and in the database."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from app.core.config import CurrencyLockedError, get_internal_currency, set_internal_currency


def test_currency_is_unset_until_chosen(engine: Engine) -> None:
    assert get_internal_currency(engine) is None


def test_currency_can_be_set_once_and_again_to_the_same(engine: Engine) -> None:
    set_internal_currency(engine, "usd", actor="test")
    set_internal_currency(engine, "USD", actor="test")
    assert get_internal_currency(engine) == "USD"


def test_core_refuses_a_different_currency(engine: Engine) -> None:
    set_internal_currency(engine, "EUR", actor="test")
    with pytest.raises(CurrencyLockedError, match="EUR and can never be changed"):
        set_internal_currency(engine, "USD", actor="test")
    assert get_internal_currency(engine) == "EUR"


def test_unknown_codes_are_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="not an ISO 4217"):
        set_internal_currency(engine, "XYZ", actor="test")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE internal_currency SET code = 'USD'",
        "DELETE FROM internal_currency",
    ],
)
def test_database_refuses_changes_that_bypass_the_core(engine: Engine, statement: str) -> None:
    set_internal_currency(engine, "GBP", actor="test")
    with pytest.raises(DBAPIError, match="locked"), engine.begin() as connection:
        connection.execute(text(statement))
    assert get_internal_currency(engine) == "GBP"


def test_database_refuses_a_second_row(engine: Engine) -> None:
    set_internal_currency(engine, "GBP", actor="test")
    with pytest.raises(DBAPIError), engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO internal_currency (id, code, locked_at, locked_by) "
                "VALUES (2, 'USD', CURRENT_TIMESTAMP, 'x')"
            )
        )
