"""Attacks on the Relay: each is refused with a clear error and leaves an audit row."""

import asyncio
import socket
import sqlite3
import uuid

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.link.relay_link import RelayLink
from protocol import messages as m
from protocol import pairing
from protocol.tokens import new_token
from tests.relay.conftest import RelayProcess
from tests.support.device_client import Device, RelayRefused
from tests.support.fake_openai import Reply

pytestmark = pytest.mark.slow


def audit_events(relay: RelayProcess) -> list[str]:
    with sqlite3.connect(relay.data_dir / "relay.db") as db:
        return [r[0] for r in db.execute("SELECT event FROM audit ORDER BY id")]


def audit_details(relay: RelayProcess, event: str) -> list[str]:
    with sqlite3.connect(relay.data_dir / "relay.db") as db:
        rows = db.execute("SELECT detail FROM audit WHERE event = ? ORDER BY id", (event,))
        return [r[0] or "" for r in rows]


async def paired(node: RelayLink, relay: RelayProcess, **kw: object) -> Device:
    _, url = await node.open_pairing(**kw)  # type: ignore[arg-type]
    d = Device(relay.url)
    await d.pair(url)
    return d


async def test_wrong_and_malformed_tokens_are_refused(node: RelayLink, relay: RelayProcess) -> None:
    for token in (new_token("at"), "ora_at_garbage", new_token("rt"), ""):
        reply = await Device(relay.url, access_token=token).connect(
            handshake=False, expect_welcome=False
        )
        assert isinstance(reply, m.Error) and reply.code == "unauthorized"
    assert audit_events(relay).count("refused:unauthorized") >= 4


async def test_expired_access_token_is_refused_until_refreshed(
    relay_factory, fake_openai, tmp_path
) -> None:
    from tests.support.fixtures import open_runtime

    relay = relay_factory("short", ORA_RELAY_ACCESS_TTL_S="1")
    rt = await open_runtime(tmp_path / "n", fake_openai)
    link = RelayLink(runtime=rt, relay_urls=[relay.url])
    link.start()
    async with asyncio.timeout(10):
        await link.wait_connected()
    phone = await paired(link, relay)
    await asyncio.sleep(1.2)
    reply = await Device(relay.url, access_token=phone.access_token).connect(
        handshake=False, expect_welcome=False
    )
    assert (
        isinstance(reply, m.Error) and reply.code == "token_expired" and "refresh" in reply.message
    )
    await phone.refresh()
    assert isinstance(await phone.connect(), m.Welcome)
    assert "refused:token_expired" in audit_events(relay) and "token_rotated" in audit_events(relay)
    await phone.close()
    await link.stop()
    await rt.close()


async def test_a_rotated_token_is_dead_at_once_and_reuse_revokes_the_family(
    node: RelayLink, relay: RelayProcess
) -> None:
    phone = await paired(node, relay)
    old_access, old_refresh = phone.access_token, phone.refresh_token
    await phone.refresh()
    reply = await Device(relay.url, access_token=old_access).connect(
        handshake=False, expect_welcome=False
    )
    assert isinstance(reply, m.Error) and reply.code == "token_expired"
    thief = Device(relay.url, refresh_token=old_refresh)
    with pytest.raises(RelayRefused) as err:
        await thief.refresh()
    assert err.value.code == "refresh_reused"
    # The whole family is gone: the legitimate device's fresh tokens too.
    reply = await Device(relay.url, access_token=phone.access_token).connect(
        handshake=False, expect_welcome=False
    )
    assert isinstance(reply, m.Error) and reply.code == "revoked"
    with pytest.raises(RelayRefused):
        await phone.refresh()
    assert "token_family_revoked" in audit_events(relay)


async def test_pairing_secret_is_single_use(node: RelayLink, relay: RelayProcess) -> None:
    _, url = await node.open_pairing()
    await Device(relay.url).pair(url)
    with pytest.raises(RelayRefused) as err:
        await Device(relay.url).pair(url)
    assert err.value.code == "pairing_refused" and "already used" in err.value.message
    assert "pairing_failed" in audit_events(relay)


