"""The setup wizard: Before you start, Internal currency, Autotask API user, (plug-in pages),
First sync. It opens at the first start and again from Settings (pre-filled, currency locked).

Pages are keyed by their place in `app.core.setup.steps.STEP_ORDER`, which is also their
QWizard page id, so plug-in pages (`app.gui.wizard.plugins`) slot in between.
"""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QDialog, QWidget, QWizard, QWizardPage

from app.core.setup.steps import STEP_ORDER
from app.gui.context import AppContext
from app.gui.widgets.accessible import name_fields_from_labels
from app.gui.wizard.autotask_page import AutotaskPage
from app.gui.wizard.currency_page import CurrencyPage
from app.gui.wizard.first_sync_page import FirstSyncPage
from app.gui.wizard.plugins import available_plugins
from app.gui.wizard.welcome_page import WelcomePage


class SetupWizard(QWizard):
    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.setObjectName("setupWizard")
        self.setWindowTitle("Set up PayDesk")
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.setOption(QWizard.WizardOption.NoCancelButtonOnLastPage, True)
        self.setOption(QWizard.WizardOption.NoDefaultButton, True)
        self.setMinimumSize(QSize(720, 560))

        plugins = available_plugins(context)
        checklist = [p.checklist_item for p in plugins if p.checklist_item]
        self.welcome_page = WelcomePage(context, checklist, self)
        self.currency_page = CurrencyPage(context, self)
        self.autotask_page = AutotaskPage(context, self)
        self.first_sync_page = FirstSyncPage(context, self)
        self.setPage(STEP_ORDER["welcome"], self.welcome_page)
        self.setPage(STEP_ORDER["currency"], self.currency_page)
        self.setPage(STEP_ORDER["autotask"], self.autotask_page)
        self.plugin_pages: dict[str, QWizardPage] = {}
        for plugin in plugins:
            page = plugin.factory(context, self)
            self.plugin_pages[plugin.key] = page
            self.setPage(plugin.order, page)
        self.setPage(STEP_ORDER["first_sync"], self.first_sync_page)
        name_fields_from_labels(self)  # screen readers read each field's label
        for control in self.findChildren(QWidget):
            description = _description(control.objectName())
            if description and not control.accessibleDescription():
                control.setAccessibleDescription(description)

    def done(self, result: int) -> None:
        self.autotask_page.cancel_test()
        super().done(result)
        if result == int(QDialog.DialogCode.Accepted):
            # Land where the bookkeeper works: Invoice History (the main window's area).
            show_area = getattr(self.parentWidget(), "show_area", None)
            if callable(show_area):
                show_area("invoices")


#: What a screen reader says after each Setup control's name (by object name; a gateway's
#: fields are named after its key, e.g. ``stripeSecretKey``).
_DESCRIPTIONS = {
    "currencyCombo": "The currency your Autotask invoices are in; it can never be changed",
    "currencyConfirmCheck": "Confirm the currency before going on",
    "autotaskSecret": "The API user's secret, kept in this computer's keychain",
    "autotaskIntegrationCode": "The API tracking identifier of the API user in Autotask",
    "autotaskAdvanced": "Show the zone address, for when PayDesk cannot find it",
    "testConnectionButton": "Check that Autotask accepts this API user",
    "gatewayKind": "The payment gateway that takes your clients' payments",
    "SecretKey": "The gateway's secret key, kept in this computer's keychain",
    "SecretKeyShow": "Show the key while you type it",
    "gatewayTestButton": "Check that the gateway accepts this key",
    "quickbooksKind": "QuickBooks Online, QuickBooks Desktop, or none",
    "quickbooksKeys": "Production keys for your real company, or development keys",
    "quickbooksClientSecret": "From Keys & credentials in Intuit's developer portal",
    "quickbooksSecretShow": "Show the client secret while you type it",
    "quickbooksConnectButton": "Sign in to QuickBooks in your browser",
    "quickbooksUsePastedButton": "Finish signing in with the address pasted here",
    "quickbooksQwcUrl": "The address the Web Connector calls PayDesk on",
    "quickbooksQwcButton": "Save the file to add PayDesk to the Web Connector",
}


def _description(object_name: str) -> str | None:
    if object_name in _DESCRIPTIONS:
        return _DESCRIPTIONS[object_name]
    for suffix in ("SecretKeyShow", "SecretKey"):
        if object_name.endswith(suffix):
            return _DESCRIPTIONS[suffix]
    return None

