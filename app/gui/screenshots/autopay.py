"""The AutoPay screens for ``python -m app.gui.screenshots``.

On top of the payment scene (the sandbox gateway with saved cards and a bank account), the
first AutoPay screen records three clients' AutoPay authorizations — a card charged on the
due date, a card the bank keeps declining, a bank account with a per-invoice limit —
schedules a payment for next week, and runs AutoPay on three past days (the declines are
retried on the default schedule) through the real pipeline. The screens show those records.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from PySide6.QtWidgets import QTabWidget, QWidget
from sqlalchemy import select

from app.core import clock
from app.core.autopay import RuleTerms, create_rule, run_autopay, schedule_payment
from app.core.gateways.repository import SavedMethods
from app.core.money import Money
from app.core.storage.engine import session_scope
from app.core.storage.models import Contact, Invoice
from app.gui.screenshots import ScreenshotSession, register_screen, settle
from app.gui.screenshots.payments import _attach_declining_card, payment_scene

DIALOG_SIZE = (700, 720)

_done: set[int] = set()
_rule_orgs: dict[int, int] = {}


def _signer(session: ScreenshotSession, organization_id: int) -> tuple[str, str | None]:
    with session_scope(session.engine) as s:
        contact = s.scalars(select(Contact).where(Contact.organization_id == organization_id)
                            .order_by(Contact.id).limit(1)).first()
        if contact is None:
            return "Accounts payable", None
        name = " ".join(p for p in (contact.first_name, contact.last_name) if p)
        return name or "Accounts payable", contact.email


def autopay_scene(session: ScreenshotSession) -> None:
    """Rules, a scheduled payment and a few runs, made once per session."""
    if id(session) in _done:
        return
    _done.add(id(session))
    scene = payment_scene(session)
    if len(scene.organizations) < 6:
        return
    currency = session.context.currency() or "USD"
    saved = SavedMethods(session.engine, scene.gateway)
    today = clock.today_utc()
    # The first organization (a) keeps its invoices open for the Order Summary screens; a
    # payment scheduled for next week does not charge them.
    a, b, c, e = (scene.organizations[i] for i in (0, 1, 2, 4))
    _attach_declining_card(scene.sandbox, saved, c)

    def method(org: int, last4: str | None = None, bank: bool = False) -> int:
        for m in saved.local(org):
            if bank and m.method.method_type.value == "us_bank_account":
                return m.id
            if not bank and m.method.last4 == last4:
                return m.id
        raise LookupError(org)

    agreed = datetime.now(UTC) - timedelta(days=40)
    for org, method_id, timing, limit, how, evidence in (
        (b, method(b, "4242"), "due_date", 20_000_00, "signed_form",
         "Signed AutoPay form, scanned to Clients/AutoPay"),
        (c, method(c, "9995"), "due_date", 20_000_00, "signed_form",
         "Signed AutoPay form received by email"),
        (e, method(e, bank=True), "after_invoice_date", 5_000_00, "hosted_page",
         "Bank debit mandate accepted on the gateway's page"),
    ):
        name, email = _signer(session, org)
        _rule_orgs[org] = create_rule(session.engine, RuleTerms(
            organization_id=org, payment_method_id=method_id, timing=timing,
            days_after_invoice=14, limit=Money(limit, currency),
            covers_from=today - timedelta(days=400), signer_name=name, signer_email=email,
            how=how, evidence=evidence, agreed_at=agreed),
            company="Northwind IT Services", actor="bookkeeper@northwind")
    with session_scope(session.engine) as s:
        upcoming = s.execute(
            select(Invoice.id, Invoice.balance_minor)
            .where(Invoice.organization_id == a, Invoice.status == "open",
                   Invoice.balance_minor > 0).order_by(Invoice.due_date).limit(2)).all()
    if upcoming:
        schedule_payment(session.engine, organization_id=a,
                         payment_method_id=method(a, "4242"),
                         charge_on=today + timedelta(days=8),
                         allocations=[(int(i), Money(int(m), currency)) for i, m in upcoming],
                         actor="bookkeeper@northwind")
    for days_ago in (10, 7, 3):
        run_autopay(session.engine, scene.gateway, today=today - timedelta(days=days_ago),
                    actor="bookkeeper@northwind")


def autopay_area(session: ScreenshotSession) -> QWidget:
    autopay_scene(session)
    return session.main_window(area="autopay")


def autopay_empty(session: ScreenshotSession) -> QWidget:
    return session.main_window(area="autopay", context=session.fresh_context())


def autopay_organization_tab(session: ScreenshotSession) -> QWidget:
    from app.gui.organizations import OrganizationsArea

    autopay_scene(session)
    window = session.main_window(area="organizations")
    area = window.findChild(OrganizationsArea)
    if area is not None and _rule_orgs:
        area.show_organization(next(iter(_rule_orgs)))
        tabs = area.findChild(QTabWidget, "organizationTabs")
        if tabs is not None:
            for index in range(tabs.count()):
                if tabs.tabText(index) == "AutoPay":
                    tabs.setCurrentIndex(index)
    return window


def autopay_rule_dialog(session: ScreenshotSession) -> QWidget:
    from app.gui.autopay.rule_dialog import AutoPayRuleDialog

    scene = payment_scene(session)
    org = scene.organizations[5] if len(scene.organizations) > 5 else 0
    dialog = AutoPayRuleDialog(session.context, org)
    session.keep(dialog)
    settle()
    if dialog.signer.count():
        dialog.signer.setCurrentIndex(0)
    dialog.limit.setText("10,000.00")
    dialog.evidence.setText("Signed AutoPay form, scanned to Clients/AutoPay")
    return dialog


def autopay_schedule_dialog(session: ScreenshotSession) -> QWidget:
    """"Schedule…" from the Order Summary, on the first organization's oldest invoices."""
    from app.core.payments import compute_order_summary, load_payable_invoices
    from app.gui.autopay.schedule_dialog import ScheduleDialog

    scene = payment_scene(session)
    org = scene.organizations[0] if scene.organizations else 0
    ids = scene.invoices.get(org, [])[:2]
    currency = session.context.currency() or "USD"
    summary = compute_order_summary(load_payable_invoices(session.engine, ids, currency),
                                    currency=currency)
    method = SavedMethods(session.engine, scene.gateway).local(org)[0]
    dialog = ScheduleDialog(session.context, org, method, summary.allocations,
                            {line.invoice_id: line.label for line in summary.lines})
    session.keep(dialog)
    return dialog


def autopay_settings_section(session: ScreenshotSession) -> QWidget:
    """The Settings area's AutoPay section on its own (the Settings area lists it)."""
    from app.gui.autopay.defaults_section import create_autopay_defaults_section

    return session.keep(create_autopay_defaults_section(session.context))


register_screen("autopay", autopay_area, late=True)
register_screen("autopay-settings-section", autopay_settings_section, size=(640, 360),
                late=True)
register_screen("autopay-schedule-dialog", autopay_schedule_dialog, size=(560, 300),
                late=True)
register_screen("autopay-empty", autopay_empty, late=True)
register_screen("autopay-organization-tab", autopay_organization_tab, late=True)
register_screen("autopay-rule-dialog", autopay_rule_dialog, size=DIALOG_SIZE, late=True)
