"""What a lying Relay can do to a working session: replay a handshake start, drop, reorder or
tamper with frames. None of it goes unnoticed, none of it breaks the session for good, and
nothing is ever shown as delivered that was not."""

import asyncio
import uuid

import pytest

from app.link.relay_link import RelayLink
from protocol import app_messages as am
from protocol import e2ee
from tests.relay.conftest import RelayProcess
from tests.support.device_client import Device
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.relay_proxy import (
    ProxyRelay,
    drop_first_data,
    flip_first_data,
    is_data,
    is_hs1,
    proxy_relay,
)

pytestmark = pytest.mark.slow


async def _phone_through(proxy: ProxyRelay, node: RelayLink) -> Device:
    _, url = await node.open_pairing()
    phone = Device(proxy.url)
    await phone.pair(url)
    await phone.connect()
    return phone


async def _wait_for(predicate: object, timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():  # type: ignore[operator]
            await asyncio.sleep(0.05)


async def test_a_replayed_handshake_start_does_not_replace_the_live_session(
    node: RelayLink, relay: RelayProcess, fake_openai: FakeOpenAI
) -> None:
    async with proxy_relay(relay.url) as proxy:
        phone = await _phone_through(proxy, node)
        fake_openai.script.append(Reply(text="first answer"))
        assert (await phone.chat("one", timeout=90))[1] == "first answer"
        # The Relay replays the HS1 it recorded, twice, as if the phone had started again.
        recorded = next(f for f in proxy.captured_up if is_hs1(f))
        await proxy.inject_up(recorded)
        await proxy.inject_up(recorded)
        await asyncio.sleep(0.5)
        # The Node answered (a pending session), but the live one still carries the chat.
        fake_openai.script.append(Reply(text="second answer"))
        _, text, _ = await phone.chat("two", timeout=90)
        assert text == "second answer"
        assert len(phone.received) == 2 and not phone.resyncs
        await phone.close()


async def test_a_dropped_frame_is_reported_inside_the_session_and_a_new_handshake_heals_it(
    node: RelayLink, relay: RelayProcess, fake_openai: FakeOpenAI
) -> None:
    async with proxy_relay(relay.url) as proxy:
        phone = await _phone_through(proxy, node)
        proxy.up = drop_first_data()
        assert phone.session is not None
        lost_counter = phone.session._send_counter
        await phone.send(am.Chat(id="lost", text="never arrives"))
        await phone.send(am.Chat(id="after", text="refused: out of order"))
        await _wait_for(lambda: phone.resyncs)
        notice = phone.resyncs[0]
        assert isinstance(notice, am.Resync) and notice.expected == lost_counter
        assert "lost" not in phone.received and "after" not in phone.received
        # Both re-handshake; the session works again.
        await phone.handshake()
        fake_openai.script.append(Reply(text="back again"))
        assert (await phone.chat("are you there?", timeout=90))[1] == "back again"
        await phone.close()


async def test_a_reordered_pair_of_frames_is_reported(
    node: RelayLink, relay: RelayProcess, fake_openai: FakeOpenAI
) -> None:
    async with proxy_relay(relay.url) as proxy:
        phone = await _phone_through(proxy, node)
        held: list[bytes] = []

        def swap(frame: bytes) -> list[bytes]:
            if is_data(frame) and not held:
                held.append(frame)
                return []
            if is_data(frame) and len(held) == 1:
                held.append(frame)
                return [frame, held[0]]
            return [frame]

        proxy.up = swap
        fake_openai.script.append(Reply(text="ok"))
        await phone.send(am.Chat(id="first", text="1"))
        await phone.send(am.Chat(id="second", text="2"))
        await _wait_for(lambda: phone.resyncs)
        assert "second" not in phone.received  # the one that came early was refused
        await phone.close()


async def test_a_tampered_frame_is_refused_and_reported_in_both_directions(
    node: RelayLink, relay: RelayProcess, fake_openai: FakeOpenAI
) -> None:
    async with proxy_relay(relay.url) as proxy:
        phone = await _phone_through(proxy, node)
        proxy.up = flip_first_data(proxy, "up")
        await phone.send(am.Chat(id="tampered", text="delete nothing"))
        await _wait_for(lambda: phone.resyncs)
        assert "tampered" not in phone.received

        # Node -> phone: the phone refuses the tampered frame instead of trusting it.
        await phone.handshake()
        proxy.down = flip_first_data(proxy, "down")
        fake_openai.script.append(Reply(text="a reply"))
        await phone.send(am.Chat(id=str(uuid.uuid4()), text="hi"))
        await _wait_for(lambda: phone.refused)
        await phone.close()


async def test_a_phone_whose_node_connection_was_replaced_is_told_to_handshake_again(
    node: RelayLink, relay: RelayProcess, fake_openai: FakeOpenAI
) -> None:
    _, url = await node.open_pairing()
    phone = Device(relay.url)
    await phone.pair(url)
    await phone.connect()
    # The Node's connection is replaced (a restart, or a second copy kicking it off): it comes
    # back with no sessions, while the phone still holds its old one.
    await node.stop()
    second = RelayLink(runtime=node.runtime, relay_urls=[relay.url])
    second.start()
    async with asyncio.timeout(10):
        await second.wait_connected()
    try:
        await asyncio.sleep(0.3)
        await phone.send(am.Chat(id="into-the-void", text="hello?"))
        await _wait_for(lambda: phone.resyncs)
        assert phone.resyncs[-1] is None  # a bare RESYNC: the Node holds no session for us
        assert "into-the-void" not in phone.received
        await phone.handshake()
        fake_openai.script.append(Reply(text="here"))
        assert (await phone.chat("again", timeout=90))[1] == "here"
    finally:
        await phone.close()
        await second.stop()


def test_resync_frame_is_one_bare_byte() -> None:
    assert e2ee.resync_frame() == bytes([e2ee.RESYNC])


async def test_a_node_told_of_an_incompatible_relay_says_update_rather_than_failing_oddly(
    tmp_path: object, relay: RelayProcess, fake_openai: FakeOpenAI
) -> None:
    import json
    from pathlib import Path

    from tests.support.fixtures import open_runtime

    async with proxy_relay(relay.url) as proxy:

        def newer(text: str) -> str:
            body = json.loads(text)
            if body.get("type") == "welcome":
                body["version"] = "9.0.0"
            return json.dumps(body)

        proxy.down_text = newer
        rt = await open_runtime(Path(str(tmp_path)) / "node", fake_openai)
        link = RelayLink(runtime=rt, relay_urls=[proxy.url])
        link.start()
        try:
            await _wait_for(lambda: "update" in link.last_error, timeout=20)
            assert link.status != "connected"
        finally:
            await link.stop()
            await rt.close()
