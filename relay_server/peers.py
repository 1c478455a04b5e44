"""The WebSocket: a peer's hello, then routing of its opaque frames and its control messages.

Binary frames are routed by their header alone (protocol.messages.unpack_frame); the payload is
end-to-end encrypted between a device and its Node and is never parsed, stored or logged here.
Cloud workers say hello here too and are then served by `relay_server.cloud_peers`.
"""

from __future__ import annotations

import hmac
import json
import time
import uuid
from math import ceil
from typing import Any

from aiohttp import WSMsgType, web

from protocol import cloud
from protocol import messages as m
from protocol.errors import DecodeError, FrameError, IncompatibleVersion
from protocol.tokens import token_hash
from protocol.version import PROTOCOL_VERSION, check_peer_version
from relay_server import cluster as bus
from relay_server import code_pairing
from relay_server.cloud_peers import serve_worker, to_cloud
from relay_server.errors import BadRequest, NotPaired, RelayError, Unauthorized, UpdateRequired
from relay_server.http_common import (
    REFUSAL_NODE,
    SECURITY_HEADERS,
    allowed_origin,
    error_response,
    long_lived,
    source,
)
from relay_server.hub import Connection
from relay_server.relay import RELAY, Relay
from relay_server.token_service import AccessGrant


@long_lived
async def websocket(request: web.Request) -> web.StreamResponse:
    """One peer: Hello first, then control messages (text) and routed frames (binary).

    The middlewares hand this coroutine on without awaiting it (`long_lived`): it refuses and
    audits a `RelayError` itself, as `refusals` would, and sets the security headers on its
    own answers. (Not in a coroutine of its own: one frame more for each idle socket.)"""
    relay = request.app[RELAY]
    try:
        wait = relay.accepts.take()
        if wait > 0:
            # Past the configured accept rate (a reconnect storm): come back later, before any
            # database work. Counted, not audited: a storm would write a row per refusal.
            relay.metrics.refusals.labels("busy").inc()
            return _secured(
                web.Response(status=503, text="busy", headers={"Retry-After": str(ceil(wait))})
            )
        src = source(request)
        ws = _Socket(
            heartbeat=relay.settings.heartbeat_s,
            max_msg_size=relay.settings.max_frame_bytes,
            # Frames are end-to-end encrypted (incompressible): deflate would spend CPU on every
            # frame and a compressor's state on every connection, for nothing.
            compress=False,
        )
        if not allowed_origin(request):
            # Cross-site WebSocket hijacking: a page elsewhere must not ride a browser's session.
            origin = request.headers.get("Origin", "")[:100]
            await relay.refuse(Unauthorized(f"foreign origin {origin}"), source=src)
            return _secured(web.Response(status=403, text="origin not allowed"))
        await ws.prepare(request)
        hello = await _hello(request, ws, relay, src)
        if hello is None:
            return ws
        conn, token = hello
        del hello  # held by this frame for the socket's whole life otherwise
        relay.metrics.connections.labels(conn.role).inc()
        if conn.role == "cloud":
            await serve_worker(relay, conn, ws, src)
            return ws
        device_id = conn.peer_id if conn.role == "device" else ""
        await relay.store.audit(
            "connected", node_id=conn.node_id, device_id=device_id, source=src, detail=conn.role
        )
        await relay.hub.attach(conn)
        await relay.joined(conn)
        started = time.monotonic()
        try:
            if conn.role == "device" and not await _still_valid(relay, conn, token):
                return ws  # revoked between its hello and now: the revocation swept before it
            token = ""  # checked: not kept for the socket's whole life
            await _arrived(relay, conn)
            # The loop is written here, not called (hub.pump), and not `async for` (whose
            # __anext__ is a coroutine of its own): frames held by each of 100k idle sockets.
            while True:
                msg = await ws.receive()
                if msg.type in _ENDS:
                    break
                size = 0
                if msg.type == WSMsgType.BINARY:
                    size = len(msg.data)
                    await _route(relay, conn, msg.data)
                elif msg.type == WSMsgType.TEXT:
                    await _control(relay, conn, msg.data)
                # Routed, the frame (up to 1 MiB) is its destination's business: held here while
                # the next one is awaited (or while its sender is held to its rate), it was 1 MiB
                # per flooding sender that no budget counted.
                del msg
                pause = conn.throttle(size) if size else 0.0
                if pause > 0:
                    # The frame that overdrew the allowance has gone: the sender waits after it,
                    # and the Relay does not hold that frame for the whole wait.
                    await conn.rest(pause)
        finally:
            if conn.role == "device":
                await relay.end_cloud_session(conn.peer_id)
            current = relay.hub.detach(conn)
            if current:
                await relay.left(conn)
            relay.metrics.connections.labels(conn.role).dec()
            traffic: dict[str, object] = {
                "in": conn.bytes_in,
                "out": conn.bytes_out,
                "s": round(time.monotonic() - started, 3),
                "close": ws.close_code,
            }
            if conn.closed_for:
                traffic["reason"] = conn.closed_for  # a stalled reader never gets to read it
            await relay.store.audit(
                "disconnected",
                node_id=conn.node_id,
                device_id=device_id,
                source=src,
                detail=json.dumps(traffic),
            )
            if current and conn.role == "node":
                await relay.announce_node(conn.node_id, False)
                if relay.notifier is not None:
                    relay.notifier.node_left(conn.node_id)
            elif current:
                await relay.to_node(conn.node_id, m.Presence(peer_id=conn.peer_id, online=False))
        return ws
    except RelayError as err:
        await relay.refuse(err, source=source(request), node_id=request.get(REFUSAL_NODE, ""))
        return _secured(error_response(err))


