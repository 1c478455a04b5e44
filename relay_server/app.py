"""The Relay's aiohttp application: HTTP endpoints, the WebSocket, routing, metadata audit.

Binary frames are routed by their header alone (protocol.messages.unpack_frame); the payload is
end-to-end encrypted between a device and its Node and is never parsed, stored or logged here.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import logging
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import prometheus_client as prom
from aiohttp import WSMsgType, web

from protocol import cloud, e2ee
from protocol import errors as codes
from protocol import messages as m
from protocol.encoding import b64u_decode
from protocol.errors import DecodeError, FrameError, IncompatibleVersion
from protocol.tokens import new_token, token_hash
from protocol.version import PROTOCOL_VERSION, check_peer_version
from relay_server import backup_store
from relay_server.billing import Billing, month_of, to_usd
from relay_server.cloud_routing import CloudRouter
from relay_server.cluster import RedisCluster
from relay_server.errors import (
    BadRequest,
    CloudNotAllowed,
    CloudUnavailable,
    NodeOffline,
    NotPaired,
    RelayError,
    Unauthorized,
    UpdateRequired,
)
from relay_server.hub import Connection, Hub
from relay_server.pairing_service import PairingService
from relay_server.settings import RelaySettings
from relay_server.storage import RelayStore, SqliteStore
from relay_server.storage_pg import PostgresStore
from relay_server.token_service import TokenService

_LOGGER = logging.getLogger(__name__)


@dataclass
class Metrics:
    """Prometheus metrics of one Relay app (own registry, so tests can run several)."""

    registry: prom.CollectorRegistry = field(default_factory=prom.CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.connections = prom.Gauge(
            "ora_relay_connections", "Live WebSockets", ["role"], registry=r
        )
        self.frames = prom.Counter(
            "ora_relay_frames_total", "Routed frames", ["direction"], registry=r
        )
        self.frame_bytes = prom.Counter("ora_relay_frame_bytes_total", "Routed bytes", registry=r)
        self.refusals = prom.Counter(
            "ora_relay_refusals_total", "Refused requests", ["code"], registry=r
        )
        self.pairings = prom.Counter(
            "ora_relay_pairings_total", "Pairing outcomes", ["outcome"], registry=r
        )
        # Bound once: looking a label up on every frame costs more than the routing itself.
        self.frames_to_node = self.frames.labels("to_node")
        self.frames_to_device = self.frames.labels("to_device")
        self.frames_to_cloud = self.frames.labels("to_cloud")
        self.frames_from_cloud = self.frames.labels("from_cloud")
        self.cloud_claims = prom.Counter(
            "ora_relay_cloud_claims_total", "Cloud claims", ["outcome"], registry=r
        )
        self.cloud_charged = prom.Counter(
            "ora_relay_cloud_charged_usd_total", "Cloud usage charged (USD)", registry=r
        )
        self.webhooks = prom.Counter(
            "ora_relay_webhooks_total", "Payment webhooks", ["outcome"], registry=r
        )


@dataclass
class Relay:
    """The Relay's services, shared by the handlers."""

    settings: RelaySettings
    store: RelayStore
    tokens: TokenService
    pairings: PairingService
    billing: Billing
    hub: Hub = field(default_factory=Hub)
    cloud: CloudRouter = field(default_factory=CloudRouter)
    metrics: Metrics = field(default_factory=Metrics)
    decisions: dict[str, asyncio.Future[m.PairDecision]] = field(default_factory=dict)
    cluster: RedisCluster | None = None
    _node_watch: dict[str, int] = field(default_factory=dict)  # node -> local devices watching

    async def node_is_online(self, node_id: str) -> bool:
        """Connected here, or (in a cluster) to another instance."""
        if self.hub.node_online(node_id):
            return True
        return self.cluster is not None and await self.cluster.is_online(node_id)

    async def to_peer(self, peer_id: str, message: m.Message) -> bool:
        """Deliver a control message to a peer wherever it is connected."""
        local = self.hub.nodes.get(peer_id) or self.hub.devices.get(peer_id)
        if local is not None:
            return local.send_message(message)
        if self.cluster is None:
            return False
        return (
            await self.cluster.publish(_peer_channel(peer_id), b"T" + m.encode(message).encode())
            > 0
        )

    async def announce_node(self, node_id: str, online: bool) -> None:
        """Tell the Node's devices, here and on other instances, that it came or went."""
        presence = m.Presence(peer_id=node_id, online=online)
        for device in self.hub.devices_of(node_id):
            device.send_message(presence)
        if self.cluster is not None:
            if online:
                await self.cluster.node_online(node_id)
            else:
                await self.cluster.node_offline(node_id)
            body = self.cluster.instance.encode() + m.encode(presence).encode()
            await self.cluster.publish(f"n:{node_id}", body)

    async def offer_workers(self) -> None:
        """Tell other instances how many workers are here and how busy (their devices pick)."""
        if self.cluster is not None:
            await self.cluster.workers_here(len(self.cloud.workers), len(self.cloud.bindings))

    async def end_cloud_session(self, device_id: str) -> None:
        """Forget a device's Cloud session here and on the instance whose worker holds it."""
        had_local = self.cloud.worker_of(device_id) is not None
        self.cloud.unbind(device_id)
        elsewhere = self.cloud.remote.pop(device_id, None)
        if self.cluster is None:
            return
        if elsewhere is not None:
            body = self.cluster.instance.encode() + device_id.encode()
            await self.cluster.publish(f"c:{elsewhere}", b"U" + body)
        if had_local:
            await self.offer_workers()

    async def joined(self, conn: Connection) -> None:
        """Listen for deliveries to a newly attached peer from other instances."""
        if self.cluster is None:
            return
        await self.cluster.subscribe(_peer_channel(conn.peer_id), _deliverer(self, conn))
        if conn.role == "device":
            watchers = self._node_watch.get(conn.node_id, 0)
            self._node_watch[conn.node_id] = watchers + 1
            if watchers == 0:
                await self.cluster.subscribe(f"n:{conn.node_id}", _node_events(self, conn.node_id))

    async def left(self, conn: Connection) -> None:
        if self.cluster is None:
            return
        await self.cluster.unsubscribe(_peer_channel(conn.peer_id))
        if conn.role == "device":
            watchers = self._node_watch.get(conn.node_id, 1) - 1
            if watchers <= 0:
                self._node_watch.pop(conn.node_id, None)
                await self.cluster.unsubscribe(f"n:{conn.node_id}")
            else:
                self._node_watch[conn.node_id] = watchers

    async def refuse(
        self, err: RelayError, *, source: str = "", node_id: str = "", device_id: str = ""
    ) -> None:
        """Count and audit a refusal (metadata only)."""
        self.metrics.refusals.labels(err.code).inc()
        await self.store.audit(
            f"refused:{err.code}",
            node_id=node_id,
            device_id=device_id,
            source=source,
            detail=err.message,
        )


