"""The update client the tray and `ora update` use: check, download, apply, restart.

It is a thin layer over tufup's Client (python-tuf underneath), which verifies everything:
signatures against the trusted root shipped with the app, metadata versions (rollback),
expiry (freeze), and each download's length and hash. This module adds what a user needs:
no traffic at all when updates are off, one clear message per refusal, and installation
beside the running version (see layout.py) instead of over it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.settings import UpdateSettings
from app.update.errors import (
    UNTOUCHED,
    BadSignature,
    EndlessData,
    FreezeAttack,
    InstallFailed,
    NotInstalled,
    RollbackAttack,
    TamperedTarget,
    UpdateError,
    UpdateRefused,
    UpdatesDisabled,
    UpdateServerUnreachable,
)
from app.update.layout import InstallRoot

_LOGGER = logging.getLogger(__name__)

APP_NAME = "ora"
# tufup's pre-release filter: which PEP 440 pre-releases each channel accepts.
_CHANNEL_PRE: dict[str, str | None] = {"stable": None, "rc": "rc", "beta": "b", "alpha": "a"}

Progress = Callable[[int, int], None]


@dataclass(frozen=True, kw_only=True)
class Available:
    """A newer release the update server offers, verified by its signed metadata."""

    version: str
    download_bytes: int
    patch: bool


class UpdateService:
    """One check-download-apply cycle at a time; all methods block (run them off the UI)."""

    def __init__(self, settings: UpdateSettings, current_version: str) -> None:
        self._settings = settings
        self._current = current_version
        self._client: Any = None
        self._available: Available | None = None
        self._staged: Path | None = None

    @property
    def enabled(self) -> bool:
        """False means no update traffic at all."""
        return self._settings.enabled and bool(self._settings.url)

    def _root(self) -> InstallRoot:
        if self._settings.install_root is None:
            raise NotInstalled(
                "this copy of ORA runs from source, not from the installed app, so it does not "
                "update itself; use git (or install ORA with its installer)"
            )
        return InstallRoot(self._settings.install_root)

    def check(self) -> Available | None:
        """Ask the update server for a newer release; None when there is none (or updates are off)."""
        if not self.enabled:
            return None
        root = self._root()
        from app.update.tuf_client import SafeUnpackClient as Client

        base = self._settings.url.rstrip("/")
        root.targets_dir.mkdir(parents=True, exist_ok=True)
        with _refusals():
            client = Client(
                app_name=APP_NAME,
                app_install_dir=root.path,
                current_version=self._current,
                metadata_dir=root.metadata_dir,
                metadata_base_url=f"{base}/metadata/",
                target_dir=root.targets_dir,
                target_base_url=f"{base}/targets/",
            )
            client.refresh()
            # tufup's check_for_updates() refreshes again and turns signature and download
            # errors into "no update"; the refresh above already verified (or refused) all.
            client.refresh = lambda: None
            meta = client.check_for_updates(pre=_CHANNEL_PRE[self._settings.channel])
        if meta is None:
            self._client = self._available = None
            return None
        version = str(meta.version)
        if version in root.read().failed:
            _LOGGER.warning("update %s failed its start-up check here before; skipped", version)
            return None
        self._client = client
        targets = client.new_targets
        self._available = Available(
            version=version,
            download_bytes=sum(int(t.length) for t in targets.values()),
            patch=any(m.is_patch for m in targets),
        )
        return self._available

    def download(self, progress: Progress | None = None) -> Path:
        """Download, verify and unpack the release found by check(); the running version is untouched."""
        if not self.enabled:
            raise UpdatesDisabled("updates are turned off in the [updates] settings")
        if self._client is None or self._available is None:
            raise UpdateError("no update to download: check for updates first")
        root = self._root()
        version = self._available.version
        extract = root.staging_dir / f"{version}.extract"
        ready = root.staging_dir / version
        for stale in (extract, ready):
            shutil.rmtree(stale, ignore_errors=True)
        extract.mkdir(parents=True)
        self._client.extract_dir = extract
        installed: list[Path] = []

        def stage(src_dir: Path, dst_dir: Path, **_kw: object) -> None:
            shutil.move(str(src_dir), str(ready))
            installed.append(ready)

        def hook(bytes_downloaded: int, bytes_expected: int) -> None:
            if progress is not None:
                progress(bytes_downloaded, bytes_expected)

        try:
            with _refusals():
                self._client.download_and_apply_update(
                    skip_confirmation=True, install=stage, progress_hook=hook
                )
        except UpdateError:
            # Nothing half-done stays behind; the next try starts clean.
            shutil.rmtree(extract, ignore_errors=True)
            raise
        if not installed:
            # tufup logs and swallows a failed patch, marking it so the next try downloads
            # the full archive instead.
            shutil.rmtree(extract, ignore_errors=True)
            raise InstallFailed(
                f"the update to {version} could not be assembled from its patch; "
                f"check again to download the full release. {UNTOUCHED}"
            )
        self._staged = ready
        return ready

    def apply(self) -> str:
        """Install the downloaded release beside this one, on trial from the next start."""
        if self._staged is None or self._available is None:
            raise UpdateError("nothing downloaded to apply: download the update first")
        self._root().add_trial(self._staged, self._available.version)
        version, self._staged = self._available.version, None
        _LOGGER.info("update %s installed beside %s; it starts on trial", version, self._current)
        return version

    def restart(self) -> None:
        """Start ORA again through the install root's launcher; the caller then quits."""
        root = self._root()
        # This process still holds the profile's lock for a moment (one Node per profile):
        # the new one waits for it instead of saying "already running".
        env = {**os.environ, "ORA_LOCK_WAIT_S": "30"}
        subprocess.Popen(
            [str(root.stub)],
            env=env,
            start_new_session=sys.platform != "win32",
            stdin=subprocess.DEVNULL,
            close_fds=True,
        )

    def apply_and_restart(self) -> str:
        """apply() then restart(); the tray quits right after."""
        version = self.apply()
        self.restart()
        return version


