"""The payment pipeline: take money once, record it, queue what Autotask must hear.

The order of events is the whole point:

1. :meth:`PaymentPipeline.create` — under a write lock on the invoices (see
   :mod:`app.core.payments.ledger`) the balances are checked again and the payment is
   inserted in ``created`` with a new idempotency key and its allocations. From this commit
   on, no other payment can take the same balance.
2. :meth:`PaymentPipeline.submit` — on the worker thread the preconditions are checked once
   more (the invoice may have been voided or paid in Autotask meanwhile), the payment moves
   to ``submitted`` and *that is committed* before the gateway is called with the key.
3. The gateway's answer is recorded in one transaction: state, gateway ids, invoice balances
   (``recompute_invoices``) and, for a success, the Autotask postings. A success is never
   recorded without its postings, and never posted without being recorded.
4. When the answer is lost (timeout, dropped connection, crash) the payment is ``unknown``
   and is resolved only through its key — looked up at the gateway, and when nothing is found
   the same request repeated with the same key (see :meth:`PaymentPipeline.resolve`) — at
   once, and at every start for anything left over (:func:`recover_payments`). A payment is
   never charged with a second key, so it can never be charged twice, and it is failed only
   when no request with its key can still land.

Refunds follow the same pattern with their own keys: recorded ``created`` before the call,
repeated with the same key when the answer is lost (the gateway replays it).

The pipeline is built in rooms of their own size, sharing one small ledger
(:class:`~app.core.payments.pipeline.base.PipelineLedger`: load, move with an audit entry,
allocations, the gateway account a payment belongs to): :mod:`.charges` (create, submit,
record, resolve), :mod:`.hosted` (pay links and new methods on the gateway's page),
:mod:`.refunds` (refunds, voids and their follow-ups) and :mod:`.recovery`
(:func:`recover_payments`). :class:`PaymentPipeline` joins them.

Threads: every method blocks on the network and the database. Run them on a worker thread,
never the GUI thread. A pipeline holds no session; each step opens its own short one.

``checkpoint`` is called with a step name (``payment.before_gateway`` …) after each commit
(and once, ``payment.reserving``, while the invoices' lock is held); the crash-safety and
concurrency tests use it to stop or pause the process at exactly that point.
"""

from __future__ import annotations

from app.core.payments.pipeline.base import (
    DEFAULT_STALE_AFTER,
    KEY_LIFETIME,
    Checkpoint,
    HostedPayment,
    PaymentNotFoundError,
    PaymentOutcome,
    PaymentRefused,
    PaymentRequest,
    RecoveryReport,
    RefundOutcome,
    new_idempotency_key,
    new_reference,
)
from app.core.payments.pipeline.hosted import HostedSteps
from app.core.payments.pipeline.recovery import recover_payments
from app.core.payments.pipeline.refunds import RefundSteps

__all__ = [
    "DEFAULT_STALE_AFTER",
    "KEY_LIFETIME",
    "Checkpoint",
    "HostedPayment",
    "PaymentNotFoundError",
    "PaymentOutcome",
    "PaymentPipeline",
    "PaymentRefused",
    "PaymentRequest",
    "RecoveryReport",
    "RefundOutcome",
    "new_idempotency_key",
    "new_reference",
    "recover_payments",
]


class PaymentPipeline(HostedSteps, RefundSteps):
    """Takes payments and refunds through one gateway account. See the module docstring.

    Runs on worker threads; one instance may be used from several threads (it holds no
    session, and the gateway client is thread-safe).
    """
