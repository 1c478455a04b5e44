"""One tool call, whoever planned it: schema check, policy gate, approval, run, audit.

Nothing runs on bad arguments; the gate (and the turn's taint) decides; the owner is asked when
the gate says ask; the tool runs with a time limit; exactly one audit row says what happened;
the text for the model goes back in `outcome`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING, Any

from app.core.events import ApprovalPending, Event, ToolFinished, ToolStarted
from app.policy.approvals import ApprovalError, Outcome, args_digest
from app.policy.gate import Verdict, decide
from app.policy.taint import TaintState
from app.tools.registry import InvalidArguments
from app.tools.spec import ToolFailure

if TYPE_CHECKING:
    from app.core.assistant import Assistant, TurnRequest

_LOGGER = logging.getLogger(__name__)
TOOL_TIMEOUT_S = 120.0
MAX_RESULT_CHARS = 8000


async def call_tool(
    a: Assistant,
    req: TurnRequest,
    name: str,
    raw_arguments: str | dict[str, Any],
    call_id: str | None = None,
    outcome: dict[str, Any] | None = None,
    taint: TaintState | None = None,
) -> AsyncGenerator[Event, None]:
    """Validate, gate, approve, run and audit one call; `outcome` gets the model's text.

    `taint` is the turn's (or plan's) record of untrusted content and private reads; the
    call is judged by it and adds to it. Without one the call stands alone (a command).
    """
    taint = taint if taint is not None else TaintState(user_text=req.text)
    call_id = call_id or f"cmd_{secrets.token_hex(4)}"
    out = outcome if outcome is not None else {}
    spec = a.registry.get(name)
    audit = _auditor(a, req, name)
    if spec is None:
        out["for_model"] = out["summary"] = f"ERROR: there is no tool named {name!r}"
        audit(digest="", risk="UNKNOWN", decision="invalid", outcome="unknown tool")
        yield ToolFinished(call_id=call_id, tool=name, outcome="error", summary=out["summary"])
        return
    try:
        args = a.registry.parse_arguments(name, raw_arguments)
    except InvalidArguments as err:
        out["for_model"] = out["summary"] = (
            f"ERROR: invalid arguments for {name}: {err}. Nothing was run."
        )
        audit(digest="", risk=spec.risk.name, decision="invalid", outcome="invalid arguments")
        yield ToolFinished(call_id=call_id, tool=name, outcome="error", summary=out["summary"])
        return
    digest = args_digest(name, args)
    yield ToolStarted(call_id=call_id, tool=name, arguments=args, risk=spec.risk.name)
    ctx = a.context_for(req, name)
    ctx.extras["taint"] = taint
    decision = decide(
        profile=a.profile,
        role=req.role,
        risk=spec.risk,
        tool=name,
        overrides=a.policy_overrides,
    )
    outbound = (
        await spec.describe_outbound(ctx, args) if taint.tainted and spec.flow.sends_out else None
    )
    judgement = taint.judge(decision, tool=name, flow=spec.flow, outbound=outbound)
    decision = judgement.decision
    approver = ""
    if decision.verdict is Verdict.DENY:
        out["for_model"] = out["summary"] = f"DENIED: {decision.reason}"
        audit(digest=digest, risk=spec.risk.name, decision="deny", outcome="denied")
        yield ToolFinished(call_id=call_id, tool=name, outcome="denied", summary=decision.reason)
        return
    if spec.precheck is not None:
        # A call that could never succeed is refused before anyone is asked (and after the
        # table's deny, so a caller denied anyway learns nothing about paths).
        try:
            await spec.precheck(ctx, args)
        except ToolFailure as err:
            out["for_model"] = out["summary"] = f"ERROR: {err}. Nothing was run."
            audit(digest=digest, risk=spec.risk.name, decision="invalid", outcome="refused")
            yield ToolFinished(call_id=call_id, tool=name, outcome="error", summary=str(err))
            return
    if decision.verdict is Verdict.ASK:
        try:
            pending = a.broker.request(
                tool=name,
                arguments=args,
                risk=spec.risk,
                requester=req.user_id,
                requester_role=req.role,
                channel=req.channel,
                reason=decision.reason,
                timeout_s=a.approval_timeout_s,
                details=judgement.details,
                target=spec.approval_target(ctx, args),
            )
        except ApprovalError as err:  # too many approvals already waiting from there
            out["for_model"] = out["summary"] = f"DENIED: {err}"
            audit(digest=digest, risk=spec.risk.name, decision="ask", outcome="refused")
            yield ToolFinished(call_id=call_id, tool=name, outcome="denied", summary=str(err))
            return
        yield ApprovalPending(request=pending, call_id=call_id)
        try:
            resolution = await a.broker.wait(pending.approval_id)
        except asyncio.CancelledError:
            # The turn was cancelled while the owner was being asked: close every prompt
            # for it, and say in the audit log that it never ran.
            a.broker.withdraw(pending.approval_id, req.user_id)
            audit(digest=digest, risk=spec.risk.name, decision="ask", outcome="cancelled")
            out["cancelled"] = True
            raise
        approver = resolution.answered_by
        if resolution.outcome is not Outcome.APPROVED:
            why = {
                Outcome.EXPIRED: "the owner did not approve it in time",
                Outcome.WITHDRAWN: "the person who asked withdrew the request",
            }.get(resolution.outcome, "the owner denied it")
            out["for_model"] = out["summary"] = f"DENIED: {name} was not run because {why}."
            audit(
                digest=digest,
                risk=spec.risk.name,
                decision="ask",
                approver=approver,
                outcome=resolution.outcome.value,
            )
            yield ToolFinished(call_id=call_id, tool=name, outcome="denied", summary=out["summary"])
            return
    failure = ""  # the audit outcome when the tool did not complete
    try:
        result = await asyncio.wait_for(spec.handler(ctx, args), timeout=TOOL_TIMEOUT_S)
    except asyncio.CancelledError:
        # Stopped mid-run by a cancelled turn: the log says so, with the exact arguments.
        audit(
            digest=digest,
            risk=spec.risk.name,
            decision=decision.verdict.value,
            approver=approver,
            outcome="cancelled",
        )
        out["cancelled"] = True
        raise
    except ToolFailure as err:
        failure, summary = "error", str(err)
    except TimeoutError:
        failure, summary = (
            "timeout",
            f"{name} took longer than {TOOL_TIMEOUT_S:.0f} s and was stopped",
        )
    except Exception:
        _LOGGER.exception("tool %s crashed", name)
        failure, summary = "crash", f"{name} failed unexpectedly"
    if failure:
        out["summary"] = summary
        out["for_model"] = f"ERROR: {summary}"
        audit(
            digest=digest,
            risk=spec.risk.name,
            decision=decision.verdict.value,
            approver=approver,
            outcome=failure,
        )
        yield ToolFinished(call_id=call_id, tool=name, outcome="error", summary=summary)
        return
    taint.after_call(
        tool=name,
        flow=spec.flow,
        args=args,
        result=result,
        untrusted=spec.result_is_untrusted(ctx, args, result),
    )
    out["tainted"] = taint.tainted
    text = json.dumps(result, ensure_ascii=False, default=str)
    out["result"] = result
    out["for_model"] = text[:MAX_RESULT_CHARS]
    out["summary"] = _summarise(result)
    audit(
        digest=digest,
        risk=spec.risk.name,
        decision=decision.verdict.value,
        approver=approver,
        outcome="ok",
    )
    yield ToolFinished(call_id=call_id, tool=name, outcome="ok", summary=out["summary"])


def _auditor(a: Assistant, req: TurnRequest, tool: str) -> Callable[..., None]:
    def record(*, digest: str, risk: str, decision: str, outcome: str, approver: str = "") -> None:
        a.audit.record(
            user_id=req.user_id,
            role=req.role.value,
            channel=req.channel,
            tool=tool,
            args_digest=digest,
            risk=risk,
            decision=decision,
            approver=approver,
            outcome=outcome,
        )

    return record


def _summarise(result: Any) -> str:
    text = json.dumps(result, ensure_ascii=False, default=str)
    return text if len(text) <= 200 else text[:197] + "..."
