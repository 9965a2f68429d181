"""Taking payments: order-summary maths, the payment pipeline that never charges twice,
refunds, recovery after a crash, and the ledger views (Transactions, Payment Search,
payment detail).

The public surface (import from here)::

    # Order Summary dialog (pure, call on every edit)
    compute_order_summary(invoices, currency=..., amount=..., allocation_edits=...,
                          method=MethodInfo(...), surcharge=load_surcharge_settings(engine))
    load_payable_invoices(engine, invoice_ids, currency) -> tuple[PayableInvoice, ...]
    load_order_context(engine, currency, organization_id, invoice_ids, gateway) -> OrderContext

    # Pay (worker thread)
    pipeline = PaymentPipeline(engine, gateway)
    outcome = pipeline.pay(PaymentRequest.from_summary(summary, organization_id=...,
                                                       payment_method_id=..., contact_id=...))
    hosted = pipeline.start_hosted_payment(request, purpose="pay_link" | "new_method")
    pipeline.check_hosted_payment(payment_id) / cancel_hosted_payment(payment_id)
    pipeline.refund(payment_id, amount_or_None, reason) -> RefundOutcome
    recover_payments(engine, gateway) -> RecoveryReport
    run_payment_maintenance(engine, credentials) -> MaintenanceReport  # at start + on a timer

    # Views
    transaction_ids / transaction_rows, payment_search_ids / payment_search_rows,
    export_payment_search_csv, payment_detail

Posting to Autotask lives in :mod:`app.core.posting` (``PostingOutbox``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.core.payments.ledger import load_payable_invoices
from app.core.payments.maintenance import MaintenanceReport, run_payment_maintenance
from app.core.payments.order import ContactChoice, OrderContext, load_order_context
from app.core.payments.pipeline import (
    Checkpoint,
    HostedPayment,
    PaymentNotFoundError,
    PaymentOutcome,
    PaymentPipeline,
    PaymentRefused,
    PaymentRequest,
    RecoveryReport,
    RefundOutcome,
    recover_payments,
)
from app.core.payments.states import (
    IN_FLIGHT_STATES,
    InvalidTransitionError,
    PaymentState,
    RefundState,
    can_transition,
)
from app.core.payments.summary import (
    MAX_SURCHARGE_PERCENT,
    AllocationLine,
    MethodInfo,
    OrderSummary,
    PayableInvoice,
    SurchargeSettings,
    compute_order_summary,
    load_surcharge_settings,
    save_surcharge_settings,
    surcharge_applies,
)

# The payment views live with the other read-side queries (``app.core.queries.payments``),
# which use this package's states: they are re-exported here on first use, so importing
# either package first works.
if TYPE_CHECKING:
    from app.core.queries.payments import (
        AllocationView,
        HistoryEntry,
        PaymentDetail,
        PaymentSearchCriteria,
        PaymentSearchRow,
        PostingStatus,
        PostingView,
        RefundView,
        SearchKey,
        SearchSort,
        SearchType,
        TransactionFilter,
        TransactionRow,
        TransactionSort,
        export_payment_search_csv,
        payment_detail,
        payment_search_ids,
        payment_search_rows,
        transaction_ids,
        transaction_rows,
    )

_QUERY_NAMES = frozenset({
    "AllocationView",
    "HistoryEntry",
    "PaymentDetail",
    "PaymentSearchCriteria",
    "PaymentSearchRow",
    "PostingStatus",
    "PostingView",
    "RefundView",
    "SearchKey",
    "SearchSort",
    "SearchType",
    "TransactionFilter",
    "TransactionRow",
    "TransactionSort",
    "export_payment_search_csv",
    "payment_detail",
    "payment_search_ids",
    "payment_search_rows",
    "transaction_ids",
    "transaction_rows",
})


def __getattr__(name: str) -> Any:
    if name in _QUERY_NAMES:
        from app.core.queries import payments as queries

        return getattr(queries, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "IN_FLIGHT_STATES",
    "MAX_SURCHARGE_PERCENT",
    "AllocationLine",
    "AllocationView",
    "Checkpoint",
    "ContactChoice",
    "HistoryEntry",
    "HostedPayment",
    "InvalidTransitionError",
    "MaintenanceReport",
    "MethodInfo",
    "OrderContext",
    "OrderSummary",
    "PayableInvoice",
    "PaymentDetail",
    "PaymentNotFoundError",
    "PaymentOutcome",
    "PaymentPipeline",
    "PaymentRefused",
    "PaymentRequest",
    "PaymentSearchCriteria",
    "PaymentSearchRow",
    "PaymentState",
    "PostingStatus",
    "PostingView",
    "RecoveryReport",
    "RefundOutcome",
    "RefundState",
    "RefundView",
    "SearchKey",
    "SearchSort",
    "SearchType",
    "SurchargeSettings",
    "TransactionFilter",
    "TransactionRow",
    "TransactionSort",
    "can_transition",
    "compute_order_summary",
    "export_payment_search_csv",
    "load_order_context",
    "load_payable_invoices",
    "load_surcharge_settings",
    "payment_detail",
    "payment_search_ids",
    "payment_search_rows",
    "recover_payments",
    "run_payment_maintenance",
    "save_surcharge_settings",
    "surcharge_applies",
    "transaction_ids",
    "transaction_rows",
]
