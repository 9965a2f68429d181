"""PayDesk's main window: a sidebar of areas, the current area, and a status bar.

The areas are listed once, in ``AREAS``. Each has a *factory*: a ``"module:function"`` path to
a function ``create_…(context: AppContext) -> QWidget`` in the area's own module, imported
when the window is built. To plug a screen in, change that area's ``factory=`` from ``None``
to your function — that one line is the whole change::

    AreaSpec("invoices", "Invoices", factory="app.gui.invoices.history:create_invoices_area",
             empty=…)

While an area's factory is ``None`` the window shows an honest empty state for it: it counts
the area's rows in the database (in the background) and says what to do next — run Setup,
or start a sync — and never shows invented rows.

The status bar shows the database in use, and holds a slot for the sync status widget:
``SYNC_STATUS_FACTORY`` is a ``"module:function"`` path to ``create_…(context) -> QWidget``
(``None`` until the sync screen provides one).

Window geometry and state are kept in ``window.ini`` in the profile folder (per seat, not in
the registry); tables keep their column layouts there with
``app.gui.widgets.remember_columns(view, context, key)``.

Setup (``app.gui.wizard.SetupWizard``) opens from the sidebar and the PayDesk menu, and on
its own at start while setup is incomplete (no internal currency yet, or Autotask never
connected — see ``MainWindow.open_setup_when_needed``). Everything here runs on the GUI thread.
"""

from __future__ import annotations

import html
import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import shiboken6
from PySide6.QtCore import QByteArray, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy.engine import make_url

from app.core.setup.steps import SetupRequirement, SetupStatus, setup_status
from app.gui.about import AboutDialog, UpdateCheckRunner
from app.gui.context import AppContext
from app.gui.theme import set_themed_style
from app.gui.widgets import EmptyState, StatusPill, Tone
from app.gui.widgets.accessible import describe
from app.gui.widgets.pill import TONE_COLOURS
from app.gui.widgets.remembered import gui_settings as gui_settings  # used by the areas
from app.gui.workers import WorkerFailure, run_task

log = logging.getLogger(__name__)

#: ``"module:function"`` building the sync status widget for the status bar, or None.
SYNC_STATUS_FACTORY: str | None = "app.gui.sync:create_sync_status"

#: ``"module:function"`` building QuickBooks' status bar widget (disconnected → Reconnect…).
QUICKBOOKS_STATUS_FACTORY: str | None = "app.gui.quickbooks.status:create_quickbooks_status"

#: The setup wizard's class, imported when Setup is first opened.
WIZARD_CLASS = "app.gui.wizard:SetupWizard"


@dataclass(frozen=True)
class AreaSpec:
    key: str
    title: str
    #: ``"module:function"``; the function takes the AppContext and returns the area's widget
    #: (imported when the window is built, so a broken screen cannot stop the window).
    factory: str


AREAS: tuple[AreaSpec, ...] = (
    AreaSpec(
        "invoices",
        "Invoices",
        factory="app.gui.invoices:create_invoices_area",
    ),
    AreaSpec(
        "organizations",
        "Organizations",
        factory="app.gui.organizations:create_organizations_area",
    ),
    AreaSpec(
        "transactions",
        "Transactions",
        factory="app.gui.payments.transactions:create_transactions_area",
    ),
    AreaSpec(
        "payment_search",
        "Payment Search",
        factory="app.gui.payments.search:create_payment_search_area",
    ),
    AreaSpec("autopay", "AutoPay", factory="app.gui.autopay:create_autopay_area"),
    AreaSpec(
        "quickbooks",
        "QuickBooks",
        factory="app.gui.quickbooks:create_quickbooks_area",
    ),
    AreaSpec(
        "sync",
        "Sync",
        factory="app.gui.sync:create_sync_area",
    ),
    AreaSpec(
        "settings",
        "Settings",
        factory="app.gui.settings:create_settings_area",
    ),
)


def area_spec(key: str) -> AreaSpec:
    for spec in AREAS:
        if spec.key == key:
            return spec
    raise KeyError(key)


