"""Posting channels: the door every accounting or PSA target plugs into.

A *channel* is one place PayDesk tells about money that moved: Autotask (notes and the
invoice's paid date), QuickBooks Online (a Payment per payment), QuickBooks Desktop (a
ReceivePayment through the Web Connector). The payment pipeline knows none of them. It records
**ledger facts** — :class:`PaymentRecorded`, :class:`RefundRecorded`,
:class:`RefundReversed` — and :func:`record_fact` asks every *connected* channel's rules what
postings the fact means for it, in the same database transaction. A committed payment always
has its postings; a rolled-back one never does; a channel that is not connected queues nothing.

Each channel has two halves:

* :class:`PostingChannel` — the rules, with no network: which postings a fact becomes
  (:meth:`PostingChannel.postings_for`), whether the channel is connected
  (:meth:`PostingChannel.is_connected`, from the database), and how its deliveries are made
  (:attr:`PostingChannel.delivery`: *push* or *pull*).
* :class:`PostingDeliverer` — the network half, opened with credentials
  (:meth:`PostingChannel.open_deliverer`): look a posting up by its stable reference before
  creating it again (:meth:`PostingDeliverer.find_existing`), deliver it and return the remote
  id (:meth:`PostingDeliverer.deliver`), and say what an error means
  (:meth:`PostingDeliverer.classify`).

*Push* channels (Autotask, QuickBooks Online) are delivered by
:class:`app.core.posting.outbox.PostingOutbox`. *Pull* channels (QuickBooks Desktop, whose Web
Connector asks PayDesk for work) take due postings with :func:`app.core.posting.outbox.claim_due`
and settle each with :func:`~app.core.posting.outbox.acknowledge` or
:func:`~app.core.posting.outbox.report_failure`. Both keep the same exactly-once guarantee (a
posting's key is unique in the database; a remote object is looked up by its reference before it
is created again) and the same Retry / Dismiss.

Adding a channel: write one module with a :class:`PostingChannel` and register it
(:func:`register_channel`, or add the module to :data:`BUILTIN_CHANNEL_MODULES` so it registers
when the registry is first read). Nothing else changes.

Threads: rules run inside the pipeline's transaction on whatever thread records the payment;
deliverers block on the network and run on worker threads.
"""

from __future__ import annotations

import enum
import importlib
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.core.credentials import CredentialStore

__all__ = [
    "BUILTIN_CHANNEL_MODULES",
    "ChannelDelivery",
    "ClaimedPosting",
    "InvoiceChange",
    "LedgerFact",
    "NewPosting",
    "PaymentRecorded",
    "PostingChannel",
    "PostingDeliverer",
    "PostingError",
    "PostingErrorKind",
    "PostingWaiting",
    "RefundRecorded",
    "RefundReversed",
    "channel_for_target",
    "channels",
    "get_channel",
    "record_fact",
    "register_channel",
    "target_label",
    "unregister_channel",
]


# --- ledger facts ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InvoiceChange:
    """One invoice a fact touched: its derived state before and after, in the same
    transaction. ``paid_date`` is the local paid date after the change (Autotask's, or the
    one PayDesk set)."""

    invoice_id: int
    status_before: str
    status_after: str
    balance_before_minor: int
    balance_after_minor: int
    paid_date: date | None


@dataclass(frozen=True, slots=True)
class PaymentRecorded:
    """A payment succeeded: ``allocations`` are (invoice id, minor units applied)."""

    payment_id: int
    allocations: tuple[tuple[int, int], ...]
    invoices: tuple[InvoiceChange, ...]
    at: datetime


@dataclass(frozen=True, slots=True)
class RefundRecorded:
    """Money went back to the client (a refund, or the void of a settled payment):
    ``allocations`` are what the refund took back from each invoice."""

    payment_id: int
    refund_id: int
    allocations: tuple[tuple[int, int], ...]
    invoices: tuple[InvoiceChange, ...]
    at: datetime


@dataclass(frozen=True, slots=True)
class RefundReversed:
    """A refund recorded earlier failed at the gateway: the money stayed with the merchant,
    so the invoices count it as paid again."""

    payment_id: int
    refund_id: int
    allocations: tuple[tuple[int, int], ...]
    invoices: tuple[InvoiceChange, ...]
    at: datetime


LedgerFact = PaymentRecorded | RefundRecorded | RefundReversed


# --- postings ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewPosting:
    """A posting a channel's rules ask for. ``key`` is stable and unique across every
    channel (prefix it with the target); inserting the same key twice is refused by the
    database, so recording a fact twice never queues twice. Everything the delivery will
    send is decided now and kept in ``payload`` (JSON)."""

    target: str
    key: str
    payload: Mapping[str, Any]
    payment_id: int | None = None
    refund_id: int | None = None
    invoice_id: int | None = None


@dataclass(frozen=True, slots=True)
class ClaimedPosting:
    """A posting taken for delivery (by the outbox, or by a pull channel's session).
    ``tried_before``: an earlier attempt may have reached the other system (it failed, was
    lost, or its deliverer crashed), so the deliverer must look before creating again."""

    id: int
    channel: str
    target: str
    key: str
    payload: Mapping[str, Any]
    attempts: int
    tried_before: bool = False
    payment_id: int | None = None
    refund_id: int | None = None
    invoice_id: int | None = None


class PostingErrorKind(enum.StrEnum):
    #: Try again later on the back-off schedule (the service is down, throttled, timed out).
    RETRY = "retry"
    #: A person must act in the other system first (closed books, a revoked connection); shown
    #: as failing at once, Retry puts it back.
    NEEDS_PERSON = "needs_person"
    #: The other system refuses the content itself; trying again cannot help.
    PERMANENT = "permanent"


