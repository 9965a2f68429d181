"""Settings › Posting: what PayDesk posts where — Autotask, and QuickBooks Online or Desktop
when connected (the channels of :mod:`app.core.posting.channels`) — and, with QuickBooks
Online, where its payments are deposited (the QuickBooks area's own deposit chooser,
:class:`app.gui.quickbooks.deposits.DepositsView`) and which payment methods and item they
are recorded with.

The payment methods are chosen here (:mod:`app.core.quickbooks.payment_methods`), each only
while its QuickBooks is connected: for QuickBooks Online from the company's own list (read
through the API in the background), for QuickBooks Desktop by name. Save / Revert store them
(audited); the deposit account is saved by its own chooser.

Read and saved in the background (QuickBooks Online's list too); nothing on the GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import Engine

from app.core.credentials import CredentialStore
from app.core.posting.overview import (
    ChannelOverview,
    QuickBooksOnlineChoices,
    posting_overview,
    quickbooks_online_choices,
)
from app.core.quickbooks.payment_methods import (
    DEFAULT_BANK_METHOD,
    DEFAULT_CARD_METHOD,
    DESKTOP_MAX_NAME,
    DESKTOP_SETTING,
    ONLINE_SETTING,
    DesktopMethodList,
    DesktopMethods,
    OnlineMethod,
    OnlineMethods,
    list_online_methods,
    load_desktop_method_list,
    load_desktop_methods,
    load_online_methods,
    normalise_desktop_methods,
    save_desktop_methods,
    save_online_methods,
)
from app.gui.context import AppContext
from app.gui.settings.page import FieldRows, InvalidSetting, SettingsPage
from app.gui.widgets.pill import StatusPill, Tone

__all__ = ["PostingSection", "create_posting_section"]


@dataclass(frozen=True)
class OnlineMethodChoice:
    """QuickBooks Online's payment methods: what is chosen and what the company has."""

    chosen: OnlineMethods
    #: The company's active methods (empty when they could not be read).
    available: tuple[OnlineMethod, ...]
    #: Why the list could not be read, in words (None when it was).
    problem: str | None = None


@dataclass(frozen=True)
class PostingFacts:
    channels: tuple[ChannelOverview, ...]
    quickbooks_online: QuickBooksOnlineChoices | None
    #: None while QuickBooks Online (or Desktop) is not connected: no chooser then.
    online_methods: OnlineMethodChoice | None = None
    desktop_methods: DesktopMethods | None = None
    #: QuickBooks Desktop's Payment Method list as last read (None: not read yet).
    desktop_list: DesktopMethodList | None = None


def _read_online_methods(engine: Engine, credentials: CredentialStore) -> OnlineMethodChoice:
    """Pool thread: the chosen methods and the company's list (network)."""
    from app.core.quickbooks.online.errors import QuickBooksError
    from app.core.quickbooks.online.setup import (
        describe_missing_connection,
        open_quickbooks_client,
    )

    chosen = load_online_methods(engine)
    client = open_quickbooks_client(engine, credentials)
    if client is None:
        missing = describe_missing_connection(engine, credentials) or ""
        return OnlineMethodChoice(chosen, (), "PayDesk cannot reach QuickBooks Online to read "
                                  f"its payment methods. {missing}".strip())
    try:
        available = list_online_methods(client)
    except QuickBooksError as exc:
        return OnlineMethodChoice(chosen, (), "PayDesk could not read QuickBooks Online's "
                                  f"payment methods: {exc}")
    finally:
        client.close()
    return OnlineMethodChoice(chosen, available)


def create_posting_section(context: AppContext) -> QWidget:
    return PostingSection(context)


def _left(field: QWidget) -> QHBoxLayout:
    """A field at its own width, on the left of its row."""
    row = QHBoxLayout()
    row.addWidget(field)
    row.addStretch(1)
    return row


def _targets_text(targets: tuple[str, ...]) -> str:
    """"Autotask note, Autotask invoice paid date" (the channels' own labels)."""
    return ", ".join(targets)


