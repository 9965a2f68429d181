"""``paydesk --demo`` runs a real SMTP server and points the demo profile's Email settings at
it: what PayDesk sends in the demo arrives there (and as .eml files), nowhere else."""

from __future__ import annotations

from app.core.credentials import CredentialStore
from app.core.email import queue_email, send_due_emails
from app.core.email.settings import load_smtp_settings
from app.core.storage.engine import open_database, session_scope
from app.sandbox.demo import start_demo


def test_the_demo_sends_to_its_own_mailbox(memory_keyring: object) -> None:
    with start_demo(companies=6, invoices=30, latency_ms=0) as demo:
        assert demo.mailbox is not None
        engine = open_database(demo.profile.database_url)
        try:
            settings = load_smtp_settings(engine)
            assert (settings.host, settings.port, settings.security) == (
                "127.0.0.1", demo.mailbox.port, "none")
            with session_scope(engine) as session:
                row = queue_email(session, reason="test", dedupe_key="demo:1",
                                  to="maria@contoso.example", template="test",
                                  context={"company_name": "Northwind", "server": "demo"})
                assert row is not None
                session.flush()
                email_id = row.id
            assert send_due_emails(engine, CredentialStore(demo.profile.key)).sent == 1
        finally:
            engine.dispose()
        received = demo.mailbox.message_for_email(email_id)
        assert received is not None and received.subject == "PayDesk test email from Northwind"
        assert received.path is not None and received.path.read_bytes() == received.raw
        mailbox = demo.mailbox
    assert not mailbox.folder.exists()  # the demo folder is removed on close
