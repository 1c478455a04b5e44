"""Revocation reaches live sockets: on this instance at once, on every other through the cluster.

A token check happens when a socket opens; what is revoked afterwards must end the sockets
already open. Three things revoke:

    family   a reused refresh token (its whole token family), and a family's expiry
    device   the owner revoked the device (every family of it)
    account  the account's subscription lapsed (every device of it)

In a cluster each revocation is published once on the `revoke` channel, which every instance
listens to; each closes the matching sockets it holds. The delivery is one kind byte, the id
(36 characters, a UUID), then the control message the socket is closed with:

    |-kind-|---------id (36)---------|--- message JSON ---|
      F D A
"""

from __future__ import annotations

import asyncio
import logging

from protocol import messages as m
from relay_server.cluster import RedisCluster
from relay_server.hub import Connection, Hub

_LOGGER = logging.getLogger(__name__)
CHANNEL = "revoke"
FAMILY, DEVICE, ACCOUNT = b"F", b"D", b"A"
_ID_LEN = 36


class Revocations:
    """Ends the live sockets of what was revoked, wherever they are connected."""

    def __init__(self, hub: Hub, cluster: RedisCluster | None) -> None:
        self._hub = hub
        self._cluster = cluster

    async def start(self) -> None:
        """Listen for revocations made on other instances."""
        if self._cluster is not None:
            await self._cluster.subscribe(CHANNEL, self._on_published)

    async def family(self, family_id: str, reason: m.Message) -> int:
        """Close every socket opened with a token of this family; returns how many here."""
        return await self._revoke(FAMILY, family_id, reason)

    async def device(self, device_id: str, reason: m.Message) -> int:
        return await self._revoke(DEVICE, device_id, reason)

    async def account(self, account_id: str, reason: m.Message) -> int:
        return await self._revoke(ACCOUNT, account_id, reason)

    async def _revoke(self, kind: bytes, ident: str, reason: m.Message) -> int:
        closed = await self._close_here(kind, ident, reason)
        if self._cluster is not None:
            body = kind + ident.encode().ljust(_ID_LEN)[:_ID_LEN] + m.encode(reason).encode()
            await self._cluster.publish(CHANNEL, body)
        return closed

    def _matching(self, kind: bytes, ident: str) -> list[Connection]:
        if kind == FAMILY:
            return self._hub.devices_where(lambda c: c.family_id == ident)
        if kind == DEVICE:
            live = self._hub.devices.get(ident)
            return [live] if live is not None else []
        return self._hub.devices_of(ident)

    async def _close_here(self, kind: bytes, ident: str, reason: m.Message) -> int:
        sockets = self._matching(kind, ident)
        # All at once: a socket that does not take its last message holds up only itself.
        await asyncio.gather(*(conn.close(reason) for conn in sockets))
        if sockets:
            _LOGGER.info("closed %d revoked socket(s)", len(sockets))
        return len(sockets)

    async def _on_published(self, data: bytes) -> None:
        kind, ident = data[:1], data[1 : 1 + _ID_LEN].decode().strip()
        if kind not in (FAMILY, DEVICE, ACCOUNT):
            _LOGGER.warning("unknown revocation kind %r", kind)
            return
        reason = m.decode(data[1 + _ID_LEN :])
        await self._close_here(kind, ident, reason)