RELAY = web.AppKey("relay", Relay)


def _peer_channel(peer_id: str) -> str:
    return f"p:{peer_id}"


def _deliverer(relay: Relay, conn: Connection) -> Callable[[bytes], Awaitable[None]]:
    """What another instance publishes for a peer connected here."""

    async def deliver(data: bytes) -> None:
        tag, body = data[:1], data[1:]
        if tag == b"F":
            conn.send(body)
        elif tag == b"T":
            conn.send(body.decode("utf-8"))
        elif tag == b"R":
            await conn.close(m.Revoked(reason=body.decode("utf-8")))

    return deliver


def _node_events(relay: Relay, node_id: str) -> Callable[[bytes], Awaitable[None]]:
    """A Node's presence, announced by the instance it is connected to."""

    async def on_event(data: bytes) -> None:
        assert relay.cluster is not None
        origin, body = data[:32].decode(), data[32:]
        if origin == relay.cluster.instance:
            return  # this instance already told its own devices
        for device in relay.hub.devices_of(node_id):
            device.send(body.decode("utf-8"))

    return on_event


def _source(request: web.Request) -> str:
    return request.remote or "?"


def _error_response(err: RelayError) -> web.Response:
    return web.json_response({"error": err.code, "message": err.message}, status=err.status)


