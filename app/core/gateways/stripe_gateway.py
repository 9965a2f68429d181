"""Stripe, through the official ``stripe`` SDK.

* Customers carry the organization id in metadata; saved methods are PaymentMethods
  (``card``, ``us_bank_account``) attached to them.
* Charges are PaymentIntents created with ``confirm=true, off_session=true`` against a
  saved method, with the PayDesk reference and idempotency key in metadata. Stripe keeps
  idempotency keys for at least 24 hours, so repeating a charge with the same key returns the
  first outcome instead of charging again.
* New methods are entered on Stripe Checkout (``setup`` mode, or ``payment`` mode with
  ``setup_future_usage=off_session``); PayDesk never sees a card or account number.
* Bank debits (ACH) stay ``processing`` for days; :meth:`StripeGateway.refresh_charge`
  follows them.

The same code talks to PayDesk's sandbox gateway: pass its URL as ``api_base``. Any other
``api_base`` than Stripe's own is refused unless it is on this computer (loopback), so the
secret key never travels anywhere but to Stripe or the local sandbox.

All methods block on the network (call them from a worker thread). One instance may be
shared between threads: the SDK keeps one HTTP session per thread.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import stripe

from app.core.gateways.declines import decline_reason
from app.core.gateways.errors import (
    AuthenticationFailed,
    Declined,
    GatewayUnavailable,
    IdempotencyKeyReused,
    InvalidRequest,
    NetworkUnknownOutcome,
    RateLimited,
    RequestInProgress,
)
from app.core.gateways.types import (
    METADATA_IDEMPOTENCY_KEY,
    METADATA_ORGANIZATION,
    METADATA_REFERENCE,
    ChargeResult,
    ChargeStatus,
    Decline,
    GatewayAccountInfo,
    GatewayMode,
    HostedMode,
    HostedSession,
    HostedSessionState,
    HostedSessionStatus,
    MethodType,
    RefundResult,
    RefundStatus,
    SavedMethod,
)
from app.core.money import Money

__all__ = ["STRIPE_API_BASE", "StripeGateway", "stripe_mode_from_key"]

log = logging.getLogger(__name__)

STRIPE_API_BASE = "https://api.stripe.com"

_KEY_RE = re.compile(r"^(sk|rk)_(test|live)_[A-Za-z0-9]{8,}$")
_T = TypeVar("_T")

#: How far back (seconds) a lookup by customer reaches before the attempt's own timestamp,
#: to cover a clock that runs ahead of Stripe's.
_LOOKUP_MARGIN = timedelta(minutes=10)


def stripe_mode_from_key(secret_key: str) -> GatewayMode:
    """Test or live, from the key itself (``sk_test_…`` / ``sk_live_…``; ``rk_`` likewise).

    Raises :class:`AuthenticationFailed` with a plain message when the text is not a Stripe
    secret key at all (a publishable ``pk_`` key is the usual mistake).
    """
    key = secret_key.strip()
    if key.startswith("pk_"):
        raise AuthenticationFailed(
            "This is Stripe's publishable key. PayDesk needs the secret key: in the Stripe "
            "Dashboard open Developers > API keys and copy the key that starts with sk_."
        )
    match = _KEY_RE.match(key)
    if match is None:
        raise AuthenticationFailed(
            "This does not look like a Stripe secret key. Copy the key that starts with "
            "sk_live_ or sk_test_ from the Stripe Dashboard (Developers > API keys)."
        )
    return GatewayMode.LIVE if match.group(2) == "live" else GatewayMode.TEST


def _check_api_base(api_base: str) -> str:
    """Stripe's own address, or a loopback address (the sandbox). Nothing else."""
    base = api_base.rstrip("/")
    if base == STRIPE_API_BASE:
        return base
    parts = urlsplit(base)
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme not in ("http", "https") or not loopback:
        raise InvalidRequest(
            f"PayDesk sends the Stripe key only to {STRIPE_API_BASE} or to the sandbox on this "
            "computer."
        )
    return base


