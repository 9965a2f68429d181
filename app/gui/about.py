"""Help > About PayDesk, and Help > Check for Updates.

``AboutDialog`` shows the version, where the profile, the database and the logs are, and the
licences of the libraries PayDesk ships (``app.core.licences``: the list collected when the
installed program was built, or read from the installed libraries when run from source).

``UpdateCheckRunner`` runs ``app.core.updates.check_for_updates`` on a worker thread and shows
what it found; it never downloads anything — "Open Download Page" hands the address to the
web browser. Everything here runs on the GUI thread.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QSize, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices, QFont, QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app import __version__
from app.core.licences import LibraryLicence, licences_as_text, shipped_licences
from app.core.updates import UpdateCheck, UpdateStatus, check_for_updates, configured_feed
from app.gui.context import AppContext
from app.gui.resources import ResourceNotFoundError, app_icon
from app.gui.workers import WorkerFailure, run_task

_ROLE_LICENCE = Qt.ItemDataRole.UserRole


def _selectable(text: str) -> QLineEdit:
    """A read-only line for a path: selectable and copyable, scrolls when it is long."""
    field = QLineEdit(text)
    field.setReadOnly(True)
    field.setFrame(False)
    field.setObjectName("aboutFact")
    field.setToolTip(text)
    field.setCursorPosition(0)
    field.setStyleSheet("QLineEdit#aboutFact { background: transparent; border: none; }")
    return field


class AboutDialog(QDialog):
    """Version, profile, logs and the shipped libraries' licences."""

    checkForUpdatesRequested = Signal()

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.setObjectName("aboutDialog")
        self.setWindowTitle("About PayDesk")
        self.setMinimumSize(720, 560)
        self.resize(840, 640)
        self.licences: list[LibraryLicence] = []

        icon = QLabel()
        try:
            icon.setPixmap(app_icon().pixmap(QSize(64, 64)))
        except ResourceNotFoundError:
            icon.hide()
        heading = QLabel(f"PayDesk {__version__}")
        heading.setObjectName("dialogHeading")
        tagline = QLabel("Take payments on your Autotask invoices and keep Autotask and "
                         "QuickBooks in step.")
        tagline.setObjectName("secondaryText")
        tagline.setWordWrap(True)
        titles = QVBoxLayout()
        titles.setSpacing(2)
        titles.addWidget(heading)
        titles.addWidget(tagline)
        top = QHBoxLayout()
        top.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        top.addLayout(titles, 1)

        profile = context.profile
        facts = QFormLayout()
        facts.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        facts.setVerticalSpacing(0)
        facts.addRow("Version:", _selectable(__version__))
        facts.addRow("Profile folder:", _selectable(str(profile.folder)))
        facts.addRow("Log files:", _selectable(str(profile.logs_folder)))
        facts.addRow("Database:", _selectable(profile.describe_database()))
        for row in range(facts.rowCount()):
            item = facts.itemAt(row, QFormLayout.ItemRole.LabelRole)
            widget = item.widget() if item is not None else None
            if isinstance(widget, QLabel):
                widget.setObjectName("fieldLabel")

        libraries_heading = QLabel("Libraries shipped with PayDesk, and their licences")
        libraries_heading.setObjectName("sectionHeading")
        font = QFont(libraries_heading.font())
        font.setBold(True)
        libraries_heading.setFont(font)
        self.source_label = QLabel("Reading the list of libraries…")
        self.source_label.setObjectName("secondaryText")
        self.source_label.setWordWrap(True)
        self.library_list = QListWidget()
        self.library_list.setObjectName("licenceList")
        self.library_list.setAccessibleName("Libraries")
        self.licence_text = QPlainTextEdit()
        self.licence_text.setTabChangesFocus(True)  # Tab moves on, as in every field
        self.licence_text.setObjectName("licenceText")
        self.licence_text.setReadOnly(True)
        self.licence_text.setAccessibleName("Licence text")
        # Licence texts come wrapped at 72-80 columns: show them as written.
        self.licence_text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        fixed.setPointSizeF(max(8.0, self.font().pointSizeF() - 1.0))
        self.licence_text.setFont(fixed)
        self.library_list.currentItemChanged.connect(self._show_licence)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.library_list)
        splitter.addWidget(self.licence_text)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([200, 520])
        splitter.setChildrenCollapsible(False)

        self.copy_button = QPushButton("Copy All Licences")
        self.copy_button.setEnabled(False)
        self.copy_button.clicked.connect(self._copy_all)
        self.updates_button = QPushButton("Check for Updates…")
        self.updates_button.clicked.connect(self.checkForUpdatesRequested)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        for button in (self.copy_button, self.updates_button):
            button.setAutoDefault(False)
            buttons.addButton(button, QDialogButtonBox.ButtonRole.ActionRole)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 20, 20, 16)
        layout.setSpacing(10)
        layout.addLayout(top)
        layout.addLayout(facts)
        layout.addSpacing(6)
        layout.addWidget(libraries_heading)
        layout.addWidget(self.source_label)
        layout.addWidget(splitter, 1)
        layout.addWidget(buttons)

        run_task("read the licences of the shipped libraries", shipped_licences,
                 on_success=self._on_licences, on_failure=self._on_licences_failed, parent=self)

    def _on_licences(self, result: tuple[list[LibraryLicence], str]) -> None:
        self.licences, source = result
        self.library_list.clear()
        for licence in self.licences:
            item = QListWidgetItem(f"{licence.name} {licence.version}")
            item.setToolTip(licence.licence)
            item.setData(_ROLE_LICENCE, licence)
            self.library_list.addItem(item)
        count = len(self.licences)
        self.source_label.setText(
            f"PayDesk is built with these {count} libraries ({source}). Select one to read "
            "its licence." if count else f"No libraries are listed: {source}."
        )
        self.copy_button.setEnabled(bool(count))
        if count:
            self.library_list.setCurrentRow(0)

    def _on_licences_failed(self, failure: WorkerFailure) -> None:
        self.source_label.setText(
            "The list of libraries could not be read. Reinstall PayDesk to restore it "
            f"({type(failure.exception).__name__})."
        )

    @Slot(QListWidgetItem, QListWidgetItem)
    def _show_licence(self, current: QListWidgetItem | None, _previous: object) -> None:
        licence = current.data(_ROLE_LICENCE) if current is not None else None
        if not isinstance(licence, LibraryLicence):
            self.licence_text.clear()
            return
        header = f"{licence.name} {licence.version}\nLicence: {licence.licence}\n"
        if licence.homepage:
            header += f"{licence.homepage}\n"
        body = licence.text or "This library publishes no licence text of its own."
        self.licence_text.setPlainText(f"{header}\n{body}")

    @Slot()
    def _copy_all(self) -> None:
        from PySide6.QtGui import QGuiApplication

        QGuiApplication.clipboard().setText(licences_as_text(self.licences))


