"""Payment upkeep that runs at each start and then every few minutes: finish unresolved
payments (:func:`~app.core.payments.pipeline.recover_payments`) and deliver the postings of
every connected push channel that are due (:func:`~app.core.posting.open_outbox`).

The window runs :func:`run_payment_maintenance` on a worker thread at start and on a timer;
``paydesk payments recover`` runs it once, headless. Both open the stored gateway and
channel connections the same way, so what one does the other does.

Threads: blocks on the network and the database; never call it on the GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from app.core.credentials import CredentialStore
from app.core.gateways import GatewayError
from app.core.gateways.connection import describe_missing_gateway, load_gateway
from app.core.payments.pipeline import RecoveryReport, recover_payments
from app.core.posting import DeliveryReport, open_outbox

if TYPE_CHECKING:
    from app.core.autopay.runner import AutoPayReport

__all__ = ["MaintenanceReport", "run_payment_maintenance"]


@dataclass(frozen=True, slots=True)
class MaintenanceReport:
    """What one round of upkeep did. ``problems`` are sentences for the bookkeeper (a
    missing connection, an unreachable service); the next round tries again."""

    recovery: RecoveryReport | None
    delivery: DeliveryReport | None
    problems: tuple[str, ...] = ()
    #: The AutoPay run of this round (rounds with ``autopay=True`` only).
    autopay: AutoPayReport | None = None

    @property
    def ok(self) -> bool:
        """Everything settled and posted (or nothing to do)."""
        return (
            not self.problems
            and self.recovery is not None
            and not self.recovery.still_unknown
            and not self.recovery.errors
            and (self.delivery is None or self.delivery.failed == 0)
        )

    @property
    def summary(self) -> str:
        parts = []
        if self.recovery is not None:
            parts.append(f"Payments: {self.recovery.summary}")
        if self.delivery is not None:
            parts.append(f"Posting: {self.delivery.summary}")
        parts.extend(self.problems)
        return "\n".join(parts)


def run_payment_maintenance(
    engine: Engine,
    credentials: CredentialStore,
    *,
    deliver_postings: bool = True,
    reclaim: bool = False,
    at_start: bool = True,
    actor: str | None = None,
    autopay: bool = False,
) -> MaintenanceReport:
    """One round: recover payments, then deliver due postings.

    ``at_start``: this program has just started, so none of this seat's unfinished payments
    can still be running — they are resolved at once. The periodic rounds pass ``False``:
    this seat's own dialog may be in the middle of a payment, so only payments older than
    the stale limit are touched.

    ``reclaim`` also takes postings a crash left half delivered before their lease ran out
    (``paydesk payments recover`` does; it is safe because a posting that may have landed
    is looked up before it is created again).

    ``autopay`` also charges the AutoPay invoices and scheduled payments that are due
    (:func:`app.core.autopay.run_autopay`), after recovery and before delivery, so their
    postings go out in the same round.
    """
    problems: list[str] = []
    recovery: RecoveryReport | None = None
    gateway = load_gateway(engine, credentials)
    if gateway is None:
        problems.append(describe_missing_gateway(engine, credentials) or (
            "The payment gateway could not be opened. Run Setup… to connect your payment "
            "gateway."))
    else:
        try:
            recovery = recover_payments(engine, gateway, actor=actor,
                                        mine_immediately=at_start)
        except GatewayError as exc:
            problems.append(exc.message)
    autopay_report: AutoPayReport | None = None
    if autopay and gateway is not None:
        from app.core.autopay.runner import run_autopay

        try:
            autopay_report = run_autopay(engine, gateway, actor=actor,
                                         mine_immediately=at_start)
        except GatewayError as exc:
            problems.append(f"AutoPay could not run: {exc.message}")
    delivery: DeliveryReport | None = None
    if deliver_postings:
        outbox, missing = open_outbox(engine, credentials, actor=actor)
        problems.extend(missing)
        with outbox:
            if outbox.deliverers:
                delivery = outbox.deliver_due(reclaim=reclaim, limit=10_000)
    return MaintenanceReport(recovery=recovery, delivery=delivery, problems=tuple(problems),
                             autopay=autopay_report)
