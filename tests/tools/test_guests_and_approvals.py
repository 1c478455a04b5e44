"""Guests in the shared profile, and approvals asked and answered on the right channel."""

import asyncio
from pathlib import Path
from typing import Any

import pytest

from app.core.assistant import TurnRequest
from app.core.events import ApprovalPending, ToolFinished
from app.policy.approvals import ApprovalError, ApprovalRequest
from app.policy.gate import Role
from tests.support.fixtures import open_runtime
from tests.tools.conftest import tool_settings


async def _run(
    rt,
    tool: str,
    args: dict[str, Any],
    *,
    role=Role.OWNER,
    user="owner",
    channel="tray",
    on_ask=None,
):
    req = TurnRequest(text="", user_id=user, role=role, channel=channel)
    out: dict[str, Any] = {}
    events = []
    async for e in rt.assistant.call_tool(req, tool, args, None, out):
        events.append(e)
        if isinstance(e, ApprovalPending) and on_ask is not None:
            on_ask(e.request)
    finished = next(e for e in events if isinstance(e, ToolFinished))
    return finished, out


async def test_critical_is_denied_in_shared_for_everyone(tmp_path: Path) -> None:
    rt = await open_runtime(tmp_path, None, profile="shared", **tool_settings(tmp_path / "f"))
    for role, user in ((Role.OWNER, "owner"), (Role.SUB_ADMIN, "helper"), (Role.GUEST, "friend")):
        asked: list[ApprovalRequest] = []
        finished, _ = await _run(
            rt, "shell", {"command": "echo hi"}, role=role, user=user, on_ask=asked.append
        )
        assert finished.outcome == "denied" and not asked
    assert {r["decision"] for r in rt.audit.rows()} == {"deny"}
    await rt.close()


async def test_guest_reads_freely_but_writing_needs_the_owner(tmp_path: Path) -> None:
    rt = await open_runtime(
        tmp_path, None, profile="shared", approval_timeout_s=0.3, **tool_settings(tmp_path / "f")
    )
    finished, _ = await _run(rt, "files_list", {}, role=Role.GUEST, user="friend")
    assert finished.outcome == "ok"
    asked: list[ApprovalRequest] = []
    finished, _ = await _run(
        rt,
        "files_write",
        {"path": "note.txt", "text": "hi"},
        role=Role.GUEST,
        user="friend",
        channel="device-friend",
        on_ask=asked.append,
    )
    assert asked and asked[0].requester == "friend" and finished.outcome == "denied"
    assert not list((tmp_path / "f").rglob("note.txt"))
    await rt.close()


async def test_guest_history_memory_and_files_are_their_own(tmp_path: Path, fake_openai) -> None:
    root = tmp_path / "f"
    rt = await open_runtime(tmp_path, fake_openai, profile="shared", **tool_settings(root))
    owner = TurnRequest(text="my salary is 9 million yen", user_id="owner", role=Role.OWNER)
    [e async for e in rt.assistant.turn(owner)]
    [
        e
        async for e in rt.assistant.turn(
            TurnRequest(text="/remember salary review in March", user_id="owner", role=Role.OWNER)
        )
    ]
    root.mkdir(exist_ok=True)
    (root / "payslip.txt").write_text("9,000,000")
    guest = TurnRequest(text="what is the salary?", user_id="friend", role=Role.GUEST)
    [e async for e in rt.assistant.turn(guest)]
    shown = str(fake_openai.requests[-1]["messages"])
    assert "9 million" not in shown and "salary review" not in shown
    finished, out = await _run(
        rt, "files_search", {"query": "payslip"}, role=Role.GUEST, user="friend"
    )
    assert out["result"]["hits"] == []
    await rt.close()


async def test_approval_is_asked_elsewhere_and_refused_from_the_requesting_device(
    tmp_path: Path,
) -> None:
    rt = await open_runtime(tmp_path, None, **tool_settings(tmp_path / "f"))
    tray_saw: list[Any] = []
    rt.broker.subscribe(tray_saw.append)
    refusals: list[str] = []

    def answer(req: ApprovalRequest) -> None:
        # The phone that asked tries to approve itself; then the owner approves at the PC.
        try:
            rt.broker.answer(
                req.approval_id,
                approve=True,
                digest=req.digest,
                answered_by="owner",
                answerer_role=Role.OWNER,
                channel="device-phone",
            )
        except ApprovalError as err:
            refusals.append(str(err))
        asyncio.get_running_loop().call_soon(
            lambda: rt.broker.answer(
                req.approval_id,
                approve=True,
                digest=req.digest,
                answered_by="owner",
                answerer_role=Role.OWNER,
                channel="tray",
            )
        )

    finished, _ = await _run(
        rt, "files_write", {"path": "a.txt", "text": "x"}, channel="device-phone", on_ask=answer
    )
    assert isinstance(tray_saw[0], ApprovalRequest) and tray_saw[0].channel == "device-phone"
    assert refusals and "device that asked" in refusals[0]
    assert finished.outcome == "ok" and (tmp_path / "f" / "a.txt").read_text() == "x"
    assert rt.audit.rows()[0]["approver"] == "owner"
    await rt.close()


async def test_an_approval_cannot_be_reused_for_other_arguments_or_replayed(tmp_path: Path) -> None:
    rt = await open_runtime(tmp_path, None, approval_timeout_s=0.5, **tool_settings(tmp_path / "f"))
    (tmp_path / "f").mkdir(exist_ok=True)
    (tmp_path / "f" / "keep.txt").write_text("keep")
    first: list[ApprovalRequest] = []

    def approve(req: ApprovalRequest) -> None:
        first.append(req)
        asyncio.get_running_loop().call_soon(
            lambda: rt.broker.answer(
                req.approval_id,
                approve=True,
                digest=req.digest,
                answered_by="owner",
                answerer_role=Role.OWNER,
                channel="tray",
            )
        )

    await _run(
        rt, "files_write", {"path": "ok.txt", "text": "x"}, channel="device-phone", on_ask=approve
    )
    old = first[0]

    def replay(req: ApprovalRequest) -> None:
        with pytest.raises(ApprovalError):  # the old approval is spent
            rt.broker.answer(
                old.approval_id,
                approve=True,
                digest=old.digest,
                answered_by="owner",
                answerer_role=Role.OWNER,
                channel="tray",
            )
        with pytest.raises(ApprovalError, match="does not match"):  # the old digest does not fit
            rt.broker.answer(
                req.approval_id,
                approve=True,
                digest=old.digest,
                answered_by="owner",
                answerer_role=Role.OWNER,
                channel="tray",
            )

    finished, _ = await _run(
        rt, "files_delete", {"path": "keep.txt"}, channel="device-phone", on_ask=replay
    )
    assert finished.outcome == "denied" and (tmp_path / "f" / "keep.txt").exists()
    await rt.close()
