"""The :class:`PaymentGateway` protocol: what PayDesk needs from any payment gateway.

Stripe is the first implementation (:mod:`app.core.gateways.stripe_gateway`); Authorize.Net
fits the same shape (CIM profiles for customers and methods, Accept Hosted for the hosted
page, transaction lookup by invoice number / refId for recovery).

Rules every implementation keeps:

* **Amounts** are :class:`~app.core.money.Money`; a gateway converts to its own units.
* **Every mutating call takes an ``idempotency_key``.** Repeating a call with the same key
  must never move money twice; gateways without native keys (Authorize.Net) look the
  earlier attempt up before repeating it.
* **Charges carry the PayDesk ``reference``** in the gateway's metadata, with the idempotency
  key, so :meth:`PaymentGateway.find_charge` can recover the outcome after a lost response.
* **Errors are typed** (:mod:`app.core.gateways.errors`); a decline from :meth:`charge` is a
  result (``ChargeStatus.DECLINED``), not an exception, because it is an ordinary outcome
  with a gateway id worth recording.
* **No secret, card number or bank account number** appears in a result, a ``repr``, an
  exception message or a log line.
* All methods block on the network: call them from a worker thread, never the GUI thread.
  An instance may be shared between threads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from app.core.gateways.types import (
    ChargeResult,
    GatewayAccountInfo,
    GatewayMode,
    HostedMode,
    HostedSession,
    HostedSessionStatus,
    MethodType,
    RefundResult,
    SavedMethod,
)
from app.core.money import Money

__all__ = ["PaymentGateway"]


@runtime_checkable
class PaymentGateway(Protocol):
    """A payment gateway account, opened with one set of credentials."""

    #: The name customers, saved methods and payments are filed under in the database: the
    #: gateway and its mode, ``"stripe-test"`` or ``"stripe-live"``. Test-mode customers and
    #: cards mean nothing to the live account (and the reverse), so switching keys from test
    #: to live starts from clean lists instead of offering methods that cannot be charged.
    kind: str

    #: The account the credentials open, ``"stripe:test:acct_…"``
    #: (:func:`app.core.gateways.providers.account_key`). Recorded on every payment, so that
    #: its refunds and follow-ups go to the account that took it.
    account_key: str

    @property
    def mode(self) -> GatewayMode:
        """Test or live — decided by the credentials (Stripe: ``sk_test_``/``sk_live_``)."""
        ...

    # --- account ----------------------------------------------------------------------
    def test_connection(self) -> GatewayAccountInfo:
        """Check the credentials and describe the account (for the setup wizard)."""
        ...

    # --- customers and saved methods --------------------------------------------------
    def ensure_customer(
        self, organization_id: int, name: str, email: str | None, *, idempotency_key: str
    ) -> str:
        """The gateway customer id for an organization: found by the organization id stored
        in the customer's metadata, or created. Callers keep the mapping in the database
        (:class:`app.core.gateways.repository.GatewayCustomerRepository`) and only come here
        when it is missing."""
        ...

    def list_methods(self, customer_id: str) -> list[SavedMethod]:
        """The customer's saved cards and bank accounts, default first, newest next."""
        ...

    def set_default_method(self, customer_id: str, token: str, *, idempotency_key: str) -> None:
        """Make ``token`` the method charged when none is chosen."""
        ...

    def remove_method(self, token: str, *, idempotency_key: str) -> None:
        """Detach a saved method from its customer; it can no longer be charged."""
        ...

    # --- hosted page for new methods --------------------------------------------------
    def start_hosted_session(
        self,
        customer_id: str,
        *,
        mode: HostedMode,
        idempotency_key: str,
        amount: Money | None = None,
        description: str | None = None,
        reference: str | None = None,
        metadata: Mapping[str, str] | None = None,
        method_types: Sequence[MethodType] = (MethodType.CARD, MethodType.US_BANK_ACCOUNT),
        success_url: str | None = None,
        cancel_url: str | None = None,
    ) -> HostedSession:
        """Start a page on the gateway's site where the client enters a card or bank account.

        ``SETUP`` saves the method; ``PAYMENT`` charges ``amount`` and saves the method too
        (``reference``/``metadata`` then go on the charge). Without ``success_url`` /
        ``cancel_url`` the gateway's own "you can close this window" page is used.
        """
        ...

    def poll_hosted_session(self, session_id: str) -> HostedSessionStatus:
        """Where the hosted session stands; call every few seconds until it is not ``OPEN``."""
        ...

    def expire_hosted_session(self, session_id: str) -> HostedSessionStatus:
        """Close a session nobody will complete (the bookkeeper cancelled the wait). If the
        client completed it meanwhile, the completed status is returned instead."""
        ...

    # --- charges ----------------------------------------------------------------------
    def charge(
        self,
        customer_id: str,
        method_token: str,
        amount: Money,
        *,
        idempotency_key: str,
        reference: str,
        description: str,
        metadata: Mapping[str, str] | None = None,
        statement_descriptor: str | None = None,
    ) -> ChargeResult:
        """Charge a saved method, off-session.

        Returns SUCCEEDED, PROCESSING (bank debits), REQUIRES_ACTION or DECLINED. Raises
        :class:`~app.core.gateways.errors.GatewayError` subclasses for everything else; on
        ``NetworkUnknownOutcome`` / ``GatewayUnavailable(outcome_unknown=True)`` call
        :meth:`find_charge` (or repeat with the *same* key) before anything else.
        """
        ...

    def find_charge(
        self,
        *,
        reference: str | None = None,
        idempotency_key: str | None = None,
        customer_id: str | None = None,
        created_after: datetime | None = None,
    ) -> ChargeResult | None:
        """Look a charge up by the PayDesk reference and/or idempotency key stored in its
        metadata; ``None`` when the gateway has no such charge (nothing was charged).

        Give ``customer_id`` (and ``created_after``) whenever known: the lookup then lists
        that customer's charges, which the gateway answers consistently at once, instead of
        using the gateway's search index, which can lag behind by up to a minute.

        ``None`` straight after a timeout is not yet proof: a request the gateway is still
        executing can land a moment later. To be certain, repeat :meth:`charge` with the
        same key and parameters — it replays the outcome, raises ``RequestInProgress`` while
        the first is still running, or charges exactly once if the first never arrived.
        """
        ...

    def refresh_charge(self, charge_id: str) -> ChargeResult:
        """The charge's current state (follow a PROCESSING bank debit until it ends)."""
        ...

    def refund(
        self,
        charge_id: str,
        amount: Money | None,
        *,
        idempotency_key: str,
        reason: str | None = None,
        reference: str | None = None,
    ) -> RefundResult:
        """Refund ``amount`` (``None``: whatever is left) of a succeeded charge."""
        ...

    def refresh_refund(self, refund_id: str) -> RefundResult:
        """The refund's current state: follow a PENDING refund (Stripe: ``GET /v1/refunds/{id}``)
        until it SUCCEEDED, or FAILED / CANCELED — then the money stayed with the merchant."""
        ...

    def cancel(self, charge_id: str, *, idempotency_key: str) -> ChargeResult:
        """Void a charge that has not settled (requires action, or a processing bank debit
        the gateway still allows to cancel). Raises ``InvalidRequest`` once it has settled —
        refund it instead."""
        ...
