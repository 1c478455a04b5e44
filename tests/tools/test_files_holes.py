"""Holes found by attacking the file tools and approvals: links shown as links, refusals that
name no owner's folder, no crash on NUL or over-long paths, nothing asked that could never run,
and a cap on how many approvals one device can keep waiting."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

import pytest

from app.core.assistant import TurnRequest
from app.core.events import ApprovalPending, ToolFinished
from app.policy.approvals import MAX_WAITING_PER_DEVICE, ApprovalRequest
from app.policy.gate import Role
from tests.support.fixtures import open_runtime
from tests.tools.conftest import tool_settings


async def _run(rt, tool: str, args: dict[str, Any], role=Role.OWNER, user="owner", channel="tray"):
    req = TurnRequest(text="", user_id=user, role=role, channel=channel)
    out: dict[str, Any] = {}
    events = [e async for e in rt.assistant.call_tool(req, tool, args, None, out)]
    finished = next(e for e in events if isinstance(e, ToolFinished))
    return finished, out, events


async def test_a_symlink_is_listed_as_a_link_without_its_targets_size(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    secret = tmp_path / "shadow"
    secret.write_text("x" * 12345)
    os.symlink(secret, root / "innocent.txt")
    os.symlink(tmp_path, root / "folder-link")
    (root / "real.txt").write_text("abc")
    rt = await open_runtime(tmp_path / "home", None, **tool_settings(root))
    _, out, _ = await _run(rt, "files_list", {})
    entries = {e["name"]: e for e in out["result"]["entries"]}
    assert entries["innocent.txt"] == {"name": "innocent.txt", "type": "link", "size": None}
    assert entries["folder-link"]["type"] == "link"
    assert entries["real.txt"] == {"name": "real.txt", "type": "file", "size": 3}
    assert "12345" not in str(out["result"])
    await rt.close()


@pytest.mark.parametrize("path", ["../../etc/passwd", "/etc/passwd", "{home}/secret.txt"])
async def test_refusals_name_no_owners_folder(tmp_path: Path, path: str) -> None:
    root = tmp_path / "owner-alice-private" / "docs"
    root.mkdir(parents=True)
    rt = await open_runtime(tmp_path / "home", None, profile="shared", **tool_settings(root))
    given = path.format(home=tmp_path)
    for role, user in ((Role.GUEST, "friend"), (Role.OWNER, "owner")):
        finished, out, _ = await _run(rt, "files_read", {"path": given}, role=role, user=user)
        assert finished.outcome == "error" and "outside" in finished.summary
        assert "owner-alice-private" not in out["for_model"]
        assert str(root) not in out["for_model"]
    await rt.close()


async def test_a_guest_sees_its_paths_relative_to_its_own_folder(tmp_path: Path) -> None:
    root = tmp_path / "owner-alice-private"
    rt = await open_runtime(tmp_path / "home", None, profile="shared", **tool_settings(root))
    _, out, _ = await _run(rt, "files_list", {}, role=Role.GUEST, user="friend")
    assert out["result"]["path"] == "."
    assert "owner-alice-private" not in out["for_model"]
    await rt.close()


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("a\0b.txt", "NUL"),
        ("x" * 300, "too long"),
        ("/".join(["d" * 200] * 30), "too long"),
    ],
)
async def test_nul_bytes_and_over_long_paths_are_refused_plainly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, path: str, says: str
) -> None:
    root = tmp_path / "docs"
    rt = await open_runtime(tmp_path / "home", None, **tool_settings(root))
    caplog.set_level(logging.ERROR)
    for tool, args in (
        ("files_read", {"path": path}),
        ("files_list", {"path": path}),
        ("files_search", {"query": "x", "path": path}),
        ("files_write", {"path": path, "text": "x"}),
        ("files_delete", {"path": path}),
        ("files_move", {"source": "a.txt", "destination": path}),
    ):
        finished, _, events = await _run(rt, tool, args)
        assert finished.outcome == "error" and says in finished.summary, (tool, finished)
        assert not any(isinstance(e, ApprovalPending) for e in events), "asked for nothing"
    assert not [r for r in caplog.records if r.exc_info], "no traceback logged"
    assert "crash" not in {r["outcome"] for r in rt.audit.rows()}
    await rt.close()


async def test_a_guest_cannot_make_the_owner_answer_for_impossible_actions(
    tmp_path: Path,
) -> None:
    root = tmp_path / "docs"
    rt = await open_runtime(tmp_path / "home", None, profile="shared", **tool_settings(root))
    asked: list[ApprovalRequest] = []
    rt.broker.subscribe(lambda e: asked.append(e) if isinstance(e, ApprovalRequest) else None)
    guest = {"role": Role.GUEST, "user": "friend", "channel": "device-friend"}
    for tool, args in (
        ("files_delete", {"path": "never-existed.txt"}),
        ("files_write", {"path": "../../../etc/cron.d/x", "text": "x"}),
        ("files_move", {"source": "nope.txt", "destination": "b.txt"}),
        ("web_fetch", {"url": "file:///etc/passwd"}),
        ("browser_open", {"url": "javascript:alert(1)"}),
    ):
        finished, _, _ = await _run(rt, tool, args, **guest)
        assert finished.outcome == "error", (tool, finished)
    assert asked == [], "the owner was asked about actions that could never run"
    await rt.close()


async def test_one_device_can_keep_only_a_few_approvals_waiting(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    rt = await open_runtime(
        tmp_path / "home", None, profile="shared", approval_timeout_s=30, **tool_settings(root)
    )
    guest = {"role": Role.GUEST, "user": "friend", "channel": "device-friend"}
    waiting = [
        asyncio.create_task(_run(rt, "files_write", {"path": f"n{i}.txt", "text": "x"}, **guest))
        for i in range(MAX_WAITING_PER_DEVICE)
    ]
    for _ in range(100):
        if len(rt.broker.pending()) == MAX_WAITING_PER_DEVICE:
            break
        await asyncio.sleep(0.02)
    assert len(rt.broker.pending()) == MAX_WAITING_PER_DEVICE
    finished, out, events = await _run(
        rt, "files_write", {"path": "more.txt", "text": "x"}, **guest
    )
    assert finished.outcome == "denied" and "already waiting" in finished.summary
    assert not any(isinstance(e, ApprovalPending) for e in events)
    assert len(rt.broker.pending()) == MAX_WAITING_PER_DEVICE
    # Another device is not held back by this one.
    other = asyncio.create_task(
        _run(rt, "files_write", {"path": "o.txt", "text": "x"}, **{**guest, "channel": "device-2"})
    )
    for _ in range(100):
        if len(rt.broker.pending()) == MAX_WAITING_PER_DEVICE + 1:
            break
        await asyncio.sleep(0.02)
    assert len(rt.broker.pending()) == MAX_WAITING_PER_DEVICE + 1
    rt.broker.cancel_all()
    await asyncio.gather(*waiting, other)
    assert not (root / "guests" / "friend" / "more.txt").exists()
    await rt.close()
