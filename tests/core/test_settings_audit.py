"""Shared settings are audited: who changed which setting, when, from what to what — once
per real change, in the same transaction, never with a secret — on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import StatementError

from app.core.config import (
    SETTING_CHANGED,
    get_setting,
    last_setting_change,
    set_setting,
    setting_history,
)
from app.core.storage.engine import session_scope
from app.core.storage.models import AuditEntry
from app.core.sync.history import (
    SyncSchedule,
    load_sync_schedule,
    save_sync_schedule,
)


def _audit_count(engine: Engine) -> int:
    with session_scope(engine) as s:
        return int(s.scalar(select(func.count()).select_from(AuditEntry)
                            .where(AuditEntry.action == SETTING_CHANGED)) or 0)


def test_a_change_is_audited_with_who_and_from_what_to_what(engine: Engine) -> None:
    set_setting(engine, "demo.colour", "blue", actor="jane@office")
    set_setting(engine, "demo.colour", "green", actor="sam@front-desk")

    history = setting_history(engine, "demo.colour")
    assert [(h.actor, h.before, h.after) for h in history] == [
        ("sam@front-desk", "blue", "green"),
        ("jane@office", None, "blue"),
    ]
    assert all(h.at.tzinfo is not None for h in history)
    change = last_setting_change(engine, ["demo.colour", "demo.other"])
    assert change is not None and change.changed_by == "sam@front-desk"
    assert change.changed_at == history[0].at


def test_storing_the_same_value_again_is_not_a_change(engine: Engine) -> None:
    set_setting(engine, "demo.limit", {"a": 1, "b": [1, 2]}, actor="jane@office")
    before = _audit_count(engine)
    first = last_setting_change(engine, ["demo.limit"])
    set_setting(engine, "demo.limit", {"b": [1, 2], "a": 1}, actor="sam@front-desk")
    assert _audit_count(engine) == before
    assert last_setting_change(engine, ["demo.limit"]) == first  # still Jane's


def test_bookkeeping_state_can_skip_the_audit(engine: Engine) -> None:
    before = _audit_count(engine)
    set_setting(engine, "demo.watermark", "2026-12-01", actor="PayDesk", audit=False)
    assert get_setting(engine, "demo.watermark") == "2026-12-01"
    assert _audit_count(engine) == before


def test_secret_looking_fields_and_big_values_are_not_copied_into_the_audit(
    engine: Engine,
) -> None:
    logo = "A" * 50_000
    set_setting(engine, "demo.connection",
                {"user": "api@msp.example", "password": "hunter2", "logo": logo,
                 "integration_code": "VENDOR-CODE-1"},
                actor="jane@office")
    after = setting_history(engine, "demo.connection")[0].after
    assert after["user"] == "api@msp.example"
    assert after["password"] == "(hidden)"
    assert "hunter2" not in repr(after) and "VENDOR-CODE-1" not in repr(after)
    assert after["logo"]["summary"] == "50,002 characters"
    assert logo not in repr(after)


def test_the_audit_entry_is_written_with_the_setting_or_not_at_all(engine: Engine) -> None:
    """A value that cannot be stored leaves neither the setting nor its audit entry."""
    before = _audit_count(engine)
    with pytest.raises((TypeError, ValueError, StatementError)):
        set_setting(engine, "demo.bad", {"when": object()}, actor="jane@office")
    assert get_setting(engine, "demo.bad") is None
    assert _audit_count(engine) == before


def test_the_sync_schedule_is_shared_and_validated(engine: Engine) -> None:
    assert load_sync_schedule(engine) == SyncSchedule(15, True)
    save_sync_schedule(engine, SyncSchedule(60, False), actor="jane@office")
    assert load_sync_schedule(engine) == SyncSchedule(60, False)
    change = last_setting_change(engine, ["sync.interval_minutes", "sync.run_at_start"])
    assert change is not None and change.changed_by == "jane@office"
    with pytest.raises(ValueError, match="once a day"):
        save_sync_schedule(engine, SyncSchedule(5000, True))


def test_two_first_writes_of_one_key_at_once_both_land(engine: Engine) -> None:
    """Two workers storing a key nobody stored before: the second insert becomes an update."""
    import threading

    from app.core.config import get_setting, set_setting

    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def store(value: str) -> None:
        barrier.wait()
        try:
            set_setting(engine, "race.key", value, actor="seat")
        except BaseException as error:
            errors.append(error)

    for _ in range(5):
        threads = [threading.Thread(target=store, args=(v,)) for v in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors
    assert get_setting(engine, "race.key") in ("a", "b")
