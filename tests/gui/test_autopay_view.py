"""The AutoPay area, the Organization page's AutoPay tab and the AutoPay settings section,
driven with pytest-qt against a real database and the Stripe stand-in over HTTP — and
never a database query on the GUI thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from PySide6.QtWidgets import QMessageBox, QPushButton, QTableView
from pytestqt.qtbot import QtBot
from sqlalchemy import event, func, select

from app.core import clock
from app.core.autopay import RuleTerms, create_rule, load_autopay_defaults
from app.core.money import Money
from app.core.storage.engine import session_scope
from app.core.storage.models import Payment
from app.gui.autopay import AutoPayView
from app.gui.autopay.defaults_section import (
    AutoPayDefaultsSection,
    create_autopay_defaults_section,
)
from app.gui.autopay.organization_tab import AutoPayOrganizationPanel
from app.gui.context import AppContext
from tests.gui.conftest import wait_for_background_tasks
from tests.gui.payments_support import PaymentWorld, build_world, stripe_only
from tests.integration.payments.gateways import start_kit

TODAY = date(2026, 11, 15)  # invoice 1045 (due Sep 30) and 1046 (Oct 31) are due; 1047 not


@pytest.fixture
def world(set_up_context: AppContext, monkeypatch: pytest.MonkeyPatch, gateway_key: str
          ) -> Iterator[PaymentWorld]:
    monkeypatch.setattr(clock, "today_utc", lambda: TODAY)
    with start_kit(gateway_key) as kit:
        yield build_world(set_up_context, kit)


def _rule(world: PaymentWorld, outcome: str = "approve") -> int:
    return create_rule(world.context.engine, RuleTerms(
        organization_id=world.organization_id, payment_method_id=world.method(outcome).id,
        timing="due_date", days_after_invoice=0, limit=Money(500_000, "USD"),
        covers_from=date(2026, 1, 1), signer_name="Dana Reyes", signer_email="dana@acme.test",
        how="signed_form", evidence="Form on file", agreed_at=datetime.now(UTC)
        - timedelta(days=2)), company="Northwind IT", actor="tests")


class GuiThreadQueries:
    def __init__(self) -> None:
        self.found: list[str] = []

    def check(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if threading.current_thread() is threading.main_thread():
            self.found.append(statement.split("\n")[0][:120])


def _watch(world: PaymentWorld) -> GuiThreadQueries:
    watch = GuiThreadQueries()
    event.listen(world.context.engine, "before_cursor_execute", watch.check)
    return watch


def _texts(view: QTableView, column: int) -> list[str]:
    model = view.model()
    return [str(model.data(model.index(r, column))) for r in range(model.rowCount())]


def test_the_view_lists_upcoming_charges_and_runs_autopay(
        world: PaymentWorld, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> None:
    _rule(world)
    watch = _watch(world)
    view = AutoPayView(world.context)
    qtbot.addWidget(view)
    view.resize(1200, 800)
    view.show()
    wait_for_background_tasks(qtbot)
    table = view.findChild(QTableView, "autopayTable")
    assert table is not None
    assert _texts(table, 2) == ["1045", "1046", "1047"]  # 1047 falls due Nov 30
    assert "3 charges" in view.summary.text()
    assert "$1,750.49" in view.summary.text()  # 1,200.00 + 450.50 + 99.99
    assert "$1,650.50 due today" in view.summary.text()
    assert "has not run yet" in view.last_run.text()
    button = view.findChild(QPushButton, "autopayRunButton")
    assert button is not None and button.isEnabled()

    asked: list[str] = []

    def yes(*args: Any) -> QMessageBox.StandardButton:
        asked.append(str(args[2]))
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", yes)
    button.click()
    wait_for_background_tasks(qtbot, 30_000)
    wait_for_background_tasks(qtbot)
    assert "$1,650.50" in asked[0]
    assert view.last_report is not None and len(view.last_report.charged) == 2
    assert "2 charged" in view.message.text()
    assert _texts(table, 2) == ["1047"]
    assert "2 charged ($1,650.50)" in view.last_run.text()
    assert not button.isEnabled()  # nothing more due today
    event.remove(world.context.engine, "before_cursor_execute", watch.check)
    assert watch.found == []
    with session_scope(world.context.engine) as s:
        assert s.scalar(select(func.count()).select_from(Payment)) == 2


def test_declines_show_the_reason_and_what_to_do(world: PaymentWorld, qtbot: QtBot,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    _rule(world, "decline")
    view = AutoPayView(world.context)
    qtbot.addWidget(view)
    view.show()
    wait_for_background_tasks(qtbot)
    view.start_run()
    wait_for_background_tasks(qtbot, 30_000)
    wait_for_background_tasks(qtbot)
    rows = view.attention_rows()
    assert len(rows) == 2
    assert all(world.kit.decline_reason in r.reason for r in rows)
    assert all("tries again on 2026-11-18" in r.action for r in rows)
    assert not any(r.needs_person for r in rows)


@stripe_only
def test_organization_tab_sets_up_and_revokes(world: PaymentWorld, qtbot: QtBot,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    panel = AutoPayOrganizationPanel(world.context, world.organization_id)
    qtbot.addWidget(panel)
    panel.show()
    wait_for_background_tasks(qtbot)
    assert "AutoPay is off" in panel.status.text()
    assert panel.setup_button.isEnabled() and not panel.revoke_button.isEnabled()
    from app.gui.autopay.rule_dialog import AutoPayRuleDialog

    dialog = AutoPayRuleDialog(world.context, world.organization_id, panel)
    qtbot.addWidget(dialog)
    wait_for_background_tasks(qtbot)
    dialog.ruleCreated.connect(panel.reload)
    dialog.save()
    assert "most AutoPay may charge" in dialog.error.text()
    dialog.limit.setText("2,000.00")
    dialog.signer.setCurrentIndex(0)
    dialog.evidence.setText("Signed form, Clients/Acme/AutoPay.pdf")
    with qtbot.waitSignal(dialog.ruleCreated, timeout=10_000):
        dialog.save()
    wait_for_background_tasks(qtbot)
    assert "AutoPay is on" in panel.status.text()
    assert "$2,000.00" in panel.status.text()
    monkeypatch.setattr("app.gui.autopay.organization_tab.QInputDialog.getText",
                        lambda *a, **k: ("Client asked by phone", True))
    panel.revoke()
    wait_for_background_tasks(qtbot)
    wait_for_background_tasks(qtbot)
    assert "AutoPay is off" in panel.status.text()
    assert "Revoked before" in panel.history.text()
    assert panel.print_button.isEnabled()


@stripe_only
def test_defaults_section_saves_the_retry_schedule(world: PaymentWorld, qtbot: QtBot) -> None:
    section = create_autopay_defaults_section(world.context)
    assert isinstance(section, AutoPayDefaultsSection)
    qtbot.addWidget(section)
    wait_for_background_tasks(qtbot)
    retry = section.retry_days
    assert retry.text() == "3, 7"
    retry.setText("2, 5, 9")
    section.save()
    wait_for_background_tasks(qtbot)
    assert load_autopay_defaults(world.context.engine).retry_after_days == (2, 5, 9)
    retry.setText("9, 2")
    section.save()
    assert "must increase" in section.status.text()


@stripe_only
def test_schedule_from_the_order_summary_records_a_future_charge(
        world: PaymentWorld, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> None:
    from PySide6.QtCore import QDate
    from PySide6.QtWidgets import QDialog

    from app.core.autopay import load_autopay_overview
    from app.gui.autopay.schedule_dialog import ScheduleDialog
    from app.gui.payments.order_summary import OrderSummaryDialog

    order = OrderSummaryDialog(world.context, world.organization_id, world.invoice_ids[:2])
    qtbot.addWidget(order)
    order.show()
    qtbot.waitUntil(lambda: order.summary is not None, timeout=5000)
    button = order.findChild(QPushButton, "scheduleButton")
    assert button is not None
    opened: list[ScheduleDialog] = []
    told: list[str] = []

    def run_dialog(dialog: ScheduleDialog) -> int:
        opened.append(dialog)
        dialog.day.setDate(QDate.currentDate().addDays(10))
        dialog.save()
        qtbot.waitUntil(lambda: dialog.scheduled_id is not None, timeout=5000)
        return int(QDialog.DialogCode.Accepted)

    monkeypatch.setattr(ScheduleDialog, "exec", run_dialog)
    monkeypatch.setattr(QMessageBox, "information",
                        lambda *args: told.append(str(args[2])))
    button.click()
    assert opened and "Nothing was charged now" in told[0]
    assert not order.isVisible()
    overview = load_autopay_overview(world.context.engine,
                                     today=date.today() + timedelta(days=1))
    [scheduled] = overview.upcoming
    assert scheduled.kind == "scheduled"
    assert scheduled.amount == Money(165_050, "USD")  # 1,200.00 + 450.50
    assert scheduled.charge_on == date.today() + timedelta(days=10)


def test_the_set_up_dialog_limits_autopay_to_billing_item_types(
    world: PaymentWorld, qtbot: QtBot
) -> None:
    from PySide6.QtCore import Qt

    from app.core.autopay.plan import _lines_ok
    from app.core.storage.models import AutoPayRule, InvoiceLine, PicklistValue
    from app.gui.autopay.rule_dialog import AutoPayRuleDialog

    engine = world.context.engine
    labels = {1: "Labor", 4: "Recurring Contract", 6: "Product"}
    with session_scope(engine) as s:  # what a sync brings from Autotask's picklists
        for value, label in labels.items():
            s.add(PicklistValue(entity="BillingItems", field="billingItemType",
                                value=str(value), label=label))
        # One line per invoice, as synced: a recurring contract item, and a product.
        for number, (invoice_id, item_type) in enumerate(
                zip(world.invoice_ids[:2], (4, 6), strict=True), start=1):
            s.add(InvoiceLine(id=990_000 + number, invoice_id=invoice_id,
                              organization_id=world.organization_id, item_type=item_type,
                              description="Managed services", synced_at=datetime.now(UTC)))
    watch = _watch(world)
    dialog = AutoPayRuleDialog(world.context, world.organization_id)
    qtbot.addWidget(dialog)
    dialog.show()
    wait_for_background_tasks(qtbot)
    assert watch.found == []  # the choices were read in a worker
    items = dialog.item_types
    offered = [items.item(i).text() for i in range(items.count())]
    assert offered == ["Labor", "Product", "Recurring Contract"]
    assert not items.isEnabled()  # "Every invoice" is chosen
    assert items.accessibleName() == "Billing item types" and items.accessibleDescription()
    dialog.some_invoices.setChecked(True)
    assert items.isEnabled()
    dialog.limit.setText("2,000.00")
    dialog.signer.setCurrentIndex(0)
    dialog.evidence.setText("Signed form, Clients/Acme/AutoPay.pdf")
    dialog.save()
    assert "Tick at least one contract type or billing item type" in dialog.error.text()
    items.item(offered.index("Recurring Contract")).setCheckState(Qt.CheckState.Checked)
    with qtbot.waitSignal(dialog.ruleCreated, timeout=10_000) as created:
        dialog.save()
    wait_for_background_tasks(qtbot)
    with session_scope(engine) as s:
        rule = s.get(AutoPayRule, created.args[0])
        assert rule is not None
        assert rule.item_types == [4] and not rule.contract_types
        # Only the invoice whose every line is a recurring contract item is AutoPay's.
        assert _lines_ok(s, rule, world.invoice_ids[:2]) == {world.invoice_ids[0]}