async def _json_body(request: web.Request, *fields: str) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > 16 * 1024:
        raise BadRequest("request body too large")
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadRequest("body must be JSON") from None
    if not isinstance(body, dict) or not all(isinstance(body.get(f), str) for f in fields):
        raise BadRequest(f"body must be an object with string fields {list(fields)}")
    return body


def _allowed_origin(request: web.Request, relay: Relay) -> bool:
    """Browsers send Origin; it must be the Relay itself or a configured origin."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser (the Node, a native client): nothing to hijack
    own = f"{request.scheme}://{request.host}"
    return origin == own or origin in relay.settings.public_origins


# -- HTTP ---------------------------------------------------------------------------------


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "version": PROTOCOL_VERSION})


async def readyz(request: web.Request) -> web.Response:
    relay = request.app[RELAY]
    ready = await relay.store.ping() and (relay.cluster is None or await relay.cluster.ping())
    return web.json_response({"ready": ready}, status=200 if ready else 503)


async def metrics(request: web.Request) -> web.Response:
    data = prom.generate_latest(request.app[RELAY].metrics.registry)
    return web.Response(body=data, headers={"Content-Type": prom.CONTENT_TYPE_LATEST})


async def register_node(request: web.Request) -> web.Response:
    """A Node's first start: it gets an id and a credential (stored here only as a hash)."""
    relay = request.app[RELAY]
    try:
        body = await _json_body(request, "public_key")
        b64u_decode(body["public_key"], length=32)
    except (RelayError, DecodeError) as err:
        return _error_response(
            err if isinstance(err, RelayError) else BadRequest("public_key must be 32 bytes")
        )
    node_id = str(uuid.uuid4())
    credential = new_token("nd")
    await relay.store.add_node(node_id, token_hash(credential), body["public_key"])
    await relay.billing.account(node_id)  # the owner's account, with the configured plan
    await relay.store.audit("node_registered", node_id=node_id, source=_source(request))
    return web.json_response({"node_id": node_id, "node_token": credential})


