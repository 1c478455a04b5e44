"""A Node and a device paired through a running Relay, talking end to end."""

import asyncio
import sqlite3

import pytest

from app.link.relay_link import RelayLink
from protocol import app_messages as am
from protocol import messages as m
from tests.relay.conftest import RelayProcess
from tests.support.device_client import Device, RelayRefused
from tests.support.fake_openai import FakeOpenAI, Reply

pytestmark = pytest.mark.slow


async def test_pair_then_chat_with_streamed_reply(
    node: RelayLink, relay: RelayProcess, fake_openai: FakeOpenAI
) -> None:
    _, url = await node.open_pairing()
    phone = Device(relay.url)
    body = await phone.pair(url)
    assert body["role"] == "owner" and node.registry.active(phone.device_id) is not None
    await phone.connect()
    fake_openai.script.append(Reply(text="Your next meeting is at ten"))
    deltas, text, _ = await phone.chat("what is next today?")
    assert len(deltas) > 2 and "".join(deltas) == text == "Your next meeting is at ten"
    await phone.close()


async def test_relay_never_stores_or_logs_plaintext(
    node: RelayLink, relay: RelayProcess, fake_openai: FakeOpenAI
) -> None:
    marker = "PLAINTEXT-MARKER-7f3a9c"
    _, url = await node.open_pairing()
    phone = Device(relay.url)
    await phone.pair(url)
    await phone.connect()
    fake_openai.script.append(Reply(text=f"echoing {marker} back"))
    _, text, _ = await phone.chat(f"please repeat {marker}")
    assert marker in text  # it really travelled both ways
    await phone.close()
    relay.stop()
    for path in relay.data_dir.rglob("*"):
        if path.is_file():
            assert marker.encode() not in path.read_bytes(), f"plaintext found in {path}"
    rows = (
        sqlite3.connect(relay.data_dir / "relay.db").execute("SELECT event FROM audit").fetchall()
    )
    events = {r[0] for r in rows}
    assert {"pairing_succeeded", "token_issued", "connected", "disconnected"} <= events


async def test_device_is_told_at_once_when_its_node_goes_offline(
    node: RelayLink, relay: RelayProcess
) -> None:
    _, url = await node.open_pairing()
    phone = Device(relay.url)
    await phone.pair(url)
    await phone.connect()
    online = await phone.next_control(kind=m.Presence)
    assert online.online
    await node.stop()
    offline = await phone.next_control(timeout=2, kind=m.Presence)
    assert offline.online is False and offline.peer_id == phone.node_id
    await phone.close()


async def test_relay_restart_node_reconnects_and_next_request_works(
    node: RelayLink, relay: RelayProcess, fake_openai: FakeOpenAI
) -> None:
    _, url = await node.open_pairing()
    phone = Device(relay.url)
    await phone.pair(url)
    await phone.connect()
    await phone.close()
    relay.stop()
    await asyncio.sleep(0.3)
    assert node.status != "connected"
    relay.start()
    async with asyncio.timeout(15):
        while node.status != "connected":
            await asyncio.sleep(0.05)
    again = Device(
        relay.url,
        private_key=phone.private_key,
        device_id=phone.device_id,
        node_id=phone.node_id,
        node_public_key=phone.node_public_key,
        access_token=phone.access_token,
        refresh_token=phone.refresh_token,
    )
    await again.connect()
    fake_openai.script.append(Reply(text="still here"))
    _, text, _ = await again.chat("are you there?")
    assert text == "still here"
    await again.close()


async def test_revocation_closes_the_device_within_a_second(
    node: RelayLink, relay: RelayProcess
) -> None:
    _, url = await node.open_pairing()
    phone = Device(relay.url)
    await phone.pair(url)
    await phone.connect()
    await node.revoke(phone.device_id)
    revoked = await phone.next_control(timeout=1, kind=m.Revoked)
    assert "revoked" in revoked.reason
    await asyncio.sleep(0.1)
    assert phone.ws is not None and phone.ws.closed
    retry = Device(relay.url, access_token=phone.access_token)
    reply = await retry.connect(handshake=False, expect_welcome=False)
    assert isinstance(reply, m.Error) and reply.code == "revoked"
    with pytest.raises(RelayRefused) as err:
        await phone.refresh()
    assert err.value.code == "revoked"
    await retry.close()
    await phone.close()


async def test_owner_device_sees_and_answers_approvals_asked_from_another_device(
    node: RelayLink, relay: RelayProcess, fake_openai: FakeOpenAI
) -> None:
    from app.policy.gate import Risk
    from app.tools.spec import ToolSpec

    ran: list[str] = []

    async def send_mail(ctx, args):
        ran.append(args["to"])
        return {"sent": True}

    node.runtime.registry.add(
        ToolSpec(
            name="mail_send",
            description="send",
            parameters={"type": "object", "properties": {"to": {"type": "string"}}},
            risk=Risk.HIGH,
            handler=send_mail,
        )
    )
    phone, laptop = Device(relay.url, name="phone"), Device(relay.url, name="laptop")
    for d in (phone, laptop):
        _, url = await node.open_pairing()
        await d.pair(url)
        await d.connect()
    fake_openai.script += [
        Reply(tool_calls=[("mail_send", {"to": "boss@example.com"})]),
        Reply(text="Sent."),
    ]
    chat = asyncio.create_task(phone.chat("mail my boss"))
    ask = await laptop.next_app()
    while not isinstance(ask, am.ApprovalRequestMessage):
        ask = await laptop.next_app()
    assert ask.tool == "mail_send" and ask.channel == phone.device_id
    # The phone that asked cannot approve its own request (it is shown the request too).
    await phone.send(
        am.ApprovalAnswer(approval_id=ask.approval_id, approve=True, digest=ask.digest)
    )
    await laptop.send(
        am.ApprovalAnswer(approval_id=ask.approval_id, approve=True, digest=ask.digest)
    )
    _, text, others = await chat
    assert ran == ["boss@example.com"] and text == "Sent."
    assert any(isinstance(o, am.AppError) and "device that asked" in o.message for o in others)
    assert any(isinstance(o, am.ApprovalRequestMessage) for o in others)
    await phone.close()
    await laptop.close()
