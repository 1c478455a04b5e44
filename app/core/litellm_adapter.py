"""Providers of `kind = "litellm"`: any API litellm speaks, named by a litellm model string.

litellm takes seconds and ~200 MB to import, so it is never imported at start-up nor for
OpenAI-compatible providers: `warm()` imports it in a worker thread once a litellm provider is
configured (the event loop keeps serving meanwhile), and a call waits for that import. Its
local cost map is forced so the import never reaches the network.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncGenerator
from typing import Any

from app.core.completion import Completion, ProviderCallError

_IMPORT_LOCK = threading.Lock()


def _load() -> Any:
    with _IMPORT_LOCK:
        os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
        import litellm

        litellm.suppress_debug_info = True
        litellm.telemetry = False
        return litellm


async def warm() -> None:
    """Import litellm off the event loop (ahead of the first call that needs it)."""
    await asyncio.to_thread(_load)


def cost_usd(model: str, prompt_tokens: int, completion_tokens: int) -> float:
    """litellm's list price for this call, 0.0 when it does not know the model."""
    try:
        cost_in, cost_out = _load().cost_per_token(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
        return float(cost_in) + float(cost_out)
    except Exception:  # an unknown model is not an error, only an unpriced call
        return 0.0


async def stream_chat(
    *,
    model: str,
    base_url: str,
    api_key: str,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None,
    timeout_s: float,
    out: Completion,
) -> AsyncGenerator[str, None]:
    """Yield text deltas, and "" for a piece of a tool call, from litellm's OpenAI-shaped stream."""
    litellm = await asyncio.to_thread(_load)
    kwargs: dict[str, Any] = {
        "model": model,  # as written: "anthropic/...", "gemini/...", "bedrock/..."
        "api_key": api_key,
        "messages": messages,
        "stream": True,
        "stream_options": {"include_usage": True},
        "timeout": timeout_s,
        # Falling over to the next provider is the pool's job; litellm retrying on its own
        # would hide the failure and double the wait.
        "max_retries": 0,
    }
    if base_url:
        kwargs["api_base"] = base_url
    if tools:
        kwargs["tools"] = tools
    try:
        stream = await litellm.acompletion(**kwargs)
    except Exception as err:
        raise ProviderCallError(type(err).__name__) from None
    calls: dict[int, dict[str, str]] = {}
    iterator = stream.__aiter__()
    while True:
        try:
            chunk = await iterator.__anext__()
        except StopAsyncIteration:
            break
        except Exception as err:
            raise ProviderCallError(type(err).__name__) from None
        usage = getattr(chunk, "usage", None)
        if usage is not None and getattr(usage, "prompt_tokens", None) is not None:
            out.prompt_tokens = int(usage.prompt_tokens or 0)
            out.completion_tokens = int(usage.completion_tokens or 0)
            out.usage_reported = True
        text, progress = "", False
        for choice in getattr(chunk, "choices", None) or []:
            delta = getattr(choice, "delta", None)
            if delta is None:
                continue
            for tc in getattr(delta, "tool_calls", None) or []:
                slot = calls.setdefault(tc.index or 0, {"id": "", "name": "", "arguments": ""})
                slot["id"] = tc.id or slot["id"]
                if tc.function is not None:
                    slot["name"] += tc.function.name or ""
                    slot["arguments"] += tc.function.arguments or ""
                progress = True
            content = getattr(delta, "content", None)
            if isinstance(content, str):
                text += content
        if text or progress:
            out.text += text
            yield text
    out.set_tool_calls(calls)
