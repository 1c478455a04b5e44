"""The terminal front end of the core: chat with streamed replies, approvals, audit, self-test."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import threading
import time
from typing import Protocol

from app.core.assistant import TurnRequest
from app.core.events import (
    ApprovalPending,
    Notice,
    PlanUpdate,
    TextDelta,
    ToolFinished,
    ToolStarted,
    TurnCancelled,
    TurnDone,
)
from app.core.runtime import Runtime
from app.core.usage import format_totals
from app.policy.approvals import ApprovalError
from app.policy.gate import Role
from app.settings import Settings, load_settings
from app.update.health import take_notice
from app.version import __version__

OWNER_ID = "owner"


class Writer(Protocol):
    """Where a turn is printed (stdout, or nowhere for the self-test)."""

    def write(self, text: str, /) -> int: ...
    def flush(self) -> None: ...


async def ask(prompt: str) -> str:
    """One line from the terminal, without blocking the loop.

    Read on a daemon thread of its own, not the loop's executor: on Ctrl+C the loop must be
    able to finish while input() still waits for a line (asyncio.run joins executor threads).
    """
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[str] = loop.create_future()

    def read() -> None:
        try:
            line = input(prompt)
        except (EOFError, OSError, ValueError):
            line = "/quit"
        if not loop.is_closed():
            loop.call_soon_threadsafe(_settle_line, answer, line)

    threading.Thread(target=read, name="ora-input", daemon=True).start()
    return await answer


def _settle_line(future: asyncio.Future[str], line: str) -> None:
    if not future.done():
        future.set_result(line)


async def run_turn(runtime: Runtime, text: str, out: Writer = sys.stdout) -> str:
    """One turn in the terminal: stream the reply, show tools, ask approvals here."""
    turn_id = f"terminal-{time.monotonic_ns()}"
    req = TurnRequest(
        text=text, user_id=OWNER_ID, role=Role.OWNER, channel="terminal", turn_id=turn_id
    )
    streamed = False
    final = ""
    noticed = ""
    plan: PlanUpdate | None = None
    waiting = _Thinking(out)
    with _ctrl_c_cancels(runtime, turn_id):
        async for event in runtime.assistant.turn(req):
            waiting.end()
            if isinstance(event, PlanUpdate):
                out.write(plan_lines(plan, event))
                plan = event
                continue
            if isinstance(event, TurnCancelled):
                out.write("\n  [stopped]\n")
                continue
            final, streamed, noticed = await _show(runtime, event, out, final, streamed, noticed)
    return final


class _Thinking:
    """ "thinking…" from the moment the message is sent until the first thing of the turn
    arrives; then the line is wiped (carriage return, spaces) so the reply starts clean."""

    LABEL = "thinking…"

    def __init__(self, out: Writer) -> None:
        self.out, self.shown = out, True
        out.write(self.LABEL)
        out.flush()

    def end(self) -> None:
        if self.shown:
            self.shown = False
            self.out.write("\r" + " " * len(self.LABEL) + "\r")
            self.out.flush()


def plan_lines(before: PlanUpdate | None, now: PlanUpdate) -> str:
    """The steps whose state changed, as "[plan n/m] text (tool): status" lines."""
    same_plan = before is not None and before.revision == now.revision
    old = dict(enumerate(before.steps)) if before is not None and same_plan else {}
    lines = []
    for i, step in enumerate(now.steps):
        if old.get(i) != step:
            tool = f" ({step.tool})" if step.tool else ""
            lines.append(
                f"  [plan {i + 1}/{len(now.steps)}] {step.description}{tool}: {step.status}"
            )
    return "\n".join(["", *lines, ""]) if lines else ""


class _ctrl_c_cancels:
    """While a turn runs, Ctrl+C stops the turn instead of leaving ORA."""

    def __init__(self, runtime: Runtime, turn_id: str) -> None:
        self.runtime, self.turn_id = runtime, turn_id
        self.installed = False

    def __enter__(self) -> None:
        import signal

        def stop() -> None:
            self.runtime.assistant.cancel(self.turn_id, user_id=OWNER_ID, role=Role.OWNER)

        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGINT, stop)
            self.installed = True
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # Windows' default loop, or not the main thread: Ctrl+C keeps its meaning

    def __exit__(self, *_exc: object) -> None:
        import signal

        if self.installed:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGINT)


async def _show(
    runtime: Runtime, event: object, out: Writer, final: str, streamed: bool, noticed: str
) -> tuple[str, bool, str]:
    """Print one event of a turn; returns the (final, streamed, noticed) state."""
    if isinstance(event, TextDelta):
        out.write(event.text)
        out.flush()
        streamed = True
    elif isinstance(event, ToolStarted):
        out.write(f"\n  [{event.tool} ({event.risk})]\n")
    elif isinstance(event, ApprovalPending):
        r = event.request
        out.write(
            f"\n  APPROVAL NEEDED — {r.tool} ({r.risk.name}) asked by {r.requester}\n"
            f"  arguments: {json.dumps(r.arguments, ensure_ascii=False)}\n"
        )
        if r.details:  # the taint rule's disclosure: what would leave, to where, and why
            out.write("".join(f"  {line}\n" for line in r.reason.splitlines()))
        answer = await ask("  approve? [y/N] ")
        try:
            runtime.broker.answer(
                r.approval_id,
                approve=answer.strip().lower() in ("y", "yes"),
                digest=r.digest,
                answered_by=OWNER_ID,
                answerer_role=Role.OWNER,
                channel="terminal",
            )
        except ApprovalError as err:
            out.write(f"  {err}\n")
    elif isinstance(event, ToolFinished):
        out.write(f"  [{event.tool}: {event.outcome}] {event.summary}\n")
    elif isinstance(event, Notice):
        noticed = event.text
        out.write(f"{event.text}\n")
    elif isinstance(event, TurnDone):
        final = event.text
        if not streamed and event.text and event.text != noticed:
            out.write(event.text + "\n")
        elif streamed:
            out.write("\n")
    return final, streamed, noticed


async def chat(settings: Settings) -> int:
    """Interactive chat until /quit or end of input."""
    runtime = await Runtime.open(settings)
    # After a rollback the launcher left a message; say it once, here.
    notice = take_notice(settings.updates)
    if notice:
        print(f"ora: {notice}", file=sys.stderr, flush=True)
    try:
        print(
            f"ORA {__version__} — {settings.profile.value} profile. /help for commands, /quit to leave."
        )
        if not runtime.providers.has_any():
            await runtime.wait_ready()
        if not runtime.providers.has_any():
            print("No AI model is set up yet; explicit commands still work (/help).")
        while True:
            line = (await ask("> ")).strip()
            if line in ("/quit", "/exit"):
                return 0
            if line:
                await run_turn(runtime, line)
    finally:
        await runtime.close()


async def audit(settings: Settings, action: str) -> int:
    """`ora audit verify|show`."""
    runtime = await Runtime.open(settings)
    try:
        if action == "show":
            for row in runtime.audit.rows(limit=50):
                when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row["ts"]))
                print(
                    f"{row['seq']:>6} {when} {row['user_id']:<10} {row['tool']:<14} {row['risk']:<8} "
                    f"{row['decision']:<6} {row['outcome']}"
                )
            return 0
        problem = runtime.audit.verify()
        count = runtime.db.table("audit").count
        if problem is None:
            print(f"audit log intact: {count} rows verified")
            return 0
        print(f"AUDIT LOG TAMPERED: {problem.problem} (row {problem.seq})")
        return 1
    finally:
        await runtime.close()


async def providers(settings: Settings, *, usage: bool = False) -> int:
    """`ora providers`: every provider and why it is or is not enabled; `--usage`: its cost."""
    runtime = await Runtime.open(settings)
    try:
        if usage:
            print(usage_report(runtime))
            return 0
        await runtime.wait_ready()
        if not runtime.providers.statuses:
            print(
                f"No providers. Add a [[providers]] entry to {settings.config_path} "
                "or start a local server (Ollama, LM Studio)."
            )
        for s in runtime.providers.statuses:
            state = "enabled " if s.enabled else "disabled"
            print(f"{s.config.name:<14} {state} {s.config.model:<20} {s.reason}")
        print(f"secrets: {runtime.secrets.backend_description}")
        return 0
    finally:
        await runtime.close()


def usage_report(runtime: Runtime) -> str:
    """Tokens and cost per provider: today, the last 30 days, and ever."""
    ledger = runtime.providers.usage
    if ledger is None:
        return "No usage record."
    now = time.time()
    today = time.mktime((*time.localtime(now)[:3], 0, 0, 0, 0, 0, -1))  # local midnight
    out = []
    for title, since in (("Today", today), ("Last 30 days", now - 30 * 86400), ("All time", 0.0)):
        lines = format_totals(ledger.totals(since))
        out.append(f"{title}:")
        out += [f"  {line}" for line in lines] or ["  no calls"]
    out.append("(~ marks counts estimated from the text when a provider reports none)")
    return "\n".join(out)


async def self_test(settings: Settings) -> int:
    """Open a throwaway profile, run a command through the whole core, print one JSON line."""
    checks: dict[str, object] = {"version": __version__}
    with tempfile.TemporaryDirectory(prefix="ora-selftest-") as home:
        scratch = load_settings(
            settings.profile.value, env={"ORA_HOME": home, "ORA_NO_LOCAL_DETECT": "1"}
        )
        from app.store.secrets import SecretStore

        secrets = SecretStore.open(scratch.profile, scratch.state_dir, use_keyring=False)
        runtime = await Runtime.open(scratch, secrets=secrets)
        try:
            reply = await run_turn(runtime, "/remember self-test note", out=_Null())
            recall = await run_turn(runtime, "/recall self-test", out=_Null())
            checks["core"] = "Remembered" in reply and "self-test note" in recall
            checks["audit"] = runtime.audit.verify() is None
        finally:
            await runtime.close()
    checks["ok"] = bool(checks["core"] and checks["audit"])
    print(json.dumps(checks))
    return 0 if checks["ok"] else 1


class _Null:
    def write(self, _text: str) -> int:
        return 0

    def flush(self) -> None:
        pass
