"""The email outbox against a real SMTP server on loopback (aiosmtpd, app.sandbox.mailbox):
emails arrive once with their attachments, temporary refusals are retried, permanent ones are
listed for a person, STARTTLS with sign-in works with a certificate trusted only here, and a
payment or refund recorded by the pipeline mails its PDF receipt."""

from __future__ import annotations

import dataclasses
import ssl
from collections.abc import Iterator
from datetime import timedelta

import pytest
import trustme
from sqlalchemy import Engine, select

from app.core.clock import utcnow
from app.core.credentials import CredentialStore
from app.core.email import (
    EmailState,
    FileAttachment,
    dismiss_emails,
    email_log,
    queue_email,
    retry_emails,
    send_due_emails,
    send_test_email,
)
from app.core.email.sender import SendFailure
from app.core.email.settings import (
    SMTP_PASSWORD_SECRET,
    ReceiptEmailSettings,
    SmtpSettings,
    save_receipt_settings,
    save_smtp_settings,
)
from app.core.email.templates import save_template
from app.core.storage.engine import session_scope
from app.core.storage.models import Contact, OutboxEmail
from app.sandbox.mailbox import DemoMailbox
from tests.integration.payments.support import PayWorld, pay_world, usd


@pytest.fixture
def mailbox() -> Iterator[DemoMailbox]:
    with DemoMailbox() as box:
        yield box


@pytest.fixture
def credentials(memory_keyring: object) -> CredentialStore:
    return CredentialStore("email-tests")


def plain(box: DemoMailbox) -> SmtpSettings:
    return SmtpSettings(host="127.0.0.1", port=box.port, security="none",
                        from_address="billing@northwind.example", from_name="Northwind Billing")


def queue(engine: Engine, key: str, to: str = "maria@contoso.example", **extra: object) -> None:
    with session_scope(engine) as session:
        queue_email(session, reason="test", dedupe_key=key, to=to, template="test",
                    context={"company_name": "Northwind", "server": "here"}, **extra)  # type: ignore[arg-type]


def states(engine: Engine) -> list[str]:
    with session_scope(engine) as session:
        return list(session.scalars(select(OutboxEmail.state).order_by(OutboxEmail.id)))


def test_an_email_arrives_once_with_its_attachment(engine: Engine, mailbox: DemoMailbox,
                                                   credentials: CredentialStore) -> None:
    save_smtp_settings(engine, plain(mailbox))
    pdf = b"%PDF-1.4 tiny"
    with session_scope(engine) as session:
        first = queue_email(session, reason="test", dedupe_key="t:1", to="maria@contoso.example",
                            template="test", context={"company_name": "Northwind",
                                                      "server": "here"},
                            attachments=(FileAttachment("note.pdf", "application/pdf", pdf),))
        again = queue_email(session, reason="test", dedupe_key="t:1", to="maria@contoso.example",
                            template="test", context={"company_name": "Northwind",
                                                      "server": "here"})
    assert first is not None and again is None

    report = send_due_emails(engine, credentials)
    assert (report.sent, report.failed, report.problem) == (1, 0, None)
    assert send_due_emails(engine, credentials).sent == 0
    # Queuing the same reason later sends nothing either.
    queue(engine, "t:1")
    assert send_due_emails(engine, credentials).sent == 0

    [received] = mailbox.received
    assert received.recipients == ("maria@contoso.example",)
    assert received.subject == "PayDesk test email from Northwind"
    assert received.message["From"] == "Northwind Billing <billing@northwind.example>"
    assert received.attachments() == [("note.pdf", "application/pdf", pdf)]
    [row] = email_log(engine)
    assert row.state == EmailState.SENT and row.subject == received.subject
    assert row.delivery_result is not None and "queued as DEMO00001" in row.delivery_result


def test_a_temporary_refusal_is_retried_with_backoff(engine: Engine, mailbox: DemoMailbox,
                                                     credentials: CredentialStore) -> None:
    save_smtp_settings(engine, plain(mailbox))
    queue(engine, "t:temp")
    mailbox.refuse_next("451 4.3.0 Mailbox busy, try again later")

    now = utcnow()
    report = send_due_emails(engine, credentials, now=now)
    assert (report.sent, report.retrying) == (0, 1)
    [row] = email_log(engine)
    assert row.state == EmailState.PENDING and "451" in (row.last_error or "")
    assert row.next_attempt_at is not None and row.next_attempt_at > now
    # Not due yet: nothing is tried before the backoff.
    assert send_due_emails(engine, credentials, now=now + timedelta(seconds=10)).sent == 0
    assert send_due_emails(engine, credentials, now=now + timedelta(minutes=5)).sent == 1
    assert len(mailbox.received) == 1
    assert states(engine) == ["sent"]