async def pair(request: web.Request) -> web.Response:
    """A device's pairing request: proof checked here, the sealed request decided by the Node."""
    relay = request.app[RELAY]
    source = _source(request)
    node_id = ""
    try:
        if not _allowed_origin(request, relay):
            raise Unauthorized("this page's origin may not pair with this Relay")
        body = await _json_body(request, "pairing_id", "proof", "sealed")
        node_id, role = await relay.pairings.claim(
            pairing_id=body["pairing_id"], proof=body["proof"], source=source
        )
        try:
            await relay.billing.require_active(node_id)  # pairing is part of the Relay plan
        except RelayError:
            await relay.store.set_pairing_state(body["pairing_id"], "open")  # usable once paid
            raise
        request_id = secrets.token_urlsafe(12)
        future: asyncio.Future[m.PairDecision] = asyncio.get_running_loop().create_future()
        relay.decisions[request_id] = future
        if relay.cluster is not None:
            await relay.cluster.subscribe(f"d:{request_id}", _decision_receiver(future))
        try:
            request_msg = m.PairRequest(
                pairing_id=body["pairing_id"], request_id=request_id, sealed=body["sealed"]
            )
            if not await relay.to_peer(node_id, request_msg):
                await relay.store.set_pairing_state(body["pairing_id"], "open")  # owner may retry
                raise NodeOffline("your PC is offline: start ORA on it and try again")
            decision = await asyncio.wait_for(future, relay.settings.pair_decision_timeout_s)
        except TimeoutError:
            await relay.store.set_pairing_state(body["pairing_id"], "expired")
            raise NodeOffline("your PC did not answer the pairing in time") from None
        finally:
            relay.decisions.pop(request_id, None)
            if relay.cluster is not None:
                await relay.cluster.unsubscribe(f"d:{request_id}")
        if not decision.accepted:
            await relay.store.set_pairing_state(body["pairing_id"], "refused")
            relay.metrics.pairings.labels("refused").inc()
            await relay.store.audit(
                "pairing_refused", node_id=node_id, source=source, detail=decision.reason[:200]
            )
            return web.json_response(
                {
                    "error": "pairing_refused",
                    "message": decision.reason or "your PC refused the pairing",
                },
                status=403,
            )
        device_id = str(uuid.UUID(decision.device_id))
        await relay.store.add_device(device_id, node_id, role)
        issued = await relay.tokens.issue(device_id)
        await relay.store.set_pairing_state(body["pairing_id"], "used")
        relay.metrics.pairings.labels("paired").inc()
        await relay.store.audit(
            "pairing_succeeded", node_id=node_id, device_id=device_id, source=source, detail=role
        )
        await relay.store.audit("token_issued", node_id=node_id, device_id=device_id, source=source)
        return web.json_response(
            {
                "device_id": device_id,
                "node_id": node_id,
                "role": role,
                "access_token": issued.access_token,
                "refresh_token": issued.refresh_token,
                "expires_in": issued.expires_in,
                "answer": decision.answer,
            }
        )
    except RelayError as err:
        relay.metrics.pairings.labels("failed").inc()
        await relay.refuse(err, source=source, node_id=node_id)
        await relay.store.audit("pairing_failed", node_id=node_id, source=source, detail=err.code)
        return _error_response(err)
    except ValueError:
        bad = BadRequest("the Node answered with an invalid device id")
        await relay.refuse(bad, source=source, node_id=node_id)
        return _error_response(bad)


def _decision_receiver(
    future: asyncio.Future[m.PairDecision],
) -> Callable[[bytes], Awaitable[None]]:
    async def receive(data: bytes) -> None:
        decision = m.decode_as(data, m.PairDecision)
        if not future.done():
            future.set_result(decision)

    return receive


async def pairing_node(request: web.Request) -> web.Response:
    """Typed-code pairing: the Node's public key, which the device trusts only after the owner
    has compared the verification code shown on both screens."""
    relay = request.app[RELAY]
    try:
        node_id = await relay.pairings.lookup(
            pairing_id=request.match_info["pairing_id"], source=_source(request)
        )
        public_key = await relay.store.node_public_key(node_id)
        if public_key is None:
            raise NodeOffline("this PC is not registered any more")
    except RelayError as err:
        await relay.refuse(err, source=_source(request))
        return _error_response(err)
    return web.json_response({"node_id": node_id, "node_public_key": public_key})


async def refresh(request: web.Request) -> web.Response:
    """Rotate a refresh token; a reused one revokes the device's whole token family."""
    relay = request.app[RELAY]
    try:
        body = await _json_body(request, "refresh_token")
        device_id, issued = await relay.tokens.rotate(body["refresh_token"])
    except RelayError as err:
        await relay.refuse(err, source=_source(request))
        if err.code == "refresh_reused":
            await relay.store.audit(
                "token_family_revoked", source=_source(request), detail="refresh token reuse"
            )
        return _error_response(err)
    await relay.store.audit("token_rotated", device_id=device_id, source=_source(request))
    return web.json_response(
        {
            "access_token": issued.access_token,
            "refresh_token": issued.refresh_token,
            "expires_in": issued.expires_in,
        }
    )


# -- WebSocket ----------------------------------------------------------------------------