class _Socket(web.WebSocketResponse):
    """aiohttp's WebSocketResponse with the attributes its heartbeat sets after the upgrade in
    slots. CPython keeps an instance's first 30 attributes in a compact array (~300 bytes);
    a prepared socket has 29, and the first ping added 2 more, which turned them into a full
    dict of ~1.6 KB, for each connection's whole life. A slot is 8 bytes.

    A slot shadows the class default aiohttp relies on: each is set to that default first."""

    __slots__ = ("_heartbeat_cb", "_heartbeat_when", "_ping_task", "_pong_response_cb")

    def __init__(self, **kwargs: Any) -> None:
        self._heartbeat_cb = None
        self._heartbeat_when = 0.0
        self._pong_response_cb = None
        self._ping_task = None
        super().__init__(**kwargs)


# What ends the loop: `async for` over the socket stops at these too.
_ENDS = frozenset((WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR))


def _secured(resp: web.Response) -> web.Response:
    """The headers `security_headers` puts on every other answer of the Relay."""
    resp.headers.update(SECURITY_HEADERS)
    return resp


async def _arrived(relay: Relay, conn: Connection) -> None:
    """Presence: a Node learns its devices online and they learn of it; a device, the reverse."""
    if conn.role == "node":
        for device in relay.hub.devices_of(conn.node_id):
            conn.send_message(m.Presence(peer_id=device.peer_id, online=True))
        await relay.announce_node(conn.node_id, True)
        if relay.notifier is not None:
            relay.notifier.node_back(conn.node_id)
    else:
        online = await relay.node_is_online(conn.node_id)
        conn.send_message(m.Presence(peer_id=conn.node_id, online=online))
        await relay.to_node(conn.node_id, m.Presence(peer_id=conn.peer_id, online=True))


async def _hello(
    request: web.Request, ws: web.WebSocketResponse, relay: Relay, source: str
) -> tuple[Connection, str] | None:
    """Authenticate the first message (the connection and its credential); on any failure
    say why and close."""
    try:
        first = await ws.receive(timeout=relay.settings.hello_timeout_s)
    except TimeoutError:
        await ws.close(code=4000, message=b"no hello")
        return None
    if first.type != WSMsgType.TEXT:
        await ws.close(code=4000, message=b"hello expected")
        return None
    try:
        hello = m.decode_as(first.data, m.Hello)
        try:
            check_peer_version(hello.version)
        except IncompatibleVersion as err:
            raise UpdateRequired(str(err)) from None
        role, peer_id, node_id, grant = await _authenticate(relay, hello)
    except (DecodeError, RelayError) as err:
        rel = err if isinstance(err, RelayError) else BadRequest(f"bad hello: {err}")
        await relay.refuse(rel, source=source)
        await ws.send_str(m.encode(m.Error(code=rel.code, message=rel.message)))
        await ws.close(code=4001, message=rel.code.encode())
        return None
    conn = relay.hub.connection(
        ws,
        request,
        role=role,
        peer_id=peer_id,
        node_id=node_id,
        queue_frames=relay.settings.send_queue_frames,
        # A worker carries every session of its devices: room for a burst of each of them.
        queue_bytes=relay.hub.queue_bytes * (8 if role == "cloud" else 1),
        in_rate=0.0 if role == "cloud" else relay.hub.in_rate,
    )
    if grant is not None:
        conn.family_id = grant.family_id
        conn.expires_at = grant.expires_at  # the socket ends then, unless renewed in band
    await ws.send_str(
        m.encode(m.Welcome(version=PROTOCOL_VERSION, peer_id=conn.peer_id, server_time=time.time()))
    )
    return conn, hello.token


