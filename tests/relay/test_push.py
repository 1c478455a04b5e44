"""The Relay's Web Push sender against a real push service on loopback (web-push-testing:
it checks VAPID and decrypts what it receives), and against one that misbehaves."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp import web
from nacl.public import PrivateKey, SealedBox

from relay_server.push import (
    LocalClaims,
    PushEvent,
    PushSender,
    RedisClaims,
    Subscription,
    VapidKey,
)
from tests.relay.conftest import free_port
from tests.support.push_testing import PushService, start_push_service

SECRET = "run shell: rm -rf ~/Documents"


@pytest.fixture
def push_service() -> Iterator[PushService]:
    service = start_push_service()
    yield service
    service.proc.terminate()
    service.proc.wait(5)


@pytest.fixture
def vapid(tmp_path: Path) -> VapidKey:
    return VapidKey.load_or_create(tmp_path / "vapid.pem")


def subscription(push_service: PushService, vapid: VapidKey) -> tuple[Subscription, str]:
    data = push_service.subscribe(vapid.application_server_key)
    sub = Subscription(
        device_id=str(uuid.uuid4()),
        endpoint=data["endpoint"],
        p256dh=data["keys"]["p256dh"],
        auth=data["keys"]["auth"],
    )
    return sub, data["clientHash"]


class Pruned(list[Subscription]):
    async def __call__(self, sub: Subscription) -> None:
        self.append(sub)


@pytest.fixture
async def sender(vapid: VapidKey) -> AsyncIterator[PushSender]:
    s = PushSender(vapid, LocalClaims(), Pruned(), backoff_s=0.05, timeout_s=2)
    s.start()
    yield s
    await s.close()


async def test_what_the_push_service_receives_is_the_kind_and_ids_only(
    push_service: PushService, vapid: VapidKey, sender: PushSender
) -> None:
    sub, client_hash = subscription(push_service, vapid)
    # The Node seals the text for the device; the Relay only passes the ciphertext on.
    device_key = PrivateKey.generate()
    sealed = SealedBox(device_key.public_key).encrypt(SECRET.encode()).hex()
    event = PushEvent(
        kind="approval_waiting",
        event_id="ev-1",
        ids={"approval_id": "a-17", "node_id": "n-1"},
        sealed={sub.device_id: sealed},
    )
    sender.submit(event, [sub])
    async with asyncio.timeout(10):
        await sender.idle()
    got = push_service.notifications(client_hash)
    assert len(got) == 1 and sender.stats.sent == 1
    body = json.loads(got[0]) if isinstance(got[0], str) else got[0]
    assert body["kind"] == "approval_waiting" and body["ids"]["approval_id"] == "a-17"
    assert set(body) == {"v", "kind", "event", "ids", "sealed"}
    assert "rm -rf" not in json.dumps(got) and "shell" not in json.dumps(got)
    # Only the device can read the sealed text.
    assert SealedBox(device_key).decrypt(bytes.fromhex(body["sealed"])).decode() == SECRET


async def test_an_expired_subscription_is_removed_and_not_retried(
    push_service: PushService, vapid: VapidKey, sender: PushSender
) -> None:
    sub, client_hash = subscription(push_service, vapid)
    push_service.expire(client_hash)
    sender.submit(PushEvent(kind="device_paired", event_id="ev-2"), [sub])
    async with asyncio.timeout(10):
        await sender.idle()
    assert sender.prune == [sub]
    assert sender.stats.pruned == 1 and sender.stats.retried == 0


@pytest.fixture
async def flaky() -> AsyncIterator[dict[str, list[float]]]:
    """A push service that fails: /busy/N answers 503 N times then 201; /down always 503."""
    hits: dict[str, list[float]] = {}

    async def handle(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        hits.setdefault(name, []).append(time.monotonic())
        if name.startswith("busy") and len(hits[name]) > int(name.removeprefix("busy")):
            return web.Response(status=201)
        if name == "slow":
            await asyncio.sleep(30)
        return web.Response(status=503, headers={"Retry-After": "0"})

    app = web.Application()
    app.router.add_post("/{name}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    hits["_port"] = [float(port)]
    yield hits
    await runner.cleanup()


def at(
    flaky: dict[str, list[float]], name: str, push_service: PushService, vapid: VapidKey
) -> Subscription:
    sub, _ = subscription(push_service, vapid)
    port = int(flaky["_port"][0])
    return Subscription(
        device_id=sub.device_id,
        endpoint=f"http://127.0.0.1:{port}/{name}",
        p256dh=sub.p256dh,
        auth=sub.auth,
    )


async def test_transient_errors_are_retried_with_backoff_and_bounded(
    push_service: PushService, vapid: VapidKey, sender: PushSender, flaky: dict[str, list[float]]
) -> None:
    busy = at(flaky, "busy2", push_service, vapid)
    down = at(flaky, "down", push_service, vapid)
    sender.submit(PushEvent(kind="node_offline", event_id="ev-3"), [busy, down])
    async with asyncio.timeout(20):
        await sender.idle()
    assert len(flaky["busy2"]) == 3 and sender.stats.sent == 1
    assert len(flaky["down"]) == 4, "four attempts, then given up"
    gaps = [b - a for a, b in zip(flaky["down"], flaky["down"][1:], strict=False)]
    assert gaps[2] > gaps[0], "backoff grows"
    assert sender.stats.failed == 1 and sender.prune == []


async def test_submit_never_waits_for_the_push_service(
    push_service: PushService, vapid: VapidKey, flaky: dict[str, list[float]]
) -> None:
    slow = at(flaky, "slow", push_service, vapid)
    s = PushSender(vapid, LocalClaims(), Pruned(), queue_size=5, timeout_s=30, concurrency=1)
    s.start()
    started = time.perf_counter()
    for i in range(50):
        s.submit(PushEvent(kind="budget_low", event_id=f"ev-{i}"), [slow])
    # 50 submits to a push service that takes seconds: none of them waits for it (a timed
    # bound loose enough for a loaded CI machine; waiting would take the service's seconds).
    assert time.perf_counter() - started < 1.0
    assert s.stats.dropped >= 40
    await s.close()


async def test_two_relay_instances_send_one_push_per_event_per_device(
    push_service: PushService, vapid: VapidKey
) -> None:
    prefix = f"ora-test-push-{uuid.uuid4().hex[:8]}"
    senders = [
        PushSender(vapid, RedisClaims("redis://127.0.0.1:6379/0", prefix), Pruned())
        for _ in range(2)
    ]
    for s in senders:
        s.start()
    subs = [subscription(push_service, vapid) for _ in range(2)]
    # Both instances hear of the same event (e.g. a Node's approval, seen through the cluster).
    for event_id in ("ev-a", "ev-b"):
        event = PushEvent(kind="approval_waiting", event_id=event_id, ids={"approval_id": event_id})
        for s in senders:
            s.submit(event, [sub for sub, _ in subs])
    async with asyncio.timeout(15):
        for s in senders:
            await s.idle()
    for _, client_hash in subs:
        got = [
            json.loads(n) if isinstance(n, str) else n
            for n in push_service.notifications(client_hash)
        ]
        assert sorted(n["event"] for n in got) == ["ev-a", "ev-b"]
    assert sum(s.stats.duplicate for s in senders) == 4
    for s in senders:
        await s.close()


def test_vapid_key_is_kept_private_and_stable(tmp_path: Path) -> None:
    path = tmp_path / "relay" / "vapid.pem"
    first = VapidKey.load_or_create(path)
    assert path.stat().st_mode & 0o077 == 0
    assert VapidKey.load_or_create(path).application_server_key == first.application_server_key
    pem = path.read_text()
    assert VapidKey.load_or_create(tmp_path / "x", pem).application_server_key == (
        first.application_server_key
    )
    with pytest.raises(ValueError):
        PushEvent(kind="chat_text", event_id="x")


async def test_the_jwt_is_signed_once_per_push_service_and_work_is_off_the_loop(
    push_service: PushService, vapid: VapidKey, sender: PushSender
) -> None:
    subs = [subscription(push_service, vapid) for _ in range(3)]
    signer = sender.delivery.vapid_headers
    threads: set[int] = set()
    original = signer.for_endpoint

    def recording(endpoint: str) -> dict[str, str]:
        threads.add(threading.get_ident())
        return original(endpoint)

    signer.for_endpoint = recording  # type: ignore[method-assign]
    for i in range(4):
        sender.submit(PushEvent(kind="device_paired", event_id=f"ev-s{i}"), [s for s, _ in subs])
    async with asyncio.timeout(15):
        await sender.idle()
    assert sender.stats.sent == 12
    assert signer.signed == 1, "one JWT for one push service, reused"
    # Signing, encryption and the POST ran on the push thread, not the loop that routes.
    assert threads and threading.get_ident() not in threads
    for _, client_hash in subs:
        assert len(push_service.notifications(client_hash)) == 4
