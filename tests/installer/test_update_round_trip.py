"""v1 -> v2 through a real tufup repository on loopback HTTP, the real client and launcher."""

from __future__ import annotations

import asyncio
import json

import pytest

from app.settings import UpdateSettings
from app.update.schedule import check_periodically
from app.update.service import Available, UpdateService
from tests.installer.conftest import Setup

pytestmark = pytest.mark.slow


def test_v1_to_v2_applied_and_running(setup: Setup) -> None:
    first = setup.ora("note", "written by v1")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["version"] == "0.1.0"

    assert "up to date" in setup.ora("update", "check").stdout
    setup.publish("0.2.0", schema=2)
    check = setup.ora("update", "check")
    assert "update available: 0.1.0 -> 0.2.0" in check.stdout

    applied = setup.ora("update", "apply")
    assert applied.returncode == 0, applied.stderr
    assert "installed 0.2.0" in applied.stdout
    assert "downloading: 100%" in applied.stderr
    assert setup.state()["stable"] == "0.1.0"  # on trial until it starts well

    run = setup.ora()
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["version"] == "0.2.0" and out["schema"] == 2 and out["notes"] == ["written by v1"]
    state = setup.state()
    assert state["stable"] == "0.2.0" and state["previous"] == "0.1.0" and state["trial"] is None
    assert setup.root.version_dir("0.1.0").is_dir(), "the previous version is kept"

    again = setup.ora("--version")
    assert again.stdout.strip() == "ora 0.2.0"
    assert "up to date" in setup.ora("update", "check").stdout

    # The next release comes as a binary patch against the archive kept from this one.
    setup.publish("0.3.0", schema=2)
    check = setup.ora("update", "check")
    assert "0.2.0 -> 0.3.0" in check.stdout and "patch" in check.stdout, check.stdout
    assert setup.ora("update", "apply", "--restart").returncode == 0

    # --restart started ORA again, detached, as the tray does before it quits.
    async def restarted() -> None:
        while setup.state()["stable"] != "0.3.0":
            await asyncio.sleep(0.05)

    asyncio.run(asyncio.wait_for(restarted(), 30))
    final = setup.ora()
    assert json.loads(final.stdout)["version"] == "0.3.0"
    assert setup.state()["stable"] == "0.3.0"


async def test_periodic_checks_report_a_new_release(setup: Setup) -> None:
    setup.publish("0.2.0")
    found: list[Available] = []
    settings = UpdateSettings(enabled=True, url=setup.server.url, install_root=setup.root.path)
    task = asyncio.create_task(
        check_periodically(UpdateService(settings, "0.1.0"), found.append, interval_s=0.05)
    )
    try:
        async with asyncio.timeout(30):
            while len(found) < 2:
                await asyncio.sleep(0.02)
    finally:
        task.cancel()
    assert [a.version for a in found[:2]] == ["0.2.0", "0.2.0"]


async def test_periodic_checks_do_nothing_when_disabled(setup: Setup) -> None:
    setup.publish("0.2.0")
    settings = UpdateSettings(enabled=False, url=setup.server.url, install_root=setup.root.path)
    await asyncio.wait_for(
        check_periodically(UpdateService(settings, "0.1.0"), print, interval_s=0.01), 5
    )
    assert setup.server.requests == []


def test_no_update_traffic_when_disabled(setup: Setup, tmp_path) -> None:
    setup.publish("0.2.0")
    config = setup.home / "profiles" / "private" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'[updates]\nurl = "{setup.server.url}"\nenabled = false\n')
    env = {"ORA_UPDATE_URL": ""}
    for action in ("check", "apply"):
        result = setup.ora("update", action, **env)
        assert result.returncode == 0 and "updates are off" in result.stdout
    assert setup.server.requests == []
