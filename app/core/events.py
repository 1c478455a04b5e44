"""What a turn of the assistant emits, in order, for the terminal, tray and devices to show."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from app.policy.approvals import ApprovalRequest


@dataclass(frozen=True, kw_only=True)
class TextDelta:
    """A piece of the reply, as the model produces it."""

    text: str


@dataclass(frozen=True, kw_only=True)
class ToolStarted:
    """A tool call passed validation and is being decided or run."""

    call_id: str
    tool: str
    arguments: dict[str, Any]
    risk: str


@dataclass(frozen=True, kw_only=True)
class ApprovalPending:
    """The call waits for the owner's answer."""

    request: ApprovalRequest


@dataclass(frozen=True, kw_only=True)
class ToolFinished:
    """The call ended: ran ("ok"), failed ("error"), or was refused ("denied")."""

    call_id: str
    tool: str
    outcome: Literal["ok", "error", "denied"]
    summary: str


@dataclass(frozen=True, kw_only=True)
class Notice:
    """Something the user should know that is not part of the reply (no provider, fallback...)."""

    text: str


@dataclass(frozen=True, kw_only=True)
class TurnDone:
    """The turn is over; `text` is the whole reply."""

    text: str


Event = TextDelta | ToolStarted | ApprovalPending | ToolFinished | Notice | TurnDone
