"""Transactions (global and per organization), Retry and Dismiss on failed postings, and a
payment's detail with its refund — against real SQLite and the sandbox gateway over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit, QMessageBox, QPushButton, QTableView, QTableWidget
from pytestqt.qtbot import QtBot
from sqlalchemy import select, update

from app.core.money import Money
from app.core.payments import PostingStatus, TransactionFilter
from app.core.storage.engine import session_scope
from app.core.storage.models import Invoice, Payment, Posting
from app.gui.context import AppContext
from app.gui.payments.detail import PaymentDetailDialog, RefundDialog
from app.gui.payments.transactions import TransactionsView
from tests.gui.conftest import wait_for_background_tasks
from tests.gui.payments_support import ORG_ID, PaymentWorld, build_world, pay, stripe_only
from tests.integration.payments.gateways import start_kit


@pytest.fixture
def world(set_up_context: AppContext, gateway_key: str) -> Iterator[PaymentWorld]:
    with start_kit(gateway_key) as kit:
        yield build_world(set_up_context, kit)


def shown(view: TransactionsView) -> list[dict[str, str]]:
    model = view.model
    titles = [c.title for c in model.columns()]
    return [
        {titles[c]: model.index(r, c).data() for c in range(model.columnCount())}
        for r in range(model.rowCount())
    ]


def make_view(qtbot: QtBot, context: AppContext, **kwargs: object) -> TransactionsView:
    view = TransactionsView(context, **kwargs)  # type: ignore[arg-type]
    qtbot.addWidget(view)
    view.show()
    wait_for_background_tasks(qtbot)
    return view


def test_transactions_list_payments_newest_first_with_their_status(
    qtbot: QtBot, world: PaymentWorld
) -> None:
    first = pay(world, world.invoice_ids[:1])
    declined = pay(world, world.invoice_ids[1:2], "decline")
    view = make_view(qtbot, world.context)

    assert view.table.objectName() == "transactionsTable"
    rows = shown(view)
    assert [r["Status"] for r in rows] == ["Declined", "Approved"]
    with session_scope(world.context.engine) as s:
        references = dict(s.execute(select(Payment.id, Payment.reference)).all())
        transaction_id = s.scalar(select(Payment.gateway_transaction_id)
                                  .where(Payment.id == first))
    # Taken with the sandbox's test keys: the reference says so in words.
    assert rows[1]["Reference"] == f"{references[first]} (test)"
    assert rows[0]["Reference"] == f"{references[declined]} (test)"
    assert rows[1]["Organization"] == "Acme Dental Group"
    assert rows[1]["Invoices"] == "1045"
    assert rows[1]["Method"] == world.summary()
    assert rows[1]["Amount"] == "$1,200.00"
    assert rows[1]["Surcharge"] == "$0.00"  # zero reads the same everywhere
    assert transaction_id and rows[1]["Gateway transaction ID"] == transaction_id
    assert rows[1]["Posting"] == "Waiting to post"
    assert rows[0]["Posting"] == ""
    # Amounts line up on the right like a ledger.
    amount_column = [c.title for c in view.model.columns()].index("Amount")
    alignment = view.model.index(0, amount_column).data(Qt.ItemDataRole.TextAlignmentRole)
    assert alignment & Qt.AlignmentFlag.AlignRight


@stripe_only
def test_pending_and_failing_filters_and_dismiss(
    qtbot: QtBot, world: PaymentWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    paid = pay(world, world.invoice_ids[:1])
    pay(world, world.invoice_ids[1:2])
    # Autotask refused the first payment's note (what the outbox records after a failure).
    with session_scope(world.context.engine) as s:
        s.execute(update(Posting).where(Posting.payment_id == paid).values(
            state="failed", attempts=8,
            last_error="Autotask refused the note: the company is inactive."))
    view = make_view(qtbot, world.context)
    assert not view.findChild(QPushButton, "retryPostingButton").isEnabled()

    qtbot.mouseClick(view.filter_buttons[TransactionFilter.PENDING], Qt.MouseButton.LeftButton)
    wait_for_background_tasks(qtbot)
    assert view.model.rowCount() == 0
    assert view.empty.title() == "Nothing pending"

    qtbot.mouseClick(view.filter_buttons[TransactionFilter.FAILING_TO_POST],
                     Qt.MouseButton.LeftButton)
    wait_for_background_tasks(qtbot)
    assert [r["Posting"] for r in shown(view)] == ["Failing to post"]
    view.table.selectRow(0)
    retry = view.findChild(QPushButton, "retryPostingButton")
    dismiss = view.findChild(QPushButton, "dismissPostingButton")
    assert retry.isEnabled() and dismiss.isEnabled()

    # Retry without an Autotask connection says what to do instead of failing silently.
    qtbot.mouseClick(retry, Qt.MouseButton.LeftButton)
    wait_for_background_tasks(qtbot)
    assert "not connected to Autotask" in view.status_label.text()

    # Dismiss asks first; Cancel changes nothing.
    monkeypatch.setattr(QMessageBox, "question",
                        staticmethod(lambda *a, **k: QMessageBox.StandardButton.Cancel))
    qtbot.mouseClick(dismiss, Qt.MouseButton.LeftButton)
    wait_for_background_tasks(qtbot)
    assert view.model.rowCount() == 1

    # Dismiss → Yes works without an Autotask connection: the posting stops, and stays listed
    # as dismissed.
    monkeypatch.setattr(QMessageBox, "question",
                        staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes))
    qtbot.mouseClick(dismiss, Qt.MouseButton.LeftButton)
    wait_for_background_tasks(qtbot)
    assert view.status_label.text() == "Dismissed: PayDesk will not post this to Autotask."
    assert view.model.rowCount() == 0  # no longer failing
    qtbot.mouseClick(view.filter_buttons[TransactionFilter.ALL], Qt.MouseButton.LeftButton)
    wait_for_background_tasks(qtbot)
    assert [r["Posting"] for r in shown(view)] == ["Waiting to post", "Dismissed"]
    with session_scope(world.context.engine) as s:
        states = set(s.scalars(select(Posting.state).where(Posting.payment_id == paid)))
    assert states == {"dismissed"}


@stripe_only
def test_the_organization_history_shows_only_its_payments(
    qtbot: QtBot, world: PaymentWorld
) -> None:
    from tests.gui.payments_support import seed_organization

    pay(world, world.invoice_ids[:1])
    seed_organization(world.context.engine, organization_id=2002, name="Other Org",
                      invoices=(("2001", 5_000, date(2026, 12, 31)),))
    view = make_view(qtbot, world.context, organization_id=ORG_ID, compact=True)
    assert view.objectName() == "organizationPayments"
    titles = [c.title for c in view.model.columns()]
    assert "Organization" not in titles
    assert len(shown(view)) == 1
    empty = make_view(qtbot, world.context, organization_id=2002, compact=True)
    assert empty.model.rowCount() == 0
    assert empty.empty.title() == "No payments yet"


def test_detail_shows_the_history_and_a_partial_refund_reopens_the_invoice(
    qtbot: QtBot, world: PaymentWorld
) -> None:
    payment_id = pay(world, world.invoice_ids[:2])
    world.kit.settle_batch()  # a day later: Authorize.Net refunds part only once settled
    dialog = PaymentDetailDialog(world.context, payment_id)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.detail is not None, timeout=5000)
    assert dialog.title.text().startswith("Payment PD-")
    assert dialog.total_label.text() == "$1,650.50"
    allocations = dialog.findChild(QTableWidget, "paymentAllocations")
    assert [allocations.item(r, 0).text() for r in range(allocations.rowCount())] == [
        "1045", "1046"]
    history = dialog.findChild(QTableWidget, "paymentHistory")
    texts = [history.item(r, 2).text() for r in range(history.rowCount())]
    assert texts[0].startswith("Payment recorded, before contacting the gateway")
    assert any(t.startswith("Approved by the gateway") for t in texts)

    refund = dialog.findChild(QPushButton, "refundButton")
    assert refund.isEnabled()
    qtbot.mouseClick(refund, Qt.MouseButton.LeftButton)
    refund_dialog = dialog.refund_dialog
    assert isinstance(refund_dialog, RefundDialog)
    confirm = refund_dialog.findChild(QPushButton, "confirmRefundButton")
    assert not confirm.isEnabled()  # a reason is required
    refund_dialog.partial_radio.setChecked(True)
    amount = refund_dialog.findChild(QLineEdit, "refundAmount")
    assert amount.text() == "$1,650.50"  # all that is left, in money, to change
    amount.setText("2000")
    error = refund_dialog.findChild(QLabel, "refundAmountError")
    assert error.text() == "At most $1,650.50 is left to refund on this payment."
    amount.setText("100")
    amount.editingFinished.emit()
    assert amount.text() == "$100.00"
    refund_dialog.findChild(type(refund_dialog.reason_edit), "refundReason").setPlainText(
        "Billed twice for the backup service")
    assert confirm.isEnabled()
    assert confirm.text() == "Refund $100.00 (test mode)"
    qtbot.mouseClick(confirm, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.detail is not None and bool(dialog.detail.refunds),
                    timeout=10_000)
    wait_for_background_tasks(qtbot)
    assert dialog.detail is not None
    assert dialog.detail.state.value == "partially_refunded"
    assert dialog.notice.isVisible()
    assert "$100.00" in dialog.notice.text()
    with session_scope(world.context.engine) as s:
        balance = s.scalar(select(Invoice.balance_minor).where(Invoice.invoice_number == "1046"))
    assert balance == 10_000  # the newest-due invoice reopens first
    wait_for_background_tasks(qtbot)


@pytest.mark.parametrize("gateway_key", ["authorizenet"])
def test_part_of_an_unsettled_payment_cannot_be_refunded_and_the_screen_says_when(
    qtbot: QtBot, world: PaymentWorld
) -> None:
    payment_id = pay(world, world.invoice_ids[:1])  # not settled yet: the same day
    dialog = PaymentDetailDialog(world.context, payment_id)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.detail is not None, timeout=5000)
    qtbot.mouseClick(dialog.findChild(QPushButton, "refundButton"), Qt.MouseButton.LeftButton)
    refund_dialog = dialog.refund_dialog
    assert isinstance(refund_dialog, RefundDialog)
    refund_dialog.partial_radio.setChecked(True)
    amount = refund_dialog.findChild(QLineEdit, "refundAmount")
    amount.setText("100")
    amount.editingFinished.emit()
    refund_dialog.findChild(type(refund_dialog.reason_edit), "refundReason").setPlainText(
        "Billed twice for the backup service")
    qtbot.mouseClick(refund_dialog.findChild(QPushButton, "confirmRefundButton"),
                     Qt.MouseButton.LeftButton)
    wait_for_background_tasks(qtbot)
    # Refused with the rule and what to do, in words that name what this dialog offers.
    message = refund_dialog.findChild(QLabel, "refundMessage").text()
    assert message.startswith("This payment has not settled yet")
    assert "Refund the whole amount, or refund part of it after it settles" in message
    with session_scope(world.context.engine) as s:
        charge_id = s.scalar(select(Payment.gateway_transaction_id)
                             .where(Payment.id == payment_id))
    assert charge_id and world.kit.refunded(charge_id) == Money(0, "USD")
    assert dialog.detail is not None and dialog.detail.state.value == "succeeded"

    # The whole amount can be given back the same day (Authorize.Net voids the charge).
    refund_dialog.full_radio.setChecked(True)
    qtbot.mouseClick(refund_dialog.findChild(QPushButton, "confirmRefundButton"),
                     Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.detail is not None
                    and dialog.detail.state.value == "refunded", timeout=10_000)
    assert world.kit.refunded(charge_id) == Money(120_000, "USD")
    wait_for_background_tasks(qtbot)


@stripe_only
def test_opening_a_row_opens_its_detail(qtbot: QtBot, world: PaymentWorld) -> None:
    pay(world, world.invoice_ids[:1])
    view = make_view(qtbot, world.context)
    view.table.selectRow(0)
    qtbot.mouseClick(view.findChild(QPushButton, "openPaymentButton"), Qt.MouseButton.LeftButton)
    dialog = view.detail_dialog
    qtbot.waitUntil(lambda: dialog.detail is not None, timeout=5000)
    assert dialog.detail is not None and dialog.detail.posting_status is PostingStatus.PENDING
    dialog.close()
    assert isinstance(view.table, QTableView)


def test_retry_posts_a_failed_note_to_autotask(
    qtbot: QtBot, set_up_context: AppContext
) -> None:
    from app.core.connections import (
        AutotaskConnection,
        load_autotask_client,
        save_autotask_connection,
        save_autotask_secret,
    )
    from app.core.posting import PostingOutbox
    from app.core.posting.autotask_channel import AutotaskDeliverer
    from app.sandbox.autotask.server import AutotaskSandbox

    # Stripe only: retrying a note to Autotask is the same for every gateway.
    with AutotaskSandbox(companies=2, contacts=2, contracts=1, tickets=1, invoices=2) as autotask, \
            start_kit("stripe") as kit:
        company = autotask.create_company(companyName="Acme Dental Group")
        engine = set_up_context.engine
        c = autotask.credentials
        save_autotask_connection(engine, AutotaskConnection(
            username=c.username, integration_code=c.integration_code, discovery_url=autotask.url))
        save_autotask_secret(set_up_context.credentials, c.secret)
        world = build_world(set_up_context, kit, organization_id=int(company["id"]))
        # A partial payment: its only posting is the note on the organization.
        payment_id = pay(world, world.invoice_ids[:1], amount="500.00")
        # Autotask keeps failing while the outbox delivers (the client retries the note
        # look-up, a read, a few times): the note waits for a person's retry.
        outage = autotask.fail_next(times=100, status=500, path_contains="Notes")
        client = load_autotask_client(engine, set_up_context.credentials)
        assert client is not None
        PostingOutbox(engine, {"autotask": AutotaskDeliverer(engine, client)}).deliver_due()
        client.close()
        outage.times = 0  # Autotask is back.

        view = make_view(qtbot, set_up_context)
        assert [r["Posting"] for r in shown(view)] == ["Failing to post"]
        tooltip_column = [c.title for c in view.model.columns()].index("Posting")
        assert view.model.index(0, tooltip_column).data(Qt.ItemDataRole.ToolTipRole)
        view.table.selectRow(0)
        qtbot.mouseClick(view.findChild(QPushButton, "retryPostingButton"),
                         Qt.MouseButton.LeftButton)
        wait_for_background_tasks(qtbot, 15_000)
        assert view.status_label.text() == "Posted to Autotask."
        wait_for_background_tasks(qtbot)
        assert [r["Posting"] for r in shown(view)] == ["Posted"]
        with session_scope(engine) as s:
            reference = s.scalar(select(Payment.reference).where(Payment.id == payment_id))
        assert any(reference in str(note.get("description", "")) or
                   reference in str(note.get("title", "")) for note in autotask.notes())
        assert not view.findChild(QPushButton, "retryPostingButton").isEnabled()


@stripe_only
def test_a_payment_finished_by_recovery_is_told_in_the_row_and_the_status_bar(
    qtbot: QtBot, world: PaymentWorld
) -> None:
    from PySide6.QtWidgets import QMainWindow

    from app.core.clock import utcnow
    from app.core.payments.audit import RECOVERED_ACTION, audit
    from app.core.payments.maintenance import MaintenanceReport
    from app.core.payments.pipeline import PaymentOutcome, RecoveryReport
    from app.core.payments.states import PaymentState

    payment_id = pay(world, world.invoice_ids[:1])
    why = "The gateway had taken this payment before PayDesk stopped."
    with session_scope(world.context.engine) as s:
        audit(s, actor="lee@frontdesk", action=RECOVERED_ACTION, subject_type="payment",
              subject_id=payment_id, details={"why": why})
        payment = s.get(Payment, payment_id)
        assert payment is not None
        reference = payment.reference
    window = QMainWindow()
    qtbot.addWidget(window)
    view = TransactionsView(world.context)
    window.setCentralWidget(view)
    window.show()
    wait_for_background_tasks(qtbot)

    row = shown(view)[0]
    assert row["Status"] == "Approved (recovered)"
    status_column = [c.title for c in view.model.columns()].index("Status")
    tip = view.model.index(0, status_column).data(Qt.ItemDataRole.ToolTipRole)
    assert "Completed by PayDesk on" in tip and why in tip

    from app.core.money import Money

    usd = Money(120000, "USD")
    outcome = PaymentOutcome(payment_id, reference, PaymentState.SUCCEEDED, usd, Money(0, "USD"),
                             usd, None, None, True, why, completed_at=utcnow())
    view._on_upkeep_round(MaintenanceReport(recovery=RecoveryReport(resolved=(outcome,)),
                                            delivery=None))
    message = window.statusBar().currentMessage()
    assert f"PayDesk finished payment {reference}" in message
    assert "See Transactions" in message
