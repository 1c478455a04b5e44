"""Explicit commands that run tools directly, with or without a model: /help, /files, /remember...

They take the same path as a model's call (gate, approval, audit), so typing a command grants
nothing a model would not get.
"""

from __future__ import annotations

import shlex
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from app.core.events import Event, ToolFinished, TurnDone

if TYPE_CHECKING:
    from app.core.assistant import Assistant, TurnRequest

HELP = """Commands:
  /help                 this list
  /files list [PATH]    list a folder inside the allowed folders
  /files read PATH      show a text file inside the allowed folders
  /remember TEXT        keep a note in your long-term memory
  /recall QUERY         search your notes
  /tools                the tools and their risk levels
  /providers            which AI providers are enabled, and why not"""


class Commands:
    """Parses a command line and runs the matching tool through the assistant."""

    async def run(self, assistant: Assistant, req: TurnRequest, line: str) -> AsyncIterator[Event]:
        """Run one command line, streaming events."""
        try:
            words = shlex.split(line)
        except ValueError as err:
            words = []
            message = f"Could not read that command ({err}). Type /help."
        else:
            message = ""
        name = words[0].lower() if words else ""
        rest = line[len(name) :].strip() if name else ""
        tool_call: tuple[str, dict[str, Any]] | None = None
        if message:
            pass
        elif name == "/help":
            message = HELP
        elif name == "/tools":
            message = "\n".join(
                f"{t.name:<14} {t.risk.name:<8} {t.description}" for t in assistant.registry.all()
            )
        elif name == "/providers":
            lines = [
                f"{s.config.name:<12} {'enabled' if s.enabled else 'disabled'}: {s.reason}"
                for s in assistant.providers.statuses
            ]
            message = "\n".join(lines) or "No providers configured. " + HELP.splitlines()[0]
        elif name == "/files" and len(words) >= 2 and words[1] in ("list", "ls"):
            tool_call = ("files_list", {"path": words[2]} if len(words) > 2 else {})
        elif name == "/files" and len(words) >= 3 and words[1] in ("read", "cat"):
            tool_call = ("files_read", {"path": words[2]})
        elif name == "/remember" and rest:
            tool_call = ("remember", {"text": rest})
        elif name == "/recall" and rest:
            tool_call = ("recall", {"query": rest})
        else:
            message = f"Unknown or incomplete command {line!r}. Type /help."
        if tool_call is None:
            yield TurnDone(text=message)
            return
        outcome: dict[str, Any] = {}
        async for event in assistant.call_tool(req, tool_call[0], tool_call[1], None, outcome):
            yield event
            if isinstance(event, ToolFinished) and event.outcome != "ok":
                message = event.summary
        if "result" in outcome:
            message = _render(tool_call[0], outcome["result"])
        yield TurnDone(text=message)


def _render(tool: str, result: Any) -> str:
    if tool == "files_list":
        lines = [f"{result['path']}:"]
        for e in result["entries"]:
            lines.append(
                f"  {e['name']}/" if e["type"] == "dir" else f"  {e['name']}  ({e['size']} bytes)"
            )
        return "\n".join(lines) if result["entries"] else f"{result['path']} is empty"
    if tool == "files_read":
        return str(result["text"]) + ("\n[truncated]" if result["truncated"] else "")
    if tool == "remember":
        return f"Remembered: {result['remembered']}"
    if tool == "recall":
        notes = result["notes"]
        return "\n".join(f"- {n}" for n in notes) if notes else "No matching notes."
    return str(result)
