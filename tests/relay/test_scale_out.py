"""Two Relay processes sharing the machine's real PostgreSQL and Redis act as one Relay."""

import asyncio
from pathlib import Path

import pytest

from app.link.relay_link import RelayLink
from protocol import messages as m
from tests.relay.conftest import RelayProcess
from tests.support.device_client import Device
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.fixtures import open_runtime

pytestmark = pytest.mark.slow


async def test_node_on_one_relay_device_on_the_other_then_failover(
    tmp_path: Path, relay_factory, shared_env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    relay_a: RelayProcess = relay_factory("a", **shared_env)
    relay_b: RelayProcess = relay_factory("b", **shared_env)
    rt = await open_runtime(tmp_path / "node", fake_openai)
    link = RelayLink(runtime=rt, relay_urls=[relay_a.url, relay_b.url])
    link.start()
    async with asyncio.timeout(10):
        await link.wait_connected()
    assert link.relay_url == relay_a.url

    # Pair and chat through relay B while the Node sits on relay A.
    _, url = await link.open_pairing()
    await asyncio.sleep(0.2)  # the pairing reaches the shared database through A
    phone = Device(relay_b.url)
    await phone.pair(url)
    await phone.connect()
    online = await phone.next_control(kind=m.Presence)
    assert online.online, "B must know the Node is online on A"
    fake_openai.script.append(Reply(text="across two relays"))
    _, text, _ = await phone.chat("hello from relay B")
    assert text == "across two relays"

    # Relay A stops: the device hears the Node went offline, the Node fails over to B.
    relay_a.stop()
    offline = await phone.next_control(timeout=10, kind=m.Presence)
    assert offline.online is False
    back = await phone.next_control(timeout=20, kind=m.Presence)
    assert back.online is True and link.relay_url == relay_b.url
    await phone.handshake()  # the Node restarted its sessions; the device proves itself again
    fake_openai.script.append(Reply(text="service resumed"))
    _, text, _ = await phone.chat("still there?")
    assert text == "service resumed"
    await phone.close()
    await link.stop()
    await rt.close()


async def test_revocation_reaches_a_device_on_another_relay(
    tmp_path: Path, relay_factory, shared_env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    relay_a: RelayProcess = relay_factory("a", **shared_env)
    relay_b: RelayProcess = relay_factory("b", **shared_env)
    rt = await open_runtime(tmp_path / "node", fake_openai)
    link = RelayLink(runtime=rt, relay_urls=[relay_a.url])
    link.start()
    async with asyncio.timeout(10):
        await link.wait_connected()
    _, url = await link.open_pairing()
    await asyncio.sleep(0.2)
    phone = Device(relay_b.url)
    await phone.pair(url)
    await phone.connect()
    await link.revoke(phone.device_id)
    revoked = await phone.next_control(timeout=2, kind=m.Revoked)
    assert "revoked" in revoked.reason
    await phone.close()
    await link.stop()
    await rt.close()
