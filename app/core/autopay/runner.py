"""The AutoPay runner: charge every AutoPay invoice and scheduled payment that is due, once.

It charges through the same :class:`~app.core.payments.PaymentPipeline` as every other
payment, so each charge is idempotent, crash-safe and takes the invoices' database lock.
On top of that, each AutoPay charge of one invoice is *claimed* before anything else happens:
an :class:`~app.core.storage.models.AutoPayAttempt` row whose ``(rule, invoice, attempt
number)`` is unique is committed first. A second seat running at the same moment fails to
claim it and moves on; a rerun after a crash finds the claimed attempt and settles it
through its payment — looked up by its key by the pipeline's recovery
(:meth:`PaymentPipeline.resolve`), never charged with a new one. The order of one charge:

1. claim the attempt (``autopay.claimed``);
2. the pipeline creates the payment, memo ``AutoPay charge A<attempt>`` (``payment.created``);
3. the attempt is linked to the payment (``autopay.linked``);
4. the rule is read again — revoked meanwhile: the payment is failed unsent, nothing charged;
5. the pipeline submits it (``payment.before_gateway`` … ``payment.recorded``);
6. the attempt is settled from the payment's outcome.

A crash between 1 and 3 leaves an attempt without a payment: the rerun looks for the payment
by its memo (found: it was never sent, and the pipeline fails it; not found: nothing was
made) and then charges the invoice with the next attempt number. Between 3 and 6 the payment
is resolved by its key. Another seat's claimed attempts are left alone until they are older
than the stale limit (that seat may still be charging).

Declines are retried on the MSP's schedule (``autopay.defaults``: by default 3 and 7 days
after the first decline); after the last one the attempt is ``gave_up`` and listed for a
person. A failure where nothing was charged (the gateway could not be reached) is tried
again the next day without counting as a decline.

After the charges, a run queues the clients' emails (:mod:`app.core.autopay.emails`): the
reminder of each charge due within ``reminder_days``, and — in the transaction that records
a decline — the notice of that decline; both through the email outbox, once each.

Surcharges: AutoPay and scheduled charges never carry one. The surcharge rules
(:mod:`app.core.payments.summary`) require the surcharge to be disclosed for the payment
being made and the method's funding to be known as credit at that moment; an unattended
charge has nobody in front of the disclosure, a card's funding can change when the client's
bank reissues it, and the authorization the client signed names an amount ("the amount owed
on the invoice") that a surcharge would exceed. So the amount charged is the invoice's
balance and nothing more, and the authorization text says so.

Threads: blocks on the database and the gateway; run on a worker thread or the CLI.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core import clock
from app.core.autopay.defaults import AutoPayDefaults, load_autopay_defaults
from app.core.autopay.emails import company_name, queue_failed_email, queue_upcoming_reminders
from app.core.autopay.plan import PlannedCharge, RuleProblem, plan_charges
from app.core.autopay.rules import retain_until
from app.core.config import current_actor
from app.core.gateways import PaymentGateway
from app.core.money import Money
from app.core.payments.pipeline import (
    DEFAULT_STALE_AFTER,
    Checkpoint,
    PaymentPipeline,
    PaymentRefused,
    PaymentRequest,
)
from app.core.payments.states import IN_FLIGHT_STATES
from app.core.storage.engine import session_scope
from app.core.storage.models import (
    AutoPayAttempt,
    AutoPayAuthorization,
    AutoPayRule,
    AutoPayRun,
    Invoice,
    Payment,
    ScheduledPayment,
)

__all__ = ["AutoPayReport", "ChargeLine", "run_autopay"]

log = logging.getLogger(__name__)

#: Payment failures that prove nothing was charged and are worth trying again tomorrow.
NOT_CHARGED_CODES = frozenset({"gateway_unreachable",
                               "RateLimited", "rate_limited", "GatewayUnavailable"})


@dataclass(frozen=True, slots=True)
class ChargeLine:
    """One line of a run's report, for the bookkeeper."""

    organization_name: str
    invoice_numbers: str
    amount: Money
    message: str
    reference: str | None = None
    kind: str = "autopay"
    payment_id: int | None = None


