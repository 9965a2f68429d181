"""Autotask PSA REST client: zones, authentication, queries, paging, pacing, typed errors.

The public surface, kept small and stable:

* `AutotaskCredentials` — API user name, secret, integration code (secret hidden from repr).
* `AutotaskClient` — `get`, `query_all` (yields pages), `query_page`, `count`, `patch`,
  `create_note` / `create_child`, `find_company_notes`, `entity_fields` / `field_info` /
  `picklist` (metadata cached per tenant; `clear_metadata_cache`), `threshold_information`,
  `stats()` / `request_count`.
* `test_connection(credentials, ...)` → `ConnectionReport`, for the setup wizard.
* `discover_zone`, `manual_zone`, `ZoneInfo`.
* Errors in `app.core.autotask.errors` (all derive from `AutotaskError`, `.message` is for
  people); dates in `app.core.autotask.dates`.
"""

from app.core.autotask.client import (
    DEFAULT_DISCOVERY_URL,
    MAX_PAGE_SIZE,
    AutotaskClient,
    AutotaskCredentials,
    ConnectionReport,
    FieldInfo,
    PacingPolicy,
    PicklistValue,
    RequestStats,
    RetryPolicy,
    ThresholdInfo,
    Timeouts,
    ZoneInfo,
    clear_metadata_cache,
    discover_zone,
    manual_zone,
    test_connection,
)
from app.core.autotask.dates import (
    format_autotask_date,
    format_autotask_datetime,
    parse_autotask_date,
    parse_autotask_datetime,
)
from app.core.autotask.errors import (
    AutotaskAuthError,
    AutotaskError,
    AutotaskNetworkError,
    AutotaskServerError,
    AutotaskTimeoutError,
    AutotaskTLSError,
    AutotaskValidationError,
    CredentialsRejectedError,
    ForeignHostRefusedError,
    IntegrationCodeError,
    PermissionDeniedError,
    RateLimitedError,
    ThreadLimitError,
    UnknownUserError,
    UnsafeAddressError,
    WrongSecretError,
    ZoneNotFoundError,
)

__all__ = [
    "DEFAULT_DISCOVERY_URL",
    "MAX_PAGE_SIZE",
    "AutotaskAuthError",
    "AutotaskClient",
    "AutotaskCredentials",
    "AutotaskError",
    "AutotaskNetworkError",
    "AutotaskServerError",
    "AutotaskTLSError",
    "AutotaskTimeoutError",
    "AutotaskValidationError",
    "ConnectionReport",
    "CredentialsRejectedError",
    "FieldInfo",
    "ForeignHostRefusedError",
    "IntegrationCodeError",
    "PacingPolicy",
    "PermissionDeniedError",
    "PicklistValue",
    "RateLimitedError",
    "RequestStats",
    "RetryPolicy",
    "ThreadLimitError",
    "ThresholdInfo",
    "Timeouts",
    "UnknownUserError",
    "UnsafeAddressError",
    "WrongSecretError",
    "ZoneInfo",
    "ZoneNotFoundError",
    "clear_metadata_cache",
    "discover_zone",
    "format_autotask_date",
    "format_autotask_datetime",
    "manual_zone",
    "parse_autotask_date",
    "parse_autotask_datetime",
    "test_connection",
]
