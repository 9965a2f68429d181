"""The QuickBooks area's Deposits tab (QuickBooks Online): which account the payments PayDesk
records are deposited to — QuickBooks' Undeposited Funds (the default) or a bank account.

The accounts are read from QuickBooks in a worker when the tab is first shown; the choice is
saved with the connection for every seat (``app.core.quickbooks.online.deposits``). Runs on
the GUI thread except the functions handed to ``run_task``.
"""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget
from sqlalchemy import Engine

from app.core.credentials import CredentialStore
from app.core.quickbooks.online.deposits import (
    DepositAccount,
    choose_deposit_account,
    deposit_account_id,
    deposit_accounts,
)
from app.gui.context import AppContext
from app.gui.workers import WorkerFailure, run_task

__all__ = ["DepositsView"]


def _accounts_and_choice(engine: Engine, credentials: CredentialStore
                         ) -> tuple[list[DepositAccount], str]:
    """Runs on a pool thread: the accounts QuickBooks offers, and the one chosen now."""
    return deposit_accounts(engine, credentials), deposit_account_id(engine)


class DepositsView(QWidget):
    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("quickbooksDepositsView")
        self.context = context
        self._loaded = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 14, 16, 12)
        layout.setSpacing(10)
        intro = QLabel(
            "Where QuickBooks puts the payments PayDesk records. <b>Undeposited Funds</b> "
            "(QuickBooks' default) suits a payment processor that pays out in batches: you "
            "group the payments into one bank deposit with QuickBooks' Bank Deposit screen, "
            "so the deposit matches your bank statement. Choose your bank account only if "
            "each payment reaches the bank on its own. The choice applies to payments "
            "recorded from now on, for everyone using this PayDesk database.")
        intro.setObjectName("secondaryText")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        row = QHBoxLayout()
        label = QLabel("&Deposit payments to:")
        self.account = QComboBox()
        self.account.setObjectName("quickbooksDepositAccount")
        self.account.setMinimumWidth(320)
        self.account.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.account.setEnabled(False)
        label.setBuddy(self.account)
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("quickbooksDepositSave")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self.save)
        self.saving = False
        self.account.currentIndexChanged.connect(self._changed)
        row.addWidget(label)
        row.addWidget(self.account)
        row.addWidget(self.save_button)
        row.addStretch(1)
        layout.addLayout(row)
        self.status = QLabel("")
        self.status.setObjectName("quickbooksDepositStatus")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        layout.addStretch(1)
        self._saved_id = ""

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._loaded:
            self.reload()

    @Slot()
    def reload(self) -> None:
        self._loaded = True
        self.status.setText("Reading your QuickBooks accounts…")
        run_task("read your QuickBooks accounts", _accounts_and_choice, self.context.engine,
                 self.context.credentials, on_success=self._show, on_failure=self._failed,
                 parent=self)

    def _show(self, answer: tuple[list[DepositAccount], str]) -> None:
        accounts, chosen = answer
        self.account.blockSignals(True)
        self.account.clear()
        for account in accounts:
            kind = f" — {account.kind}" if account.kind else ""
            self.account.addItem(f"{account.name}{kind}", account.id)
        index = self.account.findData(chosen)
        self.account.setCurrentIndex(max(index, 0))
        self.account.blockSignals(False)
        self.account.setEnabled(True)
        self._saved_id = chosen
        self.status.setText("" if index >= 0 else (
            "The account chosen before is no longer active in QuickBooks; payments go to "
            "Undeposited Funds until you choose another."))
        self._changed()

    def _failed(self, failure: WorkerFailure) -> None:
        from app.gui.errors import describe_exception

        self.status.setText(f"PayDesk could not read your QuickBooks accounts. "
                            f"{describe_exception(failure.exception)}")

    @Slot()
    def _changed(self) -> None:
        self.save_button.setEnabled(str(self.account.currentData() or "") != self._saved_id)

    @Slot()
    def save(self) -> None:
        account_id = str(self.account.currentData() or "")
        name = self.account.currentText()
        self.save_button.setEnabled(False)
        #: True from Save until the choice is stored or refused (Settings waits on it).
        self.saving = True
        run_task("save where payments are deposited", choose_deposit_account,
                 self.context.engine, account_id, on_success=lambda _r: self._saved(
                     account_id, name), on_failure=self._save_failed, parent=self)

    def _save_failed(self, failure: WorkerFailure) -> None:
        from app.gui.errors import describe_exception

        self.saving = False
        self.status.setText(f"Not saved. {describe_exception(failure.exception)}")
        self._changed()

    def _saved(self, account_id: str, name: str) -> None:
        self.saving = False
        self._saved_id = account_id
        self.status.setText(f"Saved. Payments recorded from now on go to {name}.")
        self._changed()
