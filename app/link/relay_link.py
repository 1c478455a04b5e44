"""The Node's outbound connection to the Relay, pairing decisions, and device sessions.

The Node trusts the Relay for nothing but delivery: it decrypts pairing requests with its own
key and checks the one-time secret itself, and every session is a Noise-KK-style handshake
against the device key it recorded at pairing, so a device id the Relay made up gets nowhere.

    offline --connect--> connecting --welcome--> connected --socket lost--> offline (backoff)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from app.core.assistant import TurnRequest
from app.core.events import (
    PlanUpdate,
    TextDelta,
    ToolFinished,
    ToolStarted,
    TurnCancelled,
    TurnDone,
)
from app.core.runtime import Runtime
from app.errors import PairingRefused
from app.link.devices import DeviceRegistry, PairedDevice
from app.link.identity import NodeIdentity
from app.link.pairing_desk import PAIRING_TTL_S, ConfirmPairing, PairingDesk
from app.link.push_notice import approval_notice
from app.policy.approvals import ApprovalError, ApprovalRequest, Resolution
from app.policy.gate import PRIVATE_IS_OWNER_ONLY, Role, pairing_refusal
from app.version import __version__
from protocol import app_messages as am
from protocol import e2ee, pairing
from protocol import messages as m
from protocol.encoding import b64u_encode
from protocol.errors import CryptoError, DecodeError
from protocol.version import PROTOCOL_VERSION

_LOGGER = logging.getLogger(__name__)
OFFLINE, CONNECTING, CONNECTED = "offline", "connecting", "connected"
MAX_BACKOFF_S = 30.0


@dataclass
class RelayLink:
    """One Node's presence on the Relay (tries each Relay URL in turn, with backoff and jitter)."""

    runtime: Runtime
    relay_urls: list[str]
    web_url: str = ""
    identity: NodeIdentity = field(init=False)
    registry: DeviceRegistry = field(init=False)
    status: str = OFFLINE
    last_error: str = ""
    _ws: aiohttp.ClientWebSocketResponse | None = None
    _sessions: dict[str, e2ee.Session] = field(default_factory=dict)
    pairing_desk: PairingDesk = field(init=False)
    _listeners: list[Callable[[str], None]] = field(default_factory=list)
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    _runner: asyncio.Task[None] | None = None
    _connected: asyncio.Event = field(default_factory=asyncio.Event)
    _url_index: int = 0
    confirm_pairing: ConfirmPairing | None = None

    def __post_init__(self) -> None:
        self.identity = NodeIdentity.load(self.runtime.secrets)
        self.registry = DeviceRegistry(self.runtime.db)
        self.pairing_desk = PairingDesk(
            self.identity,
            self.registry,
            self.runtime.settings.node_name,
            refuse_role=lambda role: _role_refusal(self.runtime.settings.profile, role),
        )
        self.runtime.broker.subscribe(self._on_approval_event)

    # -- public API -------------------------------------------------------------------------

    @property
    def relay_url(self) -> str:
        return self.relay_urls[self._url_index % len(self.relay_urls)].rstrip("/")

    def on_status(self, listener: Callable[[str], None]) -> None:
        """Hear every status change (the tray's icon follows it)."""
        self._listeners.append(listener)

    def start(self) -> None:
        """Connect in the background and stay connected."""
        if self._runner is None:
            self._runner = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Disconnect and stop reconnecting."""
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
            self._runner = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def wait_connected(self) -> None:
        """Wait until the Relay has welcomed us (callers bound it with asyncio.timeout)."""
        await self._connected.wait()

    async def open_pairing(
        self, role: str = "owner", ttl_s: int = PAIRING_TTL_S
    ) -> tuple[pairing.PairingInvite, str]:
        """A one-time pairing: the invite, and the URL for the QR code."""
        self._check_role(role)
        if self._ws is None or self.status != CONNECTED:
            raise ConnectionError("not connected to the Relay; pairing needs it")
        opened, invite = self.pairing_desk.open_qr(role, ttl_s, self.relay_url)
        await self._ws.send_str(m.encode(opened))
        return invite, invite.to_url(self.web_url or f"{self.relay_url}/app/")

    async def open_code_pairing(self, role: str = "owner", ttl_s: int = PAIRING_TTL_S) -> str:
        """A pairing for a device without a camera: the code the owner types on it."""
        self._check_role(role)
        if self._ws is None or self.status != CONNECTED:
            raise ConnectionError("not connected to the Relay; pairing needs it")
        opened, code = self.pairing_desk.open_code(role, ttl_s)
        await self._ws.send_str(m.encode(opened))
        return code

    def _check_role(self, role: str) -> None:
        """Refuse to open a pairing this profile would refuse anyway (a guest on private)."""
        why = _role_refusal(self.runtime.settings.profile, role)
        if why is not None:
            raise PairingRefused(why)

    def devices(self) -> list[PairedDevice]:
        """Paired devices, revoked ones included (shown as such)."""
        return self.registry.all()

    async def revoke(self, device_id: str) -> None:
        """Forget the device's key here and have the Relay revoke its tokens and close it."""
        self.registry.revoke(device_id)
        self._sessions.pop(device_id, None)
        if self._ws is not None and not self._ws.closed:
            await self._ws.send_str(m.encode(m.RevokeDevice(device_id=device_id)))

    # -- connection -------------------------------------------------------------------------

    def _set_status(self, status: str) -> None:
        if status != self.status:
            self.status = status
            for listener in list(self._listeners):
                listener(status)

    async def _run(self) -> None:
        backoff = 0.5
        timeout = aiohttp.ClientTimeout(total=None, connect=10, sock_connect=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                self._set_status(CONNECTING)
                try:
                    await self._session(session)
                    backoff = 0.5
                except (aiohttp.ClientError, OSError, TimeoutError, ConnectionError) as err:
                    self.last_error = f"{type(err).__name__}"
                    self._url_index += 1  # fail over to the next Relay, if there is one
                except _Refused as err:
                    self.last_error = str(err)
                    _LOGGER.error("the Relay refused this Node: %s", err)
                    backoff = MAX_BACKOFF_S
                except Exception as err:  # never let the link die: log and reconnect
                    self.last_error = f"{type(err).__name__}"
                    _LOGGER.exception("relay link failed; reconnecting")
                self._ws = None
                self._sessions.clear()
                self._connected.clear()
                self._set_status(OFFLINE)
                await asyncio.sleep(backoff * (0.5 + random.random()))  # jitter spreads reconnects
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    async def _register(self, session: aiohttp.ClientSession) -> None:
        async with session.post(
            f"{self.relay_url}/v1/nodes", json={"public_key": b64u_encode(self.identity.public_key)}
        ) as resp:
            if resp.status != 200:
                # The Relay says why (e.g. too many registrations from this address): show it.
                with contextlib.suppress(aiohttp.ContentTypeError, ValueError):
                    refusal = await resp.json()
                    raise _Refused(str(refusal.get("message") or f"refused ({resp.status})"))
                raise ConnectionError(f"registration refused ({resp.status})")
            body = await resp.json()
        self.identity.save_credential(self.runtime.secrets, body["node_id"], body["node_token"])
        _LOGGER.info("registered with the Relay as node %s", body["node_id"])

    async def _session(self, session: aiohttp.ClientSession) -> None:
        if not self.identity.node_token:
            await self._register(session)
        async with session.ws_connect(
            f"{self.relay_url}/v1/ws", heartbeat=20, max_msg_size=2 * 1024 * 1024
        ) as ws:
            await ws.send_str(
                m.encode(
                    m.Hello(
                        version=PROTOCOL_VERSION,
                        role="node",
                        token=self.identity.node_token,
                        app_version=__version__,
                    )
                )
            )
            first = await ws.receive(timeout=10)
            if first.type != aiohttp.WSMsgType.TEXT:
                raise ConnectionError("the Relay closed the connection during hello")
            reply = m.decode(first.data)
            if isinstance(reply, m.Error):
                if reply.code == "unauthorized":
                    self.identity.forget_credential(
                        self.runtime.secrets
                    )  # Relay data reset: register anew
                    raise ConnectionError("credential unknown to the Relay")
                raise _Refused(reply.message)
            self._ws = ws
            self._set_status(CONNECTED)
            self._connected.set()
            _LOGGER.info("connected to the Relay at %s", self.relay_url)
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.BINARY:
                    await self._on_frame(msg.data)
                elif msg.type == aiohttp.WSMsgType.TEXT:
                    await self._on_control(msg.data)
                else:
                    break

    async def _on_control(self, text: str) -> None:
        try:
            msg = m.decode(text)
        except DecodeError as err:
            _LOGGER.warning("malformed message from the Relay: %s", err)
            return
        if isinstance(msg, m.PairRequest):
            # A typed-code pairing waits for the owner; the link keeps reading meanwhile.
            self._spawn(self._decide_pairing(msg))
        elif isinstance(msg, m.PairPake):
            await self._send_control(self.pairing_desk.answer_pake(msg))
        elif isinstance(msg, m.Presence):
            if not msg.online:
                self._sessions.pop(msg.peer_id, None)
        elif isinstance(msg, m.Error):
            _LOGGER.warning("the Relay says: %s (%s)", msg.message, msg.code)

    # -- pairing ----------------------------------------------------------------------------

    async def _decide_pairing(self, msg: m.PairRequest) -> None:
        await self._send_control(await self.pairing_desk.decide(msg, self.confirm_pairing))

    async def _send_control(self, msg: m.Message) -> None:
        if self._ws is not None and not self._ws.closed:
            await self._ws.send_str(m.encode(msg))

    # -- device sessions --------------------------------------------------------------------

    async def _on_frame(self, frame: bytes) -> None:
        try:
            _kind, device_id, payload = m.unpack_frame(frame)
        except DecodeError:
            return
        device = self.registry.active(device_id)
        if device is None:
            _LOGGER.warning("frame from an unknown or revoked device %s dropped", device_id)
            return
        if payload[:1] == bytes([e2ee.HS1]):
            try:
                hs2, session = e2ee.respond(self.identity.private_key, device.public_key, payload)
            except CryptoError:
                return
            self._sessions[device_id] = session
            self.registry.seen(device_id)
            await self._send_raw(device_id, hs2)
            await self._send(
                device_id,
                am.NodeInfo(
                    node_name=self.runtime.settings.node_name, device_id=device_id, role=device.role
                ),
            )
            if device.role == "owner":
                for req in self.runtime.broker.pending():
                    await self._send(device_id, _approval_message(req))
            return
        current = self._sessions.get(device_id)
        if current is None:
            return
        try:
            msg = m.decode(current.open(payload))
        except (CryptoError, DecodeError) as err:
            _LOGGER.warning("refused a frame from device %s: %s", device_id, type(err).__name__)
            return
        self._spawn(self._handle(device, msg))

    async def _send_raw(self, device_id: str, payload: bytes) -> None:
        if self._ws is not None and not self._ws.closed:
            await self._ws.send_bytes(m.pack_frame(device_id, payload))

    async def _send(self, device_id: str, msg: m.Message) -> None:
        session = self._sessions.get(device_id)
        if session is not None:
            await self._send_raw(device_id, session.seal(m.encode(msg).encode("utf-8")))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, device: PairedDevice, msg: m.Message) -> None:
        did = device.device_id
        role = Role(device.role)
        if pairing_refusal(self.runtime.settings.profile, role) is not None:
            # A guest paired before private meant owner-only: it gets the message, not the model.
            await self._send(
                did, am.AppError(code="private_profile", message=PRIVATE_IS_OWNER_ONLY)
            )
            return
        if isinstance(msg, am.Chat):
            user = "owner" if role is Role.OWNER else did
            # Scoped to the device: a device can only name (and cancel) its own turns.
            req = TurnRequest(
                text=msg.text, user_id=user, role=role, channel=did, turn_id=f"{did}:{msg.id}"
            )
            async for event in self.runtime.assistant.turn(req):
                if isinstance(event, TextDelta):
                    await self._send(did, am.Delta(id=msg.id, text=event.text))
                elif isinstance(event, ToolStarted):
                    await self._send(
                        did,
                        am.ToolActivity(
                            id=msg.id,
                            call_id=event.call_id,
                            tool=event.tool,
                            status="started",
                            detail=event.risk,
                        ),
                    )
                elif isinstance(event, ToolFinished):
                    await self._send(
                        did,
                        am.ToolActivity(
                            id=msg.id,
                            call_id=event.call_id,
                            tool=event.tool,
                            status=event.outcome,
                            detail=event.summary,
                        ),
                    )
                elif isinstance(event, PlanUpdate):
                    await self._send(
                        did,
                        am.PlanProgress(
                            id=msg.id,
                            steps=list(event.step_dicts()),
                            current=event.current,
                            revision=event.revision,
                        ),
                    )
                elif isinstance(event, TurnCancelled):
                    await self._send(did, am.Cancelled(id=msg.id))
                elif isinstance(event, TurnDone):
                    await self._send(did, am.Done(id=msg.id, text=event.text))
        elif isinstance(msg, am.Cancel):
            user = "owner" if role is Role.OWNER else did
            if not self.runtime.assistant.cancel(f"{did}:{msg.id}", user_id=user, role=role):
                await self._send(
                    did, am.AppError(code="nothing_to_cancel", message="nothing to cancel")
                )
        elif isinstance(msg, am.ApprovalAnswer):
            try:
                self.runtime.broker.answer(
                    msg.approval_id,
                    approve=msg.approve,
                    digest=msg.digest,
                    answered_by=did,
                    answerer_role=role,
                    channel=did,
                )
            except ApprovalError as err:
                await self._send(did, am.AppError(code="approval_refused", message=str(err)))
        elif role is not Role.OWNER:
            await self._send(
                did, am.AppError(code="forbidden", message="only the owner's devices can do that")
            )
        elif isinstance(msg, am.ListDevices):
            await self._send(did, am.Devices(items=[_device_item(d) for d in self.registry.all()]))
        elif isinstance(msg, am.DeviceRevoke):
            await self.revoke(msg.device_id)
            await self._send(did, am.Devices(items=[_device_item(d) for d in self.registry.all()]))
        else:
            await self._send(did, am.AppError(code="unsupported", message=f"unexpected {msg.TYPE}"))

    def _on_approval_event(self, event: ApprovalRequest | Resolution) -> None:
        if isinstance(event, ApprovalRequest):
            out: m.Message = _approval_message(event)
            if self._ws is not None and not self._ws.closed:  # the owner's phones, by Web Push
                notice = approval_notice(self.identity, self.registry.all(), event)
                self._spawn(self._ws.send_str(m.encode(notice)))
        else:
            out = am.ApprovalResolved(approval_id=event.approval_id, outcome=event.outcome.value)
        for device_id in list(self._sessions):
            device = self.registry.active(device_id)
            if device is not None and device.role == "owner":
                self._spawn(self._send(device_id, out))


class _Refused(Exception):
    """The Relay refused this Node with a reason (e.g. it must update)."""


def _approval_message(req: ApprovalRequest) -> am.ApprovalRequestMessage:
    return am.ApprovalRequestMessage(
        approval_id=req.approval_id,
        tool=req.tool,
        arguments=json.loads(json.dumps(req.arguments)),
        digest=req.digest,
        risk=req.risk.name,
        requester=req.requester,
        channel=req.channel,
        reason=req.reason,
        expires_at=req.expires_at,
    )


def _device_item(d: PairedDevice) -> dict[str, Any]:
    return {
        "device_id": d.device_id,
        "name": d.name,
        "role": d.role,
        "paired_at": d.paired_at,
        "last_seen": d.last_seen,
        "revoked": d.revoked,
    }


def _role_refusal(profile: Any, role: str) -> str | None:
    try:
        return pairing_refusal(profile, Role(role))
    except ValueError:
        return f"unknown role {role[:20]!r}"
