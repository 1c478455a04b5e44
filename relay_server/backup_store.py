"""Owners' encrypted backups: an object store of opaque blobs behind the API (`api.<domain>`).

The service holds, per vault, sealed chunks named by keyed hashes and sealed snapshot
manifests numbered 1, 2, 3... It can read none of them (app/backup seals them with keys from
the owner's recovery phrase) and learns nothing but the blobs' sizes and when they came.

    POST   /v1/backup/vaults                    Node credential: open a vault for its account
                                                {"vault_id", "token_sha256", "vault_token"}
                                                (the token moves another account's vault here)
    POST   /v1/backup/{vault}/missing           which of {"ids": [...]} the vault lacks
    PUT    /v1/backup/{vault}/chunks/{id}       store a chunk (ids are 64 hex digits)
    GET    /v1/backup/{vault}/chunks/{id}
    DELETE /v1/backup/{vault}/chunks/{id}
    GET    /v1/backup/{vault}/manifests         {"manifests": [seq, ...]}
    PUT    /v1/backup/{vault}/manifests/{seq}   once per number: a snapshot is never replaced
    GET    /v1/backup/{vault}/manifests/{seq}
    DELETE /v1/backup/{vault}/manifests/{seq}

Every call but the first carries the vault's own credential (derived from the phrase, so a
new PC reaches its backup with the phrase alone); the service keeps only its SHA-256. A vault
is bounded by its account's quota (`ORA_RELAY_BACKUP_QUOTA_BYTES`, all the account's vaults
together, so opening more vaults gains nothing): past it, a write is refused with
`backup_quota_exceeded` and nothing already stored is touched. What each account keeps is
sampled hourly into the ledger (`sample_storage`) and billed per GB-month on its statement.

Blobs are files under one folder (`ORA_RELAY_BACKUP_DIR`; several Relay instances share it as
they share PostgreSQL, e.g. a mounted volume or an object-store mount).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

_LOGGER = logging.getLogger(__name__)
_ID = re.compile(r"^[0-9a-f]{64}$")
MAX_CHUNK = 4 * 1024 * 1024
MAX_MANIFEST = 32 * 1024 * 1024
MAX_SEQ = 10**9

# (Node credential) -> the account it belongs to, or None.
NodeAccount = Callable[[str], Awaitable[str | None]]


def _error(status: int, code: str, message: str) -> web.HTTPException:
    """A refusal in the Relay's JSON error shape."""
    body = json.dumps({"error": {"code": code, "message": message}})
    exc = web.HTTPException(text=body, content_type="application/json")
    exc.set_status(status)
    return exc


@dataclass
class _Owners:
    """Which account each vault belongs to, and each account's vaults (listed at `when`)."""

    when: float = 0.0
    owner: dict[str, str] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=dict)

    def put(self, vault: str, account: str) -> None:
        old = self.owner.get(vault)
        if old is not None:
            self.members[old].discard(vault)
        self.owner[vault] = account
        self.members.setdefault(account, set()).add(vault)


