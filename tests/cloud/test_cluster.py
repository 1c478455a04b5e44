"""Cloud workers across Relay instances: two real Relay processes on one PostgreSQL database and
one Redis, a worker connected only to instance B, devices connected only to instance A."""

from __future__ import annotations

import asyncio
import uuid

import aiohttp
import pytest
import redis.asyncio as aioredis

from protocol import app_messages as am
from protocol import cloud, e2ee
from protocol import errors as codes
from protocol import messages as m
from protocol.version import PROTOCOL_VERSION
from tests.cloud.conftest import get_statement
from tests.relay.conftest import RelayProcess
from tests.support.device_client import Device
from tests.support.fake_openai import FakeOpenAI, Reply

pytestmark = pytest.mark.slow


async def _cloud_available(relay: RelayProcess) -> bool:
    async with aiohttp.ClientSession() as http, http.get(f"{relay.url}/v1/cloud/key") as resp:
        assert resp.status == 200
        return bool((await resp.json())["available"])


async def _offered(env: dict[str, str]) -> list[str]:
    """What the instances offer in Redis: "<workers> <sessions>" per instance with workers."""
    client = aioredis.from_url(env["REDIS_URL"])
    try:
        keys = [
            k async for k in client.scan_iter(match=f"{env['ORA_RELAY_REDIS_PREFIX']}:workers:*")
        ]
        return [v.decode() for v in await client.mget(keys)] if keys else []
    finally:
        await client.aclose()


async def test_a_device_on_a_uses_the_worker_on_b_and_is_billed_once(
    relay_factory,
    worker_factory,
    owner_factory,
    cloud_relay_env,
    shared_env: dict[str, str],
    fake_openai: FakeOpenAI,
) -> None:
    relay_a = relay_factory("a", **cloud_relay_env, **shared_env)
    relay_b = relay_factory("b", **cloud_relay_env, **shared_env)
    assert not await _cloud_available(relay_a)
    worker = worker_factory(relay_b)
    assert await _cloud_available(relay_a), "A must offer the Cloud while B has a worker"

    owner = await owner_factory(relay_a)
    phone = await owner.device()
    info = await phone.cloud_handshake()
    assert info.model == "gpt-4o"
    fake_openai.script.append(Reply(text="answered from the other instance", chunk_delay_s=0.02))
    request_id = str(uuid.uuid4())
    deltas, text, other = await phone.cloud_chat("hello across the cluster", request_id=request_id)
    assert len(deltas) > 1, "the reply must stream through both instances"
    assert text == "answered from the other instance"
    receipt = next(x for x in other if isinstance(x, cloud.CloudReceipt))
    assert receipt.charged and receipt.cost_usd > 0

    # One line on the statement, whichever instance is asked (they share the ledger).
    for relay in (relay_a, relay_b):
        reader = Device(relay.url, access_token=phone.access_token)
        statement = await get_statement(reader, owner.account_id)
        await reader.close()
        usage = [line for line in statement["lines"] if line["kind"] == "usage"]
        assert [(u["request_id"], u["outcome"]) for u in usage] == [(request_id, "completed")]
    assert [e["request_id"] for e in worker.log() if e["msg"] == "request finished"] == [request_id]
    await phone.close()


async def test_the_worker_on_b_going_away_ends_the_session_on_a_clearly(
    relay_factory,
    worker_factory,
    owner_factory,
    cloud_relay_env,
    shared_env: dict[str, str],
    fake_openai: FakeOpenAI,
) -> None:
    relay_a = relay_factory("a", **cloud_relay_env, **shared_env)
    relay_b = relay_factory("b", **cloud_relay_env, **shared_env)
    worker = worker_factory(relay_b)
    owner = await owner_factory(relay_a)
    phone = await owner.device()
    await phone.cloud_handshake()
    fake_openai.script.append(Reply(text=" ".join(["slow"] * 40), chunk_delay_s=0.2))
    await phone.cloud_send(am.Chat(id=str(uuid.uuid4()), text="a long job"))
    assert isinstance(await phone.next_cloud(), am.Delta)

    assert worker.proc is not None
    worker.proc.kill()  # no goodbye
    lost = await phone.next_control(kind=m.Error)
    assert lost.code == codes.CLOUD_UNAVAILABLE and "send your request again" in lost.message
    assert not lost.fatal, "the device keeps its connection to its Node"
    assert not await _cloud_available(relay_a)

    # No worker anywhere now: the next handshake is refused at once, saying so.
    with pytest.raises(TimeoutError):
        await phone.cloud_handshake(timeout=2)
    refusal = await phone.next_control(kind=m.Error)
    assert refusal.code == codes.CLOUD_UNAVAILABLE and "try again later" in refusal.message

    # A new worker on B serves the device's next session.
    worker_factory(relay_b, "w2")
    await phone.cloud_handshake()
    fake_openai.script.append(Reply(text="back again"))
    _, text, _ = await phone.cloud_chat("still there?")
    assert text == "back again"
    await phone.close()


async def test_a_worker_on_b_cannot_reach_a_device_on_a_whose_session_it_does_not_hold(
    relay_factory,
    worker_factory,
    owner_factory,
    cloud_relay_env,
    cloud_keys: dict[str, str],
    shared_env: dict[str, str],
    fake_openai: FakeOpenAI,
) -> None:
    relay_a = relay_factory("a", **cloud_relay_env, **shared_env)
    relay_b = relay_factory("b", **cloud_relay_env, **shared_env)
    worker_factory(relay_b)
    owner = await owner_factory(relay_a)
    phone = await owner.device()
    bystander = await owner.device(name="laptop")  # on A, no Cloud session at all
    await phone.cloud_handshake()  # bound to the genuine worker on B

    # A second worker on B, with the genuine credential (a compromised worker host), joins after
    # the session was bound and addresses frames to both devices on A.
    forged = b"forged-by-another-worker"
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(relay_b.url.replace("http", "ws", 1) + "/v1/ws") as ws,
    ):
        hello = m.Hello(
            version=PROTOCOL_VERSION, role=m.PeerKind.CLOUD, token=cloud_keys["ORA_CLOUD_TOKEN"]
        )
        await ws.send_str(m.encode(hello))
        assert isinstance(m.decode((await ws.receive(timeout=5)).data), m.Welcome)
        for victim in (phone, bystander):
            for payload in (bytes([e2ee.HS2]) + forged, forged):
                await ws.send_bytes(m.pack_frame(victim.device_id, payload))
        await asyncio.sleep(1)

    assert not [f for f in phone.cloud_frames + bystander.cloud_frames if forged in f]
    # The genuine session is untouched.
    fake_openai.script.append(Reply(text="only from my own worker"))
    _, text, _ = await phone.cloud_chat("who is there?")
    assert text == "only from my own worker"
    await phone.close()
    await bystander.close()
