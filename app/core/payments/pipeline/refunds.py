"""Refunds and voids: recorded ``created`` before the gateway is called with their own key,
repeated with the same key when the answer is lost, and recorded with the invoices they reopen
and their ledger facts in one transaction; a refund the gateway later fails is undone."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.clock import utcnow
from app.core.gateways import (
    ChargeResult,
    ChargeStatus,
    GatewayError,
    RefundResult,
    RefundStatus,
)
from app.core.invoice_state import recompute_invoices
from app.core.money import Money
from app.core.payments.audit import audit
from app.core.payments.ledger import (
    lock_invoices,
)
from app.core.payments.pipeline.base import (
    PaymentNotFoundError,
    PaymentRefused,
    PipelineLedger,
    RefundOutcome,
    invoice_balances,
    invoice_changes,
    new_idempotency_key,
    new_reference,
    refund_outcome,
)
from app.core.payments.states import (
    PaymentState,
    RefundState,
    check_refund_transition,
)
from app.core.payments.summary import (
    PayableInvoice,
    oldest_due_first,
)
from app.core.posting.autotask_channel import paid_by_paydesk
from app.core.posting.channels import (
    RefundRecorded,
    RefundReversed,
    record_fact,
)
from app.core.storage.engine import session_scope
from app.core.storage.models import (
    Invoice,
    Payment,
    Refund,
    RefundAllocation,
)


class RefundSteps(PipelineLedger):
    """Refunds, voids and their follow-ups."""

    # --- refunds ----------------------------------------------------------------------------
    def refund(self, payment_id: int, amount: Money | None, reason: str) -> RefundOutcome:
        """Give money back: all that is left (``amount`` ``None``) or part of it.

        A bank debit that is still processing is voided instead (in full only). The invoices
        the money came from reopen — the newest due first for a partial refund — and the
        reversal is queued for Autotask in the same transaction that records the refund.
        """
        reason = (reason or "").strip()
        if not reason:
            raise PaymentRefused("Give a reason for the refund.", field="reason")
        with session_scope(self.engine) as session:
            payment = self._payment(session, payment_id)
            allocations = self._allocations(session, payment_id)
            lock_invoices(session, (i for i, _ in allocations))
            payment = self._payment(session, payment_id)
            self._gateway_for(payment)  # refused before anything is recorded
            state = PaymentState(payment.state)
            running = session.scalar(
                select(Refund.reference).where(
                    Refund.payment_id == payment_id,
                    Refund.state.in_((RefundState.CREATED.value, RefundState.UNKNOWN.value)),
                )
            )
            if running:
                raise PaymentRefused(
                    f"Refund {running} of this payment is still running. Wait for it to finish."
                )
            currency = payment.currency
            refundable = payment.total_minor - payment.refunded_minor
            if state is PaymentState.PROCESSING:
                kind = "void"
                if amount is not None and amount.minor != payment.total_minor:
                    raise PaymentRefused(
                        "This bank payment has not settled yet, so it can only be voided in "
                        "full. Void it, or wait until it settles to refund part of it.",
                        field="amount",
                    )
                value = payment.total_minor
            elif state in (PaymentState.SUCCEEDED, PaymentState.PARTIALLY_REFUNDED):
                kind = "refund"
                value = refundable if amount is None else amount.minor
                if amount is not None and amount.currency != currency:
                    raise PaymentRefused(f"Enter the amount in {currency}.", field="amount")
                if value <= 0:
                    raise PaymentRefused("Enter an amount greater than zero.", field="amount")
                if value > refundable:
                    raise PaymentRefused(
                        f"At most {Money(refundable, currency).format()} of this payment can "
                        "be refunded.", field="amount",
                    )
            else:
                raise PaymentRefused(
                    f"Payment {payment.reference} is {state.label.lower()}; it cannot be refunded."
                )
            now = utcnow()
            refund = Refund(
                payment_id=payment_id,
                reference=new_reference("RF"),
                idempotency_key=new_idempotency_key("refund"),
                amount_minor=value,
                reason=reason,
                kind=kind,
                state=RefundState.CREATED.value,
                created_at=now,
                created_by=self.actor,
            )
            session.add(refund)
            session.flush()
            if kind == "refund":
                for invoice_id, taken in _refund_split(session, payment, allocations, value):
                    session.add(RefundAllocation(refund_id=refund.id, invoice_id=invoice_id,
                                                 amount_minor=taken))
            audit(session, actor=self.actor, action="refund.created", subject_type="payment",
                  subject_id=payment_id,
                  details={"refund": refund.reference, "kind": kind,
                           "amount": Money(value, currency).plain(), "reason": reason})
            refund_id = refund.id
        self._step("refund.created")
        return self._send_refund(refund_id)

    def _send_refund(self, refund_id: int) -> RefundOutcome:
        with session_scope(self.engine) as session:
            refund = session.get(Refund, refund_id, populate_existing=True)
            assert refund is not None
            payment = self._payment(session, refund.payment_id)
            if refund.state not in (RefundState.CREATED.value, RefundState.UNKNOWN.value):
                return refund_outcome(refund, payment)
            charge_id = payment.gateway_payment_id
            kind, key, reference = refund.kind, refund.idempotency_key, refund.reference
            amount = Money(refund.amount_minor, payment.currency)
            reason = refund.reason
            gateway = self._gateway_for(payment)
        if not charge_id:
            return self._finish_refund(refund_id, None, "The payment has no gateway charge.")
        try:
            if kind == "void":
                charge = gateway.cancel(charge_id, idempotency_key=key)
                result: RefundResult | ChargeResult = charge
            else:
                result = gateway.refund(charge_id, amount, idempotency_key=key,
                                             reason=reason, reference=reference)
        except GatewayError as exc:
            if exc.outcome_unknown:
                with session_scope(self.engine) as session:
                    refund = session.get(Refund, refund_id, populate_existing=True)
                    assert refund is not None
                    if refund.state == RefundState.CREATED.value:
                        refund.state = check_refund_transition(
                            refund.state, RefundState.UNKNOWN).value
                        audit(session, actor=self.actor, action="refund.unknown",
                              subject_type="payment", subject_id=refund.payment_id,
                              details={"refund": refund.reference, "reason": exc.message})
                    return refund_outcome(refund, self._payment(session, refund.payment_id))
            return self._finish_refund(refund_id, None, exc.message)
        self._step("refund.after_gateway")
        return self._finish_refund(refund_id, result, None)

    def _finish_refund(
        self, refund_id: int, result: RefundResult | ChargeResult | None, error: str | None
    ) -> RefundOutcome:
        with session_scope(self.engine) as session:
            refund = session.get(Refund, refund_id, populate_existing=True)
            assert refund is not None
            allocations = self._allocations(session, refund.payment_id)
            lock_invoices(session, (i for i, _ in allocations))
            refund = session.get(Refund, refund_id, populate_existing=True)
            assert refund is not None
            payment = self._payment(session, refund.payment_id)
            if refund.state not in (RefundState.CREATED.value, RefundState.UNKNOWN.value):
                return refund_outcome(refund, payment)
            now = utcnow()
            if isinstance(result, ChargeResult):
                target = (RefundState.SUCCEEDED if result.status is ChargeStatus.CANCELED
                          else RefundState.FAILED)
                if target is RefundState.FAILED:
                    error = ("The bank payment could no longer be voided; it has settled. "
                             "Refund it instead.")
            elif isinstance(result, RefundResult):
                target = {RefundStatus.SUCCEEDED: RefundState.SUCCEEDED,
                          RefundStatus.PENDING: RefundState.PENDING}.get(
                    result.status, RefundState.FAILED)
                refund.gateway_refund_id = result.refund_id
                if target is RefundState.FAILED:
                    error = result.failure_reason or "The gateway could not make the refund."
            else:
                target = RefundState.FAILED
            refund.state = check_refund_transition(refund.state, target).value
            refund.completed_at = now
            if target is RefundState.FAILED:
                refund.failure_message = error
                audit(session, actor=self.actor, action="refund.failed", subject_type="payment",
                      subject_id=payment.id,
                      details={"refund": refund.reference, "reason": error})
                return refund_outcome(refund, payment)
            audit(session, actor=self.actor, action=f"refund.{target.value}",
                  subject_type="payment", subject_id=payment.id,
                  details={"refund": refund.reference, "gateway_refund_id":
                           refund.gateway_refund_id})
            ids = [i for i, _ in allocations]
            if refund.kind == "void":
                payment.completed_at = now
                self._move(session, payment, PaymentState.VOIDED, refund=refund.reference)
                recompute_invoices(session, ids)
                return refund_outcome(refund, payment)
            payment.refunded_minor += refund.amount_minor
            new_state = (PaymentState.REFUNDED if payment.refunded_minor >= payment.total_minor
                         else PaymentState.PARTIALLY_REFUNDED)
            self._move(session, payment, new_state, refund=refund.reference,
                       refunded=Money(payment.refunded_minor, payment.currency).plain())
            taken = [
                (int(i), int(a)) for i, a in session.execute(
                    select(RefundAllocation.invoice_id, RefundAllocation.amount_minor)
                    .where(RefundAllocation.refund_id == refund.id)
                    .order_by(RefundAllocation.id)
                )
            ]
            session.flush()
            before = invoice_balances(session, ids)
            # An invoice PayDesk marked paid in Autotask would stay "paid" through its
            # paidDate; the refund clears it here and (through the Autotask channel) there.
            for invoice_id, _ in taken:
                invoice = session.get(Invoice, invoice_id)
                if invoice is not None and invoice.paid_date is not None and paid_by_paydesk(
                    session, invoice_id
                ):
                    invoice.paid_date = None
            recompute_invoices(session, ids)
            session.flush()
            record_fact(session, RefundRecorded(
                payment_id=payment.id, refund_id=refund.id, allocations=tuple(taken),
                invoices=invoice_changes(session, ids, before), at=now), now)
            outcome = refund_outcome(refund, payment)
        self._step("refund.recorded")
        return outcome

    def follow_up_refund(self, refund_id: int) -> RefundOutcome:
        """Ask the gateway how a refund it accepted as pending ended. Succeeded: recorded.
        Failed or cancelled: the money stayed with the merchant, so the refund is undone in
        the ledger — the payment and its invoices count the amount again, and Autotask gets a
        note saying so (and the paidDate back for an invoice that is paid again)."""
        with session_scope(self.engine) as session:
            refund = session.get(Refund, refund_id, populate_existing=True)
            if refund is None:
                raise PaymentNotFoundError(f"no refund with id {refund_id}")
            payment = self._payment(session, refund.payment_id)
            if refund.state != RefundState.PENDING.value or not refund.gateway_refund_id:
                return refund_outcome(refund, payment)
            gateway_refund_id = refund.gateway_refund_id
            gateway = self._gateway_for(payment)
        result = gateway.refresh_refund(gateway_refund_id)
        if result.status is RefundStatus.PENDING:
            with session_scope(self.engine) as session:
                refund = session.get(Refund, refund_id, populate_existing=True)
                assert refund is not None
                return refund_outcome(refund, self._payment(session, refund.payment_id))
        with session_scope(self.engine) as session:
            refund = session.get(Refund, refund_id, populate_existing=True)
            assert refund is not None
            allocations = self._allocations(session, refund.payment_id)
            lock_invoices(session, (i for i, _ in allocations))
            refund = session.get(Refund, refund_id, populate_existing=True)
            assert refund is not None
            payment = self._payment(session, refund.payment_id)
            if refund.state != RefundState.PENDING.value:
                return refund_outcome(refund, payment)  # another seat recorded it meanwhile
            now = utcnow()
            refund.completed_at = now
            if result.status is RefundStatus.SUCCEEDED:
                refund.state = check_refund_transition(refund.state, RefundState.SUCCEEDED).value
                audit(session, actor=self.actor, action="refund.succeeded",
                      subject_type="payment", subject_id=payment.id,
                      details={"refund": refund.reference,
                               "gateway_refund_id": refund.gateway_refund_id})
                return refund_outcome(refund, payment)
            amount = Money(refund.amount_minor, payment.currency)
            why = _refund_failure_text(result.failure_reason)
            refund.state = check_refund_transition(refund.state, RefundState.FAILED).value
            refund.failure_message = (
                f"Refund {refund.reference} of {amount.format()} failed: {why}. The money was "
                "not returned, so the invoices count it as paid again; if the client is owed "
                "it, return it another way."
            )
            audit(session, actor=self.actor, action="refund.failed", subject_type="payment",
                  subject_id=payment.id,
                  details={"refund": refund.reference, "reason": why})
            payment.refunded_minor = max(0, payment.refunded_minor - refund.amount_minor)
            back = (PaymentState.SUCCEEDED if payment.refunded_minor == 0
                    else PaymentState.PARTIALLY_REFUNDED)
            if PaymentState(payment.state) is not back:
                self._move(session, payment, back, refund=refund.reference,
                           refunded=Money(payment.refunded_minor, payment.currency).plain())
            ids = [i for i, _ in allocations]
            taken = [
                (int(i), int(a)) for i, a in session.execute(
                    select(RefundAllocation.invoice_id, RefundAllocation.amount_minor)
                    .where(RefundAllocation.refund_id == refund.id)
                    .order_by(RefundAllocation.id)
                )
            ]
            session.flush()
            before = invoice_balances(session, ids)
            recompute_invoices(session, ids)
            session.flush()
            record_fact(session, RefundReversed(
                payment_id=payment.id, refund_id=refund.id, allocations=tuple(taken),
                invoices=invoice_changes(session, ids, before), at=now), now)
            return refund_outcome(refund, payment)

    def resolve_refund(self, refund_id: int) -> RefundOutcome:
        """Finish a refund whose answer was lost: the same call with the same key (the
        gateway replays the first answer; it never refunds twice)."""
        return self._send_refund(refund_id)



_REFUND_FAILURES = {
    "lost_or_stolen_card": "the card was reported lost or stolen",
    "expired_or_canceled_card": "the card has expired or was closed",
    "charge_for_pending_refund_disputed": "the client disputed the payment meanwhile",
    "insufficient_funds": "the gateway account's balance could not cover it",
    "declined": "the client's bank refused it",
    "merchant_request": "it was cancelled at the gateway",
}


def _refund_failure_text(code: str | None) -> str:
    """The gateway's reason a refund failed, in plain words."""
    return _REFUND_FAILURES.get(code or "", "the gateway could not complete it")


