"""Email pay link from the invoice page: the dialog makes a Stripe pay link for the amount
typed, mails it through the outbox to a real SMTP server, and the invoice page says so."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from app.core.email.settings import SmtpSettings, save_smtp_settings
from app.core.money import Money
from app.gui.context import AppContext
from app.gui.email_pay_links import PayLinkEmailDialog
from app.gui.invoices.page import InvoicePage
from app.sandbox.mailbox import DemoMailbox
from tests.gui.conftest import wait_for_background_tasks
from tests.gui.payments_support import ORG_ID, PaymentWorld, build_world, stripe_only
from tests.integration.payments.gateways import start_kit


@pytest.fixture
def world(set_up_context: AppContext, gateway_key: str) -> Iterator[PaymentWorld]:
    with start_kit(gateway_key) as kit:
        yield build_world(set_up_context, kit)


@pytest.fixture
def mailbox() -> Iterator[DemoMailbox]:
    with DemoMailbox() as box:
        yield box


@stripe_only
def test_email_a_pay_link_from_the_invoice_page(qtbot: QtBot, world: PaymentWorld,
                                                mailbox: DemoMailbox) -> None:
    context = world.context
    save_smtp_settings(context.engine, SmtpSettings(
        host="127.0.0.1", port=mailbox.port, security="none",
        from_address="billing@northwind.example"))
    invoice_id = world.invoice_ids[1]
    page = InvoicePage(context)
    qtbot.addWidget(page)
    page.show()
    page.show_invoice(invoice_id)
    qtbot.waitUntil(lambda: page.detail is not None, timeout=5_000)
    wait_for_background_tasks(qtbot)
    states = page.findChild(QLabel, "payLinkStates")
    assert states is not None and not states.isVisible()

    row = page.detail.row  # type: ignore[union-attr]
    dialog = PayLinkEmailDialog(context, page, invoice=(ORG_ID, invoice_id,
                                                        Money(row.balance_minor, "USD")))
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.send_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.to_combo.count() == 2, timeout=5_000)
    assert dialog.to_combo.itemData(0) in ("dana@acme.test", "ap@acme.test")
    dialog.amount_edit.setText("100.00")
    dialog.to_combo.setEditText("ap@client.example")
    dialog.message_edit.setPlainText("As promised, the first instalment.")
    dialog.send_button.click()
    qtbot.waitUntil(lambda: "was emailed to ap@client.example" in dialog.status.text(),
                    timeout=15_000)
    [mail] = mailbox.received
    assert "$100.00" in mail.subject and "As promised, the first instalment." in mail.body()
    assert "http" in mail.body()

    page.reload()
    qtbot.waitUntil(lambda: states.isVisible(), timeout=5_000)
    assert "emailed to ap@client.example" in states.text() and "not paid yet" in states.text()
    wait_for_background_tasks(qtbot)


@stripe_only
def test_email_an_existing_pay_link(qtbot: QtBot, world: PaymentWorld,
                                    mailbox: DemoMailbox) -> None:
    """What the Order Summary's "Email link…" opens, for the link it just made."""
    from app.core.payments import (
        PaymentPipeline,
        PaymentRequest,
        compute_order_summary,
        load_payable_invoices,
    )

    context = world.context
    engine = context.engine
    invoices = load_payable_invoices(engine, world.invoice_ids[:1], "USD")
    summary = compute_order_summary(invoices, currency="USD")
    hosted = PaymentPipeline(engine, world.gateway).start_hosted_payment(
        PaymentRequest.from_summary(summary, organization_id=ORG_ID, payment_method_id=None),
        purpose="pay_link")

    dialog = PayLinkEmailDialog(context, payment_id=hosted.payment_id)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.draft is not None, timeout=5_000)
    # Email is not set up yet: the dialog says so and offers the mail program instead.
    assert "not set up" in dialog.status.text()
    assert not dialog.send_button.isEnabled() and dialog.mail_program_button.isVisible()
    dialog.close()

    save_smtp_settings(engine, SmtpSettings(host="127.0.0.1", port=mailbox.port,
                                            security="none",
                                            from_address="billing@northwind.example"))
    dialog = PayLinkEmailDialog(context, payment_id=hosted.payment_id)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.send_button.isEnabled(), timeout=5_000)
    assert dialog.to_combo.count() == 2 and dialog._address() in ("dana@acme.test",
                                                                  "ap@acme.test")
    dialog.send_button.click()
    qtbot.waitUntil(lambda: "was emailed to" in dialog.status.text(), timeout=10_000)
    [mail] = mailbox.received
    assert hosted.url in mail.body() and mail.recipients == (dialog._address(),)
    wait_for_background_tasks(qtbot)


@pytest.mark.parametrize("gateway_key", ["authorizenet"])
def test_no_emailed_pay_links_with_authorize_net(qtbot: QtBot, world: PaymentWorld) -> None:
    from PySide6.QtGui import QAction

    context = world.context  # connected to the Authorize.Net stand-in
    page = InvoicePage(context)
    qtbot.addWidget(page)
    page.show_invoice(world.invoice_ids[0])
    qtbot.waitUntil(lambda: page.detail is not None, timeout=5_000)
    action = page.findChild(QAction, "emailPayLinkAction")
    assert action is not None and not action.isEnabled()
    assert "cannot be emailed" in action.toolTip() and "Authorize.Net" in action.toolTip()
    wait_for_background_tasks(qtbot)


@stripe_only
def test_no_link_is_made_when_email_is_not_set_up(qtbot: QtBot, world: PaymentWorld) -> None:
    dialog = PayLinkEmailDialog(world.context, invoice=(ORG_ID, world.invoice_ids[0],
                                                        Money(10_000, "USD")),
                                invoice_label="Invoice 1045")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: "not set up" in dialog.intro.text(), timeout=5_000)
    assert not dialog.send_button.isEnabled()
    wait_for_background_tasks(qtbot)
