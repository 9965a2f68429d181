"""The payment method names chosen in Settings › Posting for QuickBooks Desktop, over the Web
Connector's HTTP SOAP against the company file: the ReceivePaymentAdd names the chosen method
for card and bank payments, none by default (as before), and a name QuickBooks does not have
fails the posting for a person with what to do. Each update reads the company file's Payment
Method list for Settings › Posting. Stored as an audited shared setting."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from app.core.config import get_setting, last_setting_change
from app.core.quickbooks.payment_methods import (
    DESKTOP_SETTING,
    DesktopMethods,
    load_desktop_method_list,
    load_desktop_methods,
    save_desktop_methods,
)
from tests.integration.quickbooks_desktop.support import Desk, open_desk


@pytest.fixture
def desk(engine: Engine) -> Iterator[Desk]:
    with open_desk(engine) as desk:
        yield desk


def test_an_update_reads_the_payment_method_list(desk: Desk) -> None:
    assert load_desktop_method_list(desk.engine) is None
    desk.company.payment_methods.append("Zelle")
    result = desk.connector().update()
    assert result.percents[-1] == 100
    listed = load_desktop_method_list(desk.engine)
    assert listed is not None
    assert listed.names == ("American Express", "Cash", "Check", "Discover", "E-Check",
                            "MasterCard", "Visa", "Zelle")
    # An empty list (QuickBooks' "no match") is kept as empty, and the update goes on.
    desk.company.payment_methods.clear()
    assert desk.connector().update().percents[-1] == 100
    emptied = load_desktop_method_list(desk.engine)
    assert emptied is not None and emptied.names == ()


def test_the_receive_payment_names_the_chosen_method(desk: Desk) -> None:
    desk.connector().update()
    save_desktop_methods(desk.engine, DesktopMethods(card="Visa", bank="E-Check"), actor="ann")
    (a,) = desk.open_invoices(1)
    (b,) = [i for i in desk.open_invoices(3) if i.id != a.id][:1]
    card = desk.pay([(a, 300)])
    bank = desk.pay([(b, 400)], method_type="us_bank_account")
    desk.connector().update()
    # The company file keeps the PaymentMethodRef/FullName each ReceivePaymentAdd carried.
    assert [p.state for p in desk.postings()] == ["delivered", "delivered"]
    assert desk.company.payments_with_ref(card.reference)[0]["PaymentMethod"] == "Visa"
    assert desk.company.payments_with_ref(bank.reference)[0]["PaymentMethod"] == "E-Check"


def test_by_default_no_method_is_named(desk: Desk) -> None:
    desk.connector().update()
    (a,) = desk.open_invoices(1)
    paid = desk.pay([(a, 300)])
    desk.connector().update()
    assert [p.state for p in desk.postings()] == ["delivered"]
    assert desk.company.payments_with_ref(paid.reference)[0]["PaymentMethod"] is None


def test_a_name_quickbooks_does_not_have_needs_a_person(desk: Desk) -> None:
    desk.connector().update()
    save_desktop_methods(desk.engine, DesktopMethods(card="Credit Crad"), actor="ann")
    (a,) = desk.open_invoices(1)
    paid = desk.pay([(a, 300)])
    desk.connector().update()
    (posting,) = desk.postings()
    assert posting.state == "failed"
    assert "Payment Method list" in (posting.last_error or "")
    assert "Settings › Posting" in (posting.last_error or "")
    assert desk.company.payments_with_ref(paid.reference) == []


def test_the_names_are_an_audited_shared_setting(engine: Engine) -> None:
    assert load_desktop_methods(engine) == DesktopMethods()
    save_desktop_methods(engine, DesktopMethods(card="  Visa ", bank=""), actor="ann")
    assert get_setting(engine, DESKTOP_SETTING) == {"card": "Visa", "bank": ""}
    assert load_desktop_methods(engine) == DesktopMethods(card="Visa")
    with pytest.raises(ValueError, match="at most 31"):
        save_desktop_methods(engine, DesktopMethods(card="x" * 32), actor="ann")
    assert last_setting_change(engine, [DESKTOP_SETTING]) is not None
