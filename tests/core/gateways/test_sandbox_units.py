"""The sandbox's own pieces that need no server: Stripe's form encoding, card checks."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest

from app.sandbox.gateway.cards import card_brand, luhn_valid, routing_number_valid
from app.sandbox.gateway.checkout import FormProblem, read_bank_form, read_card_form
from app.sandbox.gateway.forms import FormError, decode_form


def test_bracket_notation_decodes_to_nested_objects_and_lists() -> None:
    body = urlencode([
        ("amount", "1045"), ("metadata[invoice]", "1045"), ("metadata[org]", "7"),
        ("expand[0]", "latest_charge"), ("expand[1]", "payment_method"),
        ("line_items[0][price_data][unit_amount]", "500"), ("line_items[0][quantity]", "1"),
        ("payment_method_types[]", "card"), ("payment_method_types[]", "us_bank_account"),
    ])
    assert decode_form(body) == {
        "amount": "1045",
        "metadata": {"invoice": "1045", "org": "7"},
        "expand": ["latest_charge", "payment_method"],
        "line_items": [{"price_data": {"unit_amount": "500"}, "quantity": "1"}],
        "payment_method_types": ["card", "us_bank_account"],
    }


def test_conflicting_names_are_refused() -> None:
    with pytest.raises(FormError):
        decode_form("metadata=1&metadata[a]=2")
    with pytest.raises(FormError):
        decode_form("a]b=1")


def test_card_checks() -> None:
    assert luhn_valid("4242424242424242") and not luhn_valid("4242424242424241")
    assert card_brand("5555555555554444") == "mastercard"
    assert card_brand("2223003122003222") == "mastercard"
    assert card_brand("378282246310005") == "amex"
    assert card_brand("6011111111111117") == "discover"
    assert routing_number_valid("110000000") and not routing_number_valid("110000001")


TODAY = datetime(2026, 11, 26, tzinfo=UTC)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"card_number": ""}, "card_number", "incomplete"),
        ({"card_number": "4242 4242 4242 4241"}, "card_number", "incorrect"),
        ({"card_expiry": "13/30"}, "card_expiry", "invalid"),
        ({"card_expiry": "10/26"}, "card_expiry", "in the past"),
        ({"card_expiry": "1"}, "card_expiry", "incomplete"),
        ({"card_cvc": "12"}, "card_cvc", "security code"),
        ({"postal_code": " "}, "postal_code", "postal code"),
    ],
)
def test_card_form_problems(changes: dict[str, str], field: str, words: str) -> None:
    form = {"card_number": "4242 4242 4242 4242", "card_expiry": "11 / 26", "card_cvc": "123",
            "postal_code": "10001", **changes}
    with pytest.raises(FormProblem) as caught:
        read_card_form(form, today=TODAY)
    assert caught.value.field == field and words in caught.value.message


def test_card_form_keeps_only_what_may_be_kept() -> None:
    details = read_card_form({"card_number": "3782 822463 10005", "card_expiry": "0428",
                              "card_cvc": "1234", "postal_code": "SW1A 1AA"}, today=TODAY)
    assert (details.brand, details.last4, details.exp_month, details.exp_year) == (
        "amex", "0005", 4, 2028)
    assert "378282246310005" not in repr(details) and "1234" not in repr(details)


def test_bank_form_keeps_only_routing_last4_and_holder() -> None:
    details = read_bank_form({
        "account_holder_name": "Acme Dental LLC", "routing_number": "110000000",
        "account_number": "000123456789", "account_number_confirm": "000123456789",
        "account_holder_type": "company", "account_type": "savings", "mandate": "accepted",
    })
    assert (details.last4, details.account_type) == ("6789", "savings")
    assert "000123456789" not in repr(details)
    with pytest.raises(FormProblem) as caught:
        read_bank_form({"account_holder_name": "A", "routing_number": "110000000",
                        "account_number": "000123456789", "account_number_confirm": "1",
                        "account_holder_type": "company", "account_type": "checking",
                        "mandate": "accepted"})
    assert caught.value.field == "account_number_confirm"
