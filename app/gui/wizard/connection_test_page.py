"""A wizard page whose fields are checked with Test Connection before Next.

:class:`ConnectionTestPage` draws the Test Connection part that the Autotask and the
payment-gateway pages share, around a core `ConnectionTestState`: the button that turns into
Cancel Test while a worker runs the test, the busy bar, the status notice, "editing clears a
result", and Next gated on the state. A page supplies its fields and the few things that
differ: how its form is read and applied (`_form`, `_apply_edit`), how a test is started
(`_start_worker`), what a crashed test means (`_crash_outcome`) and how a result is shown
(`_show_outcome`).
"""

from __future__ import annotations

from functools import partial
from typing import Any, ClassVar, Generic, TypeVar

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from app.core.setup.connection_test import (
    ConnectionTestState,
    TestableForm,
    TestOutcomeLike,
    TestState,
)
from app.gui.context import AppContext
from app.gui.theme import set_themed_style
from app.gui.widgets.pill import Tone
from app.gui.wizard.notice import Notice
from app.gui.workers import Task, WorkerFailure

__all__ = ["ConnectionTestPage"]

FormT = TypeVar("FormT", bound=TestableForm)
OutcomeT = TypeVar("OutcomeT", bound=TestOutcomeLike)


def _reveal(edit: QLineEdit, shown: bool) -> None:
    edit.setEchoMode(QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password)


