"""``paydesk setup email`` and ``paydesk email send`` against a real SMTP server with STARTTLS
and sign-in; the test's certificate authority is trusted through SSL_CERT_FILE for this test
only (PayDesk itself keeps verifying with the system's trust store)."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from app.__main__ import main
from app.core.config import Profile
from app.core.credentials import CredentialStore
from app.core.email import queue_email
from app.core.email.settings import SMTP_PASSWORD_SECRET, load_smtp_settings
from app.core.storage.engine import open_database, session_scope
from app.sandbox.mailbox import DemoMailbox

PASSWORD = "mail-pa55word"


@pytest.fixture
def tls_mailbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DemoMailbox]:
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)
    ca_file = tmp_path / "test-ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    with DemoMailbox(tls_context=server_context, accounts={"billing": PASSWORD}) as box:
        yield box


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return code, out.out, out.err


def test_setup_email_tests_then_saves_and_send_delivers(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        tls_mailbox: DemoMailbox) -> None:
    profile = tmp_path / "p"
    common = ["--server", "127.0.0.1", "--port", str(tls_mailbox.port), "--security",
              "starttls", "--user", "billing", "--from", "billing@northwind.example"]
    monkeypatch.setenv("PAYDESK_SMTP_PASSWORD", "wrong")
    code, _, err = _run(capsys, "--profile", str(profile), "setup", "email", *common,
                        "--test-to", "it@northwind.example")
    assert code == 1 and "refused the user name or password" in err and "Nothing was saved" in err

    monkeypatch.setenv("PAYDESK_SMTP_PASSWORD", PASSWORD)
    code, out, err = _run(capsys, "--profile", str(profile), "setup", "email", *common,
                          "--test-to", "it@northwind.example", "--reminders", "2, 9")
    assert code == 0, err
    assert "Overdue reminders: on, 2, 9 days after the due date." in out
    assert "Receipts by email: on." in out
    assert "accepted the test email" in out and PASSWORD not in out + err
    assert [m.subject for m in tls_mailbox.received] == ["PayDesk test email from PayDesk"]

    opened = Profile.open(profile)
    assert CredentialStore(opened.key).get(SMTP_PASSWORD_SECRET) == PASSWORD
    assert PASSWORD.encode() not in (profile / "paydesk.sqlite3").read_bytes()
    engine = open_database(opened.database_url)
    try:
        assert load_smtp_settings(engine).username == "billing"
        with session_scope(engine) as session:
            queue_email(session, reason="test", dedupe_key="cli:1", to="maria@contoso.example",
                        template="test", context={"company_name": "Northwind", "server": "x"})
    finally:
        engine.dispose()

    code, out, _ = _run(capsys, "--profile", str(profile), "email", "send", "--json")
    assert code == 0 and json.loads(out)["sent"] == 1
    code, out, _ = _run(capsys, "--profile", str(profile), "email", "send", "--json")
    assert code == 0 and json.loads(out)["sent"] == 0
    assert len(tls_mailbox.received) == 2
    code, out, _ = _run(capsys, "--profile", str(profile), "email", "log")
    assert "maria@contoso.example" in out and "Sent" in out
    _code, out, _ = _run(capsys, "--profile", str(profile), "doctor")
    assert "Email" in out and "sends through 127.0.0.1" in out


def test_plain_smtp_to_another_computer_is_refused(capsys: pytest.CaptureFixture[str],
                                                   tmp_path: Path) -> None:
    code, _, err = _run(capsys, "--profile", str(tmp_path / "p"), "setup", "email",
                        "--server", "smtp.example.com", "--security", "none",
                        "--from", "billing@northwind.example")
    assert code == 2 and "only to a mail relay on this computer" in err
