"""The approval broker: an owner's yes or no for exactly one action, once, before it expires.

An approval is bound to (tool, digest of the exact arguments, requester, requesting channel).
It is answered at most once, by an owner, on a channel other than the one that asked (the
tray is the owner at the PC, so a request typed at the tray may be approved there), with the
digest the approver was shown; on timeout it is denied. Listeners (tray, devices, terminal)
hear of every new request and of every resolution, so a popup closes when another device
answered first.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from app.policy.gate import Risk, Role

# The owner in front of the PC (tray popup, or the terminal ORA runs in) is local presence.
LOCAL_CHANNELS = frozenset({"tray", "terminal"})


_MAX_UNCLAIMED = 1000
# How many approvals one device (requester + channel) may have waiting at once: a guest must
# not be able to bury the owner in popups.
MAX_WAITING_PER_DEVICE = 3


class ApprovalError(Exception):
    """An answer that cannot be accepted; the message says why."""


class Outcome(StrEnum):
    """How a pending approval ended."""

    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"  # the device that asked took its request back


def args_digest(tool: str, arguments: dict[str, Any]) -> str:
    """SHA-256 over the canonical JSON of the tool name and its exact arguments."""
    canonical = json.dumps(
        {"tool": tool, "arguments": arguments},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True, kw_only=True)
class ApprovalRequest:
    """What the owner is shown: the action, who asked, from where, how risky, until when."""

    approval_id: str
    tool: str
    arguments: dict[str, Any]
    digest: str
    risk: Risk
    requester: str
    requester_role: Role
    channel: str
    reason: str
    expires_at: float  # wall-clock seconds, for display
    # What the taint rule shows beside the arguments: where data would go, the body, and the
    # private reads of the turn (empty when the rule did not apply).
    details: dict[str, Any] = field(default_factory=dict)
    # What the action touches, whole (the resolved path, the URL...), for the owner to judge.
    target: str = ""


@dataclass(frozen=True, kw_only=True)
class Resolution:
    """How an approval ended and who ended it."""

    approval_id: str
    outcome: Outcome
    answered_by: str = ""
    channel: str = ""


@dataclass
class _Pending:
    request: ApprovalRequest
    deadline: float  # monotonic
    future: asyncio.Future[Resolution]
    timer: asyncio.TimerHandle | None = None


Listener = Callable[[ApprovalRequest | Resolution], None]


@dataclass
class ApprovalBroker:
    """Holds pending approvals on the core's event loop."""

    default_timeout_s: float = 120.0
    clock: Callable[[], float] = time.monotonic
    max_waiting_per_device: int = MAX_WAITING_PER_DEVICE
    _pending: dict[str, _Pending] = field(default_factory=dict)
    # Resolutions not yet collected by `wait`: an answer may arrive before the waiter does.
    _unclaimed: dict[str, Resolution] = field(default_factory=dict)
    _listeners: list[Listener] = field(default_factory=list)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Hear of new requests and resolutions; returns an unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def pending(self) -> list[ApprovalRequest]:
        """Requests still waiting for an answer."""
        now = self.clock()
        return [p.request for p in self._pending.values() if p.deadline > now]

    def request(
        self,
        *,
        tool: str,
        arguments: dict[str, Any],
        risk: Risk,
        requester: str,
        requester_role: Role,
        channel: str,
        reason: str,
        timeout_s: float | None = None,
        details: dict[str, Any] | None = None,
        target: str = "",
    ) -> ApprovalRequest:
        """Open an approval for one exact action; await it with `wait`.

        Refused (ApprovalError) when that device already has the most approvals waiting.
        """
        waiting = [
            p
            for p in self.pending()
            if p.requester == requester and p.channel == channel and channel not in LOCAL_CHANNELS
        ]
        if len(waiting) >= self.max_waiting_per_device:
            raise ApprovalError(
                f"{len(waiting)} approvals from this device are already waiting for the owner; "
                "wait for their answers before asking for more"
            )
        loop = asyncio.get_running_loop()
        timeout = self.default_timeout_s if timeout_s is None else timeout_s
        req = ApprovalRequest(
            approval_id=secrets.token_urlsafe(16),
            tool=tool,
            arguments=json.loads(json.dumps(arguments)),  # a private copy the caller cannot mutate
            digest=args_digest(tool, arguments),
            risk=risk,
            requester=requester,
            requester_role=requester_role,
            channel=channel,
            reason=reason,
            expires_at=time.time() + timeout,
            details=json.loads(json.dumps(details or {}, default=str)),
            target=target,
        )
        pending = _Pending(
            request=req, deadline=self.clock() + timeout, future=loop.create_future()
        )
        pending.timer = loop.call_later(timeout, self._expire, req.approval_id)
        self._pending[req.approval_id] = pending
        self._notify(req)
        return req

    async def wait(self, approval_id: str) -> Resolution:
        """Wait for the answer (or the expiry, which denies)."""
        done = self._unclaimed.pop(approval_id, None)
        if done is not None:
            return done
        pending = self._pending.get(approval_id)
        if pending is None:
            raise ApprovalError("no such pending approval")
        resolution = await asyncio.shield(pending.future)
        self._unclaimed.pop(approval_id, None)
        return resolution

    def answer(
        self,
        approval_id: str,
        *,
        approve: bool,
        digest: str,
        answered_by: str,
        answerer_role: Role,
        channel: str,
    ) -> Resolution:
        """Accept one answer; everything that could be a trick is refused with a reason."""
        pending = self._pending.get(approval_id)
        if pending is None:
            raise ApprovalError("this approval was already answered, expired, or never existed")
        req = pending.request
        if self.clock() >= pending.deadline:
            self._expire(approval_id)
            raise ApprovalError("this approval has expired and was denied")
        if answerer_role is not Role.OWNER:
            raise ApprovalError("only the owner can answer approvals")
        if channel == req.channel and channel not in LOCAL_CHANNELS:
            raise ApprovalError(
                "an approval cannot be answered from the device that asked for it: "
                "answer it on the PC or on another of your devices"
            )
        if digest != req.digest:
            raise ApprovalError("the approval does not match this action's arguments")
        outcome = Outcome.APPROVED if approve else Outcome.DENIED
        return self._resolve(approval_id, outcome, answered_by, channel)

    def withdraw(self, approval_id: str, by: str) -> None:
        """The requester gave up (a cancelled turn): deny it and close every prompt for it."""
        if approval_id in self._pending:
            self._resolve(approval_id, Outcome.DENIED, by, "withdrawn")

    def retract(self, approval_id: str, *, channel: str, by: str) -> Resolution:
        """The device that asked takes its request back; nobody else can, for it."""
        pending = self._pending.get(approval_id)
        if pending is None:
            raise ApprovalError("this approval was already answered, expired, or never existed")
        if channel != pending.request.channel:
            raise ApprovalError("only the device that asked can withdraw this request")
        return self._resolve(approval_id, Outcome.WITHDRAWN, by, channel)

    def cancel_all(self) -> None:
        """Deny everything pending (shutdown)."""
        for approval_id in list(self._pending):
            self._resolve(approval_id, Outcome.DENIED, "", "shutdown")

    def _expire(self, approval_id: str) -> None:
        if approval_id in self._pending:
            self._resolve(approval_id, Outcome.EXPIRED, "", "")

    def _resolve(self, approval_id: str, outcome: Outcome, by: str, channel: str) -> Resolution:
        pending = self._pending.pop(approval_id)
        if pending.timer is not None:
            pending.timer.cancel()
        resolution = Resolution(
            approval_id=approval_id, outcome=outcome, answered_by=by, channel=channel
        )
        if not pending.future.done():
            pending.future.set_result(resolution)
        self._unclaimed[approval_id] = resolution
        while len(self._unclaimed) > _MAX_UNCLAIMED:
            self._unclaimed.pop(next(iter(self._unclaimed)))
        self._notify(resolution)
        return resolution

    def _notify(self, event: ApprovalRequest | Resolution) -> None:
        for listener in list(self._listeners):
            listener(event)