@contextlib.contextmanager
def _refusals() -> Iterator[None]:
    """Turn python-tuf's verdicts into the updater's own, user-facing errors."""
    import requests
    from tuf.api import exceptions as tuf_errors

    try:
        yield
    except tuf_errors.BadVersionNumberError as err:
        raise RollbackAttack(
            "the update server offered signed metadata older than what this PC already "
            f"trusts ({err}): a rollback attack or a broken mirror. {UNTOUCHED}"
        ) from None
    except tuf_errors.ExpiredMetadataError as err:
        raise FreezeAttack(
            f"the update server's signed metadata has expired ({err}): the server is stale or "
            f"someone is replaying old metadata (a freeze attack). {UNTOUCHED}"
        ) from None
    except tuf_errors.UnsignedMetadataError as err:
        raise BadSignature(
            "the update metadata is not signed by ORA's release keys that this PC trusts "
            f"({err}). {UNTOUCHED}"
        ) from None
    except tuf_errors.LengthOrHashMismatchError as err:
        raise TamperedTarget(
            "the downloaded release does not match its signed hash and length: it was "
            f"altered on the way or on the server ({err}). {UNTOUCHED}"
        ) from None
    except tuf_errors.DownloadLengthMismatchError as err:
        raise EndlessData(
            "the update server sent more data than the signed metadata allows and was cut "
            f"off ({err}). {UNTOUCHED}"
        ) from None
    except tuf_errors.DownloadError as err:
        cause = err.__cause__ or err
        raise UpdateServerUnreachable(
            f"cannot reach the update server ({cause}); ORA will try again later. {UNTOUCHED}"
        ) from None
    except tuf_errors.RepositoryError as err:
        raise UpdateRefused(
            f"the update server's metadata was refused ({err}). {UNTOUCHED}"
        ) from None
    except requests.RequestException as err:
        # A connection cut or stalled mid-download (requests' errors are OSErrors: first).
        raise UpdateServerUnreachable(
            f"the connection to the update server was lost ({type(err).__name__}); ORA will "
            f"try again later. {UNTOUCHED}"
        ) from None
    except OSError as err:
        raise InstallFailed(
            f"could not write the update to disk ({err.strerror or err}); is the disk full? "
            f"Free some space and try again. {UNTOUCHED}"
        ) from None
