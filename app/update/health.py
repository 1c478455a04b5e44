"""The start-up health signal a new version gives its launcher once its core has opened."""

from __future__ import annotations

import os
from pathlib import Path

from app.settings import UpdateSettings
from app.update.layout import InstallRoot
from app.version import __version__


def mark_healthy(health_file: Path | None, version: str = __version__) -> None:
    """Tell the launcher this version started well; a no-op when not started on trial."""
    if health_file is None:
        return
    tmp = health_file.with_name(health_file.name + ".tmp")
    tmp.write_text(version, encoding="utf-8")
    os.replace(tmp, health_file)


def take_notice(updates: UpdateSettings) -> str | None:
    """What the launcher left for the user (a rollback), shown once by a long-running front end."""
    if updates.install_root is None:
        return None
    return InstallRoot(updates.install_root).take_notice()
