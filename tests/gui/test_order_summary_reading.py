"""What a bookkeeper reads in the Order Summary: the method chosen matches the Pay button,
the amount on Pay is never cut, the title names the invoice, the table fits its rows, a
partial payment says what is still owed, and a browser that does not open leaves a way on.

Real SQLite and the sandbox gateway over HTTP, as in ``test_order_summary``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QPushButton, QWidget
from pytestqt.qtbot import QtBot

from app.core.payments import PaymentState
from app.gui.context import AppContext
from tests.gui.conftest import wait_for_background_tasks
from tests.gui.payments_support import PaymentWorld, build_world, stripe_only
from tests.gui.test_order_summary import child, open_dialog, type_amount
from tests.integration.payments.gateways import start_kit


@pytest.fixture
def world(set_up_context: AppContext) -> Iterator[PaymentWorld]:
    # Stripe only: how the dialog reads before paying is the same for every gateway.
    with start_kit("stripe") as kit:
        yield build_world(set_up_context, kit)


@pytest.fixture
def world_without_methods(set_up_context: AppContext, gateway_key: str
                          ) -> Iterator[PaymentWorld]:
    with start_kit(gateway_key) as kit:
        yield build_world(set_up_context, kit, ())


@stripe_only
def test_without_a_saved_method_pay_with_shows_the_secure_page_the_button_names(
    qtbot: QtBot, world_without_methods: PaymentWorld
) -> None:
    dialog = open_dialog(qtbot, world_without_methods)

    combo = child(dialog, QComboBox, "paymentMethod")
    assert combo.currentIndex() >= 0
    assert combo.currentText() == "New card or bank account…"
    assert child(dialog, QPushButton, "payButton").text() == (
        "Pay $1,750.49 on the secure page (test mode)")


@stripe_only
def test_at_its_narrowest_the_pay_button_shows_its_whole_text(
    qtbot: QtBot, world_without_methods: PaymentWorld
) -> None:
    dialog = open_dialog(qtbot, world_without_methods)
    # Large text (a desktop set to a bigger font, or 200 % scaling) makes the text longer.
    font = dialog.font()
    font.setPointSizeF(font.pointSizeF() * 1.8)
    dialog.setFont(font)
    dialog.recompute()
    pay = child(dialog, QPushButton, "payButton")
    assert "on the secure page" in pay.text()

    dialog.resize(dialog.minimumWidth(), dialog.height())
    qtbot.waitUntil(lambda: dialog.width() == dialog.minimumWidth(), timeout=2000)
    QGuiApplication.processEvents()
    assert pay.width() >= pay.sizeHint().width()
    assert pay.fontMetrics().horizontalAdvance(pay.text()) < pay.width()


def test_the_title_names_one_invoice_or_counts_several(
    qtbot: QtBot, world: PaymentWorld
) -> None:
    one = open_dialog(qtbot, world, world.invoice_ids[1:2])
    assert one.windowTitle() == "Pay invoice 1046 — Acme Dental Group"
    assert child(one, QLabel, "dialogHeading").text() == one.windowTitle()

    three = open_dialog(qtbot, world)
    assert three.windowTitle() == "Pay 3 invoices — Acme Dental Group"


@pytest.mark.parametrize("count", [1, 3])
def test_the_invoice_table_is_as_tall_as_its_rows(
    qtbot: QtBot, world: PaymentWorld, count: int
) -> None:
    dialog = open_dialog(qtbot, world, world.invoice_ids[:count])
    table = dialog.allocation_table
    rows = sum(table.rowHeight(r) for r in range(table.rowCount()))
    header = table.horizontalHeader().height()
    # No empty band under the last row, and no scrolling to see the rows.
    assert table.height() - header - rows <= 2 * table.frameWidth() + 4
    assert not table.verticalScrollBar().isVisible()
    # A taller window does not stretch the table into empty rows.
    before = table.height()
    dialog.resize(dialog.width(), dialog.height() + 300)
    QGuiApplication.processEvents()
    assert table.height() == before


def test_a_partial_payment_says_what_is_still_owed(
    qtbot: QtBot, world: PaymentWorld
) -> None:
    dialog = open_dialog(qtbot, world, world.invoice_ids[:2])
    type_amount(qtbot, dialog, "500")
    qtbot.mouseClick(child(dialog, QPushButton, "payButton"), Qt.MouseButton.LeftButton)
    result = child(dialog, QWidget, "paymentResult")
    qtbot.waitUntil(lambda: dialog.pages.currentWidget() is result, timeout=10_000)
    assert dialog.outcome is not None and dialog.outcome.state is PaymentState.SUCCEEDED

    owed = child(dialog, QLabel, "stillOwed")
    assert owed.isVisible()
    # $500 went to 1045 (due first): $700.00 left there, and all of 1046's $450.50.
    assert owed.text() == "$1,150.50 is still owed on invoices 1045, 1046."
    wait_for_background_tasks(qtbot)


def test_a_full_payment_does_not_mention_anything_owed(
    qtbot: QtBot, world: PaymentWorld
) -> None:
    dialog = open_dialog(qtbot, world, world.invoice_ids[2:3])
    qtbot.mouseClick(child(dialog, QPushButton, "payButton"), Qt.MouseButton.LeftButton)
    result = child(dialog, QWidget, "paymentResult")
    qtbot.waitUntil(lambda: dialog.pages.currentWidget() is result, timeout=10_000)
    assert not child(dialog, QLabel, "stillOwed").isVisible()
    wait_for_background_tasks(qtbot)


def test_too_many_decimals_and_too_much_are_both_said(
    qtbot: QtBot, world: PaymentWorld
) -> None:
    dialog = open_dialog(qtbot, world)
    type_amount(qtbot, dialog, "25,000.005")
    error = child(dialog, QLabel, "amountError")
    assert error.text() == (
        "USD amounts have at most 2 decimal places. It is also more than the $1,750.49 "
        "owed on these invoices; it cannot be overpaid.")
    assert not child(dialog, QPushButton, "payButton").isEnabled()


def test_when_the_browser_does_not_open_the_address_is_shown_with_copy_and_open_again(
    qtbot: QtBot, world_without_methods: PaymentWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser_works = [False]
    opened: list[str] = []

    def open_url(url):  # type: ignore[no-untyped-def]
        opened.append(url.toString())
        return browser_works[0]

    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(open_url))
    dialog = open_dialog(qtbot, world_without_methods, world_without_methods.invoice_ids[2:3])
    dialog._poll_timer.setInterval(60_000)
    qtbot.mouseClick(child(dialog, QPushButton, "payButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(opened), timeout=10_000)

    status = child(dialog, QLabel, "securePageStatus")
    address = child(dialog, QLineEdit, "securePageAddress")
    assert address.isVisible() and address.text() == opened[0]
    everything = " ".join(label.text() for label in dialog.findChildren(QLabel)
                          if label.isVisible())
    assert "open in your browser" not in everything
    assert "could not open your browser" in status.text()
    # The address is for the client only where the gateway's page opens anywhere.
    shareable = world_without_methods.kit.shareable_pages
    assert ("send it to the client" in status.text()) is shareable

    child(dialog, QPushButton, "copySecurePageButton").click()
    assert QGuiApplication.clipboard().text() == opened[0]

    browser_works[0] = True
    child(dialog, QPushButton, "openSecurePageButton").click()
    assert opened == [opened[0], opened[0]]
    assert status.text() == "The secure page is open in your browser."

    child(dialog, QPushButton, "cancelButton").click()  # Stop waiting
    qtbot.waitUntil(lambda: not dialog.running, timeout=10_000)
    assert not address.isVisible()
    error = child(dialog, QLabel, "formError")
    if world_without_methods.kit.key == "authorizenet":
        # Its form cannot be withdrawn: the dialog says so, and how to avoid paying twice.
        assert error.text().startswith("Stopped waiting. The gateway keeps its secure page "
                                       "usable until ")
        assert "close that page in your browser first" in error.text()
    else:
        assert error.text().startswith("The secure page was closed; nothing was charged.")
    assert dialog.pages.currentWidget() is dialog.form_page
    wait_for_background_tasks(qtbot)

