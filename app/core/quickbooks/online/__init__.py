"""QuickBooks Online: connection settings, OAuth 2.0 sign-in with rotating refresh tokens,
the v3 API client, the read into the local database and the posting channel.

* :mod:`.connection` — the stored connection (shared setting ``quickbooks_online.connection``).
* :mod:`.oauth` — consent address, loopback listener, relay page, pasted-address fallback.
* :mod:`.tokens` — access and refresh tokens (rotation that survives a crash).
* :mod:`.client` — the API over ``requests`` (paging, CDC, 429, concurrency, Fault bodies).
* :mod:`.setup` — connect and Test Connection; ``open_quickbooks_client``.
* :mod:`.read` — the read of customers and invoices, and the sync hook.
* :mod:`.channel` — the ``quickbooks_online`` posting channel.
"""
