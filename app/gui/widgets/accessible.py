"""Names and descriptions for screen readers, and a fixed Tab order where the layout's
creation order is not the reading order. ``tests/gui/test_accessibility.py`` walks every
screen and fails on a control a screen reader cannot name. GUI thread.
"""

from __future__ import annotations

from itertools import pairwise

from PySide6.QtWidgets import QWidget

__all__ = ["describe", "tab_order"]


def describe(widget: QWidget, description: str, name: str | None = None) -> None:
    """Give ``widget`` the description a screen reader reads after its name (and the name,
    when its text or label does not already say it)."""
    if name is not None:
        widget.setAccessibleName(name)
    widget.setAccessibleDescription(description)


def tab_order(*widgets: QWidget) -> None:
    """Tab visits ``widgets`` in this order (reading order: left to right, top to bottom)."""
    for first, second in pairwise(widgets):
        QWidget.setTabOrder(first, second)


def name_fields_from_labels(root: QWidget) -> None:
    """Give each field under ``root`` that has no accessible name the words of the label
    whose buddy it is. Qt finds a buddy label only beside its field; a field wrapped in a
    box with its "Show" switch or its error line would otherwise be read without a name."""
    from PySide6.QtWidgets import QLabel

    for label in root.findChildren(QLabel):
        field = label.buddy()
        if field is not None and not field.accessibleName():
            words = label.text().replace("&&", "\0").replace("&", "").replace("\0", "&")
            field.setAccessibleName(words.strip().rstrip(":").strip())
