"""``EmptyState``: what a screen shows when it has nothing to show yet.

It says plainly why the screen is empty and what to do next ("No invoices yet — run Setup to
connect Autotask"), with an optional button that does it. Never fill a screen with example
rows instead.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget


class EmptyState(QWidget):
    """A centred title, an explanation and an optional action button.

    ``actionTriggered`` fires when the button is clicked. Call ``set_content`` to change the
    message when the situation changes (for instance after Setup has run).
    """

    actionTriggered = Signal()

    def __init__(
        self,
        title: str,
        explanation: str,
        action_text: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("emptyState")
        self.title_label = QLabel()
        self.title_label.setObjectName("emptyStateTitle")
        self.title_label.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.title_label.setWordWrap(True)
        self.explanation_label = QLabel()
        self.explanation_label.setObjectName("emptyStateText")
        self.explanation_label.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.explanation_label.setWordWrap(True)
        self.explanation_label.setTextFormat(Qt.TextFormat.PlainText)
        self.action_button = QPushButton()
        self.action_button.setObjectName("primaryButton")
        self.action_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.action_button.clicked.connect(self._on_action)

        # The text sits in a column of readable width, centred in whatever space there is.
        column = QWidget()
        column.setMaximumWidth(540)
        column_layout = QVBoxLayout(column)
        column_layout.setContentsMargins(0, 0, 0, 0)
        column_layout.setSpacing(10)
        column_layout.addWidget(self.title_label)
        column_layout.addWidget(self.explanation_label)
        column_layout.addSpacing(10)
        column_layout.addWidget(self.action_button, 0, Qt.AlignmentFlag.AlignHCenter)

        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(column, 10)
        row.addStretch(1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(32, 32, 32, 32)
        layout.addStretch(2)
        layout.addLayout(row)
        layout.addStretch(3)
        self.set_content(title, explanation, action_text)

    def set_content(self, title: str, explanation: str, action_text: str | None = None) -> None:
        self.title_label.setText(title)
        self.explanation_label.setText(explanation)
        self.action_button.setVisible(bool(action_text))
        self.action_button.setText(action_text or "")
        # Read after the button's words: what the screen says, so the step makes sense.
        self.action_button.setAccessibleDescription(f"{title}. {explanation}".strip(". "))

    def title(self) -> str:
        return self.title_label.text()

    def explanation(self) -> str:
        return self.explanation_label.text()

    @Slot()
    def _on_action(self) -> None:
        self.actionTriggered.emit()
