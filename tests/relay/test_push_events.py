"""Web Push end to end: real Relay processes (one, or two sharing PostgreSQL and Redis), a real
Node, devices that opt in through the Relay's API, and a real push service on loopback
(web-push-testing: it checks VAPID and decrypts what it receives)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from app.link.push_notice import approval_notice
from app.link.relay_link import RelayLink
from app.policy.approvals import ApprovalRequest, Risk
from app.policy.gate import Role
from protocol.notify import open_text
from relay_server.push import VapidKey
from relay_server.storage import PostgresStore, SqliteStore
from tests.relay.conftest import RelayProcess
from tests.support.device_client import Device, RelayRefused
from tests.support.fake_openai import FakeOpenAI
from tests.support.fixtures import open_runtime
from tests.support.push_testing import PushService, start_push_service

pytestmark = pytest.mark.slow
SECRET_COMMAND = "rm -rf ~/Documents/tax-2026"
TOOL = "shell_run"


@pytest.fixture
def push_service() -> Iterator[PushService]:
    service = start_push_service()
    yield service
    service.proc.terminate()
    service.proc.wait(5)


def push_env(tmp_path: Path, service: PushService, **extra: str) -> dict[str, str]:
    """Every instance shares one VAPID key (as a cluster's operator configures it)."""
    VapidKey.load_or_create(tmp_path / "cluster-vapid.pem")
    return {
        "ORA_RELAY_VAPID_PRIVATE_KEY": (tmp_path / "cluster-vapid.pem").read_text(),
        "ORA_RELAY_PUSH_SERVICES": f"http://localhost:{service.port}",
        **extra,
    }


async def start_node(
    tmp_path: Path, fake_openai: FakeOpenAI, url: str, rt: Any = None
) -> RelayLink:
    rt = rt or await open_runtime(tmp_path / "node", fake_openai)
    link = RelayLink(runtime=rt, relay_urls=[url])
    link.start()
    async with asyncio.timeout(10):
        await link.wait_connected()
    return link


async def pair(link: RelayLink, relay_url: str, role: str = "owner", name: str = "phone") -> Device:
    _, url = await link.open_pairing(role=role)
    await asyncio.sleep(0.3)  # the pairing reaches the (shared) database first
    phone = Device(relay_url, name=name)
    await phone.pair(url)
    return phone


async def opt_in(phone: Device, service: PushService) -> str:
    """What the web client does: the Relay's key, a browser subscription, then the Relay keeps
    it. Returns the push service's id for reading what this subscription received."""
    http = await phone._http()
    async with http.get(f"{phone.relay_url}/v1/push/key") as resp:
        key = (await resp.json())["application_server_key"]
    sub = service.subscribe(key)
    body = {"token": phone.access_token, "endpoint": sub["endpoint"], "keys": sub["keys"]}
    assert (await phone.post("/v1/push/subscribe", body)) == {"enabled": True}
    return str(sub["clientHash"])


def received(service: PushService, client_hash: str) -> list[dict[str, Any]]:
    return [json.loads(n) if isinstance(n, str) else n for n in service.notifications(client_hash)]


async def wait_for(service: PushService, client_hash: str, count: int, timeout: float = 10):
    deadline = time.monotonic() + timeout
    while True:
        got = received(service, client_hash)
        if len(got) >= count or time.monotonic() > deadline:
            return got
        await asyncio.sleep(0.1)


def ask(link: RelayLink) -> ApprovalRequest:
    # The asking device, by the name it was paired with (the push names it, never an id).
    if link.registry.get("device-x") is None:
        link.registry.add(
            device_id="device-x", name="laptop-browser", role="guest", public_key=bytes(32)
        )
    return link.runtime.broker.request(
        tool=TOOL,
        arguments={"command": SECRET_COMMAND},
        risk=Risk.HIGH,
        requester="laptop-browser",
        requester_role=Role.OWNER,
        channel="device-x",
        reason="HIGH risk",
        timeout_s=60,
    )


async def test_an_approval_gives_one_content_free_push_per_opted_in_owner_device_across_instances(
    tmp_path: Path,
    relay_factory,
    shared_env: dict[str, str],
    fake_openai: FakeOpenAI,
    push_service: PushService,
) -> None:
    env = {**shared_env, **push_env(tmp_path, push_service)}
    relay_a: RelayProcess = relay_factory("a", **env)
    relay_b: RelayProcess = relay_factory("b", **env)
    link = await start_node(tmp_path, fake_openai, relay_a.url)
    phone = await pair(link, relay_a.url, name="phone")
    tablet = await pair(link, relay_a.url, name="tablet")
    quiet = await pair(link, relay_a.url, name="quiet")  # an owner device that did not opt in
    tablet.relay_url = relay_b.url  # the tablet talks to the other instance
    phone_hash = await opt_in(phone, push_service)
    tablet_hash = await opt_in(tablet, push_service)
    assert quiet.device_id  # paired, never subscribed: nothing may reach a subscription of it

    # Both instances serve the same VAPID key (one cluster).
    http = await phone._http()
    keys = set()
    for relay in (relay_a, relay_b):
        async with http.get(f"{relay.url}/v1/push/key") as resp:
            keys.add((await resp.json())["application_server_key"])
    assert len(keys) == 1

    req = ask(link)
    for device, client_hash in ((phone, phone_hash), (tablet, tablet_hash)):
        got = [
            n for n in await wait_for(push_service, client_hash, 1) if n["kind"] != "device_paired"
        ]
        assert len(got) == 1, got
        push = got[0]
        assert push["kind"] == "approval_waiting"
        assert push["ids"] == {"approval_id": req.approval_id, "node_id": link.identity.node_id}
        assert set(push) == {"v", "kind", "event", "ids", "sealed"}
        # What crossed the Relay and the push service: no word of the action.
        text = json.dumps(push)
        for word in (TOOL, "shell", SECRET_COMMAND, "tax-2026", "laptop-browser"):
            assert word not in text
        # Only the device opens the sealed text, bound to this very push.
        shown = open_text(
            device.private_key,
            device.node_public_key,
            push["sealed"],
            kind=push["kind"],
            event_id=push["event"],
            ids=push["ids"],
        )
        assert shown == {"tool": TOOL, "device": "laptop-browser"}

    # The Node moves to the other instance and says the same again (it cannot know whether the
    # first got out): each device still gets the approval once.
    await link.stop()
    link = await start_node(tmp_path, fake_openai, relay_b.url, rt=link.runtime)
    assert link._peer.send_control(approval_notice(link.identity, link.registry.all(), req))
    later = ask(link)  # a barrier: once this one is in, the repeat has been dealt with
    for client_hash in (phone_hash, tablet_hash):
        got = await wait_for(push_service, client_hash, 2)
        approvals = [n["ids"]["approval_id"] for n in got if n["kind"] == "approval_waiting"]
        assert sorted(approvals) == sorted([req.approval_id, later.approval_id])
    await asyncio.sleep(1.0)
    for client_hash in (phone_hash, tablet_hash):
        kinds = [n["kind"] for n in received(push_service, client_hash)]
        assert kinds.count("approval_waiting") == 2
    for d in (phone, tablet, quiet):
        await d.close()
    await link.stop()
    await link.runtime.close()


async def test_an_expired_subscription_is_pruned_and_a_revoked_device_forgotten(
    tmp_path: Path, relay: RelayProcess, fake_openai: FakeOpenAI, push_service: PushService
) -> None:
    relay.stop()
    relay.env.update(push_env(tmp_path, push_service))
    relay.start()
    link = await start_node(tmp_path, fake_openai, relay.url)
    phone = await pair(link, relay.url, name="phone")
    tablet = await pair(link, relay.url, name="tablet")
    phone_hash = await opt_in(phone, push_service)
    await opt_in(tablet, push_service)
    assert await devices_notified(link, relay) == sorted([phone.device_id, tablet.device_id])

    push_service.expire(phone_hash)  # the browser dropped it; the push service says 410
    ask(link)
    deadline = time.monotonic() + 10
    while phone.device_id in await devices_notified(link, relay):
        assert time.monotonic() < deadline, "the expired subscription was never removed"
        await asyncio.sleep(0.1)
    assert await phone.post("/v1/push/status", {"token": phone.access_token}) == {"enabled": False}

    await link.revoke(tablet.device_id)
    await asyncio.sleep(0.3)
    assert await devices_notified(link, relay) == []
    with pytest.raises(RelayRefused):
        await tablet.post("/v1/push/status", {"token": tablet.access_token})
    for d in (phone, tablet):
        await d.close()
    await link.stop()
    await link.runtime.close()


async def devices_notified(link: RelayLink, relay: RelayProcess) -> list[str]:
    """What the tray's Devices dialog asks: which devices get notifications."""
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{relay.url}/v1/push/devices",
            headers={"Authorization": f"Bearer {link.identity.node_token}"},
        ) as resp,
    ):
        assert resp.status == 200
        return list((await resp.json())["devices"])


