"""Fault switches for the Autotask sandbox: what can go wrong, seeded and configurable per run.

`Faults` holds the steady switches (latency distribution, random 500/503 with JSON or HTML
bodies, dropped connections, slow answers, data changing while a client pages, where the
thread-limit refusal status and the next-page links point). `ScriptedFault` is a one-shot
(or n-shot) fault for the next matching request — what tests use to make one specific call
fail. Random decisions come from a generator seeded with the sandbox's seed, so a run with
the same seed and the same requests sees the same faults.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from decimal import Decimal
from typing import Any

__all__ = ["Faults", "ScriptedFault"]

BODY_KINDS = ("json", "html", "empty")


def _knob(owner: type, name: str, value: Any) -> Any:
    """A switch's value in its own type: JSON numbers (int, float or — from the admin
    interface — Decimal) become the float or int the switch holds; a fraction given for a
    whole-number switch, or text for a number, is refused with a `ValueError`."""
    kinds = {f.name: str(f.type) for f in fields(owner)}
    kind = kinds.get(name)
    if kind is None:
        raise ValueError(f"unknown fault switch {name!r}")
    if value is None or isinstance(value, bool) or kind.startswith(("str", "bool", "list")):
        return value
    number_kind = kind.split(" | ")[0]
    if number_kind not in ("int", "float"):
        return value
    if not isinstance(value, int | float | Decimal):
        raise ValueError(f"fault switch {name!r} needs a number, not {value!r}")
    if number_kind == "float":
        return float(value)
    if value != int(value):
        raise ValueError(f"fault switch {name!r} needs a whole number, not {value}")
    return int(value)


@dataclass
class ScriptedFault:
    """Make the next `times` requests matching `path_contains`/`method` fail this way."""

    status: int = 500
    body: str = "json"
    message: str = "An unexpected error occurred on the server."
    drop: bool = False
    delay_ms: float = 0.0
    retry_after: float | None = None
    path_contains: str | None = None
    method: str | None = None
    times: int = 1

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> ScriptedFault:
        """A scripted fault from JSON-ish values (numbers of any kind, see `_knob`)."""
        return cls(**{k: _knob(cls, k, v) for k, v in values.items()})

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        return not self.path_contains or self.path_contains.lower() in path.lower()


@dataclass
class Faults:
    """Steady fault switches; all off by default. Changeable while the sandbox runs."""

    latency_ms: float = 0.0
    """Added to every API request."""
    latency_jitter_ms: float = 0.0
    """Plus a random 0..jitter (uniform), per request."""
    error_rate: float = 0.0
    """Share of API requests answered with `error_status` (after doing nothing)."""
    error_status: int = 500
    error_body: str = "json"
    """`json` (Autotask's `{"errors": [...]}`), `html` (an IIS error page) or `empty`."""
    drop_rate: float = 0.0
    """Share of API requests whose connection is closed without an answer."""
    slow_rate: float = 0.0
    slow_ms: float = 3000.0
    """Share of API requests delayed by `slow_ms` more."""
    mutate_every: int = 0
    """Every N-th query request first changes the data (company created, invoice voided,
    paid or added), like colleagues working in Autotask during a sync. 0 = never."""
    thread_refusal_status: int = 500
    """HTTP status of the thread-threshold refusal (Autotask does not always use 429)."""
    next_page_host: str | None = None
    """When set, `nextPageUrl` points at this host instead of the sandbox's."""
    zone_url: str | None = None
    """When set, `zoneInformation` names this address as the user's zone."""
    redirect_to: str | None = None
    """When set, API requests are answered with a 307 to this base URL."""
    duplicate_ids: list[int] = field(default_factory=list)
    """Records with these ids appear twice in every query answer that holds them (a paging
    glitch a client must report, not collapse silently)."""
    blank_ids: dict[str, list[int]] = field(default_factory=dict)
    """Entity name -> ids: those records are served with `"id": null` (damaged data a
    client must quarantine, not choke on)."""
    scripted: list[ScriptedFault] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def update(self, changes: dict[str, Any]) -> None:
        """Change switches by name (from the admin interface); unknown names are errors."""
        for key, value in changes.items():
            if key == "scripted":
                self.scripted = [ScriptedFault.from_json(item) for item in value or []]
                continue
            if key == "blank_ids" and (not isinstance(value, dict) or not all(
                    isinstance(ids, list) and all(type(i) is int for i in ids)
                    for ids in value.values())):
                raise ValueError("blank_ids needs {entity: [record ids]}")
            if key == "duplicate_ids" and (
                    not isinstance(value, list) or not all(type(v) is int for v in value)):
                raise ValueError(f"{key} needs a list of record ids")
            setattr(self, key, _knob(Faults, key, value))
        if self.error_body not in BODY_KINDS:
            raise ValueError(f"error_body must be one of {', '.join(BODY_KINDS)}")
