"""`ora backup ...`: encrypted backup of this profile in a terminal.

ora backup init [--include-keys]   make the recovery phrase, check it was written down, turn on
ora backup run                     back up now
ora backup status                  on or off, the last snapshot, the last error
ora backup restore                 bring a profile back on this PC from the phrase
ora backup prune                   keep 7 daily, 4 weekly, 12 monthly snapshots
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import secrets as random
import sys
import time

import aiohttp

from app.backup import engine, service
from app.backup.keys import PhraseInvalid, new_phrase
from app.backup.remote import BackupRefused, RemoteVault
from app.backup.sealing import BackupTampered
from app.settings import Settings
from app.store.secrets import SecretStore


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("backup", help="encrypted backup of this profile that only you can read")
    p.add_argument("action", choices=["init", "run", "status", "restore", "prune"])
    p.add_argument("--include-keys", action="store_true", help="init: include your API keys")
    p.add_argument("--keep-devices", action="store_true", help="restore: keep paired devices")


def _progress(stage: str, done: int, total: int) -> None:
    if sys.stderr.isatty():
        print(f"\r{stage}: {done}/{total}", end="" if done < total else "\n", file=sys.stderr)


def _qr(text: str) -> None:
    import qrcode

    qr = qrcode.QRCode(border=1)
    qr.add_data(text)
    qr.print_ascii(invert=True)


def main(settings: Settings, args: argparse.Namespace) -> int:
    """`ora backup ACTION`."""
    secrets = SecretStore.open(settings.profile, settings.state_dir)
    try:
        if args.action == "init":
            return _init(settings, secrets, include_keys=args.include_keys)
        return asyncio.run(_command(settings, secrets, args))
    except (BackupRefused, BackupTampered, service.BackupNotReady, PhraseInvalid) as err:
        print(f"ora backup: {err}", file=sys.stderr)
        return 1


def _init(settings: Settings, secrets: SecretStore, *, include_keys: bool) -> int:
    phrase = new_phrase()
    print("Your recovery phrase. Write it down and keep it safe: it is the only way to read")
    print("your backup, and ORA cannot show it again.\n")
    for n, word in enumerate(phrase.split(), 1):
        print(f"  {n:2}. {word}")
    print()
    _qr(phrase)
    asked = sorted(random.SystemRandom().sample(range(1, 13), 3))
    typed = {n: input(f"Word number {n}: ") for n in asked}
    if not service.confirm(settings, secrets, phrase, typed, include_secrets=include_keys):
        print("Those words do not match. Backup stays off; run `ora backup init` again.")
        return 1
    print("Backup is on. Nothing has left this PC yet: `ora backup run` backs up now.")
    return 0


async def _command(settings: Settings, secrets: SecretStore, args: argparse.Namespace) -> int:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as http:
        return await _run(settings, secrets, http, args)


async def _run(
    settings: Settings, secrets: SecretStore, http: aiohttp.ClientSession, args: argparse.Namespace
) -> int:
    if args.action == "run":
        result = await service.run(settings, secrets, http, progress=_progress)
        print(
            f"Snapshot {result.seq}: {result.files} files, {result.new_chunks} new of "
            f"{result.chunks} chunks, {result.uploaded_bytes / 1024:.0f} KB sent."
        )
        return 0
    if args.action == "status":
        state = service.BackupState.load(settings)
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(state.last_run))
        print(f"backup: {'on' if state.enabled else 'off'}")
        if state.enabled:
            print(f"schedule: every {settings.backup_interval_h:g} h ([backup] interval_h)")
        if state.last_seq:
            print(f"last snapshot: {state.last_seq} ({when})")
        if state.last_error:
            print(f"last error: {state.last_error}")
        return 0
    if args.action == "restore":
        phrase = getpass.getpass("Recovery phrase (12 words): ")
        done = await service.restore(
            settings, secrets, phrase, http, keep_devices=args.keep_devices, progress=_progress
        )
        print(f"Restored snapshot {done['snapshot']} into {settings.state_dir}.")
        if done["devices_to_pair"]:
            print(f"{done['devices_to_pair']} paired devices must pair again with this PC.")
        return 0
    keys = service._keys(secrets)
    forgot, freed = await engine.prune(keys, RemoteVault(settings.relay_url, keys, http))
    print(f"Pruned {forgot} snapshots and {freed} chunks no snapshot uses.")
    return 0
