"""Time the core's own work per turn with one tool call, provider time excluded.

A turn here is: the model asks for `recall`, the core validates, gates, runs and audits it,
then the model answers. The fake provider runs on loopback; the time spent waiting on it
(litellm included) is measured separately, and a bare aiohttp streaming call to the same
server gives the floor litellm's overhead is measured against.
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

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp

from app.core.assistant import TurnRequest
from app.policy.gate import Role
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.fixtures import open_runtime

TURNS = int(os.environ.get("BENCH_TURNS", "60"))
WARMUP = 5


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


async def main() -> None:
    fake = await FakeOpenAI().start()
    with tempfile.TemporaryDirectory() as home:
        rt = await open_runtime(Path(home), fake)
        core_ms, provider_ms, total_ms = [], [], []
        for i in range(WARMUP + TURNS):
            fake.script += [
                Reply(tool_calls=[("recall", {"query": "anything"})]),
                Reply(text="done here"),
            ]
            req = TurnRequest(text=f"turn {i}", user_id="owner", role=Role.OWNER)
            t0 = time.perf_counter()
            async for _ in rt.assistant.turn(req):
                pass
            total = time.perf_counter() - t0
            if i >= WARMUP:
                provider = rt.assistant.last_timings.provider_s
                total_ms.append(total * 1000)
                provider_ms.append(provider * 1000)
                core_ms.append((total - provider) * 1000)
        await rt.close()
    async with aiohttp.ClientSession() as session:
        for _ in range(WARMUP):
            await bare_call(session, fake.base_url)
        bare = [await bare_call(session, fake.base_url) * 1000 for _ in range(TURNS * 2)]
    await fake.stop()
    per_call_provider = statistics.median(provider_ms) / 2  # two model calls per turn
    result = {
        "core_ms_median": round(statistics.median(core_ms), 3),
        "core_ms_p90": round(statistics.quantiles(core_ms, n=10)[-1], 3),
        "provider_ms_per_call_median": round(per_call_provider, 3),
        "bare_aiohttp_ms_per_call_median": round(statistics.median(bare), 3),
        "litellm_overhead_ms_per_call": round(per_call_provider - statistics.median(bare), 3),
        "turn_ms_median": round(statistics.median(total_ms), 3),
        "turns": TURNS,
        "target_core_ms_median": 5.0,
    }
    print(
        f"core (own work, provider excluded): median {result['core_ms_median']} ms, p90 {result['core_ms_p90']} ms"
    )
    print(
        f"provider call via litellm: {result['provider_ms_per_call_median']} ms; bare aiohttp: {result['bare_aiohttp_ms_per_call_median']} ms"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
