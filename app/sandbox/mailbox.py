"""A real SMTP server on loopback that keeps what it receives: the tests' and the demo's mailbox.

It is aiosmtpd's SMTP server (the same protocol code mail relays run) with a handler that
stores each message, in memory and, when given a folder, as a ``.eml`` file a mail program can
open. Switches make it answer the next messages with a temporary (``451``) or permanent
(``550``) refusal, so the outbox's retries can be seen working. With a TLS context it offers
STARTTLS and requires it before AUTH; with ``accounts`` it asks for a user name and password.

The server runs its own asyncio loop on a thread; it listens on 127.0.0.1 with a port the
system chooses (aiosmtpd's ``Controller`` needs a fixed port, so it is not used).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

__all__ = ["DemoMailbox", "ReceivedEmail"]


@dataclass(frozen=True)
class ReceivedEmail:
    sender: str
    recipients: tuple[str, ...]
    raw: bytes
    path: Path | None = None

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    def attachments(self) -> list[tuple[str, str, bytes]]:
        """(filename, content type, bytes) of each attachment."""
        found = []
        for part in self.message.iter_attachments():
            payload = part.get_payload(decode=True)
            found.append((part.get_filename() or "", part.get_content_type(),
                          payload if isinstance(payload, bytes) else b""))
        return found

    def body(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return str(part.get_content()) if part is not None else ""


class _Handler:
    def __init__(self, mailbox: DemoMailbox) -> None:
        self.mailbox = mailbox

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        refusal = self.mailbox._take_refusal("rcpt")
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        refusal = self.mailbox._take_refusal("data")
        if refusal:
            return refusal
        raw = envelope.original_content or (
            envelope.content if isinstance(envelope.content, bytes)
            else str(envelope.content or "").encode())
        number = self.mailbox._store(str(envelope.mail_from or ""),
                                     tuple(envelope.rcpt_tos), raw)
        return f"250 2.0.0 Ok: queued as DEMO{number:05d}"


class DemoMailbox:
    """See the module docstring. ``with DemoMailbox() as box: box.port …``."""

    def __init__(self, *, folder: Path | None = None,
                 tls_context: ssl.SSLContext | None = None,
                 accounts: Mapping[str, str] | None = None) -> None:
        self.folder = folder
        self._tls = tls_context
        self._accounts = dict(accounts or {})
        self._lock = threading.Lock()
        self._received: list[ReceivedEmail] = []
        self._refusals: list[tuple[str, str]] = []  # (stage, reply)
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self.host = "127.0.0.1"
        self.port = 0

    # --- what arrived ----------------------------------------------------------------------
    @property
    def received(self) -> list[ReceivedEmail]:
        with self._lock:
            return list(self._received)

    def message_for_email(self, email_id: int) -> ReceivedEmail | None:
        """The message PayDesk's outbox sent as email ``email_id`` (found by the stable
        Message-ID ``<paydesk.<id>.…>`` the sender gives it), newest if sent twice."""
        prefix = f"<paydesk.{email_id}."
        for received in reversed(self.received):
            if str(received.message["Message-ID"] or "").startswith(prefix):
                return received
        return None

    def _store(self, sender: str, recipients: tuple[str, ...], raw: bytes) -> int:
        with self._lock:
            number = len(self._received) + 1
            path = None
            if self.folder is not None:
                self.folder.mkdir(parents=True, exist_ok=True)
                path = self.folder / f"{number:05d}.eml"
                path.write_bytes(raw)
            self._received.append(ReceivedEmail(sender, recipients, raw, path))
            return number

    # --- fault switches --------------------------------------------------------------------
    def refuse_next(self, reply: str, *, times: int = 1, stage: str = "data") -> None:
        """Answer the next ``times`` messages with ``reply`` ("451 4.3.0 Try again later",
        "550 5.1.1 No such user") at ``stage`` (``rcpt`` or ``data``)."""
        with self._lock:
            self._refusals.extend([(stage, reply)] * times)

    def _take_refusal(self, stage: str) -> str | None:
        with self._lock:
            for index, (where, reply) in enumerate(self._refusals):
                if where == stage:
                    del self._refusals[index]
                    return reply
        return None

    # --- running ---------------------------------------------------------------------------
    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope,
                      mechanism: str, auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            user = auth_data.login.decode()
            if self._accounts.get(user) == auth_data.password.decode():
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    def _factory(self) -> SMTP:
        return SMTP(
            _Handler(self),
            hostname="paydesk-demo-mailbox",
            tls_context=self._tls,
            require_starttls=self._tls is not None,
            authenticator=self._authenticate if self._accounts else None,
            auth_required=bool(self._accounts),
            auth_require_tls=self._tls is not None,
            loop=self._loop,
        )

    def start(self) -> DemoMailbox:
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(
                self._loop.create_server(self._factory, host=self.host, port=0))
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="demo-mailbox", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("The demo mailbox did not start.")
        return self

    def stop(self) -> None:
        if self._thread is None:
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
                await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._thread = None
        self._loop.close()

    def __enter__(self) -> DemoMailbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_demo_mailbox(profile: Any, resources: Any) -> DemoMailbox:
    """``paydesk --demo``'s mailbox: started on loopback, stopped with the demo (``resources``,
    an ExitStack), and set as the demo profile's mail server (no encryption is needed, or
    allowed, for anything but this computer), with receipts for test payments on (they can reach
    no one else). Messages are kept as ``.eml`` files in the demo
    folder too."""
    from app.core.email.settings import (
        ReceiptEmailSettings,
        SmtpSettings,
        load_smtp_settings,
        save_receipt_settings,
        save_smtp_settings,
    )
    from app.core.storage.engine import open_database

    mailbox = DemoMailbox(folder=Path(profile.folder) / "demo-mailbox").start()
    resources.callback(mailbox.stop)
    engine = open_database(profile.database_url)
    try:
        if not load_smtp_settings(engine).configured:
            save_smtp_settings(engine, SmtpSettings(
                host=mailbox.host, port=mailbox.port, security="none",
                from_address="billing@northwind-it.example", from_name="Northwind IT Services"),
                actor="demo")
            # The demo's payments are test payments; their receipts go to this mailbox.
            save_receipt_settings(engine, ReceiptEmailSettings(test_payments=True), actor="demo")
    finally:
        engine.dispose()
    return mailbox