async def websocket(request: web.Request) -> web.StreamResponse:
    """One peer: Hello first, then control messages (text) and routed frames (binary)."""
    relay = request.app[RELAY]
    source = _source(request)
    ws = web.WebSocketResponse(
        heartbeat=relay.settings.heartbeat_s, max_msg_size=relay.settings.max_frame_bytes
    )
    if not _allowed_origin(request, relay):
        # Cross-site WebSocket hijacking: a page elsewhere must not ride a browser's session.
        origin = request.headers.get("Origin", "")[:100]
        await relay.refuse(Unauthorized(f"foreign origin {origin}"), source=source)
        return web.Response(status=403, text="origin not allowed")
    await ws.prepare(request)
    conn = await _hello(ws, relay, source)
    if conn is None:
        return ws
    relay.metrics.connections.labels(conn.role).inc()
    if conn.role == "cloud":
        await _serve_worker(relay, conn, ws, source)
        return ws
    await relay.store.audit(
        "connected",
        node_id=conn.node_id,
        device_id=conn.peer_id if conn.role == "device" else "",
        source=source,
        detail=conn.role,
    )
    await relay.hub.attach(conn)
    await relay.joined(conn)
    started = time.monotonic()
    try:
        if conn.role == "node":
            for device in relay.hub.devices_of(conn.node_id):
                conn.send_message(m.Presence(peer_id=device.peer_id, online=True))
            await relay.announce_node(conn.node_id, True)
        else:
            online = await relay.node_is_online(conn.node_id)
            conn.send_message(m.Presence(peer_id=conn.node_id, online=online))
            await relay.to_peer(conn.node_id, m.Presence(peer_id=conn.peer_id, online=True))
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                await _route(relay, conn, msg.data)
            elif msg.type == WSMsgType.TEXT:
                await _control(relay, conn, msg.data)
            elif msg.type == WSMsgType.ERROR:
                break
    finally:
        if conn.role == "device":
            await relay.end_cloud_session(conn.peer_id)
        current = relay.hub.detach(conn)
        if current:
            await relay.left(conn)
        relay.metrics.connections.labels(conn.role).dec()
        await relay.store.audit(
            "disconnected",
            node_id=conn.node_id,
            device_id=conn.peer_id if conn.role == "device" else "",
            source=source,
            detail=json.dumps(
                {
                    "in": conn.bytes_in,
                    "out": conn.bytes_out,
                    "s": round(time.monotonic() - started, 3),
                    "close": ws.close_code,
                }
            ),
        )
        if current and conn.role == "node":
            await relay.announce_node(conn.node_id, False)
        elif current:
            await relay.to_peer(conn.node_id, m.Presence(peer_id=conn.peer_id, online=False))
    return ws


