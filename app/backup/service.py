"""A profile's backup: turning it on, running it, restoring it on a new PC (Qt-free).

Nothing leaves the PC before the owner has confirmed they wrote the phrase down (`confirm`).
The phrase's key then lives in the profile's secret store (the OS keyring), so scheduled
backups run unattended; `backup.json` in the profile records what is not secret: whether
backup is on, the last snapshot's number and hash, and whether API keys are included.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import asdict, dataclass

import aiohttp

from app.backup import engine
from app.backup.keys import BackupKeys, check_words, keys_from_phrase, master_from_phrase
from app.backup.remote import BackupRefused, RemoteVault
from app.backup.sealing import BackupTampered, WrongPhrase
from app.settings import Settings
from app.store.secrets import INTERNAL_PREFIX, SecretStore

KEY_NAME = "ora.backup-key"
_CREDENTIAL = "ora.relay-credential"


class BackupNotReady(Exception):
    """Backup is not on for this profile, or the Node has no account yet (the message says)."""


@dataclass
class BackupState:
    enabled: bool = False
    include_secrets: bool = False
    last_seq: int = 0
    last_hash: str = ""
    last_run: float = 0.0
    last_error: str = ""
    adopt: bool = False  # restored here: the next backup moves the vault to this PC's account

    @classmethod
    def load(cls, settings: Settings) -> BackupState:
        try:
            return cls(**json.loads((settings.state_dir / "backup.json").read_text()))
        except (OSError, ValueError, TypeError):
            return cls()

    def save(self, settings: Settings) -> None:
        path = settings.state_dir / "backup.json"
        tmp = path.with_name("backup.json.tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.chmod(0o600)
        tmp.rename(path)


def confirm(
    settings: Settings,
    secrets: SecretStore,
    phrase: str,
    typed: dict[int, str],
    *,
    include_secrets: bool = False,
) -> bool:
    """Turn backup on once the owner typed back the words asked for; False if they differ."""
    if not check_words(phrase, typed):
        return False
    secrets.set(KEY_NAME, master_from_phrase(phrase).hex())
    state = BackupState.load(settings)
    state.enabled, state.include_secrets = True, include_secrets
    state.save(settings)
    return True


def _keys(secrets: SecretStore) -> BackupKeys:
    master = secrets.get(KEY_NAME)
    if not master:
        raise BackupNotReady("backup is off for this profile: turn it on with `ora backup init`")
    return BackupKeys.from_master(bytes.fromhex(master))


def _profile_secrets(secrets: SecretStore, include_keys: bool) -> dict[str, str]:
    names = list(engine.PROFILE_SECRETS)
    if include_keys:
        names += [n for n in secrets.names() if not n.startswith(INTERNAL_PREFIX)]
    return {n: v for n in names if (v := secrets.get(n)) is not None}


async def run(
    settings: Settings,
    secrets: SecretStore,
    http: aiohttp.ClientSession,
    *,
    progress: engine.Progress | None = None,
) -> engine.BackupResult:
    """One backup now, to the service at the profile's Relay."""
    state = BackupState.load(settings)
    if not state.enabled:
        raise BackupNotReady("backup is off for this profile: turn it on with `ora backup init`")
    try:
        result = await _run(settings, secrets, http, state, progress or engine._nothing)
    except (BackupNotReady, BackupRefused, BackupTampered, OSError, TimeoutError) as err:
        # Whatever stopped it, the tray's menu and `ora backup status` say it until a good run.
        state.last_error = str(err) or type(err).__name__
        state.save(settings)
        raise
    state.last_seq, state.last_hash, state.last_run, state.last_error, state.adopt = (
        result.seq,
        result.manifest_hash,
        time.time(),
        "",
        False,
    )
    state.save(settings)
    return result


async def _run(
    settings: Settings,
    secrets: SecretStore,
    http: aiohttp.ClientSession,
    state: BackupState,
    progress: engine.Progress,
) -> engine.BackupResult:
    keys = _keys(secrets)
    credential = secrets.get(_CREDENTIAL)
    if not credential:
        raise BackupNotReady("this ORA has not registered with its Relay yet: start it once")
    vault = RemoteVault(settings.relay_url, keys, http)
    await vault.open(json.loads(credential)["node_token"], adopt=state.adopt)
    known = await vault.manifests()
    if known and max(known) < state.last_seq:
        raise BackupRefused(
            f"the service lost snapshots: it has {max(known)}, this PC made {state.last_seq}"
        )
    return await engine.backup(
        settings.state_dir,
        keys,
        vault,
        seq=max([state.last_seq, *known]) + 1,
        prev_hash=state.last_hash,
        secrets=_profile_secrets(secrets, state.include_secrets),
        progress=progress,
    )


async def restore(
    settings: Settings,
    secrets: SecretStore,
    phrase: str,
    http: aiohttp.ClientSession,
    *,
    keep_devices: bool = False,
    progress: engine.Progress | None = None,
) -> dict[str, object]:
    """Bring the profile back from the service into `settings.state_dir` (a new PC's)."""
    keys = keys_from_phrase(phrase)
    vault = RemoteVault(settings.relay_url, keys, http)
    try:
        manifest = await engine.latest(keys, vault)
    except BackupRefused as err:
        if "credential" in str(err) or "opens no backup" in str(err):
            raise WrongPhrase("this recovery phrase opens no backup at this service") from None
        raise
    await engine.restore(
        manifest, keys, vault, settings.state_dir, progress=progress or engine._nothing
    )
    for name, value in dict(manifest.get("secrets", {})).items():
        secrets.set(str(name), str(value))
    secrets.set(KEY_NAME, master_from_phrase(phrase).hex())
    BackupState(
        enabled=True,
        include_secrets=any(not n.startswith(INTERNAL_PREFIX) for n in manifest["secrets"]),
        last_seq=int(manifest["seq"]),
        last_hash="",
        last_run=float(manifest["created"]),
        adopt=True,
    ).save(settings)
    repair = 0
    if not keep_devices:
        # This PC has a new identity: the devices paired with the old one must pair again, and
        # their keys are not trusted here without the owner saying so.
        db = sqlite3.connect(settings.state_dir / "ora.db")
        try:
            if db.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='paired_devices'"
            ).fetchone():
                repair = db.execute("DELETE FROM paired_devices").rowcount
                db.commit()
        finally:
            db.close()
    return {"snapshot": manifest["seq"], "created": manifest["created"], "devices_to_pair": repair}


def is_confirmed_phrase(phrase: str) -> bool:
    """True when `phrase` is a well-formed recovery phrase."""
    try:
        master_from_phrase(phrase)
    except ValueError:
        return False
    return True
