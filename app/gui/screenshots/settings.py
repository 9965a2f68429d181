"""The Settings area's sections for ``python -m app.gui.screenshots`` (``--only 'settings-*'``).

The session's PayDesk is set up as Setup leaves it: Autotask synced from its sandbox, the
sandbox gateway tested and stored, QuickBooks Online connected to its sandbox. Settings are
changed through the core as a bookkeeper's Save would (and so audited): the surcharge on at
2.5 %, the receipts' company with a logo, the sync every 30 minutes, card payments recorded
in QuickBooks Online with its "Visa" payment method.
"""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter
from PySide6.QtWidgets import QWidget

from app.gui.screenshots import ScreenshotSession, register_screen, settle

ACTOR = "dana@northwind-office"
SIZE = (1280, 860)


def _connect_gateway(session: ScreenshotSession) -> None:
    """Once per session: the sandbox gateway, tested and stored as Setup stores it."""
    if session.__dict__.get("_settings_gateway"):
        return
    from app.core.gateways.connection import (
        GatewayConnection,
        record_gateway_test,
        save_gateway_secret,
    )
    from app.core.gateways.stripe_gateway import StripeGateway
    from app.sandbox.gateway import GatewaySandbox

    sandbox = GatewaySandbox(account_name="Northwind IT Services").start()
    holder = session.keep(QWidget())
    holder.destroyed.connect(sandbox.stop)
    context = session.context
    save_gateway_secret(context.credentials, "stripe", sandbox.secret_key)
    gateway = StripeGateway(sandbox.secret_key, api_base=sandbox.url, max_network_retries=0)
    record_gateway_test(context.engine, GatewayConnection(api_base=sandbox.url),
                        gateway.test_connection(), actor=ACTOR)
    session.__dict__["_settings_gateway"] = True


def _set_up(session: ScreenshotSession) -> None:
    from app.gui.screenshots.quickbooks import connect_online

    _connect_gateway(session)
    connect_online(session)


def _logo_png() -> bytes:
    """A simple company logo, drawn here (a bookkeeper would choose their own file)."""
    image = QImage(480, 120, QImage.Format.Format_ARGB32)
    image.fill(QColor(0, 0, 0, 0))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QColor("#2457C5"))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawRoundedRect(QRectF(4, 14, 92, 92), 18, 18)
    painter.setPen(QColor("#FFFFFF"))
    painter.setFont(QFont("Sans Serif", 40, QFont.Weight.Bold))
    painter.drawText(QRectF(4, 14, 92, 92), Qt.AlignmentFlag.AlignCenter, "N")
    painter.setPen(QColor("#1B2430"))
    painter.setFont(QFont("Sans Serif", 30, QFont.Weight.DemiBold))
    painter.drawText(QRectF(116, 14, 364, 92),
                     Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, "Northwind IT")
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")  # type: ignore[call-overload]  # the stubs want bytes
    buffer.close()
    return bytes(data.data())


def _section(session: ScreenshotSession, key: str) -> tuple[QWidget, QWidget]:
    from app.gui.settings import SettingsArea

    window = session.main_window(area="settings")
    window.resize(*SIZE)
    window.show()  # the section reads its settings when first shown
    areas = window.findChildren(SettingsArea)
    assert areas, "the Settings area did not open"
    # The session closes each screen after taking its picture: no question about edits.
    areas[0].ask_before_closing = False
    page = areas[0].show_section(key)
    settle()
    return window, page


def settings_general(session: ScreenshotSession) -> QWidget:
    return _section(session, "general")[0]


def settings_sync(session: ScreenshotSession) -> QWidget:
    from app.core.sync.history import SyncSchedule, save_sync_schedule

    save_sync_schedule(session.engine, SyncSchedule(30, True), actor=ACTOR)
    return _section(session, "sync")[0]


def _surcharge_on(session: ScreenshotSession) -> None:
    from app.core.payments import SurchargeSettings, save_surcharge_settings

    save_surcharge_settings(session.engine, SurchargeSettings(
        enabled=True, percent=Decimal("2.5")), actor=ACTOR)


def settings_payments(session: ScreenshotSession) -> QWidget:
    _surcharge_on(session)
    return _section(session, "payments")[0]


def settings_payments_invalid(session: ScreenshotSession) -> QWidget:
    """A percentage above the cap, typed and saved: the message says what to do."""
    from app.gui.settings.payments_section import PaymentsSection

    _surcharge_on(session)
    window, page = _section(session, "payments")
    assert isinstance(page, PaymentsSection)
    page.percent.setText("3.5")
    page.save()
    settle()
    return window


def settings_receipts(session: ScreenshotSession) -> QWidget:
    from app.core.receipt_identity import ReceiptIdentity, save_receipt_identity

    save_receipt_identity(session.engine, ReceiptIdentity(
        name="Northwind IT Services",
        address="1200 Harbor Way, Suite 4\nPortland, OR 97205\nbilling@northwind-it.example",
        logo_png=_logo_png()), actor=ACTOR)
    return _section(session, "receipts")[0]


def _card_payments_with_visa(session: ScreenshotSession) -> None:
    """The bookkeeper chose QuickBooks' own "Visa" for card payments (bank: the default)."""
    from app.core.quickbooks.online.setup import open_quickbooks_client
    from app.core.quickbooks.payment_methods import (
        OnlineMethods,
        list_online_methods,
        save_online_methods,
    )

    client = open_quickbooks_client(session.engine, session.context.credentials)
    assert client is not None, "QuickBooks Online is not connected"
    try:
        visa = next(m for m in list_online_methods(client) if m.name == "Visa")
    finally:
        client.close()
    save_online_methods(session.engine, OnlineMethods(card=visa), actor=ACTOR)


def settings_posting(session: ScreenshotSession) -> QWidget:
    _set_up(session)
    _card_payments_with_visa(session)
    return _section(session, "posting")[0]


def settings_posting_choosing(session: ScreenshotSession) -> QWidget:
    """"Check" chosen for bank payments, not saved yet (Save / Revert on)."""
    from app.gui.settings.posting_section import PostingSection

    _set_up(session)
    _card_payments_with_visa(session)
    window, page = _section(session, "posting")
    assert isinstance(page, PostingSection)
    settle(10.0)
    bank = page.online_bank
    bank.setCurrentIndex(max(0, bank.findText("Check")))
    settle()
    return window


def settings_connections(session: ScreenshotSession) -> QWidget:
    """After Test on Autotask and the gateway: their answers under each."""
    from app.gui.settings.connections_section import ConnectionsSection

    _set_up(session)
    window, page = _section(session, "connections")
    assert isinstance(page, ConnectionsSection)
    for key in ("autotask", "gateway", "quickbooks"):
        page.rows[key].test()
    settle(30.0)
    return window


for _name, _build in (
    ("settings-general", settings_general),
    ("settings-sync", settings_sync),
    ("settings-payments", settings_payments),
    ("settings-payments-invalid", settings_payments_invalid),
    ("settings-receipts", settings_receipts),
    ("settings-posting", settings_posting),
    ("settings-posting-choosing", settings_posting_choosing),
    ("settings-connections", settings_connections),
):
    register_screen(_name, _build, size=SIZE)
