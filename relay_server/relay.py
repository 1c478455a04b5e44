"""The Relay's services, shared by every handler, and where a peer is reached in a cluster.

One `Relay` per application, stored under the typed key `RELAY` by the factory's lifecycle
(`relay_server.app`). Its methods hide whether a peer is connected here or, through the cluster
bus (`relay_server.cluster`), to another instance.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from protocol import messages as m
from relay_server import cluster as bus
from relay_server.billing import Billing
from relay_server.cloud_routing import CloudRouter
from relay_server.cluster import RedisCluster
from relay_server.errors import RelayError
from relay_server.hub import Connection, Hub
from relay_server.metrics import Metrics
from relay_server.pairing_service import PairingService
from relay_server.rate_limit import AcceptRate, RateLimiter
from relay_server.revocation import Revocations
from relay_server.settings import RelaySettings
from relay_server.storage import RelayStore
from relay_server.token_service import TokenService

if TYPE_CHECKING:
    from relay_server.push_events import Notifier


OWNER_CACHE = 500_000  # entries (~150 B each)


@dataclass
class Relay:
    """The Relay's services, shared by the handlers."""

    settings: RelaySettings
    store: RelayStore
    tokens: TokenService
    pairings: PairingService
    billing: Billing
    revocations: Revocations
    registrations: RateLimiter  # Node registrations per client address
    hub: Hub = field(default_factory=Hub)
    cloud: CloudRouter = field(default_factory=CloudRouter)
    metrics: Metrics = field(default_factory=Metrics)
    decisions: dict[str, asyncio.Future[m.PairDecision]] = field(default_factory=dict)
    pake_replies: dict[str, asyncio.Future[m.PairPakeReply]] = field(default_factory=dict)
    cluster: RedisCluster | None = None
    notifier: Notifier | None = None  # Web Push (relay_server.push_events)
    accepts: AcceptRate = field(default_factory=lambda: AcceptRate(0.0, 1))  # new sockets/s
    # Device raw id -> its Node's raw id, for frames to devices on other instances: a device
    # never changes Node, so a row read once stays true and the routing path skips the
    # database. Bounded; the oldest entries go first.
    device_owners: dict[bytes, bytes] = field(default_factory=dict)
    _node_watch: dict[str, int] = field(default_factory=dict)  # node -> local devices watching

    async def owner_of(self, device_raw: bytes) -> bytes | None:
        """The raw id of a device's Node (None: no such device), cached (see device_owners)."""
        owner = self.device_owners.get(device_raw)
        if owner is None:
            row = await self.store.device(str(uuid.UUID(bytes=device_raw)))
            if row is None:
                return None
            owner = uuid.UUID(row.node_id).bytes
            if len(self.device_owners) >= OWNER_CACHE:
                del self.device_owners[next(iter(self.device_owners))]
            self.device_owners[device_raw] = owner
        return owner

    async def node_is_online(self, node_id: str) -> bool:
        """Connected here, or (in a cluster) to another instance."""
        if self.hub.node_online(node_id):
            return True
        return self.cluster is not None and await self.cluster.is_online(node_id)

    async def to_node(self, node_id: str, message: m.Message) -> bool:
        """Deliver a control message to a Node wherever it is connected."""
        return await self._deliver("node", node_id, message)

    async def to_device(self, device_id: str, message: m.Message) -> bool:
        """Deliver a control message to a device wherever it is connected."""
        return await self._deliver("device", device_id, message)

    async def _deliver(self, role: str, peer_id: str, message: m.Message) -> bool:
        # Looked up only among peers of the expected kind: ids of Nodes and devices may clash.
        local = (self.hub.nodes if role == "node" else self.hub.devices).get(peer_id)
        if local is not None:
            return local.send_message(message)
        if self.cluster is None:
            return False
        body = bus.encode_peer(bus.PeerTag.CONTROL, m.encode(message).encode())
        return await self.cluster.publish(bus.peer_channel(role, peer_id), body) > 0

    async def announce_node(self, node_id: str, online: bool) -> None:
        """Tell the Node's devices, here and on other instances, that it came or went."""
        presence = m.Presence(peer_id=node_id, online=online)
        for device in self.hub.devices_of(node_id):
            device.send_message(presence)
        if self.cluster is not None:
            if online:
                await self.cluster.node_online(node_id)
            else:
                await self.cluster.node_offline(node_id)
            body = bus.encode_presence(self.cluster.instance, m.encode(presence))
            await self.cluster.publish(bus.node_channel(node_id), body)

    async def offer_workers(self) -> None:
        """Tell other instances how many workers are here and how busy (their devices pick)."""
        if self.cluster is not None:
            await self.cluster.workers_here(len(self.cloud.workers), len(self.cloud.bindings))

    async def end_cloud_session(self, device_id: str) -> None:
        """Forget a device's Cloud session here and on the instance whose worker holds it."""
        had_local = self.cloud.worker_of(device_id) is not None
        self.cloud.unbind(device_id)
        elsewhere = self.cloud.remote.pop(device_id, None)
        if self.cluster is None:
            return
        if elsewhere is not None:
            body = bus.encode_cloud(bus.CloudTag.UNBIND, self.cluster.instance, device_id.encode())
            await self.cluster.publish(bus.cloud_channel(elsewhere), body)
        if had_local:
            await self.offer_workers()

    async def joined(self, conn: Connection) -> None:
        """Listen for deliveries to a newly attached peer from other instances."""
        if self.cluster is None:
            return
        await self.cluster.subscribe(bus.peer_channel(conn.role, conn.peer_id), _deliverer(conn))
        if conn.role == "device":
            watchers = self._node_watch.get(conn.node_id, 0)
            self._node_watch[conn.node_id] = watchers + 1
            if watchers == 0:
                await self.cluster.subscribe(
                    bus.node_channel(conn.node_id), _node_events(self, conn.node_id)
                )

    async def left(self, conn: Connection) -> None:
        if self.cluster is None:
            return
        await self.cluster.unsubscribe(bus.peer_channel(conn.role, conn.peer_id))
        if conn.role == "device":
            watchers = self._node_watch.get(conn.node_id, 1) - 1
            if watchers <= 0:
                self._node_watch.pop(conn.node_id, None)
                await self.cluster.unsubscribe(bus.node_channel(conn.node_id))
            else:
                self._node_watch[conn.node_id] = watchers

    async def refuse(
        self, err: RelayError, *, source: str = "", node_id: str = "", device_id: str = ""
    ) -> None:
        """Count and audit a refusal (metadata only)."""
        self.metrics.refusals.labels(err.code).inc()
        await self.store.audit(
            f"refused:{err.code}",
            node_id=node_id,
            device_id=device_id,
            source=source,
            detail=err.message,
        )


RELAY = web.AppKey("relay", Relay)


def _deliverer(conn: Connection) -> Callable[[bytes], Awaitable[None]]:
    """What another instance publishes for a peer connected here."""

    async def deliver(data: bytes) -> None:
        tag, body = bus.decode_peer(data)
        if tag is bus.PeerTag.FRAME:
            conn.send(body)
        elif tag is bus.PeerTag.CONTROL:
            conn.send(body.decode("utf-8"))
        else:
            await conn.close(m.Revoked(reason=body.decode("utf-8")))

    return deliver


def _node_events(relay: Relay, node_id: str) -> Callable[[bytes], Awaitable[None]]:
    """A Node's presence, announced by the instance it is connected to."""

    async def on_event(data: bytes) -> None:
        assert relay.cluster is not None
        origin, presence = bus.decode_presence(data)
        if origin == relay.cluster.instance:
            return  # this instance already told its own devices
        for device in relay.hub.devices_of(node_id):
            device.send(presence)

    return on_event
