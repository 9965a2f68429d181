"""The payment pipeline's shared ledger: what a payment and a refund are, how they are read,
moved between states with an audit entry, and whose gateway account they belong to.

The pipeline's rooms (:mod:`.charges`, :mod:`.hosted`, :mod:`.refunds`, :mod:`.recovery`)
all build on :class:`PipelineLedger`; :class:`app.core.payments.pipeline.PaymentPipeline`
joins them. The order of events that makes a payment safe is told in the package docstring.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.core.config import current_actor, get_internal_currency
from app.core.gateways import (
    ChargeResult,
    ChargeStatus,
    MethodType,
    PaymentGateway,
    SavedMethod,
)
from app.core.gateways.connection import same_account
from app.core.gateways.providers import get_provider, provider_names
from app.core.gateways.repository import SavedMethods, gateway_account_key
from app.core.money import Money
from app.core.payments.audit import audit
from app.core.payments.states import (
    IN_FLIGHT_STATES,
    PaymentState,
    RefundState,
    check_transition,
)
from app.core.payments.summary import (
    OrderSummary,
)
from app.core.posting.channels import (
    InvoiceChange,
)
from app.core.storage.models import (
    Invoice,
    Payment,
    PaymentAllocation,
    PaymentMethod,
    Refund,
)

log = logging.getLogger(__name__)

Checkpoint = Callable[[str], None]

#: Unresolved payments of *other* seats are left alone this long (they may still be running).
DEFAULT_STALE_AFTER = timedelta(minutes=10)
#: How long a gateway keeps an idempotency key's outcome, less a margin, when its provider does
#: not say (each provider's ``idempotency_window`` does: Stripe keeps keys at least 24 hours).
#: While a payment's key is this young, a lookup that finds nothing is never taken as
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


def payment_outcome(payment: Payment, decline_reason: str | None = None) -> PaymentOutcome:
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


def refund_outcome(refund: Refund, payment: Payment) -> RefundOutcome:
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



def key_window(gateway: PaymentGateway) -> timedelta:
    """The gateway provider's idempotency window for this adapter (``KEY_LIFETIME`` for an
    adapter whose provider is not registered)."""
    provider = get_provider(gateway.account_key.split(":")[0])
    if provider is None:
        return KEY_LIFETIME
    return provider.idempotency_window or timedelta(0)


class PipelineLedger:
    """The shared part of every room of the pipeline: the engine, the gateway, the audit
    actor and the crash-test checkpoint; loading a payment and its allocations, moving it
    between states with an audit entry, and the gateway of the account that took it.

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
        key_lifetime: timedelta | None = None,
        lookup_grace: timedelta | None = None,
        other_accounts: Callable[[str], PaymentGateway | None] | None = None,
    ) -> None:
        self.engine = engine
        #: How long a repeated request with the same key is replayed, not charged again: the
        #: provider's idempotency window (zero for a gateway without keys, whose lost answers
        #: are settled by looking the charge up only).
        self.key_lifetime = key_lifetime if key_lifetime is not None else key_window(gateway)
        provider = get_provider(gateway.account_key.split(":")[0])
        #: Without keys: how long "not found" is not yet proof that nothing was charged. The
        #: adapter's own grace when it has one (it uses the same one for its repeats), else
        #: the provider's.
        adapter_grace = getattr(gateway, "lookup_grace", None)
        self.lookup_grace = (lookup_grace if lookup_grace is not None
                             else adapter_grace if isinstance(adapter_grace, timedelta)
                             else provider.lookup_grace if provider is not None
                             else timedelta(0))
        self.gateway = gateway
        #: Opens the gateway of an account other than ``gateway`` (a payment taken before the
        #: gateway was replaced), or None when this computer has no credentials for it.
        self.other_accounts = other_accounts
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

    def _gateway_for(self, payment: Payment) -> PaymentGateway:
        """The gateway of the account that took ``payment``: refunds and follow-ups go there,
        never to "the one connected now" when that is another account. Raises
        :class:`PaymentRefused` saying what to do when this computer cannot reach it."""
        if payment.gateway == self.account and same_account(self.gateway.account_key,
                                                            payment.gateway_account):
            return self.gateway
        other = (self.other_accounts(payment.gateway_account or payment.gateway)
                 if self.other_accounts is not None else None)
        if other is not None:
            return other
        provider = (payment.gateway_account or payment.gateway).split(":")[0].split("-")[0]
        mode = "test" if payment.test_mode else "live"
        name = provider_names().get(provider, provider)
        raise PaymentRefused(
            f"Payment {payment.reference} was taken with another {name} account ({mode} "
            "mode) than the one PayDesk is connected to now, so PayDesk cannot reach it. "
            f"Refund it in that account's {name} dashboard, or connect that account again "
            "in Setup… and try once more."
        )

    def _customer_id(self, organization_id: int) -> str:
        """The gateway customer of an organization: stored, or created once (idempotent)."""
        return self.methods.customer_for(organization_id)


def method_summary(method: PaymentMethod) -> str:
    saved = SavedMethod(
        token=method.token,
        method_type=method_type_of(method.method_type),
        brand=method.brand,
        last4=method.last4,
    )
    return saved.summary


def method_type_of(value: str) -> MethodType:
    try:
        return MethodType(value)
    except ValueError:
        return MethodType.CARD


def target_state(
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


def invoice_balances(session: Session, ids: Sequence[int]) -> dict[int, tuple[str, int]]:
    """Each invoice's status and balance now (before a change is recomputed)."""
    return {
        int(i): (str(status), int(balance))
        for i, status, balance in session.execute(
            select(Invoice.id, Invoice.status, Invoice.balance_minor).where(Invoice.id.in_(ids))
        )
    }


def invoice_changes(
    session: Session, ids: Sequence[int], before: Mapping[int, tuple[str, int]]
) -> tuple[InvoiceChange, ...]:
    """The ledger's view of what a recorded change did to each invoice, for the posting
    channels' rules: status and balance before and after, and the paid date now."""
    after = {
        int(i): (str(status), int(balance), paid)
        for i, status, balance, paid in session.execute(
            select(Invoice.id, Invoice.status, Invoice.balance_minor, Invoice.paid_date)
            .where(Invoice.id.in_(ids))
        )
    }
    changes = []
    for invoice_id in dict.fromkeys(ids):
        if invoice_id not in after:
            continue
        status, balance, paid = after[invoice_id]
        was_status, was_balance = before.get(invoice_id, (status, balance))
        changes.append(InvoiceChange(
            invoice_id=invoice_id, status_before=was_status, status_after=status,
            balance_before_minor=was_balance, balance_after_minor=balance, paid_date=paid))
    return tuple(changes)