def test_a_permanent_refusal_is_listed_then_retried_or_dismissed(
        engine: Engine, mailbox: DemoMailbox, credentials: CredentialStore) -> None:
    save_smtp_settings(engine, plain(mailbox))
    queue(engine, "t:perm", to="nobody@contoso.example")
    queue(engine, "t:perm2", to="gone@contoso.example")
    mailbox.refuse_next("550 5.1.1 No such user here", times=2, stage="rcpt")

    report = send_due_emails(engine, credentials)
    assert (report.sent, report.failed) == (0, 2)
    failed = email_log(engine, states=[EmailState.FAILED])
    assert {r.to_address for r in failed} == {"nobody@contoso.example", "gone@contoso.example"}
    assert all("refused the address" in (r.last_error or "") and "550" in (r.last_error or "")
               for r in failed)
    # Failed emails stay failed: no more attempts on their own.
    assert send_due_emails(engine, credentials).sent == 0

    by_to = {r.to_address: r.id for r in failed}
    assert retry_emails(engine, [by_to["nobody@contoso.example"]]) == 1
    assert dismiss_emails(engine, [by_to["gone@contoso.example"]]) == 1
    assert send_due_emails(engine, credentials).sent == 1
    assert [r.recipients for r in mailbox.received] == [("nobody@contoso.example",)]
    assert sorted(states(engine)) == ["dismissed", "sent"]


def test_an_unreachable_server_keeps_the_emails_queued(engine: Engine,
                                                       credentials: CredentialStore) -> None:
    with DemoMailbox() as box:
        settings = plain(box)
    save_smtp_settings(engine, settings)  # the server is gone now
    queue(engine, "t:down")
    report = send_due_emails(engine, credentials)
    assert report.sent == 0 and report.problem is not None
    assert "could not reach the mail server" in report.problem
    assert states(engine) == ["pending"]
    [row] = email_log(engine)
    assert row.attempts == 0 and "could not reach" in (row.last_error or "")


def test_one_seat_claims_an_email(engine: Engine) -> None:
    from app.core.email.outbox import claim

    queue(engine, "t:claim")
    [row] = email_log(engine)
    now = utcnow()
    assert claim(engine, row.id, now) is True
    assert claim(engine, row.id, now) is False  # the other seat loses; its lease holds
    assert claim(engine, row.id, now + timedelta(minutes=6)) is True  # a crashed sender's


def test_a_template_mistake_fails_the_email_with_a_sentence(
        engine: Engine, mailbox: DemoMailbox, credentials: CredentialStore) -> None:
    save_smtp_settings(engine, plain(mailbox))
    with session_scope(engine) as session:
        queue_email(session, reason="test", dedupe_key="t:ctx", to="maria@contoso.example",
                    template="test", context={"company_name": "Northwind"})  # no "server"
    assert send_due_emails(engine, credentials).failed == 1
    [row] = email_log(engine)
    assert "cannot be filled in" in (row.last_error or "") and "server" in (row.last_error or "")
    assert mailbox.received == []


@pytest.fixture
def tls_mailbox() -> Iterator[tuple[DemoMailbox, ssl.SSLContext]]:
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)
    with DemoMailbox(tls_context=server_context, accounts={"billing": "s3cret-pass"}) as box:
        yield box, client_context


