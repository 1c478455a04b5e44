"""Withdrawing an approval and naming devices, attacked from the devices that may not: only the
device that asked can withdraw its request; other guests are never shown it; a guest is not
shown the owner's folder layout; only the owner renames devices. Real Relay, real Node."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from app.link.relay_link import RelayLink
from protocol import app_messages as am
from protocol import messages as m
from tests.relay.conftest import RelayProcess
from tests.support.device_client import Device
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.fixtures import open_runtime


async def paired(link: RelayLink, relay_url: str, role: str, name: str) -> Device:
    _, url = await link.open_pairing(role=role)
    device = Device(relay_url, name=name)
    await device.pair(url)
    await device.connect()
    return device


async def next_of(device: Device, kind: type[m.Message], timeout: float = 10) -> m.Message:
    """The next app message of this kind (others on the way are dropped)."""
    async with asyncio.timeout(timeout):
        while True:
            msg = await device.next_app(timeout)
            if isinstance(msg, kind):
                return msg


async def nothing_of(device: Device, kind: type[m.Message], within: float = 1.0) -> None:
    try:
        msg = await next_of(device, kind, within)
    except TimeoutError:
        return
    raise AssertionError(f"{device.name} was sent {msg}")


async def test_only_the_asker_withdraws_and_only_the_owner_renames(
    tmp_path: Path, relay: RelayProcess, fake_openai: FakeOpenAI
) -> None:
    runtime = await open_runtime(tmp_path / "node", fake_openai, profile="shared")
    link = RelayLink(runtime=runtime, relay_urls=[relay.url])
    link.start()
    async with asyncio.timeout(10):
        await link.wait_connected()
    owner = await paired(link, relay.url, "owner", "Owner's phone")
    asker = await paired(link, relay.url, "guest", "Mika's phone")
    other = await paired(link, relay.url, "guest", "Ken's phone")
    try:
        fake_openai.script += [
            Reply(tool_calls=[("files_write", {"path": "list.txt", "text": "milk"})]),
            Reply(text="Not written."),
        ]
        await asker.send(am.Chat(id=str(uuid.uuid4()), text="note milk"))
        shown_owner = await next_of(owner, am.ApprovalRequestMessage)
        shown_asker = await next_of(asker, am.ApprovalRequestMessage)
        assert isinstance(shown_owner, am.ApprovalRequestMessage)
        assert isinstance(shown_asker, am.ApprovalRequestMessage)
        # The owner judges by names and the whole path; the guest sees its own arguments only.
        assert shown_owner.device_name == "Mika's phone"
        assert shown_owner.requester_role == "guest"
        assert shown_owner.target.endswith("/list.txt") and "/guests/" in shown_owner.target
        assert shown_asker.target == "" and shown_asker.arguments == {
            "path": "list.txt",
            "text": "milk",
        }
        waiting = await next_of(asker, am.ToolActivity)
        assert isinstance(waiting, am.ToolActivity)
        if waiting.status == "started":
            waiting = await next_of(asker, am.ToolActivity)
        assert waiting.status == "waiting" and waiting.detail == shown_owner.approval_id
        await nothing_of(other, am.ApprovalRequestMessage)  # another guest is not shown it

        approval_id = shown_owner.approval_id
        for intruder in (other, owner):  # neither can withdraw it for the asker
            await intruder.send(am.ApprovalWithdraw(approval_id=approval_id))
            refused = await next_of(intruder, am.AppError)
            assert isinstance(refused, am.AppError) and refused.code == "approval_refused"
        assert [r.approval_id for r in runtime.broker.pending()] == [approval_id]

        await asker.send(am.ApprovalWithdraw(approval_id=approval_id))
        for device in (owner, asker):
            closed = await next_of(device, am.ApprovalResolved)
            assert isinstance(closed, am.ApprovalResolved)
            assert (closed.approval_id, closed.outcome) == (approval_id, "withdrawn")
        await nothing_of(other, am.ApprovalResolved, within=0.5)
        done = await next_of(asker, am.Done, timeout=15)
        assert isinstance(done, am.Done) and done.text == "Not written."
        row = next(r for r in runtime.audit.rows() if r["tool"] == "files_write")
        assert row["outcome"] == "withdrawn" and row["approver"] == asker.device_id

        # Names: a guest cannot rename anyone; the owner can, and a blank name is refused.
        await asker.send(am.DeviceRename(device_id=other.device_id, name="hacked"))
        forbidden = await next_of(asker, am.AppError)
        assert isinstance(forbidden, am.AppError) and forbidden.code == "forbidden"
        await owner.send(am.DeviceRename(device_id=other.device_id, name="  \u202e\n "))
        blank = await next_of(owner, am.AppError)
        assert isinstance(blank, am.AppError)
        unchanged = await next_of(owner, am.Devices)  # the list follows, as it was
        assert isinstance(unchanged, am.Devices)
        assert {d["name"] for d in unchanged.items} >= {"Ken's phone"}
        await owner.send(am.DeviceRename(device_id=other.device_id, name="Ken's tablet"))
        listed = await next_of(owner, am.Devices)
        assert isinstance(listed, am.Devices)
        names = {d["device_id"]: (d["name"], d["online"]) for d in listed.items}
        assert names[other.device_id] == ("Ken's tablet", True)
        assert names[asker.device_id] == ("Mika's phone", True)
    finally:
        for device in (owner, asker, other):
            await device.close()
        await link.stop()
        await runtime.close()
