"""The QuickBooks screens for ``python -m app.gui.screenshots``.

QuickBooks data comes from PayDesk's QuickBooks Desktop stand-in
(``app.sandbox.quickbooks_desktop``): a company file seeded from the same seed and sizes as the
session's Autotask sandbox — so it holds the Autotask export with its realistic disagreements
(invoices not exported yet, a customer renamed, an invoice edited, one paid in QuickBooks) —
read through PayDesk's own Web Connector service on loopback by the Web Connector stand-in.
That is the path a real read takes; nothing is written to the database by hand.

The wizard's QuickBooks page is shown for Online (a fresh profile, as at first start), for
Desktop (Setup opened again once the Web Connector has connected) and for Not now.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QWidget
from sqlalchemy import select

from app.core.credentials import SecretName
from app.core.storage.engine import session_scope
from app.core.storage.models import Invoice, QuickBooksInvoiceMatch
from app.gui.screenshots import (
    SANDBOX_COMPANIES,
    SANDBOX_INVOICES,
    SANDBOX_SEED,
    ScreenshotSession,
    register_screen,
    settle,
)

WIZARD_SIZE = (820, 640)
_DESKTOP_KEY = "_quickbooks_desktop"


def connect_desktop(session: ScreenshotSession) -> Any:
    """Once per session: the stand-in company file, PayDesk's Web Connector service for the
    session's profile, the ``.qwc`` connection stored, and one Web Connector update (a full
    read and the matching pass)."""
    existing = getattr(session, _DESKTOP_KEY, None)
    if existing is not None:
        return existing
    from app.core.quickbooks.desktop.qwc import connect, ensure_password
    from app.core.quickbooks.desktop.service import WebConnectorServer, WebConnectorService
    from app.core.quickbooks.desktop_outbox import OutboxPostingQueue
    from app.gui.quickbooks.desktop_service import SERVICE_KEY
    from app.sandbox.autotask.data import DataSizes
    from app.sandbox.quickbooks_desktop.company import CompanyFile
    from app.sandbox.quickbooks_desktop.connector import WebConnector

    context = session.context
    company = CompanyFile(seed=SANDBOX_SEED, sizes=DataSizes(
        companies=SANDBOX_COMPANIES, contacts=SANDBOX_COMPANIES * 3,
        contracts=SANDBOX_COMPANIES, tickets=SANDBOX_INVOICES // 2,
        invoices=SANDBOX_INVOICES))
    password = ensure_password(context.credentials)
    connection_user = "paydesk"
    service = WebConnectorService(
        context.engine, username=connection_user, queue=OutboxPostingQueue(),
        password=lambda: context.credentials.get(SecretName.QUICKBOOKS_DESKTOP_PASSWORD))
    server = WebConnectorServer(service).start()  # 127.0.0.1, port 0
    connect(context.engine, app_url=server.url)
    context.services[SERVICE_KEY] = server
    WebConnector(server.url, connection_user, password, company).update()
    session.__dict__[_DESKTOP_KEY] = company
    return company


def _wizard(session: ScreenshotSession, context: Any) -> Any:
    from app.gui.wizard.screens import _tested, _to_autotask, _wizard

    wizard = _wizard(context, session)
    _to_autotask(wizard)
    _tested(wizard)
    for _ in range(5):
        if wizard.currentPage() is wizard.plugin_pages.get("quickbooks"):
            break
        wizard.next()
        settle()
    settle()
    return wizard


def wizard_online(session: ScreenshotSession) -> QWidget:
    from app.gui.wizard.screens import _demo_context

    wizard = _wizard(session, _demo_context(session))
    page = wizard.plugin_pages["quickbooks"]
    page.kind.setCurrentIndex(page.kind.findData("online"))
    settle()
    return wizard  # type: ignore[no-any-return]


def wizard_desktop(session: ScreenshotSession) -> QWidget:
    connect_desktop(session)
    wizard = _wizard(session, session.context)
    settle()
    return wizard  # type: ignore[no-any-return]


def wizard_later(session: ScreenshotSession) -> QWidget:
    from app.gui.wizard.screens import _demo_context

    wizard = _wizard(session, _demo_context(session))
    page = wizard.plugin_pages["quickbooks"]
    page.kind.setCurrentIndex(page.kind.findData("later"))
    settle()
    return wizard  # type: ignore[no-any-return]


def needs_matching(session: ScreenshotSession) -> QWidget:
    connect_desktop(session)
    window = session.main_window(area="quickbooks")
    settle()
    return window


def reconciliation(session: ScreenshotSession) -> QWidget:
    connect_desktop(session)
    window = session.main_window(area="quickbooks")
    settle()
    area = window.show_area("quickbooks")  # type: ignore[attr-defined]
    area.tabs.setCurrentIndex(1)
    settle()
    return window


def not_connected(session: ScreenshotSession) -> QWidget:
    from app.core.config import set_internal_currency

    context = session.fresh_context()
    set_internal_currency(context.engine, "USD", actor="screenshots")
    return session.main_window(area="quickbooks", context=context)


def invoice_page(session: ScreenshotSession) -> QWidget:
    connect_desktop(session)
    window = session.main_window(area="invoices")
    area = window.show_area("invoices")  # type: ignore[attr-defined]
    with session_scope(session.engine) as s:
        invoice_id = s.scalar(
            select(Invoice.id)
            .join(QuickBooksInvoiceMatch, QuickBooksInvoiceMatch.invoice_id == Invoice.id)
            .where(QuickBooksInvoiceMatch.remote_id.is_not(None),
                   Invoice.status.in_(("open", "partially_paid")))
            .order_by(Invoice.invoice_date.desc(), Invoice.id).limit(1))
    if invoice_id is not None:
        area.open_invoice(invoice_id)
    settle()
    return window


for _name, _build, _size in (
    ("wizard-5-quickbooks-online", wizard_online, WIZARD_SIZE),
    ("wizard-5-quickbooks-desktop", wizard_desktop, WIZARD_SIZE),
    ("wizard-5-quickbooks-later", wizard_later, WIZARD_SIZE),
    ("quickbooks-needs-matching", needs_matching, None),
    ("quickbooks-reconciliation", reconciliation, None),
    ("quickbooks-not-connected", not_connected, None),
    ("invoice-page-quickbooks", invoice_page, None),
):
    if _size is None:
        register_screen(_name, _build)
    else:
        register_screen(_name, _build, size=_size)