def test_starttls_with_sign_in(engine: Engine, tls_mailbox: tuple[DemoMailbox, ssl.SSLContext],
                               credentials: CredentialStore,
                               caplog: pytest.LogCaptureFixture) -> None:
    box, trusted = tls_mailbox
    settings = SmtpSettings(host="127.0.0.1", port=box.port, security="starttls",
                            username="billing", from_address="billing@northwind.example")
    save_smtp_settings(engine, settings)
    credentials.set(SMTP_PASSWORD_SECRET, "s3cret-pass")
    queue(engine, "t:tls")
    assert send_due_emails(engine, credentials, ssl_context=trusted).sent == 1
    assert len(box.received) == 1
    assert "s3cret-pass" not in caplog.text

    # The system's trust store does not know the test authority: refused, not sent.
    with pytest.raises(SendFailure, match="could not be verified"):
        send_test_email(settings, "s3cret-pass", "it@northwind.example")
    # A wrong password is a sentence about the password.
    with pytest.raises(SendFailure, match="refused the user name or password") as wrong:
        send_test_email(settings, "wrong", "it@northwind.example", ssl_context=trusted)
    assert "wrong" not in wrong.value.message
    message = send_test_email(settings, "s3cret-pass", "it@northwind.example",
                              company_name="Northwind", ssl_context=trusted)
    assert "accepted the test email" in message
    assert box.received[-1].subject == "PayDesk test email from Northwind"


def test_plain_smtp_only_to_this_computer() -> None:
    remote = SmtpSettings(host="smtp.example.com", port=25, security="none",
                          from_address="billing@northwind.example")
    assert any("only to a mail relay on this computer" in p for p in remote.problems())
    with pytest.raises(SendFailure, match="not set up"):
        send_test_email(remote, None, "it@northwind.example")


# --- receipts after a payment or a refund ---------------------------------------------------


@pytest.fixture
def world(engine: Engine) -> Iterator[PayWorld]:
    """On SQLite and PostgreSQL: the receipt is queued inside the payment's transaction."""
    with pay_world(engine, ["500.00", "250.00"]) as w:
        yield w


def _contact_with_email(world: PayWorld) -> tuple[int, str]:
    """A contact of the paying client with an address (as the sync would have stored it)."""
    with session_scope(world.engine) as session:
        session.add(Contact(id=990_001, organization_id=world.company_id, first_name="Maria",
                            last_name="Lopez", email="maria@contoso.example", is_active=True,
                            synced_at=utcnow()))
    return 990_001, "maria@contoso.example"


def test_a_payment_and_its_refund_mail_the_pdf_receipt_once(
        world: PayWorld, mailbox: DemoMailbox, credentials: CredentialStore) -> None:
    save_smtp_settings(world.engine, plain(mailbox))
    # The sandbox gateway takes test payments: receipts for those are off unless asked for.
    save_receipt_settings(world.engine, ReceiptEmailSettings(test_payments=True))
    save_template(world.engine, "receipt", "Your receipt {{ reference }}",
                  "Thank you, {{ contact_name }}: {{ total }} for {{ invoices }}.")
    contact_id, address = _contact_with_email(world)
    request = dataclasses.replace(world.request([world.invoice_ids[0]]), contact_id=contact_id)
    outcome = world.pipeline.pay(request)

    assert send_due_emails(world.engine, credentials).sent == 1
    assert send_due_emails(world.engine, credentials).sent == 0
    [receipt] = mailbox.received
    assert receipt.recipients == (address,)
    assert receipt.subject == f"Your receipt {outcome.reference}"
    assert "$500.00" in receipt.body()
    [(filename, content_type, pdf)] = receipt.attachments()
    assert (filename, content_type) == (f"Receipt {outcome.reference}.pdf", "application/pdf")
    assert pdf.startswith(b"%PDF-")

    world.pipeline.refund(outcome.payment_id, usd("100.00"), "Overcharged")
    assert send_due_emails(world.engine, credentials).sent == 1
    refund_mail = mailbox.received[-1]
    assert refund_mail.subject.startswith("Refund of $100.00")
    assert refund_mail.attachments()[0][1] == "application/pdf"
    assert len(mailbox.received) == 2


def test_no_receipt_for_test_payments_or_a_switched_off_organization(
        world: PayWorld, mailbox: DemoMailbox, credentials: CredentialStore) -> None:
    save_smtp_settings(world.engine, plain(mailbox))
    contact_id, _ = _contact_with_email(world)
    # By default a test-mode payment mails no receipt (no real client gets a TEST receipt).
    world.pipeline.pay(dataclasses.replace(world.request([world.invoice_ids[0]]),
                                           contact_id=contact_id))
    save_receipt_settings(world.engine, ReceiptEmailSettings(test_payments=True)
                          .with_organization(world.company_id, False))
    world.pipeline.pay(dataclasses.replace(world.request([world.invoice_ids[1]]),
                                           contact_id=contact_id))
    assert send_due_emails(world.engine, credentials).sent == 0
    assert mailbox.received == []
    assert email_log(world.engine) == []
