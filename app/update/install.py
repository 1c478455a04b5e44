"""`ora update install`: the built app puts itself into an install root the updater manages.

This is what the Linux download's "double-click" does (the .desktop file runs it); the macOS
and Windows installers built in CI put the same layout in place.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import platformdirs

from app.update.errors import NotInstalled
from app.update.layout import TRUSTED_ROOT_NAME, InstallRoot

APP_DIR_NAME = "ORA-app"

DESKTOP_ENTRY = """[Desktop Entry]
Type=Application
Name=ORA
Comment=Your personal AI secretary
Exec="{stub}"
Icon={icon}
Terminal=false
Categories=Utility;
"""


def default_root() -> Path:
    """Where the app is installed for this user (beside, not inside, the profile data)."""
    return Path(platformdirs.user_data_dir(APP_DIR_NAME, appauthor=False))


def install_self(root: Path, version: str, desktop_dir: Path | None = None) -> InstallRoot:
    """Copy this built app into `root` as its stable version and add a desktop shortcut."""
    if not getattr(sys, "frozen", False):
        raise NotInstalled("`ora update install` installs the built app: run it from dist/ora")
    bundle = Path(sys.executable).resolve().parent
    trusted = Path(getattr(sys, "_MEIPASS", bundle)) / TRUSTED_ROOT_NAME
    if not trusted.is_file():
        raise NotInstalled(
            "this build has no trusted update root, so it could never verify an update; "
            "build it with `python -m installer.build --trusted-root ...`"
        )
    target = InstallRoot(root)
    if target.is_installed():
        raise NotInstalled(f"ORA is already installed in {root}; it updates itself from there")
    target.install_first(bundle, version, trusted)
    icon = bundle / "_internal" / "assets" / "icons" / "ora.png"
    if icon.is_file():
        shutil.copyfile(icon, root / "ora.png")
    if sys.platform.startswith("linux") and desktop_dir is not None:
        desktop_dir.mkdir(parents=True, exist_ok=True)
        (desktop_dir / "ora.desktop").write_text(
            DESKTOP_ENTRY.format(stub=target.stub, icon=root / "ora.png"), encoding="utf-8"
        )
    return target
