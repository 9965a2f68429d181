"""Saved methods in the database, kept in step with the sandbox gateway over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select

from app.core.clock import utcnow
from app.core.gateways import HostedSessionState, MethodType
from app.core.gateways.repository import SavedMethods, gateway_account_key
from app.core.storage.engine import session_scope
from app.core.storage.models import AuditEntry, GatewayCustomer, Organization, PaymentMethod
from app.sandbox.gateway import GatewaySandbox
from tests.integration.gateway.support import (
    admin,
    attach_test_method,
    make_gateway,
    submit_bank,
    submit_card,
)

ORG = 501


@pytest.fixture
def sandbox() -> Iterator[GatewaySandbox]:
    with GatewaySandbox() as server:
        yield server


@pytest.fixture
def methods(engine: Engine, sandbox: GatewaySandbox) -> SavedMethods:
    with session_scope(engine) as s:
        s.add(Organization(id=ORG, name="Acme Dental", synced_at=utcnow()))
    return SavedMethods(engine, make_gateway(sandbox))


def _customers(sandbox: GatewaySandbox) -> int:
    return int(admin(sandbox, "GET", "/_sandbox/state")["counts"]["customer"])


def test_customer_is_created_once_and_remembered(methods: SavedMethods, engine: Engine,
                                                 sandbox: GatewaySandbox) -> None:
    assert methods.refresh(ORG) == []
    assert _customers(sandbox) == 0  # looking does not create a customer
    first = methods.customer_for(ORG)
    assert methods.customer_for(ORG) == first
    assert _customers(sandbox) == 1
    with session_scope(engine) as s:
        row = s.get(GatewayCustomer, ("stripe-test", ORG))
        assert row is not None and row.customer_id == first
    customer = methods.gateway.ensure_customer(ORG, "x", None, idempotency_key="again")
    assert customer == first  # found again by the organization id in its metadata


def test_adding_a_card_on_the_hosted_page_saves_it_as_the_default(
    methods: SavedMethods, engine: Engine
) -> None:
    session = methods.start_adding(ORG)
    assert methods.check_adding(ORG, session.session_id).state is HostedSessionState.OPEN
    assert methods.local(ORG) == []
    assert submit_card(session.url, "4242424242424242", expiry="07/29").completed
    status = methods.check_adding(ORG, session.session_id)
    assert status.state is HostedSessionState.COMPLETE
    [saved] = methods.local(ORG)
    assert saved.summary == "Visa •••• 4242"
    assert saved.method.expiry == "07/2029"
    assert saved.is_default  # the organization's first method becomes its default
    with session_scope(engine) as s:
        row = s.scalars(select(PaymentMethod)).one()
        stored = " ".join(str(v) for v in vars(row).values())
    assert "4242424242424242" not in stored and row.last4 == "4242"

    # A second method (a bank account) is added but does not take over the default.
    second = methods.start_adding(ORG)
    assert submit_bank(second.url).completed
    methods.check_adding(ORG, second.session_id)
    listed = methods.local(ORG)
    assert [m.method.method_type for m in listed] == [MethodType.CARD,
                                                      MethodType.US_BANK_ACCOUNT]
    assert [m.is_default for m in listed] == [True, False]


def test_set_default_and_remove_reach_the_gateway(methods: SavedMethods,
                                                  sandbox: GatewaySandbox) -> None:
    customer = methods.customer_for(ORG)
    attach_test_method(sandbox, customer, "pm_card_visa")
    attach_test_method(sandbox, customer, "pm_card_mastercard")
    listed = methods.refresh(ORG)
    mastercard = next(m for m in listed if m.method.brand == "mastercard")
    after = methods.set_default(ORG, mastercard)
    assert after[0].token == mastercard.token and after[0].is_default
    assert methods.gateway.list_methods(customer)[0].token == mastercard.token

    remaining = methods.remove(ORG, mastercard)
    assert [m.method.brand for m in remaining] == ["visa"]
    assert [m.brand for m in methods.gateway.list_methods(customer)] == ["visa"]
    assert [m.method.brand for m in methods.refresh(ORG)] == ["visa"]


def test_methods_removed_elsewhere_disappear_on_refresh_but_keep_their_row(
    methods: SavedMethods, engine: Engine, sandbox: GatewaySandbox
) -> None:
    customer = methods.customer_for(ORG)
    token = attach_test_method(sandbox, customer, "pm_card_visa")
    [saved] = methods.refresh(ORG)
    methods.gateway.remove_method(token, idempotency_key="removed-in-dashboard")
    assert methods.refresh(ORG) == []
    kept = methods.methods.get(saved.id)
    assert kept is not None and kept.removed_at is not None  # payments may still point at it


def test_cancel_adding_expires_the_page(methods: SavedMethods) -> None:
    session = methods.start_adding(ORG)
    status = methods.cancel_adding(ORG, session.session_id)
    assert status.state is HostedSessionState.EXPIRED
    assert not submit_card(session.url, "4242424242424242").completed
    assert methods.local(ORG) == []


def test_test_and_live_methods_are_kept_apart(engine: Engine, methods: SavedMethods,
                                              sandbox: GatewaySandbox) -> None:
    attach_test_method(sandbox, methods.customer_for(ORG), "pm_card_visa")
    assert len(methods.refresh(ORG)) == 1
    with GatewaySandbox(secret_key="sk_live_otheraccount1") as live_server:
        live = SavedMethods(engine, make_gateway(live_server))
        assert gateway_account_key(live.gateway) == "stripe-live"
        assert live.local(ORG) == [] and live.refresh(ORG) == []
        assert live.customer_for(ORG) != methods.customer_for(ORG)
    assert len(methods.local(ORG)) == 1


def test_customer_missing_at_the_gateway_is_forgotten(engine: Engine, methods: SavedMethods,
                                                      sandbox: GatewaySandbox) -> None:
    methods.customer_for(ORG)
    with GatewaySandbox(secret_key=sandbox.secret_key) as other_account:
        other = SavedMethods(engine, make_gateway(other_account))
        assert other.refresh(ORG) == []
        assert other.customers.get("stripe-test", ORG) is None


def test_every_change_is_audited_with_the_bank_authorization(
    engine: Engine, sandbox: GatewaySandbox
) -> None:
    with session_scope(engine) as s:
        s.add(Organization(id=ORG, name="Acme Dental", synced_at=utcnow()))
    methods = SavedMethods(engine, make_gateway(sandbox), actor="dana@front-desk")
    session = methods.start_adding(ORG)
    assert submit_bank(session.url).completed
    methods.check_adding(ORG, session.session_id)
    [bank] = methods.local(ORG)
    methods.remove(ORG, bank)
    with session_scope(engine) as s:
        entries = [(e.action, e.actor, e.subject_id, e.details)
                   for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    actions = [a for a, *_ in entries]
    assert actions == ["payment_method.saved", "payment_method.default",
                       "payment_method.removed"]
    assert all(actor == "dana@front-desk" and subject == str(ORG)
               for _, actor, subject, _ in entries)
    saved_details = entries[0][3]
    assert saved_details["method"] == "Stripe Test Bank •••• 6789"
    assert "Debit authorization accepted" in saved_details["authorization"]
