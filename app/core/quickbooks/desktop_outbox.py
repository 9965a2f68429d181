"""The outbox as the Web Connector session's posting queue.

``app.core.quickbooks.desktop.postings.OutboxQueue`` calls ``claim_due(engine, channel,
limit)`` positionally, but the outbox takes ``limit`` by keyword
(``app.core.posting.outbox.claim_due(engine, channel, *, limit=…)``). This adapter calls the
outbox as it is; the window's Web Connector service and the screenshot scenes use it until the
two agree.

Threads: blocks on the database; the service calls it on its request threads.
"""

from __future__ import annotations

from sqlalchemy import Engine

from app.core.posting import outbox
from app.core.posting.channels import ClaimedPosting, PostingError, PostingWaiting

__all__ = ["OutboxPostingQueue"]


class OutboxPostingQueue:
    """``PostingQueue`` over :mod:`app.core.posting.outbox`."""

    def claim_due(self, engine: Engine, channel: str, limit: int) -> list[ClaimedPosting]:
        return list(outbox.claim_due(engine, channel, limit=limit))

    def acknowledge(self, engine: Engine, posting_id: int, remote_id: str) -> None:
        outbox.acknowledge(engine, posting_id, remote_id)

    def report_failure(self, engine: Engine, posting_id: int,
                       error: PostingError | PostingWaiting) -> None:
        outbox.report_failure(engine, posting_id, error)
