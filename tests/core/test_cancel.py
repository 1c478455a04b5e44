"""Cancelling a turn: it stops at once, and the audit log shows everything that ran or stopped."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from app.core.assistant import TurnRequest
from app.core.events import (
    ApprovalPending,
    PlanUpdate,
    TextDelta,
    ToolFinished,
    ToolStarted,
    TurnCancelled,
    TurnDone,
)
from app.policy.approvals import ApprovalRequest, Resolution
from app.policy.gate import Risk, Role
from app.store.memory import Partition
from tests.core.test_plan import plan_reply, runtime, slow_tool
from tests.core.test_plan import planner as planner
from tests.support.fake_openai import FakeOpenAI, Reply


async def run_until(rt: Any, req: TurnRequest, when: type, then: Any) -> list[Any]:
    """Consume a turn; call `then()` once an event of type `when` arrives."""
    events: list[Any] = []
    async for event in rt.assistant.turn(req):
        events.append(event)
        if isinstance(event, when) and sum(isinstance(e, when) for e in events) == 1:
            then()
    return events


def owner_turn(text: str, turn_id: str = "t1") -> TurnRequest:
    return TurnRequest(text=text, user_id="owner", role=Role.OWNER, channel="tray", turn_id=turn_id)


async def test_cancelling_a_running_tool_stops_it_and_the_audit_log_says_so(
    tmp_path: Path, fake_openai: FakeOpenAI, planner: FakeOpenAI
) -> None:
    started: list[str] = []
    finished: list[str] = []
    fake_openai.script += [
        Reply(tool_calls=[("slow_job", {"name": "backup"})]),
        Reply(text="never"),
    ]
    rt = await runtime(tmp_path, fake_openai, planner)
    rt.registry.add(slow_tool(started, finished))

    def cancel() -> None:
        assert rt.assistant.cancel("t1", user_id="owner", role=Role.OWNER)

    events = await asyncio.wait_for(
        run_until(rt, owner_turn("run the backup"), ToolStarted, cancel), 10
    )
    assert started == ["backup"] and finished == ["backup"]  # the job was stopped, not left running
    tail = events[-3:]
    assert isinstance(tail[0], ToolFinished) and tail[0].outcome == "cancelled"
    assert isinstance(tail[1], TurnCancelled) and isinstance(tail[2], TurnDone)
    row = rt.audit.rows()[0]
    assert row["tool"] == "slow_job" and row["outcome"] == "cancelled" and row["args_digest"]
    assert rt.audit.verify() is None
    assert len(fake_openai.requests) == 1  # nothing was asked of the model after the cancel
    assert rt.assistant.running_turns("owner") == []
    await rt.close()


async def test_cancelling_while_an_approval_is_pending_withdraws_it_everywhere(
    tmp_path: Path, fake_openai: FakeOpenAI, planner: FakeOpenAI
) -> None:
    started: list[str] = []
    fake_openai.script += [Reply(tool_calls=[("slow_job", {"name": "wipe"})])]
    rt = await runtime(tmp_path, fake_openai, planner)
    rt.registry.add(slow_tool(started, [], risk=Risk.HIGH))
    seen: list[Any] = []
    rt.broker.subscribe(seen.append)
    events = await asyncio.wait_for(
        run_until(
            rt,
            owner_turn("wipe it"),
            ApprovalPending,
            lambda: rt.assistant.cancel("t1", user_id="owner", role=Role.OWNER),
        ),
        10,
    )
    assert started == [] and rt.broker.pending() == []
    request = next(e for e in seen if isinstance(e, ApprovalRequest))
    resolved = [e for e in seen if isinstance(e, Resolution)]
    assert resolved and resolved[0].approval_id == request.approval_id  # prompts close
    assert resolved[0].outcome.value == "denied"
    assert rt.audit.rows()[0]["outcome"] == "cancelled" and rt.audit.rows()[0]["decision"] == "ask"
    assert isinstance(events[-2], TurnCancelled)
    await rt.close()


async def test_cancelling_a_streaming_answer_keeps_the_history_whole(
    tmp_path: Path, fake_openai: FakeOpenAI, planner: FakeOpenAI
) -> None:
    fake_openai.script.append(Reply(text=" ".join(["word"] * 200), chunk_delay_s=0.05))
    rt = await runtime(tmp_path, fake_openai, planner)
    events = await asyncio.wait_for(
        run_until(
            rt,
            owner_turn("tell me a long story"),
            TextDelta,
            lambda: rt.assistant.cancel("t1", user_id="owner", role=Role.OWNER),
        ),
        10,
    )
    assert isinstance(events[-2], TurnCancelled) and events[-1].text.startswith("word")
    assert sum(isinstance(e, TextDelta) for e in events) < 20
    history = rt.memory.history(Partition(user_id="owner", role="owner", guild_id="default"))
    assert [s for s, _ in history] == ["user", "assistant"] and history[1][1].endswith(
        "[cancelled]"
    )
    await rt.close()


async def test_a_guest_cannot_cancel_the_owners_turn_but_the_owner_can_cancel_a_guests(
    tmp_path: Path, fake_openai: FakeOpenAI, planner: FakeOpenAI
) -> None:
    fake_openai.script += [Reply(text="one two three four five", chunk_delay_s=0.1)] * 2
    rt = await runtime(tmp_path, fake_openai, planner)
    refused: list[bool] = []
    events = await asyncio.wait_for(
        run_until(
            rt,
            owner_turn("hello", turn_id="owner-turn"),
            TextDelta,
            lambda: refused.append(
                rt.assistant.cancel("owner-turn", user_id="guest-1", role=Role.GUEST)
            ),
        ),
        10,
    )
    assert refused == [False] and events[-1].text == "one two three four five"
    guest = TurnRequest(text="hi", user_id="guest-1", role=Role.GUEST, channel="dev", turn_id="g")
    events = await asyncio.wait_for(
        run_until(
            rt, guest, TextDelta, lambda: rt.assistant.cancel("g", user_id="owner", role=Role.OWNER)
        ),
        10,
    )
    assert isinstance(events[-2], TurnCancelled)
    await rt.close()


async def test_cancelling_a_plan_marks_the_running_step_and_skips_the_rest(
    tmp_path: Path, fake_openai: FakeOpenAI, planner: FakeOpenAI
) -> None:
    started: list[str] = []
    fake_openai.script += [
        Reply(tool_calls=[("make_plan", {"goal": "two jobs"})]),
        Reply(tool_calls=[("recall", {"query": "jobs"})]),
        Reply(tool_calls=[("slow_job", {"name": "second"})]),
    ]
    planner.script.append(
        plan_reply(("check notes", "recall"), ("run the job", "slow_job"), ("report", ""))
    )
    rt = await runtime(tmp_path, fake_openai, planner)
    rt.registry.add(slow_tool(started, []))

    events: list[Any] = []
    async for event in rt.assistant.turn(owner_turn("check then run")):
        events.append(event)
        if isinstance(event, ToolStarted) and event.tool == "slow_job":
            rt.assistant.cancel("t1", user_id="owner", role=Role.OWNER)
    last_plan = [e for e in events if isinstance(e, PlanUpdate)][-1]
    assert [s.status for s in last_plan.steps] == ["done", "cancelled", "skipped"]
    assert [r["outcome"] for r in rt.audit.rows()][::-1] == ["ok", "cancelled"]
    assert isinstance(events[-2], TurnCancelled)
    await rt.close()
