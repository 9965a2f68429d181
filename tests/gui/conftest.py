"""Fixtures for widget tests (pytest-qt).

* ``app_context``: an ``AppContext`` on a fresh migrated SQLite database in a temporary
  profile, with no internal currency yet (as at first start). Background tasks are waited
  for before the database is closed.
* ``set_up_context``: the same with the internal currency set (USD), as after Setup.

Every GUI test runs with Python's automatic garbage collection off and collects on the main
thread when it ends, as PayDesk itself does (``app.gui.gc``): a collection started by a
worker thread could otherwise destroy Qt objects off the GUI thread and crash the run.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

# Widget tests never need a screen; set before pytest-qt creates the QApplication.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from app.core.config import Profile, set_internal_currency
from app.core.credentials import CredentialStore
from app.gui.context import AppContext


def wait_for_background_tasks(qtbot: object, timeout_ms: int = 10_000) -> None:
    from app.gui.workers import active_tasks

    qtbot.waitUntil(lambda: not active_tasks(), timeout=timeout_ms)  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def application_metrics_restored(qapp: object) -> Iterator[None]:
    """A test that builds PayDesk's application (``create_application``, the screenshot
    command) gives the whole process its style and font; put them back, so the tests that
    follow lay tables out in the metrics they expect."""
    from PySide6.QtGui import QFont
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    style, font = app.style().name(), QFont(app.font())
    yield
    if app.font() != font:
        app.setFont(font)
    if app.style().name() != style:
        app.setStyle(style)


@pytest.fixture(autouse=True)
def collect_garbage_on_the_main_thread() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.collect()
        if was_enabled:
            gc.enable()
        else:
            gc.disable()


@pytest.fixture
def app_context(tmp_path: Path, sqlite_engine: Engine, qtbot: object) -> Iterator[AppContext]:
    folder = tmp_path / "profile"
    folder.mkdir()
    profile = Profile(folder, sqlite_engine.url.render_as_string(hide_password=False))
    context = AppContext(
        profile=profile, engine=sqlite_engine, credentials=CredentialStore(profile.key)
    )
    yield context
    wait_for_background_tasks(qtbot)


@pytest.fixture
def set_up_context(app_context: AppContext) -> AppContext:
    set_internal_currency(app_context.engine, "USD", actor="tests")
    return app_context
