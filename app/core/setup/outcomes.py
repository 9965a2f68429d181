"""What a Test Connection outcome means for the person at the keyboard.

Every failure class has its own headline and its own fix, so the wizard, ``paydesk setup``
and ``paydesk doctor`` all say the same thing in the same words.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from app.core.autotask import (
    AutotaskError,
    AutotaskNetworkError,
    AutotaskTLSError,
    ConnectionReport,
    IntegrationCodeError,
    PermissionDeniedError,
    RateLimitedError,
    UnknownUserError,
    UnsafeAddressError,
    WrongSecretError,
    ZoneNotFoundError,
)

__all__ = [
    "ConnectionFailure",
    "FailureKind",
    "describe_failure",
    "describe_success",
]


class FailureKind(enum.Enum):
    WRONG_SECRET = "wrong_secret"  # noqa: S105 - a kind of failure, not a secret
    UNKNOWN_USER = "unknown_user"
    INTEGRATION_CODE = "integration_code"
    ZONE_NOT_FOUND = "zone_not_found"
    NO_NETWORK = "no_network"
    TLS = "tls"
    RATE_LIMITED = "rate_limited"
    NO_PERMISSION = "no_permission"
    UNSAFE_ADDRESS = "unsafe_address"
    AUTOTASK_PROBLEM = "autotask_problem"


@dataclass(frozen=True, slots=True)
class ConnectionFailure:
    """A failed test, ready to show: ``headline`` says what happened, ``fix`` what to do.

    ``field`` names the form field most likely at fault ("secret", "username",
    "integration_code", "zone_url") so the wizard can put the cursor there.
    """

    kind: FailureKind
    headline: str
    fix: str
    field: str | None = None
    autotask_said: str = ""

    def text(self) -> str:
        said = f"\nAutotask said: {self.autotask_said}" if self.autotask_said else ""
        return f"{self.headline}\n{self.fix}{said}"


_WHERE_USERS = "Autotask > Admin > Resources/Users"


def describe_failure(error: BaseException) -> ConnectionFailure:
    """The plain-language explanation of an exception raised by `test_connection`."""
    said = ""
    if isinstance(error, AutotaskError) and error.details:
        said = " ".join(d.strip() for d in error.details if d.strip())[:300]
    if isinstance(error, WrongSecretError):
        return ConnectionFailure(
            FailureKind.WRONG_SECRET,
            "Autotask did not accept the secret.",
            f"Copy the secret again from the Credentials section of the API user in "
            f"{_WHERE_USERS}. If someone generated a new secret there, enter the new one.",
            "secret",
            said,
        )
    if isinstance(error, IntegrationCodeError):
        return ConnectionFailure(
            FailureKind.INTEGRATION_CODE,
            "Autotask does not recognise the API integration code.",
            f"Open the API user in {_WHERE_USERS}, look at its API Tracking Identifier "
            "(Integration Vendor) and copy the code again.",
            "integration_code",
            said,
        )
    if isinstance(error, UnknownUserError):
        return ConnectionFailure(
            FailureKind.UNKNOWN_USER,
            "Autotask does not recognise this API user or its integration code.",
            f"Check that the user name is the API user's email address exactly as shown in "
            f"{_WHERE_USERS}, that the API user is active, and that the integration code "
            "belongs to that user.",
            "username",
            said,
        )
    if isinstance(error, ZoneNotFoundError):
        return ConnectionFailure(
            FailureKind.ZONE_NOT_FOUND,
            "Autotask could not tell which data centre (zone) holds this API user.",
            "Check the user name for typing mistakes. If it is right, open Advanced and "
            "enter your zone's address, for example "
            "https://webservices15.autotask.net/ATServicesRest/ (your Autotask administrator "
            "can see it in the address bar after signing in to Autotask).",
            "username",
            said,
        )
    if isinstance(error, PermissionDeniedError):
        return ConnectionFailure(
            FailureKind.NO_PERMISSION,
            "The API user signed in, but is not allowed to read your Autotask data.",
            f"In {_WHERE_USERS}, give the API user an API-only security level that can read "
            "companies, contacts, contracts, tickets and invoices and add notes.",
            None,
            said,
        )
    if isinstance(error, RateLimitedError):
        return ConnectionFailure(
            FailureKind.RATE_LIMITED,
            "Autotask is refusing requests for now: the hourly request limit of your Autotask "
            "is used up.",
            "The limit is shared by every program connected to your Autotask. Wait a few "
            "minutes and press Test Connection again.",
            None,
            said,
        )
    if isinstance(error, AutotaskTLSError):
        return ConnectionFailure(
            FailureKind.TLS,
            "PayDesk could not make a secure connection to Autotask.",
            "The server's certificate was not trusted. If your network inspects encrypted "
            "traffic, ask your IT administrator to allow Autotask's addresses, then try again.",
            None,
            said,
        )
    if isinstance(error, AutotaskNetworkError):
        return ConnectionFailure(
            FailureKind.NO_NETWORK,
            "PayDesk could not reach Autotask.",
            "Check this computer's internet connection (and any proxy or firewall). If you "
            "entered a zone address under Advanced, check it too. Then try again.",
            "zone_url",
            said,
        )
    if isinstance(error, UnsafeAddressError):
        return ConnectionFailure(
            FailureKind.UNSAFE_ADDRESS,
            "PayDesk will not send your API user to that address.",
            str(error),
            "zone_url",
            "",
        )
    message = error.message if isinstance(error, AutotaskError) else ""
    return ConnectionFailure(
        FailureKind.AUTOTASK_PROBLEM,
        "Autotask had a problem answering.",
        (message + " " if message else "")
        + "Try again in a few minutes; if it keeps happening, check Autotask's status page.",
        None,
        said,
    )


def describe_success(report: ConnectionReport) -> list[tuple[str, str]]:
    """``(label, value)`` lines for a successful test."""
    usage = (
        f"{report.requests_used:,} of {report.request_threshold:,} requests in the last "
        f"{report.timeframe_minutes} minutes"
        if report.request_threshold
        else f"{report.requests_used:,} requests"
    )
    zone = report.zone_name
    if report.typed_zone:
        zone = f"{report.api_url} — the address you typed, not one Autotask's lookup named"
    return [
        ("Zone", zone),
        ("Autotask web address", report.web_url or "(not reported)"),
        ("Organizations", f"{report.company_count:,}"),
        ("API usage", usage),
    ]