async def test_who_may_subscribe_and_where_pushes_may_go(
    tmp_path: Path, relay: RelayProcess, fake_openai: FakeOpenAI, push_service: PushService
) -> None:
    relay.stop()
    relay.env.update(push_env(tmp_path, push_service))
    relay.start()
    # Guests are paired from the shared profile (a private one pairs the owner's devices only).
    shared = await open_runtime(tmp_path / "node", fake_openai, profile="shared")
    link = await start_node(tmp_path, fake_openai, relay.url, rt=shared)
    owner = await pair(link, relay.url, name="owner")
    guest = await pair(link, relay.url, role="guest", name="guest")
    http = await owner._http()
    async with http.get(f"{relay.url}/v1/push/key") as resp:
        key = (await resp.json())["application_server_key"]
    sub = push_service.subscribe(key)

    # A guest is not the owner: approvals and account events are not theirs to hear.
    with pytest.raises(RelayRefused) as err:
        await guest.post(
            "/v1/push/subscribe",
            {"token": guest.access_token, "endpoint": sub["endpoint"], "keys": sub["keys"]},
        )
    assert err.value.code == "push_refused"
    # The Relay must not be made to POST to an address of the attacker's choosing.
    for endpoint in (
        "http://127.0.0.1:5432/",
        "http://169.254.169.254/latest/meta-data",
        f"http://127.0.0.1:{push_service.port}/notify/x",  # the same service, not as named
        f"http://localhost.evil.example:{push_service.port}/x",
        f"http://user:pw@localhost:{push_service.port}/x",
        f"https://localhost:{push_service.port}/x",
        "https://fcm.googleapis.com.evil.example/send/x",
    ):
        with pytest.raises(RelayRefused) as err:
            await owner.post(
                "/v1/push/subscribe",
                {"token": owner.access_token, "endpoint": endpoint, "keys": sub["keys"]},
            )
        assert err.value.status in (400, 403), endpoint
    # Keys that are not a browser's subscription keys.
    with pytest.raises(RelayRefused):
        await owner.post(
            "/v1/push/subscribe",
            {
                "token": owner.access_token,
                "endpoint": sub["endpoint"],
                "keys": {"p256dh": "AAAA", "auth": sub["keys"]["auth"]},
            },
        )
    # No token, or a forged one: nothing stored.
    with pytest.raises(RelayRefused) as err:
        await owner.post(
            "/v1/push/subscribe",
            {"token": "at_" + uuid.uuid4().hex, "endpoint": sub["endpoint"], "keys": sub["keys"]},
        )
    assert err.value.status == 401
    assert await devices_notified(link, relay) == []
    # On, then off again.
    body = {"token": owner.access_token, "endpoint": sub["endpoint"], "keys": sub["keys"]}
    assert await owner.post("/v1/push/subscribe", body) == {"enabled": True}
    assert await devices_notified(link, relay) == [owner.device_id]
    assert await owner.post("/v1/push/unsubscribe", {"token": owner.access_token}) == {
        "enabled": False
    }
    assert await devices_notified(link, relay) == []
    ask(link)
    await asyncio.sleep(1.0)
    assert received(push_service, str(sub["clientHash"])) == []
    for d in (owner, guest):
        await d.close()
    await link.stop()
    await link.runtime.close()


