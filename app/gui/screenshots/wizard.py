"""The setup wizard's pages for ``python -m app.gui.screenshots``.

Each screen walks a fresh profile through the wizard against the screenshot session's
Autotask sandbox, the way a bookkeeper would, and stops on the page to show.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QLineEdit, QWidget

from app.gui.context import AppContext
from app.gui.screenshots import ScreenshotSession, register_screen, settle
from app.gui.wizard.wizard import SetupWizard

SIZE = (820, 640)


def _demo_context(session: ScreenshotSession) -> AppContext:
    """A fresh profile whose wizard pre-fills the sandbox's API user, as ``--demo`` does."""
    from app.sandbox.demo import DemoEnvironment

    context = session.fresh_context()
    if session.autotask is not None:
        # Not closed by the session: it only describes the session's own sandbox.
        context.demo = DemoEnvironment(context.profile.folder / "demo", context.profile,
                                       session.autotask, None)
    return context


def _wizard(context: AppContext, session: ScreenshotSession) -> SetupWizard:
    wizard = SetupWizard(context)
    session.keep(wizard)
    wizard.resize(*SIZE)
    wizard.show()
    settle()
    return wizard


def _next(wizard: SetupWizard) -> None:
    """Next, and let the pages' reads and writes (workers) land: a page that stores in a
    worker moves on by itself once it has."""
    wizard.next()
    settle()


def _to_autotask(wizard: SetupWizard) -> None:
    _next(wizard)  # welcome → currency (the lock is read in a worker)
    page = wizard.currency_page
    if page.locked_code is None:
        page.confirm.setChecked(True)
    _next(wizard)  # currency → Autotask (locked in a worker, then the page moves on)


def _tested(wizard: SetupWizard) -> None:
    wizard.autotask_page.test_button.click()
    settle()


def welcome(session: ScreenshotSession) -> QWidget:
    return _wizard(session.fresh_context(), session)


def currency(session: ScreenshotSession) -> QWidget:
    wizard = _wizard(session.fresh_context(), session)
    _next(wizard)
    return wizard


def currency_locked(session: ScreenshotSession) -> QWidget:
    wizard = _wizard(session.context, session)  # the session's currency is already locked
    _next(wizard)
    return wizard


def autotask(session: ScreenshotSession) -> QWidget:
    wizard = _wizard(_demo_context(session), session)
    _to_autotask(wizard)
    return wizard


def autotask_connected(session: ScreenshotSession) -> QWidget:
    wizard = _wizard(_demo_context(session), session)
    _to_autotask(wizard)
    _tested(wizard)
    return wizard


def autotask_failed(session: ScreenshotSession) -> QWidget:
    wizard = _wizard(_demo_context(session), session)
    _to_autotask(wizard)
    secret = wizard.autotask_page.findChild(QLineEdit, "autotaskSecret")
    assert secret is not None
    secret.setText("an-old-secret")
    _tested(wizard)
    return wizard


def first_sync(session: ScreenshotSession) -> QWidget:
    wizard = _wizard(_demo_context(session), session)
    _to_autotask(wizard)
    _tested(wizard)
    for _ in range(5):  # plug-in pages (payment gateway…) are left empty: connected later
        if wizard.currentPage() is wizard.first_sync_page:
            break
        _next(wizard)
    settle(60)
    return wizard


SCREENS: dict[str, Callable[[ScreenshotSession], QWidget]] = {
    "wizard-1-welcome": welcome,
    "wizard-2-currency": currency,
    "wizard-2-currency-locked": currency_locked,
    "wizard-3-autotask": autotask,
    "wizard-3-autotask-connected": autotask_connected,
    "wizard-3-autotask-failed": autotask_failed,
    "wizard-9-first-sync-done": first_sync,
}

for _name, _build in SCREENS.items():
    register_screen(_name, _build, size=SIZE)
