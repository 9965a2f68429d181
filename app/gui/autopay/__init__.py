"""AutoPay's screens: the AutoPay area (:mod:`.view`), the Organization page's AutoPay tab
(:mod:`.organization_tab`) and its set-up dialog (:mod:`.rule_dialog`), the Order Summary's
"Schedule…" (:mod:`.schedule_dialog`) and the Settings section (:mod:`.defaults_section`)."""

from __future__ import annotations

from app.gui.autopay.organization_tab import add_to_organization_page
from app.gui.autopay.view import AutoPayView, create_autopay_area

__all__ = ["AutoPayView", "add_to_organization_page", "create_autopay_area"]
