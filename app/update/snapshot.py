"""A consistent copy of the profile data taken before a new version first opens it.

SQLite files are copied with SQLite's online backup API (a consistent image even if a WAL is
pending); their -wal/-shm/-journal companions are not copied, the backup already holds them.
Everything else is copied as it is. Restoring replaces the data folder's content.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

_SQLITE_MAGIC = b"SQLite format 3\x00"
_SIDE_FILES = ("-wal", "-shm", "-journal")


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(16) == _SQLITE_MAGIC
    except OSError:
        return False


def _backup_sqlite(src: Path, dst: Path) -> None:
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    try:
        target = sqlite3.connect(dst)
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()


def _copy_tree(src: Path, dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for item in sorted(src.iterdir()):
        target = dst / item.name
        if item.is_symlink():
            continue
        if item.is_dir():
            _copy_tree(item, target)
        elif item.name.endswith(_SIDE_FILES) and (
            item.with_name(item.name.rsplit("-", 1)[0]).exists()
        ):
            continue
        elif _is_sqlite(item):
            _backup_sqlite(item, target)
        else:
            shutil.copy2(item, target)


def take(data_dir: Path, snapshot_dir: Path) -> None:
    """Copy `data_dir` into `snapshot_dir` (which must not exist yet)."""
    partial = snapshot_dir.with_name(snapshot_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    if data_dir.is_dir():
        _copy_tree(data_dir, partial / "data")
    else:
        (partial / "absent").touch()
    partial.rename(snapshot_dir)


def restore(snapshot_dir: Path, data_dir: Path) -> None:
    """Put the data back exactly as it was when the snapshot was taken."""
    if data_dir.exists():
        shutil.rmtree(data_dir)
    if (snapshot_dir / "data").is_dir():
        shutil.copytree(snapshot_dir / "data", data_dir, symlinks=True)
