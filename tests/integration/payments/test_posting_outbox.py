"""The outbox against the Autotask sandbox: backoff on a failing server, a refused note shown
as failing until someone retries or dismisses it, and nothing ever posted twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from app.core.clock import utcnow
from app.core.payments import (
    PostingStatus,
    TransactionFilter,
    payment_detail,
    transaction_ids,
    transaction_rows,
)
from app.core.posting import backoff_delay
from app.core.storage.engine import session_scope
from app.core.storage.models import Posting
from tests.integration.payments.support import PayWorld, pay_world


@pytest.fixture
def world(sqlite_engine: Engine, gateway_key: str) -> Iterator[PayWorld]:
    with pay_world(sqlite_engine, ["500.00", "250.00"], gateway_key) as w:
        yield w


def _note_posting(world: PayWorld, payment_id: int) -> Posting:
    with session_scope(world.engine) as s:
        posting = s.scalars(select(Posting).where(Posting.payment_id == payment_id,
                                                  Posting.target == "autotask_note")).one()
        return posting


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff_delay(30) == timedelta(hours=1)


def test_a_failing_server_is_retried_later(world: PayWorld) -> None:
    outcome = world.pipeline.pay(world.request([world.invoice_ids[0]], amount="100.00"))
    world.autotask.fail_next(status=503, path_contains="/Notes", method="POST")

    report = world.outbox.deliver_due()

    assert report.retrying == 1 and report.delivered == 0
    posting = _note_posting(world, outcome.payment_id)
    assert posting.state == "pending" and posting.attempts == 1 and posting.last_error
    assert posting.next_attempt_at is not None
    assert posting.next_attempt_at - utcnow() > timedelta(seconds=20)
    assert list(transaction_ids(world.engine, filter=TransactionFilter.FAILING_TO_POST)) == [
        outcome.payment_id]
    assert world.outbox.deliver_due().delivered == 0  # not due yet

    later = world.outbox.deliver_due(now=utcnow() + timedelta(seconds=31))

    assert later.delivered == 1
    assert len(world.notes_for(f"Payment {outcome.reference}")) == 1
    assert list(transaction_ids(world.engine, filter=TransactionFilter.FAILING_TO_POST)) == []
    row = transaction_rows(world.engine, [outcome.payment_id])[0]
    assert row.posting_status is PostingStatus.POSTED


def test_a_refused_note_fails_until_retried(world: PayWorld) -> None:
    outcome = world.pipeline.pay(world.request([world.invoice_ids[0]], amount="100.00"))
    world.autotask.fail_next(status=500, message="The note's title is too long.",
                             path_contains="/Notes", method="POST")

    report = world.outbox.deliver_due()

    assert report.failed == 1
    detail = payment_detail(world.engine, outcome.payment_id)
    assert detail is not None and detail.posting_status is PostingStatus.FAILING
    failing = [p for p in detail.postings if p.state == "failed"]
    assert len(failing) == 1 and failing[0].can_retry
    assert "title is too long" in (failing[0].last_error or "")
    row = transaction_rows(world.engine, [outcome.payment_id])[0]
    assert row.posting_status is PostingStatus.FAILING
    assert world.outbox.deliver_due().delivered == 0  # failed postings wait for a person

    assert world.outbox.retry([failing[0].posting_id]) == 1
    assert world.outbox.deliver_due().delivered == 1
    assert len(world.notes_for(f"Payment {outcome.reference}")) == 1
    detail = payment_detail(world.engine, outcome.payment_id)
    assert detail is not None and detail.posting_status is PostingStatus.POSTED
    assert "posting.retry" in [h.action for h in detail.history]


def test_a_dismissed_posting_is_never_sent(world: PayWorld) -> None:
    outcome = world.pipeline.pay(world.request([world.invoice_ids[0]], amount="100.00"))
    world.autotask.fail_next(status=500, message="Company is inactive.",
                             path_contains="/Notes", method="POST")
    world.outbox.deliver_due()
    posting = _note_posting(world, outcome.payment_id)

    assert world.outbox.dismiss([posting.id], "Recorded by hand in Autotask") == 1

    assert world.outbox.deliver_due(now=utcnow() + timedelta(days=1)).delivered == 0
    assert world.notes_for(f"Payment {outcome.reference}") == []
    detail = payment_detail(world.engine, outcome.payment_id)
    assert detail is not None and detail.posting_status is PostingStatus.DISMISSED


def test_a_note_already_in_autotask_is_adopted_not_duplicated(world: PayWorld) -> None:
    """A note that reached Autotask while PayDesk lost the answer: found by its reference."""
    outcome = world.pipeline.pay(world.request([world.invoice_ids[0]], amount="100.00"))
    posting = _note_posting(world, outcome.payment_id)
    from tests.integration.payments.support import autotask_client

    note_id = autotask_client(world.autotask).create_note(world.company_id, {
        "actionType": 1, "title": posting.payload["title"],
        "description": posting.payload["description"]})

    world.outbox.deliver_due()

    assert len(world.notes_for(f"Payment {outcome.reference}")) == 1
    assert _note_posting(world, outcome.payment_id).remote_id == str(note_id)
