"""The outbox worker: delivers queued postings to Autotask, each exactly once.

A posting is queued in the transaction that records a payment or a refund
(:mod:`app.core.posting.queue`). :meth:`PostingOutbox.deliver_due` then, for each posting
that is due, oldest first:

1. **claims** it — one conditional UPDATE moves it to ``delivering`` with a lease, so two
   seats never deliver the same posting at once — and commits;
2. for a note, **looks for it in Autotask** by the payment's reference first: if a crash or a
   lost answer hid an earlier delivery, that note is adopted instead of created again;
3. creates the note or PATCHes the invoice's ``paidDate`` (PATCH is idempotent);
4. records ``delivered`` with Autotask's id.

Failures are retried with exponential backoff (30 s, 1 min, 2 min … up to an hour); after
``max_attempts`` — or at once when Autotask refuses the content itself — the posting is
``failed``: shown under "Failing to post" with Autotask's message, until a person retries
or dismisses it (:func:`retry_postings`, :func:`dismiss_postings` — neither needs Autotask;
:func:`failing_posting_ids` finds what they act on).

Threads: ``deliver_due`` blocks on the network; run it on a worker thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Engine, and_, or_, select, update
from sqlalchemy.orm import Session

from app.core.autotask.errors import AutotaskError, AutotaskValidationError
from app.core.clock import utcnow
from app.core.config import current_actor
from app.core.invoice_state import recompute_invoices
from app.core.posting.queue import NOTE_ACTION_GENERAL, PostingTarget
from app.core.storage.engine import session_scope
from app.core.storage.models import AuditEntry, Invoice, Posting

__all__ = [
    "AutotaskPoster",
    "DeliveryReport",
    "PostingOutbox",
    "PostingState",
    "backoff_delay",
    "dismiss_postings",
    "failing_posting_ids",
    "retry_postings",
]

log = logging.getLogger(__name__)


class PostingState:
    PENDING = "pending"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    FAILED = "failed"
    DISMISSED = "dismissed"

    LABELS: Mapping[str, str] = {
        "pending": "Waiting to post",
        "delivering": "Posting",
        "delivered": "Posted",
        "failed": "Failing to post",
        "dismissed": "Dismissed",
    }


class AutotaskPoster(Protocol):
    """What the outbox needs from :class:`app.core.autotask.AutotaskClient`."""

    def find_company_notes(
        self, company_id: int, text: str, *, in_field: str = "description"
    ) -> list[dict[str, Any]]: ...

    def create_note(self, company_id: int, fields: Mapping[str, Any]) -> int: ...

    def patch(self, entity: str, record_id: int, changes: Mapping[str, Any]) -> int: ...


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0

    @property
    def summary(self) -> str:
        return (
            f"{self.delivered} posted to Autotask, {self.retrying} will be retried, "
            f"{self.failed} failing."
        )


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


class PostingOutbox:
    """Delivers postings for one database to one Autotask connection."""

    def __init__(
        self,
        engine: Engine,
        autotask: AutotaskPoster,
        *,
        max_attempts: int = 8,
        actor: str | None = None,
        checkpoint: Callable[[str], None] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.autotask = autotask
        self.max_attempts = max_attempts
        self.actor = actor or current_actor()
        self._checkpoint = checkpoint
        self._clock = clock

    def _step(self, name: str) -> None:
        if self._checkpoint is not None:
            self._checkpoint(name)

    # --- delivery -----------------------------------------------------------------------
    def due_ids(self, *, now: datetime | None = None, reclaim: bool = False,
                limit: int = 100) -> list[int]:
        """Postings due now, oldest first. ``reclaim`` also takes postings left
        ``delivering`` by a crash before their lease ran out (safe: a note is looked up
        before it is created again)."""
        now = now or self._clock()
        stuck = Posting.state == PostingState.DELIVERING
        if not reclaim:
            stuck = and_(stuck, Posting.next_attempt_at <= now)
        with session_scope(self.engine) as session:
            return list(
                session.scalars(
                    select(Posting.id)
                    .where(
                        or_(
                            and_(Posting.state == PostingState.PENDING,
                                 or_(Posting.next_attempt_at.is_(None),
                                     Posting.next_attempt_at <= now)),
                            stuck,
                        )
                    )
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
        delivered = retrying = failed = skipped = 0
        for posting_id in self.due_ids(now=now, reclaim=reclaim, limit=limit):
            if cancel is not None and cancel():
                break
            result = self.deliver(posting_id, reclaim=reclaim)
            if result == PostingState.DELIVERED:
                delivered += 1
            elif result == PostingState.PENDING:
                retrying += 1
            elif result == PostingState.FAILED:
                failed += 1
            else:
                skipped += 1
        return DeliveryReport(delivered, retrying, failed, skipped)

    def _claim(self, posting_id: int, *, reclaim: bool) -> dict[str, Any] | None:
        now = self._clock()
        claimable = or_(
            Posting.state == PostingState.PENDING,
            and_(Posting.state == PostingState.DELIVERING,
                 Posting.next_attempt_at <= now) if not reclaim
            else Posting.state == PostingState.DELIVERING,
        )
        with session_scope(self.engine) as session:
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
            return {
                "target": posting.target,
                "key": posting.key,
                "payload": dict(posting.payload),
                "attempts": posting.attempts,
                "invoice_id": posting.invoice_id,
            }

    def deliver(self, posting_id: int, *, reclaim: bool = False) -> str:
        """Deliver one posting now (if nobody else is); returns its new state."""
        claim = self._claim(posting_id, reclaim=reclaim)
        if claim is None:
            return "skipped"
        self._step("posting.claimed")
        try:
            if claim["target"] == PostingTarget.AUTOTASK_NOTE.value:
                remote_id = self._deliver_note(claim["payload"])
            elif claim["target"] == PostingTarget.AUTOTASK_PAID_DATE.value:
                remote_id = self._deliver_paid_date(posting_id, claim["payload"])
            else:
                return self._give_up(posting_id, f"PayDesk cannot post {claim['target']}.",
                                     claim["attempts"], permanent=True)
        except AutotaskValidationError as exc:
            return self._give_up(posting_id, exc.message, claim["attempts"], permanent=True)
        except AutotaskError as exc:
            return self._give_up(posting_id, exc.message, claim["attempts"], permanent=False)
        except Exception as exc:  # a bug or an unexpected answer: keep it visible, retry later
            log.exception("posting %s could not be delivered", posting_id)
            return self._give_up(
                posting_id,
                f"PayDesk could not post this ({type(exc).__name__}). It will try again; "
                "if this keeps happening, send the log to support.",
                claim["attempts"],
                permanent=False,
            )
        self._step("posting.sent")
        with session_scope(self.engine) as session:
            posting = session.get(Posting, posting_id, populate_existing=True)
            assert posting is not None
            posting.state = PostingState.DELIVERED
            posting.remote_id = remote_id
            posting.delivered_at = self._clock()
            posting.next_attempt_at = None
            posting.last_error = None
            audit(session, actor=self.actor, action="posting.delivered",
                  subject_type="payment", subject_id=posting.payment_id or "",
                  details={"posting": posting.key, "remote_id": remote_id})
        return PostingState.DELIVERED

    def _deliver_note(self, payload: Mapping[str, Any]) -> str:
        company_id = int(payload["company_id"])
        marker = str(payload["marker"])
        for note in self.autotask.find_company_notes(company_id, marker):
            text = str(note.get("description") or "")
            # The marker is followed by a newline: "Payment PD-1" never matches "Payment PD-12".
            if text == marker or text.startswith(marker + "\n"):
                return str(note.get("id"))
        fields: dict[str, Any] = {
            "actionType": NOTE_ACTION_GENERAL,
            "title": str(payload["title"])[:250],
            "description": str(payload["description"]),
        }
        if payload.get("contact_id"):
            fields["contactID"] = int(payload["contact_id"])
        return str(self.autotask.create_note(company_id, fields))

    def _deliver_paid_date(self, posting_id: int, payload: Mapping[str, Any]) -> str:
        invoice_id = int(payload["invoice_id"])
        with session_scope(self.engine) as session:
            newer = session.scalar(
                select(Posting.id).where(
                    Posting.target == PostingTarget.AUTOTASK_PAID_DATE.value,
                    Posting.invoice_id == invoice_id,
                    Posting.id > posting_id,
                    Posting.state.in_((PostingState.PENDING, PostingState.DELIVERING,
                                       PostingState.FAILED)),
                )
            )
        if newer is not None:
            # A later payment or refund decides this invoice's paidDate; sending this older
            # value first would only be overwritten (or, out of order, win wrongly).
            return "superseded"
        value = payload.get("paid_date")
        self.autotask.patch("Invoices", invoice_id, {"paidDate": value})
        if value is not None:
            # Keep the local mirror as the next sync will find it (paidDate set).
            with session_scope(self.engine) as session:
                invoice = session.get(Invoice, invoice_id)
                if invoice is not None and invoice.paid_date is None:
                    invoice.paid_date = date.fromisoformat(str(value))
                    session.flush()
                    recompute_invoices(session, [invoice_id])
        return str(invoice_id)

    def _give_up(self, posting_id: int, message: str, attempts: int, *, permanent: bool) -> str:
        now = self._clock()
        with session_scope(self.engine) as session:
            posting = session.get(Posting, posting_id, populate_existing=True)
            assert posting is not None
            posting.last_error = message
            if permanent or attempts >= self.max_attempts:
                posting.state = PostingState.FAILED
                posting.next_attempt_at = None
                audit(session, actor=self.actor, action="posting.failed",
                      subject_type="payment", subject_id=posting.payment_id or "",
                      details={"posting": posting.key, "error": message,
                               "attempts": attempts})
            else:
                posting.state = PostingState.PENDING
                posting.next_attempt_at = now + backoff_delay(attempts)
            return posting.state

    # --- people's actions ---------------------------------------------------------------
    def retry(self, posting_ids: Sequence[int]) -> int:
        """Try failed postings again now; returns how many were re-queued."""
        return retry_postings(self.engine, posting_ids, actor=self.actor, clock=self._clock)

    def dismiss(self, posting_ids: Sequence[int], reason: str = "") -> int:
        """Stop trying (someone recorded it in Autotask by hand); kept visible as dismissed."""
        return dismiss_postings(self.engine, posting_ids, reason, actor=self.actor)


# --- people's actions, without Autotask --------------------------------------------------
# Re-queueing or dismissing a posting only changes the local database, so neither needs an
# Autotask connection: a bookkeeper whose Autotask secret is missing can still dismiss a
# posting they recorded by hand.

_ACTIONABLE = (PostingState.FAILED, PostingState.PENDING)


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
