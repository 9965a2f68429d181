"""Crash safety: a PayDesk process is killed (SIGKILL) at each step of the payment pipeline,
of a refund and of the posting worker; ``paydesk payments recover`` then runs as a new
process, and the test proves:

* exactly one charge (or none, when the gateway was never called) at the gateway per payment,
  and refunds never repeated;
* the ledger and the invoice balances agree with what the gateway did;
* every Autotask posting is delivered exactly once — one note per payment or refund, even
  when the process died after Autotask created the note but before PayDesk recorded it.

The doomed process and the recovering one are forked from the test process (they start
in milliseconds, with nothing imported again) and open the profile on their own, exactly
like ``paydesk`` does; the recovery runs the real ``paydesk payments recover`` entry point.
One test also runs that command as a fresh interpreter. One profile, database and pair of
sandboxes serve every scenario (each uses its own invoice).

Every scenario runs for Stripe and for Authorize.Net (the ``gateway_key`` fixture). They differ
in one place, by design: a payment killed after it was marked sent but before the request left
(``payment.before_gateway``). Stripe's recovery repeats the request with the same idempotency
key, so it is charged exactly once; Authorize.Net has no keys, so recovery keeps the payment
unknown for the lookup grace and then records that nothing was charged — never a second
charge, never a blind one.
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keyring
import pytest
from sqlalchemy import Engine, select

from app.core.config import Profile
from app.core.connections import AutotaskConnection, save_autotask_connection, save_autotask_secret
from app.core.credentials import CredentialStore
from app.core.payments import PaymentPipeline, PaymentRequest, PaymentState
from app.core.storage.engine import open_database, session_scope
from app.core.storage.models import Invoice, Payment, PaymentAllocation, Posting
from tests.integration.file_keyring import FileKeyring
from tests.integration.payments.gateways import GatewayKit, start_kit
from tests.integration.payments.support import (
    PayWorld,
    seed_invoices,
    small_autotask,
    sync_into,
    usd,
)

ROOT = Path(__file__).resolve().parents[2]
INVOICES = 12


_FORK = multiprocessing.get_context("fork")


def _use_file_keyring(keyring_file: Path) -> None:
    os.environ["PAYDESK_TEST_KEYRING_FILE"] = str(keyring_file)
    keyring.set_keyring(FileKeyring())  # type: ignore[no-untyped-call]


def _child_main(keyring_file: Path, argv: list[str]) -> None:
    _use_file_keyring(keyring_file)
    from tests.reliability import payment_child

    with contextlib.redirect_stdout(io.StringIO()):
        code = payment_child.main(argv)
    os._exit(code)


def _cli_main(keyring_file: Path, argv: list[str], out: Path) -> None:
    _use_file_keyring(keyring_file)
    from app.__main__ import main

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(argv)
    out.write_text(buffer.getvalue(), encoding="utf-8")
    os._exit(code)


@dataclass
class CrashWorld:
    folder: Path
    keyring_file: Path
    engine: Engine
    world: PayWorld
    card: int
    free: list[int] = field(default_factory=list)

    @property
    def kit(self) -> GatewayKit:
        return self.world.kit

    def next_invoice(self) -> int:
        return self.free.pop(0)

    def child(self, crash_at: str, *args: str) -> int:
        """Run the pipeline in a forked process that SIGKILLs itself at ``crash_at``;
        returns its exit code."""
        argv = ["--profile", str(self.folder), "--crash-at", crash_at, *args]
        process = _FORK.Process(target=_child_main, args=(self.keyring_file, argv))
        process.start()
        process.join(60)
        assert process.exitcode is not None, "the child process hung"
        return process.exitcode

    def recover(self, *, settled: bool = True) -> dict[str, Any]:
        """``paydesk payments recover --json`` in a new (forked) process; it exits 0 when
        everything is ``settled``, 1 when something needs attention (still unknown)."""
        out = self.folder.parent / "recover.json"
        argv = ["--profile", str(self.folder), "payments", "recover", "--json"]
        process = _FORK.Process(target=_cli_main, args=(self.keyring_file, argv, out))
        process.start()
        process.join(60)
        text = out.read_text(encoding="utf-8")
        assert process.exitcode == (0 if settled else 1), text
        result: dict[str, Any] = json.loads(text)
        return result

    def recover_as_new_interpreter(self) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ)
        env.update(PYTHON_KEYRING_BACKEND="tests.integration.file_keyring.FileKeyring",
                   PAYDESK_TEST_KEYRING_FILE=str(self.keyring_file), PYTHONPATH=str(ROOT))
        return subprocess.run(
            [sys.executable, "-m", "app", "--profile", str(self.folder), "payments",
             "recover", "--json"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
            stdin=subprocess.DEVNULL,
        )

    def payment_for(self, invoice_id: int) -> Payment:
        with session_scope(self.engine) as s:
            payment = s.scalars(
                select(Payment).join(PaymentAllocation).where(
                    PaymentAllocation.invoice_id == invoice_id).order_by(Payment.id.desc())
            ).first()
            assert payment is not None
            return payment

    def balance(self, invoice_id: int) -> int:
        with session_scope(self.engine) as s:
            invoice = s.get(Invoice, invoice_id)
            assert invoice is not None
            return invoice.balance_minor

    def postings_of(self, payment_id: int) -> list[tuple[str, str]]:
        with session_scope(self.engine) as s:
            return [(p.target, p.state) for p in s.scalars(
                select(Posting).where(Posting.payment_id == payment_id).order_by(Posting.id))]


@pytest.fixture(scope="module")
def crash_world(tmp_path_factory: pytest.TempPathFactory,
                gateway_key: str) -> Iterator[CrashWorld]:
    folder = tmp_path_factory.mktemp("crash") / "profile"
    keyring_file = folder.parent / "keyring.json"
    with small_autotask() as autotask, start_kit(gateway_key, account_name="Northwind IT") as kit:
        profile = Profile.open(folder)
        engine = open_database(profile.database_url)
        company_id, ids = seed_invoices(autotask, ["100.00"] * INVOICES)
        sync_into(engine, autotask)
        save_autotask_connection(engine, AutotaskConnection(
            username=autotask.credentials.username,
            integration_code=autotask.credentials.integration_code,
            discovery_url=autotask.url,
        ))
        previous_file = os.environ.get("PAYDESK_TEST_KEYRING_FILE")
        os.environ["PAYDESK_TEST_KEYRING_FILE"] = str(keyring_file)
        previous = keyring.get_keyring()
        keyring.set_keyring(FileKeyring())  # type: ignore[no-untyped-call]
        try:
            credentials = CredentialStore(profile.key)
            save_autotask_secret(credentials, autotask.credentials.secret)
            kit.connect(engine, credentials)
        finally:
            keyring.set_keyring(previous)
            if previous_file is None:
                os.environ.pop("PAYDESK_TEST_KEYRING_FILE", None)
            else:
                os.environ["PAYDESK_TEST_KEYRING_FILE"] = previous_file
        world = PayWorld(engine, autotask, kit, kit.gateway(), company_id, ids)
        card = world.method("approve")
        try:
            yield CrashWorld(folder, keyring_file, engine, world, card, list(ids))
        finally:
            engine.dispose()


def _pay_in_process(cw: CrashWorld, invoice_id: int) -> tuple[int, str]:
    """A payment made by a process that did not crash (postings left undelivered)."""
    pipeline = PaymentPipeline(cw.engine, cw.world.gateway)
    outcome = pipeline.pay(PaymentRequest(
        organization_id=cw.world.company_id, allocations=((invoice_id, usd("100.00")),),
        surcharge=usd("0"), payment_method_id=cw.card))
    assert outcome.state is PaymentState.SUCCEEDED
    return outcome.payment_id, outcome.reference


#: Whether the payment ends charged: ``None`` where the gateways differ (see the module's
#: docstring): charged when the gateway repeats an unsent request by its key.
@pytest.mark.parametrize(
    ("step", "charged"),
    [
        ("payment.created", False),  # recorded, never sent: fails, nothing charged
        # Marked submitted, the call never left. Recovery right after cannot tell this from
        # a request still running at the gateway: Stripe repeats it with the same key (taken
        # exactly once); Authorize.Net waits out its lookup grace (nothing charged).
        ("payment.before_gateway", None),
        ("payment.after_gateway", True),  # charged, the answer never recorded
        ("payment.recorded", True),  # recorded with its postings, nothing posted yet
    ],
)
def test_killed_while_paying(crash_world: CrashWorld, step: str, charged: bool | None) -> None:
    cw = crash_world
    if charged is None:
        charged = cw.kit.repeats_unsent_charge
    invoice = cw.next_invoice()
    died = cw.child(step, "pay", "--invoice", str(invoice), "--method", str(cw.card))
    assert died == -signal.SIGKILL

    waits = not charged and step != "payment.created" and bool(cw.kit.lookup_grace)
    first = cw.recover(settled=not waits)

    payment = cw.payment_for(invoice)
    if waits:
        # Not listed yet is no proof while the request might still land: unknown, not failed.
        assert payment.state == PaymentState.UNKNOWN.value
        assert first["still_unknown"] == [payment.reference]
        assert cw.world.charges(payment.reference) == []
        cw.kit.let_lookup_grace_pass(cw.engine)  # as if two minutes had passed
        try:
            cw.recover()
        finally:
            cw.kit.let_lookup_grace_pass(cw.engine, passed=False)
        payment = cw.payment_for(invoice)
    charges = cw.world.charges(payment.reference)
    assert len(charges) == (1 if charged else 0)
    if charged:
        assert payment.state == PaymentState.SUCCEEDED.value
        assert payment.gateway_payment_id == charges[0]
        assert cw.balance(invoice) == 0
        assert cw.postings_of(payment.id) == [
            ("autotask_note", "delivered"), ("autotask_paid_date", "delivered")]
        assert len(cw.world.notes_for(f"Payment {payment.reference}")) == 1
        assert cw.world.paid_date_patches(invoice) != []
    else:
        assert payment.state == PaymentState.FAILED.value
        assert "Nothing was charged" in (payment.failure_message or "")
        assert cw.balance(invoice) == 10000
        assert cw.postings_of(payment.id) == []

    # A second recovery (the next start) changes nothing and charges nothing.
    again = cw.recover()
    assert again["resolved"] == [] and again["postings"]["delivered"] == 0
    assert len(cw.world.charges(payment.reference)) == (1 if charged else 0)
    cw.world.ledger_is_consistent()


@pytest.mark.parametrize("step", ["posting.claimed", "posting.sent"])
def test_killed_while_posting(crash_world: CrashWorld, step: str) -> None:
    cw = crash_world
    invoice = cw.next_invoice()
    payment_id, reference = _pay_in_process(cw, invoice)

    died = cw.child(step, "deliver")
    assert died == -signal.SIGKILL
    if step == "posting.sent":
        # Autotask has the note, PayDesk did not get to record it.
        assert len(cw.world.notes_for(f"Payment {reference}")) == 1

    result = cw.recover()

    assert result["postings"]["failed"] == 0
    assert cw.postings_of(payment_id) == [
        ("autotask_note", "delivered"), ("autotask_paid_date", "delivered")]
    assert len(cw.world.notes_for(f"Payment {reference}")) == 1


@pytest.mark.parametrize("step", ["refund.created", "refund.after_gateway", "refund.recorded"])
def test_killed_while_refunding(crash_world: CrashWorld, step: str) -> None:
    cw = crash_world
    invoice = cw.next_invoice()
    payment_id, reference = _pay_in_process(cw, invoice)
    cw.kit.settle_batch()  # Authorize.Net refunds part of a payment only once it settled
    cw.world.outbox.deliver_due()

    died = cw.child(step, "refund", "--payment", str(payment_id), "--amount", "4000")
    assert died == -signal.SIGKILL

    cw.recover()

    with session_scope(cw.engine) as s:
        payment = s.get(Payment, payment_id)
        assert payment is not None
        charge_id = payment.gateway_payment_id
        assert payment.state == PaymentState.PARTIALLY_REFUNDED.value
        assert payment.refunded_minor == 4000
    assert charge_id is not None
    assert cw.kit.refunded(charge_id) == usd("40.00")  # once, not twice
    assert cw.balance(invoice) == 4000
    reversals = [n for n in cw.world.autotask.notes()
                 if f"Reverses payment {reference}" in str(n.get("description"))]
    assert len(reversals) == 1
    cw.world.ledger_is_consistent()


def test_killed_while_a_pay_link_is_out(crash_world: CrashWorld) -> None:
    """PayDesk dies once the pay link is made; the client pays while it is closed. The next
    start records the payment once and posts it once."""
    cw = crash_world
    invoice = cw.next_invoice()
    died = cw.child("payment.awaiting_client", "paylink", "--invoice", str(invoice))
    assert died == -signal.SIGKILL
    payment = cw.payment_for(invoice)
    assert payment.state == PaymentState.AWAITING_CLIENT.value and payment.hosted_url
    assert cw.kit.submit_card(payment.hosted_url)

    result = cw.recover()

    payment = cw.payment_for(invoice)
    charges = cw.world.charges(payment.reference)
    assert [r["reference"] for r in result["resolved"]] == [payment.reference]
    assert payment.state == PaymentState.SUCCEEDED.value
    assert len(charges) == 1 and payment.gateway_payment_id == charges[0]
    assert cw.balance(invoice) == 0
    assert cw.postings_of(payment.id) == [
        ("autotask_note", "delivered"), ("autotask_paid_date", "delivered")]
    assert len(cw.world.notes_for(f"Payment {payment.reference}")) == 1
    again = cw.recover()
    assert again["resolved"] == [] and len(cw.world.charges(payment.reference)) == 1
    cw.world.ledger_is_consistent()


def test_recover_command_in_a_fresh_interpreter(crash_world: CrashWorld) -> None:
    """The installed command itself: with everything settled it reports so and exits 0."""
    done = crash_world.recover_as_new_interpreter()
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "ok"
    assert result["resolved"] == [] and result["still_unknown"] == []
