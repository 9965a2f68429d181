"""Starting the PayDesk window: ``run_gui(args)``, called by ``paydesk`` without a command.

In order: the Qt application (style sheet, icon); the profile (or, with ``--demo``, the
sandbox servers and a throwaway profile from ``app.sandbox.demo``); logging into the profile's
``logs`` folder; the single-instance guard (a lock file in the profile folder: a second
PayDesk on the same profile asks the open one, through a local socket (`InstanceServer`), to
bring its window to the front, or says that PayDesk is open when it cannot reach it, and
exits); the crash handler (``sys.excepthook``); the database, migrated to the newest schema;
garbage collection moved to the GUI thread (``app.gui.gc``); the main window; then the Qt
event loop. (Background work runs on the worker pool, ``app.gui.workers``; listeners such as
QuickBooks' sign-in answer and the Web Connector service run on their own threads.)

``--smoke`` does all of that, shows the main window, lets the event loop turn, and exits 0;
problems are printed instead of shown in dialogs, so it works offscreen and in CI.

Exit codes: 0 normal; 2 the profile or database could not be opened; 3 PayDesk is already
open for this profile. Everything here runs on the GUI (main) thread.
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import logging
import socket
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QLockFile, QObject, Qt, QThreadPool, QTimer, Signal, Slot
from PySide6.QtGui import QFont
from PySide6.QtNetwork import QLocalServer, QLocalSocket
from PySide6.QtWidgets import QApplication, QMessageBox

from app import __version__
from app.core.config import APP_NAME, Profile
from app.core.credentials import CredentialStore
from app.core.logs import redact, setup_logging
from app.core.storage.engine import DatabaseError, open_database
from app.gui.context import AppContext
from app.gui.errors import CrashHandler, describe_exception
from app.gui.gc import GuiThreadGarbageCollector, freeze_startup_objects
from app.gui.invoices.formatting import set_display_locale
from app.gui.resources import ResourceNotFoundError, app_icon, style_sheet
from app.gui.stopping import StopOnSignals
from app.gui.theme import apply_theme

if TYPE_CHECKING:
    from app.gui.main_window import MainWindow
    from app.sandbox.demo import DemoEnvironment

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_CANNOT_START = 2
EXIT_ALREADY_RUNNING = 3

LOCK_FILENAME = "paydesk.lock"
#: How long closing PayDesk waits for background tasks to finish.
BACKGROUND_SHUTDOWN_MS = 15_000


# --- the single-instance guard ---------------------------------------------------------------


@dataclass
class InstanceLock:
    """The lock file that keeps a second PayDesk off the same profile.

    ``QLockFile`` writes the process id and host name into the file and notices a lock left
    behind by a PayDesk that crashed (its process is gone), so a crash never locks anyone out.
    """

    profile: Profile
    lock: QLockFile

    @classmethod
    def acquire(cls, profile: Profile) -> InstanceLock | None:
        """Take the profile's lock, or return None when another PayDesk holds it."""
        lock = QLockFile(str(profile.folder / LOCK_FILENAME))
        # A running PayDesk holds the lock for days: never call it stale because of its age.
        lock.setStaleLockTime(0)
        if lock.tryLock(0):
            return cls(profile, lock)
        return None

    def release(self) -> None:
        self.lock.unlock()


def already_open_message(profile: Profile) -> str:
    """What a second start says; names the other computer when the profile is shared."""
    lock = QLockFile(str(profile.folder / LOCK_FILENAME))
    try:
        _pid, host, _app = lock.getLockInfo()
    except (TypeError, ValueError):  # no lock information could be read
        host = ""
    where = ""
    if host and host != socket.gethostname():
        where = f" It is open on the computer {host}."
    return (
        f"PayDesk is already open for this profile ({profile.folder}).{where} "
        "Switch to the PayDesk window that is already open. Only one PayDesk at a time may "
        "use a profile, so two windows never write over each other."
    )


#: What a second start sends to the PayDesk already open on the profile.
ACTIVATE_REQUEST = b"activate\n"
#: How long a second start tries to reach the first one.
ACTIVATE_TIMEOUT_MS = 2_000


def instance_server_name(profile: Profile) -> str:
    """The local socket (named pipe on Windows) of the PayDesk open on ``profile``.

    Derived from the user and the profile folder, so two profiles, or two users, never meet.
    """
    key = f"{getpass.getuser()}\0{profile.folder.resolve()}"
    return "paydesk-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


