"""``app.core`` and ``app.sandbox`` import without Qt, so the core runs (and is tested)
without a display, and the sandbox servers run anywhere. Every module is found with
``pkgutil.walk_packages``, so new modules are covered without touching this test."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

_PROBE = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys, traceback

    # Modules that are scripts, not libraries: alembic's environment runs migrations when
    # imported, and a package's __main__ starts a server.
    def skipped(name):
        return name.startswith("app.core.storage.migrations.") or name.endswith(".__main__")

    imported, failed = [], {}
    for package_name in ("app.core", "app.sandbox"):
        package = importlib.import_module(package_name)
        imported.append(package_name)
        for info in pkgutil.walk_packages(package.__path__, package_name + "."):
            if skipped(info.name):
                continue
            try:
                importlib.import_module(info.name)
                imported.append(info.name)
            except Exception:
                failed[info.name] = traceback.format_exc(limit=3)
    qt = sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "shiboken6"))
    print(json.dumps({"imported": imported, "failed": failed, "qt": qt}))
    """
)


def test_core_and_sandbox_import_without_pyside6() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert not report["failed"], "modules that do not import:\n" + "\n".join(
        f"{name}:\n{error}" for name, error in report["failed"].items()
    )
    assert report["qt"] == [], f"Qt was loaded by app.core/app.sandbox: {report['qt']}"
    # The probe really walked the packages (not just the two top-level ones).
    assert "app.core.money" in report["imported"]
    assert "app.core.storage.engine" in report["imported"]
    assert any(name.startswith("app.sandbox.") for name in report["imported"])
