"""Runtime hook: the build leaves out Playwright's 144 MB Node.js; use the system's instead."""

import os
import shutil
import sys

_bundled = os.path.join(getattr(sys, "_MEIPASS", ""), "playwright", "driver", "node")
if not os.path.exists(_bundled) and "PLAYWRIGHT_NODEJS_PATH" not in os.environ:
    _node = shutil.which("node")
    if _node:
        os.environ["PLAYWRIGHT_NODEJS_PATH"] = _node
