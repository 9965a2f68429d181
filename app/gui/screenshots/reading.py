"""Scenes for what a bookkeeper reads in the Order Summary: a partial payment that says what
is still owed, and the secure page when the browser could not be opened (its address with
Copy address and Open again). Uses the payment scene of ``app.gui.screenshots.payments``."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QComboBox, QWidget
from sqlalchemy import select

from app.core.storage.engine import session_scope
from app.core.storage.models import Invoice
from app.gui.payments.order_summary import OrderSummaryDialog
from app.gui.screenshots import ScreenshotSession, register_screen, settle
from app.gui.screenshots.payments import DIALOG_SIZE, payment_scene


def _wait_until(condition: object, rounds: int = 200) -> None:
    for _ in range(rounds):
        if callable(condition) and condition():
            return
        settle()
        QCoreApplication.processEvents()


def _dialog(session: ScreenshotSession, organization: int, invoices: slice
            ) -> OrderSummaryDialog:
    """The Order Summary on the ``organization``-th organization of the payment scene.

    Screens render in name order, so these pay invoices no earlier screen shows open: the
    partial payment takes the sixth organization's invoices after the two the approved
    screen pays, and the secure page waits on an organization no other screen uses (both
    then appear in Transactions, as they would)."""
    scene = payment_scene(session)
    organizations = scene.organizations
    organization_id = organizations[min(organization, len(organizations) - 1)] \
        if organizations else 0
    ids = scene.invoices.get(organization_id, [])[invoices]
    dialog = OrderSummaryDialog(session.context, organization_id, ids, gateway=scene.gateway)
    session.keep(dialog)
    _wait_until(lambda: dialog.summary is not None)
    return dialog


def _open_pair(session: ScreenshotSession) -> tuple[int, list[int]]:
    """An organization with a saved card (the scene saves one for its first six) and two
    invoices still wholly open, after what the scene and the approved screen paid."""
    scene = payment_scene(session)
    for organization_id in scene.organizations[1:6]:
        with session_scope(session.engine) as s:
            ids = list(s.scalars(
                select(Invoice.id).where(
                    Invoice.organization_id == organization_id,
                    Invoice.status == "open", Invoice.balance_minor > 0,
                    Invoice.balance_minor == Invoice.total_minor,
                ).order_by(Invoice.due_date, Invoice.id).limit(2)))
        if len(ids) == 2:
            return organization_id, ids
    return 0, []


def order_summary_partial(session: ScreenshotSession) -> QWidget:
    scene = payment_scene(session)
    organization_id, ids = _open_pair(session)
    dialog = OrderSummaryDialog(session.context, organization_id, ids, gateway=scene.gateway)
    session.keep(dialog)
    _wait_until(lambda: dialog.summary is not None)
    if dialog.summary is not None and dialog.summary.amount is not None:
        half = dialog.summary.amount.minor // 2
        text = dialog._fmt(type(dialog.summary.amount)(half, dialog.summary.amount.currency))
        dialog.amount_edit.setText(text)
        dialog._on_amount_edited(text)
        dialog.recompute()
    dialog.pay()
    _wait_until(lambda: dialog.outcome is not None)
    return dialog


def order_summary_browser_failed(session: ScreenshotSession) -> QWidget:
    dialog = _dialog(session, 6, slice(0, 1))
    dialog.page_link.open_url = lambda _url: False  # as when no browser can be started
    combo = dialog.findChild(QComboBox, "paymentMethod")
    if combo is not None:
        combo.setCurrentIndex(combo.findText("New card or bank account…"))
    dialog.recompute()
    dialog.pay()
    _wait_until(lambda: dialog.page_link.isVisibleTo(dialog))
    dialog._poll_timer.stop()  # the screenshot shows the wait, not its end
    return dialog


register_screen("order-summary-partial", order_summary_partial, size=DIALOG_SIZE)
register_screen("order-summary-browser-failed", order_summary_browser_failed, size=DIALOG_SIZE)
