"""Render every screen of PayDesk to PNG files, offscreen: ``python -m app.gui.screenshots OUTDIR``.

Used to look at screens without a desktop, and to keep the README's pictures current.

Adding a screen: in your screen's module (or a small ``screens.py`` beside it), call
``register_screen`` at import time, and add the module's name to ``SCREEN_MODULES`` below —
one line. The scene modules live in this package, beside this engine (``shell``, ``wizard``,
``invoices`` …): they seed sandbox data, which the screens themselves never import (they
reach the sandboxes only through the demo)::

    from app.gui.screenshots import ScreenshotSession, register_screen

    def _invoice_history(session: ScreenshotSession) -> QWidget:
        return session.main_window(area="invoices")

    register_screen("invoice-history", _invoice_history)

``build`` receives the ``ScreenshotSession``: a temporary profile whose database holds
sandbox data (the Autotask sandbox is started in-process and synced into it when the sandbox
and the sync are part of this build), the internal currency set, and an ``AppContext``. It
returns the widget to render (a window, a dialog or a single widget); the session shows it
at the screen's size, waits for background tasks to finish, and saves the PNG.

Options: ``--only PATTERN`` (shell-style, e.g. ``'main-window*'``) renders some screens only;
``--list`` prints the registered names; ``--dark`` renders them in the dark colour scheme
(``<name>-dark.png``, see ``app.gui.theme``); ``--scale 2`` at 200 % (``QT_SCALE_FACTOR``,
``<name>@2x.png``: twice the pixels, as on a high-density screen).
"""

from __future__ import annotations

import argparse
import fnmatch
import importlib
import logging
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QEventLoop
from PySide6.QtWidgets import QWidget

from app.core.config import Profile, set_internal_currency
from app.core.credentials import CredentialStore, SecretName
from app.core.storage.engine import open_database
from app.gui.context import AppContext
from app.gui.widgets.remembered import GUI_SETTINGS_FILENAME

#: Modules that register screens when imported. Add yours here (one line).
SCREEN_MODULES: tuple[str, ...] = (
    "app.gui.screenshots.shell",
    "app.gui.screenshots.wizard",
    "app.gui.screenshots.invoices",
    "app.gui.screenshots.payment_methods",
    "app.gui.screenshots.sync",
    "app.gui.screenshots.payments",
    "app.gui.screenshots.quickbooks",
    "app.gui.screenshots.authorizenet",
    "app.gui.screenshots.autopay",
    "app.gui.screenshots.email",
    "app.gui.screenshots.settings",
    "app.gui.screenshots.exact_lines",
    "app.gui.screenshots.reading",
)

#: The Autotask sandbox's seed and size for screenshots: enough for full tables, quick to sync.
SANDBOX_SEED = 20_240
SANDBOX_COMPANIES = 60
SANDBOX_INVOICES = 600

DEFAULT_SIZE = (1280, 800)

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class Screen:
    name: str
    build: Callable[[ScreenshotSession], QWidget]
    size: tuple[int, int]
    #: Renders after every other screen: it changes the shared sandbox data (charges, pay
    #: links) that screens rendered in name order expect to find as the payment scene left it.
    late: bool = False


_screens: dict[str, Screen] = {}


def register_screen(
    name: str,
    build: Callable[[ScreenshotSession], QWidget],
    *,
    size: tuple[int, int] = DEFAULT_SIZE,
    late: bool = False,
) -> None:
    """Register a screen to render as ``OUTDIR/<name>.png``. Names are unique. Screens render
    in name order; ``late`` ones after all the others (see :attr:`Screen.late`)."""
    if name in _screens and _screens[name].build is not build:
        raise ValueError(f"A screen named {name!r} is already registered")
    _screens[name] = Screen(name, build, size, late)


def registered_screens() -> list[Screen]:
    return sorted(_screens.values(), key=lambda screen: (screen.late, screen.name))


def load_screen_modules() -> None:
    for module_name in SCREEN_MODULES:
        importlib.import_module(module_name)


