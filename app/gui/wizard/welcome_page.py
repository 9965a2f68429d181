"""Before you start: what the bookkeeper needs at hand, and where to find it in Autotask."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget, QWizardPage

from app.gui.context import AppContext
from app.gui.widgets.pill import Tone
from app.gui.wizard.notice import Notice

#: (what, where to find it) — the part of the checklist the wizard itself needs.
AUTOTASK_CHECKLIST: tuple[tuple[str, str], ...] = (
    (
        "Autotask Electronic Payments is activated",
        "In Autotask: Admin > Admin Categories > Activations.",
    ),
    (
        "A dedicated Autotask API user for PayDesk",
        "Admin > Resources/Users > New API User. Give it the security level "
        "“API User (system) (API-only)” and use it for PayDesk only. You need its user name "
        "(an email address) and its secret, from its Credentials section.",
    ),
    (
        "The API user's integration code",
        "On the same API user, under API Tracking Identifier: choose the Integration Vendor "
        "(or “Custom (Internal Integration)” if PayDesk is not listed) and copy the code shown.",
    ),
)


class WelcomePage(QWizardPage):
    def __init__(self, context: AppContext, extra_items: list[str] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("welcomePage")
        self.setTitle("Before you start")
        self.setSubTitle(
            "PayDesk connects to your Autotask, downloads your organizations and invoices, "
            "and lets you take payments on them. Setup takes a few minutes. Have these ready:"
        )
        items = list(AUTOTASK_CHECKLIST)
        for text in extra_items or []:
            what, _, where = text.partition("\n")
            items.append((what, where) if where else ("", what))
        rows = "".join(
            "<li style='margin-bottom:8px'>"
            + (f"<b>{html.escape(what)}</b><br>" if what else "")
            + html.escape(where)
            + "</li>"
            for what, where in items
        )
        checklist = QLabel(f"<ol style='margin-left:-16px'>{rows}</ol>", self)
        checklist.setObjectName("welcomeChecklist")
        checklist.setTextFormat(Qt.TextFormat.RichText)
        checklist.setWordWrap(True)
        checklist.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        layout = QVBoxLayout(self)
        layout.addWidget(checklist)
        if context.demo is not None:
            demo = Notice(
                "<b>This is the PayDesk demo.</b> It uses a sandbox Autotask running on this "
                "computer with made-up data; the fields are already filled in. Nothing you do "
                "here reaches a real Autotask or takes real money.",
                Tone.INFO, self,
            )
            demo.setObjectName("demoNotice")
            layout.addWidget(demo)
        layout.addStretch(1)