async def _authenticate(relay: Relay, hello: m.Hello) -> tuple[str, str, str, AccessGrant | None]:
    """(role, peer id, node id, a device's grant) of a hello's credential; a Cloud worker gets
    a fresh id."""
    if hello.role == "node":
        if hello.app_version in relay.settings.insecure_node_versions:
            raise UpdateRequired(
                f"ORA {hello.app_version} has a security problem: update ORA on your PC now"
            )
        found = await relay.store.node_by_credential(token_hash(hello.token))
        if found is None:
            raise Unauthorized("unknown Node credential")
        return "node", found.node_id, found.node_id, None
    if hello.role == "device":
        grant = await relay.tokens.grant(hello.token)  # the device exists and is not revoked
        # Remote access is what the monthly plan pays for: refuse it, saying why.
        await relay.billing.require_active(grant.node_id)
        return "device", grant.device_id, grant.node_id, grant
    expected = relay.settings.cloud_token_hash
    if not expected or not hmac.compare_digest(token_hash(hello.token).encode(), expected.encode()):
        raise Unauthorized("unknown Cloud worker credential")
    worker_id = str(uuid.uuid4())
    return "cloud", worker_id, worker_id, None


async def _route(relay: Relay, conn: Connection, frame: bytes) -> None:
    """Pass an opaque frame to its peer: a device only to its own Node, a Node only to its devices.

    The hot path works on the header's raw 16-byte ids; no parsing beyond them.
    """
    conn.bytes_in += len(frame)
    if len(frame) < m.FRAME_HEADER_SIZE or frame[0] != m.ROUTED:
        err = FrameError("malformed frame header")
        await relay.refuse(BadRequest(str(err)), node_id=conn.node_id)
        conn.send_message(m.Error(code="bad_frame", message=str(err), fatal=False))
        return
    peer = frame[1 : m.FRAME_HEADER_SIZE]
    if conn.role == "device":
        if peer == cloud.CLOUD_PEER_RAW:
            await to_cloud(relay, conn, frame)
            return
        if peer != conn.node_raw:
            refusal = NotPaired("this device is not paired with that Node")
            await relay.refuse(refusal, node_id=str(uuid.UUID(bytes=peer)), device_id=conn.peer_id)
            conn.send_message(m.Error(code=refusal.code, message=refusal.message, fatal=False))
            return
        target = relay.hub.nodes_raw.get(peer)
        counter = relay.metrics.frames_to_node
        if target is not None and not target.has_room(len(frame)):
            # A device waits for its own Node (nobody else's traffic waits behind it); a Node
            # that stays behind is closed by its write timeout, and the wait ends with it.
            await target.wait_room(len(frame), conn)
    else:
        target = relay.hub.devices_raw.get(peer)
        # Only to this Node's own devices, even when they are on another instance.
        if (
            target is None
            and relay.cluster is not None
            and await relay.owner_of(peer) != conn.node_raw
        ):
            await relay.refuse(
                NotPaired("that device belongs to another Node"), node_id=conn.node_id
            )
            return
        if target is not None and target.node_raw != conn.node_raw:
            await relay.refuse(
                NotPaired("that device belongs to another Node"),
                node_id=conn.node_id,
                device_id=target.peer_id,
            )
            return
        counter = relay.metrics.frames_to_device
    # One copy of a frame of up to 1 MiB, not two (a slice, then the concatenation).
    out = b"".join((frame[:1], conn.peer_raw, memoryview(frame)[m.FRAME_HEADER_SIZE :]))
    if target is None:
        peer_id = str(uuid.UUID(bytes=peer))
        # Another instance may hold the peer; nobody listening means it is offline.
        if (
            relay.cluster is None
            or await relay.cluster.try_publish(
                bus.peer_channel("node" if conn.role == "device" else "device", peer_id),
                bus.encode_peer(bus.PeerTag.FRAME, out),
            )
            == 0
        ):
            conn.send_message(m.Presence(peer_id=peer_id, online=False))
            return
        counter.inc()
        relay.metrics.frame_bytes.inc(len(frame) - m.FRAME_HEADER_SIZE)
        return
    # Same layout, with the sender's id in place of the destination's.
    if target.send(out):
        counter.inc()
        relay.metrics.frame_bytes.inc(len(frame) - m.FRAME_HEADER_SIZE)


