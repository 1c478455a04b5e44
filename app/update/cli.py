"""`ora update check|apply`: the updater from a terminal, with a progress line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

import platformdirs

from app.settings import Settings
from app.update.errors import UpdateError
from app.update.service import Progress, UpdateService


def _progress(out: TextIO) -> Progress:
    def show(done: int, total: int) -> None:
        pct = 100 * done // total if total else 100
        out.write(f"\rdownloading: {pct:3d}% ({done // 1024} of {total // 1024} KB)")
        if done >= total:
            out.write("\n")
        out.flush()

    return show


def update_command(settings: Settings, action: str, current_version: str, restart: bool) -> int:
    """Run one update action; 0 when done or nothing to do, 1 when refused or failed."""
    service = UpdateService(settings.updates, current_version)
    if not service.enabled:
        print(
            "updates are off: set [updates] url in "
            f"{settings.config_path} (or ORA_UPDATE_URL) to turn them on"
        )
        return 0
    try:
        available = service.check()
        if available is None:
            print(f"ORA {current_version} is up to date")
            return 0
        kind = "patch" if available.patch else "full download"
        print(
            f"update available: {current_version} -> {available.version} "
            f"({available.download_bytes // 1024} KB, {kind})"
        )
        if action == "check":
            return 0
        service.download(_progress(sys.stderr))
        version = service.apply()
        if restart:
            service.restart()
            print(f"installed {version}; ORA is restarting")
        else:
            print(f"installed {version}; it starts the next time ORA starts")
        return 0
    except UpdateError as err:
        print(f"ora: update refused: {err}", file=sys.stderr)
        return 1


def install_command(root: Path | None) -> int:
    """`ora update install`: put this built app where the updater manages it."""
    from app.update.install import default_root, install_self
    from app.version import __version__

    where = root or default_root()
    try:
        installed = install_self(
            where, __version__, Path(platformdirs.user_data_dir("applications", appauthor=False))
        )
    except UpdateError as err:
        print(f"ora: {err}", file=sys.stderr)
        return 2
    print(f"ORA {__version__} installed in {where}; start it with {installed.stub}")
    return 0