async def test_expired_pairing_is_refused(node: RelayLink, relay: RelayProcess) -> None:
    _, url = await node.open_pairing(ttl_s=10)
    invite = pairing.PairingInvite.from_url(url)
    async with asyncio.timeout(5):
        while True:  # the Relay stores the pairing when the Node's message arrives
            with sqlite3.connect(relay.data_dir / "relay.db") as db:  # ten minutes later...
                moved = db.execute(
                    "UPDATE pairings SET expires_at = expires_at - 600 WHERE pairing_id=?",
                    (invite.pairing_id,),
                ).rowcount
            if moved:
                break
            await asyncio.sleep(0.02)
    with pytest.raises(RelayRefused) as err:
        await Device(relay.url).pair(url)
    assert "expired" in err.value.message


async def test_brute_force_locks_the_pairing(node: RelayLink, relay: RelayProcess) -> None:
    _, url = await node.open_pairing()
    for _attempt in range(5):
        with pytest.raises(RelayRefused) as err:
            await Device(relay.url).pair(url, proof=pairing.relay_proof(pairing.new_secret()))
        assert err.value.code in ("pairing_refused", "pairing_locked")
    assert err.value.code == "pairing_locked" and "locked" in err.value.message
    with pytest.raises(RelayRefused) as err:
        await Device(relay.url).pair(url)  # even the right secret is too late now
    assert "locked" in err.value.message
    assert audit_events(relay).count("pairing_failed") >= 6


async def test_a_wrong_secret_that_passes_the_relay_is_refused_by_the_node(
    node: RelayLink, relay: RelayProcess
) -> None:
    # A Relay that lies about the proof still cannot pair: the Node checks the sealed secret.
    _, url = await node.open_pairing()
    with pytest.raises(RelayRefused) as err:
        await Device(relay.url).pair(url, secret=pairing.new_secret())
    assert err.value.code == "pairing_refused" and "secret" in err.value.message
    assert node.registry.all() == []


async def test_oversize_frame_closes_the_connection(node: RelayLink, relay: RelayProcess) -> None:
    phone = await paired(node, relay)
    await phone.connect()
    await phone.send_raw(b"x" * (1024 * 1024 + 2048))
    await asyncio.sleep(0.5)
    assert (
        phone.ws is not None
        and phone.ws.closed
        and phone.ws.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
    )
    await phone.close()


async def test_device_addressing_another_node_is_refused(
    node: RelayLink, relay: RelayProcess
) -> None:
    phone = await paired(node, relay)
    await phone.connect()
    await phone.send_raw(b"\x01" + bytes(40), to=str(uuid.uuid4()))
    err = await phone.next_control(kind=m.Error)
    assert err.code == "not_paired"
    assert "refused:not_paired" in audit_events(relay)
    await phone.close()


async def test_foreign_origin_is_refused(node: RelayLink, relay: RelayProcess) -> None:
    phone = await paired(node, relay)
    evil = Device(
        relay.url, access_token=phone.access_token, headers={"Origin": "https://evil.example"}
    )
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await evil.connect()
    assert err.value.status == 403
    # The socket's handler bypasses the middlewares (relay_server.http_common.long_lived):
    # its own refusals carry their headers still, and every other answer keeps them.
    assert err.value.headers is not None
    assert err.value.headers.get("X-Content-Type-Options") == "nosniff"
    async with aiohttp.ClientSession() as http, http.get(f"{relay.url}/healthz") as resp:
        assert resp.headers.get("X-Content-Type-Options") == "nosniff"
    same = Device(relay.url, access_token=phone.access_token, headers={"Origin": relay.url})
    assert isinstance(await same.connect(handshake=False), m.Welcome)
    assert any(e == "refused:unauthorized" for e in audit_events(relay))
    await evil.close()
    await same.close()


async def test_outdated_peer_is_told_to_update(node: RelayLink, relay: RelayProcess) -> None:
    # This Relay speaks 1.x and also serves 0.x; anything older or unreadable must update.
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{relay.url}/v1/ws") as ws:
        await ws.send_str(
            m.encode(m.Hello(version="0.x.0", role=m.PeerKind.DEVICE, token=new_token("at")))
        )
        reply = m.decode((await ws.receive(timeout=5)).data)
        assert (
            isinstance(reply, m.Error)
            and reply.code == "update_required"
            and "update" in reply.message
        )


