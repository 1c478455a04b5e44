"""Cloud routing: the workers' connections, devices' frames to and from the Cloud, across
instances, and the claims and usage that workers report to the ledger.

Which worker holds which device's session is `relay_server.cloud_routing.CloudRouter`; this
module moves frames by that table and never reads their payload beyond the handshake byte.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from functools import partial

from aiohttp import web

from protocol import cloud, e2ee
from protocol import errors as codes
from protocol import messages as m
from protocol.errors import DecodeError
from relay_server import cluster as bus
from relay_server.billing import to_usd
from relay_server.errors import CloudNotAllowed, CloudUnavailable, RelayError
from relay_server.hub import Connection, pump
from relay_server.relay import RELAY, Relay

_UNAVAILABLE = "the Cloud is not available right now: try again later"


async def serve_worker(
    relay: Relay, conn: Connection, ws: web.WebSocketResponse, source: str
) -> None:
    """A Cloud worker's connection: sessions' frames to devices, claims and usage to the ledger."""
    relay.cloud.add(conn)
    await relay.offer_workers()
    await relay.store.audit("connected", source=source, detail="cloud")
    try:
        await pump(ws, partial(_from_cloud, relay, conn), partial(_cloud_control, relay, conn))
    finally:
        relay.metrics.connections.labels("cloud").dec()
        gone = m.Error(
            code=codes.CLOUD_UNAVAILABLE,
            message="the Cloud worker went away: send your request again",
            fatal=False,
        )
        for device_id in relay.cloud.remove(conn):
            await relay.to_device(device_id, gone)  # the device may be on another instance
        await relay.offer_workers()
        await relay.store.audit("disconnected", source=source, detail="cloud")


async def _refuse_device(relay: Relay, conn: Connection, refusal: RelayError) -> None:
    await relay.refuse(refusal, node_id=conn.node_id, device_id=conn.peer_id)
    conn.send_message(m.Error(code=refusal.code, message=refusal.message, fatal=False))


async def to_cloud(relay: Relay, conn: Connection, frame: bytes) -> None:
    """A device's frame for the Cloud: a handshake start picks a worker, the rest follow it.

    A worker here is preferred; without one, a worker on another instance (through Redis).
    """
    payload = frame[m.FRAME_HEADER_SIZE :]
    elsewhere: str | None = None
    if payload[:1] == bytes([e2ee.HS1]):
        # Checked here as well as at the claim, so a guest cannot even open a Cloud session.
        device = await relay.store.device(conn.peer_id)
        if device is None or device.role != "owner":
            only_owner = "only the owner's devices may send requests to the paid Cloud"
            await _refuse_device(relay, conn, CloudNotAllowed(only_owner))
            return
        await relay.end_cloud_session(conn.peer_id)
        worker = relay.cloud.bind(conn.peer_id)
        if worker is not None:
            await relay.offer_workers()
        elif relay.cluster is not None:
            elsewhere = await relay.cluster.workers_elsewhere()
            if elsewhere is not None:
                relay.cloud.remote[conn.peer_id] = elsewhere
    else:
        worker = relay.cloud.worker_of(conn.peer_id)
        elsewhere = relay.cloud.remote.get(conn.peer_id)
    out = frame[:1] + conn.peer_raw + payload
    if worker is None and elsewhere is not None and relay.cluster is not None:
        # That instance binds (on HS1) or checks the binding; nobody listening means it is gone.
        body = bus.encode_cloud(bus.CloudTag.FRAME, relay.cluster.instance, out)
        if await relay.cluster.publish(bus.cloud_channel(elsewhere), body) > 0:
            relay.metrics.frames_to_cloud.inc()
            return
        relay.cloud.remote.pop(conn.peer_id, None)
    if worker is None:
        await _refuse_device(relay, conn, CloudUnavailable(_UNAVAILABLE))
        return
    if worker.send(out):
        relay.metrics.frames_to_cloud.inc()


def cloud_from_elsewhere(relay: Relay) -> Callable[[bytes], Awaitable[None]]:
    """Cloud frames of devices on other instances, for the workers here.

    The device's instance checked the device (an owner's, on HS1) before publishing; a session
    is bound here like a local one, so `_from_cloud`'s rule holds for it unchanged.
    """

    async def deliver(data: bytes) -> None:
        tag, origin, body = bus.decode_cloud(data)
        if tag is bus.CloudTag.UNBIND:
            # Only the instance that bound the session may end it: a late U from the device's
            # previous instance must not end the session it has opened since, here or elsewhere.
            device_id = body.decode()
            if relay.cloud.origin.get(device_id) == origin:
                relay.cloud.unbind(device_id)
                await relay.offer_workers()
            return
        device_id = str(uuid.UUID(bytes=body[1 : m.FRAME_HEADER_SIZE]))
        if body[m.FRAME_HEADER_SIZE : m.FRAME_HEADER_SIZE + 1] == bytes([e2ee.HS1]):
            worker = relay.cloud.bind(device_id)
            if worker is not None:
                relay.cloud.origin[device_id] = origin
            await relay.offer_workers()
        elif relay.cloud.origin.get(device_id) == origin:
            worker = relay.cloud.worker_of(device_id)
        else:
            worker = None  # bound from another instance since, or not at all
        if worker is None:
            # The last worker here left meanwhile; the device's next handshake picks again.
            refusal = CloudUnavailable(_UNAVAILABLE)
            await relay.to_device(
                device_id, m.Error(code=refusal.code, message=refusal.message, fatal=False)
            )
        elif worker.send(body):
            relay.metrics.frames_to_cloud.inc()

    return deliver


async def _from_cloud(relay: Relay, worker: Connection, frame: bytes) -> None:
    """A worker's frame for a device: only to a device whose session this worker holds."""
    if len(frame) < m.FRAME_HEADER_SIZE or frame[0] != m.ROUTED:
        worker.send_message(m.Error(code="bad_frame", message="malformed frame", fatal=False))
        return
    device_id = str(uuid.UUID(bytes=frame[1 : m.FRAME_HEADER_SIZE]))
    if relay.cloud.worker_of(device_id) is not worker:
        return  # the session moved on (device reconnected or re-handshook): drop
    out = frame[:1] + cloud.CLOUD_PEER_RAW + frame[m.FRAME_HEADER_SIZE :]
    device = relay.hub.devices.get(device_id)
    if device is not None:
        delivered = device.send(out)
    elif relay.cluster is not None:
        # Bound from another instance: the device's own channel reaches it wherever it is.
        body = bus.encode_peer(bus.PeerTag.FRAME, out)
        delivered = await relay.cluster.publish(bus.peer_channel("device", device_id), body) > 0
        if not delivered:
            # Nobody holds the device (its instance went down without saying): free the slot.
            relay.cloud.unbind(device_id)
            await relay.offer_workers()
    else:
        delivered = False
    if delivered:
        relay.metrics.frames_from_cloud.inc()