class PostingSection(SettingsPage):
    setting_keys = (ONLINE_SETTING, DESKTOP_SETTING)

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
        self.online_card = QComboBox()
        self.online_card.setObjectName("postingOnlineCardMethod")
        self.online_card.setAccessibleName("QuickBooks Online payment method for card payments")
        self.online_bank = QComboBox()
        self.online_bank.setObjectName("postingOnlineBankMethod")
        self.online_bank.setAccessibleName("QuickBooks Online payment method for bank payments")
        for combo in (self.online_card, self.online_bank):
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(34)
            combo.currentIndexChanged.connect(self.fields_edited)
        self.online_note = self.note("")
        self.online_note.setObjectName("postingOnlineMethodsNote")
        self.online_retry = QPushButton("Read the list again")
        self.online_retry.setObjectName("postingOnlineMethodsRetry")
        self.online_retry.clicked.connect(self.reload)
        self.online_retry.setVisible(False)
        online_rows = FieldRows()
        online_rows.addRow("Card payments", _left(self.online_card))
        online_rows.addRow("Bank payments", _left(self.online_bank))
        self.quickbooks_layout.addLayout(online_rows)
        self.quickbooks_layout.addWidget(self.online_note)
        self.quickbooks_layout.addLayout(_left(self.online_retry))
        self.deposits: QWidget | None = None
        self.quickbooks_box.setVisible(False)
        self.body.addWidget(self.quickbooks_box)

        self.desktop_box = QFrame()
        self.desktop_box.setObjectName("postingQuickBooksDesktop")
        desktop_layout = QVBoxLayout(self.desktop_box)
        desktop_layout.setContentsMargins(0, 6, 0, 0)
        desktop_heading = QLabel("QuickBooks Desktop: how payments are recorded")
        desktop_heading.setStyleSheet("font-weight: 600; font-size: 11pt;")
        self.desktop_card = QLineEdit()
        self.desktop_card.setObjectName("postingDesktopCardMethod")
        self.desktop_bank = QLineEdit()
        self.desktop_bank.setObjectName("postingDesktopBankMethod")
        for field, which in ((self.desktop_card, "card"), (self.desktop_bank, "bank")):
            field.setMaxLength(DESKTOP_MAX_NAME)
            field.setMinimumWidth(300)
            field.setPlaceholderText("None: the Payment Method stays empty")
            field.setAccessibleName(f"QuickBooks Desktop payment method for {which} payments")
            field.textEdited.connect(self.fields_edited)
        desktop_rows = FieldRows()
        desktop_rows.addRow("Card payments", _left(self.desktop_card))
        desktop_rows.addRow("Bank payments", _left(self.desktop_bank))
        desktop_layout.addWidget(desktop_heading)
        desktop_layout.addLayout(desktop_rows)
        desktop_layout.addWidget(self.note(
            "Type the name exactly as in QuickBooks' Payment Method list (Lists › Customer "
            "&amp; Vendor Profile Lists), for example “Visa” or “E-Check”. Left empty, "
            "QuickBooks records the payment without a payment method. A name QuickBooks does "
            "not have stops the payment in Transactions with a message, until it is "
            "corrected here or added in QuickBooks."))
        self.desktop_list = self.note("")
        self.desktop_list.setObjectName("postingDesktopMethodList")
        desktop_layout.addWidget(self.desktop_list)
        self._desktop_names: tuple[str, ...] | None = None
        self.desktop_box.setVisible(False)
        self.body.addWidget(self.desktop_box)

    def load(self, engine: Engine, credentials: CredentialStore) -> PostingFacts:
        overview = posting_overview(engine, credentials)
        connected = {channel.name for channel in overview if channel.connected}
        online = quickbooks_online_choices(engine)
        return PostingFacts(
            overview, online,
            _read_online_methods(engine, credentials) if online is not None else None,
            load_desktop_methods(engine) if "quickbooks_desktop" in connected else None,
            load_desktop_method_list(engine) if "quickbooks_desktop" in connected else None)

    def store(self, engine: Engine, value: PostingFacts, actor: str) -> None:  # pool thread
        if value.online_methods is not None:
            save_online_methods(engine, value.online_methods.chosen, actor)
        if value.desktop_methods is not None:
            save_desktop_methods(engine, value.desktop_methods, actor)

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
        self._show_online_methods(value.online_methods)
        self.desktop_box.setVisible(value.desktop_methods is not None)
        if value.desktop_methods is not None:
            self.desktop_card.setText(value.desktop_methods.card)
            self.desktop_bank.setText(value.desktop_methods.bank)
            self._show_desktop_list(value.desktop_list)

    def _show_desktop_list(self, known: DesktopMethodList | None) -> None:
        self._desktop_names = known.names if known is not None else None
        if known is None:
            self.desktop_list.setText(
                "The Web Connector has not read QuickBooks' Payment Method list yet; it does "
                "at its next update.")
            return
        from app.gui.invoices.formatting import datetime_text

        names = ", ".join(f"“{escape(name)}”" for name in known.names) or "(empty)"
        self.desktop_list.setText(
            f"QuickBooks' Payment Method list at the Web Connector's update of "
            f"{escape(datetime_text(known.read_at))}: {names}.")
        completer = QCompleter(list(known.names), self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.desktop_card.setCompleter(completer)
        self.desktop_bank.setCompleter(completer)

    def _show_online_methods(self, methods: OnlineMethodChoice | None) -> None:
        if methods is None:
            return
        available = {m.id: m for m in methods.available}
        gone: list[str] = []
        for combo, chosen, default in (
                (self.online_card, methods.chosen.card, DEFAULT_CARD_METHOD),
                (self.online_bank, methods.chosen.bank, DEFAULT_BANK_METHOD)):
            combo.blockSignals(True)
            combo.clear()
            combo.addItem(f"{default} (PayDesk's default)", "")
            for method in methods.available:
                # The default's own entry stands for it (unless that very one was chosen).
                if (method.name.casefold() != default.casefold()
                        or (chosen is not None and chosen.id == method.id)):
                    combo.addItem(method.name, method.id)
            if chosen is not None and chosen.id not in available:
                combo.addItem(f"{chosen.name} (no longer in QuickBooks)", chosen.id)
                if methods.problem is None:
                    gone.append(chosen.name)
            index = 0 if chosen is None else max(0, combo.findData(chosen.id))
            combo.setCurrentIndex(index)
            combo.setEnabled(methods.problem is None)
            combo.blockSignals(False)
        self.online_retry.setVisible(methods.problem is not None)
        if methods.problem is not None:
            text = f"<span style='color:#85520A'>{escape(methods.problem)}</span>"
        elif gone:
            text = ("<span style='color:#85520A'>"
                    + escape(", ".join(f"“{name}”" for name in gone))
                    + " is no longer in QuickBooks Online (deleted or made inactive): payments "
                    "that need it stop in Transactions until you choose another here.</span>")
        else:
            text = ("The methods are QuickBooks Online's own list; PayDesk's defaults are "
                    "added to it the first time they are needed. A method deleted in "
                    "QuickBooks later stops the payments that need it in Transactions with a "
                    "message; PayDesk never picks another by itself.")
        self.online_note.setText(text)

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
        self.methods.setText(
            f"In {escape(choices.company)}, each payment is recorded with the payment method "
            f"chosen below for card or bank payments; a surcharge is its own sales receipt "
            f"with the item “{escape(choices.surcharge_item)}”.")
        if self.deposits is None:
            from app.gui.quickbooks.deposits import DepositsView

            self.deposits = DepositsView(self.context)  # reads QuickBooks when first shown
            inner = self.deposits.layout()
            if inner is not None:
                inner.setContentsMargins(0, 6, 0, 0)
            self.quickbooks_layout.addWidget(self.deposits)

    def edited_value(self) -> PostingFacts | None:
        stored = self._stored
        if not isinstance(stored, PostingFacts):
            return None
        online = stored.online_methods
        if online is not None:
            known = {m.id: m for m in online.available}
            for method in (online.chosen.card, online.chosen.bank):
                if method is not None:
                    known.setdefault(method.id, method)

            def picked(combo: QComboBox) -> OnlineMethod | None:
                return known.get(str(combo.currentData() or ""))

            online = replace(online, chosen=OnlineMethods(picked(self.online_card),
                                                          picked(self.online_bank)))
        desktop = stored.desktop_methods
        if desktop is not None:
            stored_names = (desktop.card, desktop.bank)
            try:
                desktop = normalise_desktop_methods(DesktopMethods(
                    self.desktop_card.text(), self.desktop_bank.text()))
            except ValueError as exc:
                raise InvalidSetting(str(exc)) from exc
            desktop = DesktopMethods(
                self._checked_desktop_name(desktop.card, stored_names[0], "card"),
                self._checked_desktop_name(desktop.bank, stored_names[1], "bank"))
        return replace(stored, online_methods=online, desktop_methods=desktop)

    def _checked_desktop_name(self, name: str, stored: str, which: str) -> str:
        """A changed name must be in QuickBooks' list when it is known; it is then written as
        the list spells it."""
        names = self._desktop_names
        if names is None or not name or name == stored:
            return name
        spelled = {n.casefold(): n for n in names}
        if name.casefold() not in spelled:
            raise InvalidSetting(
                f"QuickBooks' Payment Method list has no “{name}” (for {which} payments). "
                "Type a name from the list shown above, or add it in QuickBooks and let the Web "
                "Connector update before saving.")
        return spelled[name.casefold()]

    # The deposit account has its own Save; leaving with a choice not saved asks first.
    def _deposits_dirty(self) -> bool:
        from app.gui.quickbooks.deposits import DepositsView

        return isinstance(self.deposits, DepositsView) and (
            self.deposits.save_button.isEnabled() or self.deposits.saving)

    def is_saving(self) -> bool:
        from app.gui.quickbooks.deposits import DepositsView

        return isinstance(self.deposits, DepositsView) and self.deposits.saving

    def has_unsaved_changes(self) -> bool:
        return super().has_unsaved_changes() or self._deposits_dirty()

    def save(self) -> bool:
        from app.gui.quickbooks.deposits import DepositsView

        if isinstance(self.deposits, DepositsView) and self._deposits_dirty():
            self.deposits.save()
        if super().has_unsaved_changes():
            return super().save()
        return True

    def discard_changes(self) -> None:
        from app.gui.quickbooks.deposits import DepositsView

        if isinstance(self.deposits, DepositsView):
            self.deposits.reload()
        super().discard_changes()
