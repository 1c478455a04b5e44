"""Encrypted backup and restore throughput beside `tar | zstd`, and what an increment costs.

A profile with a database of BENCH_BACKUP_MB megabytes of notes and history (default 40) is
backed up through a real Relay process on loopback (chunking, sealing, uploading), then:
  - backed up again unchanged (only a manifest should go),
  - changed by about 1 % (new notes) and backed up again: bytes sent vs the profile's size
    (target: at most 5 %),
  - restored into a fresh folder.
The baseline is `tar -c profile | zstd -3` of the same folder, to a file, in the same run.
Last line: one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp

from app.backup import service
from app.backup.keys import new_phrase
from app.link.relay_link import RelayLink
from app.store.memory import Partition
from app.store.secrets import SecretStore
from tests.relay.conftest import RelayProcess, free_port
from tests.support.fixtures import make_settings, open_runtime

SIZE_MB = int(os.environ.get("BENCH_BACKUP_MB", "40"))
OWNER = Partition(user_id="owner", role="owner", guild_id="default")


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


async def main() -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="ora-bench-backup-"))
    relay = RelayProcess(data_dir=tmp / "relay", port=free_port(), env={})
    relay.start()
    try:
        rt = await open_runtime(tmp / "pc", None, relay_url=relay.url)
        link = RelayLink(runtime=rt, relay_urls=[relay.url])
        link.start()
        async with asyncio.timeout(30):
            await link.wait_connected()
        await link.stop()

        def filler() -> str:
            return os.urandom(150).hex()  # each note its own text

        n = 0
        while du(rt.settings.state_dir) < SIZE_MB * 1024 * 1024:
            for _ in range(500):
                rt.memory.remember(OWNER, f"note {n} {filler()}")
                rt.memory.append(OWNER, "user", f"message {n} {filler()[:200]}")
                n += 1
        phrase = new_phrase()
        words = phrase.split()
        service.confirm(rt.settings, rt.secrets, phrase, {1: words[0]})
        profile = du(rt.settings.state_dir)

        started = time.perf_counter()
        archive = tmp / "profile.tar.zst"
        subprocess.run(
            f"tar -C {rt.settings.state_dir} -cf - . | zstd -3 -q -o {archive}",
            shell=True,
            check=True,
        )
        tar_s = time.perf_counter() - started

        async with aiohttp.ClientSession() as http:
            started = time.perf_counter()
            first = await service.run(rt.settings, rt.secrets, http)
            backup_s = time.perf_counter() - started
            again = await service.run(rt.settings, rt.secrets, http)
            for i in range(max(1, n // 100)):  # about 1 % more notes
                rt.memory.remember(OWNER, f"new note {i} {filler()}")
            changed = await service.run(rt.settings, rt.secrets, http)
            await rt.close()

            target = make_settings(tmp / "new-pc", relay_url=relay.url)
            target.state_dir.mkdir(parents=True)
            secrets = SecretStore.open(target.profile, target.state_dir, use_keyring=False)
            started = time.perf_counter()
            await service.restore(target, secrets, phrase, http)
            restore_s = time.perf_counter() - started
        started = time.perf_counter()
        out = tmp / "untar"
        out.mkdir()
        subprocess.run(f"zstd -d -q -c {archive} | tar -C {out} -xf -", shell=True, check=True)
        untar_s = time.perf_counter() - started
        mb = profile / 1024 / 1024
        return {
            "profile_mb": round(mb, 1),
            "backup_mb_s": round(mb / backup_s, 1),
            "tar_zstd_mb_s": round(mb / tar_s, 1),
            "restore_mb_s": round(mb / restore_s, 1),
            "untar_zstd_mb_s": round(mb / untar_s, 1),
            "first_upload_mb": round(first.uploaded_bytes / 1024 / 1024, 1),
            "tar_zstd_mb": round(archive.stat().st_size / 1024 / 1024, 1),
            "unchanged_upload_kb": round(again.uploaded_bytes / 1024, 1),
            "one_percent_change_upload_pct": round(100 * changed.uploaded_bytes / profile, 2),
            "chunks": first.chunks,
        }
    finally:
        relay.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
