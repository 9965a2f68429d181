"""The payment screens for ``python -m app.gui.screenshots``.

The first payment screen of a screenshot session starts the sandbox gateway in-process,
saves cards for a few organizations the way a client would (on the hosted page), and takes
real payments through the pipeline: in full, partly, three invoices at once, a declined
card, a bank debit still processing and a partial refund. Their Autotask notes are delivered
to the session's Autotask sandbox — one of them while that sandbox is failing, so
"Failing to post" has something to show. Every screen then shows those records as the
bookkeeper would see them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtWidgets import QComboBox, QLineEdit, QWidget
from sqlalchemy import func, select

from app.core.gateways.repository import SavedMethods, StoredMethod
from app.core.gateways.stripe_gateway import StripeGateway
from app.core.money import Money
from app.core.payments import (
    PaymentPipeline,
    PaymentRequest,
    compute_order_summary,
    load_payable_invoices,
)
from app.core.storage.engine import session_scope
from app.core.storage.models import Invoice
from app.gui.payments.order_summary import OrderSummaryDialog
from app.gui.screenshots import ScreenshotSession, register_screen, settle
from app.sandbox.gateway import GatewaySandbox

DIALOG_SIZE = (780, 680)
DETAIL_SIZE = (900, 640)

CARD_FORM = {
    "method": "card", "card_number": "4242424242424242", "card_expiry": "08/29",
    "card_cvc": "123", "postal_code": "10001", "cardholder_name": "Dana Whitfield",
}
BANK_FORM = {
    "method": "us_bank_account", "account_holder_name": "Client LLC",
    "routing_number": "110000000", "account_number": "000123456789",
    "account_number_confirm": "000123456789", "account_holder_type": "company",
    "account_type": "checking", "mandate": "accepted",
}


@dataclass
class PaymentScene:
    """What the payment screens share within one screenshot session."""

    sandbox: GatewaySandbox
    gateway: StripeGateway
    organizations: list[int]
    #: Open invoices of each organization when the scene was made, oldest due first.
    invoices: dict[int, list[int]] = field(default_factory=dict)
    payment_ids: list[int] = field(default_factory=list)
    refunded_payment_id: int | None = None


_scenes: dict[int, PaymentScene] = {}


def _open_invoices_by_organization(session: ScreenshotSession) -> list[tuple[int, list[int]]]:
    """Organizations with the most open invoices, with those invoices oldest due first."""
    with session_scope(session.engine) as s:
        counts = s.execute(
            select(Invoice.organization_id, func.count(Invoice.id))
            .where(Invoice.status.in_(("open",)), Invoice.balance_minor > 150)
            .group_by(Invoice.organization_id)
            .order_by(func.count(Invoice.id).desc(), Invoice.organization_id)
            .limit(6)
        ).all()
        result = []
        for org_id, _count in counts:
            ids = list(
                s.scalars(
                    select(Invoice.id)
                    .where(Invoice.organization_id == org_id, Invoice.status == "open",
                           Invoice.balance_minor > 150)
                    .order_by(Invoice.due_date, Invoice.id)
                )
            )
            result.append((int(org_id), [int(i) for i in ids]))
    return result


def _save_method(sandbox: GatewaySandbox, saved: SavedMethods, organization_id: int,
                 form: dict[str, str]) -> None:
    """What the hosted page does when the client submits it (no browser needed here)."""
    from app.core.gateways import HostedMode
    from app.sandbox.gateway.checkout import read_bank_form, read_card_form

    hosted = saved.start_adding(organization_id, mode=HostedMode.SETUP)
    state = sandbox.state
    if form["method"] == "us_bank_account":
        method = state.create_bank_method(read_bank_form(form))
    else:
        method = state.create_card_method(read_card_form(form))
    with state.lock:
        state.complete_checkout(hosted.session_id, method, mandate=None)
    saved.check_adding(organization_id, hosted.session_id)


def _attach_declining_card(sandbox: GatewaySandbox, saved: SavedMethods,
                           organization_id: int) -> None:
    customer = saved.customer_for(organization_id)
    with sandbox.state.lock:
        sandbox.state.attach("pm_card_chargeDeclinedInsufficientFunds", customer)
    saved.refresh(organization_id)


def _pay(session: ScreenshotSession, pipeline: PaymentPipeline, organization_id: int,
         invoice_ids: Sequence[int], method: StoredMethod, amount: str | None = None,
         memo: str | None = None) -> int:
    from app.core.storage.models import Contact

    currency = session.context.currency() or "USD"
    invoices = load_payable_invoices(session.engine, invoice_ids, currency)
    summary = compute_order_summary(invoices, currency=currency, amount=amount)
    with session_scope(session.engine) as s:
        contact_id = s.scalar(
            select(Contact.id).where(Contact.organization_id == organization_id)
            .order_by(Contact.id).limit(1)
        )
    outcome = pipeline.pay(PaymentRequest.from_summary(
        summary, organization_id=organization_id, payment_method_id=method.id,
        contact_id=contact_id, memo=memo,
    ))
    return outcome.payment_id


def _deliver_postings(session: ScreenshotSession, failing_from: int | None) -> None:
    """Post the notes to the session's Autotask sandbox; the last payments' notes meet a
    failing Autotask and stay "Failing to post"."""
    autotask: Any = session.autotask
    if autotask is None:
        return
    from app.core.autotask.client import AutotaskClient
    from app.core.posting import PostingOutbox
    from app.core.posting.autotask_channel import AutotaskDeliverer
    from app.core.storage.models import Posting

    client = AutotaskClient(autotask.client_credentials(), discovery_url=autotask.url)
    outbox = PostingOutbox(session.engine,
                           {"autotask": AutotaskDeliverer(session.engine, client)})
    with session_scope(session.engine) as s:
        ids = list(s.scalars(select(Posting.id).order_by(Posting.id)))
        failing = set(s.scalars(select(Posting.id).where(Posting.payment_id >= failing_from))
                      ) if failing_from is not None else set()
    for posting_id in ids:
        if posting_id in failing:
            autotask.fail_next(times=4, status=500, path_contains="Notes")
        outbox.deliver(posting_id)


def payment_scene(session: ScreenshotSession) -> PaymentScene:
    """The session's payments, made once (the first payment screen makes them)."""
    scene = _scenes.get(id(session))
    if scene is not None:
        return scene
    sandbox = GatewaySandbox(account_name="Northwind IT Services").start()
    holder = session.keep(QWidget())
    holder.destroyed.connect(sandbox.stop)
    gateway = StripeGateway(sandbox.secret_key, api_base=sandbox.url, max_network_retries=0)
    session.context.services.gateway = gateway
    saved = SavedMethods(session.engine, gateway)
    pipeline = PaymentPipeline(session.engine, gateway, actor="bookkeeper@northwind")
    candidates = _open_invoices_by_organization(session)
    scene = PaymentScene(sandbox, gateway, [org for org, _ in candidates], dict(candidates))
    _scenes[id(session)] = scene
    if len(candidates) < 6:
        return scene  # no synced data: the screens show their empty states
    for org_id, _ids in candidates[:6]:
        _save_method(sandbox, saved, org_id, CARD_FORM)
    _attach_declining_card(sandbox, saved, candidates[0][0])
    _save_method(sandbox, saved, candidates[4][0], BANK_FORM)

    def card(org_id: int, last4: str = "4242") -> StoredMethod:
        return next(m for m in saved.local(org_id) if m.method.last4 == last4)

    (a, a_ids), (b, b_ids), (c, c_ids), (d, d_ids), (e, e_ids) = candidates[:5]
    # The first organization keeps most invoices open for the Order Summary screens.
    scene.payment_ids.append(_pay(session, pipeline, b, b_ids[:1], card(b)))
    scene.payment_ids.append(_pay(session, pipeline, c, c_ids[:1], card(c), amount="150.00",
                                  memo="Partial payment agreed on the phone"))
    scene.payment_ids.append(_pay(session, pipeline, d, d_ids[:3], card(d)))
    scene.payment_ids.append(_pay(session, pipeline, a, a_ids[-1:], card(a, "9995")))
    bank = next(m for m in saved.local(e) if m.method.method_type.value == "us_bank_account")
    scene.payment_ids.append(_pay(session, pipeline, e, e_ids[:1], bank))
    refunded = scene.payment_ids[2]
    pipeline.refund(refunded, Money(5_000, session.context.currency() or "USD"),
                    "Duplicate line on invoice; credited back")
    scene.refunded_payment_id = refunded
    _deliver_postings(session, failing_from=scene.payment_ids[1])
    return scene


