"""Plain, frozen results that every payment gateway returns.

These are what the payment pipeline, the GUI and the database layer see of a gateway; no
gateway SDK object ever leaves an adapter. Amounts are :class:`~app.core.money.Money`
(integer minor units), instants are aware UTC datetimes, and nothing here can hold a card
number, CVC, bank account number or secret key — only tokens and what a person needs to
recognise a method (brand, last 4, expiry).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from app.core.money import Money

__all__ = [
    "METADATA_IDEMPOTENCY_KEY",
    "METADATA_ORGANIZATION",
    "METADATA_REFERENCE",
    "ChargeResult",
    "ChargeStatus",
    "Decline",
    "GatewayAccountInfo",
    "GatewayMode",
    "HostedMode",
    "HostedSession",
    "HostedSessionState",
    "HostedSessionStatus",
    "MethodType",
    "RefundResult",
    "RefundStatus",
    "SavedMethod",
]

#: Metadata keys PayDesk writes on every gateway object it creates, so that a charge can be
#: found again after a lost response, and an organization's customer after a lost mapping.
METADATA_REFERENCE = "paydesk_reference"
METADATA_IDEMPOTENCY_KEY = "paydesk_idempotency_key"
METADATA_ORGANIZATION = "paydesk_organization_id"


class GatewayMode(StrEnum):
    """Whether real money moves. Decided by the gateway credentials, never by a setting."""

    TEST = "test"
    LIVE = "live"

    @property
    def label(self) -> str:
        return "Test mode — no real money moves" if self is GatewayMode.TEST else "Live"


class MethodType(StrEnum):
    CARD = "card"
    US_BANK_ACCOUNT = "us_bank_account"


class ChargeStatus(StrEnum):
    """How a charge stands.

    * ``SUCCEEDED`` — the money is taken.
    * ``PROCESSING`` — accepted, the result comes later (bank debits: up to ~4 business
      days). Follow up with :meth:`PaymentGateway.refresh_charge`.
    * ``REQUIRES_ACTION`` — the cardholder must confirm the payment (e.g. 3-D Secure); the
      bookkeeper cannot finish it alone.
    * ``DECLINED`` — refused; :attr:`ChargeResult.decline` says why, in plain words.
    * ``CANCELED`` — voided before it settled.
    """

    SUCCEEDED = "succeeded"
    PROCESSING = "processing"
    REQUIRES_ACTION = "requires_action"
    DECLINED = "declined"
    CANCELED = "canceled"

    @property
    def is_final(self) -> bool:
        return self in (ChargeStatus.SUCCEEDED, ChargeStatus.DECLINED, ChargeStatus.CANCELED)


@dataclass(frozen=True, slots=True)
class Decline:
    """Why a gateway refused a payment.

    ``code`` and ``decline_code`` are the gateway's own (``card_declined`` /
    ``insufficient_funds``) for records and support; ``reason`` is the sentence to show a
    bookkeeper: what happened and what to do next.
    """

    code: str
    decline_code: str | None
    reason: str
    gateway_message: str = ""


@dataclass(frozen=True, slots=True)
class SavedMethod:
    """A saved card or bank account as the gateway reports it.

    ``token`` is the gateway's id for the method (Stripe ``pm_…``); it is what is charged.
    ``brand`` is the card brand (``visa``) or, for a bank account, the bank's name.
    """

    token: str
    method_type: MethodType
    brand: str | None
    last4: str | None
    exp_month: int | None = None
    exp_year: int | None = None
    funding: str | None = None  # credit | debit | prepaid | unknown (cards only)
    holder_name: str | None = None
    is_default: bool = False

    @property
    def summary(self) -> str:
        """``Visa •••• 4242`` / ``Stripe Test Bank •••• 6789`` — for lists and receipts."""
        if self.method_type is MethodType.CARD:
            name = _CARD_BRAND_NAMES.get((self.brand or "").lower(), (self.brand or "Card").title())
        else:
            name = readable_bank_name(self.brand or "") or "Bank account"
        return f"{name} •••• {self.last4}" if self.last4 else name

    @property
    def expiry(self) -> str:
        """``08/2030`` for cards; empty for bank accounts."""
        if self.exp_month is None or self.exp_year is None:
            return ""
        return f"{self.exp_month:02d}/{self.exp_year}"

    def is_expired(self, year: int, month: int) -> bool:
        """True when the card's expiry month lies before ``year``/``month``."""
        if self.exp_month is None or self.exp_year is None:
            return False
        return (self.exp_year, self.exp_month) < (year, month)