@dataclass
class BackupStore:
    """The vaults under `root`; each account's together bounded by `quota_bytes`."""

    root: Path
    quota_bytes: int
    _usage: dict[str, tuple[float, int]] = field(default_factory=dict)  # vault -> (when, bytes)
    # Listed again at most every 30 s, so vaults opened or moved by another instance count.
    _index: _Owners = field(default_factory=_Owners)

    def _vault(self, vault: str) -> Path:
        if not _ID.match(vault):
            raise _error(404, "not_found", "no vault")
        return self.root / vault

    def _meta(self, vault: str) -> dict[str, str] | None:
        try:
            meta: dict[str, str] = json.loads((self._vault(vault) / "vault.json").read_text())
        except (OSError, ValueError):
            return None
        return meta

    def create(self, vault: str, token_sha256: str, account: str, vault_token: str = "") -> bool:
        """Open a vault; True if new or already this account's with this credential.

        A vault of another account moves to this one when the caller shows the vault's own
        credential (derived from the recovery phrase): that is a restore on a new PC, whose
        Node registered as a new account, going on with the owner's backup."""
        meta = self._meta(vault)
        if meta is not None:
            if not hmac.compare_digest(meta["token_sha256"], token_sha256):
                return False
            if meta["account"] == account:
                return True
            shown = hashlib.sha256(vault_token.encode()).hexdigest()
            if not vault_token or not hmac.compare_digest(meta["token_sha256"], shown):
                return False
            _LOGGER.info("backup vault moved to another account by its phrase's holder")
            self._write_meta(vault, {**meta, "account": account, "moved": time.time()})
            self._index.put(vault, account)
            return True
        path = self._vault(vault)
        path.mkdir(parents=True, exist_ok=True)
        (path / "chunks").mkdir(exist_ok=True)
        (path / "manifests").mkdir(exist_ok=True)
        self._write_meta(
            vault, {"account": account, "token_sha256": token_sha256, "created": time.time()}
        )
        self._index.put(vault, account)
        return True

    def _write_meta(self, vault: str, meta: dict[str, object]) -> None:
        path = self._vault(vault)
        tmp = path / f"vault.json.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(meta))
        tmp.rename(path / "vault.json")

    def authorise(self, vault: str, token: str) -> Path:
        meta = self._meta(vault)
        digest = hashlib.sha256(token.encode()).hexdigest()
        if meta is None or not hmac.compare_digest(meta["token_sha256"], digest):
            raise _error(401, "unauthorized", "not this backup's credential")
        return self._vault(vault)

    def used(self, vault: str) -> int:
        """Bytes the vault holds (recounted at most every 30 s; writes here add to it)."""
        when, size = self._usage.get(vault, (0.0, 0))
        if time.monotonic() - when > 30:
            base = self._vault(vault)
            size = sum(p.stat().st_size for p in base.rglob("*") if p.is_file())
            self._usage[vault] = (time.monotonic(), size)
        return size

    def _owners(self, max_age_s: float = 30.0) -> _Owners:
        if time.monotonic() - self._index.when > max_age_s:
            index = _Owners(when=time.monotonic())
            for path in self.root.iterdir():
                if _ID.match(path.name) and (meta := self._meta(path.name)) is not None:
                    index.put(path.name, meta["account"])
            self._index = index
        return self._index

    def usage_by_account(self) -> dict[str, int]:
        """Bytes each account keeps, all its vaults together (listed afresh)."""
        index = self._owners(max_age_s=0.0)
        return {a: sum(self.used(v) for v in vaults) for a, vaults in index.members.items()}

    def account_used(self, vault: str) -> int:
        """Bytes kept by the account `vault` belongs to, all its vaults together."""
        index = self._owners()
        if vault not in index.owner and (meta := self._meta(vault)) is not None:
            index.put(vault, meta["account"])
        account = index.owner.get(vault)
        return sum(self.used(v) for v in index.members.get(account, {vault})) if account else 0

    def _add(self, vault: str, delta: int) -> None:
        when, size = self._usage.get(vault, (0.0, 0))
        self._usage[vault] = (when, size + delta)

    def write(self, vault: str, path: Path, data: bytes, *, replace: bool) -> bool:
        """Store a blob (atomically); False if it exists and may not be replaced."""
        if path.exists() and not replace:
            return False
        if self.account_used(vault) + len(data) > self.quota_bytes:
            raise _error(
                413,
                "backup_quota_exceeded",
                f"the backup is over its quota of "
                f"{self.quota_bytes // (1024 * 1024)} MB; nothing more was stored",
            )
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.rename(path)
        self._add(vault, len(data))
        return True

    def delete(self, vault: str, path: Path) -> None:
        try:
            size = path.stat().st_size
            path.unlink()
            self._add(vault, -size)
        except FileNotFoundError:
            pass


BACKUP = web.AppKey("backup_store", BackupStore)

# (account, bytes, when) -> recorded in the ledger (Billing.record_storage).
RecordStorage = Callable[[str, int, float], Awaitable[bool]]


async def sample_storage(store: BackupStore, record: RecordStorage, interval_s: float) -> None:
    """Record each account's stored bytes now and every `interval_s`, until cancelled."""
    while True:
        try:
            usage = await asyncio.to_thread(store.usage_by_account)
            now = time.time()
            for account, size in usage.items():
                await record(account, size, now)
        except Exception:  # a failed sample is an hour not billed, never a dead sampler
            _LOGGER.exception("backup storage sample failed")
        await asyncio.sleep(interval_s)


