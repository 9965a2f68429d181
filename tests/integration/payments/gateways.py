"""One payment test, every gateway: what a payment test needs from a gateway and its local
stand-in, said once for Stripe and once for Authorize.Net.

A :class:`GatewayKit` starts the gateway's stand-in, opens PayDesk's adapter on it, saves
test methods on a client (a card that approves, another brand, a card that declines), fills
the gateway's hosted forms the way a browser posts them, switches on "the charge is made but
the answer is lost", settles the day's batch or a bank debit, and counts what the gateway
really did for a PayDesk reference (its charges, what was refunded of one).

Tests take the ``gateway_key`` fixture (parametrised over :data:`GATEWAYS`, in the
integration and reliability conftests) and build their world with :func:`start_kit`.

Where the gateways differ on purpose, the kit says so as data, not as a skip:
``repeats_unsent_charge`` (Stripe settles a lost request by repeating it with the same
idempotency key; Authorize.Net has no keys and waits for its lookup grace instead) and
``lookup_grace`` (how long "not found" is not yet proof; short for the adapters tests open
in-process, and :meth:`GatewayKit.let_lookup_grace_pass` for processes opening the stored
connection, so kill tests need not wait two minutes).
"""

from __future__ import annotations

import dataclasses
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import requests
import stripe
from sqlalchemy import Engine

from app.core.credentials import CredentialStore
from app.core.gateways import PaymentGateway
from app.core.gateways.authorizenet import AuthorizeNetGateway
from app.core.gateways.connection import (
    GatewayConnection,
    load_gateway_connection,
    save_gateway_connection,
    save_gateway_secret,
)
from app.core.gateways.repository import SavedMethods
from app.core.gateways.stripe_gateway import StripeGateway
from app.core.money import Money
from app.sandbox.authorizenet import AuthorizeNetSandbox
from app.sandbox.gateway import GatewaySandbox
from tests.integration.authorizenet import support as anet

TIMEOUT = (2.0, 10.0)
#: Every gateway a payment test runs for.
GATEWAYS = ("stripe", "authorizenet")
#: What charging a saved test method ends in: approved (Visa), approved (Mastercard),
#: declined by the issuer.
OUTCOMES = ("approve", "approve_mastercard", "decline")
#: How long the Authorize.Net stand-in's "not listed yet" is no proof of "not charged" in
#: tests: the stand-in lists a transaction the moment it is made (unless a test sets a list
#: lag), so a second covers a request that is still running.
TEST_LOOKUP_GRACE = timedelta(seconds=1)


