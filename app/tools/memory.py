"""Long-term memory tools: remember a note, recall notes. Only ever the caller's own partition."""

from __future__ import annotations

from typing import Any

from app.policy.gate import Risk
from app.policy.taint import TaintState, ToolFlow
from app.store.memory import MemoryStore, Partition
from app.tools.spec import ToolContext, ToolFailure, ToolSpec


def _store(ctx: ToolContext) -> MemoryStore:
    store = ctx.extras.get("memory")
    if not isinstance(store, MemoryStore):
        raise ToolFailure("memory is not available in this context")
    return store


def _partition(ctx: ToolContext) -> Partition:
    return Partition(user_id=ctx.user_id, role=ctx.role.value, guild_id=ctx.guild_id)


async def _remember(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    store = _store(ctx)
    note = store.remember(_partition(ctx), args["text"].strip())
    taint = ctx.extras.get("taint")
    if isinstance(taint, TaintState) and taint.tainted:
        # Kept while untrusted content was in the turn: recalling it later taints that turn.
        store.mark_untrusted("note", note.id)
    return {"remembered": note.text, "id": note.id}


async def _recall(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    store = _store(ctx)
    notes = store.recall(_partition(ctx), args["query"], limit=args.get("limit", 5))
    result: dict[str, Any] = {"notes": [n.text for n in notes]}
    if store.untrusted("note", [n.id for n in notes]):
        result["kept_from_untrusted_content"] = True
    return result


def _recalled_untrusted(ctx: ToolContext, args: dict[str, Any], result: Any) -> bool:
    return isinstance(result, dict) and bool(result.get("kept_from_untrusted_content"))


def tools() -> list[ToolSpec]:
    """remember, recall."""
    return [
        ToolSpec(
            name="remember",
            description="Keep a note in the user's long-term memory",
            parameters={
                "type": "object",
                "properties": {"text": {"type": "string", "minLength": 1, "maxLength": 4000}},
                "required": ["text"],
                "additionalProperties": False,
            },
            risk=Risk.LOW,
            handler=_remember,
        ),
        ToolSpec(
            name="recall",
            description="Search the user's long-term notes",
            parameters={
                "type": "object",
                "properties": {
                    "query": {"type": "string", "minLength": 1, "maxLength": 500},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 20},
                },
                "required": ["query"],
                "additionalProperties": False,
            },
            risk=Risk.LOW,
            handler=_recall,
            flow=ToolFlow(private=True),
            untrusted_result=_recalled_untrusted,
        ),
    ]
