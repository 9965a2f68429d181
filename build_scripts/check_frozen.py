"""Check the frozen PayDesk (the one-folder build) as a user's computer would run it.

    python build_scripts/check_frozen.py [--dist dist] [--keep]

Run by ``.ci/run`` after ``build_scripts/build.py``, and by the release workflow on Windows,
macOS and Linux. Each step runs the frozen executable alone — its own Python, libraries and
data files; no virtual environment on the path, a temporary working folder — and fails with
a line saying what broke:

1. contents: the modules and files PayDesk loads by name are inside (sub-commands, screens,
   keyring backends of this system, Qt plugins, babel's locale data, the alembic revisions,
   the CA bundle, resources, the licences file);
2. ``--version`` prints this source tree's version;
3. ``--smoke`` on a fresh profile: database created and migrated, main window shown; and
   ``--demo --smoke``, which starts the sandbox servers from inside the program;
4. ``sandbox autotask --port 0`` in the background (its ``url:`` line gives the address);
5. ``setup`` against it (the secret through ``PAYDESK_AUTOTASK_SECRET``), ``sync --json``
   and ``doctor``: the migrations, the HTTP stack and the CA bundle work frozen;
6. ``screenshots --only main-window``: the main window rendered offscreen to a PNG.

The keychain: CI has no system keychain, and ``paydesk setup`` refuses to store a secret
without one. For steps 5 only, the frozen program's keyring is pointed (with a
``keyringrc.cfg`` in a temporary config folder) at ``check_keyring/paydesk_check_keyring.py``,
a JSON file in the check's temporary folder. That backend is never shipped.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import __version__  # noqa: E402

CHECK_KEYRING = ROOT / "build_scripts" / "check_keyring"
#: A small Autotask sandbox: enough to prove the sync, quick on two cores.
SANDBOX_SIZE = ["--companies", "25", "--contacts", "60", "--contracts", "20", "--tickets", "80",
                "--invoices", "150", "--years", "1"]
TIMEOUT = 300


class CheckFailed(Exception):
    pass


def say(text: str) -> None:
    print(f"[check-frozen] {text}", flush=True)


def executables(dist: Path) -> tuple[Path, Path]:
    """(the program people start, the command-line executable) in the build."""
    if sys.platform == "win32":
        folder = dist / "PayDesk"
        return folder / "PayDesk.exe", folder / "paydesk-cli.exe"
    if sys.platform == "darwin":
        program = dist / "PayDesk.app" / "Contents" / "MacOS" / "PayDesk"
        return program, program
    program = dist / "paydesk" / "paydesk"
    return program, program


def internal_folder(program: Path) -> Path:
    if sys.platform == "darwin":
        # sys._MEIPASS of an app bundle: PyInstaller keeps binaries there and links the data
        # files in from Contents/Resources, so the tree is complete in this folder.
        return program.parent.parent / "Frameworks"
    return program.parent / "_internal"


class Runner:
    """Runs the frozen executable with a clean environment in a temporary folder."""

    def __init__(self, program: Path, cli: Path, work: Path) -> None:
        self.program = program
        self.cli = cli
        self.work = work
        self.env = {
            key: value for key, value in os.environ.items()
            if not key.startswith(("PYTHON", "VIRTUAL_ENV", "PAYDESK_", "QT_"))
        }
        # No virtual environment on the path: the frozen program must bring everything.
        venv_bin = str(Path(sys.executable).parent)
        self.env["PATH"] = os.pathsep.join(
            p for p in self.env.get("PATH", "").split(os.pathsep) if p != venv_bin)
        self.env["QT_QPA_PLATFORM"] = "offscreen"
        self.env["PAYDESK_RELEASE_FEED"] = "off"

    def run(self, *args: str, program: Path | None = None, env: dict[str, str] | None = None,
            expect: int = 0) -> subprocess.CompletedProcess[str]:
        command = [str(program or self.cli), *args]
        say("$ " + " ".join(Path(command[0]).name if i == 0 else a
                            for i, a in enumerate(command)))
        started = time.monotonic()
        result = subprocess.run(command, cwd=self.work, env=env or self.env, text=True,
                                capture_output=True, timeout=TIMEOUT, check=False)
        took = time.monotonic() - started
        if result.returncode != expect:
            raise CheckFailed(
                f"{' '.join(args)} exited with status {result.returncode} (expected {expect}) "
                f"after {took:.1f} s\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}")
        say(f"  exit {result.returncode} in {took:.1f} s")
        return result


# --- the steps --------------------------------------------------------------------------------


def check_contents(program: Path, cli: Path) -> None:
    """The modules and files PayDesk finds by name are in the build."""
    from PyInstaller.archive.readers import CArchiveReader

    for path in {program, cli}:
        if not path.is_file():
            raise CheckFailed(f"The executable {path} is missing")
    archive = CArchiveReader(str(cli))
    pyz_name = next(name for name in archive.toc if name.endswith(".pyz"))
    modules = set(archive.open_embedded_archive(pyz_name).toc)

    from app.cli import COMMANDS
    from app.cli.sandbox import SANDBOXES
    from app.gui.main_window import AREAS, SYNC_STATUS_FACTORY, WIZARD_CLASS
    from app.gui.screenshots import SCREEN_MODULES

    wanted = set(COMMANDS) | {module for module, _help in SANDBOXES.values()}
    wanted |= set(SCREEN_MODULES)
    wanted |= {spec.factory.partition(":")[0] for spec in AREAS if spec.factory}
    wanted |= {path.partition(":")[0] for path in (SYNC_STATUS_FACTORY, WIZARD_CLASS) if path}
    wanted |= {"app.sandbox.demo", "keyring.backends.chainer", "certifi", "babel.numbers",
               "alembic.runtime.migration", "sqlalchemy.dialects.sqlite", "psycopg"}
    wanted |= {
        "win32": {"keyring.backends.Windows"},
        "darwin": {"keyring.backends.macOS"},
    }.get(sys.platform, {"keyring.backends.SecretService", "secretstorage", "jeepney"})
    missing = sorted(wanted - modules)
    if missing:
        raise CheckFailed("Modules missing from the build: " + ", ".join(missing))
    say(f"  {len(wanted)} modules PayDesk imports by name are inside ({len(modules)} in all)")

    internal = internal_folder(program)
    suffix = {"win32": ".dll", "darwin": ".dylib"}.get(sys.platform, ".so")
    qt_plugins = internal / "PySide6" / "Qt" / "plugins"
    if sys.platform == "win32":
        qt_plugins = internal / "PySide6" / "plugins"
    platform_plugin = {"win32": "qwindows", "darwin": "qcocoa"}.get(sys.platform, "qxcb")
    files = {
        "CA bundle": [internal / "certifi" / "cacert.pem"],
        "babel locale data": [internal / "babel" / "locale-data" / "en_US.dat",
                              internal / "babel" / "locale-data" / "de_DE.dat",
                              internal / "babel" / "global.dat"],
        "alembic revisions": [internal / "app" / "core" / "storage" / "migrations" / "env.py"],
        "resources": [internal / "resources" / "style.qss",
                      internal / "resources" / "icons" / "paydesk-256.png"],
        "licences": [internal / "THIRD-PARTY-LICENCES.json"],
    }
    revisions = list((internal / "app" / "core" / "storage" / "migrations" / "versions")
                     .glob("*.py"))
    sources = list((ROOT / "app" / "core" / "storage" / "migrations" / "versions").glob("*.py"))
    if len(revisions) != len(sources):
        raise CheckFailed(f"The build has {len(revisions)} alembic revisions, the source tree "
                          f"{len(sources)}")
    plugin_names = {
        "Qt platform plugins": [platform_plugin, "qoffscreen"],
        "Qt image formats": ["qsvg", "qico"],
        "Qt print support": ["cupsprintersupport"] if sys.platform.startswith("linux") else [],
        "Qt SVG icon engine": ["qsvgicon"],
    }
    present = {p.name for p in qt_plugins.rglob(f"*{suffix}")} if qt_plugins.is_dir() else set()
    for what, names in plugin_names.items():
        for name in names:
            if not any(name in file for file in present):
                raise CheckFailed(f"{what}: {name} is missing from {qt_plugins}")
    for what, paths in files.items():
        for path in paths:
            if not path.is_file():
                raise CheckFailed(f"{what}: {path} is missing")
    licences = json.loads((internal / "THIRD-PARTY-LICENCES.json").read_text(encoding="utf-8"))
    listed = {item["name"].lower() for item in licences}
    for needed in ("pyside6_essentials", "sqlalchemy", "requests", "keyring", "python"):
        if needed not in listed:
            raise CheckFailed(f"The licences file does not list {needed}")
    say(f"  data files, Qt plugins and the licences of {len(licences)} libraries are inside")


def check_version(runner: Runner) -> None:
    result = runner.run("--version")
    if result.stdout.strip() != f"PayDesk {__version__}":
        raise CheckFailed(f"--version printed {result.stdout.strip()!r}, expected "
                          f"'PayDesk {__version__}'")


def check_demo(runner: Runner) -> None:
    """``--demo``: the sandbox servers start from inside the frozen program."""
    result = runner.run("--demo", "--smoke", program=runner.program)
    if runner.program == runner.cli and "paydesk-demo-" not in result.stdout:
        raise CheckFailed(f"--demo did not start on a throwaway profile: {result.stdout!r}")


def check_smoke(runner: Runner) -> None:
    profile = runner.work / "smoke-profile"
    result = runner.run("--smoke", "--profile", str(profile), program=runner.program)
    if not (profile / "paydesk.sqlite3").is_file():
        raise CheckFailed(f"--smoke did not create the database in {profile}")
    if runner.program == runner.cli and "started" not in result.stdout:
        raise CheckFailed(f"--smoke did not report a start: {result.stdout!r}")


class Sandbox:
    """``paydesk sandbox autotask --port 0`` from the frozen program, in the background."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.process: subprocess.Popen[str] | None = None
        self.info: dict[str, str] = {}

    def __enter__(self) -> Sandbox:
        command = [str(self.runner.cli), "sandbox", "autotask", "--port", "0", "--seed", "7",
                   *SANDBOX_SIZE]
        say("$ " + " ".join([self.runner.cli.name, *command[1:]]))
        self.process = subprocess.Popen(command, cwd=self.runner.work, env=self.runner.env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines: list[str] = []

        def read() -> None:
            assert self.process is not None and self.process.stdout is not None
            for line in self.process.stdout:
                lines.append(line)
                if line.startswith("admin:"):
                    break

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(120)
        for line in lines:
            key, _, value = line.partition(":")
            self.info[key.strip()] = value.strip()
        if "url" not in self.info or "secret" not in self.info:
            self.__exit__()
            stderr = self.process.stderr.read() if self.process.stderr else ""
            raise CheckFailed(f"The sandbox did not print its address: {lines!r} {stderr}")
        say(f"  sandbox at {self.info['url']}")
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def keyring_env(runner: Runner) -> dict[str, str]:
    """The frozen program's keyring pointed at the check's file backend (see the docstring)."""
    config = runner.work / "config"
    keyring_folder = config / "python_keyring"
    keyring_folder.mkdir(parents=True, exist_ok=True)
    (keyring_folder / "keyringrc.cfg").write_text(
        "[backend]\n"
        "default-keyring = paydesk_check_keyring.CheckKeyring\n"
        f"keyring-path = {CHECK_KEYRING}\n",
        encoding="utf-8",
    )
    env = dict(runner.env)
    env["XDG_CONFIG_HOME"] = str(config)  # Linux and macOS: keyring's config folder
    env["LOCALAPPDATA"] = str(config)  # Windows: %LOCALAPPDATA%\Python Keyring
    env["PAYDESK_CHECK_KEYRING_FILE"] = str(runner.work / "check-keyring.json")
    if sys.platform == "win32":
        windows = config / "Python Keyring"
        windows.mkdir(parents=True, exist_ok=True)
        shutil.copy(keyring_folder / "keyringrc.cfg", windows / "keyringrc.cfg")
    return env


def check_setup_sync_doctor(runner: Runner) -> None:
    profile = runner.work / "cli-profile"
    with Sandbox(runner) as sandbox:
        env = keyring_env(runner)
        env["PAYDESK_AUTOTASK_SECRET"] = sandbox.info["secret"]
        result = runner.run(
            "--profile", str(profile), "setup", "--currency", "USD",
            "--autotask-username", sandbox.info["username"],
            "--autotask-integration-code", sandbox.info["integration code"],
            "--autotask-discovery-url", sandbox.info["url"], env=env)
        if "Connected to Autotask" not in result.stdout:
            raise CheckFailed(f"setup did not connect: {result.stdout}")
        env.pop("PAYDESK_AUTOTASK_SECRET")  # later commands use the stored secret

        result = runner.run("--profile", str(profile), "sync", "--json", env=env)
        try:
            summary = json.loads(result.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError) as exc:
            raise CheckFailed(f"sync --json printed no JSON: {result.stdout!r}") from exc
        if summary.get("status") != "succeeded":
            raise CheckFailed(f"sync did not succeed: {summary}")
        fetched = {name: entity.get("fetched") for name, entity in summary["entities"].items()}
        if not any(fetched.values()):
            raise CheckFailed(f"sync fetched nothing: {summary}")
        say(f"  synced: {fetched}")

        result = runner.run("--profile", str(profile), "doctor", env=env)
        say("  doctor: " + " | ".join(line.strip() for line in result.stdout.splitlines()
                                       if line.strip())[:400])


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise CheckFailed(f"{path} is not a PNG file")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def check_screenshot(runner: Runner) -> None:
    folder = runner.work / "screens"
    runner.run("screenshots", str(folder), "--only", "main-window")
    picture = folder / "main-window.png"
    if not picture.is_file():
        raise CheckFailed(f"The main window was not rendered to {picture}")
    width, height = png_size(picture)
    if (width, height) != (1280, 800) or picture.stat().st_size < 20_000:
        raise CheckFailed(f"{picture} looks wrong: {width}×{height}, "
                          f"{picture.stat().st_size} bytes")
    say(f"  main window rendered offscreen: {picture.name} {width}×{height}, "
        f"{picture.stat().st_size:,} bytes")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python build_scripts/check_frozen.py",
                                     description="Check the frozen PayDesk build.")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist",
                        help="the folder build.py wrote to (default: dist/)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary folder (profiles, screenshots) for a look")
    args = parser.parse_args(argv)
    program, cli = executables(args.dist.resolve())
    work = Path(tempfile.mkdtemp(prefix="paydesk-frozen-check-"))
    runner = Runner(program, cli, work)
    steps: list[tuple[str, Callable[[], None]]] = [
        ("contents", lambda: check_contents(program, cli)),
        ("--version", lambda: check_version(runner)),
        ("--smoke on a fresh profile", lambda: check_smoke(runner)),
        ("--demo --smoke (the sandboxes)", lambda: check_demo(runner)),
        ("sandbox + setup + sync + doctor", lambda: check_setup_sync_doctor(runner)),
        ("main window rendered offscreen", lambda: check_screenshot(runner)),
    ]
    failed: list[str] = []
    started = time.monotonic()
    try:
        for name, step in steps:
            say(f"--- {name}")
            try:
                step()
            except (CheckFailed, subprocess.TimeoutExpired, OSError) as exc:
                say(f"FAILED: {name}: {exc}")
                failed.append(name)
    finally:
        if args.keep:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    took = time.monotonic() - started
    if failed:
        say(f"{len(failed)} of {len(steps)} checks failed in {took:.0f} s: {', '.join(failed)}")
        return 1
    say(f"all {len(steps)} checks passed in {took:.0f} s ({re.sub(r'^.*/', '', str(cli))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
