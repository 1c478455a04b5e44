"""Through a real Relay: a device sees a plan's progress and can stop its own answers only."""

from __future__ import annotations

import json
import uuid

import pytest

from app.link.relay_link import RelayLink
from protocol import app_messages as am
from tests.relay.conftest import RelayProcess
from tests.support.device_client import Device
from tests.support.fake_openai import FakeOpenAI, Reply

pytestmark = pytest.mark.slow


async def paired(node: RelayLink, relay: RelayProcess, role: str = "owner") -> Device:
    device = Device(relay.url, name=role)
    _, url = await node.open_pairing(role=role)
    await device.pair(url)
    await device.connect()
    return device


async def test_a_device_sees_the_plan_step_by_step(
    node: RelayLink, relay: RelayProcess, fake_openai: FakeOpenAI
) -> None:
    plan = {
        "steps": [{"do": "note it", "tool": "remember"}, {"do": "look it up", "tool": "recall"}]
    }
    fake_openai.script += [
        Reply(tool_calls=[("make_plan", {"goal": "g"})]),
        Reply(text=json.dumps(plan)),
        Reply(tool_calls=[("remember", {"text": "bike lock code 4312"})]),
        Reply(tool_calls=[("recall", {"query": "bike"})]),
        Reply(text="Saved and found it."),
    ]
    phone = await paired(node, relay)
    _, text, other = await phone.chat("save my bike lock code 4312 and check it")
    assert text == "Saved and found it."
    plans = [m for m in other if isinstance(m, am.PlanProgress)]
    assert [p.current for p in plans] == [0, 1, 1, 2, 2]
    assert [s["status"] for s in plans[-1].steps] == ["done", "done"]
    assert plans[-1].steps[0] == {"text": "note it", "tool": "remember", "status": "done"}
    await phone.close()


async def test_a_device_stops_its_answer_and_another_device_cannot(
    node: RelayLink, relay: RelayProcess, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script += [
        Reply(text=" ".join(["la"] * 200), chunk_delay_s=0.05),
        Reply(text=" ".join(["la"] * 200), chunk_delay_s=0.05),
    ]
    phone = await paired(node, relay)
    guest = await paired(node, relay)  # a second device (guests cannot pair the private profile)
    chat_id = str(uuid.uuid4())
    await phone.send(am.Chat(id=chat_id, text="sing"))
    first = await phone.next_app()
    assert isinstance(first, am.Delta)
    # Another device names the phone's message: it only ever reaches its own turns.
    await guest.send(am.Cancel(id=chat_id))
    refusal = await guest.next_app()
    assert isinstance(refusal, am.AppError) and refusal.code == "nothing_to_cancel"
    assert isinstance(await phone.next_app(), am.Delta)  # still singing
    await phone.send(am.Cancel(id=chat_id))
    seen: list[object] = []
    while not (seen and isinstance(seen[-1], am.Done)):
        seen.append(await phone.next_app())
    assert any(isinstance(m, am.Cancelled) and m.id == chat_id for m in seen)
    deltas = sum(isinstance(m, am.Delta) for m in seen)
    assert deltas < 150
    # Its own answers a guest may stop.
    guest_chat = str(uuid.uuid4())
    await guest.send(am.Chat(id=guest_chat, text="sing too"))
    assert isinstance(await guest.next_app(), am.Delta)
    await guest.send(am.Cancel(id=guest_chat))
    rest: list[object] = []
    while not (rest and isinstance(rest[-1], am.Done)):
        rest.append(await guest.next_app())
    assert any(isinstance(m, am.Cancelled) for m in rest)
    await phone.close()
    await guest.close()
