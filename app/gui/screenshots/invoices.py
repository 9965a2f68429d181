"""Screens of Invoice History, the Invoice page and the Organization view for
``python -m app.gui.screenshots``.

They render the session's sandbox data; when the sync that copies it is not part of the
build, the session's database is filled with ``build_ledger``'s deterministic history
instead, so the screens are never shown empty by accident (the empty state has its own).
"""

from __future__ import annotations

from PySide6.QtWidgets import QWidget
from sqlalchemy import func, select

from app.core.invoice_state import InvoiceStatus
from app.core.queries.fixtures import build_ledger
from app.core.storage.engine import session_scope
from app.core.storage.models import Invoice, InvoiceLine, Organization, PaymentAllocation
from app.gui.screenshots import ScreenshotSession, register_screen


def _ensure_data(session: ScreenshotSession) -> None:
    with session_scope(session.engine) as s:
        count = s.scalar(select(func.count()).select_from(Invoice)) or 0
    if not count:
        build_ledger(session.engine, organizations=60, invoices=1_500)


def _invoices_area(session: ScreenshotSession) -> QWidget:
    _ensure_data(session)
    return session.main_window(area="invoices")


def _invoice_history(session: ScreenshotSession) -> QWidget:
    window = _invoices_area(session)
    area = window.show_area("invoices")  # type: ignore[attr-defined]
    area.history.clear_filters()
    area.history.show_paid.setChecked(True)
    return window


def _invoice_history_filtered(session: ScreenshotSession) -> QWidget:
    window = _invoices_area(session)
    area = window.show_area("invoices")  # type: ignore[attr-defined]
    area.history.show_paid.setChecked(False)
    area.history.set_status_filter(InvoiceStatus.OVERDUE)
    return window


def _invoice_history_no_match(session: ScreenshotSession) -> QWidget:
    window = _invoices_area(session)
    area = window.show_area("invoices")  # type: ignore[attr-defined]
    area.history.set_search("no such invoice 0000")
    return window


def _invoice_history_empty(session: ScreenshotSession) -> QWidget:
    """A profile that has been set up and connected but not synced yet."""
    from app.core.config import set_internal_currency

    context = session.fresh_context()
    set_internal_currency(context.engine, "USD", actor="screenshots")
    return session.main_window(area="invoices", context=context)


def _invoice_page(session: ScreenshotSession) -> QWidget:
    window = _invoices_area(session)
    area = window.show_area("invoices")  # type: ignore[attr-defined]
    with session_scope(session.engine) as s:
        # An invoice PayDesk took a payment on, else the owed invoice with the most lines.
        invoice_id = s.scalar(
            select(PaymentAllocation.invoice_id).order_by(PaymentAllocation.id).limit(1)
        ) or s.scalar(
            select(InvoiceLine.invoice_id)
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .where(Invoice.status.in_(("open", "partially_paid")))
            .group_by(InvoiceLine.invoice_id)
            .order_by(func.count().desc(), InvoiceLine.invoice_id)
            .limit(1)
        )
    if invoice_id is not None:
        area.open_invoice(invoice_id)
    return window


def _organization_list(session: ScreenshotSession) -> QWidget:
    _ensure_data(session)
    return session.main_window(area="organizations")


def _organization_page(session: ScreenshotSession) -> QWidget:
    _ensure_data(session)
    window = session.main_window(area="organizations")
    area = window.show_area("organizations")  # type: ignore[attr-defined]
    with session_scope(session.engine) as s:
        # The organization with the most invoices makes the fullest page.
        organization_id = s.scalar(
            select(Invoice.organization_id)
            .join(Organization, Organization.id == Invoice.organization_id)
            .group_by(Invoice.organization_id)
            .order_by(func.count().desc(), Invoice.organization_id)
            .limit(1)
        )
    if organization_id is not None:
        area.show_organization(organization_id)
        if area.page is not None:
            area.page.invoices.show_paid.setChecked(True)
    return window


register_screen("invoice-history", _invoice_history)
register_screen("invoice-history-filtered", _invoice_history_filtered)
register_screen("invoice-history-empty", _invoice_history_empty)
register_screen("invoice-history-no-match", _invoice_history_no_match)
register_screen("invoice-page", _invoice_page)
register_screen("organization-list", _organization_list)
register_screen("organization-page", _organization_page)
