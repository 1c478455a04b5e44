"""Web Push from the Relay, content-free: a kind and ids, never a word of a conversation.

Protocol pieces are a kept library's (pywebpush on py-vapid and http-ece): RFC 8030 delivery,
VAPID (RFC 8292) signing with the Relay's own P-256 key, aes128gcm payload encryption
(RFC 8291) to the subscription's keys. Nothing here is cryptography of ORA's own.

What one push carries (JSON, then encrypted by pywebpush for the device's browser):

    {"v": 1, "kind": "approval_waiting", "event": "<event id>", "ids": {"approval_id": ...},
     "sealed": "<base64url>" | absent}

`sealed` is text the Node encrypted end to end for that device (the tool and the asking device
of an approval); the Relay passes it on as it got it and cannot read it.

Delivery degrades honestly and never blocks routing: `submit` only queues (a full queue drops
and counts); signing, encryption and the POST run on a thread of their own
(`relay_server.push_delivery`), the VAPID JWT signed once per push service; each send has a
timeout; 404/410 from the push service removes the subscription;
429, 5xx and network errors are retried with exponential backoff, a bounded number of times;
other refusals are dropped and logged (ids only). Each (event, device) is claimed once before
sending (in Redis when several Relay instances run), so one event gives one push per device.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from py_vapid import Vapid02

from relay_server.push_delivery import DeliveryThread

_LOGGER = logging.getLogger(__name__)

KINDS = frozenset(
    {
        "approval_waiting",
        "node_offline",
        "node_online",
        "budget_low",
        "device_paired",
        "device_revoked",
    }
)
GONE = (404, 410)  # the subscription expired or was removed: never try it again
CLAIM_TTL_S = 24 * 3600


@dataclass(frozen=True, kw_only=True)
class Subscription:
    """Where one device's browser receives pushes (from its PushSubscription)."""

    device_id: str
    endpoint: str
    p256dh: str
    auth: str

    def info(self) -> dict[str, object]:
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


@dataclass(frozen=True, kw_only=True)
class PushEvent:
    """One event for the owner's devices: its kind, its id, ids it refers to; no content."""

    kind: str
    event_id: str
    ids: Mapping[str, str] = field(default_factory=dict)
    sealed: Mapping[str, str] = field(default_factory=dict)  # device id -> Node's ciphertext

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown push kind {self.kind!r}")

    def payload_for(self, device_id: str) -> bytes:
        body: dict[str, object] = {
            "v": 1,
            "kind": self.kind,
            "event": self.event_id,
            "ids": dict(self.ids),
        }
        if device_id in self.sealed:
            body["sealed"] = self.sealed[device_id]
        return json.dumps(body, separators=(",", ":")).encode()


class VapidKey:
    """The Relay's VAPID key (P-256), kept like its other secrets."""

    def __init__(self, vapid: Vapid02) -> None:
        self.vapid = vapid

    @classmethod
    def load_or_create(cls, path: Path, pem: str = "") -> VapidKey:
        """From `pem` (ORA_RELAY_VAPID_PRIVATE_KEY: every instance of a cluster shares one), or
        from path, made there (0600) on first start of an embedded Relay."""
        if pem:
            return cls(Vapid02.from_pem(pem.encode()))
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fresh = Vapid02()
            fresh.generate_keys()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(fresh.private_pem())
        return cls(Vapid02.from_file(str(path)))

    @property
    def application_server_key(self) -> str:
        """The public key browsers subscribe with (uncompressed point, base64url)."""
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        raw = self.vapid.public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class LocalClaims:
    """Once per (event, device) within one process (a Relay without Redis)."""

    def __init__(self, size: int = 100_000) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._marks: dict[str, str] = {}
        self._size = size

    async def claim(self, event_id: str, device_id: str) -> bool:
        key = f"{event_id}:{device_id}"
        if key in self._seen:
            return False
        self._seen[key] = time.monotonic()
        while len(self._seen) > self._size:
            self._seen.popitem(last=False)
        return True

    async def mark(self, key: str, value: str) -> None:
        """Remember value under key (a Node told offline: the event its return answers)."""
        self._marks[key] = value

    async def take(self, key: str) -> str | None:
        """The value marked under key, forgotten as it is read (once, across instances)."""
        return self._marks.pop(key, None)

    async def close(self) -> None:
        pass


