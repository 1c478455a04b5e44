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
    """The call waits for the owner's answer (front ends show it waiting, not running)."""

    request: ApprovalRequest
    call_id: str = ""


@dataclass(frozen=True, kw_only=True)
class ToolFinished:
    """The call ended: ran ("ok"), failed ("error"), or was refused ("denied")."""

    call_id: str
    tool: str
    outcome: Literal["ok", "error", "denied", "cancelled"]
    summary: str


@dataclass(frozen=True, kw_only=True)
class Notice:
    """Something the user should know that is not part of the reply (no provider, fallback...)."""

    text: str


@dataclass(frozen=True, kw_only=True)
class TurnDone:
    """The turn is over; `text` is the whole reply."""

    text: str


StepStatus = Literal["pending", "running", "done", "failed", "skipped", "cancelled"]


@dataclass(frozen=True, kw_only=True)
class PlanStepView:
    """One step of a plan as the user sees it."""

    description: str
    tool: str  # the tool the planner expects it to use ("" when none)
    status: StepStatus


@dataclass(frozen=True, kw_only=True)
class PlanUpdate:
    """The plan, whole, each time a step changes (front ends redraw it: step n of m)."""

    turn_id: str
    steps: tuple[PlanStepView, ...]
    revision: int  # 0 for the first plan, +1 each time a failed step made it change

    def step_dicts(self) -> list[dict[str, str]]:
        """The steps as the wire carries them (devices, the local web client)."""
        return [{"text": s.description, "tool": s.tool, "status": s.status} for s in self.steps]

    @property
    def current(self) -> int:
        """1-based number of the running (else last finished) step; 0 before any."""
        running = [i for i, s in enumerate(self.steps) if s.status == "running"]
        if running:
            return running[0] + 1
        finished = [i for i, s in enumerate(self.steps) if s.status != "pending"]
        return finished[-1] + 1 if finished else 0


@dataclass(frozen=True, kw_only=True)
class TurnCancelled:
    """The user cancelled the turn; what ran is in the audit log, nothing else will run."""

    turn_id: str


Event = (
    TextDelta
    | ToolStarted
    | ApprovalPending
    | ToolFinished
    | Notice
    | TurnDone
    | PlanUpdate
    | TurnCancelled
)
