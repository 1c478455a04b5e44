"""What a paired device is shown of an approval, and which devices are shown it.

The owner's devices see every approval with its target in full, the asking person and the asking
device by name. The device that asked sees its own request too (waiting, with Withdraw instead
of buttons it may not use); a guest is never shown the owner's folder layout.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from app.link.devices import DeviceRegistry, PairedDevice
from app.policy.approvals import ApprovalRequest
from protocol import app_messages as am


def approval_message(
    req: ApprovalRequest, registry: DeviceRegistry, *, for_guest: bool = False
) -> am.ApprovalRequestMessage:
    """The request as a device is sent it (names resolved here: a phone knows no other ids)."""
    device = registry.get(req.channel)
    return am.ApprovalRequestMessage(
        approval_id=req.approval_id,
        tool=req.tool,
        arguments=json.loads(json.dumps(req.arguments)),
        digest=req.digest,
        risk=req.risk.name,
        requester=req.requester,
        requester_role=req.requester_role.value,
        channel=req.channel,
        device_name=device.name if device is not None else "",
        # The resolved path names the owner's folders: a guest sees its own arguments instead.
        target="" if for_guest else req.target,
        # The taint rule's disclosure (the reason's lines after the first, and as data) names the
        # turn's private reads: the owner's devices only.
        reason=req.reason.split("\n", 1)[0] if for_guest else req.reason,
        expires_at=req.expires_at,
        disclosure={} if for_guest else json.loads(json.dumps(req.details, default=str)),
    )


def audience(req: ApprovalRequest, connected: Iterable[str], registry: DeviceRegistry) -> list[str]:
    """Connected devices that are shown this request: the owner's, and the one that asked."""
    shown = []
    for device_id in connected:
        device = registry.active(device_id)
        if device is not None and (device.role == "owner" or device_id == req.channel):
            shown.append(device_id)
    return shown


def device_item(d: PairedDevice, online: bool) -> dict[str, Any]:
    """One row of the Devices list a phone is sent."""
    return {
        "device_id": d.device_id,
        "name": d.name,
        "role": d.role,
        "paired_at": d.paired_at,
        "last_seen": d.last_seen,
        "revoked": d.revoked,
        "online": online,
    }
