"""The frozen PayDesk's budgets: build time, size of the one-folder build, cold start.

    python benchmarks/frozen_benchmark.py [--reuse] [--runs N]

Builds with ``build_scripts/build.py --folder-only`` (timed), unless ``--reuse`` measures the
build already in ``dist/``. Then:

* size: the unpacked one-folder build (budget: 250 MB on Linux), and its ten largest parts
  (the executable, the Qt libraries and plugins one by one, every other package or library);
* cold start: the frozen program started as a new process with ``--smoke``, which opens the
  database, shows the main window and exits as soon as it is shown (budget: 2 s). The first
  start is on a fresh profile (database created and migrated); the next ``--runs`` starts
  reuse that profile, as every later start of an installed PayDesk does. Wall-clock and CPU
  time (user + system of the child process) are both given.

Prints a table, then one JSON line with every figure (seconds, MB).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZE_BUDGET_MB = 250.0
START_BUDGET_S = 2.0


def build_folder() -> tuple[Path, Path]:
    """(the one-folder build, its executable) for this system."""
    dist = ROOT / "dist"
    if sys.platform == "win32":
        return dist / "PayDesk", dist / "PayDesk" / "paydesk-cli.exe"
    if sys.platform == "darwin":
        return dist / "PayDesk.app", dist / "PayDesk.app" / "Contents" / "MacOS" / "PayDesk"
    return dist / "paydesk", dist / "paydesk" / "paydesk"


def part_of(relative: Path) -> str:
    """The part a file belongs to: Qt files one by one, other packages as a whole."""
    parts = relative.parts
    if parts and parts[0] in ("_internal", "Contents"):
        parts = parts[1:]
        if parts and parts[0] in ("Frameworks", "Resources", "MacOS"):
            parts = parts[1:]
    if len(parts) >= 4 and parts[0] == "PySide6" and parts[1] == "Qt":
        return "/".join(parts[:4])  # Qt/lib/<library>, Qt/plugins/<folder>
    if len(parts) >= 2 and parts[0] == "PySide6":
        return "/".join(parts[:2])
    return parts[0] if parts else str(relative)


def measure_size(folder: Path) -> tuple[int, list[tuple[str, int]]]:
    sizes: dict[str, int] = {}
    total = 0
    for path in folder.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        size = path.stat().st_size
        total += size
        name = part_of(path.relative_to(folder))
        sizes[name] = sizes.get(name, 0) + size
    largest = sorted(sizes.items(), key=lambda item: item[1], reverse=True)[:10]
    return total, largest


def _children_cpu() -> float:
    """CPU seconds used by finished child processes (NaN on Windows, which has no rusage)."""
    try:
        import resource
    except ImportError:
        return float("nan")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_start(executable: Path, profile: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one ``--smoke`` start."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["QT_QPA_PLATFORM"] = "offscreen"
    before = _children_cpu()
    started = time.perf_counter()
    subprocess.run([str(executable), "--smoke", "--profile", str(profile)], env=env,
                   check=True, capture_output=True, timeout=120)
    wall = time.perf_counter() - started
    return wall, _children_cpu() - before


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/frozen_benchmark.py",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--reuse", action="store_true",
                        help="measure the build already in dist/ instead of building")
    parser.add_argument("--runs", type=int, default=5,
                        help="starts on the existing profile after the first (default 5)")
    args = parser.parse_args(argv)

    build_seconds: float | None = None
    if not args.reuse:
        started = time.perf_counter()
        subprocess.run([sys.executable, str(ROOT / "build_scripts" / "build.py"),
                        "--folder-only"], check=True)
        build_seconds = time.perf_counter() - started
    folder, executable = build_folder()
    if not executable.is_file():
        print(f"No build in {folder}: run without --reuse", file=sys.stderr)
        return 1

    total, largest = measure_size(folder)
    profile_root = Path(tempfile.mkdtemp(prefix="paydesk-frozen-bench-"))
    try:
        first_wall, first_cpu = timed_start(executable, profile_root / "profile")
        walls, cpus = [], []
        for _ in range(args.runs):
            wall, cpu = timed_start(executable, profile_root / "profile")
            walls.append(wall)
            cpus.append(cpu)
    finally:
        shutil.rmtree(profile_root, ignore_errors=True)

    total_mb = total / 1e6
    median_wall = statistics.median(walls) if walls else first_wall
    median_cpu = statistics.median(cpus) if cpus else first_cpu
    print(f"PayDesk frozen build on {sys.platform}: {folder}")
    if build_seconds is not None:
        print(f"  build time                      {build_seconds:8.1f} s")
    print(f"  one-folder size                 {total_mb:8.1f} MB  (budget {SIZE_BUDGET_MB:.0f} "
          f"MB: {'ok' if total_mb <= SIZE_BUDGET_MB else 'OVER'})")
    print("  ten largest parts:")
    for name, size in largest:
        print(f"    {size / 1e6:7.1f} MB  {name}")
    print(f"  first start, fresh profile      {first_wall:8.2f} s wall, {first_cpu:5.2f} s CPU")
    print(f"  start, existing profile (median of {len(walls)}) {median_wall:5.2f} s wall, "
          f"{median_cpu:5.2f} s CPU  (budget {START_BUDGET_S:.0f} s: "
          f"{'ok' if max(first_wall, median_wall) <= START_BUDGET_S else 'OVER'})")
    print(json.dumps({
        "platform": sys.platform,
        "build_seconds": None if build_seconds is None else round(build_seconds, 1),
        "size_mb": round(total_mb, 1),
        "size_budget_mb": SIZE_BUDGET_MB,
        "largest_parts_mb": {name: round(size / 1e6, 1) for name, size in largest},
        "first_start_wall_s": round(first_wall, 3),
        "first_start_cpu_s": None if first_cpu != first_cpu else round(first_cpu, 3),
        "start_wall_s_median": round(median_wall, 3),
        "start_cpu_s_median": None if median_cpu != median_cpu else round(median_cpu, 3),
        "start_budget_s": START_BUDGET_S,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
