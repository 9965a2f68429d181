"""The setup wizard (see `wizard.SetupWizard`) and its plug-in mechanism (`plugins`)."""

from app.gui.wizard.plugins import PAGE_MODULES, WizardPagePlugin
from app.gui.wizard.wizard import SetupWizard

__all__ = ["PAGE_MODULES", "SetupWizard", "WizardPagePlugin"]
