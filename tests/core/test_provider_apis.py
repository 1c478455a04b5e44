"""Each wire format ORA claims, against a real server on loopback speaking it.

OpenAI chat completions are spoken directly (no library); Anthropic's Messages API and
Gemini's streamGenerateContent go through the litellm adapter (`kind = "litellm"`).
Fallback, per-provider time limits and the usage record are checked on the same servers.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from app.core.providers import ProviderPool, StreamResult
from app.core.usage import UsageLedger
from app.errors import ProviderError
from app.policy.gate import Profile
from app.settings import ProviderConfig
from app.store.db import open_db
from app.store.secrets import SecretStore
from tests.support.fake_anthropic import FakeAnthropic
from tests.support.fake_gemini import FakeGemini
from tests.support.fake_openai import FakeOpenAI, Reply

ROOT = Path(__file__).resolve().parents[2]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "recall",
            "description": "search notes",
            "parameters": {
                "type": "object",
                "properties": {"query": {"type": "string"}},
                "required": ["query"],
            },
        },
    }
]


@pytest.fixture
async def anthropic() -> AsyncIterator[FakeAnthropic]:
    server = await FakeAnthropic().start()
    yield server
    await server.stop()


@pytest.fixture
async def gemini() -> AsyncIterator[FakeGemini]:
    server = await FakeGemini().start()
    yield server
    await server.stop()


def pool_of(
    tmp_path: Path, *cfgs: ProviderConfig, keys: dict[str, str] | None = None
) -> ProviderPool:
    store = SecretStore.open(Profile.PRIVATE, tmp_path, use_keyring=False)
    for ref, key in (keys or {}).items():
        store.set(ref, key)
    return ProviderPool.from_config(cfgs, store, UsageLedger(open_db(tmp_path / "ora.db")))


async def ask(
    pool: ProviderPool, text: str = "hi", tools: Any = None
) -> tuple[list[str], StreamResult]:
    result = StreamResult()
    deltas = [
        d async for d in pool.stream("chat", [{"role": "user", "content": text}], tools, result)
    ]
    return deltas, result


async def test_openai_compatible_streams_tool_calls_and_reports_usage(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script += [
        Reply(text="Let me look", tool_calls=[("recall", {"query": "dentist"})]),
        Reply(text="one two three four"),
    ]
    cfg = ProviderConfig(
        name="router",
        base_url=fake_openai.base_url,
        model="meta-llama/llama-3.1-8b-instruct",  # an OpenRouter-style name, sent as written
        key_ref="router",
        price_in_per_mtok=1.0,
        price_out_per_mtok=2.0,
    )
    pool = pool_of(tmp_path, cfg, keys={"router": "sk-router"})
    deltas, result = await ask(pool, "when is the dentist?", TOOLS)
    assert "".join(deltas) == "Let me look"
    assert [(c.name, json.loads(c.arguments)) for c in result.tool_calls] == [
        ("recall", {"query": "dentist"})
    ]
    request = fake_openai.requests[0]
    assert request["model"] == "meta-llama/llama-3.1-8b-instruct"  # no "openai/" forced on it
    assert request["tools"] == TOOLS and request["stream"] is True
    assert fake_openai.auth_headers[0] == "Bearer sk-router"
    deltas, _ = await ask(pool)
    assert len(deltas) == 4
    [row] = pool.usage.totals() if pool.usage else []
    assert row.provider == "router" and row.calls == 2 and not row.estimated
    assert row.completion_tokens == 3 + 4  # as the server reported them (one per word)
    assert row.cost_usd == pytest.approx(
        (row.prompt_tokens * 1.0 + row.completion_tokens * 2.0) / 1e6
    )
    await pool.close()


async def test_anthropic_messages_api_through_the_litellm_adapter(
    tmp_path: Path, anthropic: FakeAnthropic
) -> None:
    anthropic.script += [
        Reply(text="Checking your notes", tool_calls=[("recall", {"query": "dentist"})]),
    ]
    cfg = ProviderConfig(
        name="claude",
        kind="litellm",
        base_url=anthropic.base_url,
        model="anthropic/claude-test-model",
        key_ref="anthropic",
    )
    pool = pool_of(tmp_path, cfg, keys={"anthropic": "sk-ant-test"})
    deltas, result = await ask(pool, "dentist?", TOOLS)
    assert "".join(deltas) == "Checking your notes" and len(deltas) >= 3
    assert [(c.name, json.loads(c.arguments)) for c in result.tool_calls] == [
        ("recall", {"query": "dentist"})
    ]
    assert anthropic.api_keys == ["sk-ant-test"]
    sent = anthropic.requests[0]
    assert sent["model"] == "claude-test-model" and sent["stream"] is True
    assert sent["tools"][0]["name"] == "recall"  # converted to Anthropic's tool shape
    deltas, _ = await ask(pool, "plain")
    assert "".join(deltas) == "echo: plain"
    [row] = pool.usage.totals() if pool.usage else []
    assert row.calls == 2 and row.prompt_tokens == 2 * 21 and not row.estimated
    await pool.close()


async def test_gemini_stream_generate_content_through_the_litellm_adapter(
    tmp_path: Path, gemini: FakeGemini
) -> None:
    gemini.script += [
        Reply(text="Your notes say", tool_calls=[("recall", {"query": "dentist"})]),
    ]
    cfg = ProviderConfig(
        name="gemini",
        kind="litellm",
        base_url=gemini.base_url,
        model="gemini/gemini-test",
        key_ref="google",
    )
    pool = pool_of(tmp_path, cfg, keys={"google": "g-key"})
    deltas, result = await ask(pool, "dentist?", TOOLS)
    assert "".join(deltas) == "Your notes say" and len(deltas) >= 3
    assert [(c.name, json.loads(c.arguments)) for c in result.tool_calls] == [
        ("recall", {"query": "dentist"})
    ]
    assert gemini.paths[0].startswith("/v1beta/models/gemini-test:streamGenerateContent")
    assert "alt=sse" in gemini.paths[0] and gemini.api_keys == ["g-key"]
    assert gemini.requests[0]["contents"][-1]["parts"][0]["text"] == "dentist?"
    [row] = pool.usage.totals() if pool.usage else []
    assert (row.prompt_tokens, row.completion_tokens) == (13, 4)
    await pool.close()


async def test_a_hung_provider_falls_through_within_its_timeout(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    hung = await FakeOpenAI().start()
    hung.script.append(Reply(hang_s=30, text="too late"))
    fake_openai.script.append(Reply(text="from the backup"))
    pool = pool_of(
        tmp_path,
        ProviderConfig(name="hung", base_url=hung.base_url, model="m", local=True, timeout_s=1),
        ProviderConfig(name="backup", base_url=fake_openai.base_url, model="m", local=True),
    )
    started = time.perf_counter()
    deltas, result = await ask(pool)
    assert "".join(deltas) == "from the backup" and result.provider == "backup"
    assert time.perf_counter() - started < 5
    outcomes = {r["provider"]: r["outcome"] for r in pool.usage._db.table("provider_usage").rows}
    assert outcomes == {"hung": "timeout", "backup": "ok"}
    await pool.close()
    await hung.stop()


async def test_keep_alives_alone_do_not_keep_a_provider_alive(tmp_path: Path) -> None:
    from aiohttp import web

    async def chatter(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for _ in range(100):
            await resp.write(b": OPENROUTER PROCESSING\n\n")
            await resp.write(b'data: {"choices":[{"index":0,"delta":{"role":"assistant"}}]}\n\n')
            await __import__("asyncio").sleep(0.2)
        return resp

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chatter)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    pool = pool_of(
        tmp_path,
        ProviderConfig(
            name="chatty",
            base_url=f"http://127.0.0.1:{port}/v1",
            model="m",
            local=True,
            timeout_s=1,
        ),
    )
    started = time.perf_counter()
    with pytest.raises(ProviderError, match="chatty: no answer within 1 s"):
        await ask(pool)
    assert time.perf_counter() - started < 5
    await pool.close()
    await runner.cleanup()


async def test_a_failure_after_the_first_token_ends_the_answer_without_fallback(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    broken = await FakeOpenAI().start()
    broken.script.append(Reply(text="one two three four", break_after_words=2))
    pool = pool_of(
        tmp_path,
        ProviderConfig(name="broken", base_url=broken.base_url, model="m", local=True),
        ProviderConfig(name="backup", base_url=fake_openai.base_url, model="m", local=True),
    )
    seen: list[str] = []
    with pytest.raises(ProviderError, match="broken failed mid-answer"):
        async for d in pool.stream(
            "chat", [{"role": "user", "content": "x"}], None, StreamResult()
        ):
            seen.append(d)
    assert "".join(seen) == "one two"
    assert fake_openai.requests == []  # the backup was not asked to start over
    await pool.close()
    await broken.stop()


def test_litellm_is_not_imported_for_openai_compatible_providers(tmp_path: Path) -> None:
    # Nor jsonschema, for an answer that calls no tool: both sit off the first answer's path.
    script = f"""
