"""The system libraries the PayDesk window needs on a Linux desktop (X11 and XWayland).

Qt draws on Linux desktops through its ``xcb`` platform plugin, which loads about ten
libraries that many distributions do not install by default. When one is missing the window
does not start, and Qt's message ("could not load the Qt platform plugin xcb … even though it
was found") names none of them, or a wrong one. ``paydesk doctor`` names what is missing and
the packages to install instead (:func:`describe_missing_display_libraries`).

Nothing here imports Qt: the plugin is found through PySide6's installed files, and the
libraries are looked up with the system's loader (``dlopen`` through ctypes), or — for tests
and for looking at another machine's folders — in a given list of folders.
"""

from __future__ import annotations

import ctypes
import importlib.util
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DISPLAY_LIBRARIES",
    "SystemLibrary",
    "describe_missing_display_libraries",
    "missing_display_libraries",
    "needed_display_libraries",
    "xcb_binaries",
    "xcb_plugin_path",
]


@dataclass(frozen=True, slots=True)
class SystemLibrary:
    #: The file the loader looks for, e.g. ``libxcb-cursor.so.0``.
    soname: str
    #: The Debian and Ubuntu package that installs it.
    package: str


#: What Qt 6's xcb plugin loads beyond the libraries every X11 desktop has.
DISPLAY_LIBRARIES: tuple[SystemLibrary, ...] = (
    SystemLibrary("libxcb-icccm.so.4", "libxcb-icccm4"),
    SystemLibrary("libxcb-image.so.0", "libxcb-image0"),
    SystemLibrary("libxcb-keysyms.so.1", "libxcb-keysyms1"),
    SystemLibrary("libxcb-randr.so.0", "libxcb-randr0"),
    SystemLibrary("libxcb-render-util.so.0", "libxcb-render-util0"),
    SystemLibrary("libxcb-shape.so.0", "libxcb-shape0"),
    SystemLibrary("libxcb-xinerama.so.0", "libxcb-xinerama0"),
    SystemLibrary("libxcb-xkb.so.1", "libxcb-xkb1"),
    SystemLibrary("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
    SystemLibrary("libxcb-cursor.so.0", "libxcb-cursor0"),
)


def xcb_plugin_path() -> Path | None:
    """Qt's xcb platform plugin inside the installed PySide6 (None when it is not there)."""
    roots = []
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:  # the installed program: PySide6 is unpacked beside it
        roots.append(Path(frozen) / "PySide6")
    spec = importlib.util.find_spec("PySide6")
    if spec is not None and spec.origin is not None:
        roots.append(Path(spec.origin).parent)
    for root in roots:
        plugin = root / "Qt" / "plugins" / "platforms" / "libqxcb.so"
        if plugin.is_file():
            return plugin
    return None


def xcb_binaries() -> list[Path]:
    """The xcb plugin and the Qt library it is built on (what names the libraries needed)."""
    plugin = xcb_plugin_path()
    if plugin is None:
        return []
    qpa = plugin.parent.parent.parent / "lib" / "libQt6XcbQpa.so.6"
    return [plugin] + ([qpa] if qpa.is_file() else [])


def needed_display_libraries(binaries: Sequence[Path]) -> list[SystemLibrary]:
    """The libraries of :data:`DISPLAY_LIBRARIES` these Qt binaries ask the loader for
    (their names stand in the binaries' dynamic string tables); all of them when there are
    no binaries to read. A Qt build that no longer needs one (recent ones need no
    xinerama) is then not sent to install it."""
    if not binaries:
        return list(DISPLAY_LIBRARIES)
    contents = [binary.read_bytes() for binary in binaries]
    return [lib for lib in DISPLAY_LIBRARIES
            if any(lib.soname.encode() + b"\0" in content for content in contents)]


def _loadable(name: str) -> str | None:
    """None when the system's loader finds and loads ``name``; else its reason."""
    try:
        ctypes.CDLL(name)
    except OSError as exc:
        return str(exc)
    return None


def missing_display_libraries(
    library_dirs: Sequence[Path] | None = None,
    wanted: Sequence[SystemLibrary] = DISPLAY_LIBRARIES,
) -> list[SystemLibrary]:
    """The libraries of ``wanted`` that cannot be found.

    Without ``library_dirs`` each is loaded with the system's loader (as Qt would load it);
    with them, each is looked for as a file in those folders.
    """
    if library_dirs is None:
        return [lib for lib in wanted if _loadable(lib.soname) is not None]
    return [
        lib for lib in wanted
        if not any((Path(folder) / lib.soname).exists() for folder in library_dirs)
    ]


def describe_missing_display_libraries(
    library_dirs: Sequence[Path] | None = None,
    *,
    platform: str | None = None,
    qt_binaries: Sequence[Path] | None = None,
) -> str | None:
    """What keeps the window from opening on this Linux desktop and how to fix it, or None
    when nothing does (and always None on Windows and macOS, which need none of this).

    ``qt_binaries`` are the xcb plugin and its Qt library (by default PySide6's own): they
    say which libraries are needed, and the plugin is loaded when every known one is there
    (a library this list does not know may still be missing).
    """
    if not (platform or sys.platform).startswith("linux"):
        return None
    binaries = xcb_binaries() if qt_binaries is None else list(qt_binaries)
    missing = missing_display_libraries(library_dirs, needed_display_libraries(binaries))
    if missing:
        names = ", ".join(lib.soname for lib in missing)
        packages = " ".join(lib.package for lib in missing)
        return (
            f"The PayDesk window cannot open on this Linux desktop: {names} "
            f"{'is' if len(missing) == 1 else 'are'} not installed. Install "
            f"{'it' if len(missing) == 1 else 'them'} with `sudo apt install {packages}` "
            "(Debian and Ubuntu names; other distributions call them xcb-util-wm, "
            "xcb-util-image, xcb-util-keysyms, xcb-util-renderutil, xcb-util-cursor and "
            "libxkbcommon-x11). Qt's own message may name another library."
        )
    if library_dirs is None and binaries:
        reason = _loadable(str(binaries[0]))
        if reason is not None:
            return (
                "The PayDesk window cannot open on this Linux desktop: Qt's display "
                f"plugin does not load ({reason}). Install the package that provides "
                "the library it names."
            )
    return None
