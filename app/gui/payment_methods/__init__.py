"""An organization's saved payment methods (cards and bank accounts), as a widget that other
screens embed: ``SavedMethodsPanel(context, organization_id)``."""

from app.gui.payment_methods.panel import SavedMethodsPanel

__all__ = ["SavedMethodsPanel"]
