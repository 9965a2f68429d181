"""AutoPay end to end: rules, the runner, retries, revocation, scheduled payments and two
seats — against a real database and the Stripe stand-in over HTTP."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from sqlalchemy import Engine, func, select

from app.core.autopay import (
    AutoPayRefused,
    load_authorization,
    load_autopay_overview,
    revoke_rule,
    run_autopay,
    schedule_payment,
)
from app.core.autopay.defaults import AutoPayDefaults, save_autopay_defaults
from app.core.storage.engine import create_database_engine, session_scope
from app.core.storage.models import AutoPayAttempt, AutoPayAuthorization, Payment
from tests.integration.autopay.support import charges_per_invoice, make_rule, set_today
from tests.integration.payments.support import PayWorld, pay_world, usd

AMOUNTS = ["500.00", "250.00", "120.50"]


@pytest.fixture
def world(sqlite_engine: Engine, gateway_key: str) -> Iterator[PayWorld]:
    with pay_world(sqlite_engine, AMOUNTS, gateway_key) as w:
        yield w


@pytest.fixture
def any_world(engine: Engine, gateway_key: str) -> Iterator[PayWorld]:
    """The same world on SQLite and on PostgreSQL, for every gateway."""
    with pay_world(engine, AMOUNTS, gateway_key) as w:
        yield w


def test_each_due_invoice_is_charged_exactly_once_across_runs(any_world: PayWorld) -> None:
    world = any_world
    make_rule(world)
    first = run_autopay(world.engine, world.gateway, actor="seat-a")
    assert len(first.charged) == 3, first
    assert first.ok
    for _ in range(2):
        again = run_autopay(world.engine, world.gateway, actor="seat-a")
        assert again.charged == () and again.declined == ()
    assert charges_per_invoice(world) == {i: 1 for i in world.invoice_ids}
    assert set(world.statuses().values()) == {"paid"}
    world.ledger_is_consistent()
    with session_scope(world.engine) as s:
        payments = s.scalars(select(Payment)).all()
        assert all(p.surcharge_minor == 0 for p in payments)  # AutoPay adds no surcharge
        assert all((p.memo or "").startswith("AutoPay charge A") for p in payments)
        auth = s.scalars(select(AutoPayAuthorization)).one()
        assert auth.last_debit_at is not None
        assert auth.retain_until >= auth.last_debit_at.date() + timedelta(days=730)


def test_dry_run_charges_nothing_and_writes_nothing(world: PayWorld) -> None:
    make_rule(world)
    report = run_autopay(world.engine, world.gateway, dry_run=True)
    assert len(report.would_charge) == 3
    assert "nothing charged" in report.summary
    assert charges_per_invoice(world) == {}
    with session_scope(world.engine) as s:
        assert s.scalar(select(func.count()).select_from(AutoPayAttempt)) == 0
        assert s.scalar(select(func.count()).select_from(Payment)) == 0
    assert set(world.statuses().values()) == {"open"}


def test_declines_are_retried_on_the_msps_schedule_then_a_person_is_told(
        world: PayWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    make_rule(world, method="decline")
    day0 = date.today()
    tries_on: list[int] = []
    for offset in range(0, 15):
        set_today(monkeypatch, day0 + timedelta(days=offset))
        report = run_autopay(world.engine, world.gateway, actor="seat-a")
        if report.declined or report.needs_person:
            tries_on.append(offset)
        assert report.charged == ()
    # Default schedule: the first charge, then 3 and 7 days after the first decline.
    assert tries_on == [0, 3, 7]
    with session_scope(world.engine) as s:
        states = s.execute(select(AutoPayAttempt.invoice_id, AutoPayAttempt.state)
                           .order_by(AutoPayAttempt.attempt_no)).tuples().all()
    assert [st for i, st in states if i == world.invoice_ids[0]] == [
        "declined", "declined", "gave_up"]
    overview = load_autopay_overview(world.engine, today=day0 + timedelta(days=14))
    stopped = [a for a in overview.attention if a.needs_person]
    assert len(stopped) == 3
    assert "tried 3 times and stopped" in stopped[0].reason
    assert "another card" in stopped[0].action


def test_retry_schedule_is_the_one_the_msp_set(world: PayWorld,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    save_autopay_defaults(world.engine, AutoPayDefaults(retry_after_days=(2,)))
    make_rule(world, method="decline")
    day0 = date.today()
    tries_on = []
    for offset in range(0, 6):
        set_today(monkeypatch, day0 + timedelta(days=offset))
        report = run_autopay(world.engine, world.gateway, actor="seat-a")
        if report.declined or report.needs_person:
            tries_on.append(offset)
    assert tries_on == [0, 2]


def test_a_revoked_authorization_stops_charges_and_is_kept(
        world: PayWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    rule_id = make_rule(world, method="decline")
    day0 = date.today()
    set_today(monkeypatch, day0)
    assert len(run_autopay(world.engine, world.gateway).declined) == 3
    revoke_rule(world.engine, rule_id, "Client asked by email on the phone call of today",
                actor="bookkeeper@frontdesk")
    for offset in (3, 7, 10):
        set_today(monkeypatch, day0 + timedelta(days=offset))
        report = run_autopay(world.engine, world.gateway)
        assert report.declined == () and report.charged == () and report.needs_person == ()
    with session_scope(world.engine) as s:
        assert s.scalar(select(func.count()).select_from(Payment)) == 3  # only the first run
        auth = s.scalars(select(AutoPayAuthorization)).one()
        assert auth.revoked_at is not None and auth.revoke_reason
        assert auth.retain_until >= auth.revoked_at.date() + timedelta(days=730)
    record = load_authorization(world.engine, auth.id)
    assert record is not None and record.revoked_at is not None
    # A new rule with a working card charges again (new authorization, new attempts).
    make_rule(world, method="approve_mastercard")
    assert len(run_autopay(world.engine, world.gateway).charged) == 3


def test_an_invoice_over_the_limit_is_left_for_a_person(world: PayWorld) -> None:
    make_rule(world, limit="300.00")
    report = run_autopay(world.engine, world.gateway)
    assert len(report.charged) == 2
    assert len(report.needs_person) == 1
    assert "more than the AutoPay limit" in report.needs_person[0].message
    assert world.statuses()[world.invoice_ids[0]] == "open"


def test_only_one_active_rule_per_organization(world: PayWorld) -> None:
    make_rule(world)
    with pytest.raises(AutoPayRefused, match="already has AutoPay"):
        make_rule(world)


def test_a_scheduled_payment_is_charged_once_on_its_day(
        world: PayWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    day0 = date.today()
    target = world.invoice_ids[1]
    schedule_payment(world.engine, organization_id=world.company_id,
                     payment_method_id=world.method("approve"),
                     charge_on=day0 + timedelta(days=5), allocations=[(target, usd("100.00"))],
                     today=day0)
    set_today(monkeypatch, day0 + timedelta(days=4))
    overview = load_autopay_overview(world.engine)
    assert [p.kind for p in overview.upcoming] == ["scheduled"]
    assert overview.total == usd("100.00")
    assert run_autopay(world.engine, world.gateway).charged == ()
    for offset in (5, 5, 6):
        set_today(monkeypatch, day0 + timedelta(days=offset))
        run_autopay(world.engine, world.gateway)
    assert charges_per_invoice(world) == {target: 1}
    assert world.balances()[target] == usd("150.00").minor


def _second_engine(engine: Engine) -> Engine:
    return create_database_engine(engine.url.render_as_string(hide_password=False))


def test_two_seats_running_at_once_charge_each_invoice_once(
        engine: Engine, gateway_key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pay_world(engine, ["100.00"] * 12, gateway_key) as world:
        set_today(monkeypatch, date.today() + timedelta(days=200))  # every invoice is due
        make_rule(world)
        other = _second_engine(engine)
        start = threading.Barrier(2)
        reports = {}

        def seat(name: str, eng: Engine) -> None:
            start.wait()
            reports[name] = run_autopay(eng, world.kit.gateway(), actor=name)

        threads = [threading.Thread(target=seat, args=("seat-a", engine)),
                   threading.Thread(target=seat, args=("seat-b", other))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        other.dispose()
        assert len(reports) == 2
        with session_scope(world.engine) as s:
            rows = s.execute(select(AutoPayAttempt.invoice_id, AutoPayAttempt.state,
                                    AutoPayAttempt.reason)).all()
        assert all(state == "succeeded" for _, state, _ in rows), rows
        assert len(reports["seat-a"].charged) + len(reports["seat-b"].charged) == 12
        assert charges_per_invoice(world) == {i: 1 for i in world.invoice_ids}
        assert set(world.statuses().values()) == {"paid"}
        world.ledger_is_consistent()
