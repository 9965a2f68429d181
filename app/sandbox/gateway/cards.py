"""Stripe's documented test cards, test PaymentMethods and test bank accounts.

The sandbox behaves the way Stripe's test mode does for these numbers, so a person
trying the hosted page (and the tests) see the same outcomes they would see at Stripe.
A card's number is looked up here once, when the form is submitted, and then forgotten:
the sandbox keeps only brand, last 4, expiry and the outcome the number stands for.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BANK_ACCOUNTS",
    "TEST_CARDS",
    "TEST_PAYMENT_METHODS",
    "BankOutcome",
    "CardOutcome",
    "bank_outcome",
    "card_brand",
    "card_outcome",
    "luhn_valid",
    "routing_number_valid",
]


@dataclass(frozen=True, slots=True)
class CardOutcome:
    """What happens with a card.

    ``on_save`` is the error raised when the card is added (most decline cards are refused
    at once, as Stripe does); ``on_charge`` is the error raised when a saved card is charged
    (cards that attach fine and then fail). Each is ``None`` or
    ``(code, decline_code, message)``. ``authentication`` marks cards that need 3-D Secure.
    """

    brand: str
    funding: str = "credit"
    on_save: tuple[str, str | None, str] | None = None
    on_charge: tuple[str, str | None, str] | None = None
    authentication: bool = False


_DECLINED = ("card_declined", "generic_decline", "Your card was declined.")
_INSUFFICIENT = ("card_declined", "insufficient_funds", "Your card has insufficient funds.")
_LOST = ("card_declined", "lost_card", "Your card was declined.")
_STOLEN = ("card_declined", "stolen_card", "Your card was declined.")
_EXPIRED = ("expired_card", "expired_card", "Your card has expired.")
_CVC = ("incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect.")
_PROCESSING = (
    "processing_error",
    "processing_error",
    "An error occurred while processing your card. Try again in a little bit.",
)

#: Card numbers from Stripe's testing documentation and what they do.
TEST_CARDS: dict[str, CardOutcome] = {
    "4242424242424242": CardOutcome("visa"),
    "4000056655665556": CardOutcome("visa", funding="debit"),
    "5555555555554444": CardOutcome("mastercard"),
    "2223003122003222": CardOutcome("mastercard"),
    "5200828282828210": CardOutcome("mastercard", funding="debit"),
    "378282246310005": CardOutcome("amex"),
    "6011111111111117": CardOutcome("discover"),
    "4000000000000002": CardOutcome("visa", on_save=_DECLINED),
    "4000000000009995": CardOutcome("visa", on_save=_INSUFFICIENT),
    "4000000000009987": CardOutcome("visa", on_save=_LOST),
    "4000000000009979": CardOutcome("visa", on_save=_STOLEN),
    "4000000000000069": CardOutcome("visa", on_save=_EXPIRED),
    "4000000000000127": CardOutcome("visa", on_save=_CVC),
    "4000000000000119": CardOutcome("visa", on_save=_PROCESSING),
    # Attaches to a customer fine; every later charge is declined.
    "4000000000000341": CardOutcome("visa", on_charge=_DECLINED),
    # Needs the cardholder's confirmation (3-D Secure) for every payment.
    "4000002760003184": CardOutcome("visa", authentication=True),
}

#: Stripe's ready-made test PaymentMethods (``pm_card_visa`` …): (card number, last 4, outcome).
TEST_PAYMENT_METHODS: dict[str, tuple[str, CardOutcome]] = {
    "pm_card_visa": ("4242", TEST_CARDS["4242424242424242"]),
    "pm_card_visa_debit": ("5556", TEST_CARDS["4000056655665556"]),
    "pm_card_mastercard": ("4444", TEST_CARDS["5555555555554444"]),
    "pm_card_amex": ("0005", TEST_CARDS["378282246310005"]),
    "pm_card_discover": ("1117", TEST_CARDS["6011111111111117"]),
    "pm_card_chargeDeclined": ("0002", CardOutcome("visa", on_charge=_DECLINED)),
    "pm_card_chargeDeclinedInsufficientFunds": (
        "9995",
        CardOutcome("visa", on_charge=_INSUFFICIENT),
    ),
    "pm_card_chargeDeclinedLostCard": ("9987", CardOutcome("visa", on_charge=_LOST)),
    "pm_card_chargeDeclinedStolenCard": ("9979", CardOutcome("visa", on_charge=_STOLEN)),
    "pm_card_chargeDeclinedExpiredCard": ("0069", CardOutcome("visa", on_charge=_EXPIRED)),
    "pm_card_chargeDeclinedIncorrectCvc": ("0127", CardOutcome("visa", on_charge=_CVC)),
    "pm_card_chargeDeclinedProcessingError": (
        "0119",
        CardOutcome("visa", on_charge=_PROCESSING),
    ),
    "pm_card_chargeCustomerFail": ("0341", CardOutcome("visa", on_charge=_DECLINED)),
    "pm_card_authenticationRequired": ("3184", CardOutcome("visa", authentication=True)),
}


def luhn_valid(number: str) -> bool:
    if not number.isdigit() or not 12 <= len(number) <= 19:
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


def card_brand(number: str) -> str:
    """The brand a card number belongs to, from its leading digits."""
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"34", "37"}:
        return "amex"
    if number[:2] in {"51", "52", "53", "54", "55"} or 2221 <= int(number[:4] or 0) <= 2720:
        return "mastercard"
    if number.startswith("6011") or number.startswith("65"):
        return "discover"
    if number[:2] in {"36", "38"} or number[:3] in {"300", "301", "302", "303", "304", "305"}:
        return "diners"
    if 3528 <= int(number[:4] or 0) <= 3589:
        return "jcb"
    return "unknown"


def card_outcome(number: str) -> CardOutcome:
    """The outcome of a card number typed into the hosted page.

    Numbers that are not Stripe test cards are refused, as Stripe's test mode refuses real
    cards.
    """
    known = TEST_CARDS.get(number)
    if known is not None:
        return known
    return CardOutcome(
        card_brand(number),
        on_save=(
            "card_declined",
            "test_mode_live_card",
            "Your card was declined. Your request was in test mode, but used a non test card.",
        ),
    )


@dataclass(frozen=True, slots=True)
class BankOutcome:
    """How a debit from a test bank account ends: ``failure`` is ``(code, message)``."""

    failure: tuple[str, str] | None = None


#: Stripe's test bank account numbers (routing number 110000000).
BANK_ACCOUNTS: dict[str, BankOutcome] = {
    "000123456789": BankOutcome(),
    "000111111113": BankOutcome(("account_closed", "The customer's bank account has been closed.")),
    "000111111116": BankOutcome(
        ("no_account", "The customer's bank account could not be located.")
    ),
    "000222222227": BankOutcome(
        (
            "insufficient_funds",
            "The customer's account has insufficient funds to cover this payment.",
        )
    ),
    "000333333335": BankOutcome(
        (
            "debit_not_authorized",
            "The customer has notified their bank that this payment was unauthorized.",
        )
    ),
    "000444444440": BankOutcome(
        ("invalid_currency", "The bank account does not support payments in this currency.")
    ),
}

#: Bank names for routing numbers the sandbox knows.
BANK_NAMES: dict[str, str] = {"110000000": "STRIPE TEST BANK"}


def bank_outcome(account_number: str) -> BankOutcome:
    """Test accounts end as documented; any other well-formed account succeeds."""
    return BANK_ACCOUNTS.get(account_number, BankOutcome())


def routing_number_valid(routing: str) -> bool:
    """ABA routing numbers: nine digits with a 3-7-1 weighted checksum."""
    if len(routing) != 9 or not routing.isdigit():
        return False
    d = [int(c) for c in routing]
    checksum = 3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5] + d[8])
    return checksum % 10 == 0
