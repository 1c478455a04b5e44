"""Runs a request through litellm, streaming, metering tokens and price as it goes.

Prices come from litellm's cost map, always its local copy (LITELLM_LOCAL_MODEL_COST_MAP):
the worker must not fetch a price list from the internet at run time, and a bill must not
depend on what a remote file said that minute.

The budget is enforced before each piece of text is passed on: a piece whose tokens would take
the running cost past the remaining budget is not sent, the provider stream is closed, and the
request ends as `budget_exhausted`, billed for what was delivered (never more than the budget).
While streaming, tokens are estimated high (one per three bytes, at least one): the tokenizer
costs ~0.2 ms a call, too much per piece; the bill, settled after the reply is out, uses the
provider's count, or the tokenizer once over the prompt and once over the whole reply.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from cloud_worker import web_fetch
from cloud_worker.settings import CloudSettings

_LOGGER = logging.getLogger(__name__)
_NO_KEY = "not-needed"  # OpenAI clients insist on a key; keyless local endpoints ignore it


def load_litellm() -> Any:
    """Import litellm with its local cost map (slow: ~2.5 s, so done once at start-up)."""
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    import litellm

    litellm.suppress_debug_info = True
    litellm.telemetry = False
    return litellm


_MESSAGE_OVERHEAD = 8  # the chat template's tokens around a message, estimated high
_MAX_ROUNDS = 4  # web fetches before the model must answer


@dataclass
class Draft:
    """A reply as it streamed, with estimated token counts (see Executor.settle)."""

    messages: list[dict[str, Any]]
    budget_usd: float
    tokens_in: int
    tokens_out: int = 0
    pieces: list[str] = field(default_factory=list)
    prompts: list[list[dict[str, Any]]] = field(default_factory=list)  # sent, one per round
    rounds: int = 0  # tool rounds before the answer
    tool_text: str = ""  # the tool calls the model generated (billed as output)
    outcome: str = "completed"  # completed | budget_exhausted | failed
    ran: bool = True  # False: refused before calling the provider
    reported: Any = None  # the provider's usage, when it sent one

    @property
    def text(self) -> str:
        return "".join(self.pieces)


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What one request produced and used."""

    text: str
    model: str
    tokens_in: int
    tokens_out: int
    cost_usd: float
    outcome: str  # completed | budget_exhausted | failed


