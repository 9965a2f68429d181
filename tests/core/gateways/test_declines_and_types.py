"""Plain-language reasons and how results read to a person."""

from __future__ import annotations

import pytest

from app.core.gateways import (
    ChargeStatus,
    GatewayMode,
    MethodType,
    SavedMethod,
    decline_reason,
)
from app.core.gateways.errors import GatewayError, NetworkUnknownOutcome, RateLimited
from app.core.gateways.types import readable_bank_name


@pytest.mark.parametrize(
    ("code", "decline_code", "expected"),
    [
        ("card_declined", "insufficient_funds",
         "The card was declined for insufficient funds. Ask the client for another card or "
         "payment method."),
        ("card_declined", "lost_card", "reported lost"),
        ("card_declined", "stolen_card", "reported stolen"),
        ("expired_card", None, "The card has expired."),
        ("incorrect_cvc", None, "security code (CVC) did not match"),
        ("processing_error", None, "Nothing was charged; try again in a few minutes."),
        ("card_declined", "something_new", "The client can call their bank"),
        (None, None, "The payment was declined."),
    ],
)
def test_card_declines_read_as_advice(code: str | None, decline_code: str | None,
                                      expected: str) -> None:
    assert expected in decline_reason(code, decline_code)


def test_bank_wording_differs_for_bank_debits() -> None:
    assert "bank debit failed" in decline_reason("insufficient_funds", bank=True)
    assert "card was declined" in decline_reason("insufficient_funds")
    assert "bank debit failed" in decline_reason("R99", bank=True)


def test_no_reason_mentions_codes_or_http() -> None:
    for code in ("insufficient_funds", "lost_card", "expired_card", "processing_error",
                 "authentication_required", "account_closed"):
        reason = decline_reason(code)
        assert "_" not in reason and "HTTP" not in reason and reason.endswith(".")


@pytest.mark.parametrize(("reported", "shown"), [
    ("STRIPE TEST BANK", "Stripe Test Bank"),
    ("BANK OF AMERICA, N.A.", "Bank of America, N.A."),
    ("TD BANK", "TD Bank"),
    ("PNC BANK", "PNC Bank"),
    ("M&T BANK", "M&T Bank"),
    ("JPMORGAN CHASE BANK, NA", "JPMorgan Chase Bank, NA"),
    ("PEOPLE'S UNITED BANK", "People's United Bank"),
    ("WINSTON-SALEM FCU", "Winston-Salem FCU"),
    ("THE BANCORP BANK", "The Bancorp Bank"),
    ("Chase", "Chase"),  # a name not in capitals is kept as the bank wrote it
    ("", ""),
])
def test_bank_names_in_capitals_read_as_written_names(reported: str, shown: str) -> None:
    assert readable_bank_name(reported) == shown
    if reported:
        bank = SavedMethod("pm_2", MethodType.US_BANK_ACCOUNT, reported, "6789")
        assert bank.summary == f"{shown} •••• 6789"


def test_saved_method_summaries() -> None:
    card = SavedMethod("pm_1", MethodType.CARD, "visa", "4242", 8, 2030)
    assert card.summary == "Visa •••• 4242"
    assert card.expiry == "08/2030"
    assert card.is_expired(2030, 9) and not card.is_expired(2030, 8)
    bank = SavedMethod("pm_2", MethodType.US_BANK_ACCOUNT, "STRIPE TEST BANK", "6789")
    assert bank.summary == "Stripe Test Bank •••• 6789"
    assert bank.expiry == "" and not bank.is_expired(2099, 1)
    unknown = SavedMethod("pm_3", MethodType.CARD, "cartes_bancaires", "1234")
    assert unknown.summary == "Cartes_Bancaires •••• 1234"


def test_final_states_and_modes() -> None:
    assert ChargeStatus.SUCCEEDED.is_final and ChargeStatus.DECLINED.is_final
    assert not ChargeStatus.PROCESSING.is_final
    assert not ChargeStatus.REQUIRES_ACTION.is_final
    assert "no real money" in GatewayMode.TEST.label


def test_error_flags_tell_the_pipeline_what_to_do() -> None:
    lost = NetworkUnknownOutcome("lost")
    assert lost.outcome_unknown and lost.retryable
    busy = RateLimited("slow down", retry_after=2.0)
    assert busy.retryable and not busy.outcome_unknown and busy.retry_after == 2.0
    assert isinstance(busy, GatewayError)
    assert repr(busy) == "RateLimited('slow down', code=None)"
