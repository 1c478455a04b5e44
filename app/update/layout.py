"""The installed app on disk: versions side by side, which one is trusted, which is on trial.

    <root>/
      ora | ora.cmd          the stub the desktop shortcut runs; rewritten on every switch,
                             it starts the *stable* version's program as the launcher
      install.json           {"stable": "0.1.0", "previous": null, "trial": null | {...}}
      versions/<version>/    one PyInstaller one-dir bundle per version (ora, _internal/)
      update/metadata/       TUF metadata this PC trusts (root.json shipped with the app)
      update/targets/        downloaded release archives (kept: the base for binary patches)
      snapshots/<from>-<to>/ the profile data as it was before <to> first opened it
      reports/               what the launcher did (rollback reports as JSON)

A trial version becomes stable only after it signals a healthy start; until then the stable
version's own code supervises it, so a broken new version can never disable its own rollback.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from app.update.errors import InstallFailed

EXE_NAME = "ora.exe" if sys.platform == "win32" else "ora"
STUB_NAME = "ora.cmd" if sys.platform == "win32" else "ora"
TRUSTED_ROOT_NAME = "update-root.json"


@dataclass(frozen=True, kw_only=True)
class Trial:
    """A version installed by an update and not yet proven to start."""

    version: str
    previous: str
    snapshot: str = ""  # relative to the root; "" until taken


@dataclass(frozen=True, kw_only=True)
class InstallState:
    """What install.json records."""

    stable: str
    previous: str | None = None
    trial: Trial | None = None
    # Versions that failed their start-up check here; the updater does not offer them again.
    failed: tuple[str, ...] = ()


class InstallRoot:
    """One installation folder and its state file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    # -- paths ---------------------------------------------------------------------------------
    @property
    def state_file(self) -> Path:
        return self.path / "install.json"

    @property
    def stub(self) -> Path:
        return self.path / STUB_NAME

    @property
    def metadata_dir(self) -> Path:
        return self.path / "update" / "metadata"

    @property
    def targets_dir(self) -> Path:
        return self.path / "update" / "targets"

    @property
    def staging_dir(self) -> Path:
        return self.path / "update" / "staging"

    @property
    def reports_dir(self) -> Path:
        return self.path / "reports"

    def version_dir(self, version: str) -> Path:
        return self.path / "versions" / version

    def executable(self, version: str) -> Path:
        return self.version_dir(version) / EXE_NAME

    @property
    def health_file(self) -> Path:
        return self.path / "update" / "trial-healthy"

    @property
    def notice_file(self) -> Path:
        """A message for the user that the next start shows once (e.g. after a rollback)."""
        return self.reports_dir / "notice.txt"

    def take_notice(self) -> str | None:
        """The pending message for the user, removed once read."""
        try:
            text = self.notice_file.read_text(encoding="utf-8")
        except OSError:
            return None
        self.notice_file.unlink(missing_ok=True)
        return text.strip() or None

    # -- state ---------------------------------------------------------------------------------
    def is_installed(self) -> bool:
        return self.state_file.is_file()

    def read(self) -> InstallState:
        try:
            raw: dict[str, Any] = json.loads(self.state_file.read_text(encoding="utf-8"))
            trial = raw.get("trial")
            return InstallState(
                stable=str(raw["stable"]),
                previous=raw.get("previous"),
                trial=Trial(**trial) if trial else None,
                failed=tuple(str(v) for v in raw.get("failed", [])),
            )
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise InstallFailed(
                f"the installation at {self.path} is damaged ({self.state_file}: {err}); "
                "reinstall ORA (your data is kept)"
            ) from None

    def write(self, state: InstallState) -> None:
        """Replace install.json and the stub atomically: a crash leaves the old or the new."""
        doc = {
            "stable": state.stable,
            "previous": state.previous,
            "trial": asdict(state.trial) if state.trial else None,
            "failed": list(state.failed),
        }
        _atomic_write(self.state_file, json.dumps(doc, indent=2) + "\n")
        self._write_stub(state.stable)

    def _write_stub(self, stable: str) -> None:
        # The stub names the stable version's program directly, so starting ORA needs no
        # parsing in a shell script; the program reads install.json itself.
        if sys.platform == "win32":
            text = (
                "@echo off\r\n"
                'set "ORA_LAUNCHER_ROOT=%~dp0."\r\n'
                f'"%~dp0versions\\{stable}\\{EXE_NAME}" %*\r\n'
            )
        else:
            text = (
                "#!/bin/sh\n"
                "# Starts ORA; rewritten by ORA's updater when the stable version changes.\n"
                'root="$(cd "$(dirname "$0")" && pwd)"\n'
                f'ORA_LAUNCHER_ROOT="$root" exec "$root/versions/{stable}/{EXE_NAME}" "$@"\n'
            )
        _atomic_write(self.stub, text)
        mode = self.stub.stat().st_mode
        self.stub.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)

    # -- changes -------------------------------------------------------------------------------
    def install_first(self, bundle_dir: Path, version: str, trusted_root: Path) -> None:
        """A fresh installation from an unpacked bundle (what the installer does)."""
        self.path.mkdir(parents=True, exist_ok=True)
        self._put_version(bundle_dir, version, move=False)
        self.metadata_dir.mkdir(parents=True, exist_ok=True)
        self.targets_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(trusted_root, self.metadata_dir / "root.json")
        self.write(InstallState(stable=version))

    def add_trial(self, unpacked_dir: Path, version: str) -> None:
        """Put a verified, unpacked release beside the others and mark it for trial."""
        state = self.read()
        self._put_version(unpacked_dir, version, move=True)
        self.health_file.unlink(missing_ok=True)
        self.write(
            InstallState(
                stable=state.stable,
                previous=state.previous,
                trial=Trial(version=version, previous=state.stable),
                failed=state.failed,
            )
        )

    def _put_version(self, src: Path, version: str, *, move: bool) -> None:
        dst = self.version_dir(version)
        if not (src / EXE_NAME).is_file():
            raise InstallFailed(f"the release {version} has no {EXE_NAME}; it was not installed")
        partial = dst.with_name(dst.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        dst.parent.mkdir(parents=True, exist_ok=True)
        if move:
            shutil.move(str(src), str(partial))
        else:
            shutil.copytree(src, partial, symlinks=True)
        exe = partial / EXE_NAME
        exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
        if dst.exists():
            # Only a version that is neither stable nor previous can be replaced.
            state = self.read() if self.is_installed() else None
            if state and version in (state.stable, state.previous):
                shutil.rmtree(partial)
                raise InstallFailed(f"version {version} is already installed")
            shutil.rmtree(dst)
        partial.rename(dst)

    def prune(self) -> None:
        """Remove versions other than the stable, the previous and one on trial."""
        state = self.read()
        keep = {state.stable, state.previous, state.trial.version if state.trial else None}
        versions = self.path / "versions"
        if versions.is_dir():
            for entry in versions.iterdir():
                if entry.name not in keep:
                    shutil.rmtree(entry, ignore_errors=True)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
