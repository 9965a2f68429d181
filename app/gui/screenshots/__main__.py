"""``python -m app.gui.screenshots OUTDIR``: render every screen to PNG (see the package)."""

from __future__ import annotations

import sys

from app.gui.screenshots import main

if __name__ == "__main__":
    sys.exit(main())