def storage_sampler(
    record: Callable[[web.Application], RecordStorage], interval_s: float
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context sampling each account's bytes into the ledger for the app's life."""

    async def sampler(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(sample_storage(app[BACKUP], record(app), interval_s))
        yield
        task.cancel()
        await asyncio.wait({task})

    return sampler


@dataclass(frozen=True)
class NodeAuth:
    """How the API tells a Node's credential to the account it belongs to."""

    account_of: NodeAccount


NODE_AUTH = web.AppKey("backup_node_auth", NodeAuth)


def _token(request: web.Request) -> str:
    return request.headers.get("Authorization", "").removeprefix("Bearer ").strip()


async def _body(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise _error(413, "too_large", "too large")
    data = await request.content.read(limit + 1)
    if len(data) > limit:
        raise _error(413, "too_large", "too large")
    return data


def _chunk_path(base: Path, cid: str) -> Path:
    if not _ID.match(cid):
        raise _error(400, "bad_request", "bad chunk id")
    return base / "chunks" / cid


def _manifest_path(base: Path, seq: str) -> Path:
    if not seq.isdigit() or not 0 < int(seq) <= MAX_SEQ:
        raise _error(400, "bad_request", "bad number")
    return base / "manifests" / str(int(seq))


async def open_vault(request: web.Request) -> web.Response:
    store = request.app[BACKUP]
    account = await request.app[NODE_AUTH].account_of(_token(request))
    if account is None:
        raise _error(401, "unauthorized", "not a Node")
    try:
        body = json.loads(await _body(request, 4096))
        vault, digest = str(body["vault_id"]), str(body["token_sha256"])
        shown = str(body.get("vault_token", ""))
    except (ValueError, KeyError, TypeError):
        raise _error(400, "bad_request", "bad body") from None
    if not _ID.match(vault) or not _ID.match(digest):
        raise _error(400, "bad_request", "bad ids")
    ok = await asyncio.to_thread(store.create, vault, digest, account, shown)
    if not ok:
        raise _error(409, "conflict", "vault taken")
    return web.json_response({"vault_id": vault, "quota_bytes": store.quota_bytes})


async def missing(request: web.Request) -> web.Response:
    store = request.app[BACKUP]
    base = store.authorise(request.match_info["vault"], _token(request))
    try:
        ids = [str(i) for i in json.loads(await _body(request, 8 * 1024 * 1024))["ids"]]
    except (ValueError, KeyError, TypeError):
        raise _error(400, "bad_request", "bad body") from None
    absent = [i for i in ids if not _chunk_path(base, i).exists()]
    return web.json_response({"missing": absent})


async def chunk(request: web.Request) -> web.StreamResponse:
    store = request.app[BACKUP]
    vault = request.match_info["vault"]
    base = store.authorise(vault, _token(request))
    path = _chunk_path(base, request.match_info["cid"])
    if request.method == "PUT":
        data = await _body(request, MAX_CHUNK)
        await asyncio.to_thread(store.write, vault, path, data, replace=True)
        return web.json_response({"stored": len(data)}, status=201)
    if request.method == "DELETE":
        await asyncio.to_thread(store.delete, vault, path)
        return web.json_response({"deleted": True})
    if not path.is_file():
        raise _error(404, "not_found", "no such chunk")
    return web.Response(body=await asyncio.to_thread(path.read_bytes))


async def manifests(request: web.Request) -> web.Response:
    store = request.app[BACKUP]
    base = store.authorise(request.match_info["vault"], _token(request))
    numbers = sorted(int(p.name) for p in (base / "manifests").iterdir() if p.name.isdigit())
    return web.json_response({"manifests": numbers})


async def manifest(request: web.Request) -> web.StreamResponse:
    store = request.app[BACKUP]
    vault = request.match_info["vault"]
    base = store.authorise(vault, _token(request))
    path = _manifest_path(base, request.match_info["seq"])
    if request.method == "PUT":
        data = await _body(request, MAX_MANIFEST)
        if not await asyncio.to_thread(store.write, vault, path, data, replace=False):
            raise _error(409, "conflict", "snapshot exists")
        return web.json_response({"stored": len(data)}, status=201)
    if request.method == "DELETE":
        await asyncio.to_thread(store.delete, vault, path)
        return web.json_response({"deleted": True})
    if not path.is_file():
        raise _error(404, "not_found", "no snapshot")
    return web.Response(body=await asyncio.to_thread(path.read_bytes))


def setup(app: web.Application, store: BackupStore, node_account: NodeAccount) -> None:
    """Mount the backup API on the Relay's application."""
    store.root.mkdir(parents=True, exist_ok=True)
    app[BACKUP] = store
    app[NODE_AUTH] = NodeAuth(node_account)
    app.router.add_post("/v1/backup/vaults", open_vault)
    app.router.add_post("/v1/backup/{vault}/missing", missing)
    for method in ("PUT", "GET", "DELETE"):
        app.router.add_route(method, "/v1/backup/{vault}/chunks/{cid}", chunk)
        app.router.add_route(method, "/v1/backup/{vault}/manifests/{seq}", manifest)
    app.router.add_get("/v1/backup/{vault}/manifests", manifests)
