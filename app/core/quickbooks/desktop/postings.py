"""How the Web Connector's session takes and settles postings: the three functions a pull
channel uses (:func:`app.core.posting.outbox.claim_due`, ``acknowledge``,
``report_failure``), behind one small protocol so a session can be given another queue.

Threads: the functions block on the database; the session calls them on the web server's
request thread.
"""

from __future__ import annotations

import importlib
from typing import Protocol

from sqlalchemy import Engine

from app.core.posting.channels import ClaimedPosting, PostingError, PostingWaiting

__all__ = ["OutboxQueue", "PostingQueue"]


class PostingQueue(Protocol):
    def claim_due(self, engine: Engine, channel: str, limit: int) -> list[ClaimedPosting]:
        """Take up to ``limit`` due postings of ``channel`` (leased; ``attempts`` counts this
        one)."""
        ...

    def acknowledge(self, engine: Engine, posting_id: int, remote_id: str) -> None:
        """The posting is in QuickBooks as ``remote_id``."""
        ...

    def report_failure(self, engine: Engine, posting_id: int,
                       error: PostingError | PostingWaiting) -> None:
        """The posting did not go: retry, fail, or wait (see :class:`PostingError`)."""
        ...


class OutboxQueue:
    """The outbox's own functions (``app.core.posting.outbox``)."""

    def _function(self, name: str):  # type: ignore[no-untyped-def]
        module = importlib.import_module("app.core.posting.outbox")
        return getattr(module, name)

    def claim_due(self, engine: Engine, channel: str, limit: int) -> list[ClaimedPosting]:
        return list(self._function("claim_due")(engine, channel, limit))

    def acknowledge(self, engine: Engine, posting_id: int, remote_id: str) -> None:
        self._function("acknowledge")(engine, posting_id, remote_id)

    def report_failure(self, engine: Engine, posting_id: int,
                       error: PostingError | PostingWaiting) -> None:
        self._function("report_failure")(engine, posting_id, error)