async def _cloud_control(relay: Relay, worker: Connection, text: str) -> None:
    """Claims and usage reports from a worker; the answers carry metadata, never content."""
    try:
        msg = m.decode(text)
    except DecodeError as err:
        worker.send_message(m.Error(code="bad_message", message=str(err), fatal=False))
        return
    if isinstance(msg, cloud.CloudClaim):
        grant = await relay.billing.claim(msg.device_id, msg.request_id)
        relay.metrics.cloud_claims.labels(grant.code or "granted").inc()
        worker.send_message(
            cloud.CloudGrant(
                request_id=msg.request_id,
                device_id=msg.device_id,
                granted=grant.granted,
                code=grant.code,
                message=grant.message,
                remaining_usd=to_usd(grant.remaining_nusd),
            )
        )
    elif isinstance(msg, cloud.CloudUsage):
        charged, left = await relay.billing.record(
            msg.device_id,
            msg.request_id,
            model=msg.model,
            tokens_in=msg.tokens_in,
            tokens_out=msg.tokens_out,
            cost_usd=msg.cost_usd,
            outcome=msg.outcome,
        )
        if charged:
            relay.metrics.cloud_charged.inc(max(0.0, msg.cost_usd))
            if relay.notifier is not None:
                relay.notifier.budget_checked(msg.device_id, left)
        worker.send_message(
            cloud.CloudRecorded(
                request_id=msg.request_id,
                device_id=msg.device_id,
                charged=charged,
                remaining_usd=to_usd(left),
            )
        )
    else:
        worker.send_message(
            m.Error(code="bad_message", message=f"unexpected {msg.TYPE}", fatal=False)
        )


async def cloud_key(request: web.Request) -> web.Response:
    """The Cloud's public key with the release key's statement for it (devices believe only the
    statement, protocol.cloud_key), and whether a worker is reachable from here."""
    relay = request.app[RELAY]
    if not relay.settings.cloud_public_key:
        raise CloudUnavailable("this Relay offers no Cloud execution")
    statement = relay.settings.cloud_key_statement
    available = bool(relay.cloud.workers) or (
        relay.cluster is not None and await relay.cluster.workers_elsewhere() is not None
    )
    return web.json_response(
        {
            "public_key": relay.settings.cloud_public_key,
            "statement": statement and json.loads(statement),
            "peer_id": cloud.CLOUD_PEER_ID,
            "available": available,
        }
    )
