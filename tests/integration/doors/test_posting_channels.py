"""The posting-channel door: a new channel is one module with rules and a deliverer,
registered once. Shown with a test-only "ledger book" channel over a real payment: its
postings are queued in the payment's transaction beside Autotask's, delivered exactly once
by the same outbox, held while the channel says "not yet", and — as a pull channel — claimed
and acknowledged with the same Retry / Dismiss."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from types import MappingProxyType
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.core.clock import utcnow
from app.core.credentials import CredentialStore
from app.core.payments import PostingStatus, payment_detail
from app.core.posting import (
    PostingOutbox,
    acknowledge,
    claim_due,
    report_failure,
    retry_postings,
)
from app.core.posting.autotask_channel import AutotaskDeliverer
from app.core.posting.channels import (
    ChannelDelivery,
    ClaimedPosting,
    LedgerFact,
    NewPosting,
    PaymentRecorded,
    PostingError,
    PostingErrorKind,
    PostingWaiting,
    RefundRecorded,
    register_channel,
    unregister_channel,
)
from app.core.storage.engine import session_scope
from app.core.storage.models import Posting
from tests.integration.payments.support import PayWorld, autotask_client, pay_world


class BookChannel:
    """A test-only accounting book: one entry per payment and per refund."""

    label = "Test Book"
    targets: Mapping[str, str] = MappingProxyType({"book_entry": "Test Book entry"})

    def __init__(self, name: str, delivery: ChannelDelivery, *, connected: bool = True) -> None:
        self.name = name
        self.delivery = delivery
        self.connected = connected

    def is_connected(self, session: Session) -> bool:
        return self.connected

    def postings_for(self, session: Session, fact: LedgerFact) -> Sequence[NewPosting]:
        if isinstance(fact, PaymentRecorded):
            key, amount = f"book:{fact.payment_id}", sum(a for _, a in fact.allocations)
        elif isinstance(fact, RefundRecorded):
            key, amount = f"book:refund:{fact.refund_id}", -sum(a for _, a in fact.allocations)
        else:
            return []
        balances = {c.invoice_id: c.balance_after_minor for c in fact.invoices}
        return [NewPosting(target="book_entry", key=f"{self.name}:{key}",
                           payload={"amount": amount, "balances": {str(k): v for k, v in
                                                                   balances.items()}},
                           payment_id=fact.payment_id)]

    def open_deliverer(self, engine: Engine, credentials: CredentialStore) -> Any:
        return None

    def describe_missing(self, engine: Engine, credentials: CredentialStore) -> str | None:
        return "The test book is not open."


class BookDeliverer:
    """Writes entries into a list; ``lose_next`` applies an entry and then loses the answer,
    ``hold`` says the entry cannot go yet."""

    def __init__(self) -> None:
        self.entries: dict[str, dict[str, Any]] = {}
        self.lose_next = False
        self.hold: str | None = None
        self.created = 0

    def find_existing(self, posting: ClaimedPosting) -> str | None:
        return posting.key if posting.key in self.entries else None

    def deliver(self, posting: ClaimedPosting) -> str:
        if self.hold:
            raise PostingWaiting(self.hold, timedelta(minutes=1))
        self.entries[posting.key] = dict(posting.payload)
        self.created += 1
        if self.lose_next:
            self.lose_next = False
            raise TimeoutError("the answer was lost")
        return posting.key

    def classify(self, error: Exception) -> PostingError:
        return PostingError(PostingErrorKind.RETRY, f"The test book did not answer ({error}).")


@pytest.fixture
def world(sqlite_engine: Engine) -> Iterator[PayWorld]:
    with pay_world(sqlite_engine, ["500.00", "250.00"]) as w:
        yield w


@pytest.fixture
def push_book() -> Iterator[BookChannel]:
    channel = BookChannel("test_book", ChannelDelivery.PUSH)
    register_channel(channel)
    yield channel
    unregister_channel(channel.name)


def _book_postings(engine: Engine, channel: str) -> list[Posting]:
    with session_scope(engine) as s:
        return list(s.scalars(select(Posting).where(Posting.channel == channel)
                              .order_by(Posting.id)))


def test_a_new_push_channel_gets_postings_in_the_payment_transaction_and_is_delivered_once(
    world: PayWorld, push_book: BookChannel
) -> None:
    outcome = world.pipeline.pay(world.request([world.invoice_ids[0]], amount="100.00"))

    postings = _book_postings(world.engine, "test_book")
    assert [(p.target, p.payload["amount"]) for p in postings] == [("book_entry", 10000)]
    assert postings[0].payload["balances"] == {str(world.invoice_ids[0]): 40000}

    book = BookDeliverer()
    book.lose_next = True
    outbox = PostingOutbox(world.engine, {
        "autotask": AutotaskDeliverer(world.engine, autotask_client(world.autotask)),
        "test_book": book,
    })
    first = outbox.deliver_due()
    assert first.delivered == 1 and first.retrying == 1  # Autotask's note; the book lost it
    assert "Test Book" in first.summary

    later = outbox.deliver_due(now=utcnow() + timedelta(minutes=1))
    assert later.delivered == 1
    assert book.created == 1  # found by its key, never entered twice
    detail = payment_detail(world.engine, outcome.payment_id)
    assert detail is not None and detail.posting_status is PostingStatus.POSTED
    assert {p.channel_label for p in detail.postings} == {"Autotask", "Test Book"}
    assert [p.target_label for p in detail.postings if p.channel_label == "Test Book"] == [
        "Test Book entry"]


def test_a_channel_that_is_not_connected_queues_nothing(
    world: PayWorld, push_book: BookChannel
) -> None:
    push_book.connected = False
    world.pipeline.pay(world.request([world.invoice_ids[0]], amount="100.00"))
    assert _book_postings(world.engine, "test_book") == []
    assert [t for t, _, _ in world.postings()] == ["autotask_note"]


def test_a_posting_that_cannot_go_yet_waits_with_its_reason_without_failing(
    world: PayWorld, push_book: BookChannel
) -> None:
    outcome = world.pipeline.pay(world.request([world.invoice_ids[0]], amount="100.00"))
    book = BookDeliverer()
    book.hold = "Invoice 1045 is not matched in the test book yet."
    outbox = PostingOutbox(world.engine, {"test_book": book})

    report = outbox.deliver_due()

    assert report.waiting == 1 and report.failed == 0
    [posting] = _book_postings(world.engine, "test_book")
    assert posting.state == "waiting" and posting.attempts == 0
    assert posting.waiting_reason == book.hold and posting.last_error is None
    detail = payment_detail(world.engine, outcome.payment_id)
    assert detail is not None and detail.posting_status is PostingStatus.PENDING
    assert [p.waiting_reason for p in detail.postings if p.channel_label == "Test Book"] == [
        book.hold]

    book.hold = None
    assert outbox.deliver_due().delivered == 0  # not due again yet
    assert outbox.deliver_due(now=utcnow() + timedelta(minutes=2)).delivered == 1


def test_a_refund_is_a_fact_the_channel_turns_into_its_own_posting(
    world: PayWorld, push_book: BookChannel
) -> None:
    outcome = world.pipeline.pay(world.request([world.invoice_ids[0]], amount="100.00"))
    world.pipeline.refund(outcome.payment_id, None, "Paid twice by mistake")
    amounts = [p.payload["amount"] for p in _book_postings(world.engine, "test_book")]
    assert amounts == [10000, -10000]


def test_a_pull_channel_claims_acknowledges_and_retries_with_the_same_guarantees(
    world: PayWorld,
) -> None:
    channel = BookChannel("test_pull_book", ChannelDelivery.PULL)
    register_channel(channel)
    try:
        outcome = world.pipeline.pay(world.request([world.invoice_ids[0]], amount="100.00"))
        # The outbox never delivers a pull channel's postings.
        assert PostingOutbox(world.engine, {}).deliver_due().delivered == 0

        [claim] = claim_due(world.engine, "test_pull_book")
        assert claim.attempts == 1 and not claim.tried_before
        assert claim_due(world.engine, "test_pull_book") == []  # leased: nobody else takes it

        state = report_failure(world.engine, claim.id, PostingError(
            PostingErrorKind.NEEDS_PERSON, "The books are closed for that period."))
        assert state == "failed"
        detail = payment_detail(world.engine, outcome.payment_id)
        assert detail is not None and detail.posting_status is PostingStatus.FAILING

        assert retry_postings(world.engine, [claim.id]) == 1
        [again] = claim_due(world.engine, "test_pull_book")
        assert again.tried_before  # an earlier attempt may have landed: look before adding
        acknowledge(world.engine, again.id, "TXN-1")
        [posting] = _book_postings(world.engine, "test_pull_book")
        assert posting.state == "delivered" and posting.remote_id == "TXN-1"
    finally:
        unregister_channel(channel.name)


def test_a_claim_left_alone_is_taken_again_once_its_lease_runs_out(
    world: PayWorld,
) -> None:
    channel = BookChannel("test_pull_book", ChannelDelivery.PULL)
    register_channel(channel)
    try:
        world.pipeline.pay(world.request([world.invoice_ids[0]], amount="100.00"))
        [claim] = claim_due(world.engine, "test_pull_book")
        assert claim_due(world.engine, "test_pull_book",
                         clock=lambda: utcnow() + timedelta(seconds=30)) == []
        [again] = claim_due(world.engine, "test_pull_book",
                            clock=lambda: utcnow() + timedelta(minutes=3))
        assert again.id == claim.id and again.tried_before
    finally:
        unregister_channel(channel.name)