class ScreenshotSession:
    """A throwaway profile with sandbox data, and the helpers screens need to build widgets.

    Runs on the GUI thread. Use as a context manager; everything it started is stopped and its
    folder removed on exit.
    """

    def __init__(self, currency: str = "USD", with_sandbox: bool = True) -> None:
        self._folder = Path(tempfile.mkdtemp(prefix="paydesk-screens-"))
        self.profile = Profile.open(self._folder / "profile")
        self.engine = open_database(self.profile.database_url)
        set_internal_currency(self.engine, currency, actor="screenshots")
        # One store for the whole session: without a system keychain it keeps secrets in memory.
        self.credentials = CredentialStore(self.profile.key)
        self.autotask: Any = None
        self.synced = False
        if with_sandbox:
            self._load_sandbox_data()
        self.context = AppContext(
            profile=self.profile,
            engine=self.engine,
            credentials=self.credentials,
        )
        self._fresh: list[tuple[Any, AppContext]] = []
        self._widgets: list[QWidget] = []

    def __enter__(self) -> ScreenshotSession:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _load_sandbox_data(self) -> None:
        """Start the Autotask sandbox and sync it into the database, when both exist."""
        try:
            from app.sandbox.autotask import AutotaskSandbox
        except ModuleNotFoundError:
            return
        self.autotask = AutotaskSandbox(
            seed=SANDBOX_SEED,
            companies=SANDBOX_COMPANIES,
            contacts=SANDBOX_COMPANIES * 3,
            contracts=SANDBOX_COMPANIES,
            tickets=SANDBOX_INVOICES // 2,
            invoices=SANDBOX_INVOICES,
        )
        self.autotask.start()
        self._connect_autotask()
        self.synced = sync_sandbox_into(self.autotask, self.engine)

    def _connect_autotask(self) -> None:
        """Test and store the sandbox's API user as Setup does, so the screens show a
        PayDesk that is set up (Settings, status bar, Setup not needed)."""
        from app.core.connections import record_successful_test, save_autotask_secret
        from app.core.setup.autotask_step import AutotaskForm, run_connection_test

        credentials = self.autotask.credentials
        form = AutotaskForm(
            username=credentials.username,
            secret=credentials.secret,
            integration_code=credentials.integration_code,
            discovery_url=self.autotask.url,
        )
        outcome = run_connection_test(form)
        if outcome.report is None:
            raise RuntimeError(f"The Autotask sandbox refused its own API user: {outcome}")
        save_autotask_secret(self.credentials, credentials.secret)
        record_successful_test(self.engine, form.connection(), outcome.report)

    def fresh_context(self) -> AppContext:
        """A second, empty profile where Setup has not run (no currency, no data)."""
        profile = Profile.open(self._folder / f"fresh-{len(self._fresh)}")
        engine = open_database(profile.database_url)
        context = AppContext(
            profile=profile, engine=engine, credentials=CredentialStore(profile.key)
        )
        self._fresh.append((engine, context))
        return context

    def main_window(self, area: str | None = None, context: AppContext | None = None) -> QWidget:
        """PayDesk's main window on ``area`` (the first area when None)."""
        from app.gui.main_window import MainWindow

        window = MainWindow(context or self.context)
        if area is not None:
            window.show_area(area)
        return window

    def keep(self, widget: QWidget) -> QWidget:
        """Keep a helper widget (e.g. a dialog's parent) alive until the session closes."""
        self._widgets.append(widget)
        return widget

    #: Added to each file name (``-dark``, ``@2x``) when the screens are rendered so.
    suffix = ""

    def render(self, screen: Screen, folder: Path) -> Path:
        # Each screen starts from the default layout: no window size, columns or filters
        # remembered from the screen rendered before it.
        for context in [self.context, *(c for _e, c in self._fresh)]:
            (context.profile.folder / GUI_SETTINGS_FILENAME).unlink(missing_ok=True)
        widget = screen.build(self)
        widget.resize(*screen.size)
        widget.show()
        settle()
        path = folder / f"{screen.name}{self.suffix}.png"
        if not widget.grab().save(str(path)):
            raise OSError(f"Could not write {path}")
        widget.close()
        widget.deleteLater()
        settle(wait_for_tasks=False)
        return path

    def close(self) -> None:
        self._forget_secrets()
        for widget in self._widgets:
            widget.close()
            widget.deleteLater()
        settle(wait_for_tasks=False)
        if self.autotask is not None:
            self.autotask.stop()
        for engine, _context in self._fresh:
            engine.dispose()
        self.engine.dispose()
        shutil.rmtree(self._folder, ignore_errors=True)


    def _forget_secrets(self) -> None:
        """Remove what the screens stored in the keychain for these throwaway profiles."""
        names = [v for k, v in vars(SecretName).items() if not k.startswith("_")]
        for context in [self.context, *(c for _e, c in self._fresh)]:
            for name in names:
                try:
                    context.credentials.delete(name)
                except Exception:  # a keychain that refuses is not worth failing screenshots
                    log.warning("Could not remove the screenshot profile's %s", name)


