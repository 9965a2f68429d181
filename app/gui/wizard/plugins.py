"""How pages plug into the setup wizard.

The wizard always has its own pages (Before you start, Internal currency, Autotask API user,
First sync). Other parts of PayDesk add a page by writing a module listed in `PAGE_MODULES`
that defines ``PAGE = WizardPagePlugin(...)``::

    # app/gui/wizard/gateway_page.py
    PAGE = WizardPagePlugin(
        key="gateway",                       # its place: app.core.setup.steps.STEP_ORDER
        factory=GatewayPage,                 # (context, parent) -> QWizardPage
        checklist_item="Your payment gateway account\nStripe Dashboard > Developers > API keys.",
        is_available=lambda context: True,   # False hides the page (e.g. nothing to set up)
    )

A module that does not exist yet is simply left out, and so is a page whose
``is_available`` says no: the wizard never shows a page that does nothing. A step that must
be done before PayDesk can be used also registers an `app.core.setup.steps.SetupRequirement`
in the core, so ``paydesk doctor`` and the first start know about it.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtWidgets import QWidget, QWizardPage

from app.core.setup.steps import STEP_ORDER
from app.gui.context import AppContext

log = logging.getLogger(__name__)

PageFactory = Callable[[AppContext, QWidget | None], QWizardPage]

#: Modules that may provide a wizard page (``PAGE``), in no particular order.
PAGE_MODULES: tuple[str, ...] = (
    "app.gui.wizard.gateway_page",
    "app.gui.wizard.quickbooks_page",
)


def _always(_context: AppContext) -> bool:
    return True


@dataclass(frozen=True)
class WizardPagePlugin:
    key: str
    factory: PageFactory
    #: An item for the "Before you start" checklist: "what to have ready\nwhere to find it"
    #: (the first line is shown in bold); without a line break it is shown as plain text.
    checklist_item: str | None = None
    is_available: Callable[[AppContext], bool] = _always

    @property
    def order(self) -> int:
        return STEP_ORDER[self.key]


def available_plugins(context: AppContext) -> list[WizardPagePlugin]:
    """The plug-in pages that exist and apply to this installation, in wizard order."""
    found: list[WizardPagePlugin] = []
    for module_name in PAGE_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:  # the page exists but something it needs is missing
                raise
            continue
        plugin = getattr(module, "PAGE", None)
        if not isinstance(plugin, WizardPagePlugin):
            log.warning("%s does not define a wizard PAGE; it is left out", module_name)
            continue
        if plugin.is_available(context):
            found.append(plugin)
    return sorted(found, key=lambda p: p.order)