#: Joining words written in lower case inside a bank's name ("Bank of America").
_SMALL_WORDS = frozenset({"of", "the", "and", "for", "at", "in", "on", "de", "la", "du"})
#: Short bank names that are acronyms although they contain a vowel.
_ACRONYMS = frozenset({"BMO", "BOK", "BBVA", "USAA", "UBS", "ANZ", "ING", "RBC", "BNY", "USA",
                       "FCU", "FSB", "SSB", "CCU"})
#: Names with their own mixed case.
_SPELLINGS = {"JPMORGAN": "JPMorgan"}
_WORD = re.compile(r"[^\s,/()-]+")


def readable_bank_name(name: str) -> str:
    """A bank's name as people write it: ``STRIPE TEST BANK`` → ``Stripe Test Bank``,
    ``BANK OF AMERICA, N.A.`` → ``Bank of America, N.A.``, ``TD BANK`` → ``TD Bank``.

    Banks report their names in capitals; only such names are changed (a name with any
    lower-case letter is kept as given). Words of one or two letters, words without a vowel
    (``PNC``), words with dots or ``&`` (``N.A.``, ``M&T``) and a few known acronyms stay in
    capitals.
    """
    name = " ".join(name.split())
    if not name or name != name.upper():
        return name
    first = True

    def word(match: re.Match[str]) -> str:
        nonlocal first
        text = match.group(0)
        at_start, first = first, False
        letters = "".join(ch for ch in text if ch.isalpha())
        lower = text.lower()
        if not letters or "." in text or "&" in text or text in _ACRONYMS:
            return text
        if text in _SPELLINGS:
            return _SPELLINGS[text]
        if lower in _SMALL_WORDS:
            return text.capitalize() if at_start else lower
        if len(letters) <= 2 or not set(letters.lower()) & set("aeiouy"):
            return text
        return text.capitalize()

    return _WORD.sub(word, name)


_CARD_BRAND_NAMES = {
    "visa": "Visa",
    "mastercard": "Mastercard",
    "amex": "American Express",
    "discover": "Discover",
    "diners": "Diners Club",
    "jcb": "JCB",
    "unionpay": "UnionPay",
}


@dataclass(frozen=True, slots=True)
class ChargeResult:
    """A charge as the gateway knows it now.

    ``charge_id`` is the gateway's id of the payment (Stripe PaymentIntent ``pi_…``) — keep it
    to refresh, refund or cancel. ``transaction_id`` is the settled transaction's id when
    there is one (Stripe ``ch_…``), the number support staff ask for.
    """

    charge_id: str
    status: ChargeStatus
    amount: Money
    amount_refunded: Money
    reference: str | None
    idempotency_key: str | None
    transaction_id: str | None = None
    customer_id: str | None = None
    method: SavedMethod | None = None
    decline: Decline | None = None
    created_at: datetime | None = None
    mode: GatewayMode = GatewayMode.TEST
    metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_settled(self) -> bool:
        return self.status is ChargeStatus.SUCCEEDED


class RefundStatus(StrEnum):
    SUCCEEDED = "succeeded"
    PENDING = "pending"
    FAILED = "failed"
    CANCELED = "canceled"


@dataclass(frozen=True, slots=True)
class RefundResult:
    refund_id: str
    charge_id: str
    status: RefundStatus
    amount: Money
    reason: str | None = None
    failure_reason: str | None = None
    created_at: datetime | None = None


class HostedMode(StrEnum):
    """What a hosted page is for: save a method, or pay now and save the method too."""

    SETUP = "setup"
    PAYMENT = "payment"


@dataclass(frozen=True, slots=True)
class HostedSession:
    """A page on the gateway's own site where the client's card or bank account is entered.

    Open ``url`` in the user's browser, then poll with
    :meth:`PaymentGateway.poll_hosted_session` until it is no longer ``OPEN``.
    """

    session_id: str
    url: str
    mode: HostedMode
    expires_at: datetime | None


class HostedSessionState(StrEnum):
    OPEN = "open"  # waiting for the form to be completed
    COMPLETE = "complete"
    EXPIRED = "expired"  # timed out or cancelled by PayDesk


@dataclass(frozen=True, slots=True)
class HostedSessionStatus:
    """Where a hosted session stands; once ``COMPLETE`` it names the saved method and, in
    payment mode, the charge."""

    session_id: str
    state: HostedSessionState
    mode: HostedMode
    method: SavedMethod | None = None
    charge: ChargeResult | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class GatewayAccountInfo:
    """What Test Connection shows: whose account the key opens, and whether it is live."""

    account_id: str
    display_name: str
    mode: GatewayMode
    default_currency: str
    currencies: tuple[str, ...]
    country: str | None = None
