"""Plan, then act: the planner role writes the steps, the chat role carries them out one by one.

When is a plan made: the chat model's first answer either calls the `make_plan` tool (offered
only on that first call) or asks for two or more tools at once. A request answered with no
tool or one tool never pays for a plan (one model call as before, two with the tool).

Each step is one chat-role call that may call tools; every call goes through the same
`Assistant.call_tool` as any other (schema check, policy gate, approvals, audit). A step whose
tool fails makes the planner revise the remaining steps (at most MAX_REVISIONS times); a step
the owner or the policy denied ends the plan (the model must not work around a refusal).
Then the chat role answers from what the steps produced, streamed to the user.

              +--------+  tool ok / no tool   +-------------+
   plan ----> | step i | -------------------> | step i + 1  | ... -> answer
              +--------+                      +-------------+
                 | tool error                      ^
                 v                                 |
              planner revises the rest ------------+   (denied: the rest is skipped)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from app.core.completion import ToolCallRequest
from app.core.events import PlanUpdate, TextDelta
from app.core.plan import MAX_REVISIONS, Plan, parse_steps, planner_messages, revise_messages
from app.core.providers import StreamResult

if TYPE_CHECKING:
    from app.core.assistant import Assistant, TurnRequest, TurnTimings, _Running

PLAN_TOOL_NAME = "make_plan"
PLAN_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": PLAN_TOOL_NAME,
        "description": (
            "Call this first, alone, when the request needs more than one tool call: a planner "
            "will write the steps and you will be asked to carry them out one by one."
        ),
        "parameters": {
            "type": "object",
            "properties": {"goal": {"type": "string", "description": "the user's goal"}},
            "required": ["goal"],
        },
    },
}


def needs_plan(calls: list[ToolCallRequest]) -> bool:
    """Does the model's first answer ask for a plan (or several tools at once)?"""
    return any(c.name == PLAN_TOOL_NAME for c in calls) or len(calls) >= 2


def assistant_tool_message(result: StreamResult) -> dict[str, Any]:
    """The assistant message carrying its tool calls, as the model's history needs it."""
    return {
        "role": "assistant",
        "content": result.text or None,
        "tool_calls": [
            {
                "id": c.call_id,
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments},
            }
            for c in result.tool_calls
        ],
    }


