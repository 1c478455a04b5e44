"""Encrypted backup through a real Relay process: restore on a new PC, and a service that lies.

The Node is a real Runtime registered with a real Relay (`ora-relay` on loopback); the
service's side of every attack is played by editing the Relay's blob folder directly, as an
operator (or a thief of its disks) could.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from app.backup import engine, service
from app.backup.keys import PhraseInvalid, keys_from_phrase, new_phrase
from app.backup.remote import BackupRefused
from app.backup.sealing import BackupTampered, WrongPhrase, open_manifest
from app.core.runtime import Runtime
from app.link.relay_link import RelayLink
from app.store.memory import Partition
from tests.relay.conftest import RelayProcess
from tests.support.fixtures import make_settings, open_runtime

MARKER = "zebra-marmalade-4471"  # appears in the profile, must never appear at the service
OWNER = Partition(user_id="owner", role="owner", guild_id="default")


def blobs(relay: RelayProcess) -> list[Path]:
    return sorted(p for p in (relay.data_dir / "backup").rglob("*") if p.is_file())


async def registered(tmp_path: Path, relay: RelayProcess, name: str, notes: int = 40) -> Runtime:
    """A Node with some life in it, registered with the Relay (so it has an account)."""
    rt = await open_runtime(tmp_path / name, None, relay_url=relay.url)
    link = RelayLink(runtime=rt, relay_urls=[relay.url])
    link.start()
    async with asyncio.timeout(20):
        await link.wait_connected()
    await link.stop()
    for n in range(notes):
        rt.memory.remember(OWNER, f"note {n}: the spare key is under the {MARKER} pot " * 8)
        rt.memory.append(OWNER, "user", f"message {n} about {MARKER}")
        rt.audit.record(
            user_id="owner", role="owner", channel="terminal", tool="memory_recall",
            args_digest=f"{n:064x}", risk="LOW", decision="allow", outcome="ok",
        )  # fmt: skip
    return rt


def turn_on(rt: Runtime, **kwargs: Any) -> str:
    phrase = new_phrase()
    words = phrase.split()
    assert service.confirm(rt.settings, rt.secrets, phrase, {2: words[1], 7: words[6]}, **kwargs)
    return phrase


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def relay(relay_factory: Callable[..., RelayProcess]) -> RelayProcess:
    return relay_factory("backup-relay")


async def fresh_pc(tmp_path: Path, relay: RelayProcess, name: str = "new-pc") -> Any:
    settings = make_settings(tmp_path / name, relay_url=relay.url)
    from app.store.secrets import SecretStore

    settings.state_dir.mkdir(parents=True, exist_ok=True)
    return settings, SecretStore.open(settings.profile, settings.state_dir, use_keyring=False)


async def test_restore_on_a_new_pc_gives_back_memory_history_and_a_verifying_audit_chain(
    tmp_path: Path, relay: RelayProcess, http: aiohttp.ClientSession
) -> None:
    rt = await registered(tmp_path, relay, "old-pc")
    phrase = turn_on(rt)
    result = await service.run(rt.settings, rt.secrets, http)
    assert result.seq == 1 and result.new_chunks == result.chunks > 0
    notes = [n.text for n in rt.memory.recall(OWNER, MARKER, limit=50)]
    history = rt.memory.history_rows(OWNER, limit=100)
    await rt.close()

    # The service holds nothing a person could read.
    for blob in blobs(relay):
        data = blob.read_bytes()
        assert MARKER.encode() not in data and b"spare key" not in data, blob
        assert b"SQLite format" not in data

    settings, secrets = await fresh_pc(tmp_path, relay)
    done = await service.restore(settings, secrets, phrase, http)
    assert done["snapshot"] == 1
    back = await Runtime.open(settings, secrets=secrets)
    try:
        assert [n.text for n in back.memory.recall(OWNER, MARKER, limit=50)] == notes
        assert back.memory.history_rows(OWNER, limit=100) == history
        assert back.audit.verify() is None, "the audit chain must still verify after a restore"
        assert len(back.audit.rows(limit=100)) == 40
    finally:
        await back.close()
    assert (settings.state_dir.stat().st_mode & 0o777) == 0o700


async def test_an_unchanged_profile_uploads_only_a_manifest_and_a_small_change_a_few_chunks(
    tmp_path: Path, relay: RelayProcess, http: aiohttp.ClientSession
) -> None:
    rt = await registered(tmp_path, relay, "pc", notes=1500)
    turn_on(rt)
    first = await service.run(rt.settings, rt.secrets, http)
    second = await service.run(rt.settings, rt.secrets, http)
    assert second.seq == 2 and second.new_chunks == 0
    rt.memory.remember(OWNER, "one more small note")
    third = await service.run(rt.settings, rt.secrets, http)
    await rt.close()
    assert 0 < third.new_chunks <= max(3, first.chunks // 5)
    assert third.uploaded_bytes < first.uploaded_bytes / 2


async def test_the_wrong_phrase_is_refused_by_name(
    tmp_path: Path, relay: RelayProcess, http: aiohttp.ClientSession
) -> None:
    rt = await registered(tmp_path, relay, "pc")
    phrase = turn_on(rt)
    await service.run(rt.settings, rt.secrets, http)
    await rt.close()
    settings, secrets = await fresh_pc(tmp_path, relay)
    with pytest.raises(WrongPhrase):
        await service.restore(settings, secrets, new_phrase(), http)
    typo = phrase.split()
    typo[3] = "zzzz"
    with pytest.raises(PhraseInvalid):
        await service.restore(settings, secrets, " ".join(typo), http)
    assert not (settings.state_dir / "ora.db").exists()


def test_turning_on_needs_the_words_written_down(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "pc")
    settings.state_dir.mkdir(parents=True)
    from app.store.secrets import SecretStore

    secrets = SecretStore.open(settings.profile, settings.state_dir, use_keyring=False)
    phrase = new_phrase()
    wrong = phrase.split()[4] + "x"
    assert not service.confirm(settings, secrets, phrase, {5: wrong})
    assert not service.BackupState.load(settings).enabled
    assert secrets.get(service.KEY_NAME) is None, "nothing is kept before the owner confirmed"


@pytest.mark.parametrize("attack", ["flip", "truncate", "swap", "replay", "drop"])
async def test_a_service_that_tampers_restores_nothing(
    tmp_path: Path, relay: RelayProcess, http: aiohttp.ClientSession, attack: str
) -> None:
    rt = await registered(tmp_path, relay, "pc")
    phrase = turn_on(rt)
    await service.run(rt.settings, rt.secrets, http)
    rt.memory.remember(OWNER, "a second snapshot's note")
    await service.run(rt.settings, rt.secrets, http)
    await rt.close()
    keys = keys_from_phrase(phrase)
    vault = relay.data_dir / "backup" / keys.vault_id
    latest = open_manifest(keys, 2, (vault / "manifests" / "2").read_bytes())
    used = sorted({c for f in latest["files"] for c in f["chunks"]})
    chunks = [vault / "chunks" / c for c in used]  # what the newest snapshot needs
    if attack == "flip":  # one byte of one chunk
        data = bytearray(chunks[-1].read_bytes())
        data[len(data) // 2] ^= 1
        chunks[-1].write_bytes(bytes(data))
    elif attack == "truncate":  # the latest manifest cut short
        manifest = vault / "manifests" / "2"
        manifest.write_bytes(manifest.read_bytes()[:-100])
    elif attack == "swap":  # two chunks served under each other's names
        a, b = chunks[-1].read_bytes(), chunks[-2].read_bytes()
        chunks[-1].write_bytes(b)
        chunks[-2].write_bytes(a)
    elif attack == "replay":  # the old snapshot served as the newest
        shutil.copy(vault / "manifests" / "1", vault / "manifests" / "3")
    elif attack == "drop":  # a chunk the snapshot needs is gone
        chunks[-1].unlink()

    settings, secrets = await fresh_pc(tmp_path, relay)
    keep = settings.state_dir / "keep-me.txt"
    keep.write_text("what the new PC had")
    with pytest.raises((BackupTampered, BackupRefused)):
        await service.restore(settings, secrets, phrase, http)
    assert keep.read_text() == "what the new PC had", "nothing may be restored half-way"
    assert not (settings.state_dir / "ora.db").exists()


async def test_over_quota_is_a_clear_message_and_nothing_is_lost(
    tmp_path: Path, relay_factory: Callable[..., RelayProcess], http: aiohttp.ClientSession
) -> None:
    small = relay_factory("small", ORA_RELAY_BACKUP_QUOTA_BYTES=str(64 * 1024))
    rt = await registered(tmp_path, small, "pc")
    turn_on(rt)
    with pytest.raises(BackupRefused, match="quota"):
        await service.run(rt.settings, rt.secrets, http)
    state = service.BackupState.load(rt.settings)
    assert state.last_seq == 0 and "quota" in state.last_error
    await rt.close()


async def test_retention_keeps_7_daily_4_weekly_12_monthly() -> None:
    day = 86400.0
    created = {n: 1_700_000_000 + n * day for n in range(1, 401)}  # one a day for 400 days
    keep = engine.retained(created)
    assert 400 in keep
    assert len(keep) <= 7 + 4 + 12 and len(keep) >= 12
    assert all(n > 400 - 7 for n in sorted(keep, reverse=True)[:7])


async def test_backup_storage_is_on_the_owners_monthly_statement(
    tmp_path: Path, relay_factory: Callable[..., RelayProcess], http: aiohttp.ClientSession
) -> None:
    billed = relay_factory(
        "billed", ORA_RELAY_STORAGE_SAMPLE_S="0.2", ORA_RELAY_BACKUP_PRICE_USD_PER_GB_MONTH="0.05"
    )
    rt = await registered(tmp_path, billed, "pc")
    turn_on(rt)
    await service.run(rt.settings, rt.secrets, http)
    credential = json.loads(rt.secrets.get("ora.relay-credential") or "{}")
    await rt.close()
    url = f"{billed.url}/v1/accounts/{credential['node_id']}/statement"
    auth = {"Authorization": f"Bearer {credential['node_token']}"}
    async with asyncio.timeout(20):
        while True:
            async with http.get(url, headers=auth) as resp:
                assert resp.status == 200
                statement = await resp.json()
            lines = [line for line in statement["lines"] if line["kind"] == "storage"]
            if lines:
                break
            await asyncio.sleep(0.2)
    assert lines[0]["hours_sampled"] == 1 and lines[0]["price_usd_per_gb_month"] == "0.050000000"
    assert statement["totals"]["storage_usd"] == lines[0]["amount_usd"]
    # Someone else's statement is not readable with this Node's credential.
    async with http.get(url.replace(credential["node_id"], "someone-else"), headers=auth) as r:
        assert r.status == 401


async def test_the_quota_is_the_accounts_not_each_vaults(
    tmp_path: Path, relay_factory: Callable[..., RelayProcess], http: aiohttp.ClientSession
) -> None:
    """A second phrase (a second vault) on the same account does not get a second quota."""
    small = relay_factory("small2", ORA_RELAY_BACKUP_QUOTA_BYTES=str(400 * 1024))
    rt = await registered(tmp_path, small, "pc", notes=150)
    turn_on(rt)
    first = await service.run(rt.settings, rt.secrets, http)
    assert first.uploaded_bytes > 200 * 1024, "the first vault holds over half the quota"
    turn_on(rt)  # a new phrase: a new vault, same account
    service.BackupState(enabled=True).save(rt.settings)
    with pytest.raises(BackupRefused, match="quota"):
        await service.run(rt.settings, rt.secrets, http)
    await rt.close()


async def test_a_restored_pc_goes_on_backing_up_into_the_same_backup(
    tmp_path: Path, relay: RelayProcess, http: aiohttp.ClientSession
) -> None:
    """The new PC registers as a new Node (a new account); the phrase moves the backup to it."""
    old = await registered(tmp_path, relay, "old-pc")
    phrase = turn_on(old)
    await service.run(old.settings, old.secrets, http)
    await old.close()
    new = await registered(tmp_path, relay, "new-pc", notes=0)
    settings, secrets = new.settings, new.secrets
    await new.close()
    await service.restore(settings, secrets, phrase, http)
    again = await service.run(settings, secrets, http)
    assert again.seq == 2 and again.new_chunks < again.chunks
    # The backup now belongs to the new PC's account (its quota, its statement).
    vault = relay.data_dir / "backup" / keys_from_phrase(phrase).vault_id
    node_id = json.loads(secrets.get("ora.relay-credential") or "{}")["node_id"]
    assert json.loads((vault / "vault.json").read_text())["account"] == node_id
    # The old PC, still running, is told plainly and does not take it back.
    with pytest.raises(BackupRefused, match="belongs to another ORA"):
        await service.run(old.settings, old.secrets, http)
    assert json.loads((vault / "vault.json").read_text())["account"] == node_id
    assert (await service.run(settings, secrets, http)).seq == 3


async def test_another_account_cannot_take_a_vault_without_its_phrase(
    tmp_path: Path, relay: RelayProcess, http: aiohttp.ClientSession
) -> None:
    owner = await registered(tmp_path, relay, "owner-pc", notes=1)
    keys = keys_from_phrase(turn_on(owner))
    await service.run(owner.settings, owner.secrets, http)
    await owner.close()
    thief = await registered(tmp_path, relay, "thief-pc", notes=0)
    node_token = json.loads(thief.secrets.get("ora.relay-credential") or "{}")["node_token"]
    await thief.close()
    # The vault id and its token's hash are what an operator's disk or log could show.
    for shown in ("", "0" * 64, keys.vault_token_hash):
        body = {"vault_id": keys.vault_id, "token_sha256": keys.vault_token_hash}
        async with http.post(
            f"{relay.url}/v1/backup/vaults",
            json={**body, "vault_token": shown},
            headers={"Authorization": f"Bearer {node_token}"},
        ) as resp:
            assert resp.status == 409, shown
    vault = relay.data_dir / "backup" / keys.vault_id
    owner_id = json.loads(owner.secrets.get("ora.relay-credential") or "{}")["node_id"]
    assert json.loads((vault / "vault.json").read_text())["account"] == owner_id


async def test_backup_and_restore_hold_a_few_chunks_in_memory_not_the_profile(
    tmp_path: Path, relay: RelayProcess, http: aiohttp.ClientSession
) -> None:
    import tracemalloc

    rt = await registered(tmp_path, relay, "pc", notes=3000)
    phrase = turn_on(rt)
    profile = rt.settings.db_path.stat().st_size  # the largest file: what must not be in memory
    tracemalloc.start()
    try:
        result = await service.run(rt.settings, rt.secrets, http)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    await rt.close()
    assert result.new_chunks > 100 and profile > 4 * 1024 * 1024
    assert peak < profile / 3, f"backup: peak {peak} bytes for a {profile}-byte database"
    settings, secrets = await fresh_pc(tmp_path, relay)
    tracemalloc.start()
    try:
        await service.restore(settings, secrets, phrase, http)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # A window of 16 chunks (up to 64 KB each) in flight: bounded, whatever the file's size.
    assert peak < profile / 2, f"restore: peak {peak} bytes for a {profile}-byte database"
