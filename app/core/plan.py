"""Plans: what the planner role is asked, and the strict reading of what it answers.

The planner answers JSON only:

    {"steps": [{"do": "find the PDF in Documents", "tool": "files_list"},
               {"do": "read it", "tool": "files_read"},
               {"do": "summarise it for the user", "tool": ""}]}

Anything else (prose, no steps, more than MAX_STEPS) is not a plan: the turn then goes on as a
plain tool loop, so a weak planner model costs a call, never the answer. A tool the registry
does not have is kept as the step's text but not expected (the chat role still decides).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from app.core.events import PlanStepView, StepStatus

MAX_STEPS = 6
MAX_REVISIONS = 2

PLANNER_PROMPT = (
    "You are the planner of ORA, a personal assistant on the user's PC. Break the user's "
    "request into at most {max_steps} short steps; each step uses at most one tool. The last "
    'step may be answering the user (tool ""). Reply with JSON only, no prose: '
    '{{"steps": [{{"do": "what to do", "tool": "tool name or empty"}}]}}.\nTools:\n{tools}'
)
REVISE_PROMPT = (
    "The plan below was being carried out and step {number} failed: {failure}.\n"
    "Steps done so far:\n{done}\nGive the remaining steps that still reach the user's goal "
    "another way (at most {max_steps}), in the same JSON format, or an empty list if it "
    "cannot be reached. Never repeat the failed step unchanged."
)


@dataclass(frozen=True, kw_only=True)
class Step:
    """One step: what to do, the tool expected, and how it went."""

    do: str
    tool: str
    status: StepStatus = "pending"
    result: str = ""  # what the step produced, for the final answer and revisions


@dataclass(frozen=True, kw_only=True)
class Plan:
    """The steps of one turn, as revised so far."""

    steps: tuple[Step, ...]
    revision: int = 0
    tainted: bool = False  # a step read untrusted content (carried to every later step)

    def view(self) -> tuple[PlanStepView, ...]:
        """What front ends show."""
        return tuple(
            PlanStepView(description=s.do, tool=s.tool, status=s.status) for s in self.steps
        )

    def with_step(self, index: int, **changes: Any) -> Plan:
        """A copy with one step changed."""
        steps = list(self.steps)
        steps[index] = replace(steps[index], **changes)
        return replace(self, steps=tuple(steps))


def planner_messages(
    request: str, tools: list[tuple[str, str]], context: str = ""
) -> list[dict[str, Any]]:
    """The planner's prompt: the tools it may name and the request."""
    listing = "\n".join(f"- {name}: {description}" for name, description in tools)
    system = PLANNER_PROMPT.format(max_steps=MAX_STEPS, tools=listing)
    user = f"{context}\n\nRequest: {request}" if context else request
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def revise_messages(
    request: str, tools: list[tuple[str, str]], plan: Plan, failed: int, failure: str
) -> list[dict[str, Any]]:
    """Ask the planner for the rest of the plan after step `failed` (0-based) failed."""
    done = "\n".join(
        f"{i + 1}. {s.do} [{s.status}] {s.result[:300]}"
        for i, s in enumerate(plan.steps[: failed + 1])
    )
    messages = planner_messages(request, tools)
    messages.append(
        {
            "role": "user",
            "content": REVISE_PROMPT.format(
                number=failed + 1, failure=failure, done=done, max_steps=MAX_STEPS
            ),
        }
    )
    return messages


def parse_steps(text: str, known_tools: set[str]) -> tuple[Step, ...] | None:
    """Steps from the planner's answer, or None when it is not a plan."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        doc = json.loads(text[start : end + 1])
    except json.JSONDecodeError:
        return None
    raw = doc.get("steps") if isinstance(doc, dict) else None
    if not isinstance(raw, list) or len(raw) > MAX_STEPS:
        return None
    steps = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("do"), str):
            return None
        tool = item.get("tool") or ""
        if not isinstance(tool, str):
            return None
        steps.append(Step(do=item["do"].strip()[:200], tool=tool if tool in known_tools else ""))
    return tuple(s for s in steps if s.do)
