"""Back a profile up into a vault and restore it, incrementally and all-or-nothing.

A snapshot is the profile folder captured consistently (SQLite through its backup API, as the
updater's data snapshot does), split into content-defined chunks (FastCDC, `fastcdc`), each
sealed on its own (app.backup.sealing). A chunk the vault already holds is not sent again, so
a second backup of an unchanged profile uploads only its manifest. The manifest lists every
file with its chunk ids, the secrets the profile needs to stay whole (the audit chain's key and
head; the owner's API keys only when they chose so) and the previous manifest's hash.

Restore fetches and opens everything into a staging folder first; the profile is replaced only
when every chunk opened and every file matched its recorded hash, so a tampered, truncated or
reordered backup restores nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import mmap
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from fastcdc import fastcdc

from app.backup.keys import BackupKeys
from app.backup.sealing import (
    BackupTampered,
    chunk_id,
    open_chunk,
    open_manifest,
    seal_chunk,
    seal_manifest,
)
from app.update import snapshot

FORMAT = "ora-backup/1"
# Not backed up: the browser profile (its logged-in sessions stay on this PC), the local
# server's token, the running instance's lock, and files the secret store keeps apart.
EXCLUDED = ("browser", "local-token", "node.lock", "secrets.json", "backup.json")
# Secrets a restored profile needs to be whole; the Node's identity and Relay credential are
# deliberately not among them (a new PC pairs its devices again).
PROFILE_SECRETS = ("ora.audit-key", "ora.audit-head")
# SQLite changes 4 KB pages here and there: small chunks keep increments small (bench/backup.py,
# 20 MB profile, four runs each: a 1 % change sent 3.9-4.7 % of the profile at 8 KB, 4.7-5.6 %
# at 16 KB); a manifest lists 65 bytes per chunk, ~0.8 % of the profile at 8 KB.
AVG_CHUNK = 8 * 1024
PARALLEL = 8  # chunk requests in flight at once: one round trip per chunk would bound throughput

Progress = Callable[[str, int, int], None]  # (stage, done, total)
T = TypeVar("T")


class Vault(Protocol):
    """Where sealed chunks and manifests are kept (the service, or a folder in tests)."""

    async def missing(self, ids: list[str]) -> set[str]: ...
    async def put_chunk(self, cid: str, blob: bytes) -> None: ...
    async def get_chunk(self, cid: str) -> bytes: ...
    async def put_manifest(self, seq: int, blob: bytes) -> None: ...
    async def get_manifest(self, seq: int) -> bytes: ...
    async def manifests(self) -> list[int]: ...
    async def delete_chunk(self, cid: str) -> None: ...
    async def delete_manifest(self, seq: int) -> None: ...


@dataclass(frozen=True)
class BackupResult:
    seq: int
    files: int
    chunks: int
    new_chunks: int
    uploaded_bytes: int
    manifest_hash: str


def _files(root: Path) -> list[Path]:
    return sorted(
        p for p in root.rglob("*") if p.is_file() and p.relative_to(root).parts[0] not in EXCLUDED
    )


def _nothing(stage: str, done: int, total: int) -> None:
    pass


# Where one chunk lies in the captured copy: (file, offset, length).
Location = tuple[Path, int, int]


def _capture(
    profile_dir: Path, keys: BackupKeys, staging: Path, progress: Progress
) -> tuple[list[dict[str, Any]], dict[str, Location]]:
    """The profile copied consistently into `staging`, as files with their chunk ids, and where
    each chunk lies. Nothing is sealed yet: only the chunks the vault lacks will be, one at a
    time, so memory stays a few chunks however large the profile (files are mapped, not read)."""
    snapshot.take(profile_dir, staging)
    root = staging / "data"
    files: list[dict[str, Any]] = []
    where: dict[str, Location] = {}
    paths = _files(root) if root.is_dir() else []
    for n, path in enumerate(paths):
        size = path.stat().st_size
        ids: list[str] = []
        digest = hashlib.sha256()
        if size:
            with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
                digest.update(data)
                for chunk in fastcdc(data, avg_size=AVG_CHUNK):
                    cid = chunk_id(keys, data[chunk.offset : chunk.offset + chunk.length])
                    where.setdefault(cid, (path, chunk.offset, chunk.length))
                    ids.append(cid)
        files.append(
            {
                "path": path.relative_to(root).as_posix(),
                "mode": path.stat().st_mode & 0o777,
                "size": size,
                "sha256": digest.hexdigest(),
                "chunks": ids,
            }
        )
        progress("reading", n + 1, len(paths))
    return files, where


def _seal_at(keys: BackupKeys, cid: str, at: Location) -> bytes:
    """Read one chunk back from the captured copy and seal it."""
    path, offset, length = at
    with path.open("rb") as f:
        f.seek(offset)
        found, blob = seal_chunk(keys, f.read(length))
    if found != cid:  # the copy is private to this backup: a change here is a fault, not a race
        raise OSError(f"the captured copy of {path.name} changed during the backup")
    return blob


WINDOW = 16  # chunks of one file fetched before they are written: memory stays small


async def _restore_file(
    entry: dict[str, Any], keys: BackupKeys, vault: Vault, target: Path
) -> None:
    """One file of the snapshot, written as its chunks arrive and checked against its hash."""

    async def fetch(cid: str) -> bytes:
        return open_chunk(keys, cid, await vault.get_chunk(cid))

    await asyncio.to_thread(target.parent.mkdir, 0o700, True, True)
    digest, size = hashlib.sha256(), 0
    chunks = list(entry["chunks"])
    out = await asyncio.to_thread(target.open, "wb")  # in a staging folder only the owner reads
    try:
        for start in range(0, len(chunks), WINDOW):
            data = b"".join(await _each(chunks[start : start + WINDOW], fetch))
            digest.update(data)
            size += len(data)
            await asyncio.to_thread(out.write, data)
    finally:
        await asyncio.to_thread(out.close)
    if size != entry["size"] or digest.hexdigest() != entry["sha256"]:
        raise BackupTampered(f"{entry['path']} does not match the snapshot")
    await asyncio.to_thread(target.chmod, int(entry["mode"]) & 0o700 or 0o600)


def _swap(staging: Path, profile_dir: Path) -> None:
    """Put the restored profile in place; what no backup holds stays as this PC has it."""
    if profile_dir.exists():
        for name in EXCLUDED:
            if (profile_dir / name).exists() and not (staging / name).exists():
                (profile_dir / name).rename(staging / name)
        shutil.rmtree(profile_dir)
    staging.rename(profile_dir)


async def _each(items: list[str], work: Callable[[str], Awaitable[T]]) -> list[T]:
    """`work` on every item, PARALLEL at a time, results in order; the first failure stops
    the rest and is raised as itself (not as an ExceptionGroup)."""
    gate = asyncio.Semaphore(PARALLEL)

    async def one(item: str) -> T:
        async with gate:
            return await work(item)

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(item)) for item in items]
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [task.result() for task in tasks]


async def backup(
    profile_dir: Path,
    keys: BackupKeys,
    vault: Vault,
    *,
    seq: int,
    prev_hash: str,
    secrets: dict[str, str],
    progress: Progress = _nothing,
) -> BackupResult:
    """Snapshot `profile_dir` as snapshot number `seq` (one more than the last)."""
    with tempfile.TemporaryDirectory(prefix="ora-backup-") as tmp:
        files, where = await asyncio.to_thread(
            _capture, profile_dir, keys, Path(tmp) / "snap", progress
        )
        missing = await vault.missing(sorted(where))
        sent: list[int] = []

        async def put(cid: str) -> None:
            blob = await asyncio.to_thread(_seal_at, keys, cid, where[cid])
            await vault.put_chunk(cid, blob)
            sent.append(len(blob))
            progress("uploading", len(sent), len(missing))

        await _each(sorted(missing), put)
    uploaded = sum(sent)
    manifest = {
        "format": FORMAT,
        "seq": seq,
        "created": time.time(),
        "prev": prev_hash,
        "files": files,
        "secrets": secrets,
    }
    blob = seal_manifest(keys, manifest)
    await vault.put_manifest(seq, blob)
    return BackupResult(
        seq=seq,
        files=len(files),
        chunks=len(where),
        new_chunks=len(missing),
        uploaded_bytes=uploaded + len(blob),
        manifest_hash=hashlib.sha256(blob).hexdigest(),
    )


async def latest(keys: BackupKeys, vault: Vault, *, at_least: int = 0) -> dict[str, Any]:
    """The newest snapshot this phrase opens; refuses one older than `at_least` (rollback)."""
    numbers = sorted(await vault.manifests(), reverse=True)
    if not numbers:
        raise BackupTampered("this backup holds no snapshot yet")
    newest = numbers[0]
    if newest < at_least:
        raise BackupTampered(
            f"the service offers snapshot {newest}, older than snapshot {at_least} this PC "
            "made: it is not the latest backup"
        )
    return open_manifest(keys, newest, await vault.get_manifest(newest))


async def restore(
    manifest: dict[str, Any],
    keys: BackupKeys,
    vault: Vault,
    profile_dir: Path,
    *,
    progress: Progress = _nothing,
) -> None:
    """Rebuild the profile from `manifest`; nothing is written to it unless all of it checks."""
    if manifest.get("format") != FORMAT:
        raise BackupTampered("not an ORA backup snapshot")
    staging = profile_dir.with_name(profile_dir.name + ".restoring")
    await asyncio.to_thread(shutil.rmtree, staging, True)
    await asyncio.to_thread(staging.mkdir, 0o700, True)
    try:
        files = manifest["files"]
        for n, entry in enumerate(files):
            target = (staging / entry["path"]).resolve()
            if not target.is_relative_to(staging.resolve()):
                raise BackupTampered(f"{entry['path']!r} points outside the profile")

            await _restore_file(entry, keys, vault, target)
            progress("restoring", n + 1, len(files))
    except BaseException:
        await asyncio.to_thread(shutil.rmtree, staging, True)
        raise
    await asyncio.to_thread(_swap, staging, profile_dir)


def retained(created: dict[int, float]) -> set[int]:
    """Snapshots kept: the newest, 7 daily, 4 weekly and 12 monthly (the newest of each)."""
    keep: set[int] = set()
    if created:
        keep.add(max(created))
    for bucket, count in (("%Y-%m-%d", 7), ("%G-%V", 4), ("%Y-%m", 12)):
        seen: list[str] = []
        for seq in sorted(created, key=lambda s: created[s], reverse=True):
            label = time.strftime(bucket, time.gmtime(created[seq]))
            if label not in seen:
                seen.append(label)
                if len(seen) > count:
                    break
                keep.add(seq)
    return keep


async def prune(keys: BackupKeys, vault: Vault) -> tuple[int, int]:
    """Forget snapshots past retention and the chunks no kept snapshot uses: (snapshots, chunks)."""
    manifests = {
        seq: open_manifest(keys, seq, await vault.get_manifest(seq))
        for seq in await vault.manifests()
    }
    keep = retained({s: float(m["created"]) for s, m in manifests.items()})
    used = {c for s in keep for f in manifests[s]["files"] for c in f["chunks"]}
    dropped = {c for s in set(manifests) - keep for f in manifests[s]["files"] for c in f["chunks"]}
    for seq in set(manifests) - keep:
        await vault.delete_manifest(seq)
    for cid in dropped - used:
        await vault.delete_chunk(cid)
    return len(set(manifests) - keep), len(dropped - used)
