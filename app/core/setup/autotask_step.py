"""The Autotask step of setup as plain data and rules, so the wizard only draws it.

`AutotaskForm` is what the fields hold. `AutotaskStepState` tracks Test Connection as page
state (untested → testing → passed/failed, see `connection_test`): a result only counts for
the exact values that were tested (a fingerprint of the form); editing any field clears a
pass, and a result that arrives for an older test (after Cancel or an edit) is ignored.
`run_connection_test` is the blocking call the wizard runs in a worker and
``paydesk setup`` runs directly.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from app.core.autotask import (
    DEFAULT_DISCOVERY_URL,
    AutotaskCredentials,
    AutotaskError,
    ConnectionReport,
    test_connection,
)
from app.core.connections import AutotaskConnection
from app.core.setup.connection_test import ConnectionTestState, TestState
from app.core.setup.outcomes import ConnectionFailure, describe_failure
from app.core.setup.validation import (
    validate_integration_code,
    validate_secret,
    validate_username,
    validate_zone_url,
)

__all__ = [
    "AutotaskForm",
    "AutotaskStepState",
    "TestOutcome",
    "TestState",
    "run_connection_test",
]


@dataclass(frozen=True, slots=True)
class AutotaskForm:
    """The Autotask page's fields. ``secret`` empty with ``secret_stored`` keeps the stored one."""

    username: str = ""
    secret: str = field(default="", repr=False)
    integration_code: str = field(default="", repr=False)
    zone_url: str = ""
    discovery_url: str = DEFAULT_DISCOVERY_URL
    secret_stored: bool = False

    def errors(self) -> dict[str, str]:
        """Field name → message, for every field that is not acceptable yet."""
        checks = {
            "username": validate_username(self.username),
            "secret": validate_secret(self.secret, stored=self.secret_stored),
            "integration_code": validate_integration_code(self.integration_code),
            "zone_url": validate_zone_url(self.zone_url),
        }
        return {name: message for name, message in checks.items() if message}

    def is_valid(self) -> bool:
        return not self.errors()

    def fingerprint(self, stored_secret: str | None = None) -> str:
        """Identifies the exact sign-in tested (a hash: the secret is never kept in clear)."""
        secret = self.secret or (stored_secret or "")
        parts = (self.username.strip().lower(), secret, self.integration_code.strip(),
                 self.zone_url.strip(), self.discovery_url)
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()

    def connection(self) -> AutotaskConnection:
        return AutotaskConnection(
            username=self.username.strip(),
            integration_code=self.integration_code.strip(),
            zone_url=self.zone_url.strip(),
            discovery_url=self.discovery_url,
        )

    def credentials(self, stored_secret: str | None = None) -> AutotaskCredentials:
        return AutotaskCredentials(
            username=self.username.strip(),
            secret=self.secret or (stored_secret or ""),
            integration_code=self.integration_code.strip(),
        )


@dataclass(frozen=True, slots=True)
class TestOutcome:
    """A finished test: a report when it worked, a failure explanation when not."""

    report: ConnectionReport | None = None
    failure: ConnectionFailure | None = None

    @property
    def ok(self) -> bool:
        return self.report is not None


TestOutcome.__test__ = False  # type: ignore[attr-defined]  # not a pytest class


def run_connection_test(
    form: AutotaskForm, stored_secret: str | None = None, *, read_timeout: float = 30.0
) -> TestOutcome:
    """Test the form's sign-in against Autotask. Blocks (seconds); run it off the GUI thread.

    Never raises for an Autotask failure: the failure is described in the outcome.
    """
    from app.core.autotask import Timeouts

    try:
        report = test_connection(
            form.credentials(stored_secret),
            discovery_url=form.discovery_url,
            zone_url=form.zone_url.strip() or None,
            timeouts=Timeouts(connect=10.0, read=read_timeout),
        )
    except AutotaskError as error:
        return TestOutcome(failure=describe_failure(error))
    return TestOutcome(report=report)


class AutotaskStepState(ConnectionTestState[AutotaskForm, TestOutcome]):
    """Test Connection for the Autotask sign-in: every field counts, any edit clears a result."""
