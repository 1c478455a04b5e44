"""One Node per profile: a lock in the profile folder, and a way to bring the running one forward.

Two Nodes on one profile kick each other off the Relay about once a second and leave phones
with sessions that go nowhere. So a Node start (tray, `--headless`, `pair`) takes an OS lock
on `<state_dir>/node.lock` first:

    free ───────────────► this process runs the Node; the file then says {"pid", "port"}
    held by a live Node ─► AlreadyRunning: the second start says so (en/ja), asks the running
                           one to come forward (POST /api/show on its local server, with the
                           profile's local token) and exits with ALREADY_RUNNING
    left by a crash ─────► free: the OS drops an flock/msvcrt lock when its process dies,
                           whatever the file still says

A start that replaces a running Node on purpose (the updater's restart) waits for the lock
instead of giving up (`wait_s`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

from app.errors import OraError

_LOGGER = logging.getLogger(__name__)
LOCK_FILE = "node.lock"
ALREADY_RUNNING = 3  # exit code of a second start; the update launcher treats it as inconclusive


class AlreadyRunning(OraError):
    """Another live process runs the Node on this profile."""

    def __init__(self, profile: str, pid: int | None, port: int | None) -> None:
        super().__init__(f"ORA is already running for the {profile} profile")
        self.profile = profile
        self.pid = pid
        self.port = port


class ProfileLock:
    """The held lock of one profile; released by release() or by the process ending."""

    def __init__(self, path: Path, handle: IO[str]) -> None:
        self.path = path
        self._handle = handle

    @classmethod
    def acquire(cls, state_dir: Path, profile: str, *, wait_s: float = 0.0) -> ProfileLock:
        """Take the profile's lock, or raise AlreadyRunning (after waiting up to `wait_s`)."""
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = state_dir / LOCK_FILE
        deadline = time.monotonic() + wait_s
        while True:
            # Opened without truncating: the holder's {"pid", "port"} must survive our attempt.
            handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the process
            os.chmod(path, 0o600)
            if _try_lock(handle):
                lock = cls(path, handle)
                lock.describe(port=None)
                return lock
            info = _read(path)
            handle.close()
            if time.monotonic() >= deadline:
                raise AlreadyRunning(profile, info.get("pid"), info.get("port"))
            time.sleep(0.2)

    def describe(self, *, port: int | None) -> None:
        """Record who holds the lock and where its local server listens (for a second start)."""
        self._handle.seek(0)
        self._handle.truncate()
        self._handle.write(json.dumps({"pid": os.getpid(), "port": port}))
        self._handle.flush()

    def release(self) -> None:
        """Give the profile up (the tray switching profiles); the file stays, unlocked."""
        with contextlib.suppress(OSError):
            self._handle.seek(0)
            self._handle.truncate()
        self._handle.close()  # closing the descriptor drops the OS lock


def _try_lock(handle: IO[str]) -> bool:
    try:
        if sys.platform == "win32":
            import msvcrt

            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _read(path: Path) -> dict[str, Any]:
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def bring_forward(state_dir: Path, port: int | None, token_file: str = "local-token") -> bool:  # noqa: S107
    """Ask the running Node to show itself; False when it cannot be reached."""
    if not port:
        return False
    try:
        token = (state_dir / token_file).read_text(encoding="utf-8").strip()
        request = urllib.request.Request(
            f"http://127.0.0.1:{int(port)}/api/show",
            method="POST",
            headers={"Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request, timeout=3) as resp:  # noqa: S310
            return bool(resp.status == 200)
    except (OSError, ValueError, urllib.error.URLError) as err:
        _LOGGER.info("could not bring the running ORA forward: %s", err)
        return False


def already_running_message(err: AlreadyRunning, language: str, brought_forward: bool) -> str:
    """What a second start tells the person, in their language."""
    pid = f" (process {err.pid})" if err.pid else ""
    if language == "ja":
        pid_ja = f"（プロセス {err.pid}）" if err.pid else ""
        tail = (
            "そのウィンドウを前面に出しました。"
            if brought_forward
            else "トレイのアイコンから開くか、先にそちらを終了してください。"
        )
        return f"ORA はすでに起動しています（{err.profile} プロファイル）{pid_ja}。{tail}"
    tail = (
        "it was brought forward."
        if brought_forward
        else "open it from its tray icon, or quit it first."
    )
    return f"ORA is already running for the {err.profile} profile{pid}; {tail}"


def language_of(locale_setting: str, env: dict[str, str] | os._Environ[str]) -> str:
    """ "ja" or "en" for messages printed before any UI: the profile's locale, else the OS's."""
    if locale_setting in ("ja", "en"):
        return locale_setting
    for key in ("LC_ALL", "LC_MESSAGES", "LANG"):
        if env.get(key):
            return "ja" if env[key].startswith("ja") else "en"
    return "en"
