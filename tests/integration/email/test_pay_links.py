"""Pay links by email: a Stripe pay link made by the pipeline is mailed once per address with
its amount, message and link; the invoice's pay link line follows it from "emailed" to "paid";
Authorize.Net's pay links are refused with the reason."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from app.core.clock import utcnow
from app.core.credentials import CredentialStore
from app.core.email import send_due_emails
from app.core.email.pay_links import pay_link_draft, pay_link_states, queue_pay_link_email
from app.core.email.settings import SmtpSettings, save_smtp_settings
from app.core.storage.engine import session_scope
from app.core.storage.models import Contact, Payment
from app.sandbox.gateway.checkout import read_card_form
from app.sandbox.mailbox import DemoMailbox
from tests.integration.payments.support import PayWorld, pay_world

CARD_FORM = {
    "method": "card", "card_number": "4242424242424242", "card_expiry": "08/29",
    "card_cvc": "123", "postal_code": "10001", "cardholder_name": "Dana Whitfield",
}


@pytest.fixture
def world(sqlite_engine: Engine) -> Iterator[PayWorld]:
    with pay_world(sqlite_engine, ["500.00"]) as w:
        yield w


@pytest.fixture
def mailbox() -> Iterator[DemoMailbox]:
    with DemoMailbox() as box:
        yield box


def test_a_pay_link_is_emailed_once_and_its_state_followed(
        world: PayWorld, mailbox: DemoMailbox, memory_keyring: object) -> None:
    engine = world.engine
    with session_scope(engine) as s:
        s.add(Contact(id=990_002, organization_id=world.company_id, first_name="Maria",
                      last_name="Lopez", email="maria@contoso.example", is_active=True,
                      synced_at=utcnow()))
    request = world.request([world.invoice_ids[0]], amount="200.00", method=None)
    hosted = world.pipeline.start_hosted_payment(request, purpose="pay_link")

    draft = pay_link_draft(engine, hosted.payment_id)
    assert draft.problem is not None and "not set up" in draft.problem
    save_smtp_settings(engine, SmtpSettings(host="127.0.0.1", port=mailbox.port,
                                            security="none",
                                            from_address="billing@northwind.example"))
    draft = pay_link_draft(engine, hosted.payment_id)
    assert draft.problem is None and draft.amount == "$200.00"
    assert draft.default_to == "maria@contoso.example"

    queue_pay_link_email(engine, hosted.payment_id, "maria@contoso.example",
                         "Here is the link we spoke about.")
    with pytest.raises(ValueError, match="already emailed"):
        queue_pay_link_email(engine, hosted.payment_id, "Maria@Contoso.example", "again")
    assert send_due_emails(engine, CredentialStore("paylinks")).sent == 1
    [mail] = mailbox.received
    assert "$200.00" in mail.subject
    body = mail.body()
    assert hosted.url in body and "Here is the link we spoke about." in body
    assert "Hello Maria Lopez" in body

    [state] = pay_link_states(engine, world.invoice_ids[0])
    assert "emailed to maria@contoso.example" in state.text and "not paid yet" in state.text

    # The client pays on the gateway's page; PayDesk records it when it checks the link.
    sandbox = world.gateway_sandbox.state
    method = sandbox.create_card_method(read_card_form(CARD_FORM))
    with sandbox.lock:
        sandbox.complete_checkout(hosted.session_id, method, mandate=None)
    world.pipeline.check_hosted_payment(hosted.payment_id)
    [state] = pay_link_states(engine, world.invoice_ids[0])
    assert state.text.endswith("— paid.")
    assert "already paid" in (pay_link_draft(engine, hosted.payment_id).problem or "")


def test_authorize_net_pay_links_cannot_be_emailed(engine: Engine) -> None:
    from app.core.config import set_internal_currency

    set_internal_currency(engine, "USD")
    with session_scope(engine) as s:
        payment = Payment(reference="PD-AN1", idempotency_key="an-1", organization_id=1,
                          currency="USD", amount_minor=100, surcharge_minor=0, total_minor=100,
                          gateway="authorizenet", state="awaiting_client", channel="pay_link",
                          hosted_url="https://accept.authorize.net/payment/payment",
                          created_at=utcnow(), created_by="t")
        s.add(payment)
        s.flush()
        payment_id = payment.id
    draft = pay_link_draft(engine, payment_id)
    assert draft.problem is not None and "cannot be emailed" in draft.problem
    assert "Authorize.Net" in draft.problem
    with pytest.raises(ValueError, match="cannot be emailed"):
        queue_pay_link_email(engine, payment_id, "maria@contoso.example", "")
