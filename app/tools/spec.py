"""What a tool is: a name, a JSON schema for its arguments, a description, a risk, a handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.policy.gate import Profile, Risk, Role


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


@dataclass(frozen=True, kw_only=True)
class ToolSpec:
    """A registered tool. `parameters` is a JSON schema (type: object)."""

    name: str
    description: str
    parameters: dict[str, Any]
    risk: Risk
    handler: Handler
    group: str = ""  # the [tools.<group>] config table this tool reads; defaults to its name

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
