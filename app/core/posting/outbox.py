"""The outbox: delivers queued postings to every push channel, each exactly once; and the
claim / acknowledge functions pull channels use for the same guarantee.

A posting is queued in the transaction that records a payment or a refund
(:func:`app.core.posting.channels.record_fact`). :meth:`PostingOutbox.deliver_due` then, for
each posting of a push channel it has a deliverer for that is due, oldest first:

1. **claims** it — one conditional UPDATE moves it to ``delivering`` with a lease, so two
   seats never deliver the same posting at once — and commits;
2. when an earlier attempt may have landed, **looks for it** in the other system by its stable
   reference (:meth:`~app.core.posting.channels.PostingDeliverer.find_existing`), and adopts
   what it finds instead of creating it again;
3. delivers it (:meth:`~app.core.posting.channels.PostingDeliverer.deliver`);
4. records ``delivered`` with the remote id.

A deliverer that says the posting cannot go yet (:class:`~app.core.posting.channels.PostingWaiting`:
an invoice not matched in QuickBooks yet) leaves it ``waiting`` with the reason, without
counting an attempt. Failures are retried with exponential backoff (30 s, 1 min, 2 min … up to
an hour); after ``max_attempts`` — or at once when the other system refuses the content itself,
or a person must act there first — the posting is ``failed``: shown under "Failing to post" with
the other system's message, until a person retries or dismisses it (:func:`retry_postings`,
:func:`dismiss_postings` — neither needs a connection; :func:`failing_posting_ids` finds what
they act on).

Pull channels (the QuickBooks Web Connector asks PayDesk for work) do the same steps from their
own session: :func:`claim_due`, then :func:`acknowledge` or :func:`report_failure`.

Threads: everything here blocks on the database (and the outbox on the network); run it on a
worker thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, or_, select, update
from sqlalchemy.orm import Session

from app.core.clock import utcnow
from app.core.config import current_actor
from app.core.credentials import CredentialStore
from app.core.posting.channels import (
    ChannelDelivery,
    ClaimedPosting,
    PostingDeliverer,
    PostingError,
    PostingErrorKind,
    PostingWaiting,
    channels,
    get_channel,
)
from app.core.storage.engine import session_scope
from app.core.storage.models import AuditEntry, Posting

__all__ = [
    "DeliveryReport",
    "PostingOutbox",
    "PostingState",
    "acknowledge",
    "backoff_delay",
    "claim_due",
    "dismiss_postings",
    "failing_posting_ids",
    "open_outbox",
    "report_failure",
    "retry_postings",
]

log = logging.getLogger(__name__)


class PostingState:
    PENDING = "pending"
    WAITING = "waiting"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    FAILED = "failed"
    DISMISSED = "dismissed"

    LABELS: Mapping[str, str] = {
        "pending": "Waiting to post",
        "waiting": "Waiting",
        "delivering": "Posting",
        "delivered": "Posted",
        "failed": "Failing to post",
        "dismissed": "Dismissed",
    }


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0
    waiting: int = 0
    #: The channels delivered to, by label ("Autotask", "QuickBooks Online").
    channels: tuple[str, ...] = ("Autotask",)

    @property
    def summary(self) -> str:
        where = " and ".join(self.channels) or "nowhere"
        text = (f"{self.delivered} posted to {where}, {self.retrying} will be retried, "
                f"{self.failed} failing.")
        if self.waiting:
            text += f" {self.waiting} waiting."
        return text


def audit(session: Session, *, actor: str, action: str, subject_type: str,
          subject_id: int | str, details: Mapping[str, Any]) -> None:
    """An audit entry in the caller's transaction (the outbox does not depend on the
    payments package, which depends on it)."""
    session.add(AuditEntry(at=utcnow(), actor=actor, action=action, subject_type=subject_type,
                           subject_id=str(subject_id), details=dict(details)))


BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=1)
LEASE = timedelta(minutes=2)


def backoff_delay(attempts: int) -> timedelta:
    """Delay before the next try after ``attempts`` failed ones: 30 s doubling, ≤ 1 h."""
    seconds = BASE_DELAY.total_seconds() * (2 ** max(0, attempts - 1))
    return min(timedelta(seconds=seconds), MAX_DELAY)


def _due(now: datetime, *, reclaim: bool) -> Any:
    """Postings due now: pending or waiting and due, or left ``delivering`` by a crash
    (``reclaim``: also before their lease ran out)."""
    stuck = Posting.state == PostingState.DELIVERING
    if not reclaim:
        stuck = and_(stuck, Posting.next_attempt_at <= now)
    return or_(
        and_(Posting.state.in_((PostingState.PENDING, PostingState.WAITING)),
             or_(Posting.next_attempt_at.is_(None), Posting.next_attempt_at <= now)),
        stuck,
    )


def _claim(engine: Engine, posting_id: int, now: datetime, *, reclaim: bool
           ) -> ClaimedPosting | None:
    """Take one posting for delivery (one conditional UPDATE, committed), or None when
    another seat has it or it is no longer due."""
    with session_scope(engine) as session:
        # Pending or waiting postings are claimed whenever asked for (the caller chose them as
        # due); one being delivered only once its lease ran out, or at once with ``reclaim``.
        stuck = Posting.state == PostingState.DELIVERING
        if not reclaim:
            stuck = and_(stuck, Posting.next_attempt_at <= now)
        claimable = or_(Posting.state.in_((PostingState.PENDING, PostingState.WAITING)), stuck)
        claimed = session.execute(
            update(Posting)
            .where(Posting.id == posting_id, claimable)
            .values(
                state=PostingState.DELIVERING,
                attempts=Posting.attempts + 1,
                next_attempt_at=now + LEASE,
            )
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return None
        posting = session.get(Posting, posting_id, populate_existing=True)
        assert posting is not None
        return ClaimedPosting(
            id=posting.id,
            channel=posting.channel,
            target=posting.target,
            key=posting.key,
            payload=dict(posting.payload),
            attempts=posting.attempts,
            tried_before=posting.attempts > 1 or posting.last_error is not None,
            payment_id=posting.payment_id,
            refund_id=posting.refund_id,
            invoice_id=posting.invoice_id,
        )


def _release(engine: Engine, posting_id: int, now: datetime) -> None:
    """Undo a claim that nothing was done with (the attempt does not count)."""
    with session_scope(engine) as session:
        posting = session.get(Posting, posting_id, populate_existing=True)
        assert posting is not None
        posting.state = PostingState.PENDING
        posting.attempts = max(0, posting.attempts - 1)
        posting.next_attempt_at = now


def acknowledge(engine: Engine, posting_id: int, remote_id: str, *, actor: str | None = None,
                clock: Callable[[], datetime] = utcnow) -> None:
    """Record a claimed posting as delivered, with the other system's id for it."""
    with session_scope(engine) as session:
        posting = session.get(Posting, posting_id, populate_existing=True)
        assert posting is not None
        posting.state = PostingState.DELIVERED
        posting.remote_id = remote_id
        posting.delivered_at = clock()
        posting.next_attempt_at = None
        posting.last_error = None
        posting.waiting_reason = None
        audit(session, actor=actor or current_actor(), action="posting.delivered",
              subject_type="payment", subject_id=posting.payment_id or "",
              details={"posting": posting.key, "channel": posting.channel,
                       "remote_id": remote_id})