class InstanceServer(QObject):
    """Listens, on the GUI thread, for a second start on the same profile.

    The second PayDesk sends ``ACTIVATE_REQUEST`` and exits; this one emits
    ``activateRequested`` so the window comes to the front instead of a second window
    opening. Only the owner of the profile's lock listens, so a name left behind by a PayDesk
    that crashed can safely be removed first.
    """

    activateRequested = Signal()

    def __init__(self, profile: Profile, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = instance_server_name(profile)
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self.server.newConnection.connect(self._accept)

    def listen(self) -> bool:
        QLocalServer.removeServer(self.name)
        if self.server.listen(self.name):
            log.info("A second start on this profile brings this window forward")
            return True
        # PayDesk works without it; a second start then only says that PayDesk is open.
        log.warning("A second start cannot reach this window: %s", self.server.errorString())
        return False

    def close(self) -> None:
        self.server.close()

    @Slot()
    def _accept(self) -> None:
        while (socket := self.server.nextPendingConnection()) is not None:
            socket.setParent(self)
            socket.readyRead.connect(self._read)
            socket.disconnected.connect(socket.deleteLater)
            self._read_from(socket)

    @Slot()
    def _read(self) -> None:
        socket = self.sender()
        if isinstance(socket, QLocalSocket):
            self._read_from(socket)

    def _read_from(self, socket: QLocalSocket) -> None:
        while socket.canReadLine():
            line = bytes(socket.readLine().data())
            if line == ACTIVATE_REQUEST:
                log.info("Another start of PayDesk on this profile: window brought to the front")
                self.activateRequested.emit()
            socket.disconnectFromServer()


def ask_open_instance_to_come_forward(profile: Profile) -> bool:
    """Ask the PayDesk open on ``profile`` (on this computer) to bring its window forward.

    Returns False when none answers: it is on another computer sharing the profile, or it
    is still starting.
    """
    socket = QLocalSocket()
    socket.connectToServer(instance_server_name(profile))
    if not socket.waitForConnected(ACTIVATE_TIMEOUT_MS):
        return False
    socket.write(ACTIVATE_REQUEST)
    sent = socket.flush() or socket.bytesToWrite() == 0
    if socket.bytesToWrite() > 0:
        sent = socket.waitForBytesWritten(ACTIVATE_TIMEOUT_MS)
    socket.disconnectFromServer()
    if socket.state() != QLocalSocket.LocalSocketState.UnconnectedState:
        socket.waitForDisconnected(ACTIVATE_TIMEOUT_MS)
    return sent


# --- starting ---------------------------------------------------------------------------------


def create_application() -> QApplication:
    """The QApplication with PayDesk's name, icon, style and font (reused if one exists)."""
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    if app.property("paydeskReady"):
        return app
    app.setProperty("paydeskReady", True)
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("paydesk")
    app.setStyle("Fusion")
    font = QFont(app.font())
    font.setPointSizeF(max(font.pointSizeF(), 10.0))
    app.setFont(font)
    try:
        app.setWindowIcon(app_icon())
        sheet = style_sheet()
        apply_theme(app, sheet)
        # The system switched between light and dark while PayDesk is open: the palette,
        # the style sheet and every widget's own colours follow (``apply_theme``).
        app.styleHints().colorSchemeChanged.connect(
            lambda scheme: apply_theme(app, sheet, dark=scheme == Qt.ColorScheme.Dark))
    except ResourceNotFoundError as exc:
        # PayDesk still works without its looks; say so in the log.
        log.warning("%s", exc)
    return app


class _Starter:
    """Reports start-up problems: printed always, and in a dialog unless ``--smoke``."""

    def __init__(self, smoke: bool, stopper: StopOnSignals | None = None) -> None:
        self.smoke = smoke
        #: Ctrl+C / SIGTERM from the terminal or the system (see ``app.gui.stopping``).
        self.stopper = stopper

    @property
    def stop_requested(self) -> bool:
        return self.stopper is not None and self.stopper.stop_requested is not None

    def fail(self, title: str, message: str) -> None:
        sys.stderr.write(f"PayDesk: {title}. {message}\n")
        log.error("%s: %s", title, message)
        if not self.smoke:
            box = QMessageBox(QMessageBox.Icon.Critical, f"PayDesk — {title}", title)
            box.setInformativeText(message)
            box.exec()


class _SmokeCheck(QObject):
    """With ``--smoke``: once the event loop runs and the window is up, exit."""

    def __init__(self, app: QApplication, window: MainWindow, crashes: CrashHandler) -> None:
        super().__init__(window)
        self.app = app
        self.window = window
        self.crashes = crashes

    @Slot()
    def finish(self) -> None:
        if self.window.broken_areas:
            names = ", ".join(sorted(self.window.broken_areas))
            sys.stderr.write(f"PayDesk: these areas could not be built: {names} (see the log)\n")
            self.app.exit(EXIT_CANNOT_START)
        elif self.crashes.crash_count:
            sys.stderr.write("PayDesk: an unexpected error happened while starting (see the log)\n")
            self.app.exit(EXIT_CANNOT_START)
        elif self.window.isVisible():
            log.info("Smoke start passed: database ready, main window shown")
            database = self.window.context.profile.describe_database()
            sys.stdout.write(f"PayDesk {__version__} started; database: {database}\n")
            self.app.exit(EXIT_OK)
        else:
            sys.stderr.write("PayDesk: the main window did not appear\n")
            self.app.exit(EXIT_CANNOT_START)


def _log_thread_exception(hook_args: threading.ExceptHookArgs) -> None:
    log.critical(
        "Unexpected error in thread %s",
        hook_args.thread.name if hook_args.thread else "?",
        exc_info=(hook_args.exc_type, hook_args.exc_value, hook_args.exc_traceback),  # type: ignore[arg-type]
    )


def run_gui(args: argparse.Namespace) -> int:
    """Start the PayDesk window; returns the process exit code."""
    smoke = bool(getattr(args, "smoke", False))
    app = create_application()
    # Ctrl+C and SIGTERM close PayDesk as Quit does, so a demo profile is always deleted.
    stopper = StopOnSignals()
    try:
        return _run_gui(args, app, _Starter(smoke, stopper))
    finally:
        stopper.uninstall()
        stopper.deleteLater()


def _run_gui(args: argparse.Namespace, app: QApplication, starter: _Starter) -> int:

    demo: DemoEnvironment | None = None
    if getattr(args, "demo", False):
        from app.sandbox.demo import start_demo

        try:
            demo = start_demo(quickbooks=getattr(args, "demo_quickbooks", "none"))
        except Exception as exc:
            starter.fail("The demo could not start", describe_exception(exc))
            return EXIT_CANNOT_START
        profile = demo.profile
    else:
        try:
            profile = Profile.open(
                getattr(args, "profile", None), getattr(args, "database_url", None)
            )
        except OSError as exc:
            folder = getattr(args, "profile", None) or "your user data folder"
            starter.fail(
                "PayDesk could not open its profile folder",
                f"{folder} could not be created or opened ({exc.strerror or exc}). Check that "
                "the folder exists and that you may write to it.",
            )
            return EXIT_CANNOT_START
    try:
        if starter.stop_requested:  # stopped while the demo was being prepared
            return EXIT_OK
        return _run_with_profile(app, profile, demo, starter)
    finally:
        if demo is not None:
            demo.close()


def _run_with_profile(
    app: QApplication,
    profile: Profile,
    demo: DemoEnvironment | None,
    starter: _Starter,
) -> int:
    log_file = setup_logging(profile.logs_folder)
    log.info("PayDesk %s starting; profile %s", __version__, profile.folder)

    instance = InstanceLock.acquire(profile)
    if instance is None:
        if ask_open_instance_to_come_forward(profile):
            # The open window comes to the front; that is all the bookkeeper needs to see.
            sys.stderr.write(
                f"PayDesk: PayDesk is already open for this profile ({profile.folder}); its "
                "window was brought to the front.\n"
            )
            log.info("Already open on this profile: asked that window to come forward")
        else:
            starter.fail("PayDesk is already open", already_open_message(profile))
        return EXIT_ALREADY_RUNNING
    instance_server = InstanceServer(profile)
    instance_server.listen()

    crash_handler = CrashHandler(log_file)
    crash_handler.install()
    previous_thread_hook = threading.excepthook
    threading.excepthook = _log_thread_exception
    try:
        try:
            engine = open_database(profile.database_url)
        except DatabaseError as exc:
            starter.fail("PayDesk could not open its database", redact(str(exc)))
            return EXIT_CANNOT_START
        try:
            context = AppContext(
                profile=profile,
                engine=engine,
                credentials=CredentialStore(profile.key),
                demo=demo,
            )
            # The composition root reads the one fact every screen formats with before the
            # window exists; from here on the GUI thread reads nothing (workers do).
            context.currency()
            set_display_locale(context.locale)
            return _run_window(app, context, starter, crash_handler, instance_server)
        finally:
            engine.dispose()
    finally:
        instance_server.close()
        threading.excepthook = previous_thread_hook
        crash_handler.uninstall()
        instance.release()
        log.info("PayDesk closed")


def _run_window(
    app: QApplication,
    context: AppContext,
    starter: _Starter,
    crashes: CrashHandler,
    instance_server: InstanceServer,
) -> int:
    # Cycles are collected on this thread only, never on a worker (see app.gui.gc).
    collector = GuiThreadGarbageCollector()
    collector.start()
    try:
        return _run_event_loop(app, context, starter, crashes, instance_server)
    finally:
        collector.stop()


def _log_window_open() -> None:
    log.info("PayDesk window open")


def _run_event_loop(
    app: QApplication,
    context: AppContext,
    starter: _Starter,
    crashes: CrashHandler,
    instance_server: InstanceServer,
) -> int:
    from app.gui.main_window import MainWindow

    smoke = starter.smoke

    window = MainWindow(context)
    window.show()
    freeze_startup_objects()
    instance_server.activateRequested.connect(window.bring_to_front)
    # Queued, so a failure while opening Setup reaches the crash handler inside the event loop
    # and the main window stays usable.
    QTimer.singleShot(0, window.open_setup_when_needed)
    QTimer.singleShot(0, _log_window_open)
    if smoke:
        check = _SmokeCheck(app, window, crashes)
        QTimer.singleShot(0, check.finish)

    try:
        # A stop signal that came while the window was being built ends PayDesk here.
        code = EXIT_OK if starter.stop_requested else app.exec()
    finally:
        window.save_layout()
        window.close()
        # Let background tasks finish before the database closes under them.
        QThreadPool.globalInstance().waitForDone(BACKGROUND_SHUTDOWN_MS)
        window.deleteLater()
        QApplication.sendPostedEvents(None, 0)
    return int(code or 0)
