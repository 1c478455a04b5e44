"""Time the core's own work per turn, provider time excluded, with and without a plan.

A plain turn: the model asks for `recall`, the core validates, gates, runs and audits it, then
the model answers. A planned turn: the model asks for a plan, the planner (its own loopback
server) returns two steps, each step's call runs `recall`, then the answer; the plan's own
overhead is its core time beyond a plain turn with the same two tool calls, per step.
The providers run on loopback; the time spent waiting on them (the light OpenAI-compatible
client included) is measured separately, and a bare aiohttp streaming call to the same server
gives the floor the client's overhead is measured against. `first_token_ms` is a turn's start
to its first streamed token. The cheap role has a server of its own, so the background
history summary never takes a scripted answer.
Last line: one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp

from app.core.assistant import TurnRequest
from app.core.events import TextDelta
from app.policy.gate import Role
from app.settings import ProviderConfig
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.fixtures import open_runtime

TURNS = int(os.environ.get("BENCH_TURNS", "60"))
WARMUP = 5
PLAN = json.dumps(
    {"steps": [{"do": "look", "tool": "recall"}, {"do": "look again", "tool": "recall"}]}
)


async def bare_call(session: aiohttp.ClientSession, url: str) -> float:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    t0 = time.perf_counter()
    async with session.post(f"{url}/chat/completions", json=body) as resp:
        async for line in resp.content:
            if line.startswith(b"data: [DONE]"):
                break
            if line.startswith(b"data: "):
                json.loads(line[6:])
    return time.perf_counter() - t0


def script_plain(chat: FakeOpenAI, _planner: FakeOpenAI) -> int:
    chat.script += [Reply(tool_calls=[("recall", {"query": "anything"})]), Reply(text="done here")]
    return 2


def script_two_tools(chat: FakeOpenAI, _planner: FakeOpenAI) -> int:
    chat.script += [
        Reply(tool_calls=[("recall", {"query": "a"})]),
        Reply(tool_calls=[("recall", {"query": "b"})]),
        Reply(text="done here"),
    ]
    return 3


def script_planned(chat: FakeOpenAI, planner: FakeOpenAI) -> int:
    chat.script += [
        Reply(tool_calls=[("make_plan", {"goal": "look twice"})]),
        Reply(tool_calls=[("recall", {"query": "a"})]),
        Reply(tool_calls=[("recall", {"query": "b"})]),
        Reply(text="done here"),
    ]
    planner.script.append(Reply(text=PLAN))
    return 5


async def measure(rt: Any, chat: FakeOpenAI, planner: FakeOpenAI, script: Any) -> dict[str, Any]:
    core_ms, provider_ms, first_ms, calls = [], [], [], 0
    for i in range(WARMUP + TURNS):
        n = script(chat, planner)
        req = TurnRequest(text=f"turn {i}", user_id="owner", role=Role.OWNER)
        t0 = time.perf_counter()
        first = 0.0
        async for event in rt.assistant.turn(req):
            if isinstance(event, TextDelta) and not first:
                first = time.perf_counter() - t0
        total = time.perf_counter() - t0
        if i >= WARMUP:
            provider = rt.assistant.last_timings.provider_s
            core_ms.append((total - provider) * 1000)
            provider_ms.append(provider * 1000 / n)
            first_ms.append(first * 1000)
            calls = n
    await rt.assistant.housekeeping.idle()
    return {
        "core_ms": statistics.median(core_ms),
        "core_p90": statistics.quantiles(core_ms, n=10)[-1],
        "provider_ms_per_call": statistics.median(provider_ms),
        "first_token_ms": statistics.median(first_ms),
        "calls": calls,
    }


async def main() -> None:
    chat, planner, cheap = [await FakeOpenAI().start() for _ in range(3)]
    providers = (
        ProviderConfig(name="chat", base_url=chat.base_url, model="m", local=True, roles=("chat",)),
        ProviderConfig(
            name="plan", base_url=planner.base_url, model="p", local=True, roles=("planner",)
        ),
        ProviderConfig(
            name="cheap", base_url=cheap.base_url, model="c", local=True, roles=("cheap",)
        ),
    )
    # A fresh profile: open the core, then the first answer's first token (imports excluded).
    with tempfile.TemporaryDirectory() as home:
        t0 = time.perf_counter()
        rt = await open_runtime(Path(home), None, providers=providers)
        opened = time.perf_counter() - t0
        chat.script.append(Reply(text="good morning"))
        req = TurnRequest(text="hello", user_id="owner", role=Role.OWNER)
        async for event in rt.assistant.turn(req):
            if isinstance(event, TextDelta):
                break
        first_answer = time.perf_counter() - t0
        await rt.close()
    results = {}
    for name, script in (
        ("plain", script_plain),
        ("two_tools", script_two_tools),
        ("planned", script_planned),
    ):
        with tempfile.TemporaryDirectory() as home:
            rt = await open_runtime(Path(home), None, providers=providers)
            results[name] = await measure(rt, chat, planner, script)
            await rt.close()
    async with aiohttp.ClientSession() as session:
        for _ in range(WARMUP):
            await bare_call(session, chat.base_url)
        bare = statistics.median(
            [await bare_call(session, chat.base_url) * 1000 for _ in range(TURNS * 2)]
        )
    for server in (chat, planner, cheap):
        await server.stop()
    plain, two, planned = results["plain"], results["two_tools"], results["planned"]
    result = {
        "open_ms": round(opened * 1000, 3),
        "open_to_first_token_ms": round(first_answer * 1000, 3),
        "core_ms_median": round(plain["core_ms"], 3),
        "core_ms_p90": round(plain["core_p90"], 3),
        "first_token_ms_median": round(plain["first_token_ms"], 3),
        "provider_ms_per_call_median": round(plain["provider_ms_per_call"], 3),
        "bare_aiohttp_ms_per_call_median": round(bare, 3),
        "client_overhead_ms_per_call": round(plain["provider_ms_per_call"] - bare, 3),
        "two_tool_turn_core_ms_median": round(two["core_ms"], 3),
        "planned_turn_core_ms_median": round(planned["core_ms"], 3),
        "plan_overhead_ms_per_step": round((planned["core_ms"] - two["core_ms"]) / 2, 3),
        "planned_turn_model_calls": planned["calls"],
        "turns": TURNS,
        "target_core_ms_median": 5.0,
    }
    print(
        f"core (own work, provider excluded): plain turn median {result['core_ms_median']} ms "
        f"(p90 {result['core_ms_p90']} ms); planned turn {result['planned_turn_core_ms_median']} ms, "
        f"{result['plan_overhead_ms_per_step']} ms per plan step beyond a two-tool turn"
    )
    print(
        f"provider call via the light client: {result['provider_ms_per_call_median']} ms; "
        f"bare aiohttp: {result['bare_aiohttp_ms_per_call_median']} ms; "
        f"first token {result['first_token_ms_median']} ms"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
