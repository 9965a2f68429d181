"""How the Web Connector's session takes and settles postings: the outbox's functions for
pull channels (:func:`app.core.posting.outbox.claim_due`, :func:`~app.core.posting.outbox.
acknowledge`, :func:`~app.core.posting.outbox.report_failure`) behind one small protocol, with
the clock the session runs on.

Threads: the functions block on the database; the session calls them on the web server's
request thread (or the COM transport's worker).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from sqlalchemy import Engine

from app.core.clock import utcnow
from app.core.posting import outbox
from app.core.posting.channels import ClaimedPosting, PostingError, PostingWaiting

__all__ = ["OutboxQueue", "PostingQueue"]


class PostingQueue(Protocol):
    def claim_due(self, engine: Engine, channel: str, limit: int) -> list[ClaimedPosting]:
        """Take up to ``limit`` due postings of ``channel`` (leased)."""
        ...

    def acknowledge(self, engine: Engine, posting_id: int, remote_id: str) -> None:
        """The posting is in QuickBooks as ``remote_id``."""
        ...

    def report_failure(self, engine: Engine, posting_id: int,
                       error: PostingError | PostingWaiting) -> None:
        """The posting did not go: retry, fail, or wait (see :class:`PostingError`)."""
        ...


class OutboxQueue:
    """The outbox's pull-channel functions, on ``clock``."""

    def __init__(self, clock: Callable[[], datetime] = utcnow, *,
                 actor: str = "QuickBooks Web Connector") -> None:
        self.clock = clock
        self.actor = actor

    def claim_due(self, engine: Engine, channel: str, limit: int) -> list[ClaimedPosting]:
        return outbox.claim_due(engine, channel, limit=limit, clock=self.clock)

    def acknowledge(self, engine: Engine, posting_id: int, remote_id: str) -> None:
        outbox.acknowledge(engine, posting_id, remote_id, actor=self.actor, clock=self.clock)

    def report_failure(self, engine: Engine, posting_id: int,
                       error: PostingError | PostingWaiting) -> None:
        outbox.report_failure(engine, posting_id, error, actor=self.actor, clock=self.clock)
