"""The real launcher backs a profile up before it snapshots the data for a new version: the
installed v1 (tests/installer's fake app) updated to v2 through the install root's stub, with
a real Relay process keeping the backup."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from app.backup import engine, service
from app.backup.keys import keys_from_phrase, new_phrase
from app.backup.remote import RemoteVault
from app.store.secrets import SecretStore
from tests.backup.test_backup import registered
from tests.installer.conftest import Setup, setup  # noqa: F401
from tests.relay.conftest import RelayProcess
from tests.support.fixtures import make_settings

pytestmark = pytest.mark.slow


@pytest.fixture
def relay(relay_factory: Callable[..., RelayProcess]) -> RelayProcess:
    return relay_factory("update-relay")


async def test_an_update_backs_the_profile_up_before_its_data_snapshot(
    setup: Setup,  # noqa: F811
    relay: RelayProcess,
    tmp_path: Path,
) -> None:
    assert setup.ora("note", "written by v1").returncode == 0
    # The profile the installed ORA uses, with backup on and a Node credential for the Relay
    # (taken from a Node registered there: the fake app has no Relay link of its own).
    other = await registered(tmp_path, relay, "registrar", notes=0)
    credential = other.secrets.get("ora.relay-credential")
    await other.close()
    settings = make_settings(setup.home, relay_url=relay.url)
    secrets = SecretStore.open(settings.profile, settings.state_dir, use_keyring=False)
    secrets.set("ora.relay-credential", credential or "")
    phrase = new_phrase()
    assert service.confirm(settings, secrets, phrase, {3: phrase.split()[2]})

    setup.publish("0.2.0", schema=2)
    applied = setup.ora("update", "apply")
    assert applied.returncode == 0 and "installed 0.2.0" in applied.stdout, applied.stderr
    # No OS keyring in the started processes: the profile's secrets file is what they read.
    run = setup.ora(ORA_RELAY_URL=relay.url, DBUS_SESSION_BUS_ADDRESS="disabled:")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["version"] == "0.2.0"

    state = service.BackupState.load(settings)
    assert state.last_seq == 1 and state.last_error == ""
    # The backup holds the data as v1 left it: taken before v2 first opened (and migrated) it.
    keys = keys_from_phrase(phrase)
    async with aiohttp.ClientSession() as http:
        vault = RemoteVault(relay.url, keys, http)
        manifest = await engine.latest(keys, vault)
        back = tmp_path / "restored"
        await engine.restore(manifest, keys, vault, back)
    db = sqlite3.connect(back / "ora.db")
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1
        assert [r[0] for r in db.execute("SELECT text FROM notes")] == ["written by v1"]
    finally:
        db.close()


async def test_an_update_goes_on_when_the_backup_service_is_down(
    setup: Setup,  # noqa: F811
    tmp_path: Path,
) -> None:
    assert setup.ora("note", "written by v1").returncode == 0
    settings = make_settings(setup.home)
    secrets = SecretStore.open(settings.profile, settings.state_dir, use_keyring=False)
    secrets.set("ora.relay-credential", json.dumps({"node_id": "n", "node_token": "ora_nd_x"}))
    phrase = new_phrase()
    assert service.confirm(settings, secrets, phrase, {1: phrase.split()[0]})
    setup.publish("0.2.0", schema=2)
    assert setup.ora("update", "apply").returncode == 0
    run = setup.ora(ORA_RELAY_URL="http://127.0.0.1:9", DBUS_SESSION_BUS_ADDRESS="disabled:")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["version"] == "0.2.0"
    assert "cannot be reached" in service.BackupState.load(settings).last_error
