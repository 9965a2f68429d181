"""A PayDesk process for the crash tests: it pays, makes a pay link, refunds or posts with the
real pipeline and outbox, opened from a profile exactly like ``paydesk`` opens it, and kills
itself with
SIGKILL at the step named by ``--crash-at`` (no clean-up, no ``finally``, like a power cut).

    python -m tests.reliability.payment_child --profile DIR --crash-at payment.after_gateway \
        pay --invoice 12 --method 3
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

from app.core.config import Profile, get_internal_currency
from app.core.connections import load_autotask_client
from app.core.credentials import CredentialStore
from app.core.gateways.connection import load_gateway
from app.core.money import Money
from app.core.payments import PaymentPipeline, PaymentRequest, load_payable_invoices
from app.core.posting import PostingOutbox
from app.core.posting.autotask_channel import AutotaskDeliverer
from app.core.storage.engine import open_database


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", type=Path, required=True)
    parser.add_argument("--crash-at", default="")
    sub = parser.add_subparsers(dest="action", required=True)
    pay = sub.add_parser("pay")
    pay.add_argument("--invoice", type=int, required=True)
    pay.add_argument("--method", type=int, required=True)
    paylink = sub.add_parser("paylink")
    paylink.add_argument("--invoice", type=int, required=True)
    refund = sub.add_parser("refund")
    refund.add_argument("--payment", type=int, required=True)
    refund.add_argument("--amount", type=int, required=True)
    sub.add_parser("deliver")
    args = parser.parse_args(argv)

    def checkpoint(step: str) -> None:
        if step == args.crash_at:
            os.kill(os.getpid(), signal.SIGKILL)

    profile = Profile.open(args.profile)
    engine = open_database(profile.database_url)
    credentials = CredentialStore(profile.key)
    if args.action == "deliver":
        client = load_autotask_client(engine, credentials)
        assert client is not None
        report = PostingOutbox(engine, {"autotask": AutotaskDeliverer(engine, client)},
                               checkpoint=checkpoint).deliver_due()
        print(json.dumps({"delivered": report.delivered}))
        return 0
    gateway = load_gateway(engine, credentials)
    assert gateway is not None
    pipeline = PaymentPipeline(engine, gateway, checkpoint=checkpoint)
    currency = get_internal_currency(engine) or "USD"
    if args.action == "paylink":
        invoice = load_payable_invoices(engine, [args.invoice], currency)[0]
        hosted = pipeline.start_hosted_payment(PaymentRequest(
            organization_id=invoice.organization_id,
            allocations=((invoice.invoice_id, invoice.balance),),
            surcharge=Money.zero(currency)))
        print(json.dumps({"reference": hosted.reference, "url": hosted.url}))
        return 0
    if args.action == "pay":
        invoice = load_payable_invoices(engine, [args.invoice], currency)[0]
        request = PaymentRequest(
            organization_id=invoice.organization_id,
            allocations=((invoice.invoice_id, invoice.balance),),
            surcharge=Money.zero(currency),
            payment_method_id=args.method,
        )
        outcome = pipeline.pay(request)
        print(json.dumps({"reference": outcome.reference, "state": outcome.state.value}))
        return 0
    result = pipeline.refund(args.payment, Money(args.amount, currency), "Crash test")
    print(json.dumps({"reference": result.reference, "state": result.state.value}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
