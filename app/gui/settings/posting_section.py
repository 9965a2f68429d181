"""Settings › Posting: what PayDesk posts where — Autotask, and QuickBooks Online or Desktop
when connected (the channels of :mod:`app.core.posting.channels`) — and, with QuickBooks
Online, where its payments are deposited (the QuickBooks area's own deposit chooser,
:class:`app.gui.quickbooks.deposits.DepositsView`) and which payment methods and item they
are recorded with.

Read in the background when shown; the deposit account is saved by its chooser.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget
from sqlalchemy import Engine

from app.core.credentials import CredentialStore
from app.core.posting.overview import (
    ChannelOverview,
    QuickBooksOnlineChoices,
    posting_overview,
    quickbooks_online_choices,
)
from app.gui.context import AppContext
from app.gui.settings.page import SettingsPage
from app.gui.widgets.pill import StatusPill, Tone

__all__ = ["PostingSection", "create_posting_section"]


@dataclass(frozen=True)
class PostingFacts:
    channels: tuple[ChannelOverview, ...]
    quickbooks_online: QuickBooksOnlineChoices | None


def create_posting_section(context: AppContext) -> QWidget:
    return PostingSection(context)


def _targets_text(targets: tuple[str, ...]) -> str:
    """"Autotask note, Autotask invoice paid date" (the channels' own labels)."""
    return ", ".join(targets)


class PostingSection(SettingsPage):
    editable = False

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, "Posting",
                         "Every payment and refund PayDesk records is posted to the systems "
                         "below, exactly once, in the same step that records the money. "
                         "Failed postings wait in the Transactions area for a person.", parent)
        self.setObjectName("postingSection")
        self.channel_box = QVBoxLayout()
        self.channel_box.setSpacing(10)
        self.body.addLayout(self.channel_box)
        self.channel_rows: dict[str, QLabel] = {}
        self.quickbooks_box = QFrame()
        self.quickbooks_box.setObjectName("postingQuickBooksOnline")
        self.quickbooks_layout = QVBoxLayout(self.quickbooks_box)
        self.quickbooks_layout.setContentsMargins(0, 6, 0, 0)
        heading = QLabel("QuickBooks Online: how payments are recorded")
        heading.setStyleSheet("font-weight: 600; font-size: 11pt;")
        self.methods = QLabel("")
        self.methods.setObjectName("postingQuickBooksMethods")
        self.methods.setWordWrap(True)
        self.quickbooks_layout.addWidget(heading)
        self.quickbooks_layout.addWidget(self.methods)
        self.deposits: QWidget | None = None
        self.quickbooks_box.setVisible(False)
        self.body.addWidget(self.quickbooks_box)

    def load(self, engine: Engine, credentials: CredentialStore) -> PostingFacts:
        return PostingFacts(posting_overview(engine, credentials),
                            quickbooks_online_choices(engine))

    def show_value(self, value: PostingFacts) -> None:
        while self.channel_box.count():
            item = self.channel_box.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.channel_rows.clear()
        for channel in value.channels:
            self.channel_box.addWidget(self._channel_row(channel))
        self._show_quickbooks_online(value.quickbooks_online)

    def _channel_row(self, channel: ChannelOverview) -> QWidget:
        row = QWidget()
        row.setObjectName(f"postingChannel_{channel.name}")
        name = QLabel(channel.label)
        name.setStyleSheet("font-weight: 600; font-size: 11pt;")
        pill = StatusPill("Posting" if channel.connected and not channel.problem
                          else "Waiting" if channel.connected else "Not connected",
                          Tone.SUCCESS if channel.connected and not channel.problem
                          else Tone.WARNING if channel.connected else Tone.NEUTRAL)
        head = QHBoxLayout()
        head.addWidget(name)
        head.addWidget(pill, 0, Qt.AlignmentFlag.AlignVCenter)
        head.addStretch(1)
        if channel.connected:
            text = (f"Each payment or refund becomes: {escape(_targets_text(channel.targets))}."
                    f"<br><span style='color:#4A5465'>{escape(channel.delivery)}</span>")
            if channel.problem:
                text += (f"<br><span style='color:#85520A'>Postings wait: "
                         f"{escape(channel.problem)}</span>")
        else:
            text = ("<span style='color:#4A5465'>Not connected: nothing is posted here. "
                    "Connect it in Settings › Connections.</span>")
        detail = QLabel(text)
        detail.setObjectName(f"postingDetail_{channel.name}")
        detail.setWordWrap(True)
        self.channel_rows[channel.name] = detail
        layout = QVBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(head)
        layout.addWidget(detail)
        return row

    def _show_quickbooks_online(self, choices: QuickBooksOnlineChoices | None) -> None:
        self.quickbooks_box.setVisible(choices is not None)
        if choices is None:
            return
        made = ("" if choices.card_method_known and choices.bank_method_known else
                " PayDesk finds these in QuickBooks, or adds them, the first time it needs "
                "them.")
        self.methods.setText(
            f"In {escape(choices.company)}, card payments are recorded with the payment "
            f"method “{escape(choices.card_method)}” and bank payments with "
            f"“{escape(choices.bank_method)}”; a surcharge is its own line with the item "
            f"“{escape(choices.surcharge_item)}”.{made}")
        if self.deposits is None:
            from app.gui.quickbooks.deposits import DepositsView

            self.deposits = DepositsView(self.context)  # reads QuickBooks when first shown
            inner = self.deposits.layout()
            if inner is not None:
                inner.setContentsMargins(0, 6, 0, 0)
            self.quickbooks_layout.addWidget(self.deposits)

    def edited_value(self) -> object:
        return self._stored

    # The deposit account has its own Save; leaving with a choice not saved asks first.
    def has_unsaved_changes(self) -> bool:
        from app.gui.quickbooks.deposits import DepositsView

        return isinstance(self.deposits, DepositsView) and (
            self.deposits.save_button.isEnabled() or self.deposits.saving)

    def is_saving(self) -> bool:
        from app.gui.quickbooks.deposits import DepositsView

        return isinstance(self.deposits, DepositsView) and self.deposits.saving

    def save(self) -> bool:
        from app.gui.quickbooks.deposits import DepositsView

        if isinstance(self.deposits, DepositsView) and self.deposits.save_button.isEnabled():
            self.deposits.save()
        return True

    def discard_changes(self) -> None:
        from app.gui.quickbooks.deposits import DepositsView

        if isinstance(self.deposits, DepositsView):
            self.deposits.reload()
