"""What a person does about postings that fail: Retry (re-queue and deliver now) and Dismiss
(stop trying, after recording the payment by hand), for a selection of payments, with the
sentence the screen shows afterwards naming the channels involved ("Posted to Autotask and
QuickBooks Online.").

Threads: both block on the database (Retry also on the network); run them on a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, select

from app.core.credentials import CredentialStore
from app.core.posting.channels import get_channel
from app.core.posting.outbox import (
    PostingState,
    dismiss_postings,
    failing_posting_ids,
    open_outbox,
)
from app.core.storage.engine import session_scope
from app.core.storage.models import Posting

__all__ = ["PostingActionResult", "channel_words", "dismiss_payments", "retry_payments"]


@dataclass(frozen=True)
class PostingActionResult:
    """What Retry or Dismiss did, for the message under the table."""

    payment_ids: tuple[int, ...]
    count: int
    message: str


def channel_words(engine: Engine, posting_ids: Sequence[int]) -> str:
    """The channels these postings go to, as a bookkeeper reads them: "Autotask",
    "Autotask and QuickBooks Online"."""
    with session_scope(engine) as session:
        names = list(dict.fromkeys(session.scalars(
            select(Posting.channel).where(Posting.id.in_(list(posting_ids))).order_by(Posting.id)
        )))
    labels = []
    for name in names:
        channel = get_channel(name)
        labels.append(channel.label if channel is not None else name)
    if len(labels) <= 1:
        return labels[0] if labels else "Autotask"
    return ", ".join(labels[:-1]) + " and " + labels[-1]


def retry_payments(
    engine: Engine, credentials: CredentialStore, payment_ids: Sequence[int]
) -> PostingActionResult:
    """Re-queue the failing postings of these payments and try to deliver them now, so the
    bookkeeper sees at once whether it worked. Raises ``ValueError`` with a plain sentence
    when no channel they go to can be reached from this computer."""
    ids = failing_posting_ids(engine, payment_ids)
    if not ids:
        return PostingActionResult(tuple(payment_ids), 0, "Nothing is failing to post.")
    outbox, problems = open_outbox(engine, credentials)
    with outbox:
        if not outbox.deliverers:
            raise ValueError(" ".join(problems) or "PayDesk is not connected to Autotask.")
        where = channel_words(engine, ids)
        outbox.retry(ids)
        states = [outbox.deliver(posting_id) for posting_id in ids]
    delivered = sum(1 for s in states if s == PostingState.DELIVERED)
    if delivered == len(ids):
        message = f"Posted to {where}."
    else:
        message = (
            f"{delivered} of {len(ids)} postings reached {where}; the rest will be tried "
            "again automatically. Open the payment to see why."
        )
    return PostingActionResult(tuple(payment_ids), delivered, message)


def dismiss_payments(engine: Engine, payment_ids: Sequence[int]) -> PostingActionResult:
    """Stop trying to post these payments (recorded by hand). Only the local database
    changes, so this works without any connection."""
    ids = failing_posting_ids(engine, payment_ids)
    where = channel_words(engine, ids)
    count = dismiss_postings(engine, ids, f"Recorded in {where} by hand") if ids else 0
    if count == 0:
        message = "Nothing is failing to post."
    elif len(payment_ids) == 1:
        message = f"Dismissed: PayDesk will not post this to {where}."
    else:
        message = f"Dismissed: PayDesk will not post these {len(payment_ids)} payments to {where}."
    return PostingActionResult(tuple(payment_ids), count, message)
