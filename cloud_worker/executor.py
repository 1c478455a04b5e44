"""Runs a request through litellm, streaming, metering tokens and price as it goes.

Prices come from litellm's cost map, always its local copy (LITELLM_LOCAL_MODEL_COST_MAP):
the worker must not fetch a price list from the internet at run time, and a bill must not
depend on what a remote file said that minute.

The budget is enforced before each piece of text is passed on: a piece whose tokens would take
the running cost past the remaining budget is not sent, the provider stream is closed, and the
request ends as `budget_exhausted`, billed for what was delivered (never more than the budget).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

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
        self, text: str, budget_usd: float, on_delta: Callable[[str], Awaitable[None]]
    ) -> Outcome:
        """Stream a reply to `text`, calling on_delta per piece, within `budget_usd`."""
        assert self._litellm is not None, "warm_up() first"
        messages = [{"role": "user", "content": text}]
        tokens_in = int(
            self._litellm.token_counter(model=self._settings.billed_model, messages=messages)
        )
        if self._cost(tokens_in, 1) > budget_usd:
            return Outcome(
                text="",
                model=self.model,
                tokens_in=0,
                tokens_out=0,
                cost_usd=0.0,
                outcome="budget_exhausted",
            )
        tokens_out = 0
        pieces: list[str] = []
        outcome = "completed"
        reported: Any = None
        stream: Any = None
        try:
            stream = await self._litellm.acompletion(
                model=self._settings.model,
                api_base=self._settings.api_base or None,
                api_key=self._settings.api_key or _NO_KEY,
                messages=messages,
                stream=True,
                stream_options={"include_usage": True},
                timeout=self._settings.request_timeout_s,
            )
            async for chunk in stream:
                reported = getattr(chunk, "usage", None) or reported
                if not chunk.choices:
                    continue
                piece = chunk.choices[0].delta.content
                if not piece:
                    continue
                n = max(1, self._count(piece))
                if self._cost(tokens_in, tokens_out + n) > budget_usd:
                    outcome = "budget_exhausted"
                    break
                tokens_out += n
                pieces.append(piece)
                await on_delta(piece)
        except Exception as err:  # litellm raises many kinds; the device gets one clear error
            _LOGGER.warning("provider failed: %s", type(err).__name__)
            outcome = "failed"
        finally:
            if stream is not None and hasattr(stream, "aclose"):
                try:
                    await stream.aclose()
                except Exception:  # closing a finished stream may raise
                    _LOGGER.debug("closing the provider stream failed")
        if outcome == "completed" and reported is not None:
            # The provider's own count, when it gives one, is what it will bill us for.
            tokens_in = int(getattr(reported, "prompt_tokens", 0) or tokens_in)
            tokens_out = int(getattr(reported, "completion_tokens", 0) or tokens_out)
        # A failure before any text reached the user is not billed.
        cost = 0.0 if outcome == "failed" and not tokens_out else self._cost(tokens_in, tokens_out)
        cost = min(cost, budget_usd)
        return Outcome(
            text="".join(pieces),
            model=self.model,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            cost_usd=cost,
            outcome=outcome,
        )
