"""What a tool is: a name, a JSON schema for its arguments, a description, a risk, a handler,
and its data flow (untrusted results, sending out, private reads) for the taint rule."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.policy.gate import Profile, Risk, Role
from app.policy.taint import Outbound, ToolFlow


@dataclass(frozen=True, kw_only=True)
class ToolContext:
    """Who a tool runs for, and the state it may touch (never another user's or profile's)."""

    profile: Profile
    user_id: str
    role: Role
    guild_id: str
    channel: str
    state_dir: Path
    config: dict[str, Any] = field(default_factory=dict)  # this tool's [tools.<name>] table
    extras: dict[str, Any] = field(default_factory=dict)


class ToolFailure(Exception):
    """A tool could not do what was asked; the message goes back to the model and the user."""


Handler = Callable[[ToolContext, dict[str, Any]], Awaitable[Any]]
# Checks a call could never succeed before anyone is asked to approve it (raises ToolFailure).
Precheck = Callable[[ToolContext, dict[str, Any]], Awaitable[None]]
# Exactly what a call would send out, and where, for the owner's approval.
Describe = Callable[[ToolContext, dict[str, Any]], Awaitable[Outbound]]
# The whole of what a call touches (a resolved path...), named to the owner who approves it.
Target = Callable[[ToolContext, dict[str, Any]], str]
# Argument names that say what a call acts on, for tools that do not name a target themselves.
TARGET_ARGUMENTS = ("path", "source", "destination", "url", "command", "to", "selector")
# Whether one result is untrusted when the tool's results are not always (a guest's file).
ResultCheck = Callable[[ToolContext, dict[str, Any], Any], bool]


@dataclass(frozen=True, kw_only=True)
class ToolSpec:
    """A registered tool. `parameters` is a JSON schema (type: object)."""

    name: str
    description: str
    parameters: dict[str, Any]
    risk: Risk
    handler: Handler
    group: str = ""  # the [tools.<group>] config table this tool reads; defaults to its name
    flow: ToolFlow = field(default_factory=ToolFlow)
    precheck: Precheck | None = None
    outbound: Describe | None = None
    untrusted_result: ResultCheck | None = None
    target: Target | None = None

    def result_is_untrusted(self, ctx: ToolContext, args: dict[str, Any], result: Any) -> bool:
        """Does this result bring untrusted content into the turn?"""
        if self.flow.untrusted:
            return True
        return self.untrusted_result is not None and self.untrusted_result(ctx, args, result)

    async def describe_outbound(self, ctx: ToolContext, args: dict[str, Any]) -> Outbound:
        """What this call would send, and where (its arguments when the tool cannot say)."""
        if self.outbound is not None:
            try:
                return await self.outbound(ctx, args)
            except ToolFailure:
                pass  # it could not look (no page open...): show the arguments instead
        return Outbound(destination=self.name, body=json.dumps(args, ensure_ascii=False))

    def approval_target(self, ctx: ToolContext, args: dict[str, Any]) -> str:
        """What the owner is asked about, whole: the tool's own naming, else its key arguments."""
        if self.target is not None:
            try:
                return self.target(ctx, args)
            except ToolFailure:
                pass  # the precheck already refused what cannot be named; show the arguments
        named = [str(args[k]) for k in TARGET_ARGUMENTS if isinstance(args.get(k), str)]
        return " → ".join(named)

    @property
    def config_group(self) -> str:
        """Which [tools.<group>] table configures this tool."""
        return self.group or self.name

    def openai_schema(self) -> dict[str, Any]:
        """The function-calling description a model sees."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": f"{self.description} (risk: {self.risk.name})",
                "parameters": self.parameters,
            },
        }