def _p(**params: Any) -> Any:
    """Request parameters for the SDK, without the ``None`` values Stripe would reject."""
    return {k: v for k, v in params.items() if v is not None}


def _get(obj: Any, name: str, default: Any = None) -> Any:
    """A field of a Stripe object or dict (SDK objects raise AttributeError on absent keys)."""
    if obj is None:
        return default
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    # A StripeObject: supports `in` and `[]` but is not a Mapping.
    return obj[name] if name in obj else default  # noqa: SIM401


def _timestamp(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC) if value else None


def _metadata(obj: Any) -> dict[str, str]:
    meta = _get(obj, "metadata") or {}
    if hasattr(meta, "to_dict"):
        meta = meta.to_dict()
    return {str(k): str(v) for k, v in meta.items()}


def _clean_descriptor(text: str | None) -> str | None:
    """Stripe's statement descriptor suffix: ≤ 22 characters, no ``< > \\ ' " *``."""
    if not text:
        return None
    cleaned = re.sub(r"[<>\\'\"*]", "", text).strip()[:22].strip()
    return cleaned or None


def _search_literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class StripeGateway:
    """:class:`~app.core.gateways.protocol.PaymentGateway` for Stripe.

    ``timeout`` is (connect, read) seconds for every request. ``max_network_retries`` lets
    the SDK repeat a request after a connection failure, 409 or 5xx — always with the same
    idempotency key, so a repeat can only replay, never charge again. ``return_url`` is where
    the client's browser goes after the hosted page when the caller gives no URL.
    """

    def __init__(
        self,
        secret_key: str,
        *,
        api_base: str | None = None,
        timeout: tuple[float, float] = (5.0, 30.0),
        max_network_retries: int = 2,
        return_url: str | None = None,
        account: str | None = None,
    ) -> None:
        self._mode = stripe_mode_from_key(secret_key)
        #: ``stripe-test`` / ``stripe-live`` — see :attr:`PaymentGateway.kind`.
        self.kind = f"stripe-{self._mode.value}"
        #: The account this key opens (:func:`app.core.gateways.providers.account_key`),
        #: recorded on every payment; the account id is known once Test Connection ran.
        self.account_key = account or f"stripe:{self._mode.value}:"
        self._api_base = _check_api_base(api_base or STRIPE_API_BASE)
        self._is_sandbox = self._api_base != STRIPE_API_BASE
        self._return_url = return_url
        self._client = stripe.StripeClient(
            secret_key.strip(),
            base_addresses={"api": self._api_base},
            max_network_retries=max_network_retries,
            http_client=stripe.RequestsClient(timeout=timeout),
        )

    def __repr__(self) -> str:
        return f"StripeGateway(mode={self._mode.value}, api={self._api_base})"

    @property
    def mode(self) -> GatewayMode:
        return self._mode

    # --- error translation ------------------------------------------------------------
    def _call(self, fn: Callable[[], _T], *, mutating: bool) -> _T:
        try:
            return fn()
        except stripe.CardError as exc:
            raise self._declined(exc) from None
        except stripe.IdempotencyError as exc:
            raise IdempotencyKeyReused(
                "PayDesk reused a request key for a different request, so Stripe refused it. "
                "Nothing new was charged. Please report this to support.",
                code="idempotency_error", http_status=exc.http_status,
                request_id=exc.request_id,
            ) from None
        except stripe.InvalidRequestError as exc:
            raise InvalidRequest(
                f"Stripe refused the request: {exc.user_message or 'invalid request'}",
                code=exc.code, param=exc.param, http_status=exc.http_status,
                request_id=exc.request_id,
            ) from None
        except stripe.AuthenticationError as exc:
            raise AuthenticationFailed(
                "Stripe refused the secret key. Check that it was copied in full from the "
                "Stripe Dashboard (Developers > API keys) and has not been rolled.",
                http_status=exc.http_status, request_id=exc.request_id,
            ) from None
        except stripe.PermissionError as exc:
            raise AuthenticationFailed(
                "This Stripe key is not allowed to do that. If it is a restricted key, let it "
                "read the account and write Customers, PaymentMethods, PaymentIntents, Refunds "
                "and Checkout Sessions.",
                http_status=exc.http_status, request_id=exc.request_id,
            ) from None
        except stripe.RateLimitError as exc:
            retry_after = _get(exc.headers, "retry-after") or _get(exc.headers, "Retry-After")
            raise RateLimited(
                "Stripe is receiving too many requests right now. Nothing was charged; "
                "try again in a moment.",
                retry_after=float(retry_after) if retry_after else None,
                http_status=exc.http_status, request_id=exc.request_id,
            ) from None
        except stripe.APIConnectionError as exc:
            if not exc.should_retry and "SSL" in str(exc):
                raise GatewayUnavailable(
                    "PayDesk could not verify Stripe's security certificate, so nothing was "
                    "sent. Check that no firewall or proxy intercepts secure connections.",
                    outcome_unknown=False,
                ) from None
            if mutating:
                raise NetworkUnknownOutcome(
                    "The connection to Stripe broke before its answer arrived, so PayDesk does "
                    "not know yet whether this went through. PayDesk will check with Stripe "
                    "before trying again."
                ) from None
            raise GatewayUnavailable(
                "Stripe could not be reached. Check the internet connection and try again.",
                outcome_unknown=False,
            ) from None
        except stripe.APIError as exc:
            if exc.http_status == 409:
                raise RequestInProgress(
                    "Stripe is still working on the same request. Wait a moment; PayDesk will "
                    "check again.",
                    code=exc.code, http_status=409, request_id=exc.request_id,
                ) from None
            raise GatewayUnavailable(
                "Stripe had a problem and could not answer. "
                + ("PayDesk will check whether it went through before trying again."
                   if mutating else "Try again in a few minutes."),
                outcome_unknown=mutating, code=exc.code, http_status=exc.http_status,
                request_id=exc.request_id,
            ) from None
        except stripe.StripeError as exc:
            raise GatewayUnavailable(
                "Stripe answered in a way PayDesk did not expect. Try again in a few minutes.",
                outcome_unknown=mutating, http_status=exc.http_status,
                request_id=exc.request_id,
            ) from None

    def _declined(self, exc: stripe.CardError) -> Declined:
        error = exc.error
        decline_code = _get(error, "decline_code")
        intent = _get(error, "payment_intent")
        return Declined(
            decline_reason(exc.code, decline_code),
            code=exc.code,
            decline_code=decline_code,
            charge_id=_get(intent, "id"),
            http_status=exc.http_status,
            request_id=exc.request_id,
        )

    # --- conversions ------------------------------------------------------------------
    @staticmethod
    def _method(pm: Any, default_token: str | None = None) -> SavedMethod | None:
        if pm is None or isinstance(pm, str):
            return None
        token = str(_get(pm, "id"))
        kind = _get(pm, "type")
        billing = _get(pm, "billing_details")
        holder = _get(billing, "name")
        if kind == "card":
            card = _get(pm, "card")
            return SavedMethod(
                token=token,
                method_type=MethodType.CARD,
                brand=_get(card, "brand"),
                last4=_get(card, "last4"),
                exp_month=_get(card, "exp_month"),
                exp_year=_get(card, "exp_year"),
                funding=_get(card, "funding"),
                holder_name=holder,
                is_default=token == default_token,
            )
        if kind == "us_bank_account":
            bank = _get(pm, "us_bank_account")
            return SavedMethod(
                token=token,
                method_type=MethodType.US_BANK_ACCOUNT,
                brand=_get(bank, "bank_name"),
                last4=_get(bank, "last4"),
                holder_name=holder,
                is_default=token == default_token,
            )
        return None

    def _charge_result(self, intent: Any) -> ChargeResult:
        currency = str(_get(intent, "currency")).upper()
        status = _get(intent, "status")
        charge = _get(intent, "latest_charge")
        refunded = int(_get(charge, "amount_refunded", 0) or 0) if not isinstance(
            charge, str) else 0
        error = _get(intent, "last_payment_error")
        pm = _get(intent, "payment_method")
        if (pm is None or isinstance(pm, str)) and error is not None:
            pm = _get(error, "payment_method") or pm
        method = self._method(pm)
        decline: Decline | None = None
        if status == "succeeded":
            result_status = ChargeStatus.SUCCEEDED
        elif status in ("processing", "requires_capture"):
            result_status = ChargeStatus.PROCESSING
        elif status == "requires_action":
            result_status = ChargeStatus.REQUIRES_ACTION
        elif status == "canceled":
            result_status = ChargeStatus.CANCELED
        else:  # requires_payment_method / requires_confirmation: not charged
            result_status = ChargeStatus.DECLINED
            bank = method is not None and method.method_type is MethodType.US_BANK_ACCOUNT
            if error is not None:
                code = str(_get(error, "code") or "card_declined")
                decline_code = _get(error, "decline_code")
                decline = Decline(code, decline_code, decline_reason(code, decline_code,
                                                                     bank=bank),
                                  str(_get(error, "message") or ""))
            else:
                decline = Decline("not_attempted", None,
                                  "The payment was not attempted. Nothing was charged.")
        metadata = _metadata(intent)
        return ChargeResult(
            charge_id=str(_get(intent, "id")),
            status=result_status,
            amount=Money(int(_get(intent, "amount")), currency),
            amount_refunded=Money(refunded, currency),
            reference=metadata.get(METADATA_REFERENCE),
            idempotency_key=metadata.get(METADATA_IDEMPOTENCY_KEY),
            transaction_id=charge if isinstance(charge, str) else _get(charge, "id"),
            customer_id=_get(intent, "customer") if isinstance(_get(intent, "customer"), str)
            else _get(_get(intent, "customer"), "id"),
            method=method,
            decline=decline,
            created_at=_timestamp(_get(intent, "created")),
            mode=GatewayMode.LIVE if _get(intent, "livemode") else GatewayMode.TEST,
            metadata=metadata,
        )

    _INTENT_EXPAND = ("latest_charge", "payment_method")

    # --- account ----------------------------------------------------------------------
    def test_connection(self) -> GatewayAccountInfo:
        account = self._call(lambda: self._client.v1.accounts.retrieve_current(), mutating=False)
        country = _get(account, "country")
        default_currency = str(_get(account, "default_currency") or "usd").upper()
        currencies: tuple[str, ...] = (default_currency,)
        if country:
            try:
                spec = self._call(lambda: self._client.v1.country_specs.retrieve(country),
                                  mutating=False)
                listed = tuple(str(c).upper() for c in _get(spec, "supported_payment_currencies")
                               or ())
                currencies = tuple(dict.fromkeys((default_currency, *listed)))
            except (InvalidRequest, AuthenticationFailed):
                pass  # restricted keys may not read country specs; the default is enough
        settings = _get(account, "settings")
        profile = _get(account, "business_profile")
        name = (_get(_get(settings, "dashboard"), "display_name") or _get(profile, "name")
                or _get(account, "email") or str(_get(account, "id")))
        return GatewayAccountInfo(
            account_id=str(_get(account, "id")),
            display_name=str(name),
            mode=self._mode,
            default_currency=default_currency,
            currencies=currencies,
            country=country,
        )

    # --- customers and methods --------------------------------------------------------
    def ensure_customer(
        self, organization_id: int, name: str, email: str | None, *, idempotency_key: str
    ) -> str:
        query = (f"metadata[{_search_literal(METADATA_ORGANIZATION)}]:"
                 f"{_search_literal(str(organization_id))}")
        found = self._call(
            lambda: self._client.v1.customers.search(params=_p(query=query, limit=10)),
            mutating=False,
        )
        existing = sorted(found.data, key=lambda c: int(_get(c, "created") or 0))
        if existing:
            return str(existing[0].id)
        customer = self._call(
            lambda: self._client.v1.customers.create(
                params=_p(name=name[:256], email=email or None,
                          metadata={METADATA_ORGANIZATION: str(organization_id)}),
                options={"idempotency_key": idempotency_key},
            ),
            mutating=True,
        )
        return str(customer.id)

    def list_methods(self, customer_id: str) -> list[SavedMethod]:
        customer = self._call(lambda: self._client.v1.customers.retrieve(customer_id),
                              mutating=False)
        default = _get(_get(customer, "invoice_settings"), "default_payment_method")
        default_token = default if isinstance(default, str) else _get(default, "id")

        def fetch() -> list[Any]:
            listing = self._client.v1.customers.payment_methods.list(
                customer_id, params=_p(limit=100))
            return list(listing.auto_paging_iter())

        methods = [m for m in (self._method(pm, default_token)
                               for pm in self._call(fetch, mutating=False)) if m is not None]
        return sorted(methods, key=lambda m: not m.is_default)

    def set_default_method(self, customer_id: str, token: str, *, idempotency_key: str) -> None:
        self._call(
            lambda: self._client.v1.customers.update(
                customer_id,
                params=_p(invoice_settings={"default_payment_method": token}),
                options={"idempotency_key": idempotency_key},
            ),
            mutating=True,
        )

    def remove_method(self, token: str, *, idempotency_key: str) -> None:
        self._call(
            lambda: self._client.v1.payment_methods.detach(
                token, options={"idempotency_key": idempotency_key}),
            mutating=True,
        )

    # --- hosted page --------------------------------------------------------------------
    def _default_return(self, tail: str) -> str:
        if self._return_url:
            return self._return_url
        if self._is_sandbox:
            return f"{self._api_base}/checkout/{{CHECKOUT_SESSION_ID}}/{tail}"
        raise InvalidRequest(
            "Stripe needs a web page to send the client to after the secure form. Enter your "
            "company's website in the payment gateway settings."
        )

    def start_hosted_session(
        self,
        customer_id: str,
        *,
        mode: HostedMode,
        idempotency_key: str,
        amount: Money | None = None,
        description: str | None = None,
        reference: str | None = None,
        metadata: Mapping[str, str] | None = None,
        method_types: Sequence[MethodType] = (MethodType.CARD, MethodType.US_BANK_ACCOUNT),
        success_url: str | None = None,
        cancel_url: str | None = None,
    ) -> HostedSession:
        meta = {**(metadata or {})}
        if reference:
            meta[METADATA_REFERENCE] = reference
        meta[METADATA_IDEMPOTENCY_KEY] = idempotency_key
        types = [t.value for t in method_types]
        params: Any = _p(
            mode=mode.value,
            customer=customer_id,
            success_url=success_url or self._default_return("complete"),
            cancel_url=cancel_url or self._default_return("canceled"),
            metadata=meta,
        )
        if mode is HostedMode.PAYMENT:
            if amount is None or not amount.is_positive():
                raise InvalidRequest("Enter an amount to pay on the secure form.")
            if amount.currency != "USD" and "us_bank_account" in types:
                types.remove("us_bank_account")  # US bank debits are in dollars only
            params["line_items"] = [{
                "price_data": {
                    "currency": amount.currency.lower(),
                    "unit_amount": amount.minor,
                    "product_data": {"name": description or "Payment"},
                },
                "quantity": 1,
            }]
            params["payment_intent_data"] = _p(
                setup_future_usage="off_session",
                description=description,
                metadata=meta,
            )
        else:
            params["setup_intent_data"] = {"metadata": meta}
        if not types:
            raise InvalidRequest("Choose at least one kind of payment method for the form.")
        params["payment_method_types"] = types
        session = self._call(
            lambda: self._client.v1.checkout.sessions.create(
                params=params, options={"idempotency_key": idempotency_key}),
            mutating=True,
        )
        return HostedSession(
            session_id=str(session.id),
            url=str(_get(session, "url")),
            mode=mode,
            expires_at=_timestamp(_get(session, "expires_at")),
        )

    def poll_hosted_session(self, session_id: str) -> HostedSessionStatus:
        session = self._call(
            lambda: self._client.v1.checkout.sessions.retrieve(
                session_id,
                params=_p(expand=["setup_intent.payment_method", "payment_intent.payment_method",
                                  "payment_intent.latest_charge"]),
            ),
            mutating=False,
        )
        mode = HostedMode(str(_get(session, "mode")))
        state = {"open": HostedSessionState.OPEN, "complete": HostedSessionState.COMPLETE}.get(
            str(_get(session, "status")), HostedSessionState.EXPIRED)
        method: SavedMethod | None = None
        charge: ChargeResult | None = None
        setup_intent = _get(session, "setup_intent")
        intent = _get(session, "payment_intent")
        if setup_intent is not None and not isinstance(setup_intent, str):
            method = self._method(_get(setup_intent, "payment_method"))
        if intent is not None and not isinstance(intent, str) and state is not (
                HostedSessionState.OPEN):
            charge = self._charge_result(intent)
            method = charge.method
        return HostedSessionStatus(
            session_id=session_id,
            state=state,
            mode=mode,
            method=method,
            charge=charge,
            expires_at=_timestamp(_get(session, "expires_at")),
        )

    def expire_hosted_session(self, session_id: str) -> HostedSessionStatus:
        # Already completed or expired: the poll below reports how it ended.
        with contextlib.suppress(InvalidRequest):
            self._call(lambda: self._client.v1.checkout.sessions.expire(session_id),
                       mutating=True)
        return self.poll_hosted_session(session_id)

    # --- charges ----------------------------------------------------------------------
    def charge(
        self,
        customer_id: str,
        method_token: str,
        amount: Money,
        *,
        idempotency_key: str,
        reference: str,
        description: str,
        metadata: Mapping[str, str] | None = None,
        statement_descriptor: str | None = None,
    ) -> ChargeResult:
        if not amount.is_positive():
            raise InvalidRequest("The amount to charge must be more than zero.")
        meta = {**(metadata or {}), METADATA_REFERENCE: reference,
                METADATA_IDEMPOTENCY_KEY: idempotency_key}
        params = _p(
            amount=amount.minor,
            currency=amount.currency.lower(),
            customer=customer_id,
            payment_method=method_token,
            payment_method_types=["card", "us_bank_account"],
            confirm=True,
            off_session=True,
            description=description[:1000],
            metadata=meta,
            statement_descriptor_suffix=_clean_descriptor(statement_descriptor),
            expand=list(self._INTENT_EXPAND),
        )
        try:
            intent = self._call(
                lambda: self._client.v1.payment_intents.create(
                    params=params, options={"idempotency_key": idempotency_key}),
                mutating=True,
            )
        except Declined as declined:
            if declined.charge_id is None:
                raise
            # A decline is an outcome: read the PaymentIntent it left behind.
            return self.refresh_charge(declined.charge_id)
        return self._charge_result(intent)

    def refresh_charge(self, charge_id: str) -> ChargeResult:
        intent = self._call(
            lambda: self._client.v1.payment_intents.retrieve(
                charge_id, params=_p(expand=list(self._INTENT_EXPAND))),
            mutating=False,
        )
        return self._charge_result(intent)

    def find_charge(
        self,
        *,
        reference: str | None = None,
        idempotency_key: str | None = None,
        customer_id: str | None = None,
        created_after: datetime | None = None,
    ) -> ChargeResult | None:
        if not reference and not idempotency_key:
            raise ValueError("find_charge needs a reference or an idempotency key")
        wanted = {k: v for k, v in ((METADATA_REFERENCE, reference),
                                    (METADATA_IDEMPOTENCY_KEY, idempotency_key)) if v}

        def matches(intent: Any) -> bool:
            meta = _metadata(intent)
            return all(meta.get(k) == v for k, v in wanted.items())

        if customer_id:
            created: dict[str, int] | None = None
            if created_after is not None:
                created = {"gte": int((created_after - _LOOKUP_MARGIN).timestamp())}

            def fetch() -> list[Any]:
                listing = self._client.v1.payment_intents.list(
                    params=_p(customer=customer_id, created=created, limit=100,
                              expand=[f"data.{e}" for e in self._INTENT_EXPAND]))
                return [i for i in listing.auto_paging_iter() if matches(i)]

            candidates = self._call(fetch, mutating=False)
        else:
            query = " AND ".join(f"metadata[{_search_literal(k)}]:{_search_literal(v)}"
                                 for k, v in wanted.items())

            def search() -> list[Any]:
                result = self._client.v1.payment_intents.search(
                    params=_p(query=query, limit=100,
                              expand=[f"data.{e}" for e in self._INTENT_EXPAND]))
                return [i for i in result.data if matches(i)]

            candidates = self._call(search, mutating=False)
        if not candidates:
            return None
        return self._best(self._charge_result(i) for i in candidates)

    @staticmethod
    def _best(results: Iterable[ChargeResult]) -> ChargeResult:
        """When several charges carry one reference, the one where money moved wins."""
        rank = {ChargeStatus.SUCCEEDED: 0, ChargeStatus.PROCESSING: 1,
                ChargeStatus.REQUIRES_ACTION: 2, ChargeStatus.DECLINED: 3,
                ChargeStatus.CANCELED: 4}
        ordered = sorted(results, key=lambda r: (
            rank[r.status], -(r.created_at.timestamp() if r.created_at else 0)))
        return ordered[0]

    def refund(
        self,
        charge_id: str,
        amount: Money | None,
        *,
        idempotency_key: str,
        reason: str | None = None,
        reference: str | None = None,
    ) -> RefundResult:
        if amount is not None and not amount.is_positive():
            raise InvalidRequest("The amount to refund must be more than zero.")
        meta = {METADATA_IDEMPOTENCY_KEY: idempotency_key}
        if reference:
            meta[METADATA_REFERENCE] = reference
        if reason:
            meta["paydesk_reason"] = reason[:500]
        refund = self._call(
            lambda: self._client.v1.refunds.create(
                params=_p(payment_intent=charge_id,
                          amount=amount.minor if amount is not None else None,
                          reason="requested_by_customer", metadata=meta),
                options={"idempotency_key": idempotency_key},
            ),
            mutating=True,
        )
        return self._refund_result(refund, charge_id, reason)

    def refresh_refund(self, refund_id: str) -> RefundResult:
        refund = self._call(lambda: self._client.v1.refunds.retrieve(refund_id),
                            mutating=False)
        metadata = _metadata(refund)
        return self._refund_result(refund, str(_get(refund, "payment_intent") or ""),
                                   metadata.get("paydesk_reason"))

    @staticmethod
    def _refund_result(refund: Any, charge_id: str, reason: str | None) -> RefundResult:
        status = _get(refund, "status")
        refund_status = {"succeeded": RefundStatus.SUCCEEDED, "failed": RefundStatus.FAILED,
                         "canceled": RefundStatus.CANCELED}.get(str(status), RefundStatus.PENDING)
        return RefundResult(
            refund_id=str(refund.id),
            charge_id=charge_id,
            status=refund_status,
            amount=Money(int(_get(refund, "amount")), str(_get(refund, "currency")).upper()),
            reason=reason,
            failure_reason=_get(refund, "failure_reason"),
            created_at=_timestamp(_get(refund, "created")),
        )

    def cancel(self, charge_id: str, *, idempotency_key: str) -> ChargeResult:
        intent = self._call(
            lambda: self._client.v1.payment_intents.cancel(
                charge_id,
                params=_p(expand=list(self._INTENT_EXPAND)),
                options={"idempotency_key": idempotency_key},
            ),
            mutating=True,
        )
        return self._charge_result(intent)


if TYPE_CHECKING:
    from app.core.gateways.protocol import PaymentGateway

    def _satisfies_protocol(gateway: StripeGateway) -> PaymentGateway:
        return gateway  # mypy checks that the adapter fits the protocol
