"""A Node names its devices, so a malicious Node may name one after another Node's id (node ids
are not secret: they travel in pairing links). That device must get none of the other Node's
traffic, on one Relay or across a cluster; and the Relay refuses such a name at pairing."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sqlite3
import uuid
from pathlib import Path

import aiohttp
import pytest

from app.link.relay_link import RelayLink
from protocol import cloud, pairing
from protocol import messages as m
from protocol.encoding import b64u_encode
from protocol.version import PROTOCOL_VERSION
from relay_server.storage import PostgresStore, SqliteStore
from relay_server.token_service import TokenService
from tests.relay.conftest import RelayProcess
from tests.support.device_client import Device, RelayRefused
from tests.support.fake_openai import FakeOpenAI
from tests.support.fixtures import open_runtime

pytestmark = pytest.mark.slow


class EvilNode:
    """A registered Node speaking the protocol by hand, to pick its devices' ids."""

    def __init__(self, http: aiohttp.ClientSession, relay_url: str) -> None:
        self.http, self.relay_url = http, relay_url
        self.node_id = ""
        self.ws: aiohttp.ClientWebSocketResponse | None = None

    async def start(self) -> None:
        async with self.http.post(
            f"{self.relay_url}/v1/nodes", json={"public_key": b64u_encode(bytes(32))}
        ) as resp:
            body = await resp.json()
        self.node_id = body["node_id"]
        self.ws = await self.http.ws_connect(f"{self.relay_url}/v1/ws")
        hello = m.Hello(version=PROTOCOL_VERSION, role=m.PeerKind.NODE, token=body["node_token"])
        await self.ws.send_str(m.encode(hello))
        assert isinstance(m.decode((await self.ws.receive(timeout=5)).data), m.Welcome)

    async def pair_device_named(self, device_id: str) -> tuple[int, dict[str, str]]:
        """Open a pairing, pair with it, and answer with the chosen device id."""
        assert self.ws is not None
        secret, pairing_id = pairing.new_secret(), secrets.token_urlsafe(16)
        opened = m.PairOpen(
            pairing_id=pairing_id,
            verifier=pairing.relay_verifier(secret),
            ttl_s=60,
            role="owner",
        )
        await self.ws.send_str(m.encode(opened))
        await asyncio.sleep(0.3)
        body = {"pairing_id": pairing_id, "proof": pairing.relay_proof(secret), "sealed": "x"}
        posting = asyncio.create_task(self._post_pair(body))
        while True:
            msg = m.decode((await self.ws.receive(timeout=10)).data)
            if isinstance(msg, m.PairRequest):
                break
        decision = m.PairDecision(
            pairing_id=pairing_id,
            request_id=msg.request_id,
            accepted=True,
            device_id=device_id,
            role="owner",
            answer="x",
        )
        await self.ws.send_str(m.encode(decision))
        return await posting

    async def _post_pair(self, body: dict[str, str]) -> tuple[int, dict[str, str]]:
        async with self.http.post(f"{self.relay_url}/v1/pair", json=body) as resp:
            return resp.status, await resp.json()


async def start_victim(tmp_path: Path, fake_openai: FakeOpenAI, url: str) -> RelayLink:
    rt = await open_runtime(tmp_path / "victim", fake_openai)
    link = RelayLink(runtime=rt, relay_urls=[url])
    link.start()
    async with asyncio.timeout(10):
        await link.wait_connected()
    return link


@pytest.mark.parametrize("reserved", ["victim", "cloud", "nil"])
async def test_a_node_cannot_name_a_device_after_another_node(
    tmp_path: Path, relay: RelayProcess, fake_openai: FakeOpenAI, reserved: str
) -> None:
    victim = await start_victim(tmp_path, fake_openai, relay.url)
    assert victim.identity.node_id
    name = {"victim": victim.identity.node_id, "cloud": cloud.CLOUD_PEER_ID}.get(
        reserved, str(uuid.UUID(int=0))
    )
    async with aiohttp.ClientSession() as http:
        evil = EvilNode(http, relay.url)
        await evil.start()
        status, body = await evil.pair_device_named(name)
        assert status in (400, 403, 409) and body["error"] == "pairing_refused", body
        assert "device id" in body["message"]
        # Nor may it take a device id another Node's device already has.
        status, body = await evil.pair_device_named(str(uuid.uuid4()))
        assert status == 200
        status, again = await evil.pair_device_named(body["device_id"])
        assert status != 200 and again["error"] == "pairing_refused"
    await victim.stop()
    await victim.runtime.close()


