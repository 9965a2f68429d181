"""An organization's saved payment methods (cards and bank accounts), as a widget that other
screens embed: ``SavedMethodsPanel(context, organization_id)``.

The Organization page adds it as a section through its extension list
(``app.gui.organizations.ORGANIZATION_PAGE_EXTENSIONS``) with the path
``"app.gui.payment_methods:add_to_organization_page"``.
"""

from __future__ import annotations

from typing import Protocol

from PySide6.QtWidgets import QWidget

from app.gui.context import AppContext
from app.gui.payment_methods.panel import SavedMethodsPanel

__all__ = ["SavedMethodsPanel", "add_to_organization_page"]


class _OrganizationPage(Protocol):
    organization_id: int

    def add_section(self, title: str, widget: QWidget) -> None: ...


def add_to_organization_page(page: _OrganizationPage, context: AppContext) -> SavedMethodsPanel:
    """Add the "Payment methods" section to an organization's page (GUI thread)."""
    panel = SavedMethodsPanel(context, page.organization_id)
    page.add_section("Payment methods", panel)
    return panel
