"""The QuickBooks screens for ``python -m app.gui.screenshots``.

QuickBooks data comes from PayDesk's sandboxes, seeded from the same seed and sizes as the
session's Autotask sandbox — so they hold Autotask's export with its realistic disagreements
(invoices not exported yet, a customer renamed, an invoice edited, one paid in QuickBooks):

* QuickBooks Online (the QuickBooks area and the invoice page): the QuickBooks Online sandbox,
  connected as Setup connects it and read by PayDesk's own read;
* QuickBooks Desktop (the wizard's Desktop page): the company-file stand-in, read through
  PayDesk's Web Connector service on loopback by the Web Connector stand-in.

Nothing is written to the database by hand. The wizard's QuickBooks page is shown for Online
(as at first start, and connected), for Desktop and for Not now.
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
    from app.sandbox.autotask.data import DataSizes
    from app.sandbox.quickbooks_desktop.company import CompanyFile
    from app.sandbox.quickbooks_desktop.connector import WebConnector

    context = session.context
    company = CompanyFile(seed=SANDBOX_SEED, sizes=DataSizes(**_sizes()))
    password = ensure_password(context.credentials)
    connection_user = "paydesk"
    service = WebConnectorService(
        context.engine, username=connection_user,
        password=lambda: context.credentials.get(SecretName.QUICKBOOKS_DESKTOP_PASSWORD))
    server = WebConnectorServer(service).start()  # 127.0.0.1, port 0
    connect(context.engine, app_url=server.url)
    context.services.quickbooks_desktop = server
    WebConnector(server.url, connection_user, password, company).update()
    session.__dict__[_DESKTOP_KEY] = company
    return company


def _sizes() -> dict[str, int]:
    return {"companies": SANDBOX_COMPANIES, "contacts": SANDBOX_COMPANIES * 3,
            "contracts": SANDBOX_COMPANIES, "tickets": SANDBOX_INVOICES // 2,
            "invoices": SANDBOX_INVOICES}


def online_sandbox(session: ScreenshotSession) -> Any:
    """Once per session: the QuickBooks Online sandbox (stopped with the process)."""
    existing = session.__dict__.get("_quickbooks_online")
    if existing is None:
        from app.sandbox.quickbooks_online.server import QuickBooksOnlineSandbox

        sizes = _sizes()
        existing = QuickBooksOnlineSandbox(
            seed=SANDBOX_SEED, companies=sizes["companies"], contacts=sizes["contacts"],
            contracts=sizes["contracts"], tickets=sizes["tickets"],
            invoices=sizes["invoices"]).start()
        session.__dict__["_quickbooks_online"] = existing
    return existing


def connect_online(session: ScreenshotSession) -> Any:
    """Once per session: the session's profile connected to the QuickBooks Online sandbox and
    QuickBooks read and matched (PayDesk's own read)."""
    server = online_sandbox(session)
    if session.__dict__.get("_quickbooks_online_read"):
        return server
    from app.core.quickbooks.online.read import read_quickbooks_online
    from app.core.quickbooks.online.setup import connect_sandbox, open_quickbooks_client

    context = session.context
    connect_sandbox(context.engine, context.credentials, server, actor="screenshots")
    client = open_quickbooks_client(context.engine, context.credentials)
    assert client is not None
    with client:
        read_quickbooks_online(context.engine, client)
    session.__dict__["_quickbooks_online_read"] = True
    return server


def _wizard(session: ScreenshotSession, context: Any) -> Any:
    from app.gui.screenshots.wizard import _tested, _to_autotask, _wizard

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
    from app.gui.screenshots.wizard import _demo_context

    wizard = _wizard(session, _demo_context(session))
    page = wizard.plugin_pages["quickbooks"]
    page.kind.setCurrentIndex(page.kind.findData("online"))
    settle()
    return wizard  # type: ignore[no-any-return]


def wizard_online_connected(session: ScreenshotSession) -> QWidget:
    import requests

    from app.gui.screenshots.wizard import _demo_context
    from app.sandbox.demo import DemoQuickBooks

    server = online_sandbox(session)
    context = _demo_context(session)
    assert context.demo is not None
    context.demo.quickbooks = DemoQuickBooks(
        "online", company=server, environment=server.discovery_url, api_base=server.api_base,
        client_id=server.client_id, client_secret=server.client_secret)
    wizard = _wizard(session, context)
    page = wizard.plugin_pages["quickbooks"]
    page.open_browser = lambda url: requests.get(url, timeout=(5, 30))  # consents at once
    page.connect_button.click()
    settle(30)
    return wizard  # type: ignore[no-any-return]


def wizard_desktop(session: ScreenshotSession) -> QWidget:
    connect_desktop(session)
    wizard = _wizard(session, session.context)
    page = wizard.plugin_pages["quickbooks"]
    page.kind.setCurrentIndex(page.kind.findData("desktop"))
    settle()
    return wizard  # type: ignore[no-any-return]


def wizard_later(session: ScreenshotSession) -> QWidget:
    from app.gui.screenshots.wizard import _demo_context

    wizard = _wizard(session, _demo_context(session))
    page = wizard.plugin_pages["quickbooks"]
    page.kind.setCurrentIndex(page.kind.findData("later"))
    settle()
    return wizard  # type: ignore[no-any-return]


def needs_matching(session: ScreenshotSession) -> QWidget:
    connect_online(session)
    window = session.main_window(area="quickbooks")
    settle()
    area = window.show_area("quickbooks")  # type: ignore[attr-defined]
    area.matching.table.selectRow(0)
    settle()
    return window


def reconciliation(session: ScreenshotSession) -> QWidget:
    connect_online(session)
    window = session.main_window(area="quickbooks")
    settle()
    area = window.show_area("quickbooks")  # type: ignore[attr-defined]
    area.tabs.setCurrentIndex(1)
    settle()
    view = area.reconciliation
    rows = view.model.rowCount()
    if rows:
        view.table.selectRow(rows - 1)  # a payment recorded in QuickBooks outside PayDesk
    settle()
    return window


def deposits(session: ScreenshotSession) -> QWidget:
    connect_online(session)
    window = session.main_window(area="quickbooks")
    settle()
    area = window.show_area("quickbooks")  # type: ignore[attr-defined]
    area.tabs.setCurrentIndex(2)
    settle(60)
    return window


def not_connected(session: ScreenshotSession) -> QWidget:
    from app.core.config import set_internal_currency

    context = session.fresh_context()
    set_internal_currency(context.engine, "USD", actor="screenshots")
    return session.main_window(area="quickbooks", context=context)


def disconnected(session: ScreenshotSession) -> QWidget:
    """A profile whose QuickBooks Online connection was removed in QuickBooks (the company
    disconnected the app): the next read says so, and the status bar offers Reconnect."""
    import threading

    import requests

    from app.core.config import set_internal_currency
    from app.core.quickbooks.online.read import quickbooks_sync_hook
    from app.core.quickbooks.online.setup import connect_sandbox

    server = online_sandbox(session)
    context = session.fresh_context()
    set_internal_currency(context.engine, "USD", actor="screenshots")
    connect_sandbox(context.engine, context.credentials, server, actor="screenshots")
    requests.post(server.admin_url + "tokens/revoke", json={}, timeout=(5, 10),
                  headers={"Authorization": f"Bearer {server.client_secret}"})
    quickbooks_sync_hook(context.credentials)(context.engine, threading.Event())
    return session.main_window(area="quickbooks", context=context)


def invoice_page(session: ScreenshotSession) -> QWidget:
    connect_online(session)
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
    ("wizard-5-quickbooks-online-connected", wizard_online_connected, WIZARD_SIZE),
    ("wizard-5-quickbooks-desktop", wizard_desktop, WIZARD_SIZE),
    ("wizard-5-quickbooks-later", wizard_later, WIZARD_SIZE),
    ("quickbooks-needs-matching", needs_matching, None),
    ("quickbooks-reconciliation", reconciliation, None),
    ("quickbooks-deposits", deposits, None),
    ("quickbooks-not-connected", not_connected, None),
    ("quickbooks-disconnected", disconnected, None),
    ("invoice-page-quickbooks", invoice_page, None),
):
    if _size is None:
        register_screen(_name, _build)
    else:
        register_screen(_name, _build, size=_size)
