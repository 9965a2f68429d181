"""Recovery: finish everything a crash or a lost answer left open, at each start and on a
timer (:func:`recover_payments`)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, or_, select

from app.core.clock import utcnow
from app.core.gateways import (
    GatewayError,
    PaymentGateway,
)
from app.core.payments.audit import RECOVERED_ACTION, audit
from app.core.payments.pipeline.base import (
    DEFAULT_STALE_AFTER,
    Checkpoint,
    PaymentOutcome,
    RecoveryReport,
    RefundOutcome,
)
from app.core.payments.states import (
    PaymentState,
    RefundState,
)
from app.core.storage.engine import session_scope
from app.core.storage.models import (
    Payment,
    Refund,
)


def _note_recovered(engine: Engine, actor: str, outcome: PaymentOutcome) -> None:
    """Record that recovery finished a payment left unfinished (a crash, a lost answer), so
    the bookkeeper is told when and why on the payment's row."""
    with session_scope(engine) as session:
        audit(session, actor=actor, action=RECOVERED_ACTION, subject_type="payment",
              subject_id=outcome.payment_id,
              details={"reference": outcome.reference, "state": outcome.state.value,
                       "why": outcome.message})


def recover_payments(
    engine: Engine,
    gateway: PaymentGateway,
    *,
    actor: str | None = None,
    stale_after: timedelta = DEFAULT_STALE_AFTER,
    follow_processing: bool = True,
    checkpoint: Checkpoint | None = None,
    key_lifetime: timedelta | None = None,
    mine_immediately: bool = True,
) -> RecoveryReport:
    """Finish everything a crash or a lost answer left open. Run at each start (and by
    ``paydesk payments recover``).

    * payments ``created`` / ``submitted`` / ``unknown`` are resolved by asking the gateway
      about their keys — this seat's at once when ``mine_immediately`` (at start: nothing of
      this seat can still be running), everything once older than ``stale_after`` (another
      computer, or this window's own dialog, may still be working on a newer one; the
      periodic run passes ``mine_immediately=False``);
    * pay links are polled and recorded when the client has paid;
    * refunds whose answer was lost are repeated with the same key;
    * refunds the gateway accepted as pending are followed up until they succeed or fail
      (a failed one is undone in the ledger, see :meth:`PaymentPipeline.follow_up_refund`);
    * processing bank debits are followed up (``follow_processing``).
    """
    from app.core.payments.pipeline import PaymentPipeline

    pipeline = PaymentPipeline(engine, gateway, actor=actor, checkpoint=checkpoint,
                               key_lifetime=key_lifetime)
    me = pipeline.actor
    account = pipeline.account
    cutoff = utcnow() - stale_after
    with session_scope(engine) as session:
        mine_or_old = (or_(Payment.created_by == me, Payment.created_at < cutoff)
                       if mine_immediately else Payment.created_at < cutoff)
        open_ids = session.scalars(
            select(Payment.id).where(
                Payment.gateway == account,
                Payment.state.in_(("created", "submitted", "unknown")),
                mine_or_old,
            ).order_by(Payment.id)
        ).all()
        hosted_ids = session.scalars(
            select(Payment.id).where(
                Payment.gateway == account, Payment.state == "awaiting_client"
            ).order_by(Payment.id)
        ).all()
        processing_ids = session.scalars(
            select(Payment.id).where(
                Payment.gateway == account, Payment.state == "processing"
            ).order_by(Payment.id)
        ).all() if follow_processing else []
        pending_refund_ids = session.scalars(
            select(Refund.id).join(Payment, Payment.id == Refund.payment_id).where(
                Payment.gateway == account,
                Refund.state == RefundState.PENDING.value,
                Refund.gateway_refund_id.is_not(None),
            ).order_by(Refund.id)
        ).all()
        refund_ids = session.scalars(
            select(Refund.id).join(Payment, Payment.id == Refund.payment_id).where(
                Payment.gateway == account,
                Refund.state.in_(("created", "unknown")),
                or_(Refund.created_by == me, Refund.created_at < cutoff)
                if mine_immediately else Refund.created_at < cutoff,
            ).order_by(Refund.id)
        ).all()
    resolved: list[PaymentOutcome] = []
    unknown: list[str] = []
    settled: list[PaymentOutcome] = []
    refunds: list[RefundOutcome] = []
    errors: list[str] = []
    for payment_id in open_ids:
        outcome = pipeline.resolve(payment_id)
        if outcome.pending:
            unknown.append(outcome.reference)
        else:
            resolved.append(outcome)
            _note_recovered(engine, pipeline.actor, outcome)
    for payment_id in hosted_ids:
        try:
            outcome = pipeline.check_hosted_payment(payment_id)
        except GatewayError as exc:
            errors.append(exc.message)
            continue
        if not outcome.pending:
            resolved.append(outcome)
    for payment_id in processing_ids:
        try:
            outcome = pipeline.follow_up(payment_id)
        except GatewayError as exc:
            errors.append(exc.message)
            continue
        if outcome.state is not PaymentState.PROCESSING:
            settled.append(outcome)
    for refund_id in refund_ids:
        refunds.append(pipeline.resolve_refund(refund_id))
    for refund_id in pending_refund_ids:
        try:
            followed = pipeline.follow_up_refund(refund_id)
        except GatewayError as exc:
            errors.append(exc.message)
            continue
        if followed.state is not RefundState.PENDING:
            refunds.append(followed)
    return RecoveryReport(
        resolved=tuple(resolved),
        still_unknown=tuple(unknown),
        settled=tuple(settled),
        refunds=tuple(refunds),
        errors=tuple(errors),
    )
