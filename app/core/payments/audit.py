"""Audit entries for payments, refunds and postings: who, when, what.

Written in the same transaction as the change they describe, so the log never claims a
change that was rolled back, and never misses one that was committed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from app.core.clock import utcnow
from app.core.storage.models import AuditEntry

__all__ = ["RECOVERED_ACTION", "audit"]

#: Recovery finished a payment an interruption (a crash, a lost answer) left unfinished.
RECOVERED_ACTION = "payment.recovered"


def audit(
    session: Session,
    *,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: int | str,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Append one entry (``action`` like ``payment.succeeded``; ``details`` JSON-safe)."""
    session.add(
        AuditEntry(
            at=utcnow(),
            actor=actor,
            action=action,
            subject_type=subject_type,
            subject_id=str(subject_id),
            details=dict(details or {}),
        )
    )