class PlanRunner:
    """Runs one plan inside a turn, emitting its progress."""

    def __init__(
        self,
        assistant: Assistant,
        req: TurnRequest,
        turn_id: str,
        emit: Callable[[Any], None],
        running: _Running,
        timings: TurnTimings,
    ) -> None:
        self.a = assistant
        self.req = req
        self.turn_id = turn_id
        self.emit = emit
        self.running = running
        self.timings = timings
        self.plan: Plan | None = None
        self.tools = [(t.name, t.description) for t in assistant.registry.all()]
        self.known = {name for name, _ in self.tools}

    def _show(self, plan: Plan) -> None:
        self.plan = plan
        self.running.plan = plan  # the cancel path marks the running step from here
        self.emit(PlanUpdate(turn_id=self.turn_id, steps=plan.view(), revision=plan.revision))

    async def _ask(
        self, role: str, messages: list[dict[str, Any]], tools: Any = None
    ) -> StreamResult:
        result = StreamResult()
        async for _ in self.a.providers.stream(role, messages, tools, result):
            pass
        self.timings.provider_s += result.provider_s
        return result

    async def run(self, messages: list[dict[str, Any]], request: str) -> str | None:
        """Plan and carry out; the streamed answer, or None when no usable plan came back."""
        context = "\n".join(
            f"{m['role']}: {m['content']}"
            for m in messages[1:-1]
            if isinstance(m.get("content"), str)
        )[-2000:]
        answer = await self._ask("planner", planner_messages(request, self.tools, context))
        steps = parse_steps(answer.text, self.known)
        if not steps:
            return None
        self.timings.planned = True
        self._show(Plan(steps=steps))
        transcript = list(messages)
        i = 0
        while self.plan is not None and i < len(self.plan.steps):
            if all(not s.tool for s in self.plan.steps[i:]):
                break  # only answering is left: the final answer does it
            failure = await self._step(i, transcript)
            self.timings.plan_steps += 1
            if failure == "denied":
                self._skip_rest(i + 1)
                break
            if failure and not await self._revise(request, i, failure):
                self._skip_rest(i + 1)
                break
            i += 1
        return await self._final(transcript, i)

    async def _step(self, i: int, transcript: list[dict[str, Any]]) -> str:
        """Carry out step i; "" when it went well, "denied", or what went wrong."""
        assert self.plan is not None
        plan = self.plan.with_step(i, status="running")
        self._show(plan)
        step = plan.steps[i]
        instruction = {
            "role": "user",
            "content": (
                f"[ORA plan] Step {i + 1} of {len(plan.steps)}: {step.do}. "
                f"Expected tool: {step.tool or 'none'}. Do only this step now: call the tool it "
                "needs, or reply in one sentence if it needs none."
            ),
        }
        result = await self._ask("chat", [*transcript, instruction], self.a.registry.schemas())
        if not result.tool_calls:
            transcript.append({"role": "assistant", "content": result.text})
            self._show(plan.with_step(i, status="done", result=result.text[:500]))
            return ""
        transcript.append(assistant_tool_message(result))
        failure, produced = "", []
        for call in result.tool_calls:
            outcome = self.a.track(self.turn_id, call.call_id, call.name)
            async for event in self.a.call_tool(
                self.req, call.name, call.arguments, call.call_id, outcome, self.running.taint
            ):
                self.emit(event)
                if getattr(event, "outcome", "ok") == "denied":
                    failure = "denied"
                elif getattr(event, "outcome", "ok") == "error" and not failure:
                    failure = str(getattr(event, "summary", "failed"))
            if outcome.get("tainted") and self.plan is not None:
                # Untrusted content entered this turn: every later step carries it.
                self.plan = replace(self.plan, tainted=True)
            produced.append(str(outcome.get("summary", "")))
            transcript.append(await self.a.tool_message(call.call_id, outcome))
        status = "failed" if failure else "done"
        assert self.plan is not None
        self._show(self.plan.with_step(i, status=status, result="; ".join(produced)[:500]))
        return failure

    async def _revise(self, request: str, failed: int, failure: str) -> bool:
        """Ask the planner for other steps after a failure; False when it has none."""
        assert self.plan is not None
        if self.plan.revision >= MAX_REVISIONS:
            return False
        answer = await self._ask(
            "planner", revise_messages(request, self.tools, self.plan, failed, failure)
        )
        steps = parse_steps(answer.text, self.known)
        if not steps:
            return False
        self._show(
            replace(
                self.plan,
                steps=self.plan.steps[: failed + 1] + steps,
                revision=self.plan.revision + 1,
            )
        )
        return True

    def _skip_rest(self, start: int) -> None:
        assert self.plan is not None
        plan = self.plan
        for j in range(start, len(plan.steps)):
            plan = plan.with_step(j, status="skipped")
        self._show(plan)

    async def _final(self, transcript: list[dict[str, Any]], first_answer_step: int) -> str:
        """Stream the answer; the plan's closing "answer the user" steps run as it streams."""
        assert self.plan is not None
        plan = self.plan
        answering = [
            j
            for j in range(first_answer_step, len(plan.steps))
            if plan.steps[j].status == "pending"
        ]
        for j in answering:
            plan = plan.with_step(j, status="running")
        if answering:
            self._show(plan)
        lines = "\n".join(
            f"{i + 1}. {s.do}: {s.status}" for i, s in enumerate(plan.steps) if i not in answering
        )
        transcript.append(
            {
                "role": "user",
                "content": (
                    f"[ORA plan] The plan has ended:\n{lines}\nNow answer my request from the "
                    "results above. If a step failed, was denied or skipped, say so plainly."
                ),
            }
        )
        result = StreamResult()
        async for delta in self.a.providers.stream("chat", transcript, None, result):
            self.running.reply += delta
            self.emit(TextDelta(text=delta))
        self.timings.provider_s += result.provider_s
        for j in answering:
            plan = plan.with_step(j, status="done")
        if answering:
            self._show(plan)
        return result.text