import asyncio, sys
sys.path.insert(0, {str(ROOT)!r})
from tests.support.fake_openai import FakeOpenAI
from tests.support.fixtures import open_runtime
from app.core.assistant import TurnRequest
from app.policy.gate import Role

async def main():
    fake = await FakeOpenAI().start()
    rt = await open_runtime(__import__("pathlib").Path({str(tmp_path)!r}), fake)
    await rt.wait_ready()
    events = [e async for e in rt.assistant.turn(TurnRequest(text="hi", user_id="o", role=Role.OWNER))]
    assert events[-1].text == "echo: hi", events
    await rt.close(); await fake.stop()
    print("litellm" in sys.modules, "openai" in sys.modules, "jsonschema" in sys.modules)

asyncio.run(main())
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False", "False"]


def test_ora_providers_usage_shows_tokens_and_cost_per_provider(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from app.cli import main

    state = tmp_path / "profiles" / "private"
    state.mkdir(parents=True)
    ledger = UsageLedger(open_db(state / "ora.db"))
    for outcome in ("ok", "ok", "timeout"):
        ledger.record(
            provider="openai",
            role="chat",
            model="gpt-x",
            prompt_tokens=1000,
            completion_tokens=200,
            cost_usd=0.0025,
            estimated=False,
            outcome=outcome,
            seconds=0.5,
        )
    ledger.record(
        provider="ollama",
        role="cheap",
        model="llama",
        prompt_tokens=40,
        completion_tokens=10,
        cost_usd=0.0,
        estimated=True,
        outcome="ok",
        seconds=0.1,
    )
    import os

    old = dict(os.environ)
    os.environ.update({"ORA_HOME": str(tmp_path), "ORA_NO_LOCAL_DETECT": "1"})
    try:
        assert main(["--profile", "private", "providers", "--usage"]) == 0
    finally:
        os.environ.clear()
        os.environ.update(old)
    out = capsys.readouterr().out
    today = out.split("Last 30 days:")[0]
    assert "openai: 3 calls, 1 failed, 3000 in / 600 out tokens, $0.0075" in today
    assert "ollama: 1 calls, ~40 in / ~10 out tokens, $0.0000" in today
