"""A backup of every profile that has backup on, taken by the launcher just before it snapshots
the data for a new version's first start (app/update/launcher.py).

The local snapshot protects against a version that fails to start; this one protects against
a version that starts but damages data in ways found only later, and against the PC itself.
It never stands in the update's way: a failure or a slow service is logged, written to the
profile's backup state (the tray and `ora backup status` show it), and the update goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from app.backup import service
from app.backup.schedule import FAILURES, BackupSchedule
from app.policy.gate import Profile
from app.settings import load_settings
from app.store.secrets import SecretStore

_LOGGER = logging.getLogger(__name__)

TIMEOUT_S = 180.0  # per profile: an incremental backup is a few chunks and a manifest


def back_up_profiles(env: Mapping[str, str], *, timeout_s: float = TIMEOUT_S) -> dict[str, str]:
    """Back up each profile with backup on; {profile: "ok" or why not} for the log and tests."""
    done: dict[str, str] = {}
    for profile in Profile:
        try:
            settings = load_settings(profile.value, env=env)
        except Exception as err:  # a bad config.toml must not stop the update
            done[profile.value] = f"settings: {err}"
            continue
        if not service.BackupState.load(settings).enabled:
            continue
        secrets = SecretStore.open(settings.profile, settings.state_dir)
        schedule = BackupSchedule(settings, secrets)
        try:
            outcome = asyncio.run(asyncio.wait_for(schedule.run_now(prune=False), timeout_s))
        except FAILURES as err:
            _LOGGER.warning("backup before the update (%s profile) failed: %s", profile.value, err)
            done[profile.value] = str(err) or "timed out"
            if isinstance(err, TimeoutError):
                state = service.BackupState.load(settings)
                state.last_error = "the backup before the update did not finish in time"
                state.save(settings)
            continue
        _LOGGER.info("backup before the update: %s profile, snapshot %d", profile.value,
                     outcome.result.seq)  # fmt: skip
        done[profile.value] = "ok"
    return done
