"""The core driven through litellm against a real OpenAI-compatible server on loopback."""

import asyncio
from pathlib import Path
from typing import Any

from app.core.assistant import TurnRequest
from app.core.events import ApprovalPending, Notice, TextDelta, ToolFinished, ToolStarted, TurnDone
from app.policy.gate import Role
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.fixtures import open_runtime

OWNER = dict(user_id="owner", role=Role.OWNER)


async def collect(runtime: Any, text: str, **kw: Any) -> list[Any]:
    req = TurnRequest(text=text, **{**OWNER, **kw})
    return [e async for e in runtime.assistant.turn(req)]


async def test_reply_streams_in_pieces(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    fake_openai.script.append(Reply(text="Good morning, here is your day"))
    rt = await open_runtime(tmp_path, fake_openai)
    events = await collect(rt, "hello")
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 3 and "".join(deltas) == "Good morning, here is your day"
    assert events[-1] == TurnDone(text="Good morning, here is your day")
    await rt.close()


async def test_model_tool_call_runs_and_result_goes_back_to_the_model(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script += [
        Reply(tool_calls=[("remember", {"text": "dentist on Friday"})]),
        Reply(text="Noted."),
    ]
    rt = await open_runtime(tmp_path, fake_openai)
    events = await collect(rt, "remember my dentist appointment on Friday")
    finished = [e for e in events if isinstance(e, ToolFinished)]
    assert finished and finished[0].outcome == "ok"
    tool_msg = [m for m in fake_openai.requests[1]["messages"] if m["role"] == "tool"]
    assert "dentist on Friday" in tool_msg[0]["content"]
    assert "dentist" in (await collect(rt, "/recall dentist"))[-1].text
    assert rt.audit.verify() is None and rt.audit.rows()[0]["tool"] == "recall"
    await rt.close()


async def test_schema_invalid_arguments_never_run_and_the_model_is_told(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script += [Reply(tool_calls=[("remember", {"txt": "oops"})]), Reply(text="Sorry.")]
    rt = await open_runtime(tmp_path, fake_openai)
    events = await collect(rt, "remember something")
    assert not any(isinstance(e, ToolStarted) for e in events)
    tool_msg = next(m for m in fake_openai.requests[1]["messages"] if m["role"] == "tool")
    assert "invalid arguments" in tool_msg["content"] and "Nothing was run" in tool_msg["content"]
    assert "oops" not in (await collect(rt, "/recall oops"))[-1].text
    await rt.close()


async def test_denied_tool_reason_reaches_model_and_user(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    from app.policy.gate import Verdict

    fake_openai.script += [
        Reply(tool_calls=[("files_list", {})]),
        Reply(text="I may not list files."),
    ]
    rt = await open_runtime(tmp_path, fake_openai, policy_overrides={"files_list": Verdict.DENY})
    events = await collect(rt, "what files do I have?")
    denied = next(e for e in events if isinstance(e, ToolFinished))
    assert denied.outcome == "denied" and "denied" in denied.summary
    tool_msg = next(m for m in fake_openai.requests[1]["messages"] if m["role"] == "tool")
    assert tool_msg["content"].startswith("DENIED")
    assert rt.audit.rows()[0]["decision"] == "deny"
    await rt.close()


async def test_high_risk_call_waits_for_approval_and_expiry_denies(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    from app.policy.gate import Risk
    from app.tools.spec import ToolSpec

    ran = []

    async def delete(ctx, args):
        ran.append(args)
        return {"deleted": args["path"]}

    fake_openai.script += [
        Reply(tool_calls=[("danger_delete", {"path": "a.txt"})]),
        Reply(text="Not done."),
    ]
    rt = await open_runtime(tmp_path, fake_openai, approval_timeout_s=0.3)
    rt.registry.add(
        ToolSpec(
            name="danger_delete",
            description="delete",
            parameters={
                "type": "object",
                "properties": {"path": {"type": "string"}},
                "required": ["path"],
            },
            risk=Risk.HIGH,
            handler=delete,
        )
    )
    events = await collect(rt, "delete a.txt", channel="device-1")
    assert any(isinstance(e, ApprovalPending) for e in events)
    assert ran == []
    finished = next(e for e in events if isinstance(e, ToolFinished))
    assert finished.outcome == "denied" and "in time" in finished.summary
    assert rt.audit.rows()[0]["outcome"] == "expired"
    await rt.close()


async def test_approved_call_runs_exactly_once(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    from app.policy.gate import Risk
    from app.tools.spec import ToolSpec

    ran = []

    async def delete(ctx, args):
        ran.append(args["path"])
        return {"deleted": args["path"]}

    fake_openai.script += [
        Reply(tool_calls=[("danger_delete", {"path": "a.txt"})]),
        Reply(text="Done."),
    ]
    rt = await open_runtime(tmp_path, fake_openai)
    rt.registry.add(
        ToolSpec(
            name="danger_delete",
            description="delete",
            parameters={"type": "object"},
            risk=Risk.HIGH,
            handler=delete,
        )
    )

    def on_event(ev):
        if hasattr(ev, "digest"):
            asyncio.get_running_loop().call_soon(
                lambda: rt.broker.answer(
                    ev.approval_id,
                    approve=True,
                    digest=ev.digest,
                    answered_by="owner",
                    answerer_role=Role.OWNER,
                    channel="tray",
                )
            )

    rt.broker.subscribe(on_event)
    events = await collect(rt, "delete a.txt", channel="device-1")
    assert ran == ["a.txt"]
    assert next(e for e in events if isinstance(e, ToolFinished)).outcome == "ok"
    row = rt.audit.rows()[0]
    assert row["decision"] == "ask" and row["approver"] == "owner" and row["outcome"] == "ok"
    await rt.close()


async def test_fallback_to_next_provider_on_failure(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    from app.settings import ProviderConfig

    broken = await FakeOpenAI().start()
    broken.script.append(Reply(fail_status=500))
    fake_openai.script.append(Reply(text="from the backup"))
    providers = (
        ProviderConfig(name="broken", base_url=broken.base_url, model="m", local=True),
        ProviderConfig(name="backup", base_url=fake_openai.base_url, model="m", local=True),
    )
    rt = await open_runtime(tmp_path, None, providers=providers)
    events = await collect(rt, "hi")
    assert events[-1].text == "from the backup"
    assert len(broken.requests) >= 1
    await broken.stop()
    await rt.close()


async def test_without_any_provider_ora_explains_and_commands_still_work(tmp_path: Path) -> None:
    rt = await open_runtime(tmp_path, None)
    events = await collect(rt, "hello?")
    assert isinstance(events[0], Notice) and "ora key set" in events[0].text
    (rt.settings.state_dir / "files" / "notes").mkdir(parents=True)
    (rt.settings.state_dir / "files" / "todo.txt").write_text("buy milk")
    listing = (await collect(rt, "/files list"))[-1].text
    assert "notes/" in listing and "todo.txt" in listing
    assert (await collect(rt, "/files read todo.txt"))[-1].text == "buy milk"
    assert (
        "Remembered" in (await collect(rt, "/remember the wifi password is on the fridge"))[-1].text
    )
    assert "fridge" in (await collect(rt, "/recall wifi"))[-1].text
    assert "/files list" in (await collect(rt, "/help"))[-1].text
    await rt.close()