class GatewayKit(ABC):
    """A running stand-in and everything a payment test asks of its gateway."""

    #: The provider key (``stripe``, ``authorizenet``).
    key: str
    #: The saved test methods' summaries as PayDesk shows them, by outcome.
    summaries: ClassVar[dict[str, str]]
    #: Card numbers typed on the hosted payment form, by outcome.
    hosted_cards: ClassVar[dict[str, str]]
    #: Words of what PayDesk says when the ``decline`` test method is declined.
    decline_reason = "declined by the client's bank"
    #: Last 4 of the bank account entered on the hosted forms.
    bank_last4 = "6789"
    #: The expiry entered with a card on the hosted forms, as PayDesk shows it.
    hosted_expiry = "08/2031"
    #: Whether the gateway's hosted pages can be opened by someone else (sent to a client);
    #: Authorize.Net's open only from this computer, with a token posted from here.
    shareable_pages = True
    #: Whether recovery settles a charge that never left PayDesk by sending it again (with
    #: the same idempotency key) — or, without keys, waits for the lookup grace and then
    #: records that nothing was charged.
    repeats_unsent_charge: bool
    #: How long a lookup that finds nothing is not yet proof (zero with idempotency keys).
    lookup_grace: timedelta = timedelta(0)

    @property
    @abstractmethod
    def sandbox(self) -> Any:
        """The stand-in server (for what only one gateway's tests use)."""

    @abstractmethod
    def gateway(self, *, read_timeout: float = 10.0, account: str | None = None
                ) -> PaymentGateway:
        """PayDesk's adapter for the stand-in account (``account``: the account key it
        records on payments, to tell two accounts of one gateway apart)."""

    @abstractmethod
    def save_method(self, engine: Engine, gateway: PaymentGateway, organization_id: int,
                    outcome: str) -> str:
        """Save the test method whose charges end as ``outcome`` on the organization's
        customer (as a developer does through the gateway's API); its token."""

    @abstractmethod
    def charges(self, reference: str) -> list[str]:
        """The ids of the charges the gateway really made for a PayDesk reference."""

    @abstractmethod
    def charged(self, charge_id: str) -> Money:
        """How much the gateway charged in that charge."""

    @abstractmethod
    def refunded(self, charge_id: str) -> Money:
        """How much of a charge the gateway has given back (refunds and voids)."""

    @abstractmethod
    def refunds_made(self) -> int:
        """How many refunds (and voids) the gateway account has made."""

    @abstractmethod
    def lose_charge_answers(self, count: int = 1) -> None:
        """The next ``count`` charges are made, and their answers lost on the way back."""

    @abstractmethod
    def slow_charges(self, seconds: float) -> None:
        """The next charge takes ``seconds`` at the gateway before it is made."""

    @abstractmethod
    def settle_batch(self) -> None:
        """Settle what the gateway holds as unsettled (Authorize.Net's daily batch; Stripe's
        cards are settled for refunds at once)."""

    @abstractmethod
    def settle_bank_debit(self, charge_id: str, *, succeed: bool) -> None:
        """The bank debit clears, or comes back unpaid (insufficient funds)."""

    @abstractmethod
    def is_hosted_form(self, url: str) -> bool:
        """Whether ``url`` (what PayDesk opens in the browser) leads to the gateway's hosted
        form."""

    @abstractmethod
    def submit_card(self, url: str, outcome: str = "approve") -> bool:
        """Fill the hosted form at ``url`` with a test card; whether the gateway took it."""

    @abstractmethod
    def submit_bank(self, url: str) -> bool:
        """Fill the hosted form at ``url`` with a bank account and its authorization."""

    @abstractmethod
    def connect(self, engine: Engine, credentials: CredentialStore) -> None:
        """Store the connection to the stand-in as Setup does (settings and keychain)."""

    def let_lookup_grace_pass(self, engine: Engine, passed: bool = True) -> None:
        """From now on, processes opening the stored connection treat the lookup grace as
        over (as if its two minutes had passed), without waiting for it; ``passed=False``
        puts the gateway's own grace back. Nothing to do for a gateway with idempotency
        keys."""
        return None