# --- the screens -----------------------------------------------------------------------------


def _dialog(
    session: ScreenshotSession, invoices: int = 3, organization: int = 0
) -> OrderSummaryDialog:
    """The dialog on the first organization's oldest invoices (which the scene leaves open);
    ``organization`` 5 is kept for the screen that really pays."""
    scene = payment_scene(session)
    organization_id = (
        scene.organizations[organization] if len(scene.organizations) > organization else 0
    )
    ids = scene.invoices.get(organization_id, [])[:invoices]
    dialog = OrderSummaryDialog(session.context, organization_id, ids, gateway=scene.gateway)
    session.keep(dialog)
    settle()
    return dialog


def order_summary_filled(session: ScreenshotSession) -> QWidget:
    dialog = _dialog(session)
    memo = dialog.findChild(QLineEdit, "paymentMemo")
    if memo is not None:
        memo.setText("September and October services")
    return dialog


def order_summary_validation_error(session: ScreenshotSession) -> QWidget:
    dialog = _dialog(session)
    amount = dialog.amount_edit
    amount.setText("25,000.005")
    dialog._on_amount_edited(amount.text())
    dialog.recompute()
    return dialog


def order_summary_in_progress(session: ScreenshotSession) -> QWidget:
    # The state the dialog is in while the gateway answers (a real charge finishes before
    # the screenshot is taken, so the running state is put on screen directly).
    dialog = _dialog(session, invoices=2)
    stored = dialog.selected_method()
    if stored is not None:
        dialog._set_running(True, dialog.charging_message(stored))
    return dialog


