"""Settings › Posting's payment method choosers (pytest-qt), against the QuickBooks Online
sandbox over HTTP and the real database: shown only while that QuickBooks is connected, the
company's own list offered, a choice saved as the shared setting (audited) and used from then
on, Revert putting back what is stored; QuickBooks Desktop's names typed and saved. No database
query on the GUI thread meanwhile."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import event

from app.core.config import last_setting_change, set_setting
from app.core.quickbooks.desktop.channel import CONNECTION_SETTING as DESKTOP_CONNECTION
from app.core.quickbooks.online.setup import connect_sandbox
from app.core.quickbooks.payment_methods import (
    DESKTOP_SETTING,
    ONLINE_SETTING,
    DesktopMethods,
    OnlineMethod,
    OnlineMethods,
    load_desktop_methods,
    load_online_methods,
    save_online_methods,
    store_desktop_method_list,
)
from app.gui.context import AppContext
from app.gui.settings import SettingsArea
from app.gui.settings.posting_section import PostingSection
from app.sandbox.quickbooks_online.server import QuickBooksOnlineSandbox
from tests.gui.conftest import wait_for_background_tasks

_KEEP: list[SettingsArea] = []


@pytest.fixture(autouse=True)
def _release_areas() -> Iterator[None]:
    yield
    _KEEP.clear()


class GuiThreadQueries:
    def __init__(self) -> None:
        self.found: list[str] = []

    def check(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if threading.current_thread() is threading.main_thread():
            self.found.append(statement.split("\n")[0][:120])


@pytest.fixture
def quickbooks(set_up_context: AppContext) -> Iterator[QuickBooksOnlineSandbox]:
    with QuickBooksOnlineSandbox(currency="USD") as server:
        connect_sandbox(set_up_context.engine, set_up_context.credentials, server)
        yield server


def _page(qtbot: QtBot, context: AppContext, watch: GuiThreadQueries) -> PostingSection:
    area = SettingsArea(context)
    qtbot.addWidget(area)
    _KEEP.append(area)
    area.resize(1100, 900)
    event.listen(context.engine, "before_cursor_execute", watch.check)
    area.show()
    page = area.show_section("posting")
    assert isinstance(page, PostingSection)
    qtbot.waitUntil(lambda: page._has_stored, timeout=20_000)
    return page


def _saved(qtbot: QtBot, page: PostingSection) -> None:
    with qtbot.waitSignal(page.saved, timeout=20_000):
        page.save_button.click()
    qtbot.waitUntil(lambda: not page._busy, timeout=20_000)


def test_quickbooks_online_methods_are_chosen_from_the_companys_list_and_saved(
    qtbot: QtBot, set_up_context: AppContext, quickbooks: QuickBooksOnlineSandbox,
) -> None:
    context = set_up_context
    watch = GuiThreadQueries()
    try:
        page = _page(qtbot, context, watch)
        assert page.quickbooks_box.isVisible() and not page.desktop_box.isVisible()
        card, bank = page.online_card, page.online_bank
        assert card.isEnabled()
        names = [card.itemText(i) for i in range(card.count())]
        assert names[0].startswith("Credit Card (PayDesk's default")
        assert {"Visa", "MasterCard", "Cash", "Check"} <= set(names)
        assert not page.save_button.isEnabled()

        card.setCurrentIndex(names.index("Visa"))
        bank.setCurrentIndex([bank.itemText(i) for i in range(bank.count())].index("Check"))
        assert page.has_unsaved_changes() and page.save_button.isEnabled()
        _saved(qtbot, page)
        qtbot.waitUntil(lambda: page._has_stored and not page._busy, timeout=20_000)
        wait_for_background_tasks(qtbot)
        assert not page.has_unsaved_changes()
        assert watch.found == []
    finally:
        event.remove(context.engine, "before_cursor_execute", watch.check)

    stored = load_online_methods(context.engine)
    assert stored.card is not None and stored.card.name == "Visa"
    assert stored.bank is not None and stored.bank.name == "Check"
    change = last_setting_change(context.engine, [ONLINE_SETTING])
    assert change is not None
    assert page.change_label.text().startswith("Last changed on")

    # Revert puts back what is stored.
    card.setCurrentIndex(0)
    assert page.has_unsaved_changes()
    page.revert_button.click()
    assert card.currentText() == "Visa" and not page.has_unsaved_changes()


def test_a_chosen_method_no_longer_in_quickbooks_is_shown_as_such(
    qtbot: QtBot, set_up_context: AppContext, quickbooks: QuickBooksOnlineSandbox,
) -> None:
    save_online_methods(set_up_context.engine, OnlineMethods(
        card=OnlineMethod("999", "Old Card")), actor="ann")
    watch = GuiThreadQueries()
    try:
        page = _page(qtbot, set_up_context, watch)
        assert page.online_card.currentText() == "Old Card (no longer in QuickBooks)"
        assert "no longer in QuickBooks Online" in page.online_note.text()
        assert not page.has_unsaved_changes()
        wait_for_background_tasks(qtbot)
        assert watch.found == []
    finally:
        event.remove(set_up_context.engine, "before_cursor_execute", watch.check)


def test_quickbooks_desktop_names_are_typed_and_saved(
    qtbot: QtBot, set_up_context: AppContext,
) -> None:
    context = set_up_context
    set_setting(context.engine, DESKTOP_CONNECTION, {"username": "paydesk-qbwc"}, actor="t")
    watch = GuiThreadQueries()
    try:
        page = _page(qtbot, context, watch)
        assert page.desktop_box.isVisible() and not page.quickbooks_box.isVisible()
        assert page.desktop_card.text() == "" and page.desktop_bank.text() == ""
        qtbot.keyClicks(page.desktop_card, "Visa")
        qtbot.keyClicks(page.desktop_bank, "E-Check ")
        assert page.save_button.isEnabled()
        _saved(qtbot, page)
        wait_for_background_tasks(qtbot)
        assert watch.found == []
    finally:
        event.remove(context.engine, "before_cursor_execute", watch.check)
    assert load_desktop_methods(context.engine) == DesktopMethods(card="Visa", bank="E-Check")
    assert last_setting_change(context.engine, [DESKTOP_SETTING]) is not None


def test_quickbooks_desktops_list_checks_a_typed_name(
    qtbot: QtBot, set_up_context: AppContext,
) -> None:
    from datetime import UTC, datetime

    context = set_up_context
    set_setting(context.engine, DESKTOP_CONNECTION, {"username": "paydesk-qbwc"}, actor="t")
    store_desktop_method_list(context.engine, ["Cash", "E-Check", "Visa"],
                              datetime(2026, 12, 1, 9, 30, tzinfo=UTC))
    watch = GuiThreadQueries()
    try:
        page = _page(qtbot, context, watch)
        assert "“E-Check”" in page.desktop_list.text()
        qtbot.keyClicks(page.desktop_card, "Mastercard")
        page.save_button.click()
        assert "has no “Mastercard”" in page.message.text()
        page.desktop_card.clear()
        qtbot.keyClicks(page.desktop_card, "visa")  # written as QuickBooks spells it
        _saved(qtbot, page)
        wait_for_background_tasks(qtbot)
        assert watch.found == []
    finally:
        event.remove(context.engine, "before_cursor_execute", watch.check)
    assert load_desktop_methods(context.engine) == DesktopMethods(card="Visa")


def test_no_quickbooks_no_choosers(qtbot: QtBot, set_up_context: AppContext) -> None:
    watch = GuiThreadQueries()
    try:
        page = _page(qtbot, set_up_context, watch)
        assert not page.quickbooks_box.isVisible() and not page.desktop_box.isVisible()
        assert not page.save_button.isEnabled()
        wait_for_background_tasks(qtbot)
    finally:
        event.remove(set_up_context.engine, "before_cursor_execute", watch.check)


def test_a_list_quickbooks_did_not_give_is_said_and_the_choosers_wait(
    qtbot: QtBot, set_up_context: AppContext, quickbooks: QuickBooksOnlineSandbox,
) -> None:
    quickbooks.add_fault("server_error", count=100, path="/query", status=400)
    watch = GuiThreadQueries()
    try:
        page = _page(qtbot, set_up_context, watch)
        assert not page.online_card.isEnabled() and not page.online_bank.isEnabled()
        assert "could not read QuickBooks Online&#x27;s payment methods" in (
            page.online_note.text())
        assert page.online_card.currentText().startswith("Credit Card (PayDesk's default")
        assert not page.has_unsaved_changes()
        assert page.online_retry.isVisible()
        wait_for_background_tasks(qtbot)
        # QuickBooks answers again: "Read the list again" brings the choosers back.
        quickbooks.clear_faults()
        with qtbot.waitSignal(page.loaded, timeout=20_000):
            page.online_retry.click()
        assert page.online_card.isEnabled() and not page.online_retry.isVisible()
        assert page.online_card.count() > 1
        wait_for_background_tasks(qtbot)
        assert watch.found == []
    finally:
        event.remove(set_up_context.engine, "before_cursor_execute", watch.check)
        quickbooks.clear_faults()