def _refund_split(
    session: Session, payment: Payment, allocations: list[tuple[int, int]], value: int
) -> list[tuple[int, int]]:
    """How much of a refund each invoice gives back: what is left of each allocation,
    newest due first, up to the refund (a surcharge part reopens no invoice)."""
    taken_before: dict[int, int] = {}
    for invoice_id, minor in session.execute(
        select(RefundAllocation.invoice_id, RefundAllocation.amount_minor)
        .join(Refund, Refund.id == RefundAllocation.refund_id)
        .where(Refund.payment_id == payment.id,
               Refund.state.in_((RefundState.SUCCEEDED.value, RefundState.PENDING.value)))
    ):
        taken_before[int(invoice_id)] = taken_before.get(int(invoice_id), 0) + int(minor)
    invoices = {
        inv.id: inv for inv in session.scalars(
            select(Invoice).where(Invoice.id.in_([i for i, _ in allocations])))
    }
    views = [
        PayableInvoice(
            invoice_id=i,
            invoice_number=None,
            organization_id=payment.organization_id,
            invoice_date=invoices[i].invoice_date if i in invoices else None,
            due_date=invoices[i].due_date if i in invoices else None,
            total=Money(0, payment.currency),
            balance=Money(0, payment.currency),
        )
        for i, _ in allocations
    ]
    order = [v.invoice_id for v in reversed(oldest_due_first(views))]
    left_by_invoice = {i: a - taken_before.get(i, 0) for i, a in allocations}
    remaining = min(value, sum(max(0, v) for v in left_by_invoice.values()))
    split: list[tuple[int, int]] = []
    for invoice_id in order:
        take = min(remaining, max(0, left_by_invoice[invoice_id]))
        if take > 0:
            split.append((invoice_id, take))
            remaining -= take
    return split

