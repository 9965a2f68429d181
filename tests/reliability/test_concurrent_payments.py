"""Two seats sharing one database pay the same invoice at the same moment: exactly one
payment goes through, the other is refused with a clear message, nothing is overpaid and the
gateway is charged once — for Stripe and for Authorize.Net. Each seat has its own engine (its
own connections), as two PayDesk computers sharing a PostgreSQL server do; the same holds on
SQLite.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from app.core.payments import PaymentOutcome, PaymentPipeline, PaymentRefused, PaymentState
from app.core.storage.engine import open_database
from tests.integration.payments.support import PayWorld, pay_world


@pytest.fixture
def world(engine: Engine, gateway_key: str) -> Iterator[PayWorld]:
    with pay_world(engine, ["500.00"], gateway_key) as w:
        yield w


@pytest.fixture
def second_seat(world: PayWorld) -> Iterator[Engine]:
    url = make_url(str(world.engine.url.render_as_string(hide_password=False)))
    other = open_database(url.render_as_string(hide_password=False), migrate=False)
    try:
        yield other
    finally:
        other.dispose()


def test_two_seats_pay_the_same_invoice_at_once(world: PayWorld, second_seat: Engine) -> None:
    invoice = world.invoice_ids[0]
    request = world.request([invoice])  # both seats show the full balance and press Pay
    seats = [
        PaymentPipeline(world.engine, world.gateway, actor="dana@seat-1"),
        PaymentPipeline(second_seat, world.gateway, actor="lee@seat-2"),
    ]
    start = threading.Barrier(2)
    results: list[PaymentOutcome | PaymentRefused] = []
    lock = threading.Lock()

    def pay(pipeline: PaymentPipeline) -> None:
        start.wait()
        try:
            outcome: PaymentOutcome | PaymentRefused = pipeline.pay(request)
        except PaymentRefused as refused:
            outcome = refused
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=pay, args=(seat,)) for seat in seats]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    approved = [r for r in results if isinstance(r, PaymentOutcome)]
    refused = [r for r in results if isinstance(r, PaymentRefused)]
    assert len(approved) == 1 and len(refused) == 1
    assert approved[0].state is PaymentState.SUCCEEDED
    assert "still running" in refused[0].message or "is owed" in refused[0].message \
        or "already paid" in refused[0].message
    assert world.balances()[invoice] == 0
    assert len(world.charges(approved[0].reference)) == 1
    world.ledger_is_consistent()


def test_second_seat_waits_for_the_first_and_is_refused(
    world: PayWorld, second_seat: Engine
) -> None:
    """Seat 1 holds the invoice's lock mid-transaction; seat 2's attempt must wait for it
    (not read the old balance) and, once seat 1 commits, be refused."""
    invoice = world.invoice_ids[0]
    request = world.request([invoice], amount="300.00")
    other_request = world.request([invoice], amount="300.00")
    holding = threading.Event()
    release = threading.Event()

    def pause(step: str) -> None:
        if step == "payment.reserving":
            holding.set()
            release.wait(30)

    first = PaymentPipeline(world.engine, world.gateway, actor="dana@seat-1", checkpoint=pause)
    second = PaymentPipeline(second_seat, world.gateway, actor="lee@seat-2")
    created: list[int] = []
    second_result: list[BaseException | int] = []

    def seat_one() -> None:
        created.append(first.create(request))

    def seat_two() -> None:
        try:
            second_result.append(second.create(other_request))
        except BaseException as exc:
            second_result.append(exc)

    one = threading.Thread(target=seat_one)
    one.start()
    assert holding.wait(30)
    two = threading.Thread(target=seat_two)
    two.start()
    time.sleep(0.5)
    assert second_result == [], "seat 2 read the invoice while seat 1 held its lock"
    release.set()
    one.join(30)
    two.join(30)

    assert len(created) == 1
    assert len(second_result) == 1 and isinstance(second_result[0], PaymentRefused)
    assert "still running" in second_result[0].message
    outcome = first.submit(created[0])
    assert outcome.state is PaymentState.SUCCEEDED
    assert world.balances()[invoice] == 20000


def test_submitting_one_payment_twice_at_once_charges_once(
    world: PayWorld, second_seat: Engine
) -> None:
    """A double click, or the same payment sent from two windows: one charge."""
    invoice = world.invoice_ids[0]
    payment_id = world.pipeline.create(world.request([invoice]))
    seats = [PaymentPipeline(world.engine, world.gateway, actor="dana@seat-1"),
             PaymentPipeline(second_seat, world.gateway, actor="dana@seat-1")]
    start = threading.Barrier(2)
    outcomes: list[PaymentOutcome] = []

    def submit(pipeline: PaymentPipeline) -> None:
        start.wait()
        outcomes.append(pipeline.submit(payment_id))

    threads = [threading.Thread(target=submit, args=(seat,)) for seat in seats]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert len(outcomes) == 2
    reference = outcomes[0].reference
    assert len(world.charges(reference)) == 1
    final = PaymentPipeline(world.engine, world.gateway).resolve(payment_id)
    assert final.state is PaymentState.SUCCEEDED
    assert world.balances()[invoice] == 0