async def _hello(ws: web.WebSocketResponse, relay: Relay, source: str) -> Connection | None:
    """Authenticate the first message; on any failure say why and close."""
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
        if hello.role == "node":
            if hello.app_version in relay.settings.insecure_node_versions:
                raise UpdateRequired(
                    f"ORA {hello.app_version} has a security problem: update ORA on your PC now"
                )
            found = await relay.store.node_by_credential(token_hash(hello.token))
            if found is None:
                raise Unauthorized("unknown Node credential")
            node_id = found[0]
            conn = Connection(
                ws=ws,
                role="node",
                peer_id=node_id,
                node_id=node_id,
                queue_frames=relay.settings.send_queue_frames,
            )
        elif hello.role == "device":
            device_id = await relay.tokens.authenticate(hello.token)
            device = await relay.store.device(device_id)
            assert device is not None  # authenticate checked it exists and is not revoked
            # Remote access is what the monthly plan pays for: refuse it, saying why.
            await relay.billing.require_active(device[0])
            conn = Connection(
                ws=ws,
                role="device",
                peer_id=device_id,
                node_id=device[0],
                queue_frames=relay.settings.send_queue_frames,
            )
        else:
            expected = relay.settings.cloud_token_hash
            if not expected or not hmac.compare_digest(
                token_hash(hello.token).encode(), expected.encode()
            ):
                raise Unauthorized("unknown Cloud worker credential")
            worker_id = str(uuid.uuid4())
            conn = Connection(
                ws=ws,
                role="cloud",
                peer_id=worker_id,
                node_id=worker_id,
                queue_frames=relay.settings.send_queue_frames,
            )
    except (DecodeError, RelayError) as err:
        rel = err if isinstance(err, RelayError) else BadRequest(f"bad hello: {err}")
        await relay.refuse(rel, source=source)
        await ws.send_str(m.encode(m.Error(code=rel.code, message=rel.message)))
        await ws.close(code=4001, message=rel.code.encode())
        return None
    await ws.send_str(
        m.encode(m.Welcome(version=PROTOCOL_VERSION, peer_id=conn.peer_id, server_time=time.time()))
    )
    return conn


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
            await _to_cloud(relay, conn, frame)
            return
        if peer != conn.node_raw:
            refusal = NotPaired("this device is not paired with that Node")
            await relay.refuse(refusal, node_id=str(uuid.UUID(bytes=peer)), device_id=conn.peer_id)
            conn.send_message(m.Error(code=refusal.code, message=refusal.message, fatal=False))
            return
        target = relay.hub.nodes_raw.get(peer)
        counter = relay.metrics.frames_to_node
    else:
        target = relay.hub.devices_raw.get(peer)
        if target is None and relay.cluster is not None:
            # Only to this Node's own devices, even when they are on another instance.
            owner = await relay.store.device(str(uuid.UUID(bytes=peer)))
            if owner is None or owner[0] != conn.node_id:
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
    out = frame[:1] + conn.peer_raw + frame[m.FRAME_HEADER_SIZE :]
    if target is None:
        peer_id = str(uuid.UUID(bytes=peer))
        # Another instance may hold the peer; nobody listening means it is offline.
        if (
            relay.cluster is None
            or await relay.cluster.publish(_peer_channel(peer_id), b"F" + out) == 0
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
            await relay.cluster.publish(f"d:{msg.request_id}", m.encode(msg).encode())
    elif isinstance(msg, m.RevokeDevice):
        await revoke_device(relay, conn.node_id, msg.device_id)
    else:
        conn.send_message(
            m.Error(code="bad_message", message=f"unexpected {msg.TYPE}", fatal=False)
        )


async def revoke_device(relay: Relay, node_id: str, device_id: str) -> None:
    """Revoke a device's tokens and close its live socket now."""
    device = await relay.store.device(device_id)
    if device is None or device[0] != node_id:
        await relay.refuse(
            NotPaired("revoke of a device of another Node"), node_id=node_id, device_id=device_id
        )
        return
    await relay.store.revoke_device(device_id)
    await relay.store.audit("device_revoked", node_id=node_id, device_id=device_id)
    reason = "your access was revoked by the owner of this ORA"
    live = relay.hub.devices.get(device_id)
    if live is not None:
        await live.close(m.Revoked(reason=reason))
    elif relay.cluster is not None:
        await relay.cluster.publish(_peer_channel(device_id), b"R" + reason.encode())


# -- app ------------------------------------------------------------------------------------


@web.middleware
async def security_headers(request: web.Request, handler: Any) -> web.StreamResponse:
    resp: web.StreamResponse = await handler(request)
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.path.startswith("/app"):
        resp.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; "
            "style-src 'self'; frame-ancestors 'none'",
        )
    return resp


