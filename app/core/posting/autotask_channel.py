"""The Autotask posting channel: a company note per payment and refund, and the invoice's
paid date once it is paid in full (cleared again when a refund reopens it).

Rules (:class:`AutotaskChannel`) turn ledger facts into postings built by
:mod:`app.core.posting.queue`; :class:`AutotaskDeliverer` delivers them through
:class:`app.core.autotask.AutotaskClient`. Autotask is PayDesk's system of record — there are
no invoices to pay without it — so the channel is always connected.

Exactly once: a note is looked up by its marker ("Payment PD-…", the first line of its text)
before it is created, so a note that reached Autotask while PayDesk lost the answer — or that
someone wrote by hand with that reference — is adopted instead of written again. A paid date
is a PATCH, idempotent by nature; a newer paid-date posting for the same invoice supersedes an
older one still waiting.

Threads: the deliverer blocks on the network; run it on a worker thread.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from types import MappingProxyType
from typing import Any, Protocol

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.core.autotask.errors import AutotaskError, AutotaskValidationError
from app.core.credentials import CredentialStore
from app.core.invoice_state import InvoiceStatus, recompute_invoices
from app.core.posting.channels import (
    ChannelDelivery,
    ClaimedPosting,
    LedgerFact,
    NewPosting,
    PaymentRecorded,
    PostingError,
    PostingErrorKind,
    RefundRecorded,
    RefundReversed,
    register_channel,
)
from app.core.posting.queue import (
    NOTE_ACTION_GENERAL,
    PostingTarget,
    paid_date_posting,
    payment_note,
    refund_failed_note,
    refund_note,
)
from app.core.storage.engine import session_scope
from app.core.storage.models import Invoice, Payment, Posting, Refund

__all__ = [
    "AUTOTASK_CHANNEL",
    "AutotaskChannel",
    "AutotaskDeliverer",
    "AutotaskPoster",
    "paid_by_paydesk",
]

_OPEN = (InvoiceStatus.OPEN.value, InvoiceStatus.PARTIALLY_PAID.value)
_PAID = InvoiceStatus.PAID.value
#: Posting states in which a paid-date posting still speaks for its invoice.
_LIVE_STATES = ("pending", "waiting", "delivering", "failed")


class AutotaskPoster(Protocol):
    """What the deliverer needs from :class:`app.core.autotask.AutotaskClient`."""

    def find_company_notes(
        self, company_id: int, text: str, *, in_field: str = "description"
    ) -> list[dict[str, Any]]: ...

    def create_note(self, company_id: int, fields: Mapping[str, Any]) -> int: ...

    def patch(self, entity: str, record_id: int, changes: Mapping[str, Any]) -> int: ...


def paid_by_paydesk(session: Session, invoice_id: int) -> bool:
    """Whether PayDesk itself set this invoice's paidDate in Autotask (not someone else)."""
    rows = session.scalars(
        select(Posting.payload).where(
            Posting.target == PostingTarget.AUTOTASK_PAID_DATE.value,
            Posting.invoice_id == invoice_id,
            Posting.state.in_(("delivered", *_LIVE_STATES)),
        ).order_by(Posting.id.desc())
    ).all()
    return bool(rows) and rows[0].get("paid_date") is not None


class AutotaskChannel:
    """The Autotask channel's rules (no state of its own)."""

    name = "autotask"
    label = "Autotask"
    delivery = ChannelDelivery.PUSH
    targets: Mapping[str, str] = MappingProxyType({t.value: t.label for t in PostingTarget})

    def is_connected(self, session: Session) -> bool:
        return True

    def postings_for(self, session: Session, fact: LedgerFact) -> Sequence[NewPosting]:
        payment = session.get(Payment, fact.payment_id)
        assert payment is not None
        allocations = list(fact.allocations)
        if isinstance(fact, PaymentRecorded):
            out = [payment_note(session, payment, allocations, fact.at)]
            # Every invoice this payment leaves fully paid gets its paidDate in Autotask
            # (unless Autotask already has one) — including a bank debit that counted as paid
            # while it was processing and has only now settled.
            out.extend(
                paid_date_posting(invoice_id=change.invoice_id, paid_date=fact.at.date(),
                                  because_of=payment.reference, payment_id=payment.id)
                for change in sorted(fact.invoices, key=lambda c: c.invoice_id)
                if change.status_after == _PAID and change.paid_date is None
            )
            return out
        refund = session.get(Refund, fact.refund_id)
        assert refund is not None
        if isinstance(fact, RefundRecorded):
            out = [refund_note(session, payment, refund, allocations, fact.at)]
            out.extend(
                paid_date_posting(invoice_id=change.invoice_id, paid_date=None,
                                  because_of=refund.reference, payment_id=payment.id,
                                  refund_id=refund.id)
                for change in fact.invoices
                if change.status_before == _PAID and change.status_after in _OPEN
            )
            return out
        assert isinstance(fact, RefundReversed)
        out = [refund_failed_note(session, payment, refund, allocations, fact.at)]
        out.extend(
            paid_date_posting(invoice_id=change.invoice_id, paid_date=fact.at.date(),
                              because_of=f"{refund.reference}-failed", payment_id=payment.id,
                              refund_id=refund.id)
            for change in sorted(fact.invoices, key=lambda c: c.invoice_id)
            if change.status_after == _PAID and change.status_before != _PAID
            and change.paid_date is None
        )
        return out

    def open_deliverer(
        self, engine: Engine, credentials: CredentialStore
    ) -> AutotaskDeliverer | None:
        from app.core.connections import load_autotask_client

        client = load_autotask_client(engine, credentials)
        return None if client is None else AutotaskDeliverer(engine, client)

    def describe_missing(self, engine: Engine, credentials: CredentialStore) -> str | None:
        from app.core.connections import describe_missing_connection

        return describe_missing_connection(engine, credentials)


