"""`make dist`: build the Node as one app folder with PyInstaller (dist/ora/), then archive it.

    python -m installer.build [--trusted-root release/repository/metadata/root.json]
                              [--dist DIR] [--work DIR]

The trusted root is the TUF root metadata of the release workspace (installer.release), by
default installer/update-root.json when it exists; the built app verifies every update
against it. Without one the app builds and runs, but cannot
update itself until it is installed with a root. Nothing is written outside --dist and --work
(default: the gitignored dist/ and build/).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Sequence
from pathlib import Path

from app.update.layout import TRUSTED_ROOT_NAME

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "installer" / "ora.spec"
# The release workspace's public root.json, committed once by the maintainer.
DEFAULT_TRUSTED_ROOT = REPO / "installer" / "update-root.json"


def build(dist: Path, work: Path, trusted_root: Path | None = None, quiet: bool = False) -> Path:
    """Run PyInstaller; the one-dir app is `dist/ora`."""
    env = dict(os.environ)
    env.pop("ORA_TRUSTED_ROOT", None)
    if trusted_root is not None:
        # Shipped under the name the installed app looks for (app/update/layout.py).
        work.mkdir(parents=True, exist_ok=True)
        shipped = work / TRUSTED_ROOT_NAME
        shutil.copyfile(trusted_root, shipped)
        env["ORA_TRUSTED_ROOT"] = str(shipped.resolve())
    cmd = [
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--clean",
        "--log-level",
        "WARN",
        "--distpath",
        str(dist),
        "--workpath",
        str(work),
        str(SPEC),
    ]
    subprocess.run(
        cmd,
        check=True,
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL if quiet else None,
        stderr=subprocess.DEVNULL if quiet else None,
    )
    return dist / "ora"


def folder_size(path: Path) -> int:
    """Bytes on disk of every file under `path` (symlinks not followed)."""
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def archive(app_dir: Path, version: str) -> Path:
    """dist/ORA-<version>-<platform>.tar.gz: what a user downloads on Linux."""
    out = app_dir.parent / f"ORA-{version}-{sys.platform}.tar.gz"
    with tarfile.open(out, "w:gz") as tar:
        tar.add(app_dir, arcname="ora")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Build, print where and how big."""
    p = argparse.ArgumentParser(
        prog="python -m installer.build", description=__doc__.split("\n")[0]
    )
    p.add_argument(
        "--trusted-root",
        type=Path,
        default=DEFAULT_TRUSTED_ROOT if DEFAULT_TRUSTED_ROOT.is_file() else None,
        help="TUF root.json the app trusts for updates (default: installer/update-root.json)",
    )
    p.add_argument("--dist", type=Path, default=REPO / "dist")
    p.add_argument("--work", type=Path, default=REPO / "build" / "pyinstaller")
    p.add_argument("--no-archive", action="store_true", help="skip the .tar.gz")
    args = p.parse_args(argv)
    if args.trusted_root is not None and not args.trusted_root.is_file():
        print(f"build: {args.trusted_root} not found (run installer.release init)", file=sys.stderr)
        return 2
    started = time.monotonic()
    app_dir = build(args.dist, args.work, args.trusted_root)
    from app.version import __version__

    print(
        f"built {app_dir} ({folder_size(app_dir) / 1e6:.0f} MB) in {time.monotonic() - started:.0f} s"
    )
    if not args.no_archive:
        out = archive(app_dir, __version__)
        print(f"archive {out} ({out.stat().st_size / 1e6:.0f} MB)")
    shutil.rmtree(REPO / "build" / "pyinstaller" / "ora", ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
