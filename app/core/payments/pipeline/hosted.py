"""Pay links and new methods: the gateway's hosted page takes the card or bank account;
PayDesk records the charge (or the saved method) when the client has finished there."""

from __future__ import annotations

import logging

from sqlalchemy import select

from app.core.clock import utcnow
from app.core.gateways import (
    GatewayError,
    HostedMode,
    HostedSession,
    HostedSessionState,
    HostedSessionStatus,
    SavedMethod,
)
from app.core.money import Money
from app.core.payments.pipeline.base import (
    HostedPayment,
    PaymentOutcome,
    PaymentRefused,
    PaymentRequest,
    payment_outcome,
)
from app.core.payments.pipeline.charges import ChargeSteps
from app.core.payments.states import (
    PaymentState,
)
from app.core.storage.engine import session_scope
from app.core.storage.models import (
    Invoice,
)

log = logging.getLogger(__name__)


class HostedSteps(ChargeSteps):
    """Hosted pages for a payment (pay links) and for saving a new method."""

    # --- pay links and new methods ----------------------------------------------------------
    def start_hosted_payment(
        self, request: PaymentRequest, *, purpose: str = "pay_link"
    ) -> HostedPayment:
        """A page on the gateway's site for this exact amount. ``purpose`` is ``pay_link``
        (send the URL to the client) or ``new_method`` (the bookkeeper enters a new card or
        bank account). The payment waits in ``awaiting_client``, reserving the balances,
        until the page is completed, expires or is cancelled."""
        if purpose not in ("pay_link", "new_method"):
            raise ValueError(f"unknown hosted payment purpose {purpose!r}")
        payment_id = self.create(request, channel=purpose)
        with session_scope(self.engine) as session:
            payment = self._payment(session, payment_id)
            reference, key = payment.reference, payment.idempotency_key
            total = Money(payment.total_minor, payment.currency)
            ids = [i for i, _ in self._allocations(session, payment_id)]
            known = dict(
                session.execute(
                    select(Invoice.id, Invoice.invoice_number).where(Invoice.id.in_(ids))
                ).all()
            )
            numbers = [known.get(i) or str(i) for i in ids]
        try:
            customer_id = self._customer_id(request.organization_id)
            hosted: HostedSession = self.gateway.start_hosted_session(
                customer_id,
                mode=HostedMode.PAYMENT,
                idempotency_key=key,
                amount=total,
                description="Payment for invoice" + ("s " if len(numbers) > 1 else " ")
                + ", ".join(numbers),
                reference=reference,
                metadata={"paydesk_organization_id": str(request.organization_id)},
            )
        except GatewayError as exc:
            outcome = self._fail_before_gateway(payment_id, exc.message)
            raise PaymentRefused(outcome.message) from exc
        with session_scope(self.engine) as session:
            payment = self._payment(session, payment_id)
            payment.hosted_session_id = hosted.session_id
            payment.hosted_url = hosted.url
            payment.submitted_at = utcnow()
            self._move(session, payment, PaymentState.AWAITING_CLIENT,
                       session_id=hosted.session_id, purpose=purpose)
        self._step("payment.awaiting_client")
        return HostedPayment(
            payment_id=payment_id,
            reference=reference,
            url=hosted.url,
            session_id=hosted.session_id,
            expires_at=hosted.expires_at,
            total=total,
        )

    def check_hosted_payment(self, payment_id: int) -> PaymentOutcome:
        """Poll the payment's hosted page; record the payment once the page is completed."""
        with session_scope(self.engine) as session:
            payment = self._payment(session, payment_id)
            if payment.state != PaymentState.AWAITING_CLIENT.value or not payment.hosted_session_id:
                return payment_outcome(payment)
            session_id = payment.hosted_session_id
        status = self.gateway.poll_hosted_session(session_id)
        return self._record_hosted(payment_id, status)

    def cancel_hosted_payment(self, payment_id: int) -> PaymentOutcome:
        """Close the hosted page (the bookkeeper stopped waiting). If the client paid in the
        meantime, the payment is recorded instead."""
        with session_scope(self.engine) as session:
            payment = self._payment(session, payment_id)
            if payment.state != PaymentState.AWAITING_CLIENT.value or not payment.hosted_session_id:
                return payment_outcome(payment)
            session_id = payment.hosted_session_id
        status = self.gateway.expire_hosted_session(session_id)
        return self._record_hosted(payment_id, status)

    def _record_hosted(self, payment_id: int, status: HostedSessionStatus) -> PaymentOutcome:
        if status.state is HostedSessionState.OPEN:
            with session_scope(self.engine) as session:
                return payment_outcome(self._payment(session, payment_id))
        if status.state is HostedSessionState.EXPIRED or status.charge is None:
            with session_scope(self.engine) as session:
                payment = self._payment(session, payment_id)
                if payment.state != PaymentState.AWAITING_CLIENT.value:
                    return payment_outcome(payment)
                payment.completed_at = utcnow()
                self._move(session, payment, PaymentState.EXPIRED)
                return payment_outcome(payment)
        if status.method is not None:
            with session_scope(self.engine) as session:
                organization_id = self._payment(session, payment_id).organization_id
            method_id = self._save_method(organization_id, status.method)
            if method_id is not None:
                with session_scope(self.engine) as session:
                    payment = self._payment(session, payment_id)
                    if payment.payment_method_id is None:
                        payment.payment_method_id = method_id
        return self._record_charge(payment_id, status.charge)

    def _save_method(self, organization_id: int, method: SavedMethod) -> int | None:
        """The local row of a method just entered on a hosted page (the local copy of the
        organization's methods is refreshed from the gateway first)."""
        try:
            stored = self.methods.refresh(organization_id)
        except GatewayError as exc:
            log.warning("could not refresh saved methods: %s", exc.message)
            stored = self.methods.local(organization_id)
        found = next((m for m in stored if m.token == method.token), None)
        return found.id if found is not None else None

    def start_method_setup(self, organization_id: int) -> HostedSession:
        """A gateway page where a new card or bank account is saved, without a charge
        (:meth:`app.core.gateways.repository.SavedMethods.start_adding`)."""
        return self.methods.start_adding(organization_id, mode=HostedMode.SETUP)

    def finish_method_setup(self, organization_id: int, session_id: str) -> int | None:
        """The saved method's row id once the setup page is completed; ``None`` while it is
        open or when it expired."""
        status = self.methods.check_adding(organization_id, session_id)
        if status.state is not HostedSessionState.COMPLETE or status.method is None:
            return None
        token = status.method.token
        found = next((m for m in self.methods.local(organization_id) if m.token == token), None)
        return found.id if found is not None else None
