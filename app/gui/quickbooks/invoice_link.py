"""The invoice page's QuickBooks part: the matched QuickBooks invoice's number, balance and
Open in QuickBooks (QuickBooks Online only — Desktop has no web addresses).

Installed through ``INVOICE_PAGE_EXTENSIONS``. Each time the page shows an invoice, the match
is read in a worker and handed to ``InvoicePage.show_quickbooks`` on the GUI thread.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QObject, Slot

from app.core.quickbooks.review import QuickBooksLink, quickbooks_link
from app.gui.context import AppContext
from app.gui.workers import run_task

__all__ = ["install_invoice_page_quickbooks"]


class _QuickBooksFacts(QObject):
    """Lives with the page (its child); asks for the link when an invoice is shown."""

    def __init__(self, page: QObject, context: AppContext) -> None:
        super().__init__(page)
        self.page = page
        self.context = context
        self._ticket = 0

    @Slot(int)
    def invoice_shown(self, invoice_id: int) -> None:
        self._ticket += 1
        run_task("read the invoice's QuickBooks match", quickbooks_link, self.context.engine,
                 invoice_id, on_success=partial(self._show, self._ticket),
                 on_failure=lambda _failure: None)

    def _show(self, ticket: int, link: QuickBooksLink | None) -> None:
        if ticket != self._ticket:
            return  # another invoice was opened meanwhile
        show = getattr(self.page, "show_quickbooks", None)
        if show is None:
            return
        if link is None:
            show(None, None)
        else:
            show(link.balance_minor, link.url, link.doc_number or None, link.how)


def install_invoice_page_quickbooks(page: QObject, context: AppContext) -> None:
    facts = _QuickBooksFacts(page, context)
    shown = getattr(page, "invoiceShown", None)
    if shown is not None:
        shown.connect(facts.invoice_shown)
