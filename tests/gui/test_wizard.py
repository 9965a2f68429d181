"""The setup wizard driven the way a person (or an assistive tool) would: by object names.

Everything talks to a real Autotask sandbox over HTTP; only the OS keychain is in memory.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QCheckBox,
    QComboBox,
    QDialog,
    QLineEdit,
    QPushButton,
    QWidget,
    QWizard,
)
from pytestqt.qtbot import QtBot
from sqlalchemy import Engine, String, Text, func, inspect, select

from app.core.config import Profile, get_internal_currency, set_internal_currency
from app.core.connections import load_autotask_connection
from app.core.credentials import CredentialStore, SecretName
from app.core.logs import setup_logging
from app.core.setup.steps import is_setup_complete
from app.core.storage.models import Base, Invoice, Organization
from app.gui.context import AppContext
from app.gui.wizard import SetupWizard
from app.gui.wizard.notice import Notice
from app.gui.workers import active_tasks
from app.sandbox.autotask.server import AutotaskSandbox
from app.sandbox.demo import DemoEnvironment
from tests.keyring_memory import MemoryKeyring

TEST_TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def sandbox() -> Iterator[AutotaskSandbox]:
    with AutotaskSandbox(companies=40, contacts=60, contracts=20, tickets=120, invoices=150,
                         seed=11) as server:
        yield server


@pytest.fixture
def context(
    profile: Profile, sqlite_engine: Engine, sandbox: AutotaskSandbox, tmp_path: Path
) -> Iterator[AppContext]:
    sandbox.faults.scripted.clear()
    sandbox.set_usage(0)
    ctx = AppContext(profile, sqlite_engine, CredentialStore(profile.key))
    # Pre-fill from the sandbox exactly as --demo does (the demo object owns no folder here).
    ctx.demo = DemoEnvironment(tmp_path / "unused", profile, sandbox, None)
    yield ctx


@pytest.fixture
def wizard(qtbot: QtBot, context: AppContext) -> Iterator[SetupWizard]:
    w = SetupWizard(context)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.autotask_page.cancel_test()
    qtbot.waitUntil(lambda: not active_tasks(), timeout=TEST_TIMEOUT_MS)


def child(wizard: QWidget, kind: type, name: str):  # type: ignore[no-untyped-def]
    found = wizard.findChild(kind, name)
    assert found is not None, f"no {kind.__name__} named {name}"
    return found


def next_button(wizard: SetupWizard) -> QAbstractButton:
    button = wizard.button(QWizard.WizardButton.NextButton)
    assert button is not None
    return button


def press_next(qtbot: QtBot, wizard: SetupWizard) -> None:
    """Click Next; when it was enabled, wait until the next page is shown and has read what
    it needs (pages store and read in workers)."""
    before = wizard.currentPage()
    enabled = next_button(wizard).isEnabled()
    qtbot.mouseClick(next_button(wizard), Qt.MouseButton.LeftButton)
    if enabled:
        qtbot.waitUntil(lambda: wizard.currentPage() is not before, timeout=TEST_TIMEOUT_MS)
        page = wizard.currentPage()
        qtbot.waitUntil(lambda: getattr(page, "loaded", getattr(page, "checked", True)),
                        timeout=TEST_TIMEOUT_MS)


def go_to_autotask_page(qtbot: QtBot, wizard: SetupWizard, currency: str = "USD") -> None:
    assert wizard.currentPage().objectName() == "welcomePage"
    press_next(qtbot, wizard)
    assert wizard.currentPage().objectName() == "currencyPage"
    combo: QComboBox = child(wizard, QComboBox, "currencyCombo")
    if wizard.currency_page.locked_code is None:
        combo.setCurrentIndex(combo.findData(currency))
        check: QCheckBox = child(wizard, QCheckBox, "currencyConfirmCheck")
        check.setChecked(True)
    press_next(qtbot, wizard)
    assert wizard.currentPage().objectName() == "autotaskPage"


def set_field(qtbot: QtBot, wizard: SetupWizard, name: str, text: str) -> None:
    field: QLineEdit = child(wizard, QLineEdit, name)
    field.selectAll()
    field.clear()
    qtbot.keyClicks(field, text)


def next_to_first_sync(qtbot: QtBot, wizard: SetupWizard) -> None:
    """Next from the Autotask page, through any plug-in pages (gateway, QuickBooks)."""
    press_next(qtbot, wizard)
    for _ in range(5):
        page = wizard.currentPage()
        if page.objectName() == "firstSyncPage":
            return
        if not next_button(wizard).isEnabled():
            # A plug-in page pre-filled by the demo wants its own Test Connection first.
            tests = [b for b in page.findChildren(QPushButton)
                     if b.objectName().lower().endswith(("testbutton", "testconnectionbutton"))]
            assert tests, f"{page.objectName()} keeps Next disabled"
            qtbot.mouseClick(tests[0], Qt.MouseButton.LeftButton)
            qtbot.waitUntil(next_button(wizard).isEnabled, timeout=TEST_TIMEOUT_MS)
        press_next(qtbot, wizard)
    raise AssertionError("the first sync page never came")


def wait_for_first_sync(qtbot: QtBot, wizard: SetupWizard) -> str:
    assert wizard.currentPage().objectName() == "firstSyncPage"
    result: Notice = child(wizard, Notice, "syncResult")
    qtbot.waitUntil(lambda: result.isVisible(), timeout=60_000)
    return result.text()


def status_text(wizard: SetupWizard) -> str:
    status: Notice = child(wizard, Notice, "connectionStatus")
    return status.text() if status.isVisible() else ""


def test_connection(qtbot: QtBot, wizard: SetupWizard, expect: str) -> str:
    button: QPushButton = child(wizard, QPushButton, "testConnectionButton")
    assert button.isEnabled()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: expect in status_text(wizard), timeout=TEST_TIMEOUT_MS)
    return status_text(wizard)


test_connection.__test__ = False  # type: ignore[attr-defined]


# --- the happy path -------------------------------------------------------------------------


def test_demo_prefill_and_successful_test_enable_next(
    qtbot: QtBot, wizard: SetupWizard, context: AppContext, sandbox: AutotaskSandbox,
    memory_keyring: MemoryKeyring,
) -> None:
    go_to_autotask_page(qtbot, wizard)
    assert get_internal_currency(context.engine) == "USD"
    assert child(wizard, QLineEdit, "autotaskUsername").text() == sandbox.credentials.username
    secret_field: QLineEdit = child(wizard, QLineEdit, "autotaskSecret")
    assert secret_field.echoMode() is QLineEdit.EchoMode.Password
    child(wizard, QCheckBox, "autotaskSecretShow").setChecked(True)
    assert secret_field.echoMode() is QLineEdit.EchoMode.Normal
    assert not next_button(wizard).isEnabled()

    text = test_connection(qtbot, wizard, "Connected to Autotask")
    assert "Sandbox (this computer)" in text  # the zone
    assert "/_sandbox/" in text  # the web address
    assert "40" in text  # organizations
    assert "of 10,000 requests" in text  # API usage
    assert next_button(wizard).isEnabled()

    next_to_first_sync(qtbot, wizard)
    # First sync: live progress per kind of record, then a summary; Finish is always there.
    assert child(wizard, QWidget, "syncOverallProgress").isVisible()
    finish = wizard.button(QWizard.WizardButton.FinishButton)
    assert finish is not None and finish.isVisible() and finish.isEnabled()
    text = wait_for_first_sync(qtbot, wizard)
    assert "Done." in text and "40 organizations" in text and "150 invoices" in text
    assert child(wizard, QWidget, "syncProgressInvoices").value() == 1
    with context.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Organization)).scalar() == 40
        assert connection.execute(select(func.count()).select_from(Invoice)).scalar() == 150
    qtbot.mouseClick(finish, Qt.MouseButton.LeftButton)
    assert wizard.result() == int(QDialog.DialogCode.Accepted)

    stored = load_autotask_connection(context.engine)
    assert stored is not None and stored.verified_at is not None
    assert stored.api_url == sandbox.zone_url
    service = CredentialStore(context.profile.key).service
    assert memory_keyring.entries[(service, SecretName.AUTOTASK_SECRET)] == \
        sandbox.credentials.secret


def test_editing_any_field_after_a_good_test_disables_next(
    qtbot: QtBot, wizard: SetupWizard
) -> None:
    go_to_autotask_page(qtbot, wizard)
    test_connection(qtbot, wizard, "Connected to Autotask")
    assert next_button(wizard).isEnabled()
    code: QLineEdit = child(wizard, QLineEdit, "autotaskIntegrationCode")
    qtbot.keyClicks(code, "X")
    assert not next_button(wizard).isEnabled()
    assert status_text(wizard) == ""  # the old result is gone
    qtbot.keyClick(code, Qt.Key.Key_Backspace)
    assert not next_button(wizard).isEnabled()  # same text again still needs a new test
    test_connection(qtbot, wizard, "Connected to Autotask")
    assert next_button(wizard).isEnabled()


def test_test_can_be_cancelled_without_freezing(
    qtbot: QtBot, wizard: SetupWizard, sandbox: AutotaskSandbox
) -> None:
    go_to_autotask_page(qtbot, wizard)
    sandbox.faults.latency_ms = 1500  # every answer takes 1.5 s
    try:
        button: QPushButton = child(wizard, QPushButton, "testConnectionButton")
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        assert button.text() == "Cancel Test"
        assert child(wizard, QWidget, "testConnectionProgress").isVisible()
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        assert "cancelled" in status_text(wizard)
        assert button.text() == "&Test Connection"
        qtbot.waitUntil(lambda: not active_tasks(), timeout=TEST_TIMEOUT_MS)
        assert "cancelled" in status_text(wizard)  # the late answer is ignored
        assert not next_button(wizard).isEnabled()
    finally:
        sandbox.faults.latency_ms = 0


# --- every failure has its own message, and Next stays off ----------------------------------


def _fail_with(qtbot: QtBot, wizard: SetupWizard, expect: str) -> None:
    test_connection(qtbot, wizard, expect)
    assert not next_button(wizard).isEnabled()


def test_wrong_secret(qtbot: QtBot, wizard: SetupWizard) -> None:
    go_to_autotask_page(qtbot, wizard)
    set_field(qtbot, wizard, "autotaskSecret", "not-the-secret")
    _fail_with(qtbot, wizard, "Autotask did not accept the secret.")


def test_unknown_user(qtbot: QtBot, wizard: SetupWizard, sandbox: AutotaskSandbox) -> None:
    go_to_autotask_page(qtbot, wizard)
    child(wizard, QAbstractButton, "autotaskAdvanced").click()
    set_field(qtbot, wizard, "autotaskZoneUrl", sandbox.zone_url)
    set_field(qtbot, wizard, "autotaskUsername", "someone.else@sandbox.example")
    _fail_with(qtbot, wizard, "does not recognise this API user")


def test_wrong_integration_code(qtbot: QtBot, wizard: SetupWizard) -> None:
    go_to_autotask_page(qtbot, wizard)
    set_field(qtbot, wizard, "autotaskIntegrationCode", "WRONGCODE")
    _fail_with(qtbot, wizard, "does not recognise the API integration code")


def test_zone_not_found(qtbot: QtBot, wizard: SetupWizard) -> None:
    go_to_autotask_page(qtbot, wizard)
    set_field(qtbot, wizard, "autotaskUsername", "typo@sandbox.example")
    _fail_with(qtbot, wizard, "could not tell which data centre (zone)")


def test_no_network(qtbot: QtBot, wizard: SetupWizard) -> None:
    go_to_autotask_page(qtbot, wizard)
    child(wizard, QAbstractButton, "autotaskAdvanced").click()
    set_field(qtbot, wizard, "autotaskZoneUrl", "http://127.0.0.1:9/ATServicesRest/")
    _fail_with(qtbot, wizard, "could not reach Autotask")


def test_tls_problem(qtbot: QtBot, wizard: SetupWizard, sandbox: AutotaskSandbox) -> None:
    go_to_autotask_page(qtbot, wizard)
    child(wizard, QAbstractButton, "autotaskAdvanced").click()
    set_field(qtbot, wizard, "autotaskZoneUrl", sandbox.zone_url.replace("http:", "https:"))
    _fail_with(qtbot, wizard, "could not make a secure connection")


def test_rate_limited(qtbot: QtBot, wizard: SetupWizard, sandbox: AutotaskSandbox) -> None:
    go_to_autotask_page(qtbot, wizard)
    sandbox.fail_next(times=5, status=429, path_contains="Companies",
                      message="Request rate limit exceeded", retry_after=0.1)
    _fail_with(qtbot, wizard, "hourly request limit")


def test_no_permission(qtbot: QtBot, wizard: SetupWizard, sandbox: AutotaskSandbox) -> None:
    go_to_autotask_page(qtbot, wizard)
    sandbox.fail_next(times=3, status=403, path_contains="Companies",
                      message="You do not have permission to query Companies.")
    _fail_with(qtbot, wizard, "not allowed to read your Autotask data")


def test_invalid_fields_are_explained_before_testing(qtbot: QtBot, wizard: SetupWizard) -> None:
    go_to_autotask_page(qtbot, wizard)
    set_field(qtbot, wizard, "autotaskUsername", "not an email")
    assert not child(wizard, QPushButton, "testConnectionButton").isEnabled()
    error = child(wizard, QWidget, "usernameError")
    assert error.isVisible() and "email" in error.text()


# --- the currency lock ------------------------------------------------------------------------


def test_currency_needs_the_confirmation_tick(qtbot: QtBot, wizard: SetupWizard,
                                              context: AppContext) -> None:
    press_next(qtbot, wizard)
    combo: QComboBox = child(wizard, QComboBox, "currencyCombo")
    check: QCheckBox = child(wizard, QCheckBox, "currencyConfirmCheck")
    assert combo.currentData() == "USD"  # from the locale (en_US in tests)
    warning = child(wizard, Notice, "currencyWarning")
    assert "can never be changed" in warning.text()
    assert not next_button(wizard).isEnabled()
    check.setChecked(True)
    assert next_button(wizard).isEnabled()
    combo.setCurrentIndex(combo.findData("EUR"))  # changing the choice withdraws the tick
    assert not check.isChecked() and not next_button(wizard).isEnabled()
    assert "Euro (EUR)" in check.text()
    combo.setEditText("zzz")  # search text that matches nothing
    assert not check.isEnabled()
    combo.setCurrentIndex(combo.findData("EUR"))
    check.setChecked(True)
    press_next(qtbot, wizard)
    assert get_internal_currency(context.engine) == "EUR"


def test_locked_currency_is_shown_read_only(
    qtbot: QtBot, context: AppContext
) -> None:
    set_internal_currency(context.engine, "GBP")
    w = SetupWizard(context)
    qtbot.addWidget(w)
    w.show()
    press_next(qtbot, w)
    combo: QComboBox = child(w, QComboBox, "currencyCombo")
    assert combo.currentData() == "GBP" and not combo.isEnabled()
    assert not child(w, QCheckBox, "currencyConfirmCheck").isVisible()
    assert "cannot be changed" in child(w, Notice, "currencyWarning").text()
    assert next_button(w).isEnabled()
    press_next(qtbot, w)
    assert get_internal_currency(context.engine) == "GBP"


# --- running the wizard again ---------------------------------------------------------------


def test_rerun_prefills_and_keeps_the_stored_secret_hidden(
    qtbot: QtBot, wizard: SetupWizard, context: AppContext, sandbox: AutotaskSandbox
) -> None:
    go_to_autotask_page(qtbot, wizard)
    test_connection(qtbot, wizard, "Connected to Autotask")
    next_to_first_sync(qtbot, wizard)
    wait_for_first_sync(qtbot, wizard)

    context.demo = None  # a second run pre-fills from what is stored, not from the demo
    again = SetupWizard(context)
    qtbot.addWidget(again)
    again.show()
    go_to_autotask_page(qtbot, again)
    assert child(again, QLineEdit, "autotaskUsername").text() == sandbox.credentials.username
    assert child(again, QLineEdit, "autotaskIntegrationCode").text() == \
        sandbox.credentials.integration_code
    assert child(again, QLineEdit, "autotaskSecret").text() == ""
    assert child(again, QWidget, "autotaskSecretStored").isVisible()
    test_connection(qtbot, again, "Connected to Autotask")  # uses the stored secret
    assert next_button(again).isEnabled()
    next_to_first_sync(qtbot, again)
    assert again.currentPage().title() == "Sync"  # not a second "first" sync
    assert "Done." in wait_for_first_sync(qtbot, again)


def test_save_keeps_untested_details_and_setup_stays_incomplete(
    qtbot: QtBot, wizard: SetupWizard, context: AppContext, memory_keyring: MemoryKeyring
) -> None:
    go_to_autotask_page(qtbot, wizard)
    set_field(qtbot, wizard, "autotaskSecret", "typed-but-not-tested")
    qtbot.mouseClick(child(wizard, QPushButton, "saveButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Saved" in status_text(wizard), timeout=TEST_TIMEOUT_MS)
    assert not next_button(wizard).isEnabled()
    stored = load_autotask_connection(context.engine)
    assert stored is not None and stored.verified_at is None
    assert "typed-but-not-tested" in memory_keyring.entries.values()
    assert not is_setup_complete(context.engine, context.credentials)


# --- the secret is in the keychain and nowhere else ----------------------------------------


def _all_text_in_database(engine: Engine) -> str:
    chunks: list[str] = []
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(select(table)):
                chunks.append(repr(tuple(row)))
        inspector = inspect(engine)
        assert set(inspector.get_table_names()) >= {t.name for t in Base.metadata.sorted_tables}
    return "\n".join(chunks)


def test_secret_lands_only_in_the_keychain(
    qtbot: QtBot, wizard: SetupWizard, context: AppContext, sandbox: AutotaskSandbox,
    memory_keyring: MemoryKeyring,
) -> None:
    log_path = setup_logging(context.profile.logs_folder, level=logging.DEBUG)
    try:
        go_to_autotask_page(qtbot, wizard)
        test_connection(qtbot, wizard, "Connected to Autotask")
        qtbot.mouseClick(child(wizard, QPushButton, "saveButton"), Qt.MouseButton.LeftButton)
        next_to_first_sync(qtbot, wizard)
        wait_for_first_sync(qtbot, wizard)
        logging.getLogger("tests").debug("wizard done for %s", sandbox.credentials.username)
    finally:
        for handler in logging.getLogger().handlers:
            handler.flush()
    secret = sandbox.credentials.secret
    assert secret in memory_keyring.entries.values()
    database = _all_text_in_database(context.engine)
    assert sandbox.credentials.username in database  # the scan does see the settings
    assert secret not in database
    assert log_path is not None and log_path.exists()
    assert secret not in log_path.read_text(encoding="utf-8")
    for path in context.profile.folder.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    assert not any(isinstance(c.type, String | Text) and c.name == "secret"
                   for t in Base.metadata.sorted_tables for c in t.columns)


# --- the demo: a newcomer clicks through and lands in Invoice History -----------------------


def test_demo_newcomer_reaches_invoice_history(qtbot: QtBot) -> None:
    import time

    from app.core.storage.engine import open_database
    from app.gui.main_window import MainWindow
    from app.sandbox.demo import start_demo

    started = time.monotonic()
    with start_demo(companies=30, invoices=200, latency_ms=0) as demo:
        engine = open_database(demo.profile.database_url)
        try:
            context = AppContext(demo.profile, engine, CredentialStore(demo.profile.key),
                                 demo=demo)
            # Not given to qtbot: closing the window saves its layout into the demo's profile,
            # which must happen before the demo deletes that folder, not after.
            window = MainWindow(context)
            window.show()
            window.open_setup_when_needed()
            qtbot.waitUntil(lambda: window.wizard is not None, timeout=TEST_TIMEOUT_MS)
            wizard = window.wizard
            assert isinstance(wizard, SetupWizard)
            assert wizard.findChild(Notice, "demoNotice") is not None
            go_to_autotask_page(qtbot, wizard)
            test_connection(qtbot, wizard, "Connected to Autotask")  # nothing typed: pre-filled
            next_to_first_sync(qtbot, wizard)
            assert "200 invoices" in wait_for_first_sync(qtbot, wizard)
            finish = wizard.button(QWizard.WizardButton.FinishButton)
            assert finish is not None
            qtbot.mouseClick(finish, Qt.MouseButton.LeftButton)
            qtbot.waitUntil(lambda: window.wizard is None)
            assert window.current_area_key() == "invoices"
            qtbot.waitUntil(lambda: not active_tasks(), timeout=TEST_TIMEOUT_MS)
        finally:
            window.close()
            shiboken6.delete(window)
            qtbot.wait(50)  # deferred deletions (the wizard's) run while the folder exists
            engine.dispose()
    assert time.monotonic() - started < 60
    assert not demo.folder.exists()


def test_first_sync_page_explains_a_sync_already_running(
    qtbot: QtBot, wizard: SetupWizard, context: AppContext
) -> None:
    from app.core.sync.lock import SyncLock

    go_to_autotask_page(qtbot, wizard)
    test_connection(qtbot, wizard, "Connected to Autotask")
    other = SyncLock(context.engine)  # another seat's (or the scheduler's) sync
    other.acquire()
    try:
        next_to_first_sync(qtbot, wizard)
        text = wait_for_first_sync(qtbot, wizard)
        assert "A sync is already running" in text and "press Finish" in text
        finish = wizard.button(QWizard.WizardButton.FinishButton)
        assert finish is not None and finish.isEnabled()
    finally:
        other.release()


def test_finish_lets_the_first_sync_continue_in_the_background(
    qtbot: QtBot, wizard: SetupWizard, context: AppContext, sandbox: AutotaskSandbox
) -> None:
    from app.gui.sync.controller import controller_for

    go_to_autotask_page(qtbot, wizard)
    test_connection(qtbot, wizard, "Connected to Autotask")
    sandbox.faults.latency_ms = 150  # slow enough to still be running when Finish is pressed
    try:
        next_to_first_sync(qtbot, wizard)
        finish = wizard.button(QWizard.WizardButton.FinishButton)
        assert finish is not None and finish.text() == "Continue in Background"
        qtbot.mouseClick(finish, Qt.MouseButton.LeftButton)
        assert not wizard.isVisible()
        controller = controller_for(context)
        assert controller.running  # the status bar and the Sync area show this same run
        qtbot.waitUntil(lambda: not controller.running, timeout=60_000)
    finally:
        sandbox.faults.latency_ms = 0
    assert controller.last_result is not None
    assert controller.last_result.status.value == "succeeded"
    with context.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Invoice)).scalar() == 150


def test_a_typed_zone_off_autotask_is_shown_for_what_it_is(qtbot: QtBot,
                                                          wizard: SetupWizard) -> None:
    from PySide6.QtWidgets import QLabel

    go_to_autotask_page(qtbot, wizard)
    child(wizard, QAbstractButton, "autotaskAdvanced").click()
    notice = child(wizard, QLabel, "zoneNotice")
    set_field(qtbot, wizard, "autotaskZoneUrl",
              "https://webservices15.autotask.net/ATServicesRest/")
    assert not notice.isVisible()
    set_field(qtbot, wizard, "autotaskZoneUrl", "https://psa.example.com/ATServicesRest/")
    assert notice.isVisible()
    assert "psa.example.com is not one of Autotask's own servers" in notice.text()
    assert "send the API user's secret there" in notice.text()


def test_a_slow_database_shows_checking_and_never_freezes_the_page(
    qtbot: QtBot, context: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the currency lock is read (a slow, shared database server), the page stays
    responsive and says "Checking…" with Next off; then it shows what was read."""
    import threading

    from app.gui.wizard import currency_page as module

    release = threading.Event()
    read = module.internal_currency_lock

    def slow_read(engine: Engine) -> object:
        release.wait(10)
        return read(engine)

    monkeypatch.setattr(module, "internal_currency_lock", slow_read)
    set_internal_currency(context.engine, "GBP")
    w = SetupWizard(context)
    qtbot.addWidget(w)
    w.show()
    qtbot.mouseClick(next_button(w), Qt.MouseButton.LeftButton)
    assert w.currentPage() is w.currency_page
    warning = child(w, Notice, "currencyWarning")
    qtbot.wait(200)  # the GUI thread keeps running while the read waits
    assert warning.text() == "Checking…"
    assert not next_button(w).isEnabled()
    assert not child(w, QComboBox, "currencyCombo").isEnabled()
    release.set()
    qtbot.waitUntil(lambda: w.currency_page.checked, timeout=TEST_TIMEOUT_MS)
    assert "cannot be changed" in warning.text()
    assert child(w, QComboBox, "currencyCombo").currentData() == "GBP"
    assert next_button(w).isEnabled()