class Executor:
    """Generation through litellm to the configured OpenAI-compatible endpoint."""

    def __init__(self, settings: CloudSettings) -> None:
        self._settings = settings
        self._litellm: Any = None
        self._in_price = 0.0
        self._out_price = 0.0

    async def warm_up(self) -> None:
        """Import litellm, read the model's prices, load the tokenizer: off the request path."""
        self._litellm = await asyncio.to_thread(load_litellm)
        model = self._settings.billed_model
        self._in_price, _ = self._litellm.cost_per_token(
            model=model, prompt_tokens=1, completion_tokens=0
        )
        _, self._out_price = self._litellm.cost_per_token(
            model=model, prompt_tokens=0, completion_tokens=1
        )
        self._count("warm up")

    @property
    def model(self) -> str:
        return self._settings.billed_model

    def _count(self, text: str) -> int:
        return int(self._litellm.token_counter(model=self._settings.billed_model, text=text))

    def _cost(self, tokens_in: int, tokens_out: int) -> float:
        return tokens_in * self._in_price + tokens_out * self._out_price

    async def run(
        self,
        text: str,
        budget_usd: float,
        on_delta: Callable[[str], Awaitable[None]],
        on_tool: Callable[[str, str, str], Awaitable[None]] | None = None,
    ) -> Draft:
        """Stream a reply to `text`, calling on_delta per piece, within `budget_usd`; with web
        fetch enabled the model may fetch pages first (on_tool(call_id, status, detail)).

        Token counts here are high estimates; `settle` turns the draft into the bill once the
        reply is out, so the tokenizer never delays a piece of it.
        """
        assert self._litellm is not None, "warm_up() first"
        messages: list[dict[str, Any]] = [{"role": "user", "content": text}]
        draft = Draft(messages=messages, budget_usd=budget_usd, tokens_in=0)
        stream: Any = None
        try:
            # One limit around the whole request, so a provider that trickles forever is cut
            # off too (litellm's own `timeout` bounds the connection and each read).
            async with asyncio.timeout(self._settings.request_timeout_s):
                for _round in range(_MAX_ROUNDS):
                    draft.prompts.append(list(messages))
                    draft.tokens_in += _estimate_messages(messages)
                    if self._cost(draft.tokens_in, draft.tokens_out + 1) > budget_usd:
                        draft.outcome = "budget_exhausted"
                        draft.ran = bool(draft.prompts[:-1])
                        draft.prompts.pop()
                        break
                    stream = await self._litellm.acompletion(
                        model=self._settings.model,
                        api_base=self._settings.api_base or None,
                        api_key=self._settings.api_key or _NO_KEY,
                        messages=messages,
                        stream=True,
                        stream_options={"include_usage": True},
                        **({"tools": [web_fetch.SCHEMA]} if self._settings.web_fetch else {}),
                    )
                    calls = await self._relay(stream, draft, on_delta)
                    stream = None
                    if draft.outcome != "completed" or not calls:
                        break
                    draft.rounds += 1
                    await self._run_tools(calls, messages, on_tool)
        except Exception as err:  # litellm raises many kinds; the device gets one clear error
            _LOGGER.warning("provider failed: %s", type(err).__name__)
            draft.outcome = "failed"
        if stream is not None and hasattr(stream, "aclose"):
            try:
                await stream.aclose()  # stop the provider generating what we will not pay for
            except Exception:  # closing a broken stream may raise
                _LOGGER.debug("closing the provider stream failed")
        return draft

    async def _relay(
        self, stream: Any, draft: Draft, on_delta: Callable[[str], Awaitable[None]]
    ) -> list[dict[str, str]]:
        """Pass pieces on while the budget allows the next one; returns the tool calls asked."""
        calls: dict[int, dict[str, str]] = {}
        async for chunk in stream:
            draft.reported = getattr(chunk, "usage", None) or draft.reported
            if not chunk.choices:
                continue
            delta = chunk.choices[0].delta
            for call in getattr(delta, "tool_calls", None) or []:
                slot = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                slot["id"] = call.id or slot["id"]
                if call.function is not None:
                    slot["name"] += call.function.name or ""
                    slot["arguments"] += call.function.arguments or ""
            piece = delta.content
            if not piece:
                continue
            n = _estimate(piece)
            if self._cost(draft.tokens_in, draft.tokens_out + n) > draft.budget_usd:
                draft.outcome = "budget_exhausted"
                break
            draft.tokens_out += n
            draft.pieces.append(piece)
            await on_delta(piece)
        for slot in calls.values():
            draft.tokens_out += _estimate(slot["name"] + slot["arguments"])
            draft.tool_text += slot["name"] + slot["arguments"]
        return list(calls.values())

    async def _run_tools(
        self,
        calls: list[dict[str, str]],
        messages: list[dict[str, Any]],
        on_tool: Callable[[str, str, str], Awaitable[None]] | None,
    ) -> None:
        """Run the model's web fetches and add their results to the conversation."""
        messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": c["id"],
                        "type": "function",
                        "function": {"name": c["name"], "arguments": c["arguments"]},
                    }
                    for c in calls
                ],
            }
        )
        for call in calls:
            try:
                if call["name"] != "web_fetch":
                    raise web_fetch.FetchRefused(f"unknown tool {call['name'][:40]}")
                try:
                    url = str(json.loads(call["arguments"] or "{}")["url"])
                except (ValueError, KeyError, TypeError):
                    raise web_fetch.FetchRefused("web_fetch needs a url") from None
                host = urlsplit(url).hostname or "?"
                if on_tool is not None:
                    await on_tool(call["id"], "started", host)
                result = await web_fetch.fetch_text(
                    url, allow_private=self._settings.fetch_allow_private
                )
                status = "done"
            except web_fetch.FetchRefused as err:
                result, status, host = f"refused: {err}", "refused", ""
            if on_tool is not None:
                await on_tool(call["id"], status, host)
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": result})

    def settle(self, draft: Draft) -> Outcome:
        """The bill of a draft: the provider's token counts when it gave them for a one-round
        reply, else the tokenizer's over every prompt sent and everything generated; never
        above the budget; nothing for a failure before any text."""
        if not draft.ran or not draft.prompts:
            tokens_in = tokens_out = 0
        elif draft.outcome == "completed" and draft.reported is not None and not draft.rounds:
            tokens_in = int(getattr(draft.reported, "prompt_tokens", 0) or draft.tokens_in)
            tokens_out = int(getattr(draft.reported, "completion_tokens", 0) or draft.tokens_out)
        else:
            tokens_in = sum(
                int(self._litellm.token_counter(model=self._settings.billed_model, messages=p))
                for p in draft.prompts
            )
            generated = draft.text + draft.tool_text
            tokens_out = self._count(generated) if generated else 0
        cost = self._cost(tokens_in, tokens_out)
        if draft.outcome == "failed" and not draft.pieces and not draft.rounds:
            cost = 0.0
        return Outcome(
            text=draft.text,
            model=self.model,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            cost_usd=min(cost, draft.budget_usd),
            outcome=draft.outcome,
        )


def _estimate_messages(messages: list[dict[str, Any]]) -> int:
    """A prompt's tokens, estimated high: its contents and tool calls, plus the template."""
    return sum(
        _estimate(str(m.get("content") or "") + json.dumps(m.get("tool_calls") or ""))
        + _MESSAGE_OVERHEAD
        for m in messages
    )


def _estimate(text: str) -> int:
    """Tokens of a text, estimated high: one per three UTF-8 bytes, at least one."""
    return max(1, (len(text.encode()) + 2) // 3)
