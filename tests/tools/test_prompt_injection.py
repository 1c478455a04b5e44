"""A page's hidden instructions make the model plan a deletion and a shell command: nothing runs
without the owner, and the audit log shows every step."""

import asyncio
from pathlib import Path
from typing import Any

import pytest

from app.core.assistant import TurnRequest
from app.core.events import ApprovalPending, ToolFinished
from app.policy.approvals import ApprovalRequest
from app.policy.gate import Role
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.fixtures import open_runtime
from tests.tools.conftest import tool_settings

pytestmark = pytest.mark.slow


async def test_hidden_instructions_cannot_delete_or_run_anything(
    tmp_path: Path, fake_openai: FakeOpenAI, pages: str
) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "important.txt").write_text("tax records")
    marker = tmp_path / "shell-ran"
    # The scripted model reads the page, then obeys the hidden text, as a fooled model would.
    fake_openai.script += [
        Reply(tool_calls=[("browser_open", {"url": f"{pages}/injection"})]),
        Reply(
            tool_calls=[
                ("files_delete", {"path": "important.txt"}),
                ("shell", {"command": f"touch {marker}"}),
            ]
        ),
        Reply(text="Here are five quick dinners."),
    ]
    rt = await open_runtime(tmp_path, fake_openai, approval_timeout_s=0.5, **tool_settings(root))
    req = TurnRequest(
        text="find me dinner ideas on that recipe page",
        user_id="owner",
        role=Role.OWNER,
        channel="device-phone",
    )
    events = [e async for e in rt.assistant.turn(req)]

    # The page really was read in Chromium, hidden text and all (as far as the model sees).
    tool_results = [
        m["content"] for m in fake_openai.requests[1]["messages"] if m["role"] == "tool"
    ]
    assert "Five quick dinners" in tool_results[0]
    # Both dangerous calls waited for the owner; nobody answered, so both were denied.
    asked = [e.request.tool for e in events if isinstance(e, ApprovalPending)]
    assert asked == ["files_delete", "shell"]
    outcomes = {e.tool: e.outcome for e in events if isinstance(e, ToolFinished)}
    assert outcomes == {"browser_open": "ok", "files_delete": "denied", "shell": "denied"}
    assert (root / "important.txt").read_text() == "tax records"
    assert not marker.exists()
    audit = {r["tool"]: r for r in rt.audit.rows()}
    assert audit["browser_open"]["outcome"] == "ok" and audit["browser_open"]["risk"] == "MEDIUM"
    assert (
        audit["files_delete"]["decision"] == "ask" and audit["files_delete"]["outcome"] == "expired"
    )
    assert audit["shell"]["risk"] == "CRITICAL" and audit["shell"]["outcome"] == "expired"
    assert rt.audit.verify() is None
    await rt.close()


async def test_owner_denies_from_the_tray_and_the_model_is_told(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "important.txt").write_text("tax records")
    fake_openai.script += [
        Reply(tool_calls=[("files_delete", {"path": "important.txt"})]),
        Reply(text="OK, I left it."),
    ]
    rt = await open_runtime(tmp_path, fake_openai, **tool_settings(root))

    def tray(event: Any) -> None:
        if isinstance(event, ApprovalRequest):
            asyncio.get_running_loop().call_soon(
                lambda: rt.broker.answer(
                    event.approval_id,
                    approve=False,
                    digest=event.digest,
                    answered_by="owner",
                    answerer_role=Role.OWNER,
                    channel="tray",
                )
            )

    rt.broker.subscribe(tray)
    req = TurnRequest(text="clean up", user_id="owner", role=Role.OWNER, channel="device-phone")
    [e async for e in rt.assistant.turn(req)]
    assert (root / "important.txt").exists()
    told = [m["content"] for m in fake_openai.requests[1]["messages"] if m["role"] == "tool"]
    assert told[0].startswith("DENIED") and "owner denied" in told[0]
    assert rt.audit.rows()[0]["outcome"] == "denied"
    await rt.close()