async def _control(relay: Relay, conn: Connection, text: str) -> None:
    try:
        msg = m.decode(text)
    except DecodeError as err:
        await relay.refuse(BadRequest(str(err)), node_id=conn.node_id)
        conn.send_message(m.Error(code="bad_message", message=str(err), fatal=False))
        return
    if conn.role == "device" and isinstance(msg, m.Renew):
        await _renew(relay, conn, msg.token)
        return
    if conn.role != "node":
        conn.send_message(
            m.Error(code="bad_message", message=f"devices may not send {msg.TYPE}", fatal=False)
        )
        return
    if isinstance(msg, m.PairOpen):
        try:
            await relay.pairings.open(
                node_id=conn.node_id,
                pairing_id=msg.pairing_id,
                verifier=msg.verifier,
                ttl_s=msg.ttl_s,
                role=msg.role,
            )
            await relay.store.audit("pairing_opened", node_id=conn.node_id, detail=msg.role)
        except RelayError as err:
            conn.send_message(m.Error(code=err.code, message=err.message, fatal=False))
    elif isinstance(msg, m.PairDecision):
        future = relay.decisions.get(msg.request_id)
        if future is not None and not future.done():
            future.set_result(msg)
        elif future is None and relay.cluster is not None:
            # The device's HTTP request is held by another instance.
            channel = bus.decision_channel(msg.request_id)
            await relay.cluster.publish(channel, m.encode(msg).encode())
    elif isinstance(msg, m.PairPakeReply):
        await code_pairing.deliver(relay, msg)
    elif isinstance(msg, m.RevokeDevice):
        await revoke_device(relay, conn.node_id, msg.device_id)
    elif isinstance(msg, m.Notify):
        refusal = await relay.notifier.from_node(conn.node_id, msg) if relay.notifier else ""
        if refusal:
            conn.send_message(m.Error(code="bad_message", message=refusal, fatal=False))
    else:
        conn.send_message(
            m.Error(code="bad_message", message=f"unexpected {msg.TYPE}", fatal=False)
        )


async def revoke_device(relay: Relay, node_id: str, device_id: str) -> None:
    """Revoke a device's tokens and close its live socket now."""
    device = await relay.store.device(device_id)
    if device is None or device.node_id != node_id:
        await relay.refuse(
            NotPaired("revoke of a device of another Node"), node_id=node_id, device_id=device_id
        )
        return
    await relay.store.revoke_device(device_id)
    await relay.store.audit("device_revoked", node_id=node_id, device_id=device_id)
    reason = "your access was revoked by the owner of this ORA"
    await relay.revocations.device(device_id, m.Revoked(reason=reason))
    if relay.notifier is not None:
        relay.notifier.soon(
            node_id, "device_revoked", f"device_revoked:{device_id}", {"device_id": device_id}
        )


async def _still_valid(relay: Relay, conn: Connection, token: str) -> bool:
    """Is the socket's token still good now that it can be found by a revocation sweep?"""
    try:
        await relay.tokens.grant(token)
    except RelayError as err:
        await relay.refuse(err, node_id=conn.node_id, device_id=conn.peer_id)
        await conn.close(m.Error(code=err.code, message=err.message))
        return False
    return True


async def _renew(relay: Relay, conn: Connection, token: str) -> None:
    """A device hands its socket the access token that replaces the one it opened with."""
    try:
        grant = await relay.tokens.grant(token)
        if grant.device_id != conn.peer_id:
            raise Unauthorized("that access token belongs to another device")
    except RelayError as err:
        await relay.refuse(err, node_id=conn.node_id, device_id=conn.peer_id)
        await conn.close(m.Error(code=err.code, message=err.message))
        return
    conn.family_id = grant.family_id
    conn.set_expiry(grant.expires_at)
    await relay.store.audit("token_renewed", node_id=conn.node_id, device_id=conn.peer_id)
