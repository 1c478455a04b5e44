"""Scheduled backups, run by the Node (headless or tray) on its own loop, never the UI thread.

    every CHECK_S:  backup on, and the last good backup older than the interval (daily by
                    default, `[backup] interval_h`), and no failed try within RETRY_S?
                    -> back up, then prune to the retention (7 daily, 4 weekly, 12 monthly)

One backup at a time per profile: "Back up now" in the tray and the schedule share a lock, so
they never write the same snapshot number or prune under each other. Progress and outcome go
to callbacks (the tray turns them into Qt signals; headless prints failures).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

from app.backup import engine, service
from app.backup.remote import BackupRefused, RemoteVault
from app.backup.sealing import BackupTampered
from app.settings import Settings
from app.store.secrets import SecretStore

_LOGGER = logging.getLogger(__name__)

CHECK_S = 600.0  # how often the schedule looks whether a backup is due
RETRY_S = 3600.0  # after a failure, the next try waits this long (not every check)
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=120)
# What a backup can fail with that the owner should hear about (anything else is a bug, logged).
FAILURES = (BackupRefused, BackupTampered, service.BackupNotReady, OSError, TimeoutError)


@dataclass(frozen=True)
class Outcome:
    """One finished backup: the snapshot and what pruning let go."""

    result: engine.BackupResult
    pruned_snapshots: int
    pruned_chunks: int


class BackupSchedule:
    """The profile's backups: due ones from `run_forever`, others from `run_now`."""

    def __init__(
        self,
        settings: Settings,
        secrets: SecretStore,
        *,
        on_progress: engine.Progress | None = None,
        on_done: Callable[[Outcome], None] | None = None,
        on_failed: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.secrets = secrets
        self.on_progress = on_progress or engine._nothing
        self.on_done = on_done or (lambda _o: None)
        self.on_failed = on_failed or (lambda _m: None)
        self._lock = asyncio.Lock()
        self._failed_at = 0.0

    @property
    def interval_s(self) -> float:
        return self.settings.backup_interval_h * 3600

    def due(self, now: float | None = None) -> bool:
        """Backup is on, the last good one is older than the interval, no failure just now."""
        now = time.time() if now is None else now
        state = service.BackupState.load(self.settings)
        if not state.enabled or self._lock.locked():
            return False
        if now - self._failed_at < RETRY_S:
            return False
        return now - state.last_run >= self.interval_s

    async def run_now(self, *, prune: bool = True) -> Outcome:
        """Back up (and prune) now; raises one of FAILURES with the owner's message."""
        async with self._lock:
            try:
                async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http:
                    result = await service.run(
                        self.settings, self.secrets, http, progress=self.on_progress
                    )
                    forgot, freed = 0, 0
                    if prune:
                        keys = service._keys(self.secrets)
                        vault = RemoteVault(self.settings.relay_url, keys, http)
                        forgot, freed = await engine.prune(keys, vault)
            except FAILURES:
                self._failed_at = time.time()
                raise
            self._failed_at = 0.0
            return Outcome(result, forgot, freed)

    async def run_forever(self, *, first_delay_s: float = 60.0, check_s: float = CHECK_S) -> None:
        """Back up whenever one is due, until cancelled; failures go to `on_failed`."""
        await asyncio.sleep(first_delay_s)
        while True:
            if self.due():
                try:
                    outcome = await self.run_now()
                except FAILURES as err:
                    _LOGGER.warning("scheduled backup failed: %s", err)
                    self.on_failed(str(err))
                else:
                    _LOGGER.info(
                        "backup: snapshot %d, %d new chunks", outcome.result.seq,
                        outcome.result.new_chunks,
                    )  # fmt: skip
                    self.on_done(outcome)
            await asyncio.sleep(check_s)


def backup_summary(settings: Settings) -> str:
    """One line for a terminal: on or off, the last snapshot, the last error."""
    state = service.BackupState.load(settings)
    if not state.enabled:
        return "off (`ora backup init` turns it on)"
    every = f"every {settings.backup_interval_h:g} h"
    if not state.last_seq:
        line = f"on, {every}, no snapshot yet"
    else:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(state.last_run))
        line = f"on, {every}, last snapshot {state.last_seq} ({when})"
    return f"{line}; last try failed: {state.last_error}" if state.last_error else line


def profile_is_empty(settings: Settings) -> bool:
    """Nothing yet in this profile (no notes, messages or audit rows) and backup never set up:
    the first run on a PC, when restoring from a backup is worth offering."""
    return not (settings.state_dir / "backup.json").exists() and not profile_has_content(settings)


def profile_has_content(settings: Settings) -> bool:
    """The profile holds notes, messages or audit rows (a restore would replace them)."""
    import sqlite3

    if not settings.db_path.exists():
        return False
    db = sqlite3.connect(f"file:{settings.db_path}?mode=ro", uri=True)
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        return any(
            db.execute(f"SELECT 1 FROM {t} LIMIT 1").fetchone()  # noqa: S608 (fixed table names)
            for t in ("notes", "messages", "audit")
            if t in tables
        )
    finally:
        db.close()
