"""Revocation ends the sockets already open, on every Relay instance, within a second: a reused
refresh token (its family), the owner revoking a device, an account lapsing. A socket whose
access token expires ends too, unless the device renews it in band."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from app.link.relay_link import RelayLink
from protocol import messages as m
from relay_server.billing import sign
from tests.relay.conftest import RelayProcess
from tests.support.device_client import Device, RelayRefused
from tests.support.fake_openai import FakeOpenAI
from tests.support.fixtures import open_runtime

pytestmark = pytest.mark.slow
WEBHOOK_SECRET = "whsec_revocation_test_only"


async def start_node(tmp_path: Path, fake_openai: FakeOpenAI, url: str) -> RelayLink:
    rt = await open_runtime(tmp_path / "node", fake_openai)
    link = RelayLink(runtime=rt, relay_urls=[url])
    link.start()
    async with asyncio.timeout(10):
        await link.wait_connected()
    return link


async def stop_node(link: RelayLink) -> None:
    await link.stop()
    await link.runtime.close()


async def pair(link: RelayLink, relay_url: str, pair_url: str | None = None) -> Device:
    _, url = await link.open_pairing()
    await asyncio.sleep(0.3)  # the pairing reaches the (shared) database first
    phone = Device(pair_url or relay_url)
    await phone.pair(url)
    return phone


async def steal_and_reuse(phone: Device, thief_relay: str, victim_relay: str) -> float:
    """The thief copied the refresh token and rotated it first; the phone's next refresh is
    a reuse. Returns how long the thief's open socket lived after the reuse was refused."""
    thief = Device(thief_relay, refresh_token=phone.refresh_token, node_id=phone.node_id)
    await thief.refresh()
    assert isinstance(await thief.connect(handshake=False), m.Welcome)
    victim = Device(victim_relay, refresh_token=phone.refresh_token)
    with pytest.raises(RelayRefused) as err:
        await victim.refresh()
    refused_at = time.perf_counter()
    assert err.value.code == "refresh_reused"
    await thief.wait_closed(timeout=3)
    lived = time.perf_counter() - refused_at
    said = await thief.next_control(timeout=1, kind=m.Revoked)
    assert "pair it again" in said.reason
    await thief.close()
    await victim.close()
    return lived


async def test_a_reused_refresh_token_closes_the_thiefs_open_socket(
    tmp_path: Path, relay: RelayProcess, fake_openai: FakeOpenAI
) -> None:
    link = await start_node(tmp_path, fake_openai, relay.url)
    phone = await pair(link, relay.url)
    await phone.connect()  # the owner's own socket, same family
    lived = await steal_and_reuse(phone, relay.url, relay.url)
    assert lived < 1.0
    await phone.wait_closed(timeout=1)
    await phone.close()
    await stop_node(link)


async def test_revocations_close_sockets_on_every_relay_instance(
    tmp_path: Path, relay_factory, shared_env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    env = {**shared_env, "ORA_RELAY_WEBHOOK_SECRET": WEBHOOK_SECRET}
    relay_a: RelayProcess = relay_factory("a", **env)
    relay_b: RelayProcess = relay_factory("b", **env)
    link = await start_node(tmp_path, fake_openai, relay_a.url)

    # Reuse detected on B; the thief's socket is on A.
    phone = await pair(link, relay_a.url)
    assert await steal_and_reuse(phone, relay_a.url, relay_b.url) < 1.0

    # The owner revokes from the Node (on A) a device connected to B.
    tablet = await pair(link, relay_a.url, pair_url=relay_b.url)
    await tablet.connect()
    started = time.perf_counter()
    await link.revoke(tablet.device_id)
    await tablet.wait_closed(timeout=3)
    assert time.perf_counter() - started < 1.0
    await tablet.close()

    # The subscription lapses (the provider's webhook reaches B); the devices sit on A.
    laptop = await pair(link, relay_a.url)
    await laptop.connect()  # handshake done: it works until the lapse
    event = {
        "id": "evt_lapse_1",
        "type": "customer.subscription.updated",
        "created": time.time(),
        "data": {
            "object": {"status": "past_due", "metadata": {"account_id": link.identity.node_id}}
        },
    }
    raw = json.dumps(event).encode()
    http = await laptop._http()
    started = time.perf_counter()
    async with http.post(
        f"{relay_b.url}/v1/billing/webhook",
        data=raw,
        headers={"Stripe-Signature": sign(WEBHOOK_SECRET, raw, int(time.time()))},
    ) as resp:
        assert resp.status == 200, await resp.text()
    await laptop.wait_closed(timeout=3)
    assert time.perf_counter() - started < 1.0
    closed = await laptop.next_control(timeout=1, kind=m.Error)
    assert closed.code == "subscription_inactive"
    await laptop.close()
    await stop_node(link)


async def test_an_expired_token_ends_its_socket_unless_renewed_in_band(
    tmp_path: Path, relay_factory, fake_openai: FakeOpenAI
) -> None:
    relay = relay_factory("short", ORA_RELAY_ACCESS_TTL_S="3")
    link = await start_node(tmp_path, fake_openai, relay.url)
    lazy = await pair(link, relay.url)
    diligent = await pair(link, relay.url)
    await lazy.connect()
    await diligent.connect()
    await asyncio.sleep(1.5)
    await diligent.renew()  # what the web client does before its token expires
    await lazy.wait_closed(timeout=4)
    expired = await lazy.next_control(timeout=1, kind=m.Error)
    assert expired.code == "token_expired" and "refresh" in expired.message
    # The renewed socket outlives the token it opened with, and still works.
    await asyncio.sleep(0.5)
    assert diligent.ws is not None and not diligent.ws.closed
    await diligent.handshake()  # frames still flow both ways
    # Then its new token expires too: unless renewed again, the socket ends.
    await diligent.wait_closed(timeout=5)
    await lazy.close()
    await diligent.close()
    await stop_node(link)


async def test_a_socket_cannot_be_renewed_with_another_devices_token(
    tmp_path: Path, relay: RelayProcess, fake_openai: FakeOpenAI
) -> None:
    link = await start_node(tmp_path, fake_openai, relay.url)
    mine = await pair(link, relay.url)
    other = await pair(link, relay.url)
    await mine.connect()
    assert mine.ws is not None
    await mine.ws.send_str(m.encode(m.Renew(token=other.access_token)))
    await mine.wait_closed(timeout=3)
    refused = await mine.next_control(timeout=1, kind=m.Error)
    assert refused.code == "unauthorized"
    await mine.close()
    await stop_node(link)
