"""The vault at the service, over HTTPS: what app.backup.engine reads and writes."""

from __future__ import annotations

from typing import Any

import aiohttp

from app.backup.keys import BackupKeys


class BackupRefused(Exception):
    """The service refused (the message is the service's, e.g. the quota)."""


class RemoteVault:
    """One vault at `base_url` (the API: `https://api.<domain>` or the Relay's URL)."""

    def __init__(self, base_url: str, keys: BackupKeys, http: aiohttp.ClientSession) -> None:
        self._base = f"{base_url.rstrip('/')}/v1/backup/{keys.vault_id}"
        self._root = base_url.rstrip("/")
        self._keys = keys
        self._http = http
        self._auth = {"Authorization": f"Bearer {keys.vault_token}"}

    async def _call(self, method: str, path: str, **kwargs: Any) -> aiohttp.ClientResponse:
        try:
            resp = await self._http.request(method, self._base + path, headers=self._auth, **kwargs)
        except aiohttp.ClientError as err:
            raise BackupRefused(f"the backup service cannot be reached ({err})") from None
        if resp.status >= 400:
            raise BackupRefused(await _message(resp))
        return resp

    async def open(self, node_token: str, *, adopt: bool = False) -> None:
        """Create the vault for the Node's account (once; again is fine). `adopt`: right after
        a restore on a new PC, whose Node is a new account, move the backup to it by showing
        the vault's own token; otherwise a vault another account holds is refused."""
        body = {"vault_id": self._keys.vault_id, "token_sha256": self._keys.vault_token_hash}
        if adopt:
            body["vault_token"] = self._keys.vault_token
        try:
            resp = await self._http.post(
                f"{self._root}/v1/backup/vaults",
                json=body,
                headers={"Authorization": f"Bearer {node_token}"},
            )
        except aiohttp.ClientError as err:
            raise BackupRefused(f"the backup service cannot be reached ({err})") from None
        if resp.status == 409:
            raise BackupRefused(
                "this backup now belongs to another ORA (it was restored on another PC): turn "
                "backup on again here, with a new recovery phrase, to back this PC up"
            )
        if resp.status >= 400:
            raise BackupRefused(await _message(resp))

    async def missing(self, ids: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(ids), 10000):
            resp = await self._call("POST", "/missing", json={"ids": ids[start : start + 10000]})
            found.update((await resp.json())["missing"])
        return found

    async def put_chunk(self, cid: str, blob: bytes) -> None:
        await self._call("PUT", f"/chunks/{cid}", data=blob)

    async def get_chunk(self, cid: str) -> bytes:
        return await (await self._call("GET", f"/chunks/{cid}")).read()

    async def put_manifest(self, seq: int, blob: bytes) -> None:
        await self._call("PUT", f"/manifests/{seq}", data=blob)

    async def get_manifest(self, seq: int) -> bytes:
        return await (await self._call("GET", f"/manifests/{seq}")).read()

    async def manifests(self) -> list[int]:
        resp = await self._call("GET", "/manifests")
        return [int(n) for n in (await resp.json())["manifests"]]

    async def delete_chunk(self, cid: str) -> None:
        await self._call("DELETE", f"/chunks/{cid}")

    async def delete_manifest(self, seq: int) -> None:
        await self._call("DELETE", f"/manifests/{seq}")


async def _message(resp: aiohttp.ClientResponse) -> str:
    try:
        body = await resp.json(content_type=None)
        return str(body["error"]["message"])
    except (ValueError, KeyError, TypeError, aiohttp.ContentTypeError):
        if resp.status == 401:
            return "this recovery phrase opens no backup at this service"
        return f"the backup service answered {resp.status}"
