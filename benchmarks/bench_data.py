"""What the table benchmarks share: a cached database of generated history, the PostgreSQL
latency proxy and round-trip counting, and the machine's load.

Generated SQLite databases are kept between runs in the user's cache folder
(``…/PayDesk/benchmarks``; ``PAYDESK_BENCH_CACHE`` overrides it), named by their size and a
fingerprint of the schema and the generator, so a changed schema or generator builds anew
and an unchanged one opens in a moment. ``--no-cache`` builds a fresh one each run.
A PostgreSQL database given with ``--database`` is filled when it is empty and used as it
is otherwise.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from platformdirs import user_cache_dir
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from app.core.storage.engine import open_database

ROOT = Path(__file__).resolve().parents[1]
#: Files whose content decides whether a cached database still fits.
_FINGERPRINTED = (
    "app/core/storage/models.py",
    "app/core/storage/search.py",
    "app/core/storage/migrations/versions",
    "app/core/queries/fixtures.py",
    "app/core/payments/fixtures.py",
)


def fingerprint(*parts: object) -> str:
    digest = hashlib.sha256(repr(parts).encode())
    for name in _FINGERPRINTED:
        path = ROOT / name
        files = sorted(path.glob("*.py")) if path.is_dir() else [path]
        for file in files:
            if file.exists():
                digest.update(file.read_bytes())
    return digest.hexdigest()[:12]


def cache_folder() -> Path:
    given = os.environ.get("PAYDESK_BENCH_CACHE")
    folder = Path(given) if given else Path(user_cache_dir("PayDesk")) / "benchmarks"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def row_count(url: str, table: object) -> int:
    engine = open_database(url)
    try:
        with engine.connect() as connection:
            stmt = select(func.count()).select_from(table)  # type: ignore[arg-type]
            return int(connection.execute(stmt).scalar_one())
    finally:
        engine.dispose()


def prepared_database(
    kind: str,
    sizes: dict[str, int],
    build_command: Sequence[str],
    *,
    database: str | None,
    table: object,
    no_cache: bool,
) -> tuple[str, float, str]:
    """The URL of a database holding the generated history, the seconds spent building it
    (0 when it came from the cache or was already filled) and how it was obtained.

    ``build_command`` is run in a child process with ``--build-into URL`` appended, so the
    generator's memory is not counted in the benchmark's peak RSS.
    """
    if database is not None:
        if row_count(database, table) > 0:
            return database, 0.0, "given, already filled"
        return database, _build(build_command, database), "given, filled now"
    name = "-".join(f"{k}{v}" for k, v in sizes.items())
    path = cache_folder() / f"{kind}-{name}-{fingerprint(kind, sizes)}.sqlite"
    if path.exists() and not no_cache:
        return f"sqlite:///{path}", 0.0, f"cached ({path})"
    partial_path = path.with_suffix(".building")
    for leftover in (partial_path, Path(f"{partial_path}-wal"), Path(f"{partial_path}-shm")):
        leftover.unlink(missing_ok=True)
    seconds = _build(build_command, f"sqlite:///{partial_path}")
    partial_path.rename(path)
    # Databases of the same size built for an older schema or generator are of no more use.
    for stale in cache_folder().glob(f"{kind}-{name}-*.sqlite*"):
        if not stale.name.startswith(path.name):
            stale.unlink(missing_ok=True)
    return f"sqlite:///{path}", seconds, "built now"


def _build(command: Sequence[str], url: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, *command, "--build-into", url], check=True)
    return time.perf_counter() - start


def through_proxy(url: str, round_trip_ms: float) -> tuple[str, object | None]:
    """For a PostgreSQL URL: the same database reached through a ``LatencyProxy`` (which
    also counts round trips), and the proxy. Other URLs are returned as they are."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return url, None
    from benchmarks.latency_proxy import LatencyProxy

    proxy = LatencyProxy(parsed.host or "127.0.0.1", parsed.port or 5432, round_trip_ms)
    proxied = parsed.set(host="127.0.0.1", port=proxy.port)
    return proxied.render_as_string(hide_password=False), proxy


def load_line() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} cores"


class ServerCpu:
    """CPU seconds the PostgreSQL server spent for this benchmark: the backends connected to
    its database, read from /proc (the server runs on this machine). On PostgreSQL the
    queries' work is done there, not in the benchmark's process, so both are printed.
    Unavailable (None) for SQLite or when /proc cannot be read."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self._engine: Engine | None = None
        if parsed.get_backend_name() == "postgresql" and Path("/proc/self/stat").exists():
            self._engine = create_engine(url, poolclass=NullPool)
            self._connection = self._engine.connect().execution_options(
                isolation_level="AUTOCOMMIT")
            self._database = parsed.database
            self._own = self._connection.exec_driver_sql("select pg_backend_pid()").scalar()

    @property
    def available(self) -> bool:
        return self._engine is not None

    def seconds(self) -> float | None:
        if self._engine is None:
            return None
        pids = [
            row[0]
            for row in self._connection.exec_driver_sql(
                "select pid from pg_stat_activity where datname = %(db)s and pid <> %(own)s",
                {"db": self._database, "own": self._own},
            )
        ]
        total = 0.0
        tick = os.sysconf("SC_CLK_TCK")
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / tick
        return total

    def close(self) -> None:
        if self._engine is not None:
            self._connection.close()
            self._engine.dispose()
