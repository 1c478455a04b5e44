"""Web fetch limits and the private-address guard; shell timeout and output cap."""

import time
from pathlib import Path
from typing import Any

import pytest

from app.policy.gate import Profile, Role
from app.tools import shell, web_fetch
from app.tools.spec import ToolContext, ToolFailure


def _ctx(tmp_path: Path, **config: Any) -> ToolContext:
    return ToolContext(
        profile=Profile.PRIVATE,
        user_id="owner",
        role=Role.OWNER,
        guild_id="g",
        channel="t",
        state_dir=tmp_path,
        config=config,
    )


async def _fetch(ctx: ToolContext, url: str) -> dict[str, Any]:
    return await web_fetch.tools()[0].handler(ctx, {"url": url})


async def test_fetches_page_text_without_scripts(tmp_path: Path, pages: str) -> None:
    result = await _fetch(_ctx(tmp_path, allow_private=True), f"{pages}/injection")
    assert "Five quick dinners" in result["text"] and "<h1>" not in result["text"]


async def test_addresses_on_this_pc_are_refused_by_default(tmp_path: Path, pages: str) -> None:
    for url in (f"{pages}/form", "http://localhost:1/", "http://169.254.169.254/latest/meta-data"):
        with pytest.raises(ToolFailure, match="not allowed"):
            await _fetch(_ctx(tmp_path), url)


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/x", "javascript:alert(1)"]
)
async def test_only_http_and_https(tmp_path: Path, url: str) -> None:
    with pytest.raises(ToolFailure, match="only http"):
        await _fetch(_ctx(tmp_path, allow_private=True), url)


async def test_size_type_and_time_limits(tmp_path: Path, pages: str) -> None:
    with pytest.raises(ToolFailure, match="larger than"):
        await _fetch(_ctx(tmp_path, allow_private=True, max_bytes=100_000), f"{pages}/big")
    with pytest.raises(ToolFailure, match="not text"):
        await _fetch(_ctx(tmp_path, allow_private=True), f"{pages}/binary")
    started = time.perf_counter()
    with pytest.raises(ToolFailure, match="did not answer"):
        await _fetch(_ctx(tmp_path, allow_private=True, timeout_s=0.5), f"{pages}/slow")
    assert time.perf_counter() - started < 3


async def _sh(ctx: ToolContext, command: str, **args: Any) -> dict[str, Any]:
    return await shell.tools()[0].handler(ctx, {"command": command, **args})


async def test_shell_runs_in_the_first_allowed_folder(tmp_path: Path) -> None:
    root = tmp_path / "work"
    result = await _sh(_ctx(tmp_path, roots=[str(root)]), "pwd; echo hi >&2; exit 3")
    assert result["exit_code"] == 3 and str(root) in result["output"] and "hi" in result["output"]


async def test_shell_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    marker = tmp_path / "late"
    started = time.perf_counter()
    result = await _sh(_ctx(tmp_path), f"(sleep 2; touch {marker}) & sleep 30", timeout_s=1)
    assert result["timed_out"] and time.perf_counter() - started < 5
    time.sleep(2.5)
    assert not marker.exists(), "a child of the timed-out command survived"


async def test_shell_output_is_capped(tmp_path: Path) -> None:
    result = await _sh(_ctx(tmp_path, max_output_bytes=1000), "yes | head -c 100000")
    assert result["truncated"] and len(result["output"]) == 1000 and result["exit_code"] == 0


async def test_generate_uses_the_cheap_model_and_says_so_without_one(
    tmp_path: Path, fake_openai
) -> None:
    from tests.support.fake_openai import Reply
    from tests.support.fixtures import open_runtime

    rt = await open_runtime(tmp_path / "with", fake_openai)
    fake_openai.script.append(Reply(text="Dear team, the meeting moves to Friday."))
    req = __import__("app.core.assistant", fromlist=["TurnRequest"]).TurnRequest(
        text="", user_id="owner", role=Role.OWNER
    )
    out: dict[str, Any] = {}
    [
        e
        async for e in rt.assistant.call_tool(
            req, "generate", {"prompt": "draft: meeting moves to Friday"}, None, out
        )
    ]
    assert out["result"]["text"] == "Dear team, the meeting moves to Friday."
    assert fake_openai.requests[-1]["messages"] == [
        {"role": "user", "content": "draft: meeting moves to Friday"}
    ]
    await rt.close()
    bare = await open_runtime(tmp_path / "without", None)
    out = {}
    [e async for e in bare.assistant.call_tool(req, "generate", {"prompt": "x"}, None, out)]
    assert "result" not in out and "no model provider" in out["summary"].lower()
    await bare.close()


async def test_web_fetch_goes_through_the_guarded_fetcher(tmp_path: Path, pages: str) -> None:
    # A name that rebinds to this PC, and one in CGNAT space: both refused at connect time.
    port = pages.rsplit(":", 1)[1]
    answers = {"rebind.example": ["127.0.0.1"], "cgnat.example": ["100.64.0.7"]}

    async def dns(host: str, port: int, family: int) -> list[str]:
        return answers[host]

    ctx = _ctx(tmp_path)
    ctx.extras["dns_lookup"] = dns
    for url in (f"http://rebind.example:{port}/form", "http://cgnat.example/"):
        with pytest.raises(ToolFailure, match="not allowed"):
            await _fetch(ctx, url)