async def test_insecure_node_version_is_refused_with_a_reason(
    relay_factory, fake_openai, tmp_path
) -> None:
    from app.version import __version__
    from tests.support.fixtures import open_runtime

    relay = relay_factory("strict", ORA_RELAY_INSECURE_NODE_VERSIONS=__version__)
    rt = await open_runtime(tmp_path / "n", fake_openai)
    link = RelayLink(runtime=rt, relay_urls=[relay.url])
    link.start()
    async with asyncio.timeout(10):
        while "security problem" not in link.last_error:
            await asyncio.sleep(0.05)
    assert link.status != "connected" and "update" in link.last_error
    await link.stop()
    await rt.close()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(junk=st.one_of(st.text(max_size=300), st.binary(max_size=300)))
async def test_malformed_messages_never_crash_the_relay(
    relay: RelayProcess, junk: str | bytes
) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{relay.url}/v1/ws") as ws:
        if isinstance(junk, bytes):
            await ws.send_bytes(junk)
        else:
            await ws.send_str(junk)
        reply = await ws.receive(timeout=5)
        assert reply.type in (
            aiohttp.WSMsgType.TEXT,
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSED,
        )
    async with aiohttp.ClientSession() as http, http.get(f"{relay.url}/healthz") as resp:
        assert resp.status == 200


async def test_a_device_that_stops_reading_is_cut_and_the_node_keeps_serving(
    relay_factory, fake_openai, tmp_path
) -> None:
    """A device that never reads while its Node floods it: the Relay holds a bounded queue for
    it, then cuts it (the reason cannot reach a reader that reads nothing, so the audit row
    keeps it), and the Node, which did nothing wrong, stays connected and serves others."""
    from tests.support.fixtures import open_runtime

    relay = relay_factory(
        "tight",
        ORA_RELAY_SEND_QUEUE_BYTES=str(256 * 1024),
        ORA_RELAY_WRITE_TIMEOUT_S="1",
        ORA_RELAY_PEER_BYTES_PER_S="0",  # the Node's flood is not slowed on its way in
    )
    rt = await open_runtime(tmp_path / "n", fake_openai)
    link = RelayLink(runtime=rt, relay_urls=[relay.url])
    link.start()
    async with asyncio.timeout(10):
        await link.wait_connected()
    phone = await paired(link, relay)

    def small_buffers(addr: tuple) -> socket.socket:
        # A fixed receive buffer, as a phone on a slow link has: loopback's autotuning would
        # otherwise let the kernel absorb tens of MiB before the Relay sees any stall.
        family, kind, proto, _, _ = addr
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        return sock

    connector = aiohttp.TCPConnector(socket_factory=small_buffers)
    async with aiohttp.ClientSession(connector=connector) as http:
        ws = await http.ws_connect(f"{relay.url}/v1/ws", max_msg_size=0)
        await ws.send_str(
            m.encode(m.Hello(version="1.0.0", role=m.PeerKind.DEVICE, token=phone.access_token))
        )
        await asyncio.sleep(0.2)
        # The device never reads while its Node floods it with far more than any buffer holds.
        for _ in range(160):
            link._peer.send_raw(phone.device_id, b"\x03" + bytes(64 * 1024))
            await asyncio.sleep(0)
        async with asyncio.timeout(30):
            while "slow_consumer" not in "".join(audit_details(relay, "disconnected")):
                await asyncio.sleep(0.2)
        # Reading now, the device finds its connection gone, not a queue that kept growing.
        async with asyncio.timeout(10):
            while not ws.closed:
                msg = await ws.receive()
                if msg.type in (
                    aiohttp.WSMsgType.CLOSE,
                    aiohttp.WSMsgType.CLOSED,
                    aiohttp.WSMsgType.ERROR,
                ):
                    break
    # The Node was not punished for its device's stall: once its own flood has left it,
    # another device pairs and chats through it.
    async with asyncio.timeout(30):
        while link._peer._out is not None and link._peer._out.qsize():
            await asyncio.sleep(0.2)
    fake_openai.script.append(Reply(text="still here"))
    tablet = await paired(link, relay)
    await tablet.connect()
    _, text, _ = await tablet.chat("are you there?")
    assert text == "still here"
    await tablet.close()
    await link.stop()
    await rt.close()
