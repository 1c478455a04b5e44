"""Application messages between a device and its Node, inside the end-to-end encrypted session.

Same strict codec as the control messages (protocol.messages.encode/decode); the Relay never
sees these: they exist only as plaintext on the device and on the Node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from protocol.messages import Message, message

# -- device -> Node ---------------------------------------------------------------------------


@message
@dataclass(frozen=True, kw_only=True)
class Chat(Message):
    """A message to the assistant."""

    TYPE: ClassVar[str] = "chat"
    id: str
    text: str


@message
@dataclass(frozen=True, kw_only=True)
class ApprovalAnswer(Message):
    """The owner's answer to an approval, bound to the digest the device was shown."""

    TYPE: ClassVar[str] = "approval_answer"
    approval_id: str
    approve: bool
    digest: str


@message
@dataclass(frozen=True, kw_only=True)
class ApprovalWithdraw(Message):
    """The device that asked for an approval takes the request back (it cannot answer it)."""

    TYPE: ClassVar[str] = "approval_withdraw"
    approval_id: str


@message
@dataclass(frozen=True, kw_only=True)
class DeviceRename(Message):
    """Give a paired device a new name (owner only)."""

    TYPE: ClassVar[str] = "device_rename"
    device_id: str
    name: str


@message
@dataclass(frozen=True, kw_only=True)
class ListDevices(Message):
    """Ask for the paired devices (owner only)."""

    TYPE: ClassVar[str] = "list_devices"


@message
@dataclass(frozen=True, kw_only=True)
class DeviceRevoke(Message):
    """Revoke a paired device (owner only)."""

    TYPE: ClassVar[str] = "device_revoke"
    device_id: str


# -- either way, about the session itself -----------------------------------------------------


@message
@dataclass(frozen=True, kw_only=True)
class Resync(Message):
    """I refused one of your frames (dropped, reordered or tampered on the way): frames from
    counter `expected` on were not accepted. The initiator starts a new handshake."""

    TYPE: ClassVar[str] = "resync"
    expected: int
    reason: str


@message
@dataclass(frozen=True, kw_only=True)
class Received(Message):
    """A chat arrived (authentic, in order): the device shows it as delivered."""

    TYPE: ClassVar[str] = "received"
    id: str


@message
@dataclass(frozen=True, kw_only=True)
class Cancel(Message):
    """Stop the answer (or plan) to this device's chat message `id`."""

    TYPE: ClassVar[str] = "cancel"
    id: str


# -- Node -> device ---------------------------------------------------------------------------


@message
@dataclass(frozen=True, kw_only=True)
class NodeInfo(Message):
    """Sent when a session starts: which Node this is and who the device is to it."""

    TYPE: ClassVar[str] = "node_info"
    node_name: str
    device_id: str
    role: str


@message
@dataclass(frozen=True, kw_only=True)
class Delta(Message):
    """A piece of a streamed reply."""

    TYPE: ClassVar[str] = "delta"
    id: str
    text: str


@message
@dataclass(frozen=True, kw_only=True)
class ToolActivity(Message):
    """A tool started or finished while answering."""

    TYPE: ClassVar[str] = "tool_activity"
    id: str
    call_id: str
    tool: str
    status: str
    detail: str


@message
@dataclass(frozen=True, kw_only=True)
class PlanProgress(Message):
    """The plan for chat message `id`, whole, each time a step changes (step n of m)."""

    TYPE: ClassVar[str] = "plan"
    id: str
    steps: list[dict[str, Any]]  # {"text", "tool", "status"}; status: pending running done
    current: int  # failed skipped cancelled; current is 1-based, 0 before the first step
    revision: int


@message
@dataclass(frozen=True, kw_only=True)
class Cancelled(Message):
    """The answer to chat message `id` was stopped at the user's request (Done follows)."""

    TYPE: ClassVar[str] = "cancelled"
    id: str


@message
@dataclass(frozen=True, kw_only=True)
class Done(Message):
    """The reply is complete."""

    TYPE: ClassVar[str] = "done"
    id: str
    text: str


@message
@dataclass(frozen=True, kw_only=True)
class ApprovalRequestMessage(Message):
    """An action waits for the owner's approval."""

    TYPE: ClassVar[str] = "approval_request"
    approval_id: str
    tool: str
    arguments: dict[str, Any]
    digest: str
    risk: str
    requester: str
    requester_role: str  # "owner" or "guest": the person who asked
    channel: str
    device_name: str  # the asking device's name ("" for the PC itself)
    target: str  # what the action touches, whole (a resolved path, a URL)
    reason: str
    expires_at: float
    # The taint rule's disclosure as data (sends_to, body, untrusted_sources, private_reads), so
    # each device shows it in its own language; empty when the gate's table alone asked.
    disclosure: dict[str, Any] = field(default_factory=dict)


@message
@dataclass(frozen=True, kw_only=True)
class ApprovalResolved(Message):
    """An approval was answered or expired (close any prompt for it)."""

    TYPE: ClassVar[str] = "approval_resolved"
    approval_id: str
    outcome: str


@message
@dataclass(frozen=True, kw_only=True)
class Devices(Message):
    """The paired devices."""

    TYPE: ClassVar[str] = "devices"
    items: list[dict[str, Any]]


@message
@dataclass(frozen=True, kw_only=True)
class PairingChanged(Message):
    """The Node changed this device's pairing (today: revoked). Only this message, from inside
    the end-to-end session, makes a device forget its keys; the Relay's word is a warning."""

    TYPE: ClassVar[str] = "pairing_changed"
    state: str


@message
@dataclass(frozen=True, kw_only=True)
class AppError(Message):
    """Something the device asked for was refused or failed."""

    TYPE: ClassVar[str] = "app_error"
    code: str
    message: str
