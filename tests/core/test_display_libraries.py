"""``paydesk doctor`` names the Linux libraries the window is missing, and the packages that
install them (Qt's own message names none of them, or the wrong one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.display_libraries import (
    DISPLAY_LIBRARIES,
    describe_missing_display_libraries,
    missing_display_libraries,
    needed_display_libraries,
    xcb_binaries,
)


def _folders(tmp_path: Path, installed: list[str]) -> list[Path]:
    """Two library folders (as /lib and /usr/lib) holding ``installed``."""
    first, second = tmp_path / "lib", tmp_path / "usr-lib"
    first.mkdir()
    second.mkdir()
    for index, soname in enumerate(installed):
        ((first if index % 2 else second) / soname).write_bytes(b"\x7fELF")
    return [first, second]


def _fake_plugin(tmp_path: Path, needs: list[str]) -> Path:
    """A stand-in for Qt's xcb plugin whose string table names ``needs``."""
    plugin = tmp_path / "libqxcb.so"
    plugin.write_bytes(b"\x7fELF\0" + b"".join(name.encode() + b"\0" for name in needs))
    return plugin


def test_every_missing_library_is_named_with_its_package(tmp_path: Path) -> None:
    all_names = [lib.soname for lib in DISPLAY_LIBRARIES]
    installed = [n for n in all_names if n not in ("libxcb-cursor.so.0", "libxcb-icccm.so.4")]
    folders = _folders(tmp_path, installed)
    plugin = _fake_plugin(tmp_path, all_names)

    missing = missing_display_libraries(folders)
    assert [lib.package for lib in missing] == ["libxcb-icccm4", "libxcb-cursor0"]
    text = describe_missing_display_libraries(folders, platform="linux",
                                              qt_binaries=[plugin])
    assert text is not None
    assert "libxcb-icccm.so.4, libxcb-cursor.so.0 are not installed" in text
    assert "sudo apt install libxcb-icccm4 libxcb-cursor0" in text


def test_nothing_is_said_when_everything_is_installed_or_not_on_linux(tmp_path: Path) -> None:
    all_names = [lib.soname for lib in DISPLAY_LIBRARIES]
    plugin = _fake_plugin(tmp_path, all_names)
    folders = _folders(tmp_path, all_names)
    assert describe_missing_display_libraries(folders, platform="linux",
                                              qt_binaries=[plugin]) is None
    empty = [tmp_path / "nothing"]
    for platform in ("win32", "darwin"):
        assert describe_missing_display_libraries(empty, platform=platform) is None


def test_a_library_this_qt_does_not_load_is_not_asked_for(tmp_path: Path) -> None:
    """Recent Qt builds need no xinerama: a desktop without it is not sent to install it."""
    needs = [lib.soname for lib in DISPLAY_LIBRARIES if "xinerama" not in lib.soname]
    plugin = _fake_plugin(tmp_path, needs)
    assert "libxcb-xinerama0" not in [lib.package for lib in needed_display_libraries([plugin])]
    folders = _folders(tmp_path, needs)
    assert describe_missing_display_libraries(folders, platform="linux",
                                              qt_binaries=[plugin]) is None


def test_the_installed_qt_names_the_libraries_of_the_issue() -> None:
    binaries = xcb_binaries()
    if not binaries:
        pytest.skip("this PySide6 has no xcb plugin (not Linux)")
    needed = {lib.package for lib in needed_display_libraries(binaries)}
    assert {"libxcb-icccm4", "libxcb-keysyms1", "libxcb-cursor0", "libxkbcommon-x11-0"} <= needed


def test_the_doctor_prints_the_missing_libraries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app.cli.doctor as doctor
    from app.core import display_libraries

    all_names = [lib.soname for lib in DISPLAY_LIBRARIES]
    folders = _folders(tmp_path, [n for n in all_names if n != "libxcb-keysyms.so.1"])
    plugin = _fake_plugin(tmp_path, all_names)
    real = display_libraries.describe_missing_display_libraries
    monkeypatch.setattr(doctor.sys, "platform", "linux")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setattr(doctor, "describe_missing_display_libraries",
                        lambda: real(folders, platform="linux", qt_binaries=[plugin]))
    [finding] = doctor.check_display(None)  # type: ignore[arg-type]
    assert finding.status is doctor.Status.PROBLEM
    assert finding.title == "Window"
    assert "sudo apt install libxcb-keysyms1" in finding.text

    # Over SSH on a server (no desktop) the commands work: said, but not a problem.
    monkeypatch.delenv("DISPLAY")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    [finding] = doctor.check_display(None)  # type: ignore[arg-type]
    assert finding.status is doctor.Status.OK
    assert "no desktop here" in finding.text and "libxcb-keysyms1" in finding.text
