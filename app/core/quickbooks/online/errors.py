"""What went wrong talking to QuickBooks Online, as typed errors with plain messages.

Every error carries ``message``: a sentence a bookkeeper can act on (what happened, what to
do). Fault bodies (``{"Fault": {"Error": [{"Message", "Detail", "code"}], "type"}}``, or the
lower-case ``fault`` some authentication answers use) become the subclass for their code,
keeping QuickBooks' own ``detail`` for validation faults so the person sees what QuickBooks
objected to.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "QuickBooksAuthorizationError",
    "QuickBooksClosedPeriodError",
    "QuickBooksConnectionError",
    "QuickBooksCurrencyError",
    "QuickBooksDisconnectedError",
    "QuickBooksDuplicateDocNumberError",
    "QuickBooksDuplicateNameError",
    "QuickBooksError",
    "QuickBooksFaultError",
    "QuickBooksInvalidReferenceError",
    "QuickBooksNotFoundError",
    "QuickBooksServerError",
    "QuickBooksStaleObjectError",
    "QuickBooksThrottledError",
    "QuickBooksValidationError",
    "fault_error",
]

RECONNECT = "QuickBooks disconnected — Reconnect in Setup."


class QuickBooksError(Exception):
    """Base of every QuickBooks Online error; ``str()`` is the plain message."""

    def __init__(self, message: str, *, code: str = "", detail: str = "",
                 status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.detail = detail
        self.status = status


class QuickBooksDisconnectedError(QuickBooksError):
    """The connection is revoked or expired: a person must reconnect. Nothing queued is lost;
    postings wait until the connection is back."""

    def __init__(self, why: str = "") -> None:
        text = RECONNECT if not why else f"{RECONNECT} ({why})"
        super().__init__(text, code="auth")


class QuickBooksAuthorizationError(QuickBooksError):
    """Signing in (the consent page, the code exchange) did not work; the message says why."""


class QuickBooksConnectionError(QuickBooksError):
    """QuickBooks could not be reached (network, timeout, dropped connection)."""


class QuickBooksServerError(QuickBooksError):
    """QuickBooks answered with a 5xx error."""


class QuickBooksThrottledError(QuickBooksError):
    """QuickBooks kept answering 429 after PayDesk waited as asked."""


class QuickBooksCurrencyError(QuickBooksError):
    """The company's home currency is not PayDesk's internal currency."""


class QuickBooksFaultError(QuickBooksError):
    """A ``Fault`` answer: QuickBooks refused the request's content."""


class QuickBooksNotFoundError(QuickBooksFaultError):
    pass


class QuickBooksStaleObjectError(QuickBooksFaultError):
    pass


class QuickBooksClosedPeriodError(QuickBooksFaultError):
    pass


class QuickBooksDuplicateDocNumberError(QuickBooksFaultError):
    pass


class QuickBooksDuplicateNameError(QuickBooksFaultError):
    pass


class QuickBooksInvalidReferenceError(QuickBooksFaultError):
    pass


class QuickBooksValidationError(QuickBooksFaultError):
    pass


def _errors_of(body: Any) -> tuple[str, list[Mapping[str, Any]]]:
    if not isinstance(body, Mapping):
        return "", []
    fault = body.get("Fault") or body.get("fault")
    if not isinstance(fault, Mapping):
        return "", []
    errors = fault.get("Error") or fault.get("error") or []
    if isinstance(errors, Mapping):
        errors = [errors]
    kind = str(fault.get("type") or "")
    return kind, [e for e in errors if isinstance(e, Mapping)]


def _closed_books(detail: str) -> bool:
    text = detail.lower()
    return "closing date" in text or "closed period" in text or "period closed" in text


def fault_error(status: int, body: Any) -> QuickBooksError:
    """The typed error for an error answer (``body`` is the parsed JSON, or None)."""
    kind, errors = _errors_of(body)
    first: Mapping[str, Any] = errors[0] if errors else {}
    code = str(first.get("code") or "")
    qb_message = str(first.get("Message") or first.get("message") or "").strip()
    detail = str(first.get("Detail") or first.get("detail") or "").strip()
    said = detail or qb_message
    if status in (401, 403) and (status == 401 or kind.lower() == "authenticationfault"
                                 or code in ("100", "120", "3200")):
        return QuickBooksDisconnectedError()
    if status == 403:
        return QuickBooksFaultError(
            "QuickBooks refused access to this company. Ask its administrator to check that "
            "the QuickBooks user who connected PayDesk may record payments, then reconnect in "
            f"Setup. QuickBooks said: {said or 'forbidden'}",
            code=code, detail=detail, status=status)
    if code == "610" or status == 404:
        return QuickBooksNotFoundError(
            f"QuickBooks no longer has this record (it may have been deleted). {said}".strip(),
            code=code, detail=detail, status=status)
    if code == "5010":
        return QuickBooksStaleObjectError(
            "Someone changed this record in QuickBooks at the same time. PayDesk reads it "
            "again and retries.", code=code, detail=detail, status=status)
    if code == "6210" or (code == "6000" and _closed_books(said)):
        return QuickBooksClosedPeriodError(
            "QuickBooks refused the entry because its date is in a closed books period. Ask "
            "your accountant to reopen the period (QuickBooks > Settings > Account and "
            "settings > Advanced > Close the books) or to allow entries before the closing "
            f"date, then click Retry. QuickBooks said: {said}",
            code=code, detail=detail, status=status)
    if code == "6140":
        return QuickBooksDuplicateDocNumberError(
            "QuickBooks already has a transaction with this document number. Turn off "
            "'Warn if duplicate ... number is used' in QuickBooks or change the number in "
            f"QuickBooks, then click Retry. QuickBooks said: {said}",
            code=code, detail=detail, status=status)
    if code == "6240":
        return QuickBooksDuplicateNameError(
            "QuickBooks already has a name like this (customers, vendors, employees and "
            "items share names). Rename one of them in QuickBooks, then click Retry. "
            f"QuickBooks said: {said}", code=code, detail=detail, status=status)
    if code == "2500":
        return QuickBooksInvalidReferenceError(
            "QuickBooks does not know a record this entry points to (a customer, invoice, "
            "account or payment method may have been deleted or made inactive). Check it in "
            f"QuickBooks, then click Retry. QuickBooks said: {said}",
            code=code, detail=detail, status=status)
    if status == 429 or code == "003001":
        return QuickBooksThrottledError(
            "QuickBooks is limiting how fast PayDesk may send requests. PayDesk waits and "
            "tries again.", code=code, detail=detail, status=status)
    if status >= 500:
        return QuickBooksServerError(
            f"QuickBooks had a problem of its own (error {status}). PayDesk tries again "
            "later.", code=code, detail=detail, status=status)
    return QuickBooksValidationError(
        f"QuickBooks refused the entry: {said or 'no reason given'}"
        + (f" (QuickBooks error {code})" if code else ""),
        code=code, detail=detail, status=status)
