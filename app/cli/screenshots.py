"""``paydesk screenshots OUTDIR``: render every screen offscreen to PNG files.

The same as ``python -m app.gui.screenshots`` (see that module), reachable from an installed
PayDesk too, where there is no Python to run modules with: the build's checks use it to
prove that the frozen program draws its main window. For developers and checks, not for
bookkeepers.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "screenshots",
        help="render every screen offscreen to PNG files (for developers and checks)",
        description="Render PayDesk's screens offscreen, with sandbox data in a throwaway "
        "profile, to PNG files in OUTDIR.",
    )
    parser.add_argument("outdir", type=Path, nargs="?", help="folder for the PNG files")
    parser.add_argument("--only", metavar="PATTERN",
                        help="render matching screens only, e.g. 'main-window*'")
    parser.add_argument("--list", action="store_true", help="list the screens and exit")
    parser.add_argument("--dark", action="store_true", help="in the dark colour scheme")
    parser.add_argument("--scale", type=float, default=1.0, metavar="FACTOR",
                        help="at this scale, e.g. 2 for 200%%")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from app.gui.screenshots import main  # Qt only when the command runs

    argv = [str(args.outdir)] if args.outdir is not None else []
    if args.only:
        argv += ["--only", args.only]
    if args.list:
        argv.append("--list")
    if args.dark:
        argv.append("--dark")
    if args.scale != 1:
        argv += ["--scale", f"{args.scale:g}"]
    return main(argv)
