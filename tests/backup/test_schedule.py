"""Scheduled backups and the backup before an update, through a real Relay process."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest

from app.backup import service
from app.backup.before_update import back_up_profiles
from app.backup.schedule import BackupSchedule, Outcome, backup_summary, profile_is_empty
from app.errors import ConfigError
from app.settings import load_settings
from tests.backup.test_backup import OWNER, registered, turn_on
from tests.relay.conftest import RelayProcess
from tests.support.fixtures import make_settings


@pytest.fixture
def relay(relay_factory: Callable[..., RelayProcess]) -> RelayProcess:
    return relay_factory("schedule-relay")


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_a_due_backup_runs_on_schedule_and_an_undue_one_does_not(
    tmp_path: Path, relay: RelayProcess
) -> None:
    rt = await registered(tmp_path, relay, "pc")
    schedule = BackupSchedule(rt.settings, rt.secrets)
    assert not schedule.due(), "backup is off: never due"
    assert backup_summary(rt.settings).startswith("off")
    turn_on(rt)
    assert schedule.due(), "on and never run: due at once"
    assert backup_summary(rt.settings) == "on, every 24 h, no snapshot yet"
    done: list[Outcome] = []
    schedule.on_done = done.append
    task = asyncio.create_task(schedule.run_forever(first_delay_s=0, check_s=0.05))
    try:
        async with asyncio.timeout(30):
            while not done:
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # several more checks: the backup is not due again for a day
    finally:
        task.cancel()
    assert [o.result.seq for o in done] == [1]
    state = service.BackupState.load(rt.settings)
    assert state.last_seq == 1 and abs(state.last_run - time.time()) < 60
    assert not schedule.due()
    assert schedule.due(now=time.time() + 24 * 3600 + 1), "daily by default"
    assert backup_summary(rt.settings).startswith("on, every 24 h, last snapshot 1 (")
    await rt.close()


async def test_a_failed_scheduled_backup_is_reported_and_retried_later_not_at_every_check(
    tmp_path: Path, relay: RelayProcess
) -> None:
    rt = await registered(tmp_path, relay, "pc")
    turn_on(rt)
    broken = make_settings(tmp_path / "pc", relay_url="http://127.0.0.1:9")  # nothing listens
    failures: list[str] = []
    schedule = BackupSchedule(broken, rt.secrets, on_failed=failures.append)
    task = asyncio.create_task(schedule.run_forever(first_delay_s=0, check_s=0.05))
    await asyncio.sleep(1.0)
    task.cancel()
    assert len(failures) == 1 and "cannot be reached" in failures[0]
    assert "last try failed: the backup service cannot be reached" in backup_summary(broken)
    assert not schedule.due() and schedule.due(now=time.time() + 3601)
    await rt.close()


async def test_pruning_after_a_backup_keeps_the_retention(
    tmp_path: Path, relay: RelayProcess, http: aiohttp.ClientSession
) -> None:
    rt = await registered(tmp_path, relay, "pc")
    turn_on(rt)
    schedule = BackupSchedule(rt.settings, rt.secrets)
    for n in range(3):
        rt.memory.remember(OWNER, f"change {n}")
        await schedule.run_now(prune=False)
    # Three snapshots on one day: the day keeps only its newest.
    outcome = await schedule.run_now()
    assert outcome.result.seq == 4 and outcome.pruned_snapshots == 3
    await rt.close()


async def test_the_update_backs_up_profiles_that_have_backup_on_first(
    tmp_path: Path, relay: RelayProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("app.store.secrets.usable_keyring", lambda: None)
    rt = await registered(tmp_path, relay, "pc")
    turn_on(rt)
    await rt.close()
    env = {"ORA_HOME": str(tmp_path / "pc"), "ORA_RELAY_URL": relay.url}
    assert load_settings("private", env=env).state_dir == rt.settings.state_dir
    done = await asyncio.to_thread(back_up_profiles, env)
    assert done == {"private": "ok"}, "the shared profile has backup off: left alone"
    assert service.BackupState.load(rt.settings).last_seq == 1

    # The service down: the update is not held up, and the owner sees why later.
    down = {**env, "ORA_RELAY_URL": "http://127.0.0.1:9"}
    done = await asyncio.to_thread(back_up_profiles, down, timeout_s=20)
    assert "cannot be reached" in done["private"]
    assert "cannot be reached" in service.BackupState.load(rt.settings).last_error


def test_a_bad_config_does_not_stop_the_update(tmp_path: Path) -> None:
    state = tmp_path / "profiles" / "private"
    state.mkdir(parents=True)
    (state / "config.toml").write_text("[backup]\ninterval_h = 0\n")
    with pytest.raises(ConfigError, match="interval_h"):
        load_settings("private", env={"ORA_HOME": str(tmp_path)})
    done = back_up_profiles({"ORA_HOME": str(tmp_path)})
    assert "interval_h" in done["private"]


def test_the_interval_is_a_setting(tmp_path: Path) -> None:
    state = tmp_path / "profiles" / "private"
    state.mkdir(parents=True)
    assert load_settings("private", env={"ORA_HOME": str(tmp_path)}).backup_interval_h == 24
    (state / "config.toml").write_text("[backup]\ninterval_h = 6\n")
    assert load_settings("private", env={"ORA_HOME": str(tmp_path)}).backup_interval_h == 6


async def test_an_empty_profile_is_told_from_a_used_one(
    tmp_path: Path, relay: RelayProcess
) -> None:
    fresh = make_settings(tmp_path / "fresh")
    assert profile_is_empty(fresh)
    rt = await registered(tmp_path, relay, "used", notes=1)
    assert not profile_is_empty(rt.settings)
    await rt.close()
    (fresh.state_dir).mkdir(parents=True, exist_ok=True)
    (fresh.state_dir / "backup.json").write_text(json.dumps({"enabled": False}))
    assert not profile_is_empty(fresh), "once answered (Start fresh), not offered again"
