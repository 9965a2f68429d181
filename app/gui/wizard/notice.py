"""A coloured box with a message, for warnings and test results inside the wizard pages."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from app.gui.theme import set_themed_style
from app.gui.widgets.pill import TONE_COLOURS, Tone

_BORDERS = {
    Tone.NEUTRAL: "#C9CED6",
    Tone.INFO: "#9DB8E6",
    Tone.SUCCESS: "#8CCBA3",
    Tone.WARNING: "#E5B45A",
    Tone.DANGER: "#E08A8A",
}


class Notice(QFrame):
    """A framed message. The words carry the meaning; the colour only supports them."""

    def __init__(self, text: str = "", tone: Tone = Tone.INFO,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setOpenExternalLinks(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.addWidget(self.label)
        self.tone = tone
        self.setObjectName("notice")
        # The style sheet selects by object name: naming the notice later must keep its colours.
        self.objectNameChanged.connect(self._apply_style)
        self.set_message(text, tone)

    def set_message(self, text: str, tone: Tone | None = None) -> None:
        if tone is not None:
            self.tone = tone
        self._apply_style()
        self.label.setText(text)
        self.setAccessibleDescription(self.label.text())

    def _apply_style(self) -> None:
        background, foreground = TONE_COLOURS[self.tone]
        name = self.objectName() or "notice"
        set_themed_style(self,
            f"QFrame#{name} {{ background: {background}; border: 1px solid "
            f"{_BORDERS[self.tone]}; border-radius: 6px; }}"
            f"QFrame#{name} QLabel {{ color: {foreground}; background: transparent; }}"
        )

    def text(self) -> str:
        """The message as plain text (for tests and screen readers)."""
        return self.label.text()
