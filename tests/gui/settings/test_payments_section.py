"""Settings › Payments: surcharge rules set on the screen change the Order Summary as the rules
say — the percentage on credit cards, nothing where the MSP's list forbids it, nothing when
off — with a real database and the sandbox gateway; and what a bookkeeper types wrong is
explained, not stored."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget
from pytestqt.qtbot import QtBot
from sqlalchemy import update

from app.core.config import setting_history
from app.core.payments import load_surcharge_settings
from app.core.storage.engine import session_scope
from app.core.storage.models import Organization, PicklistValue
from app.gui.context import AppContext
from app.gui.payments.order_summary import OrderSummaryDialog
from app.gui.settings import SettingsArea
from app.gui.settings.payments_section import PaymentsSection
from tests.gui.conftest import wait_for_background_tasks
from tests.gui.payments_support import ORG_ID, PaymentWorld, build_world
from tests.integration.payments.gateways import start_kit

_KEEP: list[SettingsArea] = []


@pytest.fixture(autouse=True)
def _release_areas() -> Iterator[None]:
    yield
    _KEEP.clear()


@pytest.fixture
def world(set_up_context: AppContext) -> Iterator[PaymentWorld]:
    # Stripe only: surcharge settings and the order summary they change take no payment.
    with start_kit("stripe") as kit:
        world = build_world(set_up_context, kit)
        with session_scope(set_up_context.engine) as s:
            s.add(PicklistValue(entity="Companies", field="countryID", value="237",
                                label="United States", is_active=True))
            s.execute(update(Organization).where(Organization.id == ORG_ID)
                      .values(state="OR", country="237"))
        yield world


def _section(qtbot: QtBot, context: AppContext) -> PaymentsSection:
    area = SettingsArea(context)
    qtbot.addWidget(area)
    _KEEP.append(area)  # the area owns the page: keep it alive for the test
    area.resize(1100, 800)
    area.show()
    page = area.show_section("payments")
    assert isinstance(page, PaymentsSection)
    qtbot.waitUntil(lambda: page._has_stored, timeout=10_000)
    wait_for_background_tasks(qtbot)
    return page


def _save(qtbot: QtBot, page: PaymentsSection) -> None:
    assert page.save_button.isEnabled()
    with qtbot.waitSignal(page.saved, timeout=10_000):
        page.save_button.click()
    qtbot.waitUntil(lambda: not page._busy, timeout=10_000)
    wait_for_background_tasks(qtbot)


def _region_item(page: PaymentsSection, code: str):  # type: ignore[no-untyped-def]
    return next(page.regions.item(r) for r in range(page.regions.count())
                if page.regions.item(r).data(Qt.ItemDataRole.UserRole) == code)


def _order_summary(qtbot: QtBot, world: PaymentWorld) -> OrderSummaryDialog:
    dialog = OrderSummaryDialog(world.context, ORG_ID, world.invoice_ids[:1])  # $1,200.00
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.summary is not None, timeout=10_000)
    return dialog


def _text(dialog: QWidget, name: str) -> str:
    label = dialog.findChild(QLabel, name)
    assert label is not None, name
    return label.text()


def _surcharge_shown(dialog: OrderSummaryDialog) -> bool:
    line = dialog.findChild(QWidget, "surchargeLine")
    assert line is not None
    return line.isVisible()


def test_surcharge_rules_set_on_the_screen_change_the_order_summary(
    qtbot: QtBot, world: PaymentWorld
) -> None:
    context = world.context
    page = _section(qtbot, context)
    assert not page.enabled.isChecked()
    assert "Off: card payments are charged exactly" in page.example.text()
    dialog = _order_summary(qtbot, world)
    assert not _surcharge_shown(dialog) and _text(dialog, "totalValue") == "$1,200.00"
    dialog.close()

    # Switched on at 2.5 %: a credit card pays the surcharge, with its disclosure.
    page.enabled.setChecked(True)
    page.percent.setText("2.5")
    assert page.example.text() == (
        "Example: a $1,000.00 credit card payment is charged $1,025.00 — a surcharge of "
        "$25.00.")
    _save(qtbot, page)
    dialog = _order_summary(qtbot, world)
    assert _surcharge_shown(dialog)
    assert _text(dialog, "surchargeValue") == "$30.00"
    assert _text(dialog, "totalValue") == "$1,230.00"
    assert "2.5%" in _text(dialog, "surchargeDisclosure")
    dialog.close()

    # The client's Autotask address moves to Connecticut, on the starting list: no surcharge.
    with session_scope(context.engine) as s:
        s.execute(update(Organization).where(Organization.id == ORG_ID).values(state="CT"))
    dialog = _order_summary(qtbot, world)
    assert not _surcharge_shown(dialog) and _text(dialog, "totalValue") == "$1,200.00"
    assert "not allowed for clients in Connecticut" in dialog.warning_label.text()
    dialog.close()

    # The MSP takes Connecticut off its list: the surcharge is added again.
    _region_item(page, "US-CT").setCheckState(Qt.CheckState.Unchecked)
    assert "Connecticut" not in page.regions_summary.text()
    _save(qtbot, page)
    assert "US-CT" not in load_surcharge_settings(context.engine).not_allowed_in
    dialog = _order_summary(qtbot, world)
    assert _surcharge_shown(dialog) and _text(dialog, "totalValue") == "$1,230.00"
    dialog.close()

    # Switched off again: nothing is added anywhere.
    page.enabled.setChecked(False)
    _save(qtbot, page)
    dialog = _order_summary(qtbot, world)
    assert not _surcharge_shown(dialog) and _text(dialog, "totalValue") == "$1,200.00"
    dialog.close()

    history = setting_history(context.engine, "payments.surcharge")
    assert [h.after["enabled"] for h in history] == [False, True, True]
    assert "Last changed on" in page.change_label.text()
    wait_for_background_tasks(qtbot)


@pytest.mark.parametrize(("typed", "message"), [
    ("3.5", "A surcharge can be at most 3 % (the card brands' limit)."),
    ("two", "Enter the surcharge as a percentage, for example 2.5."),
    ("-1", "A surcharge cannot be negative."),
    ("", "Enter the percentage to add, or switch the surcharge off."),
    ("2.125", "Use at most two decimals"),
])
def test_what_cannot_be_saved_is_explained_and_not_stored(
    qtbot: QtBot, set_up_context: AppContext, typed: str, message: str
) -> None:
    page = _section(qtbot, set_up_context)
    page.enabled.setChecked(True)
    page.percent.setText(typed)
    page.save_button.click()
    assert page.message.isVisible() and message in page.message.text()
    assert page.has_unsaved_changes()
    assert load_surcharge_settings(set_up_context.engine).percent == Decimal(0)
    wait_for_background_tasks(qtbot)


def test_a_surcharge_needs_its_disclosure(qtbot: QtBot, set_up_context: AppContext) -> None:
    page = _section(qtbot, set_up_context)
    page.enabled.setChecked(True)
    page.percent.setText("3")
    page.disclosure.setPlainText("  ")
    page.save_button.click()
    assert "Clients must be told about a surcharge" in page.message.text()
    page.findChild(QWidget, "surchargeDisclosureReset").click()  # type: ignore[union-attr]
    _save(qtbot, page)
    rules = load_surcharge_settings(set_up_context.engine)
    assert rules.enabled and rules.percent == Decimal(3)
    assert rules.disclosure_text().startswith("A surcharge of 3% is added")