async def test_the_owner_hears_of_devices_paired_revoked_and_of_the_node_away_and_back(
    tmp_path: Path, relay: RelayProcess, fake_openai: FakeOpenAI, push_service: PushService
) -> None:
    relay.stop()
    relay.env.update(push_env(tmp_path, push_service, ORA_RELAY_NODE_OFFLINE_PUSH_S="1.5"))
    relay.start()
    link = await start_node(tmp_path, fake_openai, relay.url)
    phone = await pair(link, relay.url, name="phone")
    phone_hash = await opt_in(phone, push_service)
    tablet = await pair(link, relay.url, name="tablet")
    got = await wait_for(push_service, phone_hash, 1)
    assert [(n["kind"], n["ids"]["device_id"]) for n in got] == [
        ("device_paired", tablet.device_id)
    ]
    await link.revoke(tablet.device_id)
    got = await wait_for(push_service, phone_hash, 2)
    assert got[1]["kind"] == "device_revoked" and got[1]["ids"]["device_id"] == tablet.device_id

    # A blip shorter than the setting: nobody is bothered.
    rt = link.runtime
    await link.stop()
    link = await start_node(tmp_path, fake_openai, relay.url, rt=rt)
    await asyncio.sleep(2.0)
    assert len(received(push_service, phone_hash)) == 2
    # Away for longer: told, then told it is back.
    await link.stop()
    got = await wait_for(push_service, phone_hash, 3, timeout=6)
    assert got[2]["kind"] == "node_offline"
    assert got[2]["ids"] == {"node_id": link.identity.node_id}
    link = await start_node(tmp_path, fake_openai, relay.url, rt=rt)
    got = await wait_for(push_service, phone_hash, 4)
    assert got[3]["kind"] == "node_online"
    await asyncio.sleep(0.5)
    assert len(received(push_service, phone_hash)) == 4
    for d in (phone, tablet):
        await d.close()
    await link.stop()
    await rt.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, shared_env: dict[str, str]
) -> AsyncIterator[SqliteStore | PostgresStore]:
    if request.param == "sqlite":
        s: SqliteStore | PostgresStore = SqliteStore(tmp_path / "relay.db")
        yield s
        await s.close()
        return
    s = await PostgresStore.connect(shared_env["DATABASE_URL"])
    yield s
    await s.close()


