"""The payment pipeline: take money once, record it, queue what Autotask must hear.

The order of events is the whole point:

1. :meth:`PaymentPipeline.create` — under a write lock on the invoices (see
   :mod:`app.core.payments.ledger`) the balances are checked again and the payment is
   inserted in ``created`` with a new idempotency key and its allocations. From this commit
   on, no other payment can take the same balance.
2. :meth:`PaymentPipeline.submit` — on the worker thread the preconditions are checked once
   more (the invoice may have been voided or paid in Autotask meanwhile), the payment moves
   to ``submitted`` and *that is committed* before the gateway is called with the key.
3. The gateway's answer is recorded in one transaction: state, gateway ids, invoice balances
   (``recompute_invoices``) and, for a success, the Autotask postings. A success is never
   recorded without its postings, and never posted without being recorded.
4. When the answer is lost (timeout, dropped connection, crash) the payment is ``unknown``
   and is resolved only through its key — looked up at the gateway, and when nothing is found
   the same request repeated with the same key (see :meth:`PaymentPipeline.resolve`) — at
   once, and at every start for anything left over (:func:`recover_payments`). A payment is
   never charged with a second key, so it can never be charged twice, and it is failed only
   when no request with its key can still land.

Refunds follow the same pattern with their own keys: recorded ``created`` before the call,
repeated with the same key when the answer is lost (the gateway replays it).

Threads: every method blocks on the network and the database. Run them on a worker thread,
never the GUI thread. A pipeline holds no session; each step opens its own short one.

``checkpoint`` is called with a step name (``payment.before_gateway`` …) after each commit
(and once, ``payment.reserving``, while the invoices' lock is held); the crash-safety and
concurrency tests use it to stop or pause the process at exactly that point.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, or_, select
from sqlalchemy.orm import Session

from app.core.clock import utcnow
from app.core.config import current_actor, get_internal_currency
from app.core.gateways import (
    ChargeResult,
    ChargeStatus,
    Declined,
    GatewayError,
    HostedMode,
    HostedSession,
    HostedSessionState,
    HostedSessionStatus,
    IdempotencyKeyReused,
    InvalidRequest,
    MethodType,
    PaymentGateway,
    RateLimited,
    RefundResult,
    RefundStatus,
    SavedMethod,
)
from app.core.gateways.repository import SavedMethods, gateway_account_key
from app.core.invoice_state import InvoiceStatus, recompute_invoices
from app.core.money import Money
from app.core.payments.audit import RECOVERED_ACTION, audit
from app.core.payments.ledger import (
    InFlight,
    blocked_reason,
    in_flight_payments,
    lock_invoices,
)
from app.core.payments.states import (
    IN_FLIGHT_STATES,
    PaymentState,
    RefundState,
    check_refund_transition,
    check_transition,
)
from app.core.payments.summary import (
    MAX_SURCHARGE_PERCENT,
    OrderSummary,
    PayableInvoice,
    oldest_due_first,
)
from app.core.posting.queue import (
    queue_paid_date,
    queue_payment_note,
    queue_refund_failed_note,
    queue_refund_note,
)
from app.core.storage.engine import session_scope
from app.core.storage.models import (
    Invoice,
    Payment,
    PaymentAllocation,
    PaymentMethod,
    Posting,
    Refund,
    RefundAllocation,
)

__all__ = [
    "Checkpoint",
    "HostedPayment",
    "PaymentNotFoundError",
    "PaymentOutcome",
    "PaymentPipeline",
    "PaymentRefused",
    "PaymentRequest",
    "RecoveryReport",
    "RefundOutcome",
    "recover_payments",
]

log = logging.getLogger(__name__)

Checkpoint = Callable[[str], None]

#: Unresolved payments of *other* seats are left alone this long (they may still be running).
DEFAULT_STALE_AFTER = timedelta(minutes=10)
#: How long the gateway keeps an idempotency key's outcome (Stripe: at least 24 hours), less a
#: margin. While a payment's key is this young, a lookup that finds nothing is never taken as
#: proof: the request may still land (a slow gateway, a computer that slept between marking
#: the payment sent and sending it), so the same request is repeated with the same key
#: instead. Only after it is "not found" proof that nothing was charged.
KEY_LIFETIME = timedelta(hours=23)

_REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U


def new_reference(prefix: str) -> str:
    """``PD-7K3M9Q2X`` — short enough to read out on the phone, unique in practice."""
    return prefix + "-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))


def new_idempotency_key(kind: str) -> str:
    return f"paydesk-{kind}-{uuid.uuid4()}"


# --------------------------------------------------------------------------------------------
# Plain data in and out
# --------------------------------------------------------------------------------------------


class PaymentRefused(Exception):
    """The payment (or refund) cannot be made as asked; nothing was charged.

    ``message`` is for the bookkeeper; ``field`` names the dialog field it belongs to
    (``amount``, ``invoices``, ``method``, ``reason``) when there is one.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class PaymentNotFoundError(LookupError):
    """No payment (or refund) with that id."""


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """What the bookkeeper confirmed in the Order Summary dialog.

    ``allocations`` are ``(invoice id, amount)``; their sum is the amount applied to invoices.
    ``surcharge`` is charged on top. ``payment_method_id`` is a saved method
    (``payment_methods.id``); it is ``None`` for pay links and new methods, where the client
    picks the method on the gateway's page.
    """

    organization_id: int
    allocations: tuple[tuple[int, Money], ...]
    surcharge: Money
    payment_method_id: int | None = None
    contact_id: int | None = None
    memo: str | None = None

    @property
    def amount(self) -> Money:
        currency = self.surcharge.currency
        return Money(sum(m.minor for _, m in self.allocations), currency)

    @property
    def total(self) -> Money:
        return self.amount + self.surcharge

    @classmethod
    def from_summary(
        cls,
        summary: OrderSummary,
        *,
        organization_id: int,
        payment_method_id: int | None = None,
        contact_id: int | None = None,
        memo: str | None = None,
    ) -> PaymentRequest:
        """The request for a summary the dialog showed with Pay enabled."""
        if not summary.can_pay:
            raise PaymentRefused(summary.error or "The order summary is not complete.")
        return cls(
            organization_id=organization_id,
            allocations=summary.allocations,
            surcharge=summary.surcharge,
            payment_method_id=payment_method_id,
            contact_id=contact_id,
            memo=(memo or "").strip() or None,
        )