def report_failure(
    engine: Engine,
    posting_id: int,
    problem: PostingError | PostingWaiting,
    *,
    max_attempts: int = 8,
    actor: str | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> str:
    """Record why a claimed posting did not go; returns its new state.

    :class:`PostingWaiting`: ``waiting`` with the reason, due again after its delay, and the
    attempt is not counted. :class:`PostingError`: retried on the back-off schedule, or
    ``failed`` at once when it is not worth retrying (or after ``max_attempts``)."""
    now = clock()
    with session_scope(engine) as session:
        posting = session.get(Posting, posting_id, populate_existing=True)
        assert posting is not None
        if isinstance(problem, PostingWaiting):
            posting.state = PostingState.WAITING
            posting.waiting_reason = problem.reason
            posting.attempts = max(0, posting.attempts - 1)
            posting.next_attempt_at = now + problem.retry_after
            return posting.state
        posting.last_error = problem.message
        permanent = problem.kind is not PostingErrorKind.RETRY
        if permanent or posting.attempts >= max_attempts:
            posting.state = PostingState.FAILED
            posting.next_attempt_at = None
            audit(session, actor=actor or current_actor(), action="posting.failed",
                  subject_type="payment", subject_id=posting.payment_id or "",
                  details={"posting": posting.key, "channel": posting.channel,
                           "error": problem.message, "attempts": posting.attempts})
        else:
            posting.state = PostingState.PENDING
            posting.next_attempt_at = now + backoff_delay(posting.attempts)
        return posting.state


def claim_due(engine: Engine, channel: str, *, limit: int = 100, reclaim: bool = False,
              clock: Callable[[], datetime] = utcnow) -> list[ClaimedPosting]:
    """For a pull channel's session: take up to ``limit`` due postings of ``channel``, oldest
    first, each leased to the caller. Settle every one with :func:`acknowledge` or
    :func:`report_failure`; one left alone is taken again when its lease runs out (with
    ``tried_before`` set, so it is looked up before it is created again)."""
    now = clock()
    with session_scope(engine) as session:
        ids = list(session.scalars(
            select(Posting.id)
            .where(Posting.channel == channel, _due(now, reclaim=reclaim))
            .order_by(Posting.id)
            .limit(limit)
        ))
    return [c for c in (_claim(engine, i, now, reclaim=reclaim) for i in ids) if c is not None]


class PostingOutbox:
    """Delivers the postings of the push channels it has deliverers for, for one database.

    ``deliverers`` maps a channel name to its deliverer; :func:`open_outbox` opens one for
    every connected push channel. Postings of other channels are left for their own outbox
    or session."""

    def __init__(
        self,
        engine: Engine,
        deliverers: Mapping[str, PostingDeliverer],
        *,
        max_attempts: int = 8,
        actor: str | None = None,
        checkpoint: Callable[[str], None] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.deliverers = dict(deliverers)
        self.max_attempts = max_attempts
        self.actor = actor or current_actor()
        self._checkpoint = checkpoint
        self._clock = clock

    def __enter__(self) -> PostingOutbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the deliverers' connections (those that hold one)."""
        for deliverer in self.deliverers.values():
            close = getattr(deliverer, "close", None)
            if callable(close):
                close()

    @property
    def channel_labels(self) -> tuple[str, ...]:
        labels = []
        for name in self.deliverers:
            channel = get_channel(name)
            labels.append(channel.label if channel is not None else name)
        return tuple(labels)

    def _step(self, name: str) -> None:
        if self._checkpoint is not None:
            self._checkpoint(name)

    # --- delivery -----------------------------------------------------------------------
    def due_ids(self, *, now: datetime | None = None, reclaim: bool = False,
                limit: int = 100) -> list[int]:
        """Postings due now, oldest first. ``reclaim`` also takes postings left
        ``delivering`` by a crash before their lease ran out (safe: a posting that may have
        landed is looked up before it is created again)."""
        now = now or self._clock()
        with session_scope(self.engine) as session:
            return list(
                session.scalars(
                    select(Posting.id)
                    .where(Posting.channel.in_(list(self.deliverers)),
                           _due(now, reclaim=reclaim))
                    .order_by(Posting.id)
                    .limit(limit)
                )
            )

    def deliver_due(
        self,
        *,
        now: datetime | None = None,
        reclaim: bool = False,
        limit: int = 100,
        cancel: Callable[[], bool] | None = None,
    ) -> DeliveryReport:
        """Deliver every posting that is due (see the module docstring)."""
        counts = {PostingState.DELIVERED: 0, PostingState.PENDING: 0, PostingState.FAILED: 0,
                  PostingState.WAITING: 0, "skipped": 0}
        for posting_id in self.due_ids(now=now, reclaim=reclaim, limit=limit):
            if cancel is not None and cancel():
                break
            result = self.deliver(posting_id, reclaim=reclaim)
            counts[result if result in counts else "skipped"] += 1
        return DeliveryReport(
            delivered=counts[PostingState.DELIVERED],
            retrying=counts[PostingState.PENDING],
            failed=counts[PostingState.FAILED],
            skipped=counts["skipped"],
            waiting=counts[PostingState.WAITING],
            channels=self.channel_labels,
        )

    def deliver(self, posting_id: int, *, reclaim: bool = False) -> str:
        """Deliver one posting now (if nobody else is); returns its new state."""
        claim = _claim(self.engine, posting_id, self._clock(), reclaim=reclaim)
        if claim is None:
            return "skipped"
        deliverer = self.deliverers.get(claim.channel)
        if deliverer is None:  # another channel's posting: give the claim back untouched
            _release(self.engine, posting_id, self._clock())
            return "skipped"
        self._step("posting.claimed")
        try:
            remote_id = deliverer.find_existing(claim) if claim.tried_before else None
            if remote_id is None:
                remote_id = deliverer.deliver(claim)
        except PostingWaiting as waiting:
            return report_failure(self.engine, posting_id, waiting, clock=self._clock)
        except Exception as exc:  # the deliverer says what it means
            problem = deliverer.classify(exc)
            log.warning("posting %s to %s not delivered: %s", posting_id, claim.channel,
                        problem.message, exc_info=True)
            return report_failure(self.engine, posting_id, problem,
                                  max_attempts=self.max_attempts, actor=self.actor,
                                  clock=self._clock)
        self._step("posting.sent")
        acknowledge(self.engine, posting_id, remote_id, actor=self.actor, clock=self._clock)
        return PostingState.DELIVERED

    # --- people's actions ---------------------------------------------------------------
    def retry(self, posting_ids: Sequence[int]) -> int:
        """Try failed postings again now; returns how many were re-queued."""
        return retry_postings(self.engine, posting_ids, actor=self.actor, clock=self._clock)

    def dismiss(self, posting_ids: Sequence[int], reason: str = "") -> int:
        """Stop trying (someone recorded it by hand); kept visible as dismissed."""
        return dismiss_postings(self.engine, posting_ids, reason, actor=self.actor)


def open_outbox(
    engine: Engine, credentials: CredentialStore, *, actor: str | None = None
) -> tuple[PostingOutbox, list[str]]:
    """An outbox with a deliverer for every connected push channel that can be opened now,
    and a sentence for each connected one that cannot (its secret is missing). No network."""
    deliverers: dict[str, PostingDeliverer] = {}
    problems: list[str] = []
    with session_scope(engine) as session:
        connected = [c for c in channels()
                     if c.delivery is ChannelDelivery.PUSH and c.is_connected(session)]
    for channel in connected:
        deliverer = channel.open_deliverer(engine, credentials)
        if deliverer is None:
            why = channel.describe_missing(engine, credentials) or (
                f"PayDesk is not connected to {channel.label}. Run Setup… to connect it.")
            problems.append(f"Nothing was posted to {channel.label}: {why}")
        else:
            deliverers[channel.name] = deliverer
    return PostingOutbox(engine, deliverers, actor=actor), problems


# --- people's actions, without Autotask --------------------------------------------------
# Re-queueing or dismissing a posting only changes the local database, so neither needs a
# connection: a bookkeeper whose Autotask secret is missing can still dismiss a posting they
# recorded by hand.

_ACTIONABLE = (PostingState.FAILED, PostingState.PENDING, PostingState.WAITING)


def failing_posting_ids(engine: Engine, payment_ids: Sequence[int]) -> list[int]:
    """The postings of these payments that are failing — failed, or waiting to be retried
    after an error — in one query, oldest first. These are what Retry and Dismiss act on."""
    ids = list(dict.fromkeys(payment_ids))
    if not ids:
        return []
    with session_scope(engine) as session:
        return list(
            session.scalars(
                select(Posting.id)
                .where(Posting.payment_id.in_(ids), Posting.state.in_(_ACTIONABLE),
                       Posting.last_error.is_not(None))
                .order_by(Posting.id)
            )
        )


def retry_postings(
    engine: Engine,
    posting_ids: Sequence[int],
    *,
    actor: str | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> int:
    """Put failed (or retrying) postings back in the queue, due now, with a fresh count of
    attempts; returns how many were re-queued. Delivery is the outbox's job
    (:meth:`PostingOutbox.deliver`), whenever Autotask can be reached."""
    who = actor or current_actor()
    count = 0
    with session_scope(engine) as session:
        for posting in session.scalars(
            select(Posting).where(Posting.id.in_(list(posting_ids)),
                                  Posting.state.in_(_ACTIONABLE))
        ):
            posting.state = PostingState.PENDING
            posting.next_attempt_at = clock()
            posting.attempts = 0
            audit(session, actor=who, action="posting.retry",
                  subject_type="payment", subject_id=posting.payment_id or "",
                  details={"posting": posting.key})
            count += 1
    return count


def dismiss_postings(
    engine: Engine, posting_ids: Sequence[int], reason: str = "", *, actor: str | None = None
) -> int:
    """Stop trying to deliver these postings (someone recorded them in Autotask by hand);
    they stay visible as dismissed. Returns how many were dismissed."""
    who = actor or current_actor()
    count = 0
    with session_scope(engine) as session:
        for posting in session.scalars(
            select(Posting).where(Posting.id.in_(list(posting_ids)),
                                  Posting.state.in_(_ACTIONABLE))
        ):
            posting.state = PostingState.DISMISSED
            posting.next_attempt_at = None
            audit(session, actor=who, action="posting.dismissed",
                  subject_type="payment", subject_id=posting.payment_id or "",
                  details={"posting": posting.key, "reason": reason})
            count += 1
    return count