class StripeKit(GatewayKit):
    key = "stripe"
    summaries: ClassVar[dict[str, str]] = {
        "approve": "Visa •••• 4242", "approve_mastercard": "Mastercard •••• 4444",
        "decline": "Visa •••• 0002"}
    hosted_cards: ClassVar[dict[str, str]] = {
        "approve": "4242424242424242", "approve_mastercard": "5555555555554444",
        "decline": "4000000000000002"}
    repeats_unsent_charge = True
    _aliases: ClassVar[dict[str, str]] = {
        "approve": "pm_card_visa", "approve_mastercard": "pm_card_mastercard",
        "decline": "pm_card_chargeDeclined"}

    def __init__(self, server: GatewaySandbox) -> None:
        self._server = server

    @property
    def sandbox(self) -> GatewaySandbox:
        return self._server

    def gateway(self, *, read_timeout: float = 10.0, account: str | None = None
                ) -> StripeGateway:
        return StripeGateway(self._server.secret_key, api_base=self._server.url,
                             max_network_retries=0, timeout=(2.0, read_timeout),
                             account=account)

    def save_method(self, engine: Engine, gateway: PaymentGateway, organization_id: int,
                    outcome: str) -> str:
        customer = SavedMethods(engine, gateway).customer_for(organization_id)
        client = stripe.StripeClient(self._server.secret_key,
                                     base_addresses={"api": self._server.url},
                                     http_client=stripe.RequestsClient(timeout=TIMEOUT))
        alias = self._aliases.get(outcome, outcome)  # or one of Stripe's own pm_* names
        method = client.v1.payment_methods.attach(alias, params={"customer": customer})
        return str(method.id)

    def _state(self) -> dict[str, Any]:
        response = requests.get(f"{self._server.url}/_sandbox/state", timeout=TIMEOUT,
                                headers={"Authorization": f"Bearer {self._server.secret_key}"})
        response.raise_for_status()
        state: dict[str, Any] = response.json()
        return state

    def intents(self, reference: str) -> list[dict[str, Any]]:
        return [i for i in self._state()["payment_intents"]
                if i["metadata"].get("paydesk_reference") == reference]

    def charges(self, reference: str) -> list[str]:
        return [str(i["id"]) for i in self.intents(reference)]

    def charged(self, charge_id: str) -> Money:
        intent = next(i for i in self._state()["payment_intents"] if i["id"] == charge_id)
        return Money(int(intent["amount"]), str(intent["currency"]).upper())

    def refunded(self, charge_id: str) -> Money:
        return self.gateway().refresh_charge(charge_id).amount_refunded

    def refunds_made(self) -> int:
        return int(self._state()["counts"]["refund"])

    def lose_charge_answers(self, count: int = 1) -> None:
        self._server.add_fault("drop_after_commit", path="/v1/payment_intents", method="POST",
                               count=count)

    def slow_charges(self, seconds: float) -> None:
        self._server.add_fault("slow", seconds=seconds, path="/v1/payment_intents",
                               method="POST")

    def settle_batch(self) -> None:
        return None

    def settle_bank_debit(self, charge_id: str, *, succeed: bool) -> None:
        self._server.settle(charge_id, succeed=succeed,
                            failure_code=None if succeed else "insufficient_funds")

    def is_hosted_form(self, url: str) -> bool:
        return url.startswith(self._server.url + "/checkout/")

    def submit_card(self, url: str, outcome: str = "approve") -> bool:
        data = {"method": "card", "card_number": self.hosted_cards[outcome],
                "card_expiry": "08 / 31", "card_cvc": "123", "postal_code": "10001",
                "cardholder_name": "Dana Client"}
        return requests.post(url, data=data, timeout=TIMEOUT,
                             allow_redirects=False).status_code == 303

    def submit_bank(self, url: str) -> bool:
        account = "000123456789"
        data = {"method": "us_bank_account", "account_holder_name": "Acme Dental LLC",
                "routing_number": "110000000", "account_number": account,
                "account_number_confirm": account, "account_holder_type": "company",
                "account_type": "checking", "mandate": "accepted"}
        return requests.post(url, data=data, timeout=TIMEOUT,
                             allow_redirects=False).status_code == 303

    def connect(self, engine: Engine, credentials: CredentialStore) -> None:
        save_gateway_connection(engine, GatewayConnection(api_base=self._server.url))
        save_gateway_secret(credentials, "stripe", self._server.secret_key)


