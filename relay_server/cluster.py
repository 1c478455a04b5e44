"""Several Relay instances as one: presence and delivery across instances through Redis.

Channels (all under a configurable prefix):

    pn:<node id>        deliver to a Node connected to whichever instance holds it
    pd:<device id>      deliver to a device, likewise (Nodes and devices never share a
                        channel: a device named after a Node's id hears nothing of it)
    revoke              revocations, for every instance (relay_server.revocation)
    n:<node id hex>     a Node's presence changes, for the instances holding its devices
    d:<request id>      a Node's pairing decision, for the instance holding the HTTP request
    c:<instance>        a device's Cloud frames (F) or session end (U), for that instance's workers
    online:<node id>    key (with TTL) saying a Node is connected somewhere
    workers:<instance>  key (with TTL) "<workers> <sessions>": Cloud workers connected there

A delivery on pn: or pd: is one tag byte then the body:  F frame | T control JSON | R revoke-and-close.
One on c: is a tag byte, the sending instance's id (32 hex), then  F frame | U device id.
`publish` returns how many instances listened, so "nobody" means the peer is offline.
The helpers below this docstring are the only places that build or read these names and bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import uuid
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis

_LOGGER = logging.getLogger(__name__)
Handler = Callable[[bytes], Awaitable[None]]
PRESENCE_TTL_S = 60
REFRESH_S = 20.0
INSTANCE_LEN = 32  # an instance id: uuid4().hex


def peer_channel(role: str, peer_id: str) -> str:
    """Where a peer of this role ("node" or "device") hears deliveries from other instances."""
    return f"pn:{peer_id}" if role == "node" else f"pd:{peer_id}"


def node_channel(node_id: str) -> str:
    return f"n:{node_id}"


def decision_channel(request_id: str) -> str:
    return f"d:{request_id}"


def cloud_channel(instance: str) -> str:
    return f"c:{instance}"


class PeerTag(enum.Enum):
    """What a delivery on p: carries."""

    FRAME = b"F"  # a routed binary frame, sent as is
    CONTROL = b"T"  # a control message's JSON, sent as text
    REVOKE = b"R"  # the revocation reason: close the peer's socket with it


def encode_peer(tag: PeerTag, body: bytes) -> bytes:
    return tag.value + body


def decode_peer(data: bytes) -> tuple[PeerTag, bytes]:
    """Raises ValueError on an unknown tag."""
    return PeerTag(data[:1]), data[1:]


class CloudTag(enum.Enum):
    """What a delivery on c: carries, after the tag and the sending instance."""

    FRAME = b"F"  # a device's frame for the Cloud (header with the device's id)
    UNBIND = b"U"  # the device id whose Cloud session ends


def encode_cloud(tag: CloudTag, origin: str, body: bytes) -> bytes:
    return tag.value + origin.encode() + body


def decode_cloud(data: bytes) -> tuple[CloudTag, str, bytes]:
    """(tag, sending instance, body); raises ValueError on an unknown tag."""
    end = 1 + INSTANCE_LEN
    return CloudTag(data[:1]), data[1:end].decode(), data[end:]


def encode_presence(origin: str, presence_json: str) -> bytes:
    """A Node's presence on n:, with the instance that announces it."""
    return origin.encode() + presence_json.encode()


def decode_presence(data: bytes) -> tuple[str, str]:
    """(announcing instance, presence JSON)."""
    return data[:INSTANCE_LEN].decode(), data[INSTANCE_LEN:].decode("utf-8")