class RedisClaims:
    """Once per (event, device) across every Relay instance: SET NX with a day's TTL."""

    def __init__(self, url: str, prefix: str) -> None:
        import redis.asyncio as aioredis

        self._redis = aioredis.from_url(url)
        self._prefix = prefix

    async def claim(self, event_id: str, device_id: str) -> bool:
        key = f"{self._prefix}:push:{event_id}:{device_id}"
        return bool(await self._redis.set(key, b"1", nx=True, ex=CLAIM_TTL_S))

    async def mark(self, key: str, value: str) -> None:
        await self._redis.set(f"{self._prefix}:pushmark:{key}", value.encode(), ex=30 * 24 * 3600)

    async def take(self, key: str) -> str | None:
        value = await self._redis.getdel(f"{self._prefix}:pushmark:{key}")
        return None if value is None else value.decode() if isinstance(value, bytes) else str(value)

    async def close(self) -> None:
        await self._redis.aclose()


Claims = LocalClaims | RedisClaims
Prune = Callable[[Subscription], Awaitable[None]]


@dataclass
class PushStats:
    """Counters for /metrics and the tests."""

    sent: int = 0
    pruned: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0
    duplicate: int = 0


class PushSender:
    """Queues pushes and delivers them in the background, never holding up its caller."""

    def __init__(
        self,
        key: VapidKey,
        claims: Claims,
        prune: Prune,
        *,
        subject: str = "mailto:relay@ora.invalid",
        queue_size: int = 10_000,
        concurrency: int = 16,
        attempts: int = 4,
        backoff_s: float = 0.5,
        timeout_s: float = 10.0,
        ttl_s: int = 3600,
    ) -> None:
        self.key = key
        self.claims = claims
        self.prune = prune
        self.subject = subject
        self.stats = PushStats()
        self._queue: asyncio.Queue[tuple[PushEvent, Subscription]] = asyncio.Queue(queue_size)
        self._slots = asyncio.Semaphore(concurrency)
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._ttl_s = ttl_s
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: asyncio.Task[None] | None = None
        self.delivery = DeliveryThread(key.vapid, subject)

    def start(self) -> None:
        self.delivery.start()
        self._runner = asyncio.create_task(self._run())

    async def close(self) -> None:
        tasks = [t for t in (self._runner, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.delivery.close()
        await self.claims.close()

    def submit(self, event: PushEvent, subscriptions: list[Subscription]) -> None:
        """Queue event for each subscription; returns at once (a full queue drops, counted)."""
        for sub in subscriptions:
            try:
                self._queue.put_nowait((event, sub))
            except asyncio.QueueFull:
                self.stats.dropped += 1
                _LOGGER.warning("push queue full: dropped %s for %s", event.kind, sub.device_id)

    async def idle(self) -> None:
        """Wait until everything queued so far has been delivered or given up (tests, bench)."""
        await self._queue.join()

    async def _run(self) -> None:
        while True:
            event, sub = await self._queue.get()
            await self._slots.acquire()
            task = asyncio.create_task(self._deliver(event, sub))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, event: PushEvent, sub: Subscription) -> None:
        try:
            if not await self.claims.claim(event.event_id, sub.device_id):
                self.stats.duplicate += 1
                return
            await self._send_with_retries(event, sub)
        except Exception:  # one bad subscription must never stop the sender
            self.stats.failed += 1
            _LOGGER.exception("push to %s failed", sub.device_id)
        finally:
            self._slots.release()
            self._queue.task_done()

    async def _send_with_retries(self, event: PushEvent, sub: Subscription) -> None:
        payload = event.payload_for(sub.device_id).decode()
        for attempt in range(self._attempts):
            status, retry_after = await self._send_once(sub, payload)
            if status is not None and status <= 202:
                self.stats.sent += 1
                return
            if status in GONE:
                self.stats.pruned += 1
                _LOGGER.info("push subscription of %s expired (%s): removed", sub.device_id, status)
                await self.prune(sub)
                return
            transient = status is None or status == 429 or status >= 500
            if not transient or attempt == self._attempts - 1:
                self.stats.failed += 1
                _LOGGER.warning("push to %s refused (%s): dropped", sub.device_id, status)
                return
            self.stats.retried += 1
            delay = self._backoff_s * 2**attempt
            if retry_after is not None:
                delay = max(delay, min(retry_after, 60.0))
            await asyncio.sleep(delay)

    async def _send_once(self, sub: Subscription, payload: str) -> tuple[int | None, float | None]:
        """The push service's status (None: no answer) and its Retry-After, if any."""
        return await self.delivery.send(
            sub.info(), payload, ttl_s=self._ttl_s, http_timeout=self._timeout
        )
