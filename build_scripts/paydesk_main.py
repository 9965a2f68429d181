"""The frozen program's entry point: the same ``paydesk`` command as ``app.__main__``.

PyInstaller starts here (see ``paydesk.spec``); everything else is ordinary PayDesk code.
"""

import sys

from app.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