@dataclass(frozen=True, slots=True)
class PaymentOutcome:
    """Where a payment stands after a pipeline step, for the dialog's result view.

    ``approved`` is true for succeeded and processing (money accepted). ``message`` is one
    or two sentences for the bookkeeper. ``decline_reason`` is the gateway's reason in plain
    words when declined (offer "Try another method").
    """

    payment_id: int
    reference: str
    state: PaymentState
    amount: Money
    surcharge: Money
    total: Money
    method_summary: str | None
    gateway_transaction_id: str | None
    test_mode: bool
    message: str
    decline_reason: str | None = None
    completed_at: datetime | None = None

    @property
    def approved(self) -> bool:
        return self.state in (PaymentState.SUCCEEDED, PaymentState.PROCESSING)

    @property
    def declined(self) -> bool:
        return self.state is PaymentState.DECLINED

    @property
    def pending(self) -> bool:
        """The outcome is not known yet (``unknown``, or a pay link not used yet)."""
        return self.state.value in IN_FLIGHT_STATES


@dataclass(frozen=True, slots=True)
class HostedPayment:
    """A payment the client (pay link) or the bookkeeper (new card or bank account) completes
    on the gateway's page. Open or send ``url``; then call
    :meth:`PaymentPipeline.check_hosted_payment` every few seconds."""

    payment_id: int
    reference: str
    url: str
    session_id: str
    expires_at: datetime | None
    total: Money


@dataclass(frozen=True, slots=True)
class RefundOutcome:
    refund_id: int
    payment_id: int
    reference: str
    kind: str  # refund | void
    state: RefundState
    amount: Money
    payment_state: PaymentState
    message: str

    @property
    def done(self) -> bool:
        return self.state in (RefundState.SUCCEEDED, RefundState.PENDING)


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    """What :func:`recover_payments` found and did."""

    resolved: tuple[PaymentOutcome, ...] = ()
    still_unknown: tuple[str, ...] = ()  # references
    settled: tuple[PaymentOutcome, ...] = ()  # processing bank debits that ended
    refunds: tuple[RefundOutcome, ...] = ()
    errors: tuple[str, ...] = field(default_factory=tuple)

    @property
    def summary(self) -> str:
        parts = [
            f"{len(self.resolved)} unfinished payment(s) resolved",
            f"{len(self.settled)} bank payment(s) updated",
            f"{len(self.refunds)} refund(s) finished",
        ]
        if self.still_unknown:
            parts.append(
                f"{len(self.still_unknown)} still to check: " + ", ".join(self.still_unknown)
            )
        return "; ".join(parts) + "."


