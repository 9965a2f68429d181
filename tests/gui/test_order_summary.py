"""The Order Summary dialog, driven through its object names, against a real SQLite database
and the sandbox gateway over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QWidget,
)
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from app.core.money import Money
from app.core.payments import PaymentState
from app.core.storage.engine import session_scope
from app.core.storage.models import Invoice, Payment
from app.gui.context import AppContext
from app.gui.payments.order_summary import OrderSummaryDialog
from app.sandbox.gateway import GatewaySandbox
from tests.gui.conftest import wait_for_background_tasks
from tests.gui.payments_support import ORG_ID, PaymentWorld, build_world, stripe_only
from tests.integration.payments.gateways import StripeKit, start_kit


@pytest.fixture
def world(set_up_context: AppContext, gateway_key: str) -> Iterator[PaymentWorld]:
    with start_kit(gateway_key) as kit:
        yield build_world(set_up_context, kit)


def open_dialog(qtbot: QtBot, world: PaymentWorld, invoice_ids: list[int] | None = None
                ) -> OrderSummaryDialog:
    dialog = OrderSummaryDialog(world.context, ORG_ID, invoice_ids or world.invoice_ids)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.summary is not None, timeout=5000)
    return dialog


def child(dialog: QWidget, kind: type, name: str):  # type: ignore[no-untyped-def]
    widget = dialog.findChild(kind, name)
    assert widget is not None, name
    return widget


def type_amount(qtbot: QtBot, dialog: OrderSummaryDialog, text: str) -> None:
    amount = child(dialog, QLineEdit, "paymentAmount")
    amount.selectAll()
    qtbot.keyClicks(amount, text)
    qtbot.waitUntil(lambda: not dialog._recompute_timer.isActive(), timeout=2000)


def choose_method(dialog: OrderSummaryDialog, world: PaymentWorld, outcome: str) -> None:
    """Choose the saved test method whose charges end as ``outcome`` (by its row: two test
    cards can share a brand and last 4)."""
    combo = child(dialog, QComboBox, "paymentMethod")
    index = combo.findData(f"saved:{world.method(outcome).id}")
    assert index >= 0, outcome
    combo.setCurrentIndex(index)
    dialog.recompute()


def allocation(dialog: OrderSummaryDialog) -> dict[str, str]:
    table = child(dialog, QTableWidget, "allocationTable")
    return {table.item(r, 0).text(): table.item(r, 3).text() for r in range(table.rowCount())}


@stripe_only
def test_opens_with_the_full_balance_and_states_the_exact_total(
    qtbot: QtBot, world: PaymentWorld
) -> None:
    dialog = open_dialog(qtbot, world)

    assert dialog.objectName() == "orderSummaryDialog"
    assert child(dialog, QLineEdit, "paymentAmount").text() == "$1,750.49"
    assert allocation(dialog) == {"1045": "$1,200.00", "1046": "$450.50", "1047": "$99.99"}
    pay = child(dialog, QPushButton, "payButton")
    assert pay.text() == "Pay $1,750.49 (test mode)"
    assert pay.isEnabled()
    assert child(dialog, QLabel, "testModeBanner").isVisible()
    # Saved cards come first (default first), then the two other ways to pay.
    combo = child(dialog, QComboBox, "paymentMethod")
    texts = [combo.itemText(i) for i in range(combo.count())]
    assert "Visa •••• 4242" in texts[0]
    assert texts[-2:] == ["New card or bank account…", "Send a pay link…"]
    contact = child(dialog, QComboBox, "paymentContact")
    assert {contact.itemText(i) for i in range(contact.count())} == {
        "Dana Reyes <dana@acme.test>", "Sam Okafor <ap@acme.test>"
    }
    assert not child(dialog, QWidget, "surchargeLine").isVisible()
    table = dialog.allocation_table
    headers = [table.horizontalHeaderItem(c).text()  # type: ignore[union-attr]
               for c in range(table.columnCount())]
    assert all(headers) and headers[-1] == "After this payment"


@stripe_only
@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("5000", "That is more than the $1,750.49 owed on these invoices; it cannot be overpaid."),
        ("12.345", "USD amounts have at most 2 decimal places"),
        ("0", "Enter an amount greater than zero."),
        ("1.00", "Autotask only records payments of more than $1.00."),
        ("twelve", "“twelve” is not an amount"),
    ],
)
def test_validation_as_you_type_with_the_reason_next_to_the_amount(
    qtbot: QtBot, world: PaymentWorld, typed: str, message: str
) -> None:
    dialog = open_dialog(qtbot, world)
    type_amount(qtbot, dialog, typed)

    error = child(dialog, QLabel, "amountError")
    assert error.isVisible()
    assert error.text() == message
    pay = child(dialog, QPushButton, "payButton")
    assert not pay.isEnabled()
    assert pay.text() == "Pay (test mode)"

    type_amount(qtbot, dialog, "100")
    assert not error.isVisible()
    assert pay.isEnabled()
    assert pay.text() == "Pay $100.00 (test mode)"


@stripe_only
def test_a_partial_amount_goes_to_the_oldest_due_first_and_shares_can_be_edited(
    qtbot: QtBot, world: PaymentWorld
) -> None:
    dialog = open_dialog(qtbot, world)
    type_amount(qtbot, dialog, "1,300")
    assert allocation(dialog) == {"1045": "$1,200.00", "1046": "$100.00", "1047": "$0.00"}

    # Put $99.99 on the newest invoice; the rest of the $1,300 stays oldest due first.
    table = child(dialog, QTableWidget, "allocationTable")
    table.item(2, 3).setText("99.99")
    qtbot.waitUntil(lambda: allocation(dialog)["1047"] == "$99.99", timeout=2000)
    assert allocation(dialog) == {"1045": "$1,200.00", "1046": "$0.01", "1047": "$99.99"}

    # A share above the invoice's balance is refused next to that invoice.
    table.item(1, 3).setText("500")
    qtbot.waitUntil(lambda: "cannot be overpaid" in table.item(1, 4).text(), timeout=2000)
    assert table.item(1, 4).text() == (
        "Only $450.50 is owed on this invoice; it cannot be overpaid."
    )
    assert not child(dialog, QPushButton, "payButton").isEnabled()

    child(dialog, QPushButton, "fullBalanceButton").click()
    assert allocation(dialog)["1046"] == "$450.50"
    assert child(dialog, QPushButton, "payButton").isEnabled()


def test_pay_is_disabled_while_the_charge_runs_then_the_approved_result_shows(
    qtbot: QtBot, world: PaymentWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dialog = open_dialog(qtbot, world)
    type_amount(qtbot, dialog, "1,250.00")
    child(dialog, QLineEdit, "paymentMemo").setText("Cheque replaced by card")
    # The gateway answers slowly, so the running state can be seen.
    world.kit.slow_charges(1.0)

    pay = child(dialog, QPushButton, "payButton")
    qtbot.mouseClick(pay, Qt.MouseButton.LeftButton)

    assert dialog.running
    assert not pay.isEnabled()
    assert child(dialog, QWidget, "paymentProgress").isVisible()
    assert dialog.progress_bar.isVisible()
    assert not child(dialog, QLineEdit, "paymentAmount").isEnabled()
    assert not child(dialog, QComboBox, "paymentMethod").isEnabled()
    qtbot.mouseClick(pay, Qt.MouseButton.LeftButton)  # a second click does nothing
    dialog.pay()
    dialog.reject()  # and the dialog cannot be closed while the charge runs
    assert dialog.isVisible()

    result = child(dialog, QWidget, "paymentResult")
    qtbot.waitUntil(lambda: dialog.pages.currentWidget() is result, timeout=10_000)
    assert dialog.outcome is not None
    assert dialog.outcome.state is PaymentState.SUCCEEDED
    title = child(dialog, QLabel, "resultTitle").text()
    assert title == "Payment approved — $1,250.00 (test mode)"
    details = child(dialog, QLabel, "resultDetails").text()
    assert dialog.outcome.reference in details
    assert dialog.outcome.gateway_transaction_id in details
    assert world.summary() in details

    # Exactly one charge reached the gateway, for the exact total.
    charges = world.kit.charges(dialog.outcome.reference)
    assert len(charges) == 1
    assert world.kit.charged(charges[0]) == Money(125_000, "USD")
    with session_scope(world.context.engine) as s:
        assert s.scalar(select(Payment.memo)) == "Cheque replaced by card"
        balances = {
            str(number): int(balance)
            for number, balance in s.execute(
                select(Invoice.invoice_number, Invoice.balance_minor)
            )
        }
    assert balances == {"1045": 0, "1046": 40_050, "1047": 9_999}

    done = child(dialog, QPushButton, "doneButton")
    assert done.text() == "Done"
    assert child(dialog, QDialogButtonBox, "resultButtons").buttonRole(done) is (
        QDialogButtonBox.ButtonRole.AcceptRole)

    # The receipt saves as a PDF.
    target = tmp_path / "receipt.pdf"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(target), "PDF documents (*.pdf)")))
    child(dialog, QPushButton, "saveReceiptButton").click()
    qtbot.waitUntil(target.is_file, timeout=10_000)  # written whole by a worker
    assert target.read_bytes().startswith(b"%PDF")
    wait_for_background_tasks(qtbot)


def test_a_declined_card_shows_the_reason_and_another_method_can_be_tried(
    qtbot: QtBot, world: PaymentWorld
) -> None:
    dialog = open_dialog(qtbot, world, world.invoice_ids[:1])
    choose_method(dialog, world, "decline")
    qtbot.mouseClick(child(dialog, QPushButton, "payButton"), Qt.MouseButton.LeftButton)

    result = child(dialog, QWidget, "paymentResult")
    qtbot.waitUntil(lambda: dialog.pages.currentWidget() is result, timeout=10_000)
    assert child(dialog, QLabel, "resultTitle").text() == "Payment declined"
    message = child(dialog, QLabel, "resultMessage").text()
    assert world.kit.decline_reason in message
    assert message.endswith("Nothing was charged.")
    assert not child(dialog, QPushButton, "printReceiptButton").isVisible()
    again = child(dialog, QPushButton, "tryAnotherMethodButton")
    assert again.isVisible()
    # Try another method is the main button, Close dismisses, laid out by the platform's
    # rules like the approved result's Done.
    buttons = child(dialog, QDialogButtonBox, "resultButtons")
    close = child(dialog, QPushButton, "doneButton")
    assert close.text() == "Close"
    assert buttons.buttonRole(again) is QDialogButtonBox.ButtonRole.AcceptRole
    assert buttons.buttonRole(close) is QDialogButtonBox.ButtonRole.RejectRole

    qtbot.mouseClick(again, Qt.MouseButton.LeftButton)
    assert dialog.pages.currentWidget() is dialog.form_page
    wait_for_background_tasks(qtbot)
    choose_method(dialog, world, "approve")
    pay = child(dialog, QPushButton, "payButton")
    assert pay.isEnabled()
    assert pay.text() == "Pay $1,200.00 (test mode)"
    qtbot.mouseClick(pay, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.pages.currentWidget() is result, timeout=10_000)
    assert dialog.outcome is not None and dialog.outcome.state is PaymentState.SUCCEEDED
    with session_scope(world.context.engine) as s:
        states = sorted(s.scalars(select(Payment.state)))
    assert states == ["declined", "succeeded"]
    wait_for_background_tasks(qtbot)


@stripe_only
def test_an_invoice_that_cannot_be_paid_says_why_and_the_rest_can_be_paid(
    qtbot: QtBot, world: PaymentWorld
) -> None:
    with session_scope(world.context.engine) as s:
        invoice = s.get(Invoice, world.invoice_ids[0])
        assert invoice is not None
        invoice.is_voided = True
        invoice.status = "void"
        invoice.balance_minor = 0
    dialog = open_dialog(qtbot, world)

    table = child(dialog, QTableWidget, "allocationTable")
    assert table.item(0, 4).text() == "Invoice 1045 is void and cannot be paid."
    assert child(dialog, QLineEdit, "paymentAmount").text() == "$550.49"
    assert child(dialog, QPushButton, "payButton").text() == "Pay $550.49 (test mode)"


def test_without_a_gateway_pay_stays_disabled_and_says_what_to_do(
    qtbot: QtBot, set_up_context: AppContext
) -> None:
    from tests.gui.payments_support import seed_organization

    ids = seed_organization(set_up_context.engine)
    dialog = OrderSummaryDialog(set_up_context, ORG_ID, ids)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.summary is not None, timeout=5000)
    assert not child(dialog, QPushButton, "payButton").isEnabled()
    error = child(dialog, QLabel, "formError")
    assert error.isVisible()
    # The core's sentence as it is, saying what to do — nothing appended by the screen.
    assert error.text() == (
        "No payment gateway is connected yet. Run Setup… to connect your payment gateway.")


@stripe_only
def test_a_pay_link_is_recorded_when_the_client_completes_the_page(
    qtbot: QtBot, world: PaymentWorld
) -> None:
    from PySide6.QtGui import QGuiApplication

    from tests.integration.gateway.support import submit_card

    dialog = open_dialog(qtbot, world, world.invoice_ids[1:2])
    dialog._poll_timer.setInterval(200)
    combo = child(dialog, QComboBox, "paymentMethod")
    combo.setCurrentIndex(combo.findText("Send a pay link…"))
    pay = child(dialog, QPushButton, "payButton")
    qtbot.waitUntil(lambda: pay.isEnabled(), timeout=2000)
    assert pay.text() == "Create pay link for $450.50 (test mode)"
    qtbot.mouseClick(pay, Qt.MouseButton.LeftButton)

    link = child(dialog, QLineEdit, "payLink")
    qtbot.waitUntil(lambda: link.isVisible() and bool(link.text()), timeout=10_000)
    assert child(dialog, QLabel, "resultTitle").text() == "Pay link ready — $450.50"
    child(dialog, QPushButton, "copyLinkButton").click()
    assert QGuiApplication.clipboard().text() == link.text()

    # The client pays on the secure page; the dialog notices and shows the outcome.
    assert submit_card(link.text(), "4242424242424242").completed
    qtbot.waitUntil(
        lambda: dialog.outcome is not None and dialog.outcome.state is PaymentState.SUCCEEDED,
        timeout=10_000,
    )
    assert child(dialog, QLabel, "resultTitle").text() == "Payment approved — $450.50 (test mode)"
    with session_scope(world.context.engine) as s:
        balance = s.scalar(select(Invoice.balance_minor).where(Invoice.invoice_number == "1046"))
    assert balance == 0
    wait_for_background_tasks(qtbot)


@pytest.mark.parametrize("gateway_key", ["authorizenet"])
def test_no_pay_link_where_the_gateway_page_opens_only_on_this_computer(
    qtbot: QtBot, world: PaymentWorld
) -> None:
    dialog = open_dialog(qtbot, world, world.invoice_ids[1:2])
    combo = child(dialog, QComboBox, "paymentMethod")
    link = combo.findData("link")
    assert combo.itemText(link) == "Send a pay link… (not available)"
    assert not combo.model().item(link).isEnabled()  # type: ignore[attr-defined]
    reason = combo.itemData(link, Qt.ItemDataRole.ToolTipRole)
    assert "Authorize.Net's payment form opens only from PayDesk on this computer" in reason
    assert "New card or bank account…" in reason
    # The secure page on this computer is still there for a card taken on the phone.
    assert combo.model().item(combo.findData("new")).isEnabled()  # type: ignore[attr-defined]


def test_a_new_card_on_the_secure_page_pays_and_is_saved(
    qtbot: QtBot, world: PaymentWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtGui import QDesktopServices

    opened: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl",
                        staticmethod(lambda url: opened.append(url.toString()) or True))
    dialog = open_dialog(qtbot, world, world.invoice_ids[2:3])
    dialog._poll_timer.setInterval(200)
    combo = child(dialog, QComboBox, "paymentMethod")
    combo.setCurrentIndex(combo.findText("New card or bank account…"))
    pay = child(dialog, QPushButton, "payButton")
    qtbot.waitUntil(lambda: pay.isEnabled(), timeout=2000)
    assert pay.text() == "Pay $99.99 on the secure page (test mode)"
    qtbot.mouseClick(pay, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(opened), timeout=10_000)
    assert dialog.running and not pay.isEnabled()
    assert child(dialog, QPushButton, "cancelButton").text() == "Stop waiting"

    assert world.kit.submit_card(opened[0], "approve_mastercard")
    qtbot.waitUntil(lambda: dialog.outcome is not None, timeout=10_000)
    assert dialog.outcome is not None and dialog.outcome.state is PaymentState.SUCCEEDED
    assert dialog.outcome.method_summary == world.summary("approve_mastercard")
    wait_for_background_tasks(qtbot)


@stripe_only
def test_a_credit_card_surcharge_is_its_own_line_with_its_disclosure(
    qtbot: QtBot, world: PaymentWorld
) -> None:
    from decimal import Decimal

    from app.core.payments import SurchargeSettings, save_surcharge_settings

    save_surcharge_settings(world.context.engine,
                            SurchargeSettings(enabled=True, percent=Decimal("3")), actor="tests")
    dialog = open_dialog(qtbot, world, world.invoice_ids[:1])

    line = child(dialog, QWidget, "surchargeLine")
    assert line.isVisible()
    assert child(dialog, QLabel, "surchargeValue").text() == "$36.00"
    assert "3%" in child(dialog, QLabel, "surchargeDisclosure").text()
    assert child(dialog, QLabel, "totalValue").text() == "$1,236.00"
    assert child(dialog, QPushButton, "payButton").text() == "Pay $1,236.00 (test mode)"

    # Never on a pay link: the client picks the method on the gateway's page.
    combo = child(dialog, QComboBox, "paymentMethod")
    combo.setCurrentIndex(combo.findText("Send a pay link…"))
    dialog.recompute()
    assert not line.isVisible()
    assert child(dialog, QPushButton, "payButton").text() == (
        "Create pay link for $1,200.00 (test mode)"
    )


def test_in_live_mode_the_button_states_only_the_total(
    qtbot: QtBot, set_up_context: AppContext
) -> None:
    # Stripe's live keys; Authorize.Net's production endpoint is no stand-in's to play.
    with GatewaySandbox(secret_key="sk_live_paydesktests0001") as sandbox:
        world = build_world(set_up_context, StripeKit(sandbox))
        dialog = open_dialog(qtbot, world, world.invoice_ids[1:2])
        assert child(dialog, QPushButton, "payButton").text() == "Pay $450.50"
        assert not child(dialog, QLabel, "testModeBanner").isVisible()
        wait_for_background_tasks(qtbot)


def test_an_invoice_paid_meanwhile_at_another_seat_is_refused_with_a_clear_message(
    qtbot: QtBot, world: PaymentWorld
) -> None:
    from tests.gui.payments_support import pay

    dialog = open_dialog(qtbot, world, world.invoice_ids[:1])
    pay(world, world.invoice_ids[:1])  # another seat pays the same invoice first
    qtbot.mouseClick(child(dialog, QPushButton, "payButton"), Qt.MouseButton.LeftButton)
    wait_for_background_tasks(qtbot)

    assert dialog.pages.currentWidget() is dialog.form_page
    error = child(dialog, QLabel, "formError")
    assert error.isVisible()
    assert "1045" in error.text()
    # The dialog read the invoices again: nothing is owed any more, so Pay stays off.
    assert not child(dialog, QPushButton, "payButton").isEnabled()
    with session_scope(world.context.engine) as s:
        assert sorted(s.scalars(select(Payment.state))) == ["succeeded"]
