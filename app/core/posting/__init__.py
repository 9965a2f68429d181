"""Posting to Autotask (and, later, QuickBooks) through an outbox.

Postings are queued in the same transaction that records a payment or refund
(:mod:`app.core.posting.queue`) and delivered exactly once by
:class:`~app.core.posting.outbox.PostingOutbox` (``deliver_due``, ``retry``, ``dismiss``).
"""

from __future__ import annotations

from app.core.posting.outbox import (
    AutotaskPoster,
    DeliveryReport,
    PostingOutbox,
    PostingState,
    backoff_delay,
    failing_posting_ids,
)
from app.core.posting.queue import PostingTarget

__all__ = [
    "AutotaskPoster",
    "DeliveryReport",
    "PostingOutbox",
    "PostingState",
    "PostingTarget",
    "backoff_delay",
    "failing_posting_ids",
]