# --------------------------------------------------------------------------------------------


def _outcome(payment: Payment, decline_reason: str | None = None) -> PaymentOutcome:
    state = PaymentState(payment.state)
    currency = payment.currency
    amount = Money(payment.amount_minor, currency)
    total = Money(payment.total_minor, currency)
    method = payment.method_summary
    if state is PaymentState.SUCCEEDED:
        message = f"Approved. Payment {payment.reference} of {total.format()} was charged"
        message += f" to {method}." if method else "."
    elif state is PaymentState.PROCESSING:
        message = (
            f"Accepted. Bank payment {payment.reference} of {total.format()} is processing; "
            "the bank confirms it within about 4 business days."
        )
    elif state is PaymentState.DECLINED:
        message = payment.failure_message or "The payment was declined."
    elif state is PaymentState.FAILED:
        message = payment.failure_message or "The payment did not go through."
    elif state in (PaymentState.UNKNOWN, PaymentState.SUBMITTED, PaymentState.CREATED):
        message = (
            f"PayDesk could not yet confirm whether payment {payment.reference} went through. "
            "It keeps checking with the gateway; do not take this payment again meanwhile."
        )
    elif state is PaymentState.AWAITING_CLIENT:
        message = f"Waiting for the client to pay {total.format()} on the gateway's page."
    elif state is PaymentState.EXPIRED:
        message = "The payment page was closed without a payment. Nothing was charged."
    elif state is PaymentState.RETURNED:
        message = (
            f"The bank returned payment {payment.reference}"
            + (f": {payment.failure_message}" if payment.failure_message else ".")
        )
    else:
        message = f"Payment {payment.reference}: {state.label}."
    return PaymentOutcome(
        payment_id=payment.id,
        reference=payment.reference,
        state=state,
        amount=amount,
        surcharge=Money(payment.surcharge_minor, currency),
        total=total,
        method_summary=method,
        gateway_transaction_id=payment.gateway_transaction_id,
        test_mode=payment.test_mode,
        message=message,
        decline_reason=decline_reason
        or (payment.failure_message if state is PaymentState.DECLINED else None),
        completed_at=payment.completed_at,
    )


def _refund_outcome(refund: Refund, payment: Payment) -> RefundOutcome:
    state = RefundState(refund.state)
    amount = Money(refund.amount_minor, payment.currency)
    noun = "Void" if refund.kind == "void" else "Refund"
    if state is RefundState.SUCCEEDED:
        message = f"{noun} {refund.reference} of {amount.format()} is done."
    elif state is RefundState.PENDING:
        message = f"{noun} {refund.reference} of {amount.format()} was accepted and is on its way."
    elif state is RefundState.FAILED:
        message = refund.failure_message or f"{noun} {refund.reference} did not go through."
    else:
        message = (
            f"PayDesk could not yet confirm {noun.lower()} {refund.reference}. It keeps "
            "checking with the gateway; do not refund this payment again meanwhile."
        )
    return RefundOutcome(
        refund_id=refund.id,
        payment_id=payment.id,
        reference=refund.reference,
        kind=refund.kind,
        state=state,
        amount=amount,
        payment_state=PaymentState(payment.state),
        message=message,
    )


