"""Saved payment methods and gateway customers in the local database, kept in step with the
gateway.

The gateway is the source of truth for which methods an organization has; the database
keeps a copy (tokens, brand, last 4, expiry — never numbers) so the Organization page and
the Order Summary can show them instantly and offline, and so a payment can point at the
method it used.

Rows are filed under the gateway's ``kind`` — its name and mode, such as ``stripe-test``,
the same value the payment pipeline stores on payments — because a test-mode customer or
card means nothing to the live account: switching from test keys to live keys starts from
an empty list instead of offering cards that cannot be charged.

:class:`SavedMethods` is what the GUI calls (from a worker thread): it talks to the gateway
and updates the database in short sessions, and returns frozen :class:`StoredMethod`s.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.clock import utcnow
from app.core.config import current_actor
from app.core.gateways.errors import InvalidRequest
from app.core.gateways.protocol import PaymentGateway
from app.core.gateways.types import (
    HostedMode,
    HostedSession,
    HostedSessionState,
    HostedSessionStatus,
    MethodType,
    SavedMethod,
)
from app.core.storage.engine import session_scope
from app.core.storage.models import AuditEntry, GatewayCustomer, Organization, PaymentMethod

__all__ = [
    "GatewayCustomerRepository",
    "PaymentMethodRepository",
    "SavedMethods",
    "StoredMethod",
    "gateway_account_key",
]


def gateway_account_key(gateway: PaymentGateway) -> str:
    """``stripe-test`` / ``stripe-live``: what customer and method rows are filed under (the
    gateway's :attr:`~PaymentGateway.kind`, which the payment pipeline uses too)."""
    return gateway.kind


@dataclass(frozen=True, slots=True)
class StoredMethod:
    """A saved method as the database holds it: its row id (``payments.payment_method_id``)
    and the gateway's view of it."""

    id: int
    organization_id: int
    gateway: str
    method: SavedMethod
    created_at: datetime
    removed_at: datetime | None = None

    @property
    def token(self) -> str:
        return self.method.token

    @property
    def summary(self) -> str:
        return self.method.summary

    @property
    def is_default(self) -> bool:
        return self.method.is_default


def _stored(row: PaymentMethod) -> StoredMethod:
    return StoredMethod(
        id=row.id,
        organization_id=row.organization_id,
        gateway=row.gateway,
        method=SavedMethod(
            token=row.token,
            method_type=MethodType(row.method_type),
            brand=row.brand,
            last4=row.last4,
            exp_month=row.exp_month,
            exp_year=row.exp_year,
            funding=row.funding,
            holder_name=row.holder_name,
            is_default=row.is_default,
        ),
        created_at=row.created_at,
        removed_at=row.removed_at,
    )


def _audit(session: Session, actor: str, action: str, organization_id: int,
           details: dict[str, Any]) -> None:
    """Who saved, removed or re-ranked a method, in the same transaction as the change
    (NACHA asks for a record of each debit authorization; the gateway keeps the mandate)."""
    session.add(AuditEntry(at=utcnow(), actor=actor, action=action,
                           subject_type="organization", subject_id=str(organization_id),
                           details=details))


def _describe(method: SavedMethod) -> dict[str, Any]:
    details: dict[str, Any] = {"method": method.summary, "type": method.method_type.value}
    if method.method_type is MethodType.US_BANK_ACCOUNT:
        details["authorization"] = ("Debit authorization accepted by the account holder on "
                                    "the gateway's secure page; the gateway keeps the mandate.")
    return details


class GatewayCustomerRepository:
    """Which gateway customer stands for each organization."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self, gateway: str, organization_id: int) -> str | None:
        with session_scope(self._engine) as s:
            row = s.get(GatewayCustomer, (gateway, organization_id))
            return row.customer_id if row is not None else None

    def save(self, gateway: str, organization_id: int, customer_id: str) -> str:
        """Store the mapping; if another seat stored one first, keep and return theirs."""
        try:
            with session_scope(self._engine) as s:
                row = s.get(GatewayCustomer, (gateway, organization_id))
                if row is None:
                    s.add(GatewayCustomer(gateway=gateway, organization_id=organization_id,
                                          customer_id=customer_id, created_at=utcnow()))
                    return customer_id
                row.customer_id = customer_id
                return customer_id
        except IntegrityError:
            existing = self.get(gateway, organization_id)
            if existing is None:
                raise
            return existing

    def forget(self, gateway: str, organization_id: int) -> None:
        with session_scope(self._engine) as s:
            row = s.get(GatewayCustomer, (gateway, organization_id))
            if row is not None:
                s.delete(row)


class PaymentMethodRepository:
    """The local copy of each organization's saved methods. Every change is audited under
    ``actor`` (``user@computer``)."""

    def __init__(self, engine: Engine, actor: str | None = None) -> None:
        self._engine = engine
        self._actor = actor or current_actor()

    def for_organization(self, organization_id: int, gateway: str, *,
             include_removed: bool = False) -> list[StoredMethod]:
        """Default first, then newest first."""
        with session_scope(self._engine) as s:
            query = select(PaymentMethod).where(
                PaymentMethod.organization_id == organization_id,
                PaymentMethod.gateway == gateway,
            )
            if not include_removed:
                query = query.where(PaymentMethod.removed_at.is_(None))
            query = query.order_by(PaymentMethod.is_default.desc(),
                                   PaymentMethod.created_at.desc(), PaymentMethod.id.desc())
            return [_stored(row) for row in s.scalars(query)]

    def get(self, method_id: int) -> StoredMethod | None:
        with session_scope(self._engine) as s:
            row = s.get(PaymentMethod, method_id)
            return _stored(row) if row is not None else None

    def sync(self, organization_id: int, gateway: str,
             methods: list[SavedMethod]) -> list[StoredMethod]:
        """Make the local copy match the gateway's list: add new methods, update changed
        ones, mark the ones the gateway no longer has as removed (payments keep pointing at
        them)."""
        now = utcnow()
        seen = {m.token for m in methods}
        with session_scope(self._engine) as s:
            rows = {r.token: r for r in s.scalars(select(PaymentMethod).where(
                PaymentMethod.gateway == gateway, PaymentMethod.token.in_(seen)))} if seen else {}
            for method in methods:
                row = rows.get(method.token)
                if row is None:
                    row = PaymentMethod(gateway=gateway, token=method.token, created_at=now)
                    s.add(row)
                    _audit(s, self._actor, "payment_method.saved", organization_id,
                           _describe(method))
                row.organization_id = organization_id
                row.method_type = method.method_type.value
                row.brand = method.brand
                row.last4 = method.last4
                row.exp_month = method.exp_month
                row.exp_year = method.exp_year
                row.funding = method.funding
                row.holder_name = method.holder_name
                row.is_default = method.is_default
                row.removed_at = None
            for row in s.scalars(select(PaymentMethod).where(
                    PaymentMethod.organization_id == organization_id,
                    PaymentMethod.gateway == gateway,
                    PaymentMethod.removed_at.is_(None))):
                if row.token not in seen:
                    row.removed_at = now
                    row.is_default = False
                    _audit(s, self._actor, "payment_method.removed_at_gateway",
                           organization_id, _describe(_stored(row).method))
        return self.for_organization(organization_id, gateway)

    def set_default(self, organization_id: int, gateway: str, token: str) -> None:
        with session_scope(self._engine) as s:
            s.execute(update(PaymentMethod).where(
                PaymentMethod.organization_id == organization_id,
                PaymentMethod.gateway == gateway,
            ).values(is_default=PaymentMethod.token == token))
            row = s.scalar(select(PaymentMethod).where(PaymentMethod.gateway == gateway,
                                                       PaymentMethod.token == token))
            if row is not None:
                _audit(s, self._actor, "payment_method.default", organization_id,
                       _describe(_stored(row).method))

    def mark_removed(self, gateway: str, token: str) -> None:
        with session_scope(self._engine) as s:
            row = s.scalar(select(PaymentMethod).where(PaymentMethod.gateway == gateway,
                                                       PaymentMethod.token == token))
            if row is None or row.removed_at is not None:
                return
            row.removed_at = utcnow()
            row.is_default = False
            _audit(s, self._actor, "payment_method.removed", row.organization_id,
                   _describe(_stored(row).method))


class SavedMethods:
    """An organization's saved methods: gateway calls plus the local copy.

    Every method blocks on the network: run it in a worker thread. Each user action gets
    its own idempotency key, so a retried click cannot do the action twice.
    """

    def __init__(self, engine: Engine, gateway: PaymentGateway, *,
                 actor: str | None = None) -> None:
        self._engine = engine
        self._gateway = gateway
        self._key = gateway_account_key(gateway)
        self.customers = GatewayCustomerRepository(engine)
        self.methods = PaymentMethodRepository(engine, actor)

    @property
    def gateway(self) -> PaymentGateway:
        return self._gateway

    def local(self, organization_id: int) -> list[StoredMethod]:
        """What the database holds now (instant, offline)."""
        return self.methods.for_organization(organization_id, self._key)

    def customer_for(self, organization_id: int) -> str:
        """The gateway customer for an organization, created at the gateway on first use."""
        existing = self.customers.get(self._key, organization_id)
        if existing is not None:
            return existing
        with session_scope(self._engine) as s:
            org = s.get(Organization, organization_id)
            name = org.name if org is not None else f"Organization {organization_id}"
        customer_id = self._gateway.ensure_customer(
            organization_id, name, None,
            idempotency_key=f"paydesk-customer-{self._key}-{organization_id}",
        )
        return self.customers.save(self._key, organization_id, customer_id)

    def refresh(self, organization_id: int) -> list[StoredMethod]:
        """Fetch the organization's methods from the gateway and update the local copy.

        An organization that never had a gateway customer has no methods; none is created
        just to look.
        """
        customer_id = self.customers.get(self._key, organization_id)
        if customer_id is None:
            return self.methods.sync(organization_id, self._key, [])
        try:
            methods = self._gateway.list_methods(customer_id)
        except InvalidRequest as exc:
            if exc.code != "resource_missing":
                raise
            # The customer is gone at the gateway (deleted, or another account's key).
            self.customers.forget(self._key, organization_id)
            methods = []
        return self.methods.sync(organization_id, self._key, methods)

    def set_default(self, organization_id: int, method: StoredMethod) -> list[StoredMethod]:
        customer_id = self.customer_for(organization_id)
        self._gateway.set_default_method(customer_id, method.token,
                                         idempotency_key=f"paydesk-{uuid.uuid4()}")
        self.methods.set_default(organization_id, self._key, method.token)
        return self.local(organization_id)

    def remove(self, organization_id: int, method: StoredMethod) -> list[StoredMethod]:
        self._gateway.remove_method(method.token, idempotency_key=f"paydesk-{uuid.uuid4()}")
        self.methods.mark_removed(self._key, method.token)
        return self.local(organization_id)

    def start_adding(self, organization_id: int, *,
                     mode: HostedMode = HostedMode.SETUP) -> HostedSession:
        """Open a hosted page where the client enters a new card or bank account."""
        customer_id = self.customer_for(organization_id)
        return self._gateway.start_hosted_session(
            customer_id, mode=mode, idempotency_key=f"paydesk-{uuid.uuid4()}")

    def check_adding(self, organization_id: int, session_id: str) -> HostedSessionStatus:
        """Poll a hosted page; once complete, refresh the local copy and make the new method
        the default when the organization had none."""
        status = self._gateway.poll_hosted_session(session_id)
        if status.state is HostedSessionState.COMPLETE:
            self._after_adding(organization_id, status)
        return status

    def cancel_adding(self, organization_id: int, session_id: str) -> HostedSessionStatus:
        """Stop waiting: expire the page (unless the client has just completed it)."""
        status = self._gateway.expire_hosted_session(session_id)
        if status.state is HostedSessionState.COMPLETE:
            self._after_adding(organization_id, status)
        return status

    def _after_adding(self, organization_id: int, status: HostedSessionStatus) -> None:
        methods = self.refresh(organization_id)
        if status.method is not None and not any(m.is_default for m in methods):
            added = next((m for m in methods if m.token == status.method.token), None)
            if added is not None:
                self.set_default(organization_id, added)
