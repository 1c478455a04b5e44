"""Generate text with the model (LOW): drafts, summaries, translations."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from app.policy.gate import Risk
from app.tools.spec import ToolContext, ToolFailure, ToolSpec

Generator = Callable[[str], Awaitable[str]]


async def _generate(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    generator = ctx.extras.get("generate")
    if generator is None:
        raise ToolFailure("no AI model is set up, so nothing can be generated")
    text = await generator(args["prompt"])
    return {"text": text}


def tools() -> list[ToolSpec]:
    """generate."""
    return [
        ToolSpec(
            name="generate",
            description="Write text from a prompt (a draft, summary or translation) with the cheap model",
            parameters={
                "type": "object",
                "properties": {"prompt": {"type": "string", "minLength": 1, "maxLength": 20_000}},
                "required": ["prompt"],
                "additionalProperties": False,
            },
            risk=Risk.LOW,
            handler=_generate,
        )
    ]