def resolve(path: str) -> Callable[..., object]:
    """Import ``"package.module:attribute"`` and return the attribute."""
    module_name, _, attribute = path.partition(":")
    module = importlib.import_module(module_name)
    target = getattr(module, attribute)
    if not callable(target):
        raise TypeError(f"{path} is not callable")
    return target  # type: ignore[no-any-return]


def database_status_text(database_url: str) -> str:
    """The status bar's short words for the database: where it is, not how it is reached.

    The file path or server address is in the tooltip and on the Settings screen.
    """
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return "Database on this computer"
    words = ["Shared database"]
    if url.database:
        words.append(url.database)
    if url.host:
        words.append(f"on {url.host}")
    return " ".join(words)


class MainWindow(QMainWindow):
    """The sidebar, the stacked areas and the status bar. See the module docstring."""

    #: Emitted after the setup wizard closed (whether or not it finished).
    setupClosed = Signal()
    #: What Setup is missing was read (``setup_missing``), in a worker.
    setupChecked = Signal()

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.setObjectName("mainWindow")
        self.setWindowTitle("PayDesk" + (" — Demo" if context.demo is not None else ""))
        self.setMinimumSize(760, 520)
        self.areas: dict[str, QWidget] = {}
        #: Areas whose screen failed to build (logged; the rest of the window works).
        self.broken_areas: dict[str, str] = {}
        self._area_rows: dict[str, int] = {}
        self.wizard: QDialog | None = None
        #: What Setup is missing, as last read in a worker (None: not read yet).
        self.setup_missing: list[tuple[SetupRequirement, str]] | None = None

        # Background upkeep (payment recovery, posting delivery) runs as long as the window,
        # whichever screens are open; screens follow it and the change bus.
        from app.gui.payments.upkeep import payment_upkeep

        self.upkeep = payment_upkeep(context, self)
        # The connected payment gateway is opened once, in a worker, and again after Setup;
        # screens use what ``context.services`` keeps (``app.gui.payments.common``). A gateway
        # the composition root already opened is kept.
        from app.gui.payments.common import use_gateway

        use_gateway(context)

        self.navigation = QListWidget()
        self.navigation.setObjectName("navigation")
        self.navigation.setAccessibleName("Areas")
        describe(self.navigation, "Choose the area to show; Ctrl+1 to "
                 f"Ctrl+{len(AREAS)} go straight to one")
        self.navigation.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.stack = QStackedWidget()
        self.stack.setObjectName("areaStack")

        for spec in AREAS:
            widget = self._build_area(spec)
            widget.setProperty("areaKey", spec.key)
            self.areas[spec.key] = widget
            self._area_rows[spec.key] = self.stack.addWidget(widget)
            item = QListWidgetItem(spec.title)
            item.setData(Qt.ItemDataRole.UserRole, spec.key)
            self.navigation.addItem(item)
        self.navigation.currentRowChanged.connect(self._area_row_chosen)

        content = QWidget()
        content_layout = QVBoxLayout(content)
        content_layout.setContentsMargins(0, 0, 0, 0)
        content_layout.setSpacing(0)
        content_layout.addWidget(self._build_setup_banner())
        content_layout.addWidget(self.stack, 1)

        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self._build_sidebar())
        layout.addWidget(content, 1)
        self.setCentralWidget(central)
        self.setupClosed.connect(self.refresh_setup_banner)
        self.setupClosed.connect(self._reopen_gateway)

        self._build_menus()
        self._build_status_bar()
        self.navigation.setCurrentRow(0)
        self._restore_layout()

    # --- building -----------------------------------------------------------------------------

    def _build_area(self, spec: AreaSpec) -> QWidget:
        try:
            widget = resolve(spec.factory)(self.context)
            if not isinstance(widget, QWidget):
                raise TypeError(f"{spec.factory} returned {type(widget).__name__}")
        except Exception as exc:
            # One broken screen must not keep the bookkeeper from the others.
            log.exception("The %s area could not be built", spec.title)
            self.broken_areas[spec.key] = f"{type(exc).__name__}: {exc}"
            return EmptyState(
                f"The {spec.title} screen could not be opened",
                "PayDesk ran into a problem while opening this screen. The details were "
                "written to the log file (PayDesk menu > Open Log Folder). The other areas "
                "work as usual; if this happens again, send the log file to your IT support.",
            )
        return widget

    def _build_setup_banner(self) -> QWidget:
        """A strip above every area while setup is unfinished: what is missing, and Setup."""
        self.setup_banner = QFrame()
        self.setup_banner.setObjectName("setupBanner")
        background, foreground = TONE_COLOURS[Tone.WARNING]
        set_themed_style(self.setup_banner,
            f"QFrame#setupBanner {{ background: {background}; border-bottom: 1px solid "
            f"#E5B45A; }} QFrame#setupBanner QLabel {{ color: {foreground}; }}"
        )
        self.setup_banner_text = QLabel()
        self.setup_banner_text.setObjectName("setupBannerText")
        self.setup_banner_text.setWordWrap(True)
        self.setup_banner_button = QPushButton("Run Setup…")
        self.setup_banner_button.setObjectName("setupBannerButton")
        self.setup_banner_button.clicked.connect(self.open_setup)
        describe(self.setup_banner_button, "Open Setup to finish connecting PayDesk")
        row = QHBoxLayout(self.setup_banner)
        row.setContentsMargins(16, 8, 16, 8)
        row.addWidget(self.setup_banner_text, 1)
        row.addWidget(self.setup_banner_button)
        self.setup_banner.hide()  # until what is missing has been read (a worker)
        self.refresh_setup_banner()
        return self.setup_banner

    def refresh_setup_banner(self, _page: int = -1) -> None:
        """Read again what Setup is missing (a worker); the banner follows. Also connected
        to the wizard's page changes, so the banner stops asking for what was just given."""
        self.check_setup(open_if_needed=False)

    def check_setup(self, *, open_if_needed: bool) -> None:
        """Read what Setup is missing in a worker; show the banner while anything is, and
        (at first start) open Setup on its own."""
        run_task("read what Setup is missing", setup_status, self.context.engine,
                 self.context.credentials,
                 on_success=partial(self._setup_read, open_if_needed),
                 on_failure=self._setup_banner_failed)

    def open_setup_when_needed(self) -> None:
        """At start: open Setup on its own while something PayDesk needs is missing — the
        internal currency, or an Autotask API user that passed Test Connection with its
        secret on this computer (``app.core.setup.steps``). A payment gateway is not needed
        to look at invoices, so a bookkeeper who skipped it is not sent back to Setup; the
        payment screens say how to connect one."""
        self.check_setup(open_if_needed=True)

    def _setup_read(self, open_if_needed: bool, status: SetupStatus) -> None:
        if not shiboken6.isValid(self):
            return
        self.setup_missing = list(status.missing)
        if open_if_needed and status.missing:
            self.open_setup()
        self._show_setup_banner()
        self.setupChecked.emit()

    def _show_setup_banner(self) -> None:
        """Show the banner, with the first thing missing, while setup is unfinished."""
        missing = self.setup_missing
        if not missing:
            self.setup_banner.hide()
            return
        requirement, problem = missing[0]
        text = f"<b>Setup is not finished.</b> {html.escape(problem)}"
        if requirement.key in ("currency", "autotask"):
            text += " PayDesk brings in your invoices and organizations once Autotask is connected."
        self.setup_banner_text.setText(text)
        self.setup_banner.show()

    def _setup_banner_failed(self, failure: WorkerFailure) -> None:
        # The banner is a reminder: it keeps what it said; the log has why it could not look.
        log.warning("Could not check what setup still needs: %s", failure.exception)

    def _build_sidebar(self) -> QWidget:
        sidebar = QWidget()
        sidebar.setObjectName("sidebar")
        sidebar.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        sidebar.setFixedWidth(208)
        title = QLabel("PayDesk")
        title.setObjectName("sidebarTitle")
        subtitle = QLabel(
            "Demo with sandbox data" if self.context.demo is not None else "Payments for Autotask"
        )
        subtitle.setObjectName("sidebarSubtitle")
        layout = QVBoxLayout(sidebar)
        layout.setContentsMargins(10, 16, 10, 12)
        layout.setSpacing(4)
        layout.addWidget(title)
        layout.addWidget(subtitle)
        layout.addWidget(self.navigation, 1)
        self.setup_button = QPushButton("Setup…")
        self.setup_button.setObjectName("sidebarButton")
        self.setup_button.setToolTip("Connect Autotask, your payment gateway and QuickBooks")
        self.setup_button.clicked.connect(self.open_setup)
        layout.addWidget(self.setup_button)
        return sidebar

    def _build_menus(self) -> None:
        menu = self.menuBar().addMenu("&PayDesk")
        self.setup_action = QAction("&Setup…", self)
        self.setup_action.triggered.connect(self.open_setup)
        menu.addAction(self.setup_action)
        logs_action = QAction("Open &Log Folder", self)
        logs_action.triggered.connect(self.open_log_folder)
        menu.addAction(logs_action)
        menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        quit_action.triggered.connect(self.close)
        menu.addAction(quit_action)

        go_menu = self.menuBar().addMenu("&Go")
        for number, spec in enumerate(AREAS, start=1):
            action = QAction(spec.title, self)
            action.setShortcut(QKeySequence(f"Ctrl+{number}"))
            action.setData(spec.key)
            action.triggered.connect(self._go_to_action_area)
            go_menu.addAction(action)

        help_menu = self.menuBar().addMenu("&Help")
        self.update_check = UpdateCheckRunner(self)
        updates = QAction("Check for &Updates…", self)
        updates.setMenuRole(QAction.MenuRole.ApplicationSpecificRole)
        updates.triggered.connect(self.update_check.start)
        help_menu.addAction(updates)
        about = QAction("&About PayDesk", self)
        about.setMenuRole(QAction.MenuRole.AboutRole)
        about.triggered.connect(self.show_about)
        help_menu.addAction(about)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        bar.setSizeGripEnabled(True)
        self.database_label = QLabel(database_status_text(self.context.profile.database_url))
        self.database_label.setObjectName("databaseLabel")
        self.database_label.setToolTip(
            f"Database: {self.context.profile.describe_database()} (details in Settings)"
        )
        bar.addWidget(self.database_label, 1)
        if self.context.demo is not None:
            demo_pill = StatusPill("Demo — sandbox data", Tone.WARNING)
            demo_pill.setObjectName("demoPill")
            demo_pill.setToolTip(
                "This window uses PayDesk's local sandbox servers and a throwaway profile. "
                "Nothing reaches a real Autotask, payment gateway or QuickBooks."
            )
            bar.addPermanentWidget(demo_pill)
        self.sync_status: QWidget | None = None
        if SYNC_STATUS_FACTORY is not None:
            try:
                widget = resolve(SYNC_STATUS_FACTORY)(self.context)
                if not isinstance(widget, QWidget):
                    raise TypeError(f"{SYNC_STATUS_FACTORY} returned {type(widget).__name__}")
            except Exception as exc:
                log.exception("The sync status could not be built")
                self.broken_areas["sync_status"] = f"{type(exc).__name__}: {exc}"
            else:
                self.set_sync_status_widget(widget)
        self.quickbooks_status: QWidget | None = None
        if QUICKBOOKS_STATUS_FACTORY is not None:
            try:
                status = resolve(QUICKBOOKS_STATUS_FACTORY)(self.context)
                assert isinstance(status, QWidget)
            except Exception as exc:
                log.exception("The QuickBooks status could not be built")
                self.broken_areas["quickbooks_status"] = f"{type(exc).__name__}: {exc}"
            else:
                self.quickbooks_status = status
                bar.addPermanentWidget(status)
                refresh = getattr(status, "refresh", None)
                if callable(refresh):
                    self.setupClosed.connect(refresh)

    def set_sync_status_widget(self, widget: QWidget) -> None:
        """Put the sync state in the status bar's right-hand slot (replaces any earlier one)."""
        if self.sync_status is not None:
            self.statusBar().removeWidget(self.sync_status)
            self.sync_status.deleteLater()
        widget.setObjectName(widget.objectName() or "syncStatus")
        self.statusBar().addPermanentWidget(widget)
        self.sync_status = widget
        refresh = getattr(widget, "refresh", None)
        if callable(refresh):  # Setup may have just connected Autotask
            self.setupClosed.connect(refresh)

    # --- navigation ---------------------------------------------------------------------------

    @Slot(str)
    def show_area(self, key: str) -> QWidget:
        """Switch to the area ``key`` and return its widget. The area shown may keep the
        bookkeeper (Settings with unsaved changes, answered Cancel): see ``_area_row_chosen``."""
        self.navigation.setCurrentRow(self._area_rows[key])
        return self.areas[key]

    @Slot(int)
    def _area_row_chosen(self, row: int) -> None:
        """Show the area of navigation row ``row`` — once the area shown agrees to be left
        (an area offering ``may_leave_area()``, such as Settings with unsaved changes, asks
        Save / Discard / Cancel); Cancel, or a save that failed, stays."""
        current = self.stack.currentWidget()
        if row == self.stack.currentIndex() or current is None:
            self.stack.setCurrentIndex(row)
            return
        may_leave = getattr(current, "may_leave_area", None)
        if callable(may_leave) and not may_leave():
            self.navigation.blockSignals(True)
            self.navigation.setCurrentRow(self.stack.currentIndex())
            self.navigation.blockSignals(False)
            return
        self.stack.setCurrentIndex(row)

    def current_area_key(self) -> str:
        current = self.stack.currentWidget()
        return "" if current is None else str(current.property("areaKey"))

    @Slot()
    def _go_to_action_area(self) -> None:
        action = self.sender()
        if isinstance(action, QAction):
            self.show_area(str(action.data()))

    # --- setup --------------------------------------------------------------------------------

    @Slot()
    def open_setup(self) -> None:
        """Open the setup wizard (or bring it to the front if it is open)."""
        if self.wizard is not None:
            self.wizard.raise_()
            self.wizard.activateWindow()
            return
        wizard_class = resolve(WIZARD_CLASS)
        wizard = wizard_class(self.context, self)
        if not isinstance(wizard, QDialog):
            raise TypeError(f"{WIZARD_CLASS} is not a dialog")
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        wizard.finished.connect(self._on_setup_finished)
        # The banner behind the wizard follows it: once the currency is chosen (or Autotask
        # connected) and the person moves on, it stops asking for it.
        page_changed = getattr(wizard, "currentIdChanged", None)
        if page_changed is not None:
            page_changed.connect(self.refresh_setup_banner)
        self.wizard = wizard
        wizard.open()

    @Slot()
    def _reopen_gateway(self) -> None:
        """Setup may have connected another gateway or account: open it again (a worker)."""
        from app.gui.payments.common import open_connected_gateway

        open_connected_gateway(self.context)

    @Slot(int)
    def _on_setup_finished(self, _result: int) -> None:
        self.wizard = None
        self.setupClosed.emit()

    # --- other actions ------------------------------------------------------------------------

    @Slot()
    def bring_to_front(self) -> None:
        """Another start of PayDesk on this profile: show this window (and an open Setup)."""
        if self.isMinimized():
            self.showNormal()
        self.show()
        self.raise_()
        self.activateWindow()
        if self.wizard is not None:
            self.wizard.raise_()
            self.wizard.activateWindow()

    @Slot()
    def open_log_folder(self) -> None:
        folder = self.context.profile.logs_folder
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    @Slot()
    def show_about(self) -> AboutDialog:
        """Help > About PayDesk: version, profile and logs, the shipped libraries' licences."""
        dialog = AboutDialog(self.context, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dialog.checkForUpdatesRequested.connect(self.update_check.start)
        dialog.open()
        return dialog

    # --- remembered layout --------------------------------------------------------------------

    def _restore_layout(self) -> None:
        settings = gui_settings(self.context)
        geometry = settings.value("main_window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1180, 760)
        state = settings.value("main_window/state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)
        area = settings.value("main_window/area")
        if isinstance(area, str) and area in self._area_rows:
            self.show_area(area)

    def save_layout(self) -> None:
        settings = gui_settings(self.context)
        settings.setValue("main_window/geometry", self.saveGeometry())
        settings.setValue("main_window/state", self.saveState())
        settings.setValue("main_window/area", self.current_area_key())
        settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_layout()
        super().closeEvent(event)