def sync_sandbox_into(sandbox: Any, engine: Any) -> bool:
    """Run PayDesk's sync from the sandbox into ``engine``; False when the sync is not built."""
    try:
        sync = importlib.import_module("app.core.sync")
    except ModuleNotFoundError:
        return False
    run = getattr(sync, "sync_from_sandbox", None)
    if run is None:
        return False
    run(sandbox, engine)
    return True


def settle(timeout: float = 10.0, *, wait_for_tasks: bool = True) -> None:
    """Let the event loop run until background tasks are done and the screen is painted."""
    from app.gui.workers import active_tasks

    deadline = time.monotonic() + timeout
    while True:
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        if not wait_for_tasks or not active_tasks() or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    for _ in range(3):
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)


@dataclass(frozen=True)
class RenderReport:
    written: list[Path]
    #: Screen name -> the error that stopped it (the other screens are still rendered).
    failed: dict[str, str]


def render_screens(folder: Path, only: str | None = None, *, dark: bool = False,
                   scale: float = 1.0) -> RenderReport:
    """Render the registered screens (those matching ``only``) into ``folder``, in the dark
    colour scheme when ``dark``. ``scale`` only names the files: the scale factor itself
    must be in ``QT_SCALE_FACTOR`` before the application starts (``main`` sets it)."""
    from PySide6.QtCore import Qt

    from app.gui.app import create_application
    from app.gui.resources import style_sheet
    from app.gui.theme import apply_theme

    app = create_application()
    if dark:
        app.styleHints().setColorScheme(Qt.ColorScheme.Dark)
        apply_theme(app, style_sheet(), dark=True)
    suffix = ("-dark" if dark else "") + (f"@{scale:g}x" if scale != 1 else "")
    load_screen_modules()
    screens = [s for s in registered_screens() if only is None or fnmatch.fnmatch(s.name, only)]
    folder.mkdir(parents=True, exist_ok=True)
    report = RenderReport([], {})
    with ScreenshotSession() as session:
        session.suffix = suffix
        for screen in screens:
            try:
                report.written.append(session.render(screen, folder))
            except Exception:
                log.exception("Screen %s could not be rendered", screen.name)
                report.failed[screen.name] = traceback.format_exc()
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.gui.screenshots",
        description="Render every PayDesk screen offscreen to PNG files.",
    )
    parser.add_argument("outdir", type=Path, nargs="?", help="folder for the PNG files")
    parser.add_argument("--only", metavar="PATTERN", help="render matching screens only")
    parser.add_argument("--list", action="store_true", help="list the screens and exit")
    parser.add_argument("--dark", action="store_true",
                        help="render in the dark colour scheme (files named <screen>-dark.png)")
    parser.add_argument("--scale", type=float, default=1.0, metavar="FACTOR",
                        help="render at this scale, e.g. 2 for 200%% (files named "
                        "<screen>@2x.png)")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before the QApplication exists
    if args.scale != 1:
        if not 0.5 <= args.scale <= 4:
            parser.error("--scale takes a factor from 0.5 to 4, e.g. 2 for 200%")
        from PySide6.QtWidgets import QApplication

        if QApplication.instance() is not None:
            parser.error("--scale must be chosen before PayDesk's window system starts")
        os.environ["QT_SCALE_FACTOR"] = f"{args.scale:g}"
    if args.list:
        load_screen_modules()
        for screen in registered_screens():
            sys.stdout.write(f"{screen.name}\n")
        return 0
    if args.outdir is None:
        parser.error("OUTDIR is required")
    logging.basicConfig(level=logging.WARNING)
    report = render_screens(args.outdir, args.only, dark=args.dark, scale=args.scale)
    for path in report.written:
        sys.stdout.write(f"{path}\n")
    for name in report.failed:
        sys.stderr.write(f"FAILED: {name} (traceback above)\n")
    if not report.written and not report.failed:
        sys.stderr.write("No screen matches.\n")
        return 1
    return 1 if report.failed else 0
