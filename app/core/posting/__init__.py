"""Posting to Autotask and QuickBooks through posting channels and an outbox.

Postings are queued by each connected channel's rules in the same transaction that records a
payment or refund (:mod:`app.core.posting.channels`) and delivered exactly once:
push channels by :class:`~app.core.posting.outbox.PostingOutbox` (``deliver_due``), pull
channels through ``claim_due`` / ``acknowledge`` / ``report_failure``. What a person does
about a failing posting needs no connection: ``failing_posting_ids`` finds them,
``retry_postings`` re-queues them, ``dismiss_postings`` stops them.
"""

from __future__ import annotations

from app.core.posting.outbox import (
    DeliveryReport,
    PostingOutbox,
    PostingState,
    acknowledge,
    backoff_delay,
    claim_due,
    dismiss_postings,
    failing_posting_ids,
    open_outbox,
    report_failure,
    retry_postings,
)
from app.core.posting.queue import PostingTarget

__all__ = [
    "DeliveryReport",
    "PostingOutbox",
    "PostingState",
    "PostingTarget",
    "acknowledge",
    "backoff_delay",
    "claim_due",
    "dismiss_postings",
    "failing_posting_ids",
    "open_outbox",
    "report_failure",
    "retry_postings",
]
