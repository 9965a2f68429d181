"""The QuickBooks Online posting channel against the sandbox: one Payment per payment with one
line per invoice, exactly once under faults (counted in the sandbox), waiting while an invoice
is not matched, and refunds (full and partial) leaving QuickBooks' balances equal to PayDesk's."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from app.core.credentials import CredentialStore
from app.core.posting.channels import (
    ClaimedPosting,
    PostingErrorKind,
    PostingWaiting,
    get_channel,
)
from app.core.quickbooks.books import SOURCE_ONLINE, match_by_hand, match_for
from app.core.quickbooks.online.channel import (
    TARGET_PAYMENT,
    TARGET_REFUND,
    TARGET_SURCHARGE,
    QuickBooksOnlineDeliverer,
)
from app.core.quickbooks.online.read import read_quickbooks_online
from app.core.storage.engine import session_scope
from app.core.storage.models import Posting, QuickBooksInvoice
from app.sandbox.quickbooks_online.server import QuickBooksOnlineSandbox
from tests.integration.quickbooks_online.qbo_support import (
    client_for,
    count_payments,
    invoice_balance_minor,
    open_invoices,
    paydesk_balance,
    postings,
    record_payment,
    record_refund,
    record_refund_reversed,
    sandboxes,
    store_connection,
    sync_autotask,
)


@dataclass
class World:
    engine: Engine
    quickbooks: QuickBooksOnlineSandbox
    deliverer: QuickBooksOnlineDeliverer

    def run(self, rounds: int = 1) -> dict[int, str]:
        """Deliver due postings the way the outbox does: a posting tried before is first
        looked up by its reference. Returns posting id → outcome of the last round."""
        outcome: dict[int, str] = {}
        for _ in range(rounds):
            for posting in postings(self.engine):
                if posting.state in ("delivered", "dismissed"):
                    continue
                with session_scope(self.engine) as s:
                    row = s.get(Posting, posting.id)
                    assert row is not None
                    row.attempts += 1
                    attempts = row.attempts
                claimed = ClaimedPosting(
                    id=posting.id, channel=posting.channel, target=posting.target,
                    key=posting.key, payload=posting.payload, attempts=attempts,
                    payment_id=posting.payment_id, refund_id=posting.refund_id)
                try:
                    remote = (self.deliverer.find_existing(claimed) if attempts > 1 else None)
                    if remote is None:
                        remote = self.deliverer.deliver(claimed)
                except PostingWaiting as waiting:
                    self._set(posting.id, "waiting", waiting.reason)
                    outcome[posting.id] = "waiting: " + waiting.reason
                    continue
                except Exception as exc:
                    error = self.deliverer.classify(exc)
                    state = "pending" if error.kind is PostingErrorKind.RETRY else "failed"
                    self._set(posting.id, state, error.message)
                    outcome[posting.id] = f"{error.kind.value}: {error.message}"
                    continue
                with session_scope(self.engine) as s:
                    row = s.get(Posting, posting.id)
                    assert row is not None
                    row.state, row.remote_id, row.waiting_reason = "delivered", remote, None
                outcome[posting.id] = "delivered"
        return outcome

    def _set(self, posting_id: int, state: str, text: str) -> None:
        with session_scope(self.engine) as s:
            row = s.get(Posting, posting_id)
            assert row is not None
            row.state = state
            if state == "waiting":
                row.waiting_reason = text
            else:
                row.last_error = text

    def qb_id(self, invoice_id: int) -> str:
        match = match_for(self.engine, SOURCE_ONLINE, invoice_id)
        assert match is not None and match.remote_id
        return match.remote_id

    def balances_agree(self, invoice_ids: list[int]) -> None:
        for invoice_id in invoice_ids:
            assert invoice_balance_minor(self.quickbooks, self.qb_id(invoice_id)) == \
                paydesk_balance(self.engine, invoice_id), invoice_id


@pytest.fixture
def world(engine: Engine) -> Iterator[World]:
    credentials = CredentialStore("channel")
    with sandboxes() as (autotask, quickbooks):
        sync_autotask(engine, autotask)
        store_connection(engine, credentials, quickbooks)
        with client_for(engine, credentials) as client:
            read_quickbooks_online(engine, client)
        channel = get_channel("quickbooks_online")
        assert channel is not None
        deliverer = channel.open_deliverer(engine, credentials)
        assert isinstance(deliverer, QuickBooksOnlineDeliverer)
        deliverer.client._sleep = lambda _s: None
        try:
            yield World(engine, quickbooks, deliverer)
        finally:
            deliverer.close()


def test_a_payment_becomes_one_quickbooks_payment_with_a_line_per_invoice(world: World) -> None:
    first, second = open_invoices(world.engine, 2)
    before = count_payments(world.quickbooks)
    paid = record_payment(world.engine, [(first.id, first.balance_minor),
                                         (second.id, 1_00)])
    (posting,) = postings(world.engine)
    assert posting.target == TARGET_PAYMENT
    assert len(str(posting.payload["request_id"])) <= 50
    assert world.run()[posting.id] == "delivered"
    assert count_payments(world.quickbooks) == before + 1
    (delivered,) = postings(world.engine)
    payment = world.quickbooks.record("Payment", str(delivered.remote_id))
    assert payment is not None
    assert Decimal(str(payment["TotalAmt"])) == Decimal(first.balance_minor + 100) / 100
    links = {line["LinkedTxn"][0]["TxnId"]: Decimal(str(line["Amount"]))
             for line in payment["Line"]}
    assert links == {world.qb_id(first.id): Decimal(first.balance_minor) / 100,
                     world.qb_id(second.id): Decimal("1.00")}
    assert payment["PaymentRefNum"].startswith("ch_test_")
    assert payment["PrivateNote"].startswith(f"PayDesk {paid.reference}")
    assert payment["PaymentMethodRef"]["value"]  # "Credit Card", found or created
    world.balances_agree([first.id, second.id])


@pytest.mark.parametrize("fault", ["lose_response", "server_error", "drop", "throttle"])
def test_exactly_once_under_faults(world: World, fault: str) -> None:
    (invoice,) = open_invoices(world.engine, 1)
    record_payment(world.engine, [(invoice.id, invoice.balance_minor)])
    world.run()  # the payment method is found or created before the faults start
    before = count_payments(world.quickbooks)
    (second,) = open_invoices(world.engine, 1)
    record_payment(world.engine, [(second.id, second.balance_minor)])
    # More faults than the client's own retries: the outbox's next round must find it.
    world.quickbooks.add_fault(fault, count=6, path="/payment", method="POST", status=503)
    world.run(rounds=3)
    world.quickbooks.clear_faults()
    world.run()
    assert count_payments(world.quickbooks) == before + 1
    assert all(p.state == "delivered" for p in postings(world.engine))
    world.balances_agree([invoice.id, second.id])


def test_an_unmatched_invoice_holds_its_posting_until_matched(world: World) -> None:
    unmatched = open_invoices(world.engine, 1, matched=False)
    assert unmatched, "the seed has open invoices QuickBooks does not have yet"
    invoice = unmatched[0]
    record_payment(world.engine, [(invoice.id, invoice.balance_minor)])
    before = count_payments(world.quickbooks)
    outcome = world.run()
    (posting,) = postings(world.engine)
    assert outcome[posting.id].startswith("waiting: ")
    assert f"Invoice {invoice.invoice_number} is not matched" in outcome[posting.id]
    assert count_payments(world.quickbooks) == before
    # Autotask exports it, a person matches it: it goes.
    exported = world.quickbooks.export_invoice(str(invoice.invoice_number))
    with client_for(world.engine, CredentialStore("channel")) as client:
        read_quickbooks_online(world.engine, client)
    with session_scope(world.engine) as s:
        assert s.get(QuickBooksInvoice, (SOURCE_ONLINE, str(exported["Id"]))) is not None
    match_by_hand(world.engine, SOURCE_ONLINE, invoice.id, str(exported["Id"]), actor="ann")
    assert world.run()[posting.id] == "delivered"
    assert count_payments(world.quickbooks) == before + 1
    world.balances_agree([invoice.id])


def test_partial_then_full_refund_keep_balances_equal(world: World) -> None:
    first, second = open_invoices(world.engine, 2)
    paid = record_payment(world.engine, [(first.id, first.balance_minor),
                                         (second.id, second.balance_minor)])
    world.run()
    world.balances_agree([first.id, second.id])
    payments_before = count_payments(world.quickbooks)

    # Partial: part of the first invoice comes back.
    record_refund(world.engine, paid.payment_id, [(first.id, 25_00)])
    refund_posting = next(p for p in postings(world.engine) if p.target == TARGET_REFUND)
    # A lost answer on the update: the retry sees the refund already in the memo.
    world.quickbooks.add_fault("lose_response", count=1, path="/payment", method="POST")
    world.run(rounds=2)
    world.quickbooks.clear_faults()
    assert [p.state for p in postings(world.engine) if p.id == refund_posting.id] == [
        "delivered"]
    world.balances_agree([first.id, second.id])
    assert paydesk_balance(world.engine, first.id) == 25_00

    # The rest of the payment comes back: both invoices open in full again, in both books.
    record_refund(world.engine, paid.payment_id,
                  [(first.id, first.balance_minor - 25_00), (second.id, second.balance_minor)])
    world.run()
    world.balances_agree([first.id, second.id])
    assert paydesk_balance(world.engine, second.id) == second.balance_minor
    assert count_payments(world.quickbooks) == payments_before  # re-stated, not added
    payment_id = next(p.remote_id for p in postings(world.engine) if p.target == TARGET_PAYMENT)
    record = world.quickbooks.record("Payment", str(payment_id))
    assert record is not None and Decimal(str(record["TotalAmt"])) == 0
    assert record["PrivateNote"].count("PayDesk refund R-") == 2  # the money out, in words


def test_a_reversed_refund_raises_the_payment_back(world: World) -> None:
    (invoice,) = open_invoices(world.engine, 1)
    paid = record_payment(world.engine, [(invoice.id, invoice.balance_minor)])
    world.run()
    refund_id = record_refund(world.engine, paid.payment_id, [(invoice.id, 10_00)])
    world.run()
    world.balances_agree([invoice.id])
    assert paydesk_balance(world.engine, invoice.id) == 10_00
    record_refund_reversed(world.engine, refund_id)
    assert world.run(rounds=2)  # delivered once; a second round finds nothing to do
    world.balances_agree([invoice.id])
    assert paydesk_balance(world.engine, invoice.id) == 0
    assert {p.state for p in postings(world.engine)} == {"delivered"}


def test_a_revoked_connection_says_reconnect_and_keeps_the_posting(world: World) -> None:
    (invoice,) = open_invoices(world.engine, 1)
    record_payment(world.engine, [(invoice.id, invoice.balance_minor)])
    world.quickbooks.oauth.revoke_all()
    world.deliverer.client.tokens.forget_access()  # type: ignore[attr-defined]
    outcome = world.run()
    (posting,) = postings(world.engine)
    assert outcome[posting.id] == (
        "needs_person: QuickBooks disconnected — Reconnect in Setup.")
    assert posting.state == "failed"  # kept; Retry after reconnecting sends it


def test_a_surcharge_is_income_on_its_own_item_not_part_of_the_invoice_payment(
        world: World) -> None:
    (invoice,) = open_invoices(world.engine, 1)
    paid = record_payment(world.engine, [(invoice.id, invoice.balance_minor)], surcharge=3_00)
    assert {p.target for p in postings(world.engine)} == {TARGET_PAYMENT, TARGET_SURCHARGE}
    world.run()
    assert {p.state for p in postings(world.engine)} == {"delivered"}
    by_target = {p.target: p.remote_id for p in postings(world.engine)}
    payment = world.quickbooks.record("Payment", str(by_target[TARGET_PAYMENT]))
    receipt = world.quickbooks.record("SalesReceipt", str(by_target[TARGET_SURCHARGE]))
    assert payment is not None and receipt is not None
    assert Decimal(str(payment["TotalAmt"])) == Decimal(invoice.balance_minor) / 100
    assert Decimal(str(receipt["TotalAmt"])) == Decimal("3.00")
    (line,) = [x for x in receipt["Line"] if x.get("DetailType") == "SalesItemLineDetail"]
    assert line["SalesItemLineDetail"]["ItemRef"]["value"]
    assert receipt["PrivateNote"] == f"PayDesk {paid.reference} surcharge"
    world.balances_agree([invoice.id])


def test_payments_go_to_the_deposit_account_the_bookkeeper_chose(world: World) -> None:
    from app.core.quickbooks.online.deposits import (
        UNDEPOSITED_FUNDS,
        choose_deposit_account,
        deposit_account_id,
        deposit_accounts,
    )

    credentials = CredentialStore("channel")
    accounts = deposit_accounts(world.engine, credentials)
    assert accounts[0] == UNDEPOSITED_FUNDS  # QuickBooks' own default comes first
    names = [a.name for a in accounts]
    assert "Checking" in names
    assert "Undeposited Funds" not in names  # offered once, as the default
    assert "Services" not in names  # an income account is no place for a deposit

    first, second = open_invoices(world.engine, 2)
    record_payment(world.engine, [(first.id, first.balance_minor)])
    world.run()
    (default,) = postings(world.engine)
    booked = world.quickbooks.record("Payment", str(default.remote_id))
    from app.sandbox.quickbooks_online.data import UNDEPOSITED_FUNDS as UNDEPOSITED_ID

    assert booked is not None  # QuickBooks put it in Undeposited Funds by itself
    assert booked.get("DepositToAccountRef", {}).get("value", UNDEPOSITED_ID) == UNDEPOSITED_ID

    checking = next(a for a in accounts if a.name == "Checking")
    choose_deposit_account(world.engine, checking.id, actor="dana@frontdesk")
    assert deposit_account_id(world.engine) == checking.id
    record_payment(world.engine, [(second.id, second.balance_minor)])
    world.run()
    chosen = next(p for p in postings(world.engine) if p.id != default.id)
    booked = world.quickbooks.record("Payment", str(chosen.remote_id))
    assert booked is not None and booked["DepositToAccountRef"]["value"] == checking.id
