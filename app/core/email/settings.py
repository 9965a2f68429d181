"""How PayDesk reaches the MSP's mail server, and what it sends on its own.

The mail server (``email.smtp``), whether receipts go out (``email.receipts``) and the overdue
reminder schedule (``email.reminders``) are shared settings (every seat sends the same way;
a change is audited by :func:`app.core.config.set_setting`). The password lives only in the
keychain under :data:`SMTP_PASSWORD_SECRET`.

Security: ``starttls`` (port 587) and ``tls`` (port 465) verify the server's certificate with
the system's trust store; ``none`` sends in the clear and is accepted only for a loopback
server (a relay on this computer, or the demo mailbox).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Engine

from app.core.config import get_setting, set_setting
from app.core.net import is_loopback_host

__all__ = [
    "RECEIPTS_KEY",
    "REMINDERS_KEY",
    "SECURITY_LABELS",
    "SMTP_KEY",
    "SMTP_PASSWORD_SECRET",
    "ReceiptEmailSettings",
    "ReminderSchedule",
    "SmtpSettings",
    "is_valid_address",
    "load_receipt_settings",
    "load_reminder_schedule",
    "load_smtp_settings",
    "organization_names",
    "save_receipt_settings",
    "save_reminder_schedule",
    "save_smtp_settings",
    "set_receipts_for_organization",
]

SMTP_KEY = "email.smtp"
RECEIPTS_KEY = "email.receipts"
REMINDERS_KEY = "email.reminders"
#: The keychain name of the mail server's password (app.core.credentials).
SMTP_PASSWORD_SECRET = "email.smtp_password"  # noqa: S105 - a name, not a secret

SECURITY_LABELS: Mapping[str, str] = {
    "starttls": "STARTTLS (usually port 587)",
    "tls": "TLS from the start (usually port 465)",
    "none": "None — only for a mail relay on this computer",
}
DEFAULT_PORTS: Mapping[str, int] = {"starttls": 587, "tls": 465, "none": 25}

# Deliberately simple: one @, no spaces, a dot in the domain. The mail server has the last word.
_ADDRESS = re.compile(r"^[^@\s<>\"(),;:]+@[^@\s<>\"(),;:]+\.[^@\s<>\"(),;:]+$")


def is_valid_address(address: str) -> bool:
    return bool(_ADDRESS.match(address.strip()))


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """The mail server PayDesk sends through. Never holds the password."""

    host: str = ""
    port: int = 587
    security: str = "starttls"
    username: str = ""
    from_address: str = ""
    from_name: str = ""

    @property
    def configured(self) -> bool:
        return bool(self.host and self.from_address)

    def problems(self) -> list[str]:
        """What is wrong, in sentences for the settings screen and ``paydesk setup email``."""
        found: list[str] = []
        if not self.host.strip():
            found.append("Enter the mail server's name, for example smtp.office365.com.")
        elif any(c.isspace() for c in self.host.strip()) or "/" in self.host:
            found.append("The mail server is a host name such as smtp.example.com, not a web "
                         "address.")
        if not 0 < self.port < 65536:
            found.append("The port is a number from 1 to 65535 (587 for STARTTLS, 465 for TLS).")
        if self.security not in SECURITY_LABELS:
            found.append("Choose STARTTLS or TLS.")
        elif self.security == "none" and self.host.strip() and not is_loopback_host(
                self.host.strip()):
            found.append("PayDesk sends without encryption only to a mail relay on this "
                         "computer (localhost). Choose STARTTLS or TLS for "
                         f"{self.host.strip()}.")
        if not is_valid_address(self.from_address):
            found.append("Enter the address the emails come from, for example "
                         "billing@yourcompany.com.")
        return found

    def to_json(self) -> dict[str, Any]:
        return {"host": self.host.strip(), "port": self.port, "security": self.security,
                "username": self.username.strip(), "from_address": self.from_address.strip(),
                "from_name": self.from_name.strip()}

    @classmethod
    def from_json(cls, raw: Any) -> SmtpSettings:
        if not isinstance(raw, dict):
            return cls()
        port = raw.get("port")
        return cls(
            host=str(raw.get("host") or ""),
            port=port if isinstance(port, int) else 587,
            security=str(raw.get("security") or "starttls"),
            username=str(raw.get("username") or ""),
            from_address=str(raw.get("from_address") or ""),
            from_name=str(raw.get("from_name") or ""),
        )


def load_smtp_settings(engine: Engine) -> SmtpSettings:
    return SmtpSettings.from_json(get_setting(engine, SMTP_KEY))


def save_smtp_settings(engine: Engine, settings: SmtpSettings, actor: str | None = None) -> None:
    """Store the settings for every seat; raises ``ValueError`` with the problems first."""
    problems = settings.problems()
    if problems:
        raise ValueError(" ".join(problems))
    set_setting(engine, SMTP_KEY, settings.to_json(), actor)


@dataclass(frozen=True, slots=True)
class ReceiptEmailSettings:
    """Receipts by email: on by default; organizations listed in ``off_for`` get none.

    Payments taken with a gateway's *test* credentials get no emailed receipt unless
    ``test_payments`` is set: a bookkeeper trying PayDesk out against the real Autotask must
    not mail real clients a receipt for money that never moved (the demo sets it; its mail
    goes to the demo mailbox)."""

    enabled: bool = True
    off_for: frozenset[int] = field(default_factory=frozenset)
    test_payments: bool = False

    def sends_to(self, organization_id: int) -> bool:
        return self.enabled and organization_id not in self.off_for

    def with_organization(self, organization_id: int, on: bool) -> ReceiptEmailSettings:
        off = set(self.off_for)
        if on:
            off.discard(organization_id)
        else:
            off.add(organization_id)
        return replace(self, off_for=frozenset(off))


def load_receipt_settings(engine: Engine) -> ReceiptEmailSettings:
    raw = get_setting(engine, RECEIPTS_KEY)
    if not isinstance(raw, dict):
        return ReceiptEmailSettings()
    return receipt_settings_from_json(raw)


def receipt_settings_from_json(raw: Any) -> ReceiptEmailSettings:
    if not isinstance(raw, dict):
        return ReceiptEmailSettings()
    off = raw.get("off_for") or []
    return ReceiptEmailSettings(
        enabled=bool(raw.get("enabled", True)),
        off_for=frozenset(int(x) for x in off if isinstance(x, int)),
        test_payments=bool(raw.get("test_payments", False)),
    )


def save_receipt_settings(engine: Engine, settings: ReceiptEmailSettings,
                          actor: str | None = None) -> None:
    set_setting(engine, RECEIPTS_KEY,
                {"enabled": settings.enabled, "off_for": sorted(settings.off_for),
                 "test_payments": settings.test_payments}, actor)


@dataclass(frozen=True, slots=True)
class ReminderSchedule:
    """Reminders for overdue invoices: off by default; one email per invoice for each step,
    ``days_overdue`` days after its due date (e.g. 1, 7, 14)."""

    enabled: bool = False
    days_overdue: tuple[int, ...] = (1, 7, 14)

    def problems(self) -> list[str]:
        if not self.days_overdue:
            return ["Give at least one day after the due date, for example 1, 7, 14."]
        if any(d < 1 or d > 365 for d in self.days_overdue):
            return ["Reminder days are between 1 and 365 days after the due date."]
        return []


def parse_days(text: str | Sequence[int]) -> tuple[int, ...]:
    """``"1, 7, 14"`` → ``(1, 7, 14)``; raises ``ValueError`` with a sentence."""
    if not isinstance(text, str):
        return tuple(sorted(set(int(d) for d in text)))
    parts = [p for p in re.split(r"[,\s]+", text.strip()) if p]
    try:
        days = tuple(sorted({int(p) for p in parts}))
    except ValueError as exc:
        raise ValueError("Write the days as numbers separated by commas, for example "
                         "1, 7, 14.") from exc
    return days


def load_reminder_schedule(engine: Engine) -> ReminderSchedule:
    raw = get_setting(engine, REMINDERS_KEY)
    if not isinstance(raw, dict):
        return ReminderSchedule()
    days = raw.get("days_overdue")
    parsed = (tuple(sorted({int(d) for d in days if isinstance(d, int)}))
              if isinstance(days, list) else ReminderSchedule().days_overdue)
    return ReminderSchedule(enabled=bool(raw.get("enabled", False)),
                            days_overdue=parsed or ReminderSchedule().days_overdue)


def save_reminder_schedule(engine: Engine, schedule: ReminderSchedule,
                           actor: str | None = None) -> None:
    problems = schedule.problems()
    if problems:
        raise ValueError(" ".join(problems))
    set_setting(engine, REMINDERS_KEY,
                {"enabled": schedule.enabled, "days_overdue": list(schedule.days_overdue)}, actor)


def organization_names(engine: Engine) -> list[tuple[int, str]]:
    """(id, name) of every organization, by name: the choices for "no receipts for"."""
    from sqlalchemy import select

    from app.core.storage.engine import session_scope
    from app.core.storage.models import Organization

    with session_scope(engine) as session:
        return [(int(i), str(n)) for i, n in session.execute(
            select(Organization.id, Organization.name).order_by(Organization.name,
                                                                Organization.id))]


def set_receipts_for_organization(engine: Engine, organization_id: int, on: bool,
                                  actor: str | None = None) -> ReceiptEmailSettings:
    """Switch receipts by email on or off for one organization (audited like any setting)."""
    settings = load_receipt_settings(engine).with_organization(organization_id, on)
    save_receipt_settings(engine, settings, actor)
    return settings