class PaymentPipeline:
    """Takes payments and refunds through one gateway account. See the module docstring.

    Runs on worker threads; one instance may be used from several threads (it holds no
    session, and the gateway client is thread-safe).
    """

    def __init__(
        self,
        engine: Engine,
        gateway: PaymentGateway,
        *,
        actor: str | None = None,
        checkpoint: Checkpoint | None = None,
        key_lifetime: timedelta = KEY_LIFETIME,
    ) -> None:
        self.engine = engine
        self.key_lifetime = key_lifetime
        self.gateway = gateway
        self.actor = actor or current_actor()
        self._checkpoint = checkpoint
        self.methods = SavedMethods(engine, gateway)
        #: What payments, customers and methods are filed under (``stripe-test``).
        self.account = gateway_account_key(gateway)

    # --- internals ------------------------------------------------------------------------
    def _step(self, name: str) -> None:
        if self._checkpoint is not None:
            self._checkpoint(name)

    def _currency(self) -> str:
        currency = get_internal_currency(self.engine)
        if currency is None:
            raise PaymentRefused(
                "PayDesk's internal currency is not set yet. Finish the setup first."
            )
        return currency

    def _move(
        self,
        session: Session,
        payment: Payment,
        new: PaymentState,
        **details: object,
    ) -> None:
        old = payment.state
        check_transition(old, new)
        payment.state = new.value
        audit(
            session,
            actor=self.actor,
            action=f"payment.{new.value}",
            subject_type="payment",
            subject_id=payment.id,
            details={"reference": payment.reference, "from": old, "to": new.value,
                     **{k: v for k, v in details.items() if v is not None}},
        )

    def _payment(self, session: Session, payment_id: int) -> Payment:
        payment = session.get(Payment, payment_id, populate_existing=True)
        if payment is None:
            raise PaymentNotFoundError(f"no payment with id {payment_id}")
        return payment

    def _allocations(self, session: Session, payment_id: int) -> list[tuple[int, int]]:
        rows = session.execute(
            select(PaymentAllocation.invoice_id, PaymentAllocation.amount_minor)
            .where(PaymentAllocation.payment_id == payment_id)
            .order_by(PaymentAllocation.id)
        )
        return [(int(i), int(a)) for i, a in rows]

    def _customer_id(self, organization_id: int) -> str:
        """The gateway customer of an organization: stored, or created once (idempotent)."""
        return self.methods.customer_for(organization_id)

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
                method_summary=_method_summary(method) if method else None,
                gateway=self.account,
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
                return _outcome(payment)
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
                return _outcome(payment)
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
                return _outcome(payment)
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
            return _outcome(payment)

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
            return _outcome(payment)

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
            target, failure = _target_state(current, result)
            if target is None or target is current:
                return _outcome(payment)
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
            recompute_invoices(session, ids)
            session.flush()
            if target is PaymentState.SUCCEEDED:
                queue_payment_note(session, payment, allocations, now)
                # Every invoice this payment leaves fully paid gets its paidDate in Autotask
                # (unless Autotask already has one) — including a bank debit that counted
                # as paid while it was processing and has only now settled.
                for invoice in session.scalars(
                    select(Invoice).where(Invoice.id.in_(ids)).order_by(Invoice.id)
                ):
                    if invoice.status == InvoiceStatus.PAID.value and invoice.paid_date is None:
                        queue_paid_date(
                            session, invoice_id=invoice.id, paid_date=now.date(),
                            because_of=payment.reference, now=now, payment_id=payment.id,
                        )
            decline = result.decline.reason if result.decline else None
            return _outcome(payment, decline)

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
                return _outcome(payment)
            if state not in (PaymentState.SUBMITTED, PaymentState.UNKNOWN):
                return _outcome(payment)
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
                return _outcome(self._payment(session, payment_id))
        if found is None and utcnow() - sent_at < self.key_lifetime:
            return self._repeat(payment_id, customer_id)
        if found is None:
            with session_scope(self.engine) as session:
                payment = self._payment(session, payment_id)
                if payment.state not in (PaymentState.SUBMITTED.value, PaymentState.UNKNOWN.value):
                    return _outcome(payment)
                payment.failure_code = "not_charged"
                payment.failure_message = (
                    "The gateway never received this payment. Nothing was charged; "
                    "you can take the payment again."
                )
                payment.completed_at = utcnow()
                self._move(session, payment, PaymentState.FAILED, reason="not found at gateway")
                return _outcome(payment)
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
            return _outcome(self._payment(session, payment_id))

    def follow_up(self, payment_id: int) -> PaymentOutcome:
        """Ask the gateway how a processing bank debit stands; record settled or returned."""
        with session_scope(self.engine) as session:
            payment = self._payment(session, payment_id)
            if payment.state != PaymentState.PROCESSING.value or not payment.gateway_payment_id:
                return _outcome(payment)
            charge_id = payment.gateway_payment_id
        result = self.gateway.refresh_charge(charge_id)
        return self._record_charge(payment_id, result)

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
                return _outcome(payment)
            session_id = payment.hosted_session_id
        status = self.gateway.poll_hosted_session(session_id)
        return self._record_hosted(payment_id, status)

    def cancel_hosted_payment(self, payment_id: int) -> PaymentOutcome:
        """Close the hosted page (the bookkeeper stopped waiting). If the client paid in the
        meantime, the payment is recorded instead."""
        with session_scope(self.engine) as session:
            payment = self._payment(session, payment_id)
            if payment.state != PaymentState.AWAITING_CLIENT.value or not payment.hosted_session_id:
                return _outcome(payment)
            session_id = payment.hosted_session_id
        status = self.gateway.expire_hosted_session(session_id)
        return self._record_hosted(payment_id, status)

    def _record_hosted(self, payment_id: int, status: HostedSessionStatus) -> PaymentOutcome:
        if status.state is HostedSessionState.OPEN:
            with session_scope(self.engine) as session:
                return _outcome(self._payment(session, payment_id))
        if status.state is HostedSessionState.EXPIRED or status.charge is None:
            with session_scope(self.engine) as session:
                payment = self._payment(session, payment_id)
                if payment.state != PaymentState.AWAITING_CLIENT.value:
                    return _outcome(payment)
                payment.completed_at = utcnow()
                self._move(session, payment, PaymentState.EXPIRED)
                return _outcome(payment)
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
                return _refund_outcome(refund, payment)
            charge_id = payment.gateway_payment_id
            kind, key, reference = refund.kind, refund.idempotency_key, refund.reference
            amount = Money(refund.amount_minor, payment.currency)
            reason = refund.reason
        if not charge_id:
            return self._finish_refund(refund_id, None, "The payment has no gateway charge.")
        try:
            if kind == "void":
                charge = self.gateway.cancel(charge_id, idempotency_key=key)
                result: RefundResult | ChargeResult = charge
            else:
                result = self.gateway.refund(charge_id, amount, idempotency_key=key,
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
                    return _refund_outcome(refund, self._payment(session, refund.payment_id))
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
                return _refund_outcome(refund, payment)
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
                return _refund_outcome(refund, payment)
            audit(session, actor=self.actor, action=f"refund.{target.value}",
                  subject_type="payment", subject_id=payment.id,
                  details={"refund": refund.reference, "gateway_refund_id":
                           refund.gateway_refund_id})
            ids = [i for i, _ in allocations]
            if refund.kind == "void":
                payment.completed_at = now
                self._move(session, payment, PaymentState.VOIDED, refund=refund.reference)
                recompute_invoices(session, ids)
                return _refund_outcome(refund, payment)
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
            before = _statuses(session, ids)
            session.flush()
            # An invoice PayDesk marked paid in Autotask would stay "paid" through its
            # paidDate; the refund clears it here and in Autotask (below).
            for invoice_id, _ in taken:
                invoice = session.get(Invoice, invoice_id)
                if invoice is not None and invoice.paid_date is not None and _paid_by_paydesk(
                    session, invoice_id
                ):
                    invoice.paid_date = None
            recompute_invoices(session, ids)
            session.flush()
            after = _statuses(session, ids)
            queue_refund_note(session, payment, refund, taken, now)
            for invoice_id in ids:
                if before.get(invoice_id) == InvoiceStatus.PAID.value and after.get(
                    invoice_id
                ) in (InvoiceStatus.OPEN.value, InvoiceStatus.PARTIALLY_PAID.value):
                    queue_paid_date(session, invoice_id=invoice_id, paid_date=None,
                                    because_of=refund.reference, now=now,
                                    payment_id=payment.id, refund_id=refund.id)
            outcome = _refund_outcome(refund, payment)
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
                return _refund_outcome(refund, payment)
            gateway_refund_id = refund.gateway_refund_id
        result = self.gateway.refresh_refund(gateway_refund_id)
        if result.status is RefundStatus.PENDING:
            with session_scope(self.engine) as session:
                refund = session.get(Refund, refund_id, populate_existing=True)
                assert refund is not None
                return _refund_outcome(refund, self._payment(session, refund.payment_id))
        with session_scope(self.engine) as session:
            refund = session.get(Refund, refund_id, populate_existing=True)
            assert refund is not None
            allocations = self._allocations(session, refund.payment_id)
            lock_invoices(session, (i for i, _ in allocations))
            refund = session.get(Refund, refund_id, populate_existing=True)
            assert refund is not None
            payment = self._payment(session, refund.payment_id)
            if refund.state != RefundState.PENDING.value:
                return _refund_outcome(refund, payment)  # another seat recorded it meanwhile
            now = utcnow()
            refund.completed_at = now
            if result.status is RefundStatus.SUCCEEDED:
                refund.state = check_refund_transition(refund.state, RefundState.SUCCEEDED).value
                audit(session, actor=self.actor, action="refund.succeeded",
                      subject_type="payment", subject_id=payment.id,
                      details={"refund": refund.reference,
                               "gateway_refund_id": refund.gateway_refund_id})
                return _refund_outcome(refund, payment)
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
            before = _statuses(session, ids)
            session.flush()
            recompute_invoices(session, ids)
            session.flush()
            after = _statuses(session, ids)
            queue_refund_failed_note(session, payment, refund, taken, now)
            for invoice in session.scalars(
                select(Invoice).where(Invoice.id.in_(ids)).order_by(Invoice.id)
            ):
                if (after.get(invoice.id) == InvoiceStatus.PAID.value
                        and before.get(invoice.id) != InvoiceStatus.PAID.value
                        and invoice.paid_date is None):
                    queue_paid_date(session, invoice_id=invoice.id, paid_date=now.date(),
                                    because_of=f"{refund.reference}-failed", now=now,
                                    payment_id=payment.id, refund_id=refund.id)
            return _refund_outcome(refund, payment)

    def resolve_refund(self, refund_id: int) -> RefundOutcome:
        """Finish a refund whose answer was lost: the same call with the same key (the
        gateway replays the first answer; it never refunds twice)."""
        return self._send_refund(refund_id)


# --------------------------------------------------------------------------------------------


def _method_summary(method: PaymentMethod) -> str:
    saved = SavedMethod(
        token=method.token,
        method_type=_method_type(method.method_type),
        brand=method.brand,
        last4=method.last4,
    )
    return saved.summary


def _method_type(value: str) -> MethodType:
    try:
        return MethodType(value)
    except ValueError:
        return MethodType.CARD


def _target_state(
    current: PaymentState, result: ChargeResult
) -> tuple[PaymentState | None, tuple[str, str] | None]:
    """Which state the gateway's answer moves the payment to, and the failure to store."""
    status = result.status
    if current is PaymentState.PROCESSING:
        if status is ChargeStatus.SUCCEEDED:
            return PaymentState.SUCCEEDED, None
        if status in (ChargeStatus.DECLINED, ChargeStatus.CANCELED):
            reason = result.decline.reason if result.decline else "The bank refused the debit."
            code = result.decline.code if result.decline else "returned"
            return PaymentState.RETURNED, (code, reason)
        return None, None
    if current.value not in IN_FLIGHT_STATES:
        return None, None  # already recorded
    if status is ChargeStatus.SUCCEEDED:
        return PaymentState.SUCCEEDED, None
    if status is ChargeStatus.PROCESSING:
        return PaymentState.PROCESSING, None
    if current is PaymentState.AWAITING_CLIENT:
        return None, None
    if status is ChargeStatus.DECLINED:
        decline = result.decline
        reason = decline.reason if decline else "The payment was declined."
        return PaymentState.DECLINED, (decline.code if decline else "declined", reason)
    if status is ChargeStatus.REQUIRES_ACTION:
        return PaymentState.FAILED, (
            "requires_action",
            "The card issuer wants the cardholder to confirm this payment, which PayDesk "
            "cannot do for them. Nothing was charged. Send the client a pay link instead.",
        )
    return PaymentState.FAILED, ("canceled", "The gateway cancelled the payment. Nothing was "
                                 "charged.")


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


def _statuses(session: Session, ids: Sequence[int]) -> dict[int, str]:
    return {
        int(i): str(s)
        for i, s in session.execute(select(Invoice.id, Invoice.status).where(Invoice.id.in_(ids)))
    }


def _paid_by_paydesk(session: Session, invoice_id: int) -> bool:
    """Whether PayDesk itself set this invoice's paidDate in Autotask (not someone else)."""
    rows = session.scalars(
        select(Posting.payload).where(
            Posting.target == "autotask_paid_date",
            Posting.invoice_id == invoice_id,
            Posting.state.in_(("pending", "delivering", "delivered", "failed")),
        ).order_by(Posting.id.desc())
    ).all()
    return bool(rows) and rows[0].get("paid_date") is not None


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


# --------------------------------------------------------------------------------------------


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
    key_lifetime: timedelta = KEY_LIFETIME,
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
