"""The profile is private on disk: folder 0700, its files (database, logs, secrets) 0600.

Checked at every start, before anything is opened: group or other bits are taken away (and
said in the log); a folder or file owned by another account, or one whose mode cannot be
changed, stops ORA with a message that says what to do. The process umask is 077, so what
ORA creates later (the database's -wal file, new logs) is private from the start. Only the
profile's own folder, `logs/`, and the files directly in them are checked: the browser profile
below manages its own modes.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from app.errors import OraError

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


class ProfileNotPrivate(OraError):
    """The profile folder could not be made private to this account."""


def make_private(state_dir: Path) -> list[Path]:
    """Create or tighten the profile folder; return what had to be fixed."""
    if sys.platform == "win32":
        return []  # NTFS ACLs: the per-user app data folder is already private
    os.umask(0o077)
    state_dir.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    fixed: list[Path] = []
    logs = state_dir / "logs"
    logs.mkdir(exist_ok=True, mode=PRIVATE_DIR)
    for folder in (state_dir, logs):
        _tighten(folder, PRIVATE_DIR, fixed)
        for entry in folder.iterdir():
            if entry.is_symlink():
                continue  # never follow a link to chmod something elsewhere
            if entry.is_file():
                _tighten(entry, PRIVATE_FILE, fixed)
    return fixed


def describe_fixed(fixed: list[Path]) -> str:
    """The log line for what make_private() tightened."""
    return "made private (other accounts on this PC could read them): " + ", ".join(map(str, fixed))


def _tighten(path: Path, mode: int, fixed: list[Path]) -> None:
    info = path.lstat()
    if info.st_uid != os.geteuid():
        raise ProfileNotPrivate(
            f"{path} belongs to another account (uid {info.st_uid}), so ORA cannot keep your "
            "conversations private there. Move it away, or set ORA_HOME to a folder of your own."
        )
    if stat.S_IMODE(info.st_mode) & 0o077 == 0:
        return
    try:
        path.chmod(stat.S_IMODE(info.st_mode) & ~0o077 | (mode & 0o700))
    except OSError as err:
        raise ProfileNotPrivate(
            f"{path} can be read by other accounts on this PC and ORA could not change that "
            f"({err.strerror}). Run: chmod {mode:o} '{path}', then start ORA again."
        ) from None
    fixed.append(path)