class UpdateCheckRunner(QObject):
    """Help > Check for Updates: one check at a time, the answer in a message box."""

    finished = Signal(object)  # the UpdateCheck, after the message box was opened

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.window = parent
        self.running = False
        self.box: QMessageBox | None = None

    @Slot()
    def start(self) -> None:
        if self.running:
            return
        self.running = True
        run_task("check for a newer version of PayDesk", check_for_updates, configured_feed(),
                 on_success=self._on_result, on_failure=self._on_failure, parent=self.window,
                 busy_text="Checking for a newer version of PayDesk…")

    def _on_failure(self, failure: WorkerFailure) -> None:
        feed = configured_feed()
        where = f" Look for a newer version on {feed.downloads}." if feed else ""
        self._on_result(UpdateCheck(
            UpdateStatus.FAILED, __version__, None, feed.downloads if feed else None,
            "PayDesk could not check for updates",
            f"Something unexpected stopped the check ({type(failure.exception).__name__}).{where}",
        ))

    def _on_result(self, check: UpdateCheck) -> None:
        self.running = False
        icon = (QMessageBox.Icon.Warning if check.status is UpdateStatus.FAILED
                else QMessageBox.Icon.Information)
        box = QMessageBox(icon, check.title, check.title, QMessageBox.StandardButton.Close,
                          self.window)
        box.setObjectName("updateCheckBox")
        box.setInformativeText(check.text)
        if check.download_page and check.status is not UpdateStatus.UP_TO_DATE:
            open_page = box.addButton("Open Download Page", QMessageBox.ButtonRole.ActionRole)
            page = check.download_page
            open_page.clicked.connect(lambda: QDesktopServices.openUrl(QUrl(page)))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.box = box
        box.open()
        self.finished.emit(check)
