"""Search text is literal everywhere: `%` and `_` match themselves, a NUL is harmless.

On SQLite and PostgreSQL (a NUL in a query parameter is an error there unless removed).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.core.payments.fixtures import build_payment_history, reference, transaction_id
from app.core.queries.invoices import InvoiceQuery, invoice_ids
from app.core.queries.organizations import OrganizationQuery, organization_ids
from app.core.queries.payments import PaymentSearchCriteria, payment_search_ids, transaction_ids
from app.core.search_text import contains_pattern

TODAY = date(2026, 6, 1)


def test_the_pattern_escapes_wildcards() -> None:
    assert contains_pattern("50%_off\\x") == "%50\\%\\_off\\\\x%"
    assert contains_pattern(" A\x00b ") == "%ab%"


def test_payment_searches_take_the_text_literally(engine: Engine) -> None:
    build_payment_history(engine, payments=40, organizations=4)
    everyone = transaction_ids(engine)
    assert len(everyone) == 40
    # As wildcards these would match every payment ("PD-0…", "ch_0…").
    assert list(transaction_ids(engine, text="%")) == []
    assert list(transaction_ids(engine, text="D_0")) == []
    assert list(transaction_ids(engine, text="ch%0")) == []
    assert len(transaction_ids(engine, text="ch_")) == 40  # the underscore itself
    one = transaction_ids(engine, text=reference(7))
    assert len(one) == 1
    assert transaction_ids(engine, text=reference(7).replace("-", "-\x00")) == one
    for text in ("%", "D_0", "h%0"):
        assert not payment_search_ids(engine, PaymentSearchCriteria(transaction_id=text))
    found = payment_search_ids(engine, PaymentSearchCriteria(
        transaction_id="\x00" + transaction_id(7)))
    assert found == one  # the sale (a payment's key is its id)
    assert not payment_search_ids(engine, PaymentSearchCriteria(invoice_number="1\x00"))


def test_invoice_and_organization_searches_take_the_text_literally(engine: Engine) -> None:
    build_payment_history(engine, payments=10, organizations=3)
    with Session(engine) as session:
        connection = session.connection()
        assert invoice_ids(connection, InvoiceQuery(search="%", show_paid=True), TODAY) == []
        assert invoice_ids(connection, InvoiceQuery(search="\x00", show_paid=True), TODAY) \
            == invoice_ids(connection, InvoiceQuery(show_paid=True), TODAY)
        assert organization_ids(connection, OrganizationQuery(search="Client_0"), TODAY) == []
        assert len(organization_ids(connection, OrganizationQuery(search="client\x00 0"),
                                    TODAY)) == 3
