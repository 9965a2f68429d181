"""The QuickBooks Desktop posting channel: a ReceivePayment in the company file per payment.

QuickBooks Desktop is a *pull* channel: the Web Connector asks PayDesk for work, so these
postings are delivered by the Web Connector's session (:mod:`.session`), which claims them
with :func:`app.core.posting.outbox.claim_due` — never by the push outbox.

What each ledger fact becomes:

* :class:`PaymentRecorded` → ``quickbooks_desktop_payment``: a ``ReceivePaymentAdd`` whose
  ``RefNumber`` is the payment's reference (``PD-7K3M9Q2X``), applied to the QuickBooks
  invoice matched with each PayDesk invoice, with the payment method named in Settings ›
  Posting for card or bank payments (:mod:`app.core.quickbooks.payment_methods`; none by
  default). Before adding it again after an unknown outcome,
  the session looks the reference up (``ReceivePaymentQuery``), so QuickBooks never gets it
  twice.
* :class:`RefundRecorded` / :class:`RefundReversed` → ``quickbooks_desktop_refund`` /
  ``quickbooks_desktop_refund_reversed``: a ``ReceivePaymentMod`` of that same payment taking
  the refunded amounts off each invoice (or putting them back), so QuickBooks' invoice
  balance stays equal to PayDesk's. Each change leaves its token (``[R12]`` /
  ``[R12-reversed]``) in the payment's memo, which is how a change whose answer was lost is
  recognised and not applied twice. Why this form and not a credit memo with a refund
  cheque: docs/quickbooks-desktop.md.

Everything the delivery sends is decided here and kept in the posting's payload.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.core.credentials import CredentialStore, SecretName
from app.core.posting.channels import (
    ChannelDelivery,
    LedgerFact,
    NewPosting,
    PaymentRecorded,
    PostingDeliverer,
    RefundRecorded,
    RefundReversed,
    register_channel,
)
from app.core.storage.models import Invoice, Payment, Setting

__all__ = [
    "CHANNEL_NAME",
    "CONNECTION_SETTING",
    "PAYMENT_TARGET",
    "REFUND_REVERSED_TARGET",
    "REFUND_TARGET",
    "QuickBooksDesktopChannel",
    "change_token",
]

CHANNEL_NAME = "quickbooks_desktop"
#: Setting holding the Web Connector connection (a JSON object; see :mod:`.qwc`). The channel
#: queues postings only while it is set.
CONNECTION_SETTING = "quickbooks_desktop.connection"
PAYMENT_TARGET = "quickbooks_desktop_payment"
#: A refund and a refund reversed are both a change of the payment (the reconciliation counts
#: them apart by target).
REFUND_TARGET = "quickbooks_desktop_refund"
REFUND_REVERSED_TARGET = "quickbooks_desktop_refund_reversed"


def change_token(refund_id: int, *, reversed_: bool) -> str:
    """The token a payment change leaves in the ReceivePayment's memo."""
    return f"R{refund_id}-reversed" if reversed_ else f"R{refund_id}"


def _allocations(session: Session, pairs: Sequence[tuple[int, int]]) -> list[dict[str, Any]]:
    numbers = {row.id: row.invoice_number for row in session.execute(
        select(Invoice.id, Invoice.invoice_number).where(
            Invoice.id.in_([invoice_id for invoice_id, _ in pairs])))}
    return [{"invoice_id": invoice_id, "invoice_number": numbers.get(invoice_id),
             "amount_minor": minor} for invoice_id, minor in pairs if minor]


class QuickBooksDesktopChannel:
    """The rules (no network, no state)."""

    name: str = CHANNEL_NAME
    label: str = "QuickBooks Desktop"
    delivery: ChannelDelivery = ChannelDelivery.PULL
    targets: Mapping[str, str] = MappingProxyType({
        PAYMENT_TARGET: "QuickBooks Desktop payment",
        REFUND_TARGET: "QuickBooks Desktop refund",
        REFUND_REVERSED_TARGET: "QuickBooks Desktop refund reversed",
    })

    def is_connected(self, session: Session) -> bool:
        row = session.get(Setting, CONNECTION_SETTING)
        return row is not None and bool(row.value.get("v"))

    def postings_for(self, session: Session, fact: LedgerFact) -> Sequence[NewPosting]:
        payment = session.get(Payment, fact.payment_id)
        if payment is None:
            return []
        allocations = _allocations(session, fact.allocations)
        if not allocations:
            return []
        if isinstance(fact, PaymentRecorded):
            memo = f"PayDesk payment {payment.reference}"
            if payment.method_summary:
                memo += f" ({payment.method_summary})"
            return [NewPosting(
                target=PAYMENT_TARGET, key=f"qbd:payment:{payment.id}",
                payment_id=payment.id,
                payload={
                    "reference": payment.reference, "currency": payment.currency,
                    "txn_date": fact.at.date().isoformat(), "memo": memo,
                    "total_minor": sum(a["amount_minor"] for a in allocations),
                    "allocations": allocations,
                    # Which payment method (Settings › Posting) is looked up when it goes.
                    "method_type": payment.method_type or "card",
                })]
        reversed_ = isinstance(fact, RefundReversed)
        assert isinstance(fact, RefundRecorded | RefundReversed)
        token = change_token(fact.refund_id, reversed_=reversed_)
        sign = 1 if reversed_ else -1
        return [NewPosting(
            target=REFUND_REVERSED_TARGET if reversed_ else REFUND_TARGET,
            key=f"qbd:payment-change:{token}",
            payment_id=payment.id, refund_id=fact.refund_id,
            payload={
                "reference": payment.reference, "currency": payment.currency,
                "token": token,
                # Signed: what this change does to the amount applied to each invoice.
                "allocations": [dict(a, amount_minor=sign * a["amount_minor"])
                                for a in allocations],
            })]

    def open_deliverer(
        self, engine: Engine, credentials: CredentialStore
    ) -> PostingDeliverer | None:
        """None: QuickBooks Desktop cannot be called; its Web Connector calls PayDesk, and the
        session (:mod:`.session`) delivers while it is connected."""
        return None

    def describe_missing(self, engine: Engine, credentials: CredentialStore) -> str | None:
        """What keeps the Web Connector from collecting these postings, if anything."""
        from app.core.config import get_setting

        if not get_setting(engine, CONNECTION_SETTING, None):
            return ("QuickBooks Desktop is not connected. In Setup, save PayDesk's .qwc file "
                    "and add it to the QuickBooks Web Connector.")
        if not credentials.get(SecretName.QUICKBOOKS_DESKTOP_PASSWORD):
            return ("The QuickBooks Web Connector's password is not in this computer's "
                    "keychain. Save the .qwc file again in Setup and enter the new password in "
                    "the Web Connector.")
        return None


CHANNEL = QuickBooksDesktopChannel()
register_channel(CHANNEL)
