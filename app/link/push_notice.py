"""What the Node tells the Relay when an approval waits: a push for the owner's phones.

The Relay learns the kind and ids only (protocol.messages.Notify). What the notification shows
(the tool and the asking device) is sealed for each owner device with protocol.notify, bound to
exactly this push's kind, event id and ids, so the Relay can neither read it nor move it.
"""

from __future__ import annotations

import aiohttp

from app.link.devices import PairedDevice
from app.link.identity import NodeIdentity
from app.policy.approvals import ApprovalRequest
from protocol import messages as m
from protocol.notify import seal_text

MAX_DEVICES = 32  # the Relay refuses a Notify sealed for more (see relay_server.push_events)


def approval_notice(
    identity: NodeIdentity, devices: list[PairedDevice], req: ApprovalRequest
) -> m.Notify:
    """The Notify for an approval waiting, sealed for every active owner device."""
    # The event id starts with the Node's id: the Relay's once-per-device claims are per Node.
    event_id = f"{identity.node_id}:approval:{req.approval_id}"
    ids = {"approval_id": req.approval_id, "node_id": identity.node_id}
    owners = [d for d in devices if d.role == "owner" and not d.revoked][-MAX_DEVICES:]
    # The asking device by its name; "" for the PC itself (each phone says "this PC" in its
    # own language).
    device = next((d.name for d in devices if d.device_id == req.channel), "")
    sealed = {
        d.device_id: seal_text(
            identity.private_key,
            d.public_key,
            kind="approval_waiting",
            event_id=event_id,
            ids=ids,
            fields={"tool": req.tool, "device": device},
        )
        for d in owners
    }
    return m.Notify(kind="approval_waiting", event_id=event_id, ids=ids, sealed=sealed)


async def devices_notified(relay_url: str, node_token: str) -> set[str]:
    """The devices the Relay pushes notifications to (the tray's Devices dialog shows them)."""
    timeout = aiohttp.ClientTimeout(total=10)
    headers = {"Authorization": f"Bearer {node_token}"}
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        http.get(f"{relay_url.rstrip('/')}/v1/push/devices", headers=headers) as resp,
    ):
        resp.raise_for_status()
        return {str(d) for d in (await resp.json())["devices"]}