class ConnectionTestPage(QWizardPage, Generic[FormT, OutcomeT]):
    """Test Connection wiring shared by the wizard's sign-in pages."""

    #: The names of the page's line edits, each also the attribute that holds it.
    fields: ClassVar[tuple[str, ...]] = ()
    #: Spacing between a field and its notes in `_stack`.
    stack_spacing: ClassVar[int] = 2

    state: ConnectionTestState[FormT, OutcomeT]
    test_button: QPushButton
    busy: QProgressBar
    status: Notice

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self._stored_secret: str | None = None
        self._task: Task | None = None
        self._loading = False
        self._touched: set[str] = set()

    # -- what a page supplies ----------------------------------------------------------------

    def _form(self) -> FormT:
        raise NotImplementedError

    def _apply_edit(self, form: FormT) -> bool:
        """Pass the page's editable values to ``self.state.edit``; True when that cleared a
        result."""
        raise NotImplementedError

    def _start_worker(self, ticket: int) -> Task:
        """Run the blocking test in a worker, reporting to `_test_finished`/`_test_crashed`
        with ``ticket``."""
        raise NotImplementedError

    def _testing_message(self) -> str:
        raise NotImplementedError

    def _crash_outcome(self, failure: WorkerFailure) -> OutcomeT:
        """The outcome to show when the test itself broke (a bug, or the computer)."""
        raise NotImplementedError

    def _show_outcome(self, outcome: OutcomeT) -> None:
        raise NotImplementedError

    def _refresh(self) -> None:
        raise NotImplementedError

    def _test_recorded(self, outcome: OutcomeT) -> None:
        """Called once a current result is recorded, before it is shown (e.g. to log it)."""

    # -- layout helpers ----------------------------------------------------------------------

    def _row(self, form: QFormLayout, text: str, buddy: QWidget, field: QWidget) -> None:
        label = QLabel(text, self)
        label.setBuddy(buddy)
        form.addRow(label, field)

    def _stack(self, *widgets: QWidget) -> QWidget:
        box = QWidget(self)
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(self.stack_spacing)
        for widget in widgets:
            column.addWidget(widget)
        return box

    def _hint(self, text: str) -> QLabel:
        hint = QLabel(text, self)
        hint.setWordWrap(True)
        set_themed_style(hint, "color: #4A5465;")
        return hint

    def _error_label(self, name: str) -> QLabel:
        label = QLabel(self)
        label.setObjectName(name)
        label.setWordWrap(True)
        set_themed_style(label, "color: #A02727;")
        label.hide()
        return label

    def _with_show(self, edit: QLineEdit, show: QCheckBox) -> QWidget:
        """The secret field with its Show box beside it; ticking Show reveals the text."""
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(edit, 1)
        row.addWidget(show)
        box = QWidget(self)
        box.setLayout(row)
        show.toggled.connect(partial(_reveal, edit))
        return box

    def _make_test_controls(self, button_name: str, progress_name: str) -> QHBoxLayout:
        """Create the Test Connection button and busy bar; returns their row."""
        self.test_button = QPushButton("&Test Connection", self)
        self.test_button.setObjectName(button_name)
        self.test_button.setDefault(False)
        self.test_button.setAutoDefault(False)
        self.busy = QProgressBar(self)
        self.busy.setObjectName(progress_name)
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.busy.setMaximumWidth(140)
        self.busy.hide()
        buttons = QHBoxLayout()
        buttons.addWidget(self.test_button)
        buttons.addWidget(self.busy)
        buttons.addStretch(1)
        return buttons

    def _make_status(self, name: str) -> Notice:
        self.status = Notice("", Tone.NEUTRAL, self)
        self.status.setObjectName(name)
        self.status.hide()
        return self.status

    def _add_sections(self, layout: QVBoxLayout, form: QFormLayout,
                      buttons: QHBoxLayout) -> None:
        """The fields, the Test Connection row, then the status notice."""
        layout.addLayout(form)
        layout.addSpacing(6)
        layout.addLayout(buttons)
        layout.addSpacing(6)
        layout.addWidget(self.status)
        layout.addStretch(1)

    def _connect_fields(self) -> None:
        """Editing a field marks it touched and re-checks the state; the button tests."""
        for name in self.fields:
            widget = getattr(self, name)
            widget.textEdited.connect(self._field_edited)
            widget.textChanged.connect(self._fields_changed)
        self.test_button.clicked.connect(self._test_clicked)

    # -- editing -----------------------------------------------------------------------------

    @Slot()
    def _field_edited(self) -> None:
        sender = self.sender()
        for name in self.fields:
            if getattr(self, name) is sender:
                self._touched.add(name)

    @Slot()
    def _fields_changed(self) -> None:
        if self._loading:
            return
        was_testing = self.state.state is TestState.TESTING
        cleared = self._apply_edit(self._form())
        if cleared and was_testing and self._task is not None:
            self._task.cancel()
            self._task = None
        if cleared:
            self.status.hide()
        self._refresh()

    # -- Test Connection ---------------------------------------------------------------------

    @Slot()
    def _test_clicked(self) -> None:
        if self.state.state is TestState.TESTING:
            self.cancel_test()
            return
        self._touched.update(self.fields)
        if not self.state.can_test():
            self._refresh()
            return
        ticket = self.state.start_test()
        self._task = self._start_worker(ticket)
        self.status.set_message(self._testing_message(), Tone.NEUTRAL)
        self.status.show()
        self._refresh()

    def _worker_callbacks(self, ticket: int) -> dict[str, Any]:
        """``on_success``/``on_failure`` for `run_task`, bound to this test's ticket."""
        return {"on_success": partial(self._test_finished, ticket),
                "on_failure": partial(self._test_crashed, ticket)}

    def cancel_test(self) -> None:
        if self.state.state is not TestState.TESTING:
            return
        self.state.cancel_test()
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.status.set_message("Test cancelled. Press Test Connection to try again.",
                                Tone.NEUTRAL)
        self._refresh()

    def _test_finished(self, ticket: int, outcome: OutcomeT) -> None:
        if not self.state.finish_test(ticket, outcome):
            return  # an outdated test (cancelled, or the fields changed meanwhile)
        self._task = None
        self._test_recorded(outcome)
        self._show_outcome(outcome)
        self._refresh()

    def _test_crashed(self, ticket: int, failure: WorkerFailure) -> None:
        self._test_finished(ticket, self._crash_outcome(failure))

    # -- gating ------------------------------------------------------------------------------

    def _refresh_test_controls(self, can_test: bool) -> bool:
        """Button text and state, busy bar; returns whether a test is running."""
        testing = self.state.state is TestState.TESTING
        self.test_button.setText("Cancel Test" if testing else "&Test Connection")
        self.test_button.setEnabled(testing or can_test)
        self.busy.setVisible(testing)
        return testing

    def cleanupPage(self) -> None:
        """Going Back: stop a running test, keep the values."""
        self.cancel_test()
