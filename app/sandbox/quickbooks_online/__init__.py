"""A local stand-in for QuickBooks Online: Intuit's OAuth 2.0 server and the v3 Accounting API.

A real HTTP server on loopback with a stateful, seeded company, so PayDesk's QuickBooks code
(and the published ``intuit-oauth`` and ``python-quickbooks`` libraries) run against it
unchanged; only the addresses differ.

Start it in-process (tests, ``--demo``)::

    with QuickBooksOnlineSandbox(seed=7, invoices=3600) as qbo:
        auth = AuthClient(qbo.client_id, qbo.client_secret, redirect_uri,
                          environment=qbo.discovery_url)
        ...  # API calls go to qbo.api_base + f"/company/{qbo.realm_id}/..."

or from the command line: ``paydesk sandbox quickbooks-online --port 0 [--seed N ...]``,
which prints ``url:``, ``client id:``, ``client secret:``, ``realm id:``, ``discovery:``
and ``admin:`` lines.

OAuth 2.0 (`oauth.py`)
  * ``GET /.well-known/openid_sandbox_configuration`` (and ``openid_configuration``): the
    discovery document — ``issuer``, ``authorization_endpoint``, ``token_endpoint``,
    ``revocation_endpoint``, ``userinfo_endpoint``, ``jwks_uri`` — so ``intuit-oauth``'s
    ``AuthClient(environment=<that URL>)`` works against it.
  * ``GET /connect/oauth2?client_id&response_type=code&scope&redirect_uri&state``: consents
    at once (``consent="auto"``, the default) with a 302 to ``redirect_uri?code&state&realmId``;
    with ``consent="click"`` it shows a page whose *Connect* button (``id="connect"``) does
    that and *Cancel* redirects with ``error=access_denied``; ``consent="deny"`` refuses at once.
    The keys are development keys (``http://localhost`` redirects allowed) unless
    ``production_keys=True``: then only https addresses with a host name are accepted, as
    Intuit requires of production apps; ``redirect_uris`` restricts them to a registered list.
  * ``POST /oauth2/v1/tokens/bearer`` (Basic client id/secret, form-encoded):
    ``authorization_code`` and ``refresh_token`` grants. Access tokens last 3,600 s, refresh
    tokens 100 days rolling; **every refresh returns a new refresh token**, and the old one
    keeps working only until the new one is used or ``refresh_grace_seconds`` (default 24 h)
    pass — see `oauth.py` for why. Errors: 401 ``invalid_client``, 400 ``invalid_grant``.
  * ``POST /oauth2/v1/tokens/revoke`` (JSON ``{"token": ...}``): disconnects — every token of
    that connection stops working. ``GET /v1/openid_connect/userinfo``; ``GET /op/v1/jwks``
    (no ``id_token`` is ever issued, so its key set is empty).
  * A missing, unknown, expired or revoked access token: 401 with QuickBooks' lower-case
    ``{"fault": {"error": [{"message": "message=AuthenticationFailed; errorCode=003200;
    statusCode=401", "detail": "Token expired: ...", "code": "3200"}], "type":
    "AUTHENTICATION"}}``; another company's realm id: 403 (3100).

The v3 API under ``/v3/company/<realmId>/`` (``minorversion`` accepted and ignored)
  * ``query`` — ``GET ?query=`` or ``POST`` with the statement as the body (what
    python-quickbooks sends): see `query.py` for the SQL subset. Answers
    ``{"QueryResponse": {"<Entity>": [...], "startPosition", "maxResults"}, "time"}``; the
    entity key (and paging keys) are absent when nothing matches; ``COUNT(*)`` answers
    ``{"totalCount": n}``. Default order is by ``Id``.
  * ``GET <entity>/<id>`` for CompanyInfo (``1``), Customer, Invoice, Item, Account,
    PaymentMethod, Term, Payment, SalesReceipt, CreditMemo, RefundReceipt; ``GET preferences``.
    CompanyInfo carries ``CompanyName`` and ``Country``; the **home currency** and the
    multicurrency switch are in Preferences (``CurrencyPrefs.HomeCurrency.value``,
    ``CurrencyPrefs.MultiCurrencyEnabled``), as in QuickBooks Online — CompanyInfo has no
    currency field. Records carry ``CurrencyRef``.
  * ``POST payment[?requestid=]`` — create; with ``Id``/``SyncToken`` an update (``"sparse":
    true`` for a sparse one). ``?operation=delete`` deletes (body ``Id``, ``SyncToken``);
    ``?operation=update&include=void`` voids (Intuit's documented way for payments: amounts
    zeroed, lines cleared, "Voided" put in front of ``PrivateNote``). ``?operation=void`` is
    refused for a payment (fault 500, "Operation Void is not supported"), as Intuit only
    accepts it for invoices. Invoice balances, ``LinkedTxn``, customer balances and
    ``UnappliedAmt`` follow every create, update, void and delete.
  * ``POST salesreceipt`` (sales lines with ``ItemRef``, money into ``DepositToAccountRef`` —
    Undeposited Funds by default; what a surcharge on the "Card surcharge" item becomes;
    voided like a payment with ``?operation=update&include=void``),
    ``POST creditmemo`` / ``refundreceipt`` / ``invoice`` (sales lines with ``ItemRef``),
    ``POST customer`` (create; with ``Id``/``SyncToken`` a rename or other update — references
    to the customer then carry the new name, as QuickBooks shows them),
    ``POST paymentmethod`` (``Name``, ``Type`` CREDIT_CARD or NON_CREDIT_CARD; with
    ``Id``/``SyncToken`` a rename or ``Active: false``, QuickBooks' "delete" of a list entry —
    a read by id still finds it), ``POST item``;
    delete for payments, sales receipts, credit memos, refund receipts and invoices without
    payments. An invoice can be updated (sparse or full: number, dates, memo, lines — its
    ``Balance`` keeps what payments applied; a total below that is 6000) and voided with
    ``?operation=void`` (refused while payments are linked).
  * A body naming a property the entity does not have is refused (2010, "Unrecognized
    field"), as QuickBooks does — a misspelt ``TotalAmount`` never passes silently.
  * Answers are JSON whatever ``Accept`` says (QuickBooks would send XML to an XML client).
  * ``requestid`` (at most 50 characters): a repeat of a request that succeeded returns the
    first answer byte for byte and writes nothing, whatever the repeat's body. Failed
    requests are not remembered (a retry after a 5010 with the same ``requestid`` runs again).
    Intuit documents this; some integrators report duplicates anyway (Intuit's .NET SDK
    tracker, 2025). ``honour_requestid=False`` (``--ignore-requestid``, admin ``config``)
    makes every repeat write again, so a client's look-up-before-create recovery can be
    tested on its own.
  * ``GET cdc?entities=Invoice,Payment&changedSince=<ISO>`` — changes since then (deleted
    records as ``{"Id", "status": "Deleted"}``), at most 1,000 objects in all; more than 30
    days back is a 400 fault (6000).
  * Faults in QuickBooks' shape ``{"Fault": {"Error": [{"Message", "Detail", "code",
    "element"}], "type": "ValidationFault"}, "time"}``: 610 object not found, 2010 invalid
    property, 2020 required parameter missing, 2500 invalid reference, 4000/4001 query
    errors, 5010 stale ``SyncToken``, 6000 business validation (over-applying an invoice,
    another customer's invoice, a foreign currency with multicurrency off), 6140 duplicate
    ``DocNumber``, 6210 closed books period, 6240 duplicate name, 500 unsupported
    operation, 2050 text too long (``PaymentRefNum`` and ``DocNumber`` hold 21 characters,
    ``PrivateNote`` 4,000), 6070 a sales line whose ``Amount`` is not ``UnitPrice`` x ``Qty``.
  * Limits per company: ``requests_per_minute`` (default 500, a sliding minute) and
    ``max_concurrent`` (default 10) — over either, 429 with QuickBooks' ThrottleExceeded fault
    (code 3001, ``message=ThrottleExceeded; errorCode=003001; statusCode=429``) **in XML**, as
    QuickBooks sends it even to JSON clients, with ``Retry-After: 60``.

The company (`data.py`)
  Seeded from the same seed, sizes and anchor month as ``paydesk sandbox autotask``: a
  Customer per organization, an Invoice per exported Autotask invoice (``DocNumber`` = the
  Autotask invoice number), historical Payments for invoices Autotask shows as paid, and the
  deliberate disagreements listed by ``GET /_sandbox/disagreements``: ``not_exported``,
  ``customer_renamed``, ``invoice_edited``, ``paid_in_quickbooks``, ``number_differs``.
  Accounts: Undeposited Funds (4), Checking (35), Accounts Receivable (84), income accounts
  including "Card surcharge income" (92); Items: Services (1), Hardware (2), Billable
  expenses (3), Card surcharge (30, for surcharges), Late fee (31); PaymentMethods: Cash,
  Check, Visa, MasterCard, American Express — no "Credit Card" and no "ACH": PayDesk creates
  those on first use. Home currency ``currency`` (default USD).

Admin interface (not part of QuickBooks; ``Authorization: Bearer <client secret>``, JSON)
  * ``GET /_sandbox/state`` — counts, limits, clock offset, OAuth counters, faults;
  * ``GET /_sandbox/disagreements`` — the seeded disagreements (kind, Autotask invoice id and
    number, QuickBooks Id and DocNumber, customer Id, detail);
  * ``GET /_sandbox/payments`` — Payments written through the API (created, live, voided,
    deleted, each one's Id, TotalAmt, lines); ``GET /_sandbox/writes`` — every write in order;
  * ``POST /_sandbox/clock {"seconds": 3600}`` — fast-forward the clock (token expiry,
    timestamps, the CDC window); ``POST /_sandbox/tokens/expire`` — expire every access token
    now; ``POST /_sandbox/tokens/revoke`` — disconnect (as if the company removed the app);
  * ``POST /_sandbox/faults {"kind": ..., "count": 1, "path": "/payment", "method": "POST",
    "status": 503, "seconds": 2, "body": "json"|"html"}`` with kinds ``server_error``,
    ``throttle``, ``drop``, ``expired_token``, ``lose_response`` (write applied, then the
    connection drops), ``slow``; ``count`` -1 until cleared; ``DELETE /_sandbox/faults``;
  * ``POST /_sandbox/config {"consent": "auto"|"click"|"deny", "requests_per_minute": n,
    "max_concurrent": n, "honour_requestid": false, "refresh_grace_seconds": s,
    "multicurrency": true, "book_close_date": "2026-01-31"|null}``;
  * ``POST /_sandbox/export {"autotask_invoice_number": "4599"}`` — export one of the
    not-yet-exported invoices now;
  * ``POST /_sandbox/pay {"invoice_id": "101203", "amount": 50.00}`` — a person records a
    payment in QuickBooks, outside PayDesk (amount defaults to the whole balance; not counted
    in ``/_sandbox/payments``);
  * ``POST /_sandbox/touch {"entity": "Payment", "Id": "..."}`` — a colleague saves the
    record: its ``SyncToken`` moves on, so a write based on an earlier read gets 5010.
  The same operations are methods of `QuickBooksOnlineSandbox` (``fast_forward``,
  ``expire_access_tokens``, ``add_fault``, ``clear_faults``, ``disagreements``,
  ``payment_counts``, ``record``, ``export_invoice``, ``pay_in_quickbooks``, ``touch``,
  ``snapshot``, ``connect`` — tokens without the browser dance).

Threads: one thread per connection (stdlib ``ThreadingHTTPServer``); the company's state
sits behind one lock.
"""

from app.sandbox.quickbooks_online.server import FAULT_KINDS, Fault, QuickBooksOnlineSandbox

__all__ = ["FAULT_KINDS", "Fault", "QuickBooksOnlineSandbox"]
