"""AutoPay's emails to the client arrive at a real SMTP server (aiosmtpd), once: a reminder
before the charge with the amount and how to change it, and a notice when it is declined
(with the next try)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from sqlalchemy import Engine

from app.core.autopay import run_autopay
from app.core.autopay.defaults import AutoPayDefaults, save_autopay_defaults
from app.core.credentials import CredentialStore
from app.core.email import send_due_emails
from app.core.email.settings import SmtpSettings, save_smtp_settings
from app.sandbox.mailbox import DemoMailbox
from tests.integration.autopay.support import make_rule, set_today
from tests.integration.payments.support import PayWorld, pay_world


@pytest.fixture
def world(sqlite_engine: Engine) -> Iterator[PayWorld]:
    # The wording of declines is the gateway's own; Stripe's is asserted on below.
    with pay_world(sqlite_engine, ["500.00", "250.00"], "stripe") as w:
        yield w


@pytest.fixture
def mailbox(world: PayWorld) -> Iterator[DemoMailbox]:
    with DemoMailbox() as box:
        save_smtp_settings(world.engine, SmtpSettings(
            host="127.0.0.1", port=box.port, security="none",
            from_address="billing@northwind.example", from_name="Northwind Billing"))
        yield box


def _send(world: PayWorld) -> None:
    report = send_due_emails(world.engine, CredentialStore("autopay-email-tests"))
    assert report.problem is None, report.problem


def test_a_reminder_goes_out_once_before_the_charge(
        world: PayWorld, mailbox: DemoMailbox, monkeypatch: pytest.MonkeyPatch) -> None:
    save_autopay_defaults(world.engine, AutoPayDefaults(reminder_days=3))
    # Charged 100 days after the invoice date: the first invoice (dated 90 days ago) in 10
    # days, the second (70 days ago) in 30.
    make_rule(world, timing="after_invoice_date", days=100)
    first_charge = date.today() - timedelta(days=90) + timedelta(days=100)
    set_today(monkeypatch, first_charge - timedelta(days=5))
    assert run_autopay(world.engine, world.gateway).reminders_queued == 0  # too early
    set_today(monkeypatch, first_charge - timedelta(days=3))
    assert run_autopay(world.engine, world.gateway).reminders_queued == 1
    set_today(monkeypatch, first_charge - timedelta(days=2))
    assert run_autopay(world.engine, world.gateway).reminders_queued == 0  # once
    _send(world)
    [reminder] = mailbox.received
    assert reminder.recipients == ("dana@acme.example",)  # who signed the authorization
    assert "$500.00" in reminder.subject
    assert "Visa •••• 4242" in reminder.body()
    assert "To change the payment method or stop AutoPay" in reminder.body()
    _send(world)
    assert len(mailbox.received) == 1


def test_a_declined_charge_tells_the_client_with_the_next_try(
        world: PayWorld, mailbox: DemoMailbox, monkeypatch: pytest.MonkeyPatch) -> None:
    make_rule(world, method="decline")
    day0 = date.today()
    set_today(monkeypatch, day0)
    report = run_autopay(world.engine, world.gateway)
    assert report.failure_notices_queued == 2
    run_autopay(world.engine, world.gateway)  # the same day again: nothing new
    _send(world)
    assert len(mailbox.received) == 2
    notice = mailbox.received[0]
    assert notice.recipients == ("dana@acme.example",)
    assert "We could not charge" in notice.subject
    assert "the card was declined" in notice.body().lower()
    retry = day0 + timedelta(days=3)
    assert f"We will try again on {retry:%B} {retry.day}, {retry.year}" in notice.body()
    assert "Ask the client" not in notice.body()  # advice for the bookkeeper stays inside
