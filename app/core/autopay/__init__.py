"""AutoPay and scheduled payments: invoices that pay themselves, with the customer's recorded
consent, charged through the same payment pipeline as every other payment.

* :mod:`.rules` — a rule per organization and the authorization behind it (kept, printable);
* :mod:`.scheduled` — one future charge of given invoices on a given date;
* :mod:`.plan` — which charges fall on which day;
* :mod:`.runner` — :func:`run_autopay`, charging what is due once (claims, retries, crash
  safety, why no surcharge);
* :mod:`.overview` — what the AutoPay view shows;
* :mod:`.defaults` — the MSP's retry schedule and default timing (``autopay.defaults``).
"""

from __future__ import annotations

from app.core.autopay.defaults import (
    AutoPayDefaults,
    load_autopay_defaults,
    save_autopay_defaults,
)
from app.core.autopay.overview import AttentionRow, AutoPayOverview, LastRun, load_autopay_overview
from app.core.autopay.plan import PlannedCharge
from app.core.autopay.rules import (
    AuthorizationRecord,
    AutoPayRefused,
    RuleTerms,
    RuleView,
    active_rule,
    authorization_html,
    authorization_text,
    create_rule,
    load_authorization,
    revoke_rule,
    rules_for_organization,
)
from app.core.autopay.runner import AutoPayReport, ChargeLine, run_autopay
from app.core.autopay.scheduled import cancel_scheduled_payment, schedule_payment

__all__ = [
    "AttentionRow",
    "AuthorizationRecord",
    "AutoPayDefaults",
    "AutoPayOverview",
    "AutoPayRefused",
    "AutoPayReport",
    "ChargeLine",
    "LastRun",
    "PlannedCharge",
    "RuleTerms",
    "RuleView",
    "active_rule",
    "authorization_html",
    "authorization_text",
    "cancel_scheduled_payment",
    "create_rule",
    "load_authorization",
    "load_autopay_defaults",
    "load_autopay_overview",
    "revoke_rule",
    "rules_for_organization",
    "run_autopay",
    "save_autopay_defaults",
    "schedule_payment",
]
