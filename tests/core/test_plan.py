"""Plan, then act: the planner role plans, the chat role carries out each step under the gate.

Planner and chat are separate loopback servers here, so each test also proves which role was
asked what.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from app.core.assistant import TurnRequest
from app.core.events import PlanUpdate, TextDelta, ToolFinished, TurnDone
from app.policy.gate import Risk, Role, Verdict
from app.settings import ProviderConfig
from app.tools.spec import ToolSpec
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.fixtures import open_runtime

OWNER = dict(user_id="owner", role=Role.OWNER)


@pytest.fixture
async def planner() -> AsyncIterator[FakeOpenAI]:
    server = await FakeOpenAI(model="planner-model").start()
    yield server
    await server.stop()


async def runtime(tmp_path: Path, chat: FakeOpenAI, planner: FakeOpenAI, **kw: Any) -> Any:
    providers = (
        ProviderConfig(
            name="chat", base_url=chat.base_url, model="m", local=True, roles=("chat", "cheap")
        ),
        ProviderConfig(
            name="plan", base_url=planner.base_url, model="p", local=True, roles=("planner",)
        ),
    )
    return await open_runtime(tmp_path, None, providers=providers, **kw)


def plan_reply(*steps: tuple[str, str]) -> Reply:
    return Reply(text=json.dumps({"steps": [{"do": d, "tool": t} for d, t in steps]}))


async def collect(rt: Any, text: str, **kw: Any) -> list[Any]:
    return [e async for e in rt.assistant.turn(TurnRequest(text=text, **{**OWNER, **kw}))]


def progress(events: list[Any]) -> list[list[str]]:
    return [[s.status for s in e.steps] for e in events if isinstance(e, PlanUpdate)]


async def test_a_simple_request_skips_planning(
    tmp_path: Path, fake_openai: FakeOpenAI, planner: FakeOpenAI
) -> None:
    fake_openai.script.append(Reply(text="It is sunny."))
    rt = await runtime(tmp_path, fake_openai, planner)
    events = await collect(rt, "how is the weather?")
    assert events[-1] == TurnDone(text="It is sunny.")
    assert len(fake_openai.requests) == 1 and planner.requests == []
    assert not any(isinstance(e, PlanUpdate) for e in events)
    offered = [t["function"]["name"] for t in fake_openai.requests[0]["tools"]]
    assert "make_plan" in offered
    await rt.close()


async def test_a_multi_tool_request_is_planned_and_carried_out_step_by_step(
    tmp_path: Path, fake_openai: FakeOpenAI, planner: FakeOpenAI
) -> None:
    fake_openai.script += [
        Reply(tool_calls=[("make_plan", {"goal": "note and check"})]),
        Reply(tool_calls=[("remember", {"text": "passport expires in May"})]),
        Reply(tool_calls=[("recall", {"query": "passport"})]),
        Reply(text="Noted, and your notes now say the passport expires in May."),
    ]
    planner.script.append(
        plan_reply(
            ("note the passport date", "remember"),
            ("check the notes", "recall"),
            ("tell the user", ""),
        )
    )
    rt = await runtime(tmp_path, fake_openai, planner)
    events = await collect(rt, "remember my passport expires in May, then check it is noted")
    assert progress(events) == [
        ["pending", "pending", "pending"],
        ["running", "pending", "pending"],
        ["done", "pending", "pending"],
        ["done", "running", "pending"],
        ["done", "done", "pending"],
        ["done", "done", "running"],
        ["done", "done", "done"],
    ]
    updates = [e for e in events if isinstance(e, PlanUpdate)]
    assert [u.current for u in updates][:4] == [0, 1, 1, 2]
    assert [e.outcome for e in events if isinstance(e, ToolFinished)] == ["ok", "ok"]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)).endswith("expires in May.")
    assert events[-1].text.endswith("expires in May.")
    # The planner role was asked once, with the tools it may name and the request.
    assert len(planner.requests) == 1
    planner_prompt = json.dumps(planner.requests[0]["messages"])
    assert "recall" in planner_prompt and "passport expires in May" in planner_prompt
    # Each step went to the chat role on its own, then the answer.
    step_texts = [r["messages"][-1]["content"] for r in fake_openai.requests[1:3]]
    assert step_texts[0].startswith("[ORA plan] Step 1 of 3") and "Step 2 of 3" in step_texts[1]
    assert [r["tool"] for r in rt.audit.rows()][::-1] == ["remember", "recall"]
    await rt.close()


async def test_a_failed_step_makes_the_planner_revise_the_rest(
    tmp_path: Path, fake_openai: FakeOpenAI, planner: FakeOpenAI
) -> None:
    fake_openai.script += [
        Reply(tool_calls=[("files_read", {"path": "a.txt"}), ("files_read", {"path": "b.txt"})]),
        Reply(tool_calls=[("files_read", {"path": "missing.txt"})]),
        Reply(tool_calls=[("files_list", {})]),
        Reply(text="missing.txt does not exist; here is what there is."),
    ]
    planner.script += [
        plan_reply(("read missing.txt", "files_read"), ("answer", "")),
        plan_reply(("list the folder instead", "files_list")),
    ]
    rt = await runtime(tmp_path, fake_openai, planner)
    (rt.settings.state_dir / "files").mkdir(parents=True, exist_ok=True)
    events = await collect(rt, "read a.txt and b.txt")
    updates = [e for e in events if isinstance(e, PlanUpdate)]
    assert updates[0].revision == 0 and updates[-1].revision == 1
    assert [s.status for s in updates[-1].steps] == ["failed", "done"]
    assert [s.description for s in updates[-1].steps] == [
        "read missing.txt",
        "list the folder instead",
    ]
    revise = planner.requests[1]["messages"][-1]["content"]
    assert "step 1 failed" in revise
    assert [e.outcome for e in events if isinstance(e, ToolFinished)] == ["error", "ok"]
    await rt.close()


async def test_a_denied_step_ends_the_plan_without_working_around_it(
    tmp_path: Path, fake_openai: FakeOpenAI, planner: FakeOpenAI
) -> None:
    fake_openai.script += [
        Reply(tool_calls=[("make_plan", {"goal": "x"})]),
        Reply(tool_calls=[("files_list", {})]),
        Reply(text="I am not allowed to list your files."),
    ]
    planner.script.append(
        plan_reply(("list files", "files_list"), ("read the newest", "files_read"))
    )
    rt = await runtime(
        tmp_path, fake_openai, planner, policy_overrides={"files_list": Verdict.DENY}
    )
    events = await collect(rt, "list my files and read the newest")
    assert progress(events)[-1] == ["failed", "skipped"]
    assert len(planner.requests) == 1  # no revision around a refusal
    assert rt.audit.rows()[0]["decision"] == "deny" and len(rt.audit.rows()) == 1
    assert "not allowed" in events[-1].text
    final = fake_openai.requests[-1]["messages"][-1]["content"]
    assert "list files: failed" in final and "read the newest: skipped" in final
    await rt.close()


async def test_a_plan_that_cannot_be_read_falls_back_to_the_plain_tool_loop(
    tmp_path: Path, fake_openai: FakeOpenAI, planner: FakeOpenAI
) -> None:
    fake_openai.script += [
        Reply(tool_calls=[("recall", {"query": "a"}), ("recall", {"query": "b"})]),
        Reply(text="Nothing noted."),
    ]
    planner.script.append(Reply(text="Sure! First I would look at your notes..."))
    rt = await runtime(tmp_path, fake_openai, planner)
    events = await collect(rt, "look up a and b")
    assert not any(isinstance(e, PlanUpdate) for e in events)
    assert [e.outcome for e in events if isinstance(e, ToolFinished)] == ["ok", "ok"]
    assert events[-1].text == "Nothing noted."
    await rt.close()


def slow_tool(started: list[str], finished: list[str], risk: Risk = Risk.LOW) -> ToolSpec:
    import asyncio

    async def handler(ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        started.append(args["name"])
        try:
            await asyncio.sleep(30)
        finally:
            finished.append(args["name"])
        return {"ok": True}

    return ToolSpec(
        name="slow_job",
        description="a long job",
        parameters={
            "type": "object",
            "properties": {"name": {"type": "string"}},
            "required": ["name"],
        },
        risk=risk,
        handler=handler,
    )