@dataclass(frozen=True, slots=True)
class AutoPayReport:
    """What one run did (or, with ``dry_run``, would do)."""

    run_on: date
    dry_run: bool
    charged: tuple[ChargeLine, ...] = ()
    declined: tuple[ChargeLine, ...] = ()  # will be retried
    needs_person: tuple[ChargeLine, ...] = ()  # gave up, stopped on a problem, over limit
    waiting: tuple[ChargeLine, ...] = ()  # outcome not known yet; recovery settles it
    would_charge: tuple[ChargeLine, ...] = ()  # dry run only
    problems: tuple[str, ...] = field(default_factory=tuple)
    #: Emails queued to clients: reminders of coming charges, notices of declined ones.
    reminders_queued: int = 0
    failure_notices_queued: int = 0

    @property
    def ok(self) -> bool:
        """Nothing needs a person and nothing is left unknown."""
        return not (self.needs_person or self.waiting or self.problems)

    @property
    def summary(self) -> str:
        if self.dry_run:
            total = sum(line.amount.minor for line in self.would_charge)
            currency = self.would_charge[0].amount.currency if self.would_charge else ""
            amount = Money(total, currency).format() if currency else "nothing"
            return (f"AutoPay (dry run, nothing charged): {len(self.would_charge)} charge(s) "
                    f"due, {amount} in all; {len(self.needs_person)} need a person.")
        return (f"AutoPay: {len(self.charged)} charged, {len(self.declined)} declined (will "
                f"retry), {len(self.needs_person)} need a person, {len(self.waiting)} "
                "waiting for the gateway's answer.")


class _Collector:
    def __init__(self) -> None:
        self.charged: list[ChargeLine] = []
        self.declined: list[ChargeLine] = []
        self.needs_person: list[ChargeLine] = []
        self.waiting: list[ChargeLine] = []
        self.problems: list[str] = []
        self.failure_notices = 0


def run_autopay(
    engine: Engine,
    gateway: PaymentGateway,
    *,
    today: date | None = None,
    dry_run: bool = False,
    actor: str | None = None,
    checkpoint: Checkpoint | None = None,
    stale_after: timedelta = DEFAULT_STALE_AFTER,
    mine_immediately: bool = True,
    other_accounts: Callable[[str], PaymentGateway | None] | None = None,
) -> AutoPayReport:
    """One AutoPay run over everything due on or before ``today`` (the project clock's day
    by default). ``dry_run``: read only — report what would be charged, write nothing.

    ``mine_immediately``: attempts this actor left unfinished are settled at once (nothing of
    this seat can still be running: a new process); other seats' only after ``stale_after``.
    """
    today = today or clock.today_utc()
    actor = actor or current_actor()
    defaults = load_autopay_defaults(engine)
    if dry_run:
        return _dry_run(engine, today)
    pipeline = PaymentPipeline(engine, gateway, actor=actor, checkpoint=checkpoint,
                               other_accounts=other_accounts)
    runner = _Runner(engine, pipeline, today, actor, defaults, stale_after, mine_immediately,
                     checkpoint, company_name(engine))
    with session_scope(engine) as s:
        run = AutoPayRun(run_on=today, started_at=clock.utcnow(), actor=actor)
        s.add(run)
        s.flush()
        run_id = run.id
    runner.settle_pending()
    with session_scope(engine) as s:
        planned, rule_problems = plan_charges(s, today, today)
    runner.note_rule_problems(rule_problems)
    for item in planned:
        if item.blocked:
            runner.out.needs_person.append(_line(item, item.blocked))
            continue
        try:
            if item.scheduled_id is not None:
                runner.charge_scheduled(item)
            else:
                runner.charge_invoice(item)
        except PaymentRefused as exc:
            runner.out.problems.append(exc.message)
    out = runner.out
    reminders = queue_upcoming_reminders(engine, today, defaults.reminder_days,
                                         company=runner.company)
    with session_scope(engine) as s:
        finished = s.get(AutoPayRun, run_id)
        assert finished is not None
        run = finished
        run.finished_at = clock.utcnow()
        run.charged = len(out.charged)
        run.charged_minor = sum(line.amount.minor for line in out.charged)
        run.declined = len(out.declined)
        run.needs_person = len(out.needs_person)
        run.problems = "\n".join(out.problems) or None
    return AutoPayReport(run_on=today, dry_run=False, charged=tuple(out.charged),
                         declined=tuple(out.declined), needs_person=tuple(out.needs_person),
                         waiting=tuple(out.waiting), problems=tuple(out.problems),
                         reminders_queued=reminders,
                         failure_notices_queued=out.failure_notices)