class RedisCluster:
    """One instance's membership of the cluster."""

    def __init__(self, url: str, prefix: str = "ora") -> None:
        self.instance = uuid.uuid4().hex
        self._prefix = prefix
        self._redis = aioredis.from_url(url)
        self._pubsub = self._redis.pubsub()
        self._handlers: dict[bytes, Handler] = {}
        self._online: set[str] = set()
        self._workers = ""  # what workers:<this instance> says, "" when none are connected
        self._tasks: list[asyncio.Task[None]] = []
        self.publish_failures = 0  # frames lost to an unreachable Redis

    def _key(self, name: str) -> str:
        return f"{self._prefix}:{name}"

    async def start(self) -> None:
        """Begin listening (one subscription is needed before the first read)."""
        await self._pubsub.subscribe(self._key(f"instance:{self.instance}"))
        self._tasks = [asyncio.create_task(self._listen()), asyncio.create_task(self._refresh())]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for node_id in list(self._online):
            await self.node_offline(node_id)
        await self.workers_here(0, 0)
        await self._pubsub.aclose()
        await self._redis.aclose()

    async def ping(self) -> bool:
        return bool(await self._redis.ping())

    async def _listen(self) -> None:
        while True:
            try:
                msg = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except (ConnectionError, aioredis.RedisError):
                _LOGGER.exception("lost Redis; retrying")
                await asyncio.sleep(1)
                continue
            if msg is None:
                continue
            handler = self._handlers.get(msg["channel"])
            if handler is not None:
                try:
                    await handler(msg["data"])
                except Exception:
                    _LOGGER.exception("cluster delivery failed")

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_S)
            for node_id in list(self._online):
                await self._redis.set(
                    self._key(f"online:{node_id}"), self.instance, ex=PRESENCE_TTL_S
                )
            if self._workers:
                await self._redis.set(
                    self._key(f"workers:{self.instance}"), self._workers, ex=PRESENCE_TTL_S
                )

    async def subscribe(self, channel: str, handler: Handler) -> None:
        """Receive what is published on a channel."""
        full = self._key(channel)
        self._handlers[full.encode()] = handler
        await self._pubsub.subscribe(full)

    async def unsubscribe(self, channel: str) -> None:
        full = self._key(channel)
        self._handlers.pop(full.encode(), None)
        await self._pubsub.unsubscribe(full)

    async def publish(self, channel: str, data: bytes) -> int:
        """Publish; returns how many instances were listening."""
        return int(await self._redis.publish(self._key(channel), data))

    async def try_publish(self, channel: str, data: bytes) -> int:
        """Publish a routed frame; -1 when Redis cannot be reached (the frame is lost, as on a
        network blip, but the sender's socket stays up: a Redis restart must not cut every
        phone whose Node is on another instance)."""
        try:
            return await self.publish(channel, data)
        except (ConnectionError, OSError, aioredis.RedisError):
            self.publish_failures += 1
            return -1

    async def node_online(self, node_id: str) -> None:
        self._online.add(node_id)
        await self._redis.set(self._key(f"online:{node_id}"), self.instance, ex=PRESENCE_TTL_S)

    async def node_offline(self, node_id: str) -> None:
        """Clear the presence key, unless another instance holds the Node by now."""
        self._online.discard(node_id)
        key = self._key(f"online:{node_id}")
        if await self._redis.get(key) == self.instance.encode():
            await self._redis.delete(key)

    async def is_online(self, node_id: str) -> bool:
        return bool(await self._redis.exists(self._key(f"online:{node_id}")))

    async def workers_here(self, workers: int, sessions: int) -> None:
        """Offer this instance's Cloud workers to devices on the others (cleared when none)."""
        key = self._key(f"workers:{self.instance}")
        self._workers = f"{workers} {sessions}" if workers else ""
        if workers:
            await self._redis.set(key, self._workers, ex=PRESENCE_TTL_S)
        else:
            await self._redis.delete(key)

    async def workers_elsewhere(self) -> str | None:
        """The other instance whose workers are least busy (fewest sessions per worker)."""
        best: tuple[float, str] | None = None
        prefix = self._key("workers:")
        # A handful of instances, one key each: a scan is cheap and needs no index to maintain.
        async for key in self._redis.scan_iter(match=f"{prefix}*"):
            instance = key.decode()[len(prefix) :]
            value = await self._redis.get(key)
            if instance == self.instance or not value:
                continue
            workers, sessions = (int(x) for x in value.split())
            if workers > 0 and (best is None or sessions / workers < best[0]):
                best = (sessions / workers, instance)
        return best[1] if best else None
