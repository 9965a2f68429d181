"""Charging a saved method: create the payment under the invoices' lock, commit
``submitted`` before the gateway is called with the key, record the answer with its balances
and ledger facts in one transaction, and resolve a lost answer through the key alone."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.clock import utcnow
from app.core.gateways import (
    ChargeResult,
    ChargeStatus,
    Declined,
    GatewayError,
    IdempotencyKeyReused,
    InvalidRequest,
    RateLimited,
)
from app.core.invoice_state import recompute_invoices
from app.core.money import Money
from app.core.payments.audit import audit
from app.core.payments.ledger import (
    InFlight,
    blocked_reason,
    in_flight_payments,
    lock_invoices,
)
from app.core.payments.pipeline.base import (
    PaymentOutcome,
    PaymentRefused,
    PaymentRequest,
    PipelineLedger,
    invoice_balances,
    invoice_changes,
    method_summary,
    new_idempotency_key,
    new_reference,
    payment_outcome,
    target_state,
)
from app.core.payments.states import (
    PaymentState,
)
from app.core.payments.summary import (
    MAX_SURCHARGE_PERCENT,
    SURCHARGE_SETTING_KEY,
    surcharge_settings_from,
)
from app.core.payments.surcharge_regions import organization_region, region_name
from app.core.posting.channels import (
    PaymentRecorded,
    record_fact,
)
from app.core.storage.engine import session_scope
from app.core.storage.models import (
    Invoice,
    Organization,
    Payment,
    PaymentAllocation,
    PaymentMethod,
    Setting,
)

log = logging.getLogger(__name__)


class ChargeSteps(PipelineLedger):
    """Creating, submitting, recording and resolving charges (see the package docstring)."""

    # --- 1. create --------------------------------------------------------------------------
    def create(self, request: PaymentRequest, *, channel: str = "saved_method") -> int:
        """Record the payment in ``created`` (reserving the balances); returns its id.

        Raises :class:`PaymentRefused` when an invoice cannot take the money now (another
        seat paid it a moment ago, it was voided, another payment is running on it).
        """
        currency = self._currency()
        self._validate_request(request, currency, hosted=channel != "saved_method")
        with session_scope(self.engine) as session:
            method = None
            if request.payment_method_id is not None:
                method = session.get(PaymentMethod, request.payment_method_id)
                self._check_method(method, request)
            self._check_surcharge_region(session, request)
            invoices = lock_invoices(session, (i for i, _ in request.allocations))
            self._check_invoices(session, invoices, request, exclude_payment_id=None)
            now = utcnow()
            payment = Payment(
                reference=new_reference("PD"),
                idempotency_key=new_idempotency_key("pay"),
                organization_id=request.organization_id,
                contact_id=request.contact_id,
                currency=currency,
                amount_minor=request.amount.minor,
                surcharge_minor=request.surcharge.minor,
                total_minor=request.total.minor,
                refunded_minor=0,
                payment_method_id=request.payment_method_id,
                method_type=method.method_type if method else None,
                method_summary=method_summary(method) if method else None,
                gateway=self.account,
                gateway_account=self.gateway.account_key,
                test_mode=self.gateway.mode.value == "test",
                state=PaymentState.CREATED.value,
                memo=request.memo,
                created_at=now,
                created_by=self.actor,
                channel=channel,
            )
            session.add(payment)
            session.flush()
            for invoice_id, amount in request.allocations:
                session.add(
                    PaymentAllocation(
                        payment_id=payment.id, invoice_id=invoice_id, amount_minor=amount.minor
                    )
                )
            audit(
                session,
                actor=self.actor,
                action="payment.created",
                subject_type="payment",
                subject_id=payment.id,
                details={
                    "reference": payment.reference,
                    "to": PaymentState.CREATED.value,
                    "amount": request.amount.plain(),
                    "surcharge": request.surcharge.plain(),
                    "currency": currency,
                    "invoices": {str(i): m.plain() for i, m in request.allocations},
                    "channel": channel,
                },
            )
            payment_id = payment.id
            # Still inside the transaction, holding the invoices' lock (tests pause here to
            # show that a second seat waits, then sees this payment).
            self._step("payment.reserving")
        self._step("payment.created")
        return payment_id

    def _validate_request(self, request: PaymentRequest, currency: str, *, hosted: bool) -> None:
        if not request.allocations:
            raise PaymentRefused("Choose at least one invoice to pay.", field="invoices")
        ids = [i for i, _ in request.allocations]
        if len(set(ids)) != len(ids):
            raise PaymentRefused("An invoice appears twice in the payment.", field="invoices")
        for _, amount in request.allocations:
            if amount.currency != currency:
                raise PaymentRefused(f"Amounts must be in {currency}.", field="amount")
            if amount.minor <= 0:
                raise PaymentRefused("Every invoice amount must be more than zero.",
                                     field="amount")
        if request.surcharge.currency != currency or request.surcharge.minor < 0:
            raise PaymentRefused("The surcharge is not valid.", field="amount")
        if hosted and request.surcharge.minor:
            raise PaymentRefused(
                "No surcharge can be added when the client chooses the method on the "
                "gateway's page.", field="method",
            )
        if not hosted and request.payment_method_id is None:
            raise PaymentRefused("Choose how to pay.", field="method")
        if request.surcharge > request.amount.percent(MAX_SURCHARGE_PERCENT):
            raise PaymentRefused("A surcharge can be at most 3% of the amount.", field="amount")

    def _check_method(self, method: PaymentMethod | None, request: PaymentRequest) -> None:
        if (
            method is None
            or method.removed_at is not None
            or method.organization_id != request.organization_id
            or method.gateway != self.account
        ):
            raise PaymentRefused(
                "That card or bank account is no longer saved for this organization. "
                "Choose another method.", field="method",
            )
        if request.surcharge.minor and not (
            method.method_type == "card" and (method.funding or "").lower() == "credit"
        ):
            raise PaymentRefused(
                "A surcharge can only be added to credit cards.", field="method"
            )

    @staticmethod
    def _check_surcharge_region(session: Session, request: PaymentRequest) -> None:
        """No surcharge for an organization where the surcharge rules do not allow one."""
        if not request.surcharge.minor:
            return
        org = session.get(Organization, request.organization_id)
        region = organization_region(session, org) if org is not None else None
        row = session.get(Setting, SURCHARGE_SETTING_KEY)
        rules = surcharge_settings_from(row.value.get("v") if row is not None else None)
        if not rules.allowed_in(region):
            raise PaymentRefused(
                f"No surcharge may be added for clients in {region_name(region or '')}. "
                "Take the payment without the surcharge.", field="method")

    def _check_invoices(
        self,
        session: Session,
        invoices: dict[int, Invoice],
        request: PaymentRequest,
        *,
        exclude_payment_id: int | None,
    ) -> None:
        """Under the invoice lock: every invoice exists, belongs to the organization, is
        payable, is in no other running payment and owes at least its share."""
        running: dict[int, list[InFlight]] = {}
        for item in in_flight_payments(
            session, invoices.keys(), exclude_payment_id=exclude_payment_id
        ):
            running.setdefault(item.invoice_id, []).append(item)
        for invoice_id, amount in request.allocations:
            invoice = invoices.get(invoice_id)
            if invoice is None:
                raise PaymentRefused(
                    "An invoice of this payment is no longer in PayDesk. Sync and try again.",
                    field="invoices",
                )
            number = invoice.invoice_number or str(invoice.id)
            if invoice.organization_id != request.organization_id:
                raise PaymentRefused(
                    f"Invoice {number} belongs to another organization.", field="invoices"
                )
            reason = blocked_reason(invoice, running.get(invoice_id, []))
            if reason:
                raise PaymentRefused(reason, field="invoices")
            if amount.minor > invoice.balance_minor:
                owed = Money(invoice.balance_minor, amount.currency).format()
                raise PaymentRefused(
                    f"Only {owed} is owed on invoice {number} now — a payment was recorded "
                    "on it a moment ago. Review the amounts and try again.",
                    field="amount",
                )

    # --- 2. submit --------------------------------------------------------------------------
    def pay(self, request: PaymentRequest) -> PaymentOutcome:
        """Create and submit in one call (from the dialog's worker)."""
        return self.submit(self.create(request))

    def submit(self, payment_id: int) -> PaymentOutcome:
        """Charge a ``created`` payment once and record the outcome."""
        with session_scope(self.engine) as session:
            payment = self._payment(session, payment_id)
            if payment.state != PaymentState.CREATED.value:
                return payment_outcome(payment)
            organization_id = payment.organization_id
        try:
            customer_id = self._customer_id(organization_id)
        except GatewayError as exc:
            return self._fail_before_gateway(payment_id, exc.message)

        with session_scope(self.engine) as session:
            allocations = self._allocations(session, payment_id)
            invoices = lock_invoices(session, (i for i, _ in allocations))
            # Read under the lock: a second submit of the same payment (a double click, a
            # second window) waits here and then sees it is no longer "created".
            payment = self._payment(session, payment_id)
            if payment.state != PaymentState.CREATED.value:
                return payment_outcome(payment)
            request = PaymentRequest(
                organization_id=payment.organization_id,
                allocations=tuple((i, Money(a, payment.currency)) for i, a in allocations),
                surcharge=Money(payment.surcharge_minor, payment.currency),
                payment_method_id=payment.payment_method_id,
            )
            problem: str | None = None
            method = (
                session.get(PaymentMethod, payment.payment_method_id)
                if payment.payment_method_id is not None
                else None
            )
            try:
                self._check_method(method, request)
                self._check_invoices(session, invoices, request, exclude_payment_id=payment_id)
            except PaymentRefused as refused:
                problem = refused.message
            if problem is not None:
                payment.failure_code = "precondition"
                payment.failure_message = problem + " Nothing was charged."
                payment.completed_at = utcnow()
                self._move(session, payment, PaymentState.FAILED, reason=problem)
                return payment_outcome(payment)
            payment.submitted_at = utcnow()
            self._move(session, payment, PaymentState.SUBMITTED)
        self._step("payment.before_gateway")

        try:
            result = self._charge(payment_id, customer_id)
        except GatewayError as exc:
            if exc.outcome_unknown:
                self._mark_unknown(payment_id, exc.message)
                return self.resolve(payment_id)
            return self._fail_after_gateway(payment_id, exc)
        except Exception as exc:
            # Anything unexpected after the request may have left counts as a lost answer:
            # the payment is looked up, never simply charged again.
            log.exception("unexpected error while charging payment %s", payment_id)
            self._mark_unknown(payment_id, type(exc).__name__)
            return self.resolve(payment_id)
        self._step("payment.after_gateway")
        outcome = self._record_charge(payment_id, result)
        self._step("payment.recorded")
        return outcome

    def _charge(self, payment_id: int, customer_id: str) -> ChargeResult:
        """The gateway call for a payment, built only from what is stored, so that a repeat
        sends exactly the same parameters with the same key (the gateway then replays)."""
        with session_scope(self.engine) as session:
            payment = self._payment(session, payment_id)
            method = (
                session.get(PaymentMethod, payment.payment_method_id)
                if payment.payment_method_id is not None
                else None
            )
            if method is None:
                raise PaymentRefused("The payment has no saved method to charge.")
            ids = [i for i, _ in self._allocations(session, payment_id)]
            numbers = dict(
                session.execute(
                    select(Invoice.id, Invoice.invoice_number).where(Invoice.id.in_(ids))
                ).all()
            )
            labels = [numbers.get(i) or str(i) for i in ids]
            token = method.token
            reference, key = payment.reference, payment.idempotency_key
            total = Money(payment.total_minor, payment.currency)
            organization_id = payment.organization_id
        description = f"Payment {reference} for invoice" + ("s " if len(labels) > 1 else " ")
        return self.gateway.charge(
            customer_id,
            token,
            total,
            idempotency_key=key,
            reference=reference,
            description=description + ", ".join(labels),
            metadata={"paydesk_organization_id": str(organization_id)},
        )

    def _fail_before_gateway(self, payment_id: int, message: str) -> PaymentOutcome:
        with session_scope(self.engine) as session:
            payment = self._payment(session, payment_id)
            payment.failure_code = "gateway_unreachable"
            payment.failure_message = f"{message} Nothing was charged."
            payment.completed_at = utcnow()
            self._move(session, payment, PaymentState.FAILED, reason=message)
            recompute_invoices(session, [i for i, _ in self._allocations(session, payment_id)])
            return payment_outcome(payment)

    def _fail_after_gateway(self, payment_id: int, exc: GatewayError) -> PaymentOutcome:
        message = exc.message
        if isinstance(exc, RateLimited):
            message = "The gateway is busy right now. Wait a minute and try again."
        with session_scope(self.engine) as session:
            payment = self._payment(session, payment_id)
            payment.failure_code = exc.code or type(exc).__name__
            payment.failure_message = f"{message} Nothing was charged."
            payment.completed_at = utcnow()
            self._move(session, payment, PaymentState.FAILED, reason=message)
            return payment_outcome(payment)

    def _mark_unknown(self, payment_id: int, why: str) -> None:
        with session_scope(self.engine) as session:
            payment = self._payment(session, payment_id)
            if payment.state == PaymentState.SUBMITTED.value:
                self._move(session, payment, PaymentState.UNKNOWN, reason=why)

    # --- 3. record --------------------------------------------------------------------------
    def _record_charge(self, payment_id: int, result: ChargeResult) -> PaymentOutcome:
        """Record what the gateway says about the charge, in one transaction with the
        balances and the postings. Recording the same answer twice changes nothing."""
        if result.status is ChargeStatus.REQUIRES_ACTION:
            # An off-session charge the cardholder would have to confirm: PayDesk cannot
            # finish it, so it is cancelled at once rather than left hanging.
            try:
                with session_scope(self.engine) as session:
                    key = self._payment(session, payment_id).idempotency_key
                self.gateway.cancel(result.charge_id, idempotency_key=f"{key}-cancel")
            except GatewayError as exc:
                log.warning("could not cancel a charge needing action: %s", exc.message)
        with session_scope(self.engine) as session:
            payment = self._payment(session, payment_id)
            allocations = self._allocations(session, payment_id)
            lock_invoices(session, (i for i, _ in allocations))
            payment = self._payment(session, payment_id)  # re-read under the lock
            current = PaymentState(payment.state)
            target, failure = target_state(current, result)
            if target is None or target is current:
                return payment_outcome(payment)
            now = utcnow()
            payment.gateway_payment_id = result.charge_id
            if result.transaction_id:
                payment.gateway_transaction_id = result.transaction_id
            if result.method is not None:
                payment.method_type = result.method.method_type.value
                payment.method_summary = result.method.summary
            if failure is not None:
                payment.failure_code, payment.failure_message = failure
            if target is not PaymentState.PROCESSING:
                payment.completed_at = now
            self._move(
                session, payment, target,
                gateway_payment_id=result.charge_id,
                transaction_id=result.transaction_id,
                charged=result.amount.plain() if result.amount else None,
            )
            ids = [i for i, _ in allocations]
            session.flush()
            before = invoice_balances(session, ids)
            recompute_invoices(session, ids)
            session.flush()
            if target is PaymentState.SUCCEEDED:
                record_fact(session, PaymentRecorded(
                    payment_id=payment.id, allocations=tuple(allocations),
                    invoices=invoice_changes(session, ids, before), at=now), now)
            decline = result.decline.reason if result.decline else None
            return payment_outcome(payment, decline)

    # --- 4. resolve -------------------------------------------------------------------------
    def resolve(self, payment_id: int) -> PaymentOutcome:
        """Settle a payment whose outcome is unknown by asking the gateway about its key.

        ``created``: PayDesk stopped before sending it (``submitted`` is committed before
        every gateway call), so nothing was charged — it fails. ``submitted``/``unknown``:
        the charge is looked up by key and reference. Found: its outcome is recorded.

        Not found is not proof on its own: the first request may still be running at the
        gateway, or still on its way (a computer that slept after marking the payment sent).
        So while the gateway still keeps the key (``key_lifetime``), the same request is
        repeated with the same key and the same parameters — the gateway replays the first
        outcome, says it is still running (the payment stays unknown), or charges exactly once
        if the first never arrived; a late first request then gets the replay, never a second
        charge. Only a lookup that finds nothing after the key's lifetime proves nothing was
        charged — then it fails.
        """
        with session_scope(self.engine) as session:
            payment = self._payment(session, payment_id)
            state = PaymentState(payment.state)
            if state is PaymentState.CREATED:
                payment.failure_code = "not_sent"
                payment.failure_message = (
                    "PayDesk stopped before sending this payment to the gateway. "
                    "Nothing was charged."
                )
                payment.completed_at = utcnow()
                self._move(session, payment, PaymentState.FAILED, reason="not sent")
                recompute_invoices(session, [i for i, _ in self._allocations(session, payment_id)])
                return payment_outcome(payment)
            if state not in (PaymentState.SUBMITTED, PaymentState.UNKNOWN):
                return payment_outcome(payment)
            reference, key = payment.reference, payment.idempotency_key
            created_after = payment.created_at
            organization_id = payment.organization_id
            sent_at = payment.submitted_at or payment.created_at
        try:
            customer_id = self._customer_id(organization_id)
            found = self.gateway.find_charge(
                reference=reference,
                idempotency_key=key,
                customer_id=customer_id,
                created_after=created_after,
            )
        except GatewayError as exc:
            self._mark_unknown(payment_id, exc.message)
            with session_scope(self.engine) as session:
                return payment_outcome(self._payment(session, payment_id))
        if found is None and utcnow() - sent_at < self.key_lifetime:
            return self._repeat(payment_id, customer_id)
        if found is None and utcnow() - sent_at < self.lookup_grace:
            # A gateway without keys may list a charge a little late: ask again later,
            # never charge again meanwhile.
            return self._still_unknown(
                payment_id, "The gateway does not list this payment yet; PayDesk asks again "
                "in a few minutes before deciding it was not charged.")
        if found is None:
            with session_scope(self.engine) as session:
                payment = self._payment(session, payment_id)
                if payment.state not in (PaymentState.SUBMITTED.value, PaymentState.UNKNOWN.value):
                    return payment_outcome(payment)
                payment.failure_code = "not_charged"
                payment.failure_message = (
                    "The gateway never received this payment. Nothing was charged; "
                    "you can take the payment again."
                )
                payment.completed_at = utcnow()
                self._move(session, payment, PaymentState.FAILED, reason="not found at gateway")
                return payment_outcome(payment)
        return self._record_charge(payment_id, found)

    def _repeat(self, payment_id: int, customer_id: str) -> PaymentOutcome:
        """The certain check after a lookup found nothing: the same charge, same key, same
        parameters (see :meth:`resolve`). Only a definite answer to *this key* settles the
        payment; anything that leaves the key's fate open keeps it unknown."""
        try:
            result = self._charge(payment_id, customer_id)
        except Declined as exc:
            # A decline is stored with the key and replayed: the first request got it too.
            return self._fail_after_gateway(payment_id, exc)
        except InvalidRequest as exc:
            if isinstance(exc, IdempotencyKeyReused):
                # The key was used with other parameters (the stored payment changed since):
                # the first request's fate is still open.
                return self._still_unknown(payment_id, exc.message)
            # Refused as invalid: the gateway keeps no result for it, and the same request
            # sent first was refused the same way — nothing was charged.
            return self._fail_after_gateway(payment_id, exc)
        except GatewayError as exc:
            # Still running (409), busy (429), unreachable, refused credentials: this repeat
            # did nothing, and says nothing about the first request. Ask again later.
            return self._still_unknown(payment_id, exc.message)
        except PaymentRefused as exc:
            # The stored method is gone, so the request cannot be rebuilt; the lookup after
            # the key's lifetime settles it.
            return self._still_unknown(payment_id, exc.message)
        return self._record_charge(payment_id, result)

    def _still_unknown(self, payment_id: int, why: str) -> PaymentOutcome:
        self._mark_unknown(payment_id, why)
        with session_scope(self.engine) as session:
            return payment_outcome(self._payment(session, payment_id))

    def follow_up(self, payment_id: int) -> PaymentOutcome:
        """Ask the gateway how a processing bank debit stands; record settled or returned."""
        with session_scope(self.engine) as session:
            payment = self._payment(session, payment_id)
            if payment.state != PaymentState.PROCESSING.value or not payment.gateway_payment_id:
                return payment_outcome(payment)
            charge_id = payment.gateway_payment_id
            gateway = self._gateway_for(payment)
        result = gateway.refresh_charge(charge_id)
        return self._record_charge(payment_id, result)
