"""The Invoice page with four-decimal unit prices (``invoice-page-exact-lines``): a line of
3 × $12.3456 = $37.0368 and a fixed-fee line of $888.9632 are shown as Autotask holds them;
together they make whole cents again, and the invoice's total, tax and balance stay in
cents."""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtWidgets import QWidget
from sqlalchemy import func, select, update

from app.core.money import line_amount
from app.core.storage.engine import session_scope
from app.core.storage.models import Invoice, InvoiceLine
from app.gui.screenshots import ScreenshotSession, register_screen
from app.gui.screenshots.invoices import _invoices_area


def _invoice_page_exact_lines(session: ScreenshotSession) -> QWidget:
    window = _invoices_area(session)
    area = window.show_area("invoices")  # type: ignore[attr-defined]
    with session_scope(session.engine) as s:
        invoice_id = s.scalar(
            select(InvoiceLine.invoice_id)
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .where(Invoice.status.in_(("open", "partially_paid")))
            .group_by(InvoiceLine.invoice_id)
            .order_by(func.count().desc(), InvoiceLine.invoice_id)
            .limit(1)
        )
        first, second = s.scalars(select(InvoiceLine).where(
            InvoiceLine.invoice_id == invoice_id).order_by(InvoiceLine.id).limit(2)).all()
        both = first.extended_price_e4 + second.extended_price_e4
        rest = both - 370368  # what the second line carries so the two still add up
        s.execute(update(InvoiceLine).where(InvoiceLine.id == first.id).values(
            description="Microsoft 365 Business Premium (per seat, monthly)",
            quantity=Decimal("3"), rate=Decimal("12.3456"), extended_price_e4=370368,
            total_e4=370368 + first.tax_e4))
        s.execute(update(InvoiceLine).where(InvoiceLine.id == second.id).values(
            description="Project labor (fixed fee, prorated)", quantity=Decimal("1"),
            rate=line_amount(rest), extended_price_e4=rest, total_e4=rest + second.tax_e4))
    if invoice_id is not None:
        area.open_invoice(invoice_id)
    return window


register_screen("invoice-page-exact-lines", _invoice_page_exact_lines)
