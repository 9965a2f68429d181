"""Posting to Autotask (and, later, QuickBooks) through an outbox.

Postings are queued in the same transaction that records a payment or refund
(:mod:`app.core.posting.queue`) and delivered exactly once by
:class:`~app.core.posting.outbox.PostingOutbox` (``deliver_due``). What a person does about a
failing posting needs no Autotask connection: ``failing_posting_ids`` finds them,
``retry_postings`` re-queues them, ``dismiss_postings`` stops them.
"""

from __future__ import annotations

from app.core.posting.outbox import (
    AutotaskPoster,
    DeliveryReport,
    PostingOutbox,
    PostingState,
    backoff_delay,
    dismiss_postings,
    failing_posting_ids,
    retry_postings,
)
from app.core.posting.queue import PostingTarget

__all__ = [
    "AutotaskPoster",
    "DeliveryReport",
    "PostingOutbox",
    "PostingState",
    "PostingTarget",
    "backoff_delay",
    "dismiss_postings",
    "failing_posting_ids",
    "retry_postings",
]
