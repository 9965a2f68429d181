"""The payment methods chosen in Settings › Posting, against the QuickBooks Online sandbox over
HTTP: the company's list is read as QuickBooks answers it (active methods only), the channel
records card and bank payments with the chosen ones, PayDesk's default stays "Credit Card" /
"ACH", and a chosen method gone from QuickBooks fails the posting for a person instead of
being replaced. Stored as an audited shared setting (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import Engine, select

from app.core.config import get_setting
from app.core.credentials import CredentialStore
from app.core.quickbooks.payment_methods import (
    ONLINE_SETTING,
    OnlineMethod,
    OnlineMethods,
    list_online_methods,
    load_online_methods,
    save_online_methods,
)
from app.core.storage.engine import session_scope
from app.core.storage.models import AuditEntry
from tests.integration.quickbooks_online import test_channel
from tests.integration.quickbooks_online.qbo_support import (
    client_for,
    count_payments,
    open_invoices,
    postings,
    record_payment,
)
from tests.integration.quickbooks_online.test_channel import World

world = test_channel.world  # the channel tests' world: QuickBooks read, deliverer open


def _methods(world: World) -> dict[str, str]:
    with client_for(world.engine, CredentialStore("channel")) as client:
        return {m.name: m.id for m in list_online_methods(client)}


def _method_of(world: World, posting_id: int) -> str:
    (delivered,) = [p for p in postings(world.engine) if p.id == posting_id]
    payment = world.quickbooks.record("Payment", str(delivered.remote_id))
    assert payment is not None
    return str(payment["PaymentMethodRef"]["value"])


def test_the_list_is_the_companys_active_methods(world: World) -> None:
    listed = _methods(world)
    assert {"Cash", "Check", "Visa", "MasterCard", "American Express"} <= set(listed)
    # Made inactive in QuickBooks ("deleted"): no longer offered.
    with client_for(world.engine, CredentialStore("channel")) as client:
        row = client.read("PaymentMethod", listed["Cash"])
        client.request("POST", "paymentmethod", body={
            "Id": row["Id"], "SyncToken": row["SyncToken"], "sparse": True, "Active": False})
    assert "Cash" not in _methods(world)


def test_card_and_bank_payments_use_the_chosen_methods(world: World) -> None:
    listed = _methods(world)
    save_online_methods(world.engine, OnlineMethods(
        card=OnlineMethod(listed["Visa"], "Visa"),
        bank=OnlineMethod(listed["Check"], "Check")), actor="ann")
    first, second = open_invoices(world.engine, 2)
    record_payment(world.engine, [(first.id, 1_00)])
    record_payment(world.engine, [(second.id, 2_00)], method_type="us_bank_account")
    card, bank = postings(world.engine)
    outcome = world.run()
    assert outcome == {card.id: "delivered", bank.id: "delivered"}
    assert _method_of(world, card.id) == listed["Visa"]
    assert _method_of(world, bank.id) == listed["Check"]
    # Nothing was added to the list: the default methods were not needed.
    assert "Credit Card" not in _methods(world) and "ACH" not in _methods(world)


def test_the_default_is_credit_card_and_ach_created_when_missing(world: World) -> None:
    first, second = open_invoices(world.engine, 2)
    record_payment(world.engine, [(first.id, 1_00)])
    record_payment(world.engine, [(second.id, 2_00)], method_type="us_bank_account")
    card, bank = postings(world.engine)
    assert set(world.run().values()) == {"delivered"}
    listed = _methods(world)
    assert _method_of(world, card.id) == listed["Credit Card"]
    assert _method_of(world, bank.id) == listed["ACH"]


def test_a_chosen_method_gone_from_quickbooks_needs_a_person(world: World) -> None:
    listed = _methods(world)
    save_online_methods(world.engine, OnlineMethods(
        card=OnlineMethod(listed["MasterCard"], "MasterCard")), actor="ann")
    with client_for(world.engine, CredentialStore("channel")) as client:
        row = client.read("PaymentMethod", listed["MasterCard"])
        client.request("POST", "paymentmethod", body={
            "Id": row["Id"], "SyncToken": row["SyncToken"], "sparse": True, "Active": False})
    (invoice,) = open_invoices(world.engine, 1)
    record_payment(world.engine, [(invoice.id, 1_00)])
    before = count_payments(world.quickbooks)
    (posting,) = postings(world.engine)
    outcome = world.run()[posting.id]
    assert outcome.startswith("needs_person: "), outcome
    assert "“MasterCard”" in outcome and "Settings › Posting" in outcome
    assert count_payments(world.quickbooks) == before
    assert "Credit Card" not in _methods(world)  # not silently replaced by the default


def test_the_choice_is_an_audited_shared_setting(engine: Engine) -> None:
    assert load_online_methods(engine) == OnlineMethods()
    chosen = OnlineMethods(card=OnlineMethod("3", "Visa"), bank=None)
    save_online_methods(engine, chosen, actor="ann@OFFICE")
    assert load_online_methods(engine) == chosen
    assert get_setting(engine, ONLINE_SETTING) == {"card": {"id": "3", "name": "Visa"},
                                                   "bank": None}
    with session_scope(engine) as s:
        entries = list(s.scalars(select(AuditEntry).where(
            AuditEntry.action == "setting.changed")))
    assert any(ONLINE_SETTING in str(e.details) and e.actor == "ann@OFFICE" for e in entries)