async def test_the_store_keeps_one_subscription_per_device_until_removed_or_revoked(
    store: SqliteStore | PostgresStore,
) -> None:
    node, other = str(uuid.uuid4()), str(uuid.uuid4())
    a, b, c = (str(uuid.uuid4()) for _ in range(3))
    for device, owner in ((a, node), (b, node), (c, other)):
        await store.add_device(device, owner, "owner")
    await store.set_push(a, node, ("https://push.example/1", "p1", "s1"))
    await store.set_push(a, node, ("https://push.example/2", "p2", "s2"))  # re-subscribed
    await store.set_push(b, node, ("https://push.example/3", "p3", "s3"))
    await store.set_push(c, other, ("https://push.example/4", "p4", "s4"))
    rows = [(r.device_id, r.endpoint, r.p256dh, r.auth) for r in await store.pushes(node)]
    assert sorted(rows) == sorted(
        [(a, "https://push.example/2", "p2", "s2"), (b, "https://push.example/3", "p3", "s3")]
    )
    # A late "gone" for the old endpoint must not remove the newer subscription.
    await store.remove_push(a, "https://push.example/1")
    assert len(await store.pushes(node)) == 2
    await store.remove_push(a, "https://push.example/2")
    assert [row.device_id for row in await store.pushes(node)] == [b]
    await store.revoke_device(b)
    assert await store.pushes(node) == []
    assert [row.device_id for row in await store.pushes(other)] == [c]
    await store.remove_push(c)
    assert await store.pushes(other) == []
