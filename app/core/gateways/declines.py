"""Decline and error codes turned into sentences a bookkeeper can act on.

Card networks and banks report refusals with terse codes (``insufficient_funds``,
``R01``). A bookkeeper needs to know what happened and what to do: usually "ask the client
for another card". The codes follow Stripe's names, which Authorize.Net's adapter maps onto.
"""

from __future__ import annotations

__all__ = ["decline_reason"]

_ANOTHER_CARD = "Ask the client for another card or payment method."

_REASONS: dict[str, str] = {
    # Card issuer refusals (decline_code, or code when there is no decline_code).
    "insufficient_funds": f"The card was declined for insufficient funds. {_ANOTHER_CARD}",
    "generic_decline": (
        "The card was declined by the client's bank without a reason. "
        f"The client can call their bank, or {_ANOTHER_CARD[0].lower()}{_ANOTHER_CARD[1:]}"
    ),
    "card_declined": (
        "The card was declined by the client's bank. "
        f"The client can call their bank, or {_ANOTHER_CARD[0].lower()}{_ANOTHER_CARD[1:]}"
    ),
    "do_not_honor": (
        "The card was declined by the client's bank. "
        f"The client can call their bank, or {_ANOTHER_CARD[0].lower()}{_ANOTHER_CARD[1:]}"
    ),
    "lost_card": (
        "The card was declined: it has been reported lost. Do not try it again; "
        "ask the client for another card."
    ),
    "stolen_card": (
        "The card was declined: it has been reported stolen. Do not try it again; "
        "ask the client for another card."
    ),
    "expired_card": f"The card has expired. {_ANOTHER_CARD}",
    "incorrect_cvc": (
        "The card's security code (CVC) did not match. "
        "Ask the client to add the card again on the secure payment page."
    ),
    "invalid_cvc": (
        "The card's security code (CVC) is not valid. "
        "Ask the client to add the card again on the secure payment page."
    ),
    "processing_error": (
        "The card could not be charged because of a processing error at the bank. "
        "Nothing was charged; try again in a few minutes."
    ),
    "incorrect_number": (
        "The card number is incorrect. Ask the client to add the card again on the secure "
        "payment page."
    ),
    "invalid_number": (
        "The card number is not valid. Ask the client to add the card again on the secure "
        "payment page."
    ),
    "incorrect_zip": (
        "The card was declined because the billing ZIP code or address did not match the "
        "card. Ask the client to add the card again on the secure payment page with the "
        "billing address their bank has."
    ),
    "invalid_expiry_month": "The card's expiry month is not valid. Check it with the client.",
    "invalid_expiry_year": "The card's expiry year is not valid. Check it with the client.",
    "card_velocity_exceeded": (
        "The card was declined because it has been used too often or for too much recently. "
        f"{_ANOTHER_CARD}"
    ),
    "fraudulent": (
        "The payment was declined as possibly fraudulent. Do not try this card again; "
        "contact the client another way."
    ),
    "pickup_card": (
        "The card was declined and the bank asks for it to be withdrawn. "
        "Ask the client for another card."
    ),
    "restricted_card": f"The card cannot be used for this payment. {_ANOTHER_CARD}",
    "card_not_supported": f"The card does not support this kind of payment. {_ANOTHER_CARD}",
    "currency_not_supported": (
        f"The card cannot be charged in this currency. {_ANOTHER_CARD}"
    ),
    "authentication_required": (
        "The client's bank wants the cardholder to confirm this payment themselves. "
        "Send the client a payment link, or ask for another card."
    ),
    "approve_with_id": "The bank could not approve the payment yet. Try again in a few minutes.",
    "try_again_later": "The bank could not approve the payment yet. Try again in a few minutes.",
    "issuer_not_available": (
        "The client's bank could not be reached. Nothing was charged; try again in a few minutes."
    ),
    # Bank debit (ACH) failures, by Stripe failure code and NACHA return code.
    "insufficient_funds_ach": (
        "The bank debit failed: the account did not have enough money. Ask the client how "
        "they would like to pay instead."
    ),
    "account_closed": (
        "The bank debit failed: the bank account is closed. Ask the client for another "
        "account or card."
    ),
    "no_account": (
        "The bank debit failed: the bank could not find the account. Ask the client to check "
        "the account details and add it again."
    ),
    "debit_not_authorized": (
        "The bank debit was returned: the account holder told their bank they did not "
        "authorise it. Talk to the client before trying again."
    ),
    "invalid_currency": "The bank account cannot be debited in this currency.",
    "R01": (
        "The bank debit failed: the account did not have enough money. Ask the client how "
        "they would like to pay instead."
    ),
    "R02": (
        "The bank debit failed: the bank account is closed. Ask the client for another "
        "account or card."
    ),
    "R03": (
        "The bank debit failed: the bank could not find the account. Ask the client to check "
        "the account details and add it again."
    ),
    "R10": (
        "The bank debit was returned: the account holder told their bank they did not "
        "authorise it. Talk to the client before trying again."
    ),
    # Other refusals a charge can meet.
    "payment_method_unactivated": (
        "This payment method is not ready to be charged yet. Ask the client to complete it."
    ),
    "payment_intent_authentication_failure": (
        "The cardholder did not confirm the payment. Ask the client for another card."
    ),
}

_FALLBACK = (
    "The payment was declined. The client can call their bank, or "
    f"{_ANOTHER_CARD[0].lower()}{_ANOTHER_CARD[1:]}"
)


def decline_reason(code: str | None, decline_code: str | None = None, *, bank: bool = False) -> str:
    """The plain-language reason for a refusal.

    ``decline_code`` (the issuer's finer reason) wins over ``code``; ``bank`` picks the
    wording for bank debits where the same code reads differently (insufficient funds).
    """
    for candidate in (decline_code, code):
        if not candidate:
            continue
        if bank and f"{candidate}_ach" in _REASONS:
            return _REASONS[f"{candidate}_ach"]
        if candidate in _REASONS:
            return _REASONS[candidate]
    if bank:
        return (
            "The bank debit failed. Ask the client to check with their bank, or to pay "
            "another way."
        )
    return _FALLBACK
