"""Autotask's request limits, as the sandbox enforces them.

* `RequestBudget` — a rolling 60-minute request counter per database (threshold
  configurable, default 10,000). Past 50 % every request is slowed by 0.5 s, past 75 % by
  1 s, past 100 % requests are refused until the window moves on. `time_scale` speeds the
  clock up for tests: with `time_scale=3600` the hour lasts one second and the added
  latencies shrink by the same factor.
* `ThreadGate` — at most N (3) requests in flight per (integration code, entity endpoint);
  it also remembers the highest concurrency it saw, so tests can check clients behave.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

__all__ = ["Admission", "RequestBudget", "ThreadGate"]


@dataclass(frozen=True)
class Admission:
    allowed: bool
    used: int
    """Requests in the current window, this one included when allowed."""
    added_latency: float
    """Real seconds to add to this request."""
    retry_after: float
    """Real seconds until a refused request could succeed."""


class RequestBudget:
    """The rolling hourly counter. Thread-safe."""

    def __init__(self, threshold: int = 10_000, timeframe_minutes: int = 60,
                 time_scale: float = 1.0) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.threshold = threshold
        self.timeframe_minutes = timeframe_minutes
        self.time_scale = time_scale
        self._stamps: deque[float] = deque()
        self._lock = threading.Lock()

    @property
    def window_seconds(self) -> float:
        """The window in real seconds."""
        return self.timeframe_minutes * 60 / self.time_scale

    def _prune(self, now: float) -> None:
        edge = now - self.window_seconds
        stamps = self._stamps
        while stamps and stamps[0] <= edge:
            stamps.popleft()

    def used(self) -> int:
        with self._lock:
            self._prune(time.monotonic())
            return len(self._stamps)

    def admit(self) -> Admission:
        """Count one request (unless refused) and say how it should be treated."""
        now = time.monotonic()
        with self._lock:
            self._prune(now)
            used = len(self._stamps)
            if used >= self.threshold:
                wait = self._stamps[0] + self.window_seconds - now if self._stamps else 0.0
                return Admission(False, used, 0.0, max(wait, 0.001))
            self._stamps.append(now)
            used += 1
        usage = used / self.threshold if self.threshold else 0.0
        latency = 1.0 if usage >= 0.75 else 0.5 if usage >= 0.5 else 0.0
        return Admission(True, used, latency / self.time_scale, 0.0)

    def preload(self, count: int) -> None:
        """Pretend `count` requests were made just now (other integrations' usage)."""
        now = time.monotonic()
        with self._lock:
            self._stamps.extend([now] * count)

    def reset(self) -> None:
        with self._lock:
            self._stamps.clear()


class ThreadGate:
    """Counts requests in flight per key; refuses past `limit`. Thread-safe."""

    def __init__(self, limit: int = 3) -> None:
        self.limit = limit
        self._active: dict[tuple[str, str], int] = {}
        self.max_seen: dict[str, int] = {}
        self.refusals = 0
        self._lock = threading.Lock()

    def enter(self, code: str, entity: str) -> bool:
        key = (code.lower(), entity.lower())
        with self._lock:
            current = self._active.get(key, 0)
            if current >= self.limit:
                self.refusals += 1
                return False
            self._active[key] = current + 1
            name = key[1]
            if current + 1 > self.max_seen.get(name, 0):
                self.max_seen[name] = current + 1
            return True

    def leave(self, code: str, entity: str) -> None:
        key = (code.lower(), entity.lower())
        with self._lock:
            current = self._active.get(key, 0)
            if current <= 1:
                self._active.pop(key, None)
            else:
                self._active[key] = current - 1

    def reset_stats(self) -> None:
        with self._lock:
            self.max_seen.clear()
            self.refusals = 0
