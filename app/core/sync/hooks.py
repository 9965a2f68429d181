"""Work that runs in the same background sync, after Autotask: the QuickBooks read, and any
other book the program keeps in step.

A hook is ``hook(engine, cancel)``. :func:`app.core.sync.engine.run_sync` runs every registered
hook after the Autotask pass, still holding the sync lock (one writer at a time), unless the
run was cancelled. A hook that is not set up does nothing; a hook's failure is logged and never
fails the Autotask sync (each hook keeps its own status and checkpoints).

Hooks are registered by whoever holds the keychain store (the window at start-up,
``paydesk sync``): ``register_sync_hook("quickbooks_online", quickbooks_sync_hook(credentials))``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import Engine

__all__ = ["SyncHook", "register_sync_hook", "run_sync_hooks", "sync_hooks",
           "unregister_sync_hook"]

log = logging.getLogger(__name__)

SyncHook = Callable[[Engine, threading.Event], None]

_lock = threading.Lock()
_hooks: dict[str, SyncHook] = {}


def register_sync_hook(name: str, hook: SyncHook) -> None:
    with _lock:
        _hooks[name] = hook


def unregister_sync_hook(name: str) -> None:
    with _lock:
        _hooks.pop(name, None)


def sync_hooks() -> dict[str, SyncHook]:
    with _lock:
        return dict(_hooks)


def run_sync_hooks(engine: Engine, cancel: threading.Event) -> dict[str, str]:
    """Run every hook in registration order; returns name → error text for hooks that raised."""
    failed: dict[str, str] = {}
    for name, hook in sync_hooks().items():
        if cancel.is_set():
            break
        try:
            hook(engine, cancel)
        except Exception as exc:  # a hook never fails the Autotask sync
            log.exception("The %s part of the sync failed", name)
            failed[name] = str(exc) or type(exc).__name__
    return failed
