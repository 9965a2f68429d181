"""The window's payment upkeep: a secure page completed after the dialog stopped waiting — a
pay link the client paid (Stripe), or Authorize.Net's page on this computer, which it cannot
withdraw — is recorded by the next background round, and Transactions refreshes."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from app.core.payments import (
    PaymentPipeline,
    PaymentRequest,
    PaymentState,
    compute_order_summary,
    load_payable_invoices,
)
from app.gui.context import AppContext
from app.gui.payments.transactions import create_transactions_area
from app.gui.payments.upkeep import PaymentUpkeep
from tests.gui.conftest import wait_for_background_tasks
from tests.gui.payments_support import ORG_ID, build_world
from tests.integration.payments.gateways import start_kit


def test_a_round_records_a_secure_page_completed_later_and_says_what_is_missing(
    qtbot: QtBot, set_up_context: AppContext, gateway_key: str
) -> None:
    with start_kit(gateway_key) as kit:
        world = build_world(set_up_context, kit)
        engine = set_up_context.engine
        kit.connect(engine, set_up_context.credentials)
        summary = compute_order_summary(
            load_payable_invoices(engine, world.invoice_ids[:1], "USD"), currency="USD"
        )
        pipeline = PaymentPipeline(engine, world.gateway)
        request = PaymentRequest.from_summary(summary, organization_id=ORG_ID)
        if kit.shareable_pages:
            hosted = pipeline.start_hosted_payment(request, purpose="pay_link")
        else:
            # Its page opens only here; the bookkeeper stopped waiting, the page stays usable.
            hosted = pipeline.start_hosted_payment(request, purpose="new_method")
            still = pipeline.cancel_hosted_payment(hosted.payment_id)
            assert still.state is PaymentState.AWAITING_CLIENT
        assert kit.submit_card(hosted.url)

        view = create_transactions_area(set_up_context)
        qtbot.addWidget(view)
        wait_for_background_tasks(qtbot)
        upkeep = set_up_context.services.upkeep
        assert isinstance(upkeep, PaymentUpkeep)
        assert view.shown_states() == ["awaiting_client"]

        with qtbot.waitSignal(upkeep.roundFinished, timeout=15_000) as round_:
            upkeep.run_now()
        report = round_.args[0]
        assert [o.state for o in report.recovery.resolved] == [PaymentState.SUCCEEDED]
        # Autotask is not connected here: the round says so where the bookkeeper looks.
        assert view.upkeep_label.isVisibleTo(view)
        assert "Nothing was posted to Autotask" in view.upkeep_label.text()
        wait_for_background_tasks(qtbot)
        assert view.shown_states() == ["succeeded"]
        upkeep.stop()