def create_app(settings: RelaySettings) -> web.Application:
    """The Relay application."""
    app = web.Application(middlewares=[security_headers], client_max_size=64 * 1024)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        store: RelayStore
        if settings.database_url:
            store = await PostgresStore.connect(settings.database_url)
        else:
            store = SqliteStore(settings.db_path)
        cluster = (
            RedisCluster(settings.redis_url, settings.redis_prefix) if settings.redis_url else None
        )
        if cluster is not None:
            await cluster.start()
        app[RELAY] = relay = Relay(
            settings=settings,
            store=store,
            tokens=TokenService(store, settings.access_ttl_s, settings.refresh_ttl_s),
            billing=Billing(store, settings),
            pairings=PairingService(
                store,
                max_ttl_s=settings.pairing_max_ttl_s,
                max_attempts=settings.pairing_max_attempts,
                ip_per_minute=settings.ip_attempts_per_minute,
            ),
            cluster=cluster,
        )
        if cluster is not None:
            await cluster.subscribe(f"c:{cluster.instance}", _cloud_from_elsewhere(relay))
        yield
        if cluster is not None:
            await cluster.close()
        await store.close()

    async def close_sockets(app: web.Application) -> None:
        # Open WebSockets would hold shutdown up; tell every peer to reconnect and close them.
        relay = app[RELAY]
        peers = [*relay.hub.nodes.values(), *relay.hub.devices.values()]
        for conn in [*peers, *relay.cloud.workers.values()]:
            await conn.close(
                m.Error(code="relay_restarting", message="the Relay is restarting; reconnect"),
                code=1001,
            )

    app.cleanup_ctx.append(lifecycle)
    app.on_shutdown.append(close_sockets)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_post("/v1/nodes", register_node)
    app.router.add_post("/v1/pair", pair)
    app.router.add_get("/v1/pair/{pairing_id}/node", pairing_node)
    app.router.add_post("/v1/token/refresh", refresh)
    app.router.add_get("/v1/ws", websocket)
    app.router.add_get("/v1/cloud/key", cloud_key)
    app.router.add_post("/v1/billing/webhook", billing_webhook)
    app.router.add_get("/v1/accounts/{account_id}/statement", statement)
    backup_store.setup(
        app,
        backup_store.BackupStore(settings.backup_root, settings.backup_quota_bytes),
        functools.partial(_node_account, app),
    )
    if settings.web_dir.is_dir():
        index = settings.web_dir / "index.html"

        async def web_client(request: web.Request) -> web.FileResponse:
            return web.FileResponse(index, headers={"Cache-Control": "no-cache"})

        app.router.add_get("/app/", web_client)
        app.router.add_static("/app/", settings.web_dir, show_index=False)
    return app


async def _node_account(app: web.Application, token: str) -> str | None:
    found = await app[RELAY].store.node_by_credential(token_hash(token))
    return None if found is None else found[0]


# -- Cloud workers --------------------------------------------------------------------------


async def _serve_worker(
    relay: Relay, conn: Connection, ws: web.WebSocketResponse, source: str
) -> None:
    """A Cloud worker's connection: sessions' frames to devices, claims and usage to the ledger."""
    relay.cloud.add(conn)
    await relay.offer_workers()
    await relay.store.audit("connected", source=source, detail="cloud")
    try:
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                await _from_cloud(relay, conn, msg.data)
            elif msg.type == WSMsgType.TEXT:
                await _cloud_control(relay, conn, msg.data)
            elif msg.type == WSMsgType.ERROR:
                break
    finally:
        relay.metrics.connections.labels("cloud").dec()
        gone = m.Error(
            code=codes.CLOUD_UNAVAILABLE,
            message="the Cloud worker went away: send your request again",
            fatal=False,
        )
        for device_id in relay.cloud.remove(conn):
            await relay.to_peer(device_id, gone)  # the device may be on another instance
        await relay.offer_workers()
        await relay.store.audit("disconnected", source=source, detail="cloud")


async def _to_cloud(relay: Relay, conn: Connection, frame: bytes) -> None:
    """A device's frame for the Cloud: a handshake start picks a worker, the rest follow it.

    A worker here is preferred; without one, a worker on another instance (through Redis).
    """
    payload = frame[m.FRAME_HEADER_SIZE :]
    elsewhere: str | None = None
    if payload[:1] == bytes([e2ee.HS1]):
        # Checked here as well as at the claim, so a guest cannot even open a Cloud session.
        device = await relay.store.device(conn.peer_id)
        if device is None or device[1] != "owner":
            refusal: RelayError = CloudNotAllowed(
                "only the owner's devices may send requests to the paid Cloud"
            )
            await relay.refuse(refusal, node_id=conn.node_id, device_id=conn.peer_id)
            conn.send_message(m.Error(code=refusal.code, message=refusal.message, fatal=False))
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
        body = relay.cluster.instance.encode() + out
        if await relay.cluster.publish(f"c:{elsewhere}", b"F" + body) > 0:
            relay.metrics.frames_to_cloud.inc()
            return
        relay.cloud.remote.pop(conn.peer_id, None)
    if worker is None:
        refusal = CloudUnavailable("the Cloud is not available right now: try again later")
        await relay.refuse(refusal, node_id=conn.node_id, device_id=conn.peer_id)
        conn.send_message(m.Error(code=refusal.code, message=refusal.message, fatal=False))
        return
    if worker.send(out):
        relay.metrics.frames_to_cloud.inc()


