"""The frozen program's entry point: the same ``paydesk`` command as ``app.__main__``.

PyInstaller starts here (see ``paydesk.spec``); everything else is ordinary PayDesk code.
"""

import os
import sys

# A windowed program started from the Start menu or the Dock has no console: Python then sets
# sys.stdout and sys.stderr to None, and PayDesk's messages (which are also logged, and shown
# in dialogs) would raise instead of going nowhere. Started from a terminal or with its
# output redirected, the streams are real and stay as they are.
for _name in ("stdout", "stderr"):
    if getattr(sys, _name) is None:
        setattr(sys, _name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115

from app.__main__ import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
