"""Screenshots of the Sync area (registered with ``app.gui.screenshots``).

The screen gets its own sandbox with a few damaged invoices, a first sync and a later sync
of real changes, so the history and the quarantine list show what a bookkeeper would see;
``sync-before-setup`` is the same area before Setup connected Autotask.
"""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from app.core.config import set_internal_currency
from app.core.connections import (
    AutotaskConnection,
    save_autotask_connection,
    save_autotask_secret,
)
from app.core.sync import sync_from_sandbox
from app.gui.screenshots import ScreenshotSession, register_screen, settle
from app.gui.sync.area import create_sync_area
from app.sandbox.autotask.server import AutotaskSandbox


def _sync_area(session: ScreenshotSession) -> QWidget:
    context = session.fresh_context()
    set_internal_currency(context.engine, "USD", actor="screenshots")
    with AutotaskSandbox(seed=31, companies=60, contacts=180, contracts=40, tickets=800,
                         invoices=600, bad_records=3) as sandbox:
        c = sandbox.credentials
        save_autotask_connection(context.engine, AutotaskConnection(
            username=c.username, integration_code=c.integration_code,
            discovery_url=sandbox.url))
        save_autotask_secret(context.credentials, c.secret)
        sync_from_sandbox(sandbox, context.engine)
        company = sandbox.create_company(companyName="Harbour View Dental")
        sandbox.create_invoice(company["id"], [("Onboarding", "1", "450.00")])
        sync_from_sandbox(sandbox, context.engine)
    widget = session.keep(create_sync_area(context))
    widget.resize(1280, 800)
    settle()
    return widget


def _sync_area_before_setup(session: ScreenshotSession) -> QWidget:
    context = session.fresh_context()
    set_internal_currency(context.engine, "USD", actor="screenshots")
    widget = session.keep(create_sync_area(context))
    widget.resize(1280, 800)
    settle()
    return widget


register_screen("sync", _sync_area)
register_screen("sync-before-setup", _sync_area_before_setup)