def _cloud_from_elsewhere(relay: Relay) -> Callable[[bytes], Awaitable[None]]:
    """Cloud frames of devices on other instances, for the workers here.

    The device's instance checked the device (an owner's, on HS1) before publishing; a session
    is bound here like a local one, so `_from_cloud`'s rule holds for it unchanged.
    """

    async def deliver(data: bytes) -> None:
        tag, origin, body = data[:1], data[1:33].decode(), data[33:]
        if tag == b"U":
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
            refusal = CloudUnavailable("the Cloud is not available right now: try again later")
            await relay.to_peer(
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
        delivered = await relay.cluster.publish(_peer_channel(device_id), b"F" + out) > 0
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
    """The Cloud's public key, which clients pin, and whether a worker is reachable from here."""
    relay = request.app[RELAY]
    if not relay.settings.cloud_public_key:
        return _error_response(CloudUnavailable("this Relay offers no Cloud execution"))
    available = bool(relay.cloud.workers) or (
        relay.cluster is not None and await relay.cluster.workers_elsewhere() is not None
    )
    return web.json_response(
        {
            "public_key": relay.settings.cloud_public_key,
            "peer_id": cloud.CLOUD_PEER_ID,
            "available": available,
        }
    )


# -- billing --------------------------------------------------------------------------------


async def billing_webhook(request: web.Request) -> web.Response:
    """The payment provider's signed subscription events."""
    relay = request.app[RELAY]
    raw = await request.read()
    try:
        account_id, status = await relay.billing.webhook(
            raw, request.headers.get("Stripe-Signature", ""), time.time()
        )
    except RelayError as err:
        relay.metrics.webhooks.labels("refused").inc()
        await relay.refuse(err, source=_source(request))
        return _error_response(err)
    relay.metrics.webhooks.labels("applied").inc()
    await relay.store.audit("subscription", node_id=account_id, detail=status)
    if status != "active":
        # Remote access stops now, not at the devices' next reconnect.
        for device in relay.hub.devices_of(account_id):
            await device.close(
                m.Error(
                    code=codes.SUBSCRIPTION_INACTIVE,
                    message=f"your ORA subscription is {status.replace('_', ' ')}: "
                    "renew it to use ORA remotely",
                )
            )
    return web.json_response({"received": True, "account_id": account_id, "status": status})


async def statement(request: web.Request) -> web.Response:
    """An account's monthly statement, for its owner (an owner device's token or the Node's)."""
    relay = request.app[RELAY]
    account_id = request.match_info["account_id"]
    month = request.query.get("month") or month_of(time.time())
    auth = request.headers.get("Authorization", "")
    token = auth.removeprefix("Bearer ").strip()
    try:
        if len(month) != 7 or month[4] != "-" or not (month[:4] + month[5:]).isdigit():
            raise BadRequest("month must be YYYY-MM")
        if token.startswith("ora_nd_"):
            found = await relay.store.node_by_credential(token_hash(token))
            owner = found is not None and found[0] == account_id
        else:
            device_id = await relay.tokens.authenticate(token)
            device = await relay.store.device(device_id)
            owner = device is not None and device[0] == account_id and device[1] == "owner"
        if not owner:
            raise Unauthorized("only the account's owner may read its statement")
    except RelayError as err:
        await relay.refuse(err, source=_source(request), node_id=account_id)
        return _error_response(err)
    return web.json_response(await relay.billing.statement(account_id, month))
