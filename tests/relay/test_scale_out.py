"""Two Relay processes sharing the machine's real PostgreSQL and Redis act as one Relay."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from app.link.relay_link import RelayLink
from protocol import messages as m
from tests.relay.conftest import RelayProcess
from tests.support.device_client import Device
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.fixtures import open_runtime

pytestmark = pytest.mark.slow
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
async def shared_env() -> AsyncIterator[dict[str, str]]:
    """A database of its own for this test (dropped after) and its own Redis key prefix."""
    name = f"ora_relay_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    yield {
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{name}",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "ORA_RELAY_REDIS_PREFIX": f"ora-test-{name}",
    }
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


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
