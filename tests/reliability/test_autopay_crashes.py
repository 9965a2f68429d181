"""AutoPay crash safety: a process running AutoPay is killed (SIGKILL, no clean-up) at each
step of a charge — after claiming it, after the pipeline made the payment, after linking,
before and after the gateway call, after recording — then ``paydesk payments autopay``
runs as a new process. Every due invoice ends charged exactly once at the gateway and paid.

The doomed process is forked from the test and opens the profile like ``paydesk`` does;
the rerun is the real command line entry point, also forked. Every scenario runs for Stripe
and for Authorize.Net (the ``gateway_key`` fixture).
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keyring
import pytest
from sqlalchemy import Engine, select

from app.core.config import Profile
from app.core.credentials import CredentialStore
from app.core.storage.engine import open_database, session_scope
from app.core.storage.models import AutoPayAttempt
from tests.integration.autopay.support import charges_per_invoice, make_rule
from tests.integration.file_keyring import FileKeyring
from tests.integration.payments.gateways import GatewayKit, start_kit
from tests.integration.payments.support import (
    PayWorld,
    seed_invoices,
    small_autotask,
    sync_into,
)

_FORK = multiprocessing.get_context("fork")

STEPS = ["autopay.claimed", "payment.created", "autopay.linked", "payment.before_gateway",
         "payment.after_gateway", "payment.recorded"]


def _use_file_keyring(keyring_file: Path) -> None:
    os.environ["PAYDESK_TEST_KEYRING_FILE"] = str(keyring_file)
    keyring.set_keyring(FileKeyring())  # type: ignore[no-untyped-call]


def _doomed_run(keyring_file: Path, folder: Path, crash_at: str) -> None:
    """Run AutoPay as PayDesk would, and die by SIGKILL at ``crash_at``."""
    _use_file_keyring(keyring_file)
    from app.core.autopay import run_autopay
    from app.core.gateways.connection import load_gateway

    def checkpoint(step: str) -> None:
        if step == crash_at:
            os.kill(os.getpid(), signal.SIGKILL)

    profile = Profile.open(folder)
    engine = open_database(profile.database_url)
    gateway = load_gateway(engine, CredentialStore(profile.key))
    assert gateway is not None
    run_autopay(engine, gateway, checkpoint=checkpoint)
    os._exit(0)


def _cli(keyring_file: Path, argv: list[str], out: Path) -> None:
    _use_file_keyring(keyring_file)
    from app.__main__ import main

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(argv)
    out.write_text(buffer.getvalue(), encoding="utf-8")
    os._exit(code)


@dataclass
class AutoPayCrashWorld:
    folder: Path
    keyring_file: Path
    engine: Engine
    world: PayWorld
    kit: GatewayKit

    def doomed(self, crash_at: str) -> int | None:
        process = _FORK.Process(target=_doomed_run,
                                args=(self.keyring_file, self.folder, crash_at))
        process.start()
        process.join(60)
        return process.exitcode

    def autopay_command(self, *extra: str) -> tuple[int | None, dict[str, Any]]:
        out = self.folder.parent / "autopay.json"
        argv = ["--profile", str(self.folder), "payments", "autopay", "--json", *extra]
        process = _FORK.Process(target=_cli, args=(self.keyring_file, argv, out))
        process.start()
        process.join(60)
        return process.exitcode, json.loads(out.read_text(encoding="utf-8"))

    def settle_with_command(self) -> None:
        """``paydesk payments autopay`` after the crash. A gateway without idempotency keys
        cannot prove "not charged" at once (its lookup grace): the charge is left waiting,
        then settled by the run after the grace — as if its two minutes had passed."""
        code, report = self.autopay_command()
        if code == 1 and report["waiting"] and self.kit.lookup_grace:
            self.kit.let_lookup_grace_pass(self.engine)
            try:
                code, report = self.autopay_command()
            finally:
                self.kit.let_lookup_grace_pass(self.engine, passed=False)
        assert code == 0, report


@pytest.fixture
def crash_world(tmp_path: Path, gateway_key: str) -> Iterator[AutoPayCrashWorld]:
    folder = tmp_path / "profile"
    keyring_file = tmp_path / "keyring.json"
    with small_autotask() as autotask, start_kit(gateway_key, account_name="Northwind IT") as kit:
        profile = Profile.open(folder)
        engine = open_database(profile.database_url)
        company_id, ids = seed_invoices(autotask, ["100.00", "200.00", "300.00"])
        sync_into(engine, autotask)
        previous = keyring.get_keyring()
        previous_file = os.environ.get("PAYDESK_TEST_KEYRING_FILE")
        _use_file_keyring(keyring_file)
        try:
            kit.connect(engine, CredentialStore(profile.key))
        finally:
            keyring.set_keyring(previous)
            if previous_file is None:
                os.environ.pop("PAYDESK_TEST_KEYRING_FILE", None)
            else:
                os.environ["PAYDESK_TEST_KEYRING_FILE"] = previous_file
        world = PayWorld(engine, autotask, kit, kit.gateway(), company_id, ids)
        make_rule(world)
        try:
            yield AutoPayCrashWorld(folder, keyring_file, engine, world, kit)
        finally:
            engine.dispose()


@pytest.mark.parametrize("step", STEPS)
def test_sigkill_mid_run_then_a_rerun_charges_each_invoice_once(
        crash_world: AutoPayCrashWorld, step: str) -> None:
    cw = crash_world
    assert cw.doomed(step) == -signal.SIGKILL
    cw.settle_with_command()
    # A second rerun finds nothing more to do.
    code, again = cw.autopay_command()
    assert code == 0 and again["charged"] == [], again
    assert charges_per_invoice(cw.world) == {i: 1 for i in cw.world.invoice_ids}
    assert set(cw.world.statuses().values()) == {"paid"}
    cw.world.ledger_is_consistent()
    with session_scope(cw.engine) as s:
        states = s.scalars(select(AutoPayAttempt.state)).all()
    assert "charging" not in states


def test_dry_run_command_charges_nothing(crash_world: AutoPayCrashWorld) -> None:
    code, report = crash_world.autopay_command("--dry-run")
    assert code == 0
    assert report["dry_run"] is True and len(report["would_charge"]) == 3
    assert charges_per_invoice(crash_world.world) == {}
    code, report = crash_world.autopay_command()
    assert code == 0 and len(report["charged"]) == 3


@pytest.mark.parametrize("step", ["autopay.claimed", "payment.created",
                                  "payment.after_gateway"])
def test_sigkill_while_charging_a_scheduled_payment_then_a_rerun_charges_it_once(
        crash_world: AutoPayCrashWorld, step: str) -> None:
    from datetime import date

    from app.core.autopay import revoke_rule
    from app.core.clock import utcnow
    from app.core.storage.models import AutoPayRule, ScheduledPayment

    cw = crash_world
    with session_scope(cw.engine) as s:
        rule = s.scalars(select(AutoPayRule)).one()
        rule_id, method_id = rule.id, rule.payment_method_id
    revoke_rule(cw.engine, rule_id, "Only the scheduled payment this time", actor="tests")
    target = cw.world.invoice_ids[1]
    with session_scope(cw.engine) as s:  # due today (the dialog only offers later days)
        s.add(ScheduledPayment(
            organization_id=cw.world.company_id, payment_method_id=method_id,
            charge_on=date.today(), currency="USD", allocations={str(target): 15_000},
            state="scheduled", created_at=utcnow(), created_by="tests"))
    assert cw.doomed(step) == -signal.SIGKILL
    cw.settle_with_command()
    code, again = cw.autopay_command()
    assert code == 0 and again["charged"] == []
    assert charges_per_invoice(cw.world) == {target: 1}
    assert cw.world.balances()[target] == 20_000 - 15_000
    with session_scope(cw.engine) as s:
        assert s.scalars(select(ScheduledPayment.state)).one() == "succeeded"