def order_summary_approved(session: ScreenshotSession) -> QWidget:
    dialog = _dialog(session, invoices=2, organization=5)
    dialog.pay()
    settle()
    return dialog


def order_summary_declined(session: ScreenshotSession) -> QWidget:
    dialog = _dialog(session, invoices=1)
    combo = dialog.findChild(QComboBox, "paymentMethod")
    if combo is not None:
        index = next((i for i in range(combo.count()) if "9995" in combo.itemText(i)), -1)
        if index >= 0:
            combo.setCurrentIndex(index)
    dialog.pay()
    settle()
    return dialog


def transactions(session: ScreenshotSession) -> QWidget:
    payment_scene(session)
    return session.main_window(area="transactions")


def transactions_failing(session: ScreenshotSession) -> QWidget:
    from app.core.payments import TransactionFilter
    from app.gui.payments.transactions import TransactionsView

    payment_scene(session)
    window = session.main_window(area="transactions")
    view = window.findChild(TransactionsView)
    if view is not None:
        view.set_filter(TransactionFilter.FAILING_TO_POST)
        settle()
        view.table.selectRow(0)
    return window


def payment_search(session: ScreenshotSession) -> QWidget:
    payment_scene(session)
    return session.main_window(area="payment_search")


def payment_detail(session: ScreenshotSession) -> QWidget:
    from app.gui.payments.detail import PaymentDetailDialog

    scene = payment_scene(session)
    dialog = PaymentDetailDialog(session.context, scene.refunded_payment_id or 1)
    session.keep(dialog)
    return dialog


def refund_dialog(session: ScreenshotSession) -> QWidget:
    from app.gui.payments.detail import PaymentDetailDialog, RefundDialog

    scene = payment_scene(session)
    detail_dialog = PaymentDetailDialog(session.context, scene.payment_ids[0] if
                                        scene.payment_ids else 1)
    session.keep(detail_dialog)
    settle()
    if detail_dialog.detail is None:
        return detail_dialog
    dialog = RefundDialog(session.context, detail_dialog.detail)
    dialog.partial_radio.setChecked(True)
    dialog.amount_edit.setText("100")
    dialog.tidy_amount()  # as when the bookkeeper moves on to the reason
    dialog.reason_edit.setPlainText("Client was billed twice for the May backup service")
    session.keep(dialog)
    return dialog


def organization_payments(session: ScreenshotSession) -> QWidget:
    """An organization's page on its Payments tab (the one with a refund)."""
    from PySide6.QtWidgets import QTabWidget

    from app.gui.organizations import OrganizationPage

    scene = payment_scene(session)
    organization_id = scene.organizations[3] if len(scene.organizations) > 3 else 0
    page = OrganizationPage(session.context, organization_id)
    tabs = page.findChild(QTabWidget, "organizationTabs")
    if tabs is not None:
        titles = [tabs.tabText(i) for i in range(tabs.count())]
        if "Payments" in titles:
            tabs.setCurrentIndex(titles.index("Payments"))
    return page


register_screen("order-summary-filled", order_summary_filled, size=DIALOG_SIZE)
register_screen("order-summary-validation-error", order_summary_validation_error,
                size=DIALOG_SIZE)
register_screen("order-summary-in-progress", order_summary_in_progress, size=DIALOG_SIZE)
register_screen("order-summary-approved", order_summary_approved, size=DIALOG_SIZE)
register_screen("order-summary-declined", order_summary_declined, size=DIALOG_SIZE)
register_screen("transactions", transactions)
register_screen("transactions-failing-to-post", transactions_failing)
register_screen("payment-search", payment_search)
register_screen("payment-detail", payment_detail, size=DETAIL_SIZE)
register_screen("payment-refund", refund_dialog, size=(560, 420))
register_screen("organization-payments", organization_payments, size=(1100, 700))
