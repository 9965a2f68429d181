"""Authorize.Net's response reason codes, mapped onto the codes the Stripe adapter reports.

A charge's ``transactionResponse`` carries a response code (1 approved, 2 declined, 3 error,
4 held for review) and a reason code. The reason codes that mean "the card or account was
refused" become a declined :class:`~app.core.gateways.types.ChargeResult` with the same
``code``/``decline_code`` names Stripe uses, so the bookkeeper reads the same sentence
(:func:`app.core.gateways.declines.decline_reason`) whichever gateway refused.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DUPLICATE",
    "ReasonKind",
    "classify",
]

DUPLICATE = 11


@dataclass(frozen=True, slots=True)
class ReasonKind:
    """What a reason code means for PayDesk.

    ``kind``: ``decline`` (the card or bank refused; nothing moved), ``duplicate`` (an
    identical transaction is already inside the duplicate window), ``invalid`` (PayDesk's
    request cannot succeed as sent), ``auth`` (the credentials), ``retry`` (a processing
    error at the gateway or bank; nothing moved, try again later).
    """

    kind: str
    code: str
    decline_code: str | None = None


_DECLINE = ReasonKind("decline", "card_declined", "generic_decline")

_REASONS: dict[int, ReasonKind] = {
    2: _DECLINE,
    3: ReasonKind("decline", "card_declined", "call_issuer"),
    4: ReasonKind("decline", "card_declined", "pickup_card"),
    5: ReasonKind("invalid", "invalid_amount"),
    6: ReasonKind("decline", "incorrect_number"),
    7: ReasonKind("decline", "invalid_expiry_year"),
    8: ReasonKind("decline", "expired_card"),
    9: ReasonKind("decline", "no_account", "invalid_routing_number"),
    10: ReasonKind("decline", "no_account"),
    11: ReasonKind("duplicate", "duplicate_transaction"),
    13: ReasonKind("auth", "invalid_login"),
    16: ReasonKind("invalid", "transaction_not_found"),
    17: ReasonKind("decline", "card_not_supported"),
    19: ReasonKind("retry", "processing_error"),
    20: ReasonKind("retry", "processing_error"),
    21: ReasonKind("retry", "processing_error"),
    22: ReasonKind("retry", "processing_error"),
    23: ReasonKind("retry", "processing_error"),
    25: ReasonKind("retry", "processing_error"),
    26: ReasonKind("retry", "processing_error"),
    27: ReasonKind("decline", "card_declined", "incorrect_zip"),
    28: ReasonKind("decline", "card_not_supported"),
    33: ReasonKind("invalid", "parameter_missing"),
    35: ReasonKind("retry", "processing_error"),
    36: ReasonKind("retry", "processing_error"),
    37: ReasonKind("decline", "incorrect_number"),
    44: ReasonKind("decline", "card_declined", "incorrect_cvc"),
    45: ReasonKind("decline", "card_declined", "incorrect_cvc"),
    54: ReasonKind("invalid", "refund_not_allowed"),
    55: ReasonKind("invalid", "refund_exceeds_charge"),
    57: ReasonKind("retry", "processing_error"),
    58: ReasonKind("retry", "processing_error"),
    59: ReasonKind("retry", "processing_error"),
    60: ReasonKind("retry", "processing_error"),
    61: ReasonKind("retry", "processing_error"),
    62: ReasonKind("retry", "processing_error"),
    63: ReasonKind("retry", "processing_error"),
    65: ReasonKind("decline", "card_declined", "incorrect_cvc"),
    78: ReasonKind("decline", "invalid_cvc"),
    120: ReasonKind("retry", "processing_error"),
    121: ReasonKind("retry", "processing_error"),
    122: ReasonKind("retry", "processing_error"),
    127: ReasonKind("decline", "card_declined", "incorrect_zip"),
    128: ReasonKind("decline", "card_declined", "generic_decline"),
    165: ReasonKind("decline", "card_declined", "incorrect_cvc"),
    180: ReasonKind("retry", "processing_error"),
    181: ReasonKind("retry", "processing_error"),
    250: ReasonKind("decline", "card_declined", "fraudulent"),
    251: ReasonKind("decline", "card_declined", "fraudulent"),
    254: ReasonKind("decline", "card_declined", "fraudulent"),
    315: ReasonKind("decline", "incorrect_number"),
    316: ReasonKind("decline", "invalid_expiry_year"),
    317: ReasonKind("decline", "expired_card"),
}


def classify(response_code: int, reason: int) -> ReasonKind:
    """The meaning of a transaction's response and reason code (response code 2 is always a
    decline; an unknown reason with response code 3 is an error in the request)."""
    known = _REASONS.get(reason)
    if known is not None:
        return known
    if response_code == 2:
        return _DECLINE
    return ReasonKind("invalid", f"reason_{reason}")
