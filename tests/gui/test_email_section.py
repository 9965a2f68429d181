"""Settings › Email against a real SMTP server on loopback: the settings are saved with the
password in the keychain only, Send Test Email reaches the server, the wording is previewed
and a mistake in it is explained, and a failed email is retried from the log."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QComboBox
from pytestqt.qtbot import QtBot

from app.core.credentials import CredentialStore
from app.core.email import queue_email
from app.core.email.outbox import email_log
from app.core.email.settings import SMTP_PASSWORD_SECRET, load_smtp_settings
from app.core.email.templates import load_template
from app.core.storage.engine import session_scope
from app.gui.context import AppContext
from app.gui.settings.email_section import EmailSection
from app.sandbox.mailbox import DemoMailbox
from tests.gui.conftest import wait_for_background_tasks


@pytest.fixture
def mailbox() -> Iterator[DemoMailbox]:
    with DemoMailbox() as box:
        yield box


def _section(qtbot: QtBot, context: AppContext) -> EmailSection:
    section = EmailSection(context)
    qtbot.addWidget(section)
    section.show()
    wait_for_background_tasks(qtbot)
    return section


def _choose(combo: QComboBox, data: str) -> None:
    combo.setCurrentIndex(combo.findData(data))


def test_settings_saved_and_test_email_sent(qtbot: QtBot, set_up_context: AppContext,
                                            mailbox: DemoMailbox) -> None:
    section = _section(qtbot, set_up_context)
    assert "not set up yet" in section.server_status.text()
    section.host_edit.setText("127.0.0.1")
    _choose(section.security_combo, "none")
    section.port_spin.setValue(mailbox.port)
    section.from_edit.setText("billing@northwind.example")
    section.user_edit.setText("")
    section.test_to_edit.setText("it@northwind.example")
    section.test_button.click()
    qtbot.waitUntil(lambda: "accepted the test email" in section.server_status.text(),
                    timeout=10_000)
    assert [m.recipients for m in mailbox.received] == [("it@northwind.example",)]

    section.password_edit.setText("relay-secret")
    section.reminders_check.setChecked(True)
    section.days_edit.setText("2, 9")
    section.save_button.click()
    qtbot.waitUntil(lambda: section.save_status.text().startswith("Saved"), timeout=10_000)
    wait_for_background_tasks(qtbot)
    engine = set_up_context.engine
    assert load_smtp_settings(engine).port == mailbox.port
    assert CredentialStore(set_up_context.profile.key).get(SMTP_PASSWORD_SECRET) == \
        "relay-secret"
    assert "relay-secret" not in section.password_edit.placeholderText()
    assert section.password_edit.text() == ""
    assert "Stored in the system keychain" in section.password_edit.placeholderText()


def test_plain_smtp_to_a_remote_server_is_refused_on_save(qtbot: QtBot,
                                                          set_up_context: AppContext) -> None:
    section = _section(qtbot, set_up_context)
    section.host_edit.setText("smtp.example.com")
    _choose(section.security_combo, "none")
    section.from_edit.setText("billing@northwind.example")
    section.save_button.click()
    qtbot.waitUntil(lambda: "only to a mail relay on this computer" in
                    section.save_status.text(), timeout=10_000)
    assert load_smtp_settings(set_up_context.engine).host == ""


def test_wording_is_previewed_saved_and_a_mistake_explained(qtbot: QtBot,
                                                            set_up_context: AppContext) -> None:
    section = _section(qtbot, set_up_context)
    _choose(section.template_combo, "overdue_reminder")
    wait_for_background_tasks(qtbot)
    assert "Reminder: invoice INV-2051" in section.preview.headers.text()
    assert "example values" in section.preview.source.text()

    section.subject_edit.setText("Invoice {{ invoice_numbr }} is overdue")
    section.save_template_button.click()
    qtbot.waitUntil(lambda: "cannot be filled in" in section.template_status.text(),
                    timeout=10_000)
    assert "invoice_numbr" in section.template_status.text()

    section.subject_edit.setText("Invoice {{ invoice_number }} is overdue")
    section.save_template_button.click()
    qtbot.waitUntil(lambda: section.template_status.text().startswith("Saved"), timeout=10_000)
    assert load_template(set_up_context.engine, "overdue_reminder").subject == \
        "Invoice {{ invoice_number }} is overdue"
    assert "Invoice INV-2051 is overdue" in section.preview.headers.text()
    section.reset_template_button.click()
    qtbot.waitUntil(lambda: section.template_status.text().startswith("Back"), timeout=10_000)
    assert not load_template(set_up_context.engine, "overdue_reminder").customized


def test_a_failed_email_is_listed_and_retried(qtbot: QtBot, set_up_context: AppContext,
                                              mailbox: DemoMailbox) -> None:
    from app.core.email import send_due_emails
    from app.core.email.settings import SmtpSettings, save_smtp_settings

    engine = set_up_context.engine
    save_smtp_settings(engine, SmtpSettings(host="127.0.0.1", port=mailbox.port,
                                            security="none",
                                            from_address="billing@northwind.example"))
    with session_scope(engine) as session:
        queue_email(session, reason="test", dedupe_key="gui:1", to="maria@contoso.example",
                    template="test", context={"company_name": "Northwind", "server": "x"})
    mailbox.refuse_next("550 5.1.1 No such user", stage="rcpt")
    send_due_emails(engine, set_up_context.credentials)

    section = _section(qtbot, set_up_context)
    assert section.log_table.rowCount() == 1
    assert section.log_table.item(0, 4).text() == "Failed"
    assert "550" in section.log_status.text()
    assert not section.retry_button.isEnabled()
    section.log_table.selectRow(0)
    assert section.retry_button.isEnabled()
    section.retry_button.click()
    qtbot.waitUntil(lambda: section.log_status.text() == "1 sent.", timeout=10_000)
    wait_for_background_tasks(qtbot)
    assert section.log_table.item(0, 4).text() == "Sent"
    assert [r.state for r in email_log(engine)] == ["sent"]
    assert len(mailbox.received) == 1


def test_the_background_upkeep_sends_due_emails(qtbot: QtBot, set_up_context: AppContext,
                                                mailbox: DemoMailbox) -> None:
    from app.core.email.settings import SmtpSettings, save_smtp_settings
    from app.gui.email_upkeep import EmailUpkeep

    engine = set_up_context.engine
    save_smtp_settings(engine, SmtpSettings(host="127.0.0.1", port=mailbox.port,
                                            security="none",
                                            from_address="billing@northwind.example"))
    with session_scope(engine) as session:
        queue_email(session, reason="test", dedupe_key="upkeep:1", to="maria@contoso.example",
                    template="test", context={"company_name": "Northwind", "server": "x"})
    upkeep = EmailUpkeep(set_up_context)
    with qtbot.waitSignal(upkeep.roundFinished, timeout=10_000) as round_:
        upkeep.run_now()
    assert round_.args is not None and round_.args[0].sending.sent == 1
    assert len(mailbox.received) == 1
    upkeep.stop()


def test_the_demo_log_shows_what_its_mailbox_received(
        qtbot: QtBot, set_up_context: AppContext, mailbox: DemoMailbox,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from app.core.email import send_due_emails
    from app.core.email.settings import SmtpSettings, save_smtp_settings
    from app.gui.settings import email_section

    engine = set_up_context.engine
    save_smtp_settings(engine, SmtpSettings(host="127.0.0.1", port=mailbox.port,
                                            security="none",
                                            from_address="billing@northwind.example"))
    with session_scope(engine) as session:
        queue_email(session, reason="test", dedupe_key="demo:gui", to="maria@contoso.example",
                    template="test", context={"company_name": "Northwind", "server": "x"})
    send_due_emails(engine, set_up_context.credentials)
    set_up_context.demo = SimpleNamespace(mailbox=mailbox)  # type: ignore[assignment]

    section = _section(qtbot, set_up_context)
    assert section.log_table.item(0, 4).text() == "Delivered to the demo mailbox"
    shown: list[str] = []
    monkeypatch.setattr(email_section.ReceivedEmailDialog, "exec", lambda self: shown.append(
        self.findChild(email_section.QPlainTextEdit, "receivedEmailText").toPlainText()))
    section.log_table.selectRow(0)
    section.show_received_button.click()
    assert shown and "Subject: PayDesk test email from Northwind" in shown[0]
    assert "To: maria@contoso.example" in shown[0]


def test_receipts_are_switched_off_and_on_for_one_organization(
        qtbot: QtBot, set_up_context: AppContext) -> None:
    from app.core.clock import utcnow
    from app.core.email.settings import load_receipt_settings
    from app.core.storage.models import Organization

    engine = set_up_context.engine
    with session_scope(engine) as s:
        s.add_all([Organization(id=7, name="Contoso Dental", synced_at=utcnow()),
                   Organization(id=8, name="Fabrikam Law", synced_at=utcnow())])
    section = _section(qtbot, set_up_context)
    assert not section.receipts_on_button.isEnabled()
    section.organization_edit.setText("fabrikam law")
    section.receipts_off_button.click()
    qtbot.waitUntil(lambda: section.receipts_off_combo.currentText() == "Fabrikam Law",
                    timeout=5_000)
    assert load_receipt_settings(engine).off_for == frozenset({8})
    assert load_receipt_settings(engine).sends_to(7)
    section.receipts_on_button.click()
    qtbot.waitUntil(lambda: not section.receipts_on_button.isEnabled(), timeout=5_000)
    assert load_receipt_settings(engine).off_for == frozenset()
