"""Screenshot scenes with Authorize.Net as the gateway: an approved payment, a partial refund
refused before settlement (with Authorize.Net's rule explained) and made after it, and a
declined card — against the local Authorize.Net stand-in, on the session's synced data."""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtWidgets import QComboBox, QTabWidget, QWidget

from app.core.gateways.authorizenet import AuthorizeNetGateway
from app.core.gateways.repository import SavedMethods, StoredMethod
from app.core.money import Money
from app.core.payments import PaymentPipeline
from app.gui.context import AppContext, AppServices
from app.gui.screenshots import ScreenshotSession, register_screen, settle
from app.gui.screenshots.payments import _open_invoices_by_organization, _pay
from app.sandbox.authorizenet import AuthorizeNetSandbox

DETAIL_SIZE = (900, 640)
DIALOG_SIZE = (780, 680)


@dataclass
class AuthorizeNetScene:
    context: AppContext
    gateway: AuthorizeNetGateway
    organization: int = 0
    decline_invoices: list[int] = field(default_factory=list)
    approved_id: int = 0
    refunded_id: int = 0


_scenes: dict[int, AuthorizeNetScene] = {}


def _card(sandbox: AuthorizeNetSandbox, saved: SavedMethods, organization_id: int,
          zip_code: str) -> StoredMethod:
    """A test card saved on the organization's customer profile (as the hosted form does)."""
    customer = saved.customer_for(organization_id)
    with sandbox.state.lock:
        profile = sandbox.state.add_payment_profile(
            int(customer), card_number="4111111111111111" if zip_code == "10001"
            else "5424000000000015", expiry="2031-08", zip_code=zip_code,
            first_name="Dana", last_name="Client")
    stored = saved.refresh(organization_id)
    return next(m for m in stored if m.token.endswith(f"/{profile.profile_id}"))


def authorizenet_scene(session: ScreenshotSession) -> AuthorizeNetScene:
    """The session's Authorize.Net payments, made once (on organizations the Stripe scenes
    leave alone)."""
    scene = _scenes.get(id(session))
    if scene is not None:
        return scene
    sandbox = AuthorizeNetSandbox(merchant_name="Northwind IT Services").start()
    holder = session.keep(QWidget())
    holder.destroyed.connect(sandbox.stop)
    gateway = AuthorizeNetGateway(
        sandbox.api_login_id, sandbox.transaction_key, api_base=sandbox.url,
        launch_dir=Path(tempfile.mkdtemp(prefix="paydesk-authnet-")))
    context = dataclasses.replace(session.context, services=AppServices(gateway=gateway))
    scene = AuthorizeNetScene(context, gateway)
    _scenes[id(session)] = scene
    candidates = _open_invoices_by_organization(session)
    # The last of the organizations the Stripe scenes use takes no Stripe payment; its newest
    # open invoices are paid here, so both scenes can be rendered in any order.
    if len(candidates) < 6 or len(candidates[5][1]) < 2:
        return scene  # no synced data: the screens show their empty states
    organization, ids = candidates[5]
    declining, declining_ids = candidates[4]
    saved = SavedMethods(session.engine, gateway)
    pipeline = PaymentPipeline(session.engine, gateway, actor="bookkeeper@northwind")
    scene.organization = declining
    scene.decline_invoices = declining_ids[-1:]  # a decline leaves its balance as it was
    card = _card(sandbox, saved, organization, "10001")
    scene.approved_id = _pay(session, pipeline, organization, ids[-1:], card)
    # Before the batch settles, Authorize.Net only voids a charge whole: a partial refund is
    # refused, and the refund says so.
    currency = session.context.currency() or "USD"
    scene.refunded_id = _pay(session, pipeline, organization, ids[-2:-1], card)
    pipeline.refund(scene.refunded_id, Money(2_500, currency), "Discount agreed afterwards")
    sandbox.settle()
    pipeline.refund(scene.refunded_id, Money(2_500, currency), "Discount agreed afterwards")
    _card(sandbox, saved, declining, "46282")  # the sandbox declines by billing ZIP
    return scene


def payment_detail(session: ScreenshotSession) -> QWidget:
    from app.gui.payments.detail import PaymentDetailDialog

    scene = authorizenet_scene(session)
    dialog = PaymentDetailDialog(scene.context, scene.approved_id or 1)
    session.keep(dialog)
    return dialog


def partial_refunds(session: ScreenshotSession) -> QWidget:
    from app.gui.payments.detail import PaymentDetailDialog

    scene = authorizenet_scene(session)
    dialog = PaymentDetailDialog(scene.context, scene.refunded_id or 1)
    session.keep(dialog)
    settle()
    tabs = dialog.findChild(QTabWidget)
    if tabs is not None:
        tabs.setCurrentIndex(1)  # Refunds: refused before settlement, made after it
    return dialog


def declined(session: ScreenshotSession) -> QWidget:
    from app.gui.payments.order_summary import OrderSummaryDialog

    scene = authorizenet_scene(session)
    if not scene.decline_invoices:
        return QWidget()
    dialog = OrderSummaryDialog(scene.context, scene.organization, scene.decline_invoices,
                                gateway=scene.gateway)
    session.keep(dialog)
    settle()
    combo = dialog.findChild(QComboBox, "paymentMethod")
    if combo is not None:
        index = next((i for i in range(combo.count()) if "0015" in combo.itemText(i)), -1)
        if index >= 0:
            combo.setCurrentIndex(index)
    dialog.pay()
    settle()
    return dialog


register_screen("authorizenet-payment-detail", payment_detail, size=DETAIL_SIZE)
register_screen("authorizenet-partial-refunds", partial_refunds, size=DETAIL_SIZE)
register_screen("authorizenet-order-summary-declined", declined, size=DIALOG_SIZE)