class AuthorizeNetKit(GatewayKit):
    key = "authorizenet"
    summaries: ClassVar[dict[str, str]] = {
        "approve": "Visa •••• 1111", "approve_mastercard": "Mastercard •••• 0015",
        "decline": "Visa •••• 0027"}
    hosted_cards: ClassVar[dict[str, str]] = {
        "approve": "4111111111111111", "approve_mastercard": "5424000000000015"}
    repeats_unsent_charge = False
    lookup_grace = TEST_LOOKUP_GRACE
    shareable_pages = False

    def __init__(self, server: AuthorizeNetSandbox, forms: Path) -> None:
        self._server = server
        self._forms = forms

    @property
    def sandbox(self) -> AuthorizeNetSandbox:
        return self._server

    def gateway(self, *, read_timeout: float = 10.0, account: str | None = None
                ) -> AuthorizeNetGateway:
        return AuthorizeNetGateway(self._server.api_login_id, self._server.transaction_key,
                                   api_base=self._server.url, timeout=(2.0, read_timeout),
                                   launch_dir=self._forms, lookup_grace=self.lookup_grace,
                                   account=account)

    def save_method(self, engine: Engine, gateway: PaymentGateway, organization_id: int,
                    outcome: str) -> str:
        customer = SavedMethods(engine, gateway).customer_for(organization_id)
        return anet.save_test_method(self._server, customer, outcome)

    def _transactions(self, kind: str) -> list[dict[str, Any]]:
        return [t for t in self._server.transactions() if t["type"] == kind]

    def charges(self, reference: str) -> list[str]:
        return [str(t["transId"]) for t in anet.charges_for(self._server, reference)]

    def charged(self, charge_id: str) -> Money:
        charge = next(t for t in self._server.transactions() if str(t["transId"]) == charge_id)
        return Money.from_decimal(Decimal(charge["amount"]), "USD")

    def refunded(self, charge_id: str) -> Money:
        refunds = [Decimal(t["amount"]) for t in self._transactions("refundTransaction")
                   if t["refTransId"] == charge_id and t["responseCode"] == 1]
        voided = [Decimal(t["amount"]) for t in self._server.transactions()
                  if t["transId"] == charge_id and t["status"] == "voided"]
        return Money.from_decimal(sum(refunds + voided, Decimal(0)), "USD")

    def refunds_made(self) -> int:
        return len([t for t in self._transactions("refundTransaction")
                    if t["responseCode"] == 1]) + len(
            [t for t in self._server.transactions() if t["status"] == "voided"])

    def lose_charge_answers(self, count: int = 1) -> None:
        self._server.add_fault("drop_after_commit", request="createTransactionRequest",
                               count=count)

    def slow_charges(self, seconds: float) -> None:
        self._server.add_fault("slow", request="createTransactionRequest", seconds=seconds)

    def settle_batch(self) -> None:
        self._server.settle()

    def settle_bank_debit(self, charge_id: str, *, succeed: bool) -> None:
        if succeed:
            self._server.settle()
            return
        with self._server.state.lock:
            self._server.state.return_echeck(int(charge_id), "R01")

    def is_hosted_form(self, url: str) -> bool:
        # A page on this computer that posts its token to the gateway's form.
        return anet.read_launch(url).action.startswith(self._server.url)

    def submit_card(self, url: str, outcome: str = "approve") -> bool:
        answer = anet.submit_card(url, self.hosted_cards[outcome])
        return answer.status == 200

    def submit_bank(self, url: str) -> bool:
        # As the browser posts it: on the payment form "save this method" is ticked already.
        return anet.submit_bank(url, save=True).status == 200

    def connect(self, engine: Engine, credentials: CredentialStore) -> None:
        # Stored with Authorize.Net's own lookup grace (two minutes): a recovery right after a
        # crash must keep an unlisted payment unknown, however slow the machine.
        save_gateway_connection(engine, GatewayConnection(
            gateway="authorizenet", api_base=self._server.url,
            settings=(("api_login_id", self._server.api_login_id),
                      ("environment", "sandbox"))))
        save_gateway_secret(credentials, "authorizenet", self._server.transaction_key,
                            field="transaction_key")

    def let_lookup_grace_pass(self, engine: Engine, passed: bool = True) -> None:
        connection = load_gateway_connection(engine)
        assert connection is not None and connection.gateway == "authorizenet"
        settings = tuple((k, v) for k, v in connection.settings if k != "lookup_grace_seconds")
        if passed:
            settings = (*settings, ("lookup_grace_seconds", "0"))
        save_gateway_connection(engine, dataclasses.replace(connection, settings=settings))


@contextmanager
def start_kit(key: str, *, account_name: str = "Northwind IT Services") -> Iterator[GatewayKit]:
    """Start the stand-in of gateway ``key`` and give its kit."""
    if key == "stripe":
        with GatewaySandbox(account_name=account_name) as server:
            yield StripeKit(server)
    elif key == "authorizenet":
        with AuthorizeNetSandbox(merchant_name=account_name) as server, \
                tempfile.TemporaryDirectory(prefix="paydesk-forms-") as forms:
            yield AuthorizeNetKit(server, Path(forms))
    else:
        raise ValueError(f"no test kit for gateway {key!r}")