class _UnknownTarget(Exception):
    """A posting this version of PayDesk cannot deliver (written by a newer version)."""


class AutotaskDeliverer:
    """Delivers Autotask postings through one client (shared by threads, like the client)."""

    def __init__(self, engine: Engine, client: AutotaskPoster) -> None:
        self.engine = engine
        self.client = client

    def close(self) -> None:
        close = getattr(self.client, "close", None)
        if callable(close):
            close()

    def find_existing(self, posting: ClaimedPosting) -> str | None:
        if posting.target != PostingTarget.AUTOTASK_NOTE.value:
            return None  # a paid date is a PATCH: sending it again changes nothing
        payload = posting.payload
        marker = str(payload["marker"])
        for note in self.client.find_company_notes(int(payload["company_id"]), marker):
            text = str(note.get("description") or "")
            # The marker is followed by a newline: "Payment PD-1" never matches "Payment PD-12".
            if text == marker or text.startswith(marker + "\n"):
                return str(note.get("id"))
        return None

    def deliver(self, posting: ClaimedPosting) -> str:
        if posting.target == PostingTarget.AUTOTASK_NOTE.value:
            # Looked up even on a first delivery: someone may have written the note by hand.
            existing = None if posting.tried_before else self.find_existing(posting)
            return existing or self._create_note(posting.payload)
        if posting.target == PostingTarget.AUTOTASK_PAID_DATE.value:
            return self._deliver_paid_date(posting.id, posting.payload)
        raise _UnknownTarget(f"PayDesk cannot post {posting.target} to Autotask.")

    def classify(self, error: Exception) -> PostingError:
        if isinstance(error, _UnknownTarget):
            return PostingError(PostingErrorKind.PERMANENT, str(error))
        if isinstance(error, AutotaskValidationError):
            return PostingError(PostingErrorKind.PERMANENT, error.message)
        if isinstance(error, AutotaskError):
            return PostingError(PostingErrorKind.RETRY, error.message)
        return PostingError(
            PostingErrorKind.RETRY,
            f"PayDesk could not post this ({type(error).__name__}). It will try again; "
            "if this keeps happening, send the log to support.",
        )

    def _create_note(self, payload: Mapping[str, Any]) -> str:
        fields: dict[str, Any] = {
            "actionType": NOTE_ACTION_GENERAL,
            "title": str(payload["title"])[:250],
            "description": str(payload["description"]),
        }
        if payload.get("contact_id"):
            fields["contactID"] = int(payload["contact_id"])
        return str(self.client.create_note(int(payload["company_id"]), fields))

    def _deliver_paid_date(self, posting_id: int, payload: Mapping[str, Any]) -> str:
        invoice_id = int(payload["invoice_id"])
        with session_scope(self.engine) as session:
            newer = session.scalar(
                select(Posting.id).where(
                    Posting.target == PostingTarget.AUTOTASK_PAID_DATE.value,
                    Posting.invoice_id == invoice_id,
                    Posting.id > posting_id,
                    Posting.state.in_(_LIVE_STATES),
                )
            )
        if newer is not None:
            # A later payment or refund decides this invoice's paidDate; sending this older
            # value first would only be overwritten (or, out of order, win wrongly).
            return "superseded"
        value = payload.get("paid_date")
        self.client.patch("Invoices", invoice_id, {"paidDate": value})
        if value is not None:
            # Keep the local mirror as the next sync will find it (paidDate set).
            with session_scope(self.engine) as session:
                invoice = session.get(Invoice, invoice_id)
                if invoice is not None and invoice.paid_date is None:
                    invoice.paid_date = date.fromisoformat(str(value))
                    session.flush()
                    recompute_invoices(session, [invoice_id])
        return str(invoice_id)


AUTOTASK_CHANNEL = AutotaskChannel()
register_channel(AUTOTASK_CHANNEL)
