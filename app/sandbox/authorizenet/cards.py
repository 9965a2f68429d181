"""Authorize.Net's sandbox test numbers and triggers, as its testing guide lists them.

* Test card numbers (any future expiry, any card code): Visa ``4111111111111111``,
  ``4007000000027``, ``4012888818888``; Mastercard ``5424000000000015``,
  ``2223000010309703``; American Express ``370000000000002``; Discover ``6011000000000012``;
  JCB ``3088000000000017``; Diners Club ``38000000000006``.
* ``4222222222222`` answers with the response reason code equal to the amount in whole
  dollars (``$27.00`` → reason 27, AVS mismatch) — how a developer tests one specific reason.
* Billing zip ``46282`` is declined (reason 2); zip ``46205`` gives AVS result ``N``
  (no match), declined by the AVS filter (reason 27).
* Card code ``901`` gives card-code result ``N`` (no match), declined (reason 44).
* eCheck: any ABA routing number with a valid checksum (``121042882``, ``110000000``) and an
  account number of 5–17 digits.

Any other card number is refused as the sandbox refuses real cards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

__all__ = [
    "AMOUNT_TRIGGER_CARD",
    "TEST_CARDS",
    "Trigger",
    "bank_name",
    "charge_trigger",
    "luhn_valid",
    "routing_number_valid",
]

TEST_CARDS: dict[str, str] = {
    "4111111111111111": "Visa",
    "4007000000027": "Visa",
    "4012888818888": "Visa",
    "4222222222222": "Visa",
    "5424000000000015": "MasterCard",
    "2223000010309703": "MasterCard",
    "370000000000002": "AmericanExpress",
    "6011000000000012": "Discover",
    "3088000000000017": "JCB",
    "38000000000006": "DinersClub",
}

AMOUNT_TRIGGER_CARD = "4222222222222"
DECLINE_ZIP = "46282"
AVS_NO_MATCH_ZIP = "46205"
CVV_NO_MATCH = "901"

#: Reason codes the stand-in answers, with Authorize.Net's texts and response codes.
REASONS: dict[int, tuple[int, str]] = {
    1: (1, "This transaction has been approved."),
    2: (2, "This transaction has been declined."),
    3: (2, "This transaction has been declined."),
    4: (2, "This transaction has been declined."),
    5: (3, "A valid amount is required."),
    6: (3, "The credit card number is invalid."),
    7: (3, "Credit card expiration date is invalid."),
    8: (3, "The credit card has expired."),
    11: (3, "A duplicate transaction has been submitted."),
    16: (3, "The transaction cannot be found."),
    17: (3, "The merchant does not accept this type of credit card."),
    19: (3, "An error occurred during processing. Please try again in 5 minutes."),
    27: (2, "The transaction has been declined because of an AVS mismatch. The address "
            "provided does not match billing address of cardholder."),
    33: (3, "Credit card number is required."),
    37: (3, "The credit card number is invalid."),
    44: (2, "This transaction has been declined."),
    45: (2, "This transaction has been declined."),
    54: (3, "The referenced transaction does not meet the criteria for issuing a credit."),
    55: (3, "The sum of credits against the referenced transaction would exceed original "
            "debit amount."),
    57: (3, "An error occurred in processing. Please try again in 5 minutes."),
    65: (2, "This transaction has been declined."),
    78: (3, "The Card Code (CVV2/CVC2/CID) is invalid."),
    250: (2, "This transaction has been declined."),
    252: (4, "Your order has been received. Thank you for your business!"),
    310: (1, "This transaction has already been voided."),
}

_AVS_FOR_REASON = {27: "N", 45: "N"}
_CVV_FOR_REASON = {44: "N", 45: "N", 65: "N"}


@dataclass(frozen=True, slots=True)
class Trigger:
    """How a charge ends: response code, reason code and text, AVS and card-code results."""

    response_code: int
    reason: int
    text: str
    avs: str = "Y"
    cvv: str = "M"


def _trigger(reason: int) -> Trigger:
    response_code, text = REASONS[reason]
    return Trigger(response_code, reason, text, _AVS_FOR_REASON.get(reason, "Y"),
                   _CVV_FOR_REASON.get(reason, "M"))


def charge_trigger(*, card_number: str | None, amount: Decimal, zip_code: str | None,
                   card_code: str | None) -> Trigger:
    """The outcome of charging a test card (``card_number`` None: a bank account)."""
    if card_number == AMOUNT_TRIGGER_CARD and amount == amount.to_integral_value():
        reason = int(amount)
        if reason in REASONS and reason not in (11, 16, 54, 55, 310):
            return _trigger(reason)
    if zip_code == DECLINE_ZIP:
        return _trigger(2)
    if zip_code == AVS_NO_MATCH_ZIP:
        return _trigger(27)
    if card_code == CVV_NO_MATCH:
        return _trigger(44)
    return _trigger(1)


def luhn_valid(number: str) -> bool:
    if not number.isdigit() or not 13 <= len(number) <= 19:
        return False
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def routing_number_valid(routing: str) -> bool:
    """ABA routing numbers: nine digits with a 3-7-1 weighted checksum."""
    if not re.fullmatch(r"\d{9}", routing):
        return False
    d = [int(c) for c in routing]
    checksum = 3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5] + d[8])
    return checksum % 10 == 0


_BANKS = {"121042882": "WELLS FARGO BANK NA", "110000000": "SANDBOX TEST BANK"}


def bank_name(routing: str) -> str:
    return _BANKS.get(routing, "SANDBOX TEST BANK")
