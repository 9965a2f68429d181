"""Sending: the outbox's due emails through the MSP's mail server, and Send Test Email.

``smtplib`` and ``email`` from the standard library do the whole job — STARTTLS or TLS with a
verified certificate (``ssl.create_default_context``), AUTH, MIME with attachments — and are
maintained with Python itself, so PayDesk adds no mail library (and no library's idea of
retrying: the outbox decides that).

Every email carries a stable ``Message-ID`` made from its outbox row: if a crash after the
server accepted it makes PayDesk send it again, mail programs show it once.

Threads: blocks on the network and the database; never call it on the GUI thread.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import smtplib
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, make_msgid
from typing import Any

from sqlalchemy import Engine, update

from app.core.clock import utcnow
from app.core.credentials import CredentialStore
from app.core.email.outbox import (
    MAX_ATTEMPTS,
    EmailState,
    backoff_delay,
    claim,
    due_email_ids,
)
from app.core.email.settings import SMTP_PASSWORD_SECRET, SmtpSettings, load_smtp_settings
from app.core.email.templates import TemplateProblem, render, render_template
from app.core.net import is_loopback_host
from app.core.storage.engine import session_scope
from app.core.storage.models import OutboxEmail

__all__ = [
    "EmailSendReport",
    "SendFailure",
    "SmtpConnection",
    "build_message",
    "send_due_emails",
    "send_test_email",
]

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 20.0


class SendFailure(Exception):
    """Sending failed. ``temporary``: worth trying again later. ``connection``: nothing can be
    sent now (server unreachable, sign-in refused), so the round stops. The message is for a
    bookkeeper and never contains the password."""

    def __init__(self, message: str, *, temporary: bool, connection: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.temporary = temporary
        self.connection = connection


def _describe_server(settings: SmtpSettings) -> str:
    return f"{settings.host}:{settings.port}"


class SmtpConnection:
    """One signed-in SMTP session, opened lazily and closed by ``close`` (or ``with``)."""

    def __init__(self, settings: SmtpSettings, password: str | None,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        problems = settings.problems()
        if problems:
            raise SendFailure("Email is not set up: " + " ".join(problems), temporary=False,
                              connection=True)
        self.settings = settings
        self._password = password
        self._context = ssl_context or ssl.create_default_context()
        self._smtp: smtplib.SMTP | None = None

    def __repr__(self) -> str:
        return f"SmtpConnection({_describe_server(self.settings)})"

    def __enter__(self) -> SmtpConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        s = self.settings
        server = _describe_server(s)
        try:
            smtp: smtplib.SMTP
            if s.security == "tls":
                smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=CONNECT_TIMEOUT,
                                        context=self._context)
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=CONNECT_TIMEOUT)
                smtp.ehlo()
                if s.security == "starttls":
                    if not smtp.has_extn("starttls"):
                        smtp.close()
                        raise SendFailure(
                            f"The mail server {server} does not offer STARTTLS. Choose TLS "
                            "(port 465) or ask your email provider which port to use.",
                            temporary=False, connection=True)
                    smtp.starttls(context=self._context)
                    smtp.ehlo()
                elif not is_loopback_host(s.host):  # settings.problems() refuses it already
                    smtp.close()
                    raise SendFailure("PayDesk sends without encryption only to this computer.",
                                      temporary=False, connection=True)
        except ssl.SSLCertVerificationError as exc:
            raise SendFailure(
                f"The certificate of {server} could not be verified ({exc.verify_message}). "
                "Check the server name; PayDesk does not send to a server it cannot verify.",
                temporary=False, connection=True) from exc
        except (ssl.SSLError, smtplib.SMTPException) as exc:
            if isinstance(exc, SendFailure):
                raise
            raise SendFailure(
                f"PayDesk could not start a secure connection to {server}: {exc}. Check the "
                "port and the security setting (587 with STARTTLS, 465 with TLS).",
                temporary=True, connection=True) from exc
        except (TimeoutError, OSError) as exc:
            raise SendFailure(
                f"PayDesk could not reach the mail server {server} ({exc.strerror or exc}). "
                "Check the server name and port and this computer's network; PayDesk will try "
                "again.", temporary=True, connection=True) from exc
        if s.username:
            try:
                smtp.login(s.username, self._password or "")
            except smtplib.SMTPAuthenticationError as exc:
                smtp.close()
                raise SendFailure(
                    f"The mail server {server} refused the user name or password "
                    f"({exc.smtp_code}). Enter them again under Settings › Email, or run "
                    "`paydesk setup email`.", temporary=False, connection=True) from exc
            except smtplib.SMTPException as exc:
                smtp.close()
                raise SendFailure(f"Signing in to {server} failed: {exc}.", temporary=True,
                                  connection=True) from exc
        self._smtp = smtp
        return smtp

    def send(self, message: EmailMessage) -> str:
        """Send one message; returns the server's answer to it ("2.0.0 Ok: queued as …").

        MAIL, RCPT and DATA are spoken one by one (``send_message`` throws the answer away)."""
        smtp = self.open()
        sender = self.settings.from_address
        recipient = str(message["To"])
        try:
            smtp.ehlo_or_helo_if_needed()
            code, answer = smtp.mail(sender)
            if code != 250:
                smtp.rset()
                raise smtplib.SMTPSenderRefused(code, answer, sender)
            code, answer = smtp.rcpt(recipient)
            if code not in (250, 251):
                smtp.rset()
                temporary = 400 <= code < 500
                advice = ("" if temporary else " Check the address (in Autotask for a "
                          "contact); Retry sends to the same address, so if it is wrong, "
                          "Dismiss this email and send it another way.")
                raise SendFailure(
                    f"The mail server refused the address {recipient}: {code} "
                    f"{_text(answer)}.{advice}", temporary=temporary)
            code, answer = smtp.data(message.as_bytes(policy=SMTP_POLICY))
            if code != 250:
                smtp.rset()
                raise smtplib.SMTPDataError(code, answer)
        except smtplib.SMTPSenderRefused as exc:
            raise SendFailure(
                f"The mail server refused to send from {sender}: {exc.smtp_code} "
                f"{_text(exc.smtp_error)}. Check the From address under Settings › Email.",
                temporary=400 <= exc.smtp_code < 500) from exc
        except smtplib.SMTPResponseException as exc:
            raise SendFailure(f"The mail server answered {exc.smtp_code} {_text(exc.smtp_error)}",
                              temporary=400 <= exc.smtp_code < 500) from exc
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._smtp = None
            raise SendFailure(f"The connection to the mail server was lost ({exc}); PayDesk "
                              "will try again.", temporary=True, connection=True) from exc
        return f"{code} {_text(answer)}"

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def build_message(settings: SmtpSettings, *, to: str, subject: str, body: str,
                  attachments: Sequence[tuple[str, str, bytes]] = (),
                  message_id: str | None = None) -> EmailMessage:
    message = EmailMessage()
    domain = settings.from_address.rpartition("@")[2] or "paydesk.invalid"
    message["From"] = (str(Address(settings.from_name, addr_spec=settings.from_address))
                       if settings.from_name else settings.from_address)
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = message_id or make_msgid(domain=domain)
    message["X-Mailer"] = "PayDesk"
    message.set_content(body)
    for filename, content_type, data in attachments:
        maintype, _, subtype = content_type.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream",
                               filename=filename)
    return message


def _message_id(email_id: int, dedupe_key: str, settings: SmtpSettings) -> str:
    digest = hashlib.sha256(dedupe_key.encode()).hexdigest()[:16]
    domain = settings.from_address.rpartition("@")[2] or "paydesk.invalid"
    return f"<paydesk.{email_id}.{digest}@{domain}>"


# --- the outbox round ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EmailSendReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    problem: str | None = None

    @property
    def summary(self) -> str:
        text = f"{self.sent} sent, {self.retrying} will be retried, {self.failed} failed."
        return f"{text} {self.problem}" if self.problem else text


#: Turns an attachment's JSON into (filename, content type, bytes); given the engine.
AttachmentMaker = Callable[[Engine, Mapping[str, Any]], tuple[str, str, bytes]]


def _make_attachment(engine: Engine, spec: Mapping[str, Any]) -> tuple[str, str, bytes]:
    kind = spec.get("kind")
    if kind == "file":
        return (str(spec["filename"]), str(spec["content_type"]),
                base64.b64decode(str(spec["data_base64"])))
    if kind == "payment_receipt":
        from app.core.receipts import load_payment_receipt, render_receipt_pdf

        receipt = load_payment_receipt(engine, int(spec["payment_id"]))
        return (f"Receipt {receipt.reference}.pdf", "application/pdf",
                render_receipt_pdf(receipt, engine=engine))
    raise ValueError(f"unknown attachment kind {kind!r}")


def _finish(engine: Engine, email_id: int, *, state: str, now: datetime,
            subject: str | None = None, error: str | None = None,
            result: str | None = None, retry_at: datetime | None = None) -> None:
    with session_scope(engine) as session:
        row = session.get(OutboxEmail, email_id)
        if row is None:
            return
        row.state = state
        if subject is not None:
            row.subject = subject
        row.last_error = error
        if result is not None:
            row.delivery_result = result
        if state == EmailState.SENT:
            row.sent_at = now
            row.next_attempt_at = None
        else:
            row.next_attempt_at = retry_at


def _note_waiting(engine: Engine, ids: Sequence[int], reason: str) -> None:
    with session_scope(engine) as session:
        session.execute(update(OutboxEmail).where(
            OutboxEmail.id.in_(list(ids)), OutboxEmail.state == EmailState.PENDING)
            .values(last_error=reason).execution_options(synchronize_session=False))


def send_due_emails(engine: Engine, credentials: CredentialStore, *, limit: int = 200,
                    now: datetime | None = None,
                    ssl_context: ssl.SSLContext | None = None) -> EmailSendReport:
    """Send every due email once (see the module docstring). Returns what happened; when the
    mail server cannot be used at all, ``problem`` says why and the emails stay queued."""
    now = now or utcnow()
    ids = due_email_ids(engine, now, limit)
    if not ids:
        return EmailSendReport()
    settings = load_smtp_settings(engine)
    if not settings.configured:
        return EmailSendReport(problem=(
            f"{len(ids)} email(s) are waiting: set up the mail server under Settings › Email "
            "(or `paydesk setup email`)."))
    sent = retrying = failed = 0
    problem: str | None = None
    try:
        connection = SmtpConnection(settings, credentials.get(SMTP_PASSWORD_SECRET), ssl_context)
        # Connect before taking any email: a server that cannot be used costs no email an
        # attempt; the waiting emails carry the reason for the log.
        connection.open()
    except SendFailure as exc:
        _note_waiting(engine, ids, exc.message)
        return EmailSendReport(problem=exc.message)
    with connection:
        for email_id in ids:
            if not claim(engine, email_id, now):
                continue
            with session_scope(engine) as session:
                row = session.get(OutboxEmail, email_id)
                assert row is not None
                to, template, context = row.to_address, row.template, dict(row.context)
                specs = list(row.attachments or [])
                attempts = row.attempts
                message_id = _message_id(row.id, row.dedupe_key, settings)
            try:
                rendered = render_template(engine, template, context)
                files = [_make_attachment(engine, spec) for spec in specs]
            except (TemplateProblem, ValueError, KeyError, LookupError) as exc:
                failed += 1
                _finish(engine, email_id, state=EmailState.FAILED, now=now,
                        error=str(exc) or type(exc).__name__)
                continue
            message = build_message(settings, to=to, subject=rendered.subject,
                                    body=rendered.body, attachments=files,
                                    message_id=message_id)
            try:
                answer = connection.send(message)
            except SendFailure as exc:
                if exc.temporary and attempts < MAX_ATTEMPTS:
                    retrying += 1
                    _finish(engine, email_id, state=EmailState.PENDING, now=now,
                            subject=rendered.subject, error=exc.message,
                            retry_at=now + backoff_delay(attempts))
                else:
                    failed += 1
                    _finish(engine, email_id, state=EmailState.FAILED, now=now,
                            subject=rendered.subject, error=exc.message)
                if exc.connection:
                    problem = exc.message
                    break
                continue
            sent += 1
            _finish(engine, email_id, state=EmailState.SENT, now=now, subject=rendered.subject,
                    result=answer or f"Accepted by {settings.host}")
    if problem is None and sent == 0 and failed == 0 and retrying == 0:
        return EmailSendReport()
    log.info("Email: %d sent, %d retrying, %d failed", sent, retrying, failed)
    return EmailSendReport(sent=sent, retrying=retrying, failed=failed, problem=problem)


def send_test_email(settings: SmtpSettings, password: str | None, to: str, *,
                    company_name: str = "PayDesk",
                    ssl_context: ssl.SSLContext | None = None) -> str:
    """Send the test email now (not through the outbox: the person waits for the answer).
    Returns a sentence saying it was accepted; raises :class:`SendFailure`."""
    from app.core.email.templates import TEMPLATES

    template = TEMPLATES["test"]
    rendered = render(template.subject, template.body,
                      {"company_name": company_name, "server": _describe_server(settings)})
    message = build_message(settings, to=to, subject=rendered.subject, body=rendered.body)
    with SmtpConnection(settings, password, ssl_context) as connection:
        connection.send(message)
    return (f"{settings.host} accepted the test email to {to}. If it does not arrive within a "
            "few minutes, look in the spam folder.")
