"""The Organization page's AutoPay tab: the client's AutoPay rule (or how to set one up),
Revoke…, Print authorization…, and the rules revoked before (their authorizations are kept).

Reads in workers; runs on the GUI thread otherwise.
"""

from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import Engine

from app.core.autopay import RuleView, revoke_rule, rules_for_organization
from app.gui.context import AppContext
from app.gui.payments.common import date_text
from app.gui.theme import set_themed_style
from app.gui.widgets.accessible import describe
from app.gui.workers import Task, WorkerFailure, run_task

__all__ = ["AutoPayOrganizationPanel", "add_to_organization_page"]


class _OrganizationPage(Protocol):
    organization_id: int

    def add_section(self, title: str, widget: QWidget) -> None: ...


def _rules(engine: Engine, organization_id: int) -> list[RuleView]:
    """Runs on a pool thread."""
    return rules_for_organization(engine, organization_id)


def rule_text(rule: RuleView, locale: str) -> str:
    which = "every invoice"
    if rule.contract_types or rule.item_types:
        which = "invoices of the chosen contract / billing types"
    return (f"Charges <b>{rule.method_summary}</b> {rule.when_text} for {which} dated from "
            f"{date_text(rule.covers_from)}, up to <b>{rule.limit.format(locale)}</b> an "
            f"invoice. Agreed by {rule.signer_name} on {date_text(rule.agreed_at)}.")


class AutoPayOrganizationPanel(QWidget):
    """See the module docstring."""

    def __init__(self, context: AppContext, organization_id: int,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("organizationAutopay")
        self.context = context
        self.organization_id = organization_id
        self.rules: list[RuleView] = []
        self._task: Task | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.setSpacing(8)
        self.status = QLabel("Reading AutoPay…")
        self.status.setObjectName("autopayRuleStatus")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.warning = QLabel()
        self.warning.setObjectName("autopayRuleWarning")
        self.warning.setWordWrap(True)
        set_themed_style(self.warning, "color: #A02727;")
        self.warning.hide()
        layout.addWidget(self.warning)
        buttons = QHBoxLayout()
        self.setup_button = QPushButton("Set up AutoPay…")
        self.setup_button.setObjectName("autopaySetupButton")
        self.setup_button.clicked.connect(self.open_setup)
        self.revoke_button = QPushButton("Revoke…")
        self.revoke_button.setObjectName("autopayRevokeButton")
        self.revoke_button.clicked.connect(self.revoke)
        self.print_button = QPushButton("Print authorization…")
        self.print_button.setObjectName("autopayPrintButton")
        self.print_button.clicked.connect(self.print_authorization)
        describe(self.setup_button, "Set up AutoPay for this organization, with the client's "
                 "authorization")
        describe(self.revoke_button, "Stop AutoPay for this organization; its authorization "
                 "record is kept")
        describe(self.print_button, "Print the client's AutoPay authorization")
        for button in (self.setup_button, self.revoke_button, self.print_button):
            button.setEnabled(False)
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.history = QLabel()
        self.history.setObjectName("secondaryText")
        self.history.setWordWrap(True)
        layout.addWidget(self.history)
        layout.addStretch(1)
        self._loaded = False

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._loaded:
            self.reload()

    @Slot()
    def reload(self) -> None:
        self._loaded = True
        self._task = run_task("read the organization's AutoPay", _rules, self.context.engine,
                              self.organization_id, on_success=self._show,
                              on_failure=self._failed, parent=self)

    def _failed(self, failure: WorkerFailure) -> None:
        from app.gui.errors import describe_exception

        self.status.setText("PayDesk could not read AutoPay. "
                            + describe_exception(failure.exception))

    @property
    def active(self) -> RuleView | None:
        return next((r for r in self.rules if r.active), None)

    def _show(self, rules: list[RuleView]) -> None:
        self.rules = rules
        active = self.active
        locale = self.context.locale
        if active is None:
            self.status.setText(
                "AutoPay is off for this organization. Once the client has agreed — on the "
                "payment gateway's page or on a signed form — set it up here and PayDesk "
                "charges their invoices on their own, with the agreement on record.")
        else:
            self.status.setText("<b>AutoPay is on.</b> " + rule_text(active, locale))
        self.warning.setVisible(active is not None and active.method_removed)
        self.warning.setText("The saved method AutoPay charges was removed, so AutoPay cannot "
                             "charge. Revoke AutoPay and set it up again with the client's "
                             "new card or bank account.")
        self.setup_button.setEnabled(active is None)
        self.revoke_button.setEnabled(active is not None)
        self.print_button.setEnabled(bool(rules))
        revoked = [r for r in rules if not r.active]
        self.history.setText("" if not revoked else "Revoked before (authorizations kept): " +
                             "; ".join(f"{r.method_summary}, agreed {date_text(r.agreed_at)}, "
                                       f"revoked {date_text(r.revoked_at)}" for r in revoked))

    @Slot()
    def open_setup(self) -> None:
        from app.gui.autopay.rule_dialog import AutoPayRuleDialog

        dialog = AutoPayRuleDialog(self.context, self.organization_id, self)
        dialog.ruleCreated.connect(self.reload)
        dialog.open()

    @Slot()
    def revoke(self) -> None:
        active = self.active
        if active is None:
            return
        reason, ok = QInputDialog.getText(
            self, "Revoke AutoPay",
            "AutoPay stops at once, retries included; the client's authorization is kept on "
            "record.\nWhy is it revoked? (for example: the client asked by email on 3 May)",
            QLineEdit.EchoMode.Normal, "")
        if not ok or not reason.strip():
            return
        run_task("revoke AutoPay", revoke_rule, self.context.engine, active.rule_id, reason,
                 on_success=lambda _r: self.reload(), parent=self)

    @Slot()
    def print_authorization(self) -> None:
        from app.gui.autopay.rule_dialog import print_authorization

        rule = self.active or (self.rules[0] if self.rules else None)
        if rule is not None:
            print_authorization(self.context, rule.authorization_id, self)


def add_to_organization_page(page: _OrganizationPage,
                             context: AppContext) -> AutoPayOrganizationPanel:
    """Add the "AutoPay" tab to an organization's page (GUI thread)."""
    panel = AutoPayOrganizationPanel(context, page.organization_id)
    page.add_section("AutoPay", panel)
    return panel