async def plant_colliding_device(store: SqliteStore | PostgresStore, victim: str, evil: str) -> str:
    """A colliding device as a database from before the check would hold it: its token."""
    await store.add_device(victim, evil, "owner")
    issued = await TokenService(store, 600, 600).issue(victim)
    await store.close()
    return issued.access_token


async def check_no_crossing(
    victim: RelayLink, victim_relay: str, evil_relay: str, planted_token: str
) -> None:
    """The planted device connects; the victim's pairings and frames still reach the victim."""
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(f"{evil_relay}/v1/ws", max_msg_size=0)
        await ws.send_str(
            m.encode(m.Hello(version=PROTOCOL_VERSION, role=m.PeerKind.DEVICE, token=planted_token))
        )
        assert isinstance(m.decode((await ws.receive(timeout=5)).data), m.Welcome)
        _, url = await victim.open_pairing()
        await asyncio.sleep(0.3)
        phone = Device(victim_relay)
        await phone.pair(url)  # the victim Node got the request and answered it
        # The handshake's frames go to the victim Node and its sealed answer comes back.
        await phone.connect()
        got: list[aiohttp.WSMessage] = []
        try:
            while True:
                got.append(await ws.receive(timeout=0.5))
        except TimeoutError:
            pass
        crossed = [
            msg
            for msg in got
            if msg.type == aiohttp.WSMsgType.BINARY
            or (msg.type == aiohttp.WSMsgType.TEXT and '"pair_request"' in msg.data)
        ]
        assert crossed == [], "the planted device received the victim Node's traffic"
        await ws.close()
        await phone.close()


async def test_a_colliding_device_gets_nothing_of_the_node_on_one_relay(
    tmp_path: Path, relay: RelayProcess, fake_openai: FakeOpenAI
) -> None:
    victim = await start_victim(tmp_path, fake_openai, relay.url)
    async with aiohttp.ClientSession() as http:
        evil = EvilNode(http, relay.url)
        await evil.start()
        store = SqliteStore(relay.data_dir / "relay.db")
        token = await plant_colliding_device(store, victim.identity.node_id or "", evil.node_id)
        await check_no_crossing(victim, relay.url, relay.url, token)
        # The victim's PC goes offline: a pairing for it is "offline", not the planted device's.
        planted = await http.ws_connect(f"{relay.url}/v1/ws")
        await planted.send_str(
            m.encode(m.Hello(version=PROTOCOL_VERSION, role=m.PeerKind.DEVICE, token=token))
        )
        assert isinstance(m.decode((await planted.receive(timeout=5)).data), m.Welcome)
        _, url = await victim.open_pairing()
        await asyncio.sleep(0.3)
        await victim.stop()
        with pytest.raises(RelayRefused) as err:
            await Device(relay.url).pair(url)
        assert err.value.code == "node_offline"
        said = []
        with contextlib.suppress(TimeoutError):
            while True:
                said.append((await planted.receive(timeout=0.5)).data)
        assert not [x for x in said if isinstance(x, str) and "pair_request" in x]
        await planted.close()
    with sqlite3.connect(relay.data_dir / "relay.db") as db:
        assert db.execute("SELECT COUNT(*) FROM devices").fetchone()[0] == 2
    await victim.stop()
    await victim.runtime.close()


async def test_a_colliding_device_gets_nothing_of_the_node_across_a_cluster(
    tmp_path: Path, relay_factory, shared_env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    relay_a: RelayProcess = relay_factory("a", **shared_env)
    relay_b: RelayProcess = relay_factory("b", **shared_env)
    victim = await start_victim(tmp_path, fake_openai, relay_a.url)
    async with aiohttp.ClientSession() as http:
        evil = EvilNode(http, relay_b.url)
        await evil.start()
        store = await PostgresStore.connect(shared_env["DATABASE_URL"])
        token = await plant_colliding_device(store, victim.identity.node_id or "", evil.node_id)
        # The planted device on B; the victim's phone on B too, its Node on A: every message
        # between them crosses Redis, where the planted device would listen.
        await check_no_crossing(victim, relay_b.url, relay_b.url, token)
    await victim.stop()
    await victim.runtime.close()