def _line(item: PlannedCharge, message: str, reference: str | None = None) -> ChargeLine:
    return ChargeLine(item.organization_name, item.invoice_numbers, item.amount, message,
                      reference, item.kind)


def _dry_run(engine: Engine, today: date) -> AutoPayReport:
    with session_scope(engine) as s:
        planned, rule_problems = plan_charges(s, today, today)
    would = tuple(_line(p, f"Would charge {p.amount.format()} to {p.method_summary}.")
                  for p in planned if not p.blocked)
    blocked = tuple(_line(p, p.blocked) for p in planned if p.blocked)
    return AutoPayReport(run_on=today, dry_run=True, would_charge=would, needs_person=blocked,
                         problems=tuple(p.message for p in rule_problems))


Row = AutoPayAttempt | ScheduledPayment
Table = type[AutoPayAttempt] | type[ScheduledPayment]


def _row(s: Session, table: Table, row_id: int) -> Row:
    row = s.get(table, row_id)
    assert isinstance(row, AutoPayAttempt | ScheduledPayment)
    return row


class _Runner:
    def __init__(self, engine: Engine, pipeline: PaymentPipeline, today: date, actor: str,
                 defaults: AutoPayDefaults, stale_after: timedelta,
                 mine_immediately: bool, checkpoint: Checkpoint | None,
                 company: str) -> None:
        self.engine = engine
        self.company = company
        self._checkpoint = checkpoint
        self.pipeline = pipeline
        self.today = today
        self.actor = actor
        self.defaults = defaults
        self.stale_after = stale_after
        self.mine_immediately = mine_immediately
        self.out = _Collector()

    def _step(self, name: str) -> None:
        if self._checkpoint is not None:
            self._checkpoint(name)

    def note_rule_problems(self, problems: list[RuleProblem]) -> None:
        self.out.problems.extend(p.message for p in problems)

    def _may_take_over(self, claimed_by: str, claimed_at: datetime | None) -> bool:
        """Whether a charge left ``charging`` may be settled now: this actor's own (a new
        process: nothing of it still runs), or anyone's once older than the stale limit."""
        if self.mine_immediately and claimed_by == self.actor:
            return True
        return claimed_at is None or clock.utcnow() - claimed_at >= self.stale_after

    # --- what a crash or another seat left ---------------------------------------------------
    def settle_pending(self) -> None:
        """Settle attempts and scheduled payments left ``charging`` (a crash, another seat,
        an answer still unknown) through their payments."""
        with session_scope(self.engine) as s:
            attempts = s.execute(
                select(AutoPayAttempt.id, AutoPayAttempt.payment_id, AutoPayAttempt.claimed_by,
                       AutoPayAttempt.claimed_at)
                .where(AutoPayAttempt.state == "charging")).all()
            scheduled = s.execute(
                select(ScheduledPayment.id, ScheduledPayment.payment_id,
                       ScheduledPayment.claimed_by, ScheduledPayment.claimed_at)
                .where(ScheduledPayment.state == "charging")).all()
        for attempt_id, payment_id, claimed_by, claimed_at in attempts:
            payment_id = payment_id or self._adopt(f"AutoPay charge A{attempt_id}",
                                                   AutoPayAttempt, attempt_id)
            self._settle_one(AutoPayAttempt, attempt_id, payment_id,
                             self._may_take_over(claimed_by, claimed_at))
        for scheduled_id, scheduled_payment, by, since in scheduled:
            scheduled_payment = scheduled_payment or self._adopt(
                f"Scheduled payment S{scheduled_id}", ScheduledPayment, scheduled_id)
            self._settle_one(ScheduledPayment, scheduled_id, scheduled_payment,
                             self._may_take_over(by or "", since))

    def _adopt(self, memo: str, table: Table,
               row_id: int) -> int | None:
        """The payment a crash left unlinked (found by its memo), linked now; or None."""
        with session_scope(self.engine) as s:
            payment_id = s.scalar(select(Payment.id).where(Payment.memo == memo)
                                  .order_by(Payment.id.desc()).limit(1))
            if payment_id is not None:
                s.execute(update(table).where(table.id == row_id).values(payment_id=payment_id))
            return payment_id

    def _settle_one(self, table: Table, row_id: int,
                    payment_id: int | None, take_over: bool) -> None:
        with session_scope(self.engine) as s:
            row = _row(s, table, row_id)
            payment = s.get(Payment, payment_id) if payment_id is not None else None
            if not take_over:
                return
            if payment is None:
                # Stopped after the claim, before the payment was made: nothing was charged.
                self._settle_row(s, row, None, "not_charged",
                                 "PayDesk stopped before charging; nothing was charged. "
                                 "It is charged again now.", retry_on=self.today)
                return
            state = payment.state
        if state in IN_FLIGHT_STATES:
            outcome = self.pipeline.resolve(payment.id)
            if outcome.pending:
                label = f"Payment {outcome.reference}"
                self.out.waiting.append(ChargeLine(
                    "", "", outcome.total,
                    f"{label}: the gateway's answer is not known yet. PayDesk keeps checking "
                    "by its key; it is never charged twice.", outcome.reference))
                return
        self._settle_from_payment(table, row_id, None)

    # --- charging --------------------------------------------------------------------------
    def charge_invoice(self, item: PlannedCharge) -> None:
        assert item.rule_id is not None
        invoice_id, _, amount = item.invoices[0]
        try:
            with session_scope(self.engine) as s:
                rule = s.get(AutoPayRule, item.rule_id)
                if rule is None or rule.revoked_at is not None:
                    return
                attempt = AutoPayAttempt(
                    rule_id=item.rule_id, invoice_id=invoice_id, attempt_no=item.attempt_no,
                    charged_on=self.today, state="charging", amount_minor=amount.minor,
                    claimed_at=clock.utcnow(), claimed_by=self.actor)
                s.add(attempt)
                s.flush()
                attempt_id = attempt.id
        except IntegrityError:
            return  # another seat claimed this charge a moment ago; it charges it
        self._step("autopay.claimed")
        self._create_and_submit(AutoPayAttempt, attempt_id, item, f"AutoPay charge A{attempt_id}",
                                ((invoice_id, amount),))

    def charge_scheduled(self, item: PlannedCharge) -> None:
        assert item.scheduled_id is not None
        with session_scope(self.engine) as s:
            claimed = s.execute(
                update(ScheduledPayment)
                .where(ScheduledPayment.id == item.scheduled_id,
                       ScheduledPayment.state == "scheduled")
                .values(state="charging", claimed_at=clock.utcnow(),
                        claimed_by=self.actor)).rowcount  # type: ignore[attr-defined]
            if claimed != 1:
                return
            owed = dict(s.execute(
                select(Invoice.id, Invoice.balance_minor)
                .where(Invoice.id.in_([i for i, _, _ in item.invoices]),
                       Invoice.status.in_(("open", "partially_paid")))).all())
            allocations = tuple(
                (i, Money(min(a.minor, owed[i]), a.currency))
                for i, _, a in item.invoices if owed.get(i, 0) > 0)
            if not allocations:
                row = s.get(ScheduledPayment, item.scheduled_id)
                assert row is not None
                self._settle_row(s, row, None, "cancelled",
                                 "Nothing was owed on these invoices any more on the day; "
                                 "nothing was charged.")
                return
        self._step("autopay.claimed")
        self._create_and_submit(ScheduledPayment, item.scheduled_id, item,
                                f"Scheduled payment S{item.scheduled_id}", allocations)

    def _create_and_submit(self, table: Table,
                           row_id: int, item: PlannedCharge, memo: str,
                           allocations: tuple[tuple[int, Money], ...]) -> None:
        currency = allocations[0][1].currency
        request = PaymentRequest(
            organization_id=item.organization_id, allocations=allocations,
            surcharge=Money.zero(currency), payment_method_id=item.method_id, memo=memo)
        try:
            payment_id = self.pipeline.create(request)
        except PaymentRefused as refused:
            with session_scope(self.engine) as s:
                row = _row(s, table, row_id)
                if refused.field in ("invoices", "amount"):
                    # Paid, voided or being paid meanwhile: nothing for AutoPay to do.
                    self._settle_row(s, row, None, "stopped",
                                     f"{refused.message} Nothing was charged.")
                else:
                    self._settle_row(s, row, None, "gave_up",
                                     f"{refused.message} Nothing was charged.")
                    self.out.needs_person.append(_line(item, refused.message))
            return
        with session_scope(self.engine) as s:
            s.execute(update(table).where(table.id == row_id).values(payment_id=payment_id))
        self._step("autopay.linked")
        if item.rule_id is not None and self._revoked(item.rule_id):
            self.pipeline.resolve(payment_id)  # created, never sent: failed, nothing charged
            with session_scope(self.engine) as s:
                row = _row(s, table, row_id)
                self._settle_row(s, row, None, "stopped", "AutoPay was revoked before this "
                                 "charge was sent. Nothing was charged.")
            return
        outcome = self.pipeline.submit(payment_id)
        if outcome.pending:
            self.out.waiting.append(_line(item, outcome.message, outcome.reference))
            return
        self._settle_from_payment(table, row_id, item)

    def _revoked(self, rule_id: int) -> bool:
        with session_scope(self.engine) as s:
            return s.scalar(select(AutoPayRule.revoked_at).where(AutoPayRule.id == rule_id)) \
                is not None

    # --- settling --------------------------------------------------------------------------
    def _settle_from_payment(self, table: Table,
                             row_id: int, item: PlannedCharge | None) -> None:
        with session_scope(self.engine) as s:
            row = _row(s, table, row_id)
            if row.state != "charging" or row.payment_id is None:
                return
            payment = s.get(Payment, row.payment_id)
            assert payment is not None
            state = payment.state
            money = Money(payment.total_minor, payment.currency)
            reason = payment.failure_message
            line = (_line(item, reason or "", payment.reference) if item is not None else
                    ChargeLine("", "", money, reason or "", payment.reference))
            if state in ("succeeded", "processing"):
                self._settle_row(s, row, payment, state, None)
                self.out.charged.append(ChargeLine(
                    line.organization_name, line.invoice_numbers, money,
                    f"Charged {money.format()} ({payment.reference}).", payment.reference,
                    line.kind, payment.id))
            elif state == "declined":
                final = self._settle_decline(s, row, payment)
                (self.out.needs_person if final else self.out.declined).append(
                    ChargeLine(line.organization_name, line.invoice_numbers, money,
                               row.reason or "", payment.reference, line.kind, payment.id))
            elif payment.failure_code in ("not_sent", "not_charged"):
                # A crash stopped it before it was sent, or the gateway proved it never got
                # it (looked up by its key or reference): nothing was charged, charge it now.
                self._settle_row(s, row, payment, "not_charged",
                                 "PayDesk stopped before sending this charge; nothing was "
                                 "charged. It is charged again now.", retry_on=self.today)
            elif payment.failure_code in NOT_CHARGED_CODES:
                self._settle_row(s, row, payment, "not_charged" if table is AutoPayAttempt
                                 else "scheduled",
                                 f"{reason or 'Nothing was charged.'} PayDesk tries again "
                                 "tomorrow.", retry_on=self.today + timedelta(days=1))
                self.out.problems.append(f"{payment.reference}: {reason}")
            else:
                self._settle_row(s, row, payment, "gave_up" if table is AutoPayAttempt
                                 else "failed", reason or "The charge did not go through.")
                self.out.needs_person.append(line)

    def _settle_decline(self, s: Session, row: AutoPayAttempt | ScheduledPayment,
                        payment: Payment) -> bool:
        """Record a decline; True when no retry is left (a person must act)."""
        reason = payment.failure_message or "The payment was declined."
        if isinstance(row, ScheduledPayment):
            self._settle_row(s, row, payment, "declined",
                             f"{reason} Ask the client for another card or bank account and "
                             "take the payment again.")
            self._notify_client(s, row, payment, self.today, None)
            return True
        declines = s.execute(
            select(AutoPayAttempt.charged_on)
            .where(AutoPayAttempt.rule_id == row.rule_id,
                   AutoPayAttempt.invoice_id == row.invoice_id,
                   AutoPayAttempt.state.in_(("declined", "gave_up")),
                   AutoPayAttempt.id != row.id)
            .order_by(AutoPayAttempt.attempt_no)).scalars().all()
        first = declines[0] if declines else row.charged_on
        count = len(declines) + 1
        schedule = self.defaults.retry_after_days
        if count <= len(schedule):
            retry_on = max(first + timedelta(days=schedule[count - 1]),
                           row.charged_on + timedelta(days=1))
            self._settle_row(s, row, payment, "declined",
                             f"{reason} AutoPay tries again on {retry_on.isoformat()}.",
                             retry_on=retry_on)
            self._notify_client(s, row, payment, row.charged_on, retry_on)
            return False
        self._settle_row(s, row, payment, "gave_up",
                         f"{reason} AutoPay tried {count} times and stopped.")
        self._notify_client(s, row, payment, row.charged_on, None)
        return True

    def _notify_client(self, s: Session, row: Row, payment: Payment, charged_on: date,
                       next_try: date | None) -> None:
        """The client's notice of the decline, queued in the same transaction."""
        if queue_failed_email(s, row, payment, charged_on, next_try, company=self.company):
            self.out.failure_notices += 1

    def _settle_row(self, s: Session, row: AutoPayAttempt | ScheduledPayment,
                    payment: Payment | None, state: str, reason: str | None,
                    retry_on: date | None = None) -> None:
        if isinstance(row, ScheduledPayment) and state == "not_charged":
            state = "scheduled"  # charged at the next run
        row.state = state
        row.reason = reason
        row.settled_at = clock.utcnow()
        if isinstance(row, AutoPayAttempt):
            row.next_retry_on = retry_on
            if state in ("succeeded", "processing") and payment is not None:
                rule = s.get(AutoPayRule, row.rule_id)
                assert rule is not None
                auth = s.get(AutoPayAuthorization, rule.authorization_id)
                assert auth is not None
                auth.last_debit_at = payment.completed_at or clock.utcnow()
                auth.retain_until = retain_until(auth.agreed_at, auth.last_debit_at,
                                                 auth.revoked_at)
