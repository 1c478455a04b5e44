"""OpenAI chat completions, streamed, spoken directly over the Node's own aiohttp.

Why not the `openai` package or litellm on this path: aiohttp is already loaded by the Node
(local server, Relay link), so this client costs no import time and no memory, where
`import openai` adds ~50 MB and 1.4–4 s here and `import litellm` ~200 MB and 3–27 s. The
wire format is small (docs: platform.openai.com/docs/api-reference/chat-streaming):

    POST {base_url}/chat/completions   {"model", "messages", "tools", "stream": true, ...}
    data: {"choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": null}]}
    data: {"choices": [{"delta": {"tool_calls": [{"index": 0, "id": "call_1",
           "function": {"name": "recall", "arguments": "{\"qu"}}]}}]}
    data: {"choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 5}}
    data: [DONE]

Lines starting with ":" are comments (OpenRouter sends keep-alives that way); a chunk with an
"error" object is a failure mid-stream (OpenRouter, vLLM).
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

import aiohttp

from app.core.completion import Completion, ProviderCallError


def _url(base_url: str) -> str:
    return base_url.rstrip("/") + "/chat/completions"


async def stream_chat(
    session: aiohttp.ClientSession,
    *,
    base_url: str,
    model: str,
    api_key: str,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None,
    out: Completion,
) -> AsyncGenerator[str, None]:
    """Yield text deltas, and "" for a piece of a tool call (progress, so callers time gaps).

    Keep-alives and empty chunks yield nothing: a provider that sends only those is hung.
    """
    body: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if tools:
        body["tools"] = tools
    headers = {"Authorization": f"Bearer {api_key}"}
    resp = await session.post(_url(base_url), json=body, headers=headers)
    try:
        if resp.status == 400 and "stream_options" in (await resp.text())[:2000]:
            # A few servers refuse usage reports in streams; ask again without them.
            resp.release()
            del body["stream_options"]
            resp = await session.post(_url(base_url), json=body, headers=headers)
        if resp.status != 200:
            raise ProviderCallError(f"HTTP {resp.status}")
        calls: dict[int, dict[str, str]] = {}
        async for raw in resp.content:
            line = raw.strip()
            if not line.startswith(b"data:"):
                continue  # a comment, a keep-alive or an SSE field we do not use
            data = line[5:].strip()
            if data == b"[DONE]":
                break
            try:
                chunk = json.loads(data)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise ProviderCallError("the provider sent a malformed chunk") from None
            if not isinstance(chunk, dict):
                raise ProviderCallError("the provider sent a malformed chunk")
            if chunk.get("error"):
                raise ProviderCallError("the provider reported an error mid-stream")
            usage = chunk.get("usage")
            if isinstance(usage, dict):
                out.prompt_tokens = int(usage.get("prompt_tokens") or 0)
                out.completion_tokens = int(usage.get("completion_tokens") or 0)
                out.usage_reported = True
            text, progress = "", False
            for choice in chunk.get("choices") or []:
                delta = (choice.get("delta") or {}) if isinstance(choice, dict) else {}
                for tc in delta.get("tool_calls") or []:
                    slot = calls.setdefault(
                        int(tc.get("index") or 0), {"id": "", "name": "", "arguments": ""}
                    )
                    slot["id"] = tc.get("id") or slot["id"]
                    fn = tc.get("function") or {}
                    slot["name"] += fn.get("name") or ""
                    slot["arguments"] += fn.get("arguments") or ""
                    progress = True
                content = delta.get("content")
                if isinstance(content, str):
                    text += content
            if text or progress:
                out.text += text
                yield text
        out.set_tool_calls(calls)
    finally:
        resp.release()