@dataclass(frozen=True, slots=True)
class PostingError:
    """What a delivery error means, in words a bookkeeper can act on."""

    kind: PostingErrorKind
    message: str


class PostingWaiting(Exception):
    """Raised by a deliverer when a posting cannot go yet for a reason that will pass by
    itself or by a person's ordinary work (an invoice not matched to QuickBooks yet). The
    posting waits — shown with ``reason`` — and is tried again after ``retry_after``; it does
    not count as a failed attempt."""

    def __init__(self, reason: str, retry_after: timedelta = timedelta(minutes=5)) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class ChannelDelivery(enum.StrEnum):
    PUSH = "push"
    PULL = "pull"


@runtime_checkable
class PostingDeliverer(Protocol):
    """The network half of a channel (opened with credentials; may be shared by threads)."""

    def find_existing(self, posting: ClaimedPosting) -> str | None:
        """The remote id of what an earlier, lost delivery of this posting created, found by
        the posting's stable reference; ``None`` when there is none. Called before every
        delivery after the first attempt, so a crash or lost answer never creates twice."""
        ...

    def deliver(self, posting: ClaimedPosting) -> str:
        """Create the remote object (or make the idempotent change) and return its remote id.
        Raises :class:`PostingWaiting` when the posting cannot go yet; any other exception is
        passed to :meth:`classify`."""
        ...

    def classify(self, error: Exception) -> PostingError:
        """What ``error`` (raised by :meth:`deliver` or :meth:`find_existing`) means."""
        ...


class PostingChannel(Protocol):
    """One accounting or PSA target. Implementations are small frozen objects without state;
    everything they need comes from the database session or the credentials passed in."""

    @property
    def name(self) -> str:
        """Stored on each posting (``postings.channel``): ``"autotask"``, …"""
        ...

    @property
    def label(self) -> str:
        """What a bookkeeper reads: "Autotask", "QuickBooks Online"."""
        ...

    @property
    def delivery(self) -> ChannelDelivery: ...

    @property
    def targets(self) -> Mapping[str, str]:
        """Posting targets this channel owns, with their labels ("Autotask note")."""
        ...

    def is_connected(self, session: Session) -> bool:
        """Whether the channel is set up in this database (a pure database read). A channel
        that is not connected queues nothing."""
        ...

    def postings_for(self, session: Session, fact: LedgerFact) -> Sequence[NewPosting]:
        """The postings ``fact`` means for this channel (in the pipeline's transaction)."""
        ...

    def open_deliverer(
        self, engine: Engine, credentials: CredentialStore
    ) -> PostingDeliverer | None:
        """The deliverer for the stored connection, or ``None`` when it cannot be opened now
        (setup incomplete, secret missing). No network."""
        ...

    def describe_missing(self, engine: Engine, credentials: CredentialStore) -> str | None:
        """Why :meth:`open_deliverer` cannot open a deliverer now and what to do, in plain
        words; ``None`` when it can."""
        ...


# --- the registry -----------------------------------------------------------------------------

#: Channels that ship with PayDesk, imported (and so registered) when the registry is first
#: read. Each module calls :func:`register_channel` at import.
BUILTIN_CHANNEL_MODULES: tuple[str, ...] = (
    "app.core.posting.autotask_channel",
    "app.core.quickbooks.online.channel",
    "app.core.quickbooks.desktop.channel",
)

_lock = threading.Lock()
_channels: dict[str, PostingChannel] = {}
_builtins_loaded = False


def _load_builtins() -> None:
    global _builtins_loaded
    with _lock:
        first = not _builtins_loaded
        _builtins_loaded = True
    if first:
        for module in BUILTIN_CHANNEL_MODULES:
            importlib.import_module(module)


def register_channel(channel: PostingChannel) -> None:
    """Add (or replace, by name) a channel. Its target names must not belong to another.
    The built-in channels come first, in their order, whichever module is imported first."""
    _load_builtins()
    with _lock:
        for other in _channels.values():
            if other.name != channel.name and set(other.targets) & set(channel.targets):
                raise ValueError(f"posting targets of {channel.name!r} clash with {other.name!r}")
        _channels[channel.name] = channel


def unregister_channel(name: str) -> None:
    with _lock:
        _channels.pop(name, None)


def channels() -> list[PostingChannel]:
    """Every registered channel, in registration order."""
    _load_builtins()
    with _lock:
        return list(_channels.values())


def get_channel(name: str) -> PostingChannel | None:
    _load_builtins()
    with _lock:
        return _channels.get(name)


def channel_for_target(target: str) -> PostingChannel | None:
    for channel in channels():
        if target in channel.targets:
            return channel
    return None


def target_label(target: str) -> str:
    """"Autotask note", "QuickBooks Online payment" — or the raw name of an unknown target."""
    channel = channel_for_target(target)
    return channel.targets[target] if channel is not None else target


def record_fact(session: Session, fact: LedgerFact, now: datetime) -> list[Any]:
    """Queue, in the caller's transaction, every posting that the connected channels' rules
    make of ``fact``. Returns the new :class:`~app.core.storage.models.Posting` rows."""
    from app.core.storage.models import Posting

    added: list[Any] = []
    for channel in channels():
        if not channel.is_connected(session):
            continue
        for new in channel.postings_for(session, fact):
            posting = Posting(
                channel=channel.name,
                target=new.target,
                key=new.key,
                payment_id=new.payment_id,
                refund_id=new.refund_id,
                invoice_id=new.invoice_id,
                payload=dict(new.payload),
                state="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            session.add(posting)
            added.append(posting)
    if isinstance(fact, PaymentRecorded | RefundRecorded):  # the receipt by email, same commit
        from app.core.email.receipts import queue_receipt_email

        queue_receipt_email(session, fact.payment_id, getattr(fact, "refund_id", None))
    return added
