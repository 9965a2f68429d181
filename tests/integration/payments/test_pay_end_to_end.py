"""End to end over HTTP: the sandbox Autotask synced into a real database, the gateway's
adapter against its stand-in — every test for Stripe and for Authorize.Net, unless it is about
something only one of them has — the pipeline, and the outbox posting back to Autotask."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from app.core.clock import utcnow
from app.core.payments import PaymentRefused, PaymentState, payment_detail
from app.core.storage.engine import session_scope
from app.core.storage.models import Payment
from tests.integration.payments.support import (
    PayWorld,
    add_bank_account,
    autotask_invoice,
    pay_world,
    usd,
)

AMOUNTS = ["500.00", "250.00", "120.50"]


@pytest.fixture
def world(sqlite_engine: Engine, gateway_key: str) -> Iterator[PayWorld]:
    with pay_world(sqlite_engine, AMOUNTS, gateway_key) as w:
        yield w


@pytest.fixture
def any_world(engine: Engine, gateway_key: str) -> Iterator[PayWorld]:
    """The same world on SQLite and on PostgreSQL."""
    with pay_world(engine, AMOUNTS, gateway_key) as w:
        yield w


@pytest.fixture
def stripe_world(sqlite_engine: Engine) -> Iterator[PayWorld]:
    """For what only Stripe has (idempotency keys replayed, refunds pending at the gateway,
    a hosted page that can be withdrawn)."""
    with pay_world(sqlite_engine, AMOUNTS, "stripe") as w:
        yield w


def test_pay_one_invoice_in_full(any_world: PayWorld) -> None:
    world = any_world
    first = world.invoice_ids[0]
    outcome = world.pipeline.pay(world.request([first]))

    assert outcome.state is PaymentState.SUCCEEDED
    assert outcome.total == usd("500.00")
    assert outcome.method_summary == world.kit.summaries["approve"]
    assert outcome.gateway_transaction_id
    assert world.balances()[first] == 0
    assert world.statuses()[first] == "paid"
    assert len(world.charges(outcome.reference)) == 1

    report = world.outbox.deliver_due()
    assert report.delivered == 2  # the note and the paidDate
    notes = world.notes_for(f"Payment {outcome.reference}")
    assert len(notes) == 1
    text = notes[0]["description"]
    assert "$500.00" in text and world.kit.summaries["approve"] in text
    assert str(outcome.gateway_transaction_id) in text
    assert world.paid_date_patches(first) == [autotask_invoice(world, first)["paidDate"]]
    assert autotask_invoice(world, first)["paidDate"]
    world.ledger_is_consistent()

    detail = payment_detail(world.engine, outcome.payment_id)
    assert detail is not None
    assert [h.action for h in detail.history][:3] == [
        "payment.created", "payment.submitted", "payment.succeeded"]
    assert all(p.state == "delivered" for p in detail.postings)

    # Delivering again sends nothing more.
    assert world.outbox.deliver_due().delivered == 0
    assert len(world.notes_for(f"Payment {outcome.reference}")) == 1


def test_pay_part_of_one_invoice(world: PayWorld) -> None:
    first = world.invoice_ids[0]
    outcome = world.pipeline.pay(world.request([first], amount="200.00"))

    assert outcome.state is PaymentState.SUCCEEDED
    assert world.balances()[first] == 30000
    assert world.statuses()[first] == "partially_paid"
    world.outbox.deliver_due()
    assert len(world.notes_for(f"Payment {outcome.reference}")) == 1
    assert world.paid_date_patches(first) == []  # not fully paid: paidDate untouched


def test_pay_several_invoices_with_an_edited_allocation(world: PayWorld) -> None:
    first, second, third = world.invoice_ids
    request = world.request(world.invoice_ids, amount="600.00", edits={second: "100.00"})
    assert dict(request.allocations) == {first: usd("500.00"), second: usd("100.00")}

    outcome = world.pipeline.pay(request)

    assert outcome.state is PaymentState.SUCCEEDED
    assert world.balances() == {first: 0, second: 15000, third: 12050}
    world.outbox.deliver_due()
    text = world.notes_for(f"Payment {outcome.reference}")[0]["description"]
    for number in (autotask_invoice(world, i)["invoiceNumber"] for i in (first, second)):
        assert f"Invoice {number}" in text
    assert world.paid_date_patches(first) and not world.paid_date_patches(second)
    world.ledger_is_consistent()


def test_declined_then_another_method(world: PayWorld) -> None:
    first = world.invoice_ids[0]
    declined = world.pipeline.pay(world.request([first], method="decline"))

    assert declined.state is PaymentState.DECLINED
    assert declined.decline_reason and "declined" in declined.decline_reason.lower()
    assert world.balances()[first] == 50000
    assert world.postings() == []

    approved = world.pipeline.pay(world.request([first], method="approve_mastercard"))
    assert approved.state is PaymentState.SUCCEEDED
    assert approved.method_summary == world.kit.summaries["approve_mastercard"]
    assert world.balances()[first] == 0


def test_bank_debit_processing_then_settled(world: PayWorld) -> None:
    first = world.invoice_ids[0]
    bank = add_bank_account(world)
    outcome = world.pipeline.pay(world.request([first], method_id=bank))

    assert outcome.state is PaymentState.PROCESSING
    assert world.balances()[first] == 0  # money on its way is not owed twice
    assert world.postings() == []  # Autotask hears of it once it settles

    world.kit.settle_bank_debit(world.charges(outcome.reference)[0], succeed=True)
    settled = world.pipeline.follow_up(outcome.payment_id)

    assert settled.state is PaymentState.SUCCEEDED
    assert {t for t, _, _ in world.postings()} == {"autotask_note", "autotask_paid_date"}


def test_bank_debit_returned_reopens_the_invoice(world: PayWorld) -> None:
    first = world.invoice_ids[0]
    bank = add_bank_account(world)
    outcome = world.pipeline.pay(world.request([first], method_id=bank))
    world.kit.settle_bank_debit(world.charges(outcome.reference)[0], succeed=False)

    returned = world.pipeline.follow_up(outcome.payment_id)

    assert returned.state is PaymentState.RETURNED
    assert world.balances()[first] == 50000
    assert world.postings() == []


def test_unsettled_bank_debit_is_voided_not_refunded(world: PayWorld) -> None:
    first = world.invoice_ids[0]
    bank = add_bank_account(world)
    outcome = world.pipeline.pay(world.request([first], method_id=bank))

    with pytest.raises(PaymentRefused, match="only be voided in full"):
        world.pipeline.refund(outcome.payment_id, usd("10.00"), "Client asked")
    voided = world.pipeline.refund(outcome.payment_id, None, "Client asked")

    assert voided.kind == "void" and voided.done
    assert voided.payment_state is PaymentState.VOIDED
    assert world.balances()[first] == 50000


def test_refund_partial_then_full(world: PayWorld) -> None:
    first = world.invoice_ids[0]
    paid = world.pipeline.pay(world.request([first]))
    world.kit.settle_batch()  # the card payment settles (Authorize.Net refunds only then)
    world.outbox.deliver_due()
    assert autotask_invoice(world, first)["paidDate"]

    with pytest.raises(PaymentRefused, match="reason"):
        world.pipeline.refund(paid.payment_id, usd("100.00"), "  ")
    partial = world.pipeline.refund(paid.payment_id, usd("100.00"), "Service credit")

    assert partial.done and partial.payment_state is PaymentState.PARTIALLY_REFUNDED
    assert world.balances()[first] == 10000
    assert world.statuses()[first] == "partially_paid"
    world.outbox.deliver_due()
    reversal = world.notes_for(f"Refund {partial.reference}")
    assert len(reversal) == 1 and paid.reference in reversal[0]["description"]
    assert autotask_invoice(world, first)["paidDate"] is None

    with pytest.raises(PaymentRefused, match="At most"):
        world.pipeline.refund(paid.payment_id, usd("400.01"), "Too much")
    full = world.pipeline.refund(paid.payment_id, None, "Contract cancelled")

    assert full.amount == usd("400.00")
    assert full.payment_state is PaymentState.REFUNDED
    assert world.balances()[first] == 50000
    world.ledger_is_consistent()
    detail = payment_detail(world.engine, paid.payment_id)
    assert detail is not None and not detail.can_refund
    assert [r.amount for r in detail.refunds] == [usd("100.00"), usd("400.00")]


def test_pay_link_completed_by_the_client(world: PayWorld) -> None:
    first, second = world.invoice_ids[:2]
    card_request = world.request([first])  # prepared in another window a moment earlier
    hosted = world.pipeline.start_hosted_payment(world.request([first, second], method=None))
    assert hosted.total == usd("750.00")

    # While the link is out, nobody else can take the same balance.
    with pytest.raises(PaymentRefused, match="pay link"):
        world.pipeline.pay(card_request)
    with pytest.raises(AssertionError, match="has a pay link"):
        world.request([first])  # the Order Summary says so too
    assert world.pipeline.check_hosted_payment(hosted.payment_id).state is (
        PaymentState.AWAITING_CLIENT)

    assert world.kit.submit_card(hosted.url)
    outcome = world.pipeline.check_hosted_payment(hosted.payment_id)

    assert outcome.state is PaymentState.SUCCEEDED
    assert outcome.method_summary == world.kit.summaries["approve"]
    assert world.balances()[first] == 0 and world.balances()[second] == 0
    assert len(world.charges(hosted.reference)) == 1
    world.outbox.deliver_due()
    assert len(world.notes_for(f"Payment {hosted.reference}")) == 1


def test_cancelled_pay_link_frees_the_invoice(stripe_world: PayWorld) -> None:
    """Stripe only: its hosted page can be expired. Authorize.Net's form cannot be withdrawn
    (see ``test_a_cancelled_authorizenet_pay_link_holds_the_invoice_until_the_form_expires``)."""
    world = stripe_world
    first = world.invoice_ids[0]
    hosted = world.pipeline.start_hosted_payment(world.request([first], method=None))
    expired = world.pipeline.cancel_hosted_payment(hosted.payment_id)

    assert expired.state is PaymentState.EXPIRED
    assert world.pipeline.pay(world.request([first])).state is PaymentState.SUCCEEDED


def test_a_cancelled_authorizenet_pay_link_holds_the_invoice_until_the_form_expires(
    sqlite_engine: Engine,
) -> None:
    """Authorize.Net only — its counterpart of ``test_cancelled_pay_link_frees_the_invoice``:
    a hosted form token cannot be withdrawn (it works for 15 minutes), so stopping the wait
    does not free the invoice; the client can still pay, and is charged once."""
    with pay_world(sqlite_engine, AMOUNTS, "authorizenet") as world:
        first = world.invoice_ids[0]
        card_request = world.request([first])
        hosted = world.pipeline.start_hosted_payment(world.request([first], method=None))

        waiting = world.pipeline.cancel_hosted_payment(hosted.payment_id)

        assert waiting.state is PaymentState.AWAITING_CLIENT
        with pytest.raises(PaymentRefused, match="pay link"):
            world.pipeline.pay(card_request)
        assert world.kit.submit_card(hosted.url)
        paid = world.pipeline.cancel_hosted_payment(hosted.payment_id)
        assert paid.state is PaymentState.SUCCEEDED
        assert len(world.charges(hosted.reference)) == 1
        assert world.balances()[first] == 0


def test_dropped_connection_is_resolved_without_a_second_charge(world: PayWorld) -> None:
    first = world.invoice_ids[0]
    world.kit.lose_charge_answers()
    outcome = world.pipeline.pay(world.request([first]))

    assert outcome.state is PaymentState.SUCCEEDED
    assert len(world.charges(outcome.reference)) == 1
    detail = payment_detail(world.engine, outcome.payment_id)
    assert detail is not None
    assert "payment.unknown" in [h.action for h in detail.history]


def test_a_second_payment_cannot_overpay(world: PayWorld) -> None:
    first = world.invoice_ids[0]
    # Two windows prepare a payment on the same invoice from the same balance.
    request = world.request([first], amount="400.00")
    other = world.request([first], amount="300.00")
    pending = world.pipeline.create(request)  # recorded, not yet sent

    with pytest.raises(PaymentRefused, match="still running"):
        world.pipeline.create(other)
    world.pipeline.submit(pending)
    with pytest.raises(PaymentRefused, match=r"Only \$100\.00 is owed"):
        world.pipeline.create(other)
    assert world.balances()[first] == 10000


def test_a_timeout_while_the_gateway_is_still_charging_is_settled_by_key(
    world: PayWorld,
) -> None:
    """The answer times out while the gateway is still working on the charge: PayDesk does
    not fail it (nothing found yet is no proof) and does not charge again; it settles once
    the gateway has finished."""
    from app.core.payments import PaymentPipeline

    impatient = world.kit.gateway(read_timeout=0.5)
    pipeline = PaymentPipeline(world.engine, impatient, actor="dana@frontdesk")
    first = world.invoice_ids[0]
    request = world.request([first])
    world.kit.slow_charges(1.5)

    outcome = pipeline.pay(request)

    assert outcome.state in (PaymentState.UNKNOWN, PaymentState.SUCCEEDED)
    if outcome.state is PaymentState.UNKNOWN:
        assert "do not take this payment again" in outcome.message
        time.sleep(1.6)
        outcome = pipeline.resolve(outcome.payment_id)
    assert outcome.state is PaymentState.SUCCEEDED
    assert len(world.charges(outcome.reference)) == 1
    assert world.balances()[first] == 0


def _as_left_by_a_crash(world: PayWorld, payment_id: int, sent: timedelta) -> str:
    """Mark a recorded payment sent ``sent`` ago with no answer recorded; its reference."""
    with session_scope(world.engine) as s:
        payment = s.get(Payment, payment_id)
        assert payment is not None
        payment.state = "submitted"
        payment.submitted_at = utcnow() - sent
        return payment.reference


def test_nothing_found_while_the_key_lives_is_settled_by_the_same_request(
    stripe_world: PayWorld,
) -> None:
    """Ten minutes after "sent", the lookup finds nothing. That is no proof (the request may
    still land), so PayDesk repeats it with the same key: the gateway charges exactly once.
    Stripe only: Authorize.Net has no keys; its "not listed yet" is
    ``test_nothing_found_within_the_grace_stays_unknown_then_fails_without_a_charge``."""
    world = stripe_world
    first = world.invoice_ids[0]
    payment_id = world.pipeline.create(world.request([first]))
    reference = _as_left_by_a_crash(world, payment_id, timedelta(minutes=10))

    outcome = world.pipeline.resolve(payment_id)

    assert outcome.state is PaymentState.SUCCEEDED
    assert len(world.charges(reference)) == 1
    assert world.pipeline.resolve(payment_id).state is PaymentState.SUCCEEDED
    assert len(world.charges(reference)) == 1
    assert world.balances()[first] == 0


def test_nothing_found_after_the_key_expired_proves_nothing_was_charged(
    world: PayWorld,
) -> None:
    first = world.invoice_ids[0]
    payment_id = world.pipeline.create(world.request([first]))
    reference = _as_left_by_a_crash(world, payment_id, timedelta(hours=25))

    outcome = world.pipeline.resolve(payment_id)

    assert outcome.state is PaymentState.FAILED
    assert "Nothing was charged" in outcome.message
    assert world.charges(reference) == []
    assert world.balances()[first] == 50000
    assert world.pipeline.pay(world.request([first])).state is PaymentState.SUCCEEDED


def test_a_charge_still_landing_is_never_marked_failed(world: PayWorld) -> None:
    """The boundary: long after "sent" (past any settle window), the first request is still
    being executed at the gateway when recovery looks. The lookup finds nothing; the repeat
    with the same key hears "still running", so the payment stays unknown — never failed —
    and once the first request lands it is recorded as the one charge."""
    import threading

    first = world.invoice_ids[0]
    payment_id = world.pipeline.create(world.request([first]))
    world.kit.slow_charges(2.0)
    late: dict[str, PaymentState] = {}
    sender = threading.Thread(
        target=lambda: late.update(state=world.pipeline.submit(payment_id).state))
    sender.start()
    try:
        reference = ""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with session_scope(world.engine) as s:
                payment = s.get(Payment, payment_id)
                assert payment is not None
                if payment.state == "submitted":
                    # As if the computer had slept since marking it sent an hour ago.
                    payment.submitted_at = utcnow() - timedelta(hours=1)
                    reference = payment.reference
                    break
            time.sleep(0.02)
        assert reference
        time.sleep(0.5)  # the first request is now running at the gateway

        during = world.pipeline.resolve(payment_id)

        assert during.state is PaymentState.UNKNOWN
        assert "do not take this payment again" in during.message
    finally:
        sender.join(timeout=10)
    assert late["state"] is PaymentState.SUCCEEDED
    assert world.pipeline.resolve(payment_id).state is PaymentState.SUCCEEDED
    assert len(world.charges(reference)) == 1
    assert world.balances()[first] == 0
    world.ledger_is_consistent()


def test_a_pay_link_paid_while_paydesk_was_closed_is_recorded_at_start(
    world: PayWorld,
) -> None:
    from app.core.payments import recover_payments

    first = world.invoice_ids[0]
    hosted = world.pipeline.start_hosted_payment(world.request([first], method=None))
    assert world.kit.submit_card(hosted.url, "approve_mastercard")

    report = recover_payments(world.engine, world.gateway, actor="lee@other-seat")

    assert [o.reference for o in report.resolved] == [hosted.reference]
    assert report.resolved[0].state is PaymentState.SUCCEEDED
    assert world.balances()[first] == 0


def test_the_note_names_the_contact_and_the_memo(world: PayWorld) -> None:
    import dataclasses

    from app.core.storage.models import Contact

    with session_scope(world.engine) as s:
        s.add(Contact(id=9_000_001, organization_id=world.company_id, first_name="Dana",
                      last_name="Reyes", synced_at=utcnow()))
    request = dataclasses.replace(world.request([world.invoice_ids[1]]), contact_id=9_000_001,
                                  memo="Paid by phone")
    outcome = world.pipeline.pay(request)
    world.outbox.deliver_due()

    note = world.notes_for(f"Payment {outcome.reference}")[0]
    assert "Contact: Dana Reyes" in note["description"]
    assert "Memo: Paid by phone" in note["description"]
    assert "Test mode" in note["description"]
    assert int(note["contactID"]) == 9_000_001


def test_the_periodic_round_leaves_a_payment_in_progress_alone(world: PayWorld) -> None:
    from app.core.payments import recover_payments

    first = world.invoice_ids[0]
    payment_id = world.pipeline.create(world.request([first]))  # the dialog is about to send

    report = recover_payments(world.engine, world.gateway, actor="dana@frontdesk",
                              mine_immediately=False)

    assert report.resolved == () and report.still_unknown == ()
    assert world.pipeline.submit(payment_id).state is PaymentState.SUCCEEDED


def test_a_pay_link_paid_by_bank_debit_processes_then_settles(world: PayWorld) -> None:
    first = world.invoice_ids[0]
    hosted = world.pipeline.start_hosted_payment(world.request([first], method=None),
                                                 purpose="new_method")
    assert world.kit.submit_bank(hosted.url)

    outcome = world.pipeline.check_hosted_payment(hosted.payment_id)

    assert outcome.state is PaymentState.PROCESSING
    assert world.balances()[first] == 0
    world.kit.settle_bank_debit(world.charges(hosted.reference)[0], succeed=True)
    assert world.pipeline.follow_up(hosted.payment_id).state is PaymentState.SUCCEEDED
    detail = payment_detail(world.engine, hosted.payment_id)
    assert detail is not None and detail.channel == "new_method"
    assert detail.method_summary and world.kit.bank_last4 in detail.method_summary


def _gateway_refund_id(world: PayWorld, refund_id: int) -> str:
    from app.core.storage.models import Refund

    with session_scope(world.engine) as s:
        refund = s.get(Refund, refund_id)
        assert refund is not None and refund.gateway_refund_id
        return refund.gateway_refund_id


def test_a_pending_refund_is_followed_up_until_it_succeeds(stripe_world: PayWorld) -> None:
    """Stripe only: a Stripe refund can stay pending at the gateway. Authorize.Net accepts or
    refuses a refund at once; PayDesk records an accepted one (``refundPendingSettlement``)
    as done, so there is no pending refund to follow up."""
    from app.core.payments import RefundState, recover_payments

    world = stripe_world

    first = world.invoice_ids[0]
    paid = world.pipeline.pay(world.request([first]))
    world.gateway_sandbox.state.refunds_pending = True
    refund = world.pipeline.refund(paid.payment_id, usd("100.00"), "Service credit")
    assert refund.state is RefundState.PENDING and refund.done
    assert world.balances()[first] == 10000

    # Still pending at the gateway: nothing changes.
    report = recover_payments(world.engine, world.gateway, actor="dana@frontdesk")
    assert report.refunds == ()
    world.gateway_sandbox.settle_refund(_gateway_refund_id(world, refund.refund_id))
    report = recover_payments(world.engine, world.gateway, actor="dana@frontdesk")

    assert [r.state for r in report.refunds] == [RefundState.SUCCEEDED]
    detail = payment_detail(world.engine, paid.payment_id)
    assert detail is not None and detail.refunds[0].state is RefundState.SUCCEEDED
    assert detail.state is PaymentState.PARTIALLY_REFUNDED
    assert world.balances()[first] == 10000
    assert "refund.succeeded" in [h.action for h in detail.history]


def test_a_pending_refund_that_fails_is_undone_and_autotask_is_told(
    stripe_world: PayWorld,
) -> None:
    """Stripe only, as above: PayDesk has no pending Authorize.Net refund that could fail."""
    from app.core.payments import RefundState, recover_payments

    world = stripe_world

    first = world.invoice_ids[0]
    paid = world.pipeline.pay(world.request([first]))
    world.outbox.deliver_due()
    world.gateway_sandbox.state.refunds_pending = True
    refund = world.pipeline.refund(paid.payment_id, None, "Contract cancelled")
    assert refund.payment_state is PaymentState.REFUNDED
    world.outbox.deliver_due()
    assert autotask_invoice(world, first)["paidDate"] is None

    world.gateway_sandbox.settle_refund(_gateway_refund_id(world, refund.refund_id),
                                        succeed=False)
    report = recover_payments(world.engine, world.gateway, actor="dana@frontdesk")

    assert [r.state for r in report.refunds] == [RefundState.FAILED]
    assert "card was reported lost or stolen" in report.refunds[0].message
    detail = payment_detail(world.engine, paid.payment_id)
    assert detail is not None and detail.state is PaymentState.SUCCEEDED
    assert detail.refunded == usd("0.00") and detail.can_refund
    assert world.balances()[first] == 0 and world.statuses()[first] == "paid"
    world.ledger_is_consistent()
    # Autotask hears that the reversal did not happen, and the invoice is paid again.
    world.outbox.deliver_due()
    failed = world.notes_for(f"Refund failed {refund.reference}")
    assert len(failed) == 1 and paid.reference in failed[0]["description"]
    assert autotask_invoice(world, first)["paidDate"]
    # Following up again changes nothing.
    assert recover_payments(world.engine, world.gateway, actor="dana@frontdesk").refunds == ()


def test_a_payment_finished_by_recovery_says_so_on_its_row(world: PayWorld) -> None:
    from app.core.payments import recover_payments, transaction_rows

    first = world.invoice_ids[0]
    payment_id = world.pipeline.create(world.request([first]))  # then PayDesk stopped
    normal = world.pipeline.pay(world.request([world.invoice_ids[1]]))

    report = recover_payments(world.engine, world.gateway, actor=world.pipeline.actor)

    assert [o.payment_id for o in report.resolved] == [payment_id]
    rows = {r.payment_id: r for r in transaction_rows(world.engine,
                                                      [payment_id, normal.payment_id])}
    recovered = rows[payment_id]
    assert recovered.state is PaymentState.FAILED
    assert recovered.recovered_at is not None
    assert recovered.recovery_why and "Nothing was charged" in recovered.recovery_why
    assert rows[normal.payment_id].recovered_at is None
