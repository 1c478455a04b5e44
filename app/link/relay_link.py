"""The Node's outbound connection to the Relay, pairing decisions, and device sessions.

The Node trusts the Relay for nothing but delivery: it decrypts pairing requests with its own
key and checks the one-time secret itself, and every session is a Noise-KK-style handshake
against the device key it recorded at pairing, so a device id the Relay made up gets nowhere.

    offline --connect--> connecting --welcome--> connected --socket lost--> offline (backoff)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from app.core.assistant import TurnRequest
from app.core.events import (
    ApprovalPending,
    PlanUpdate,
    TextDelta,
    ToolFinished,
    ToolStarted,
    TurnCancelled,
    TurnDone,
)
from app.core.runtime import Runtime
from app.errors import PairingRefused
from app.link.approval_view import approval_message, audience, device_item
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
from protocol.errors import ErrorCode
from protocol.peer_link import Backoff, LinkStatus, PeerRefused, ResponderLink
from protocol.version import PROTOCOL_VERSION

_LOGGER = logging.getLogger(__name__)
OFFLINE, CONNECTING, CONNECTED = LinkStatus.OFFLINE, LinkStatus.CONNECTING, LinkStatus.CONNECTED
MAX_BACKOFF_S = 30.0
REVOKE_NOTICE_S = 0.3  # within the second DESIGN.md allows for closing a revoked device


@dataclass
class RelayLink:
    """One Node's presence on the Relay (tries each Relay URL in turn, with backoff and jitter)."""

    runtime: Runtime
    relay_urls: list[str]
    web_url: str = ""
    identity: NodeIdentity = field(init=False)
    registry: DeviceRegistry = field(init=False)
    last_error: str = ""
    _peer: ResponderLink = field(init=False)
    pairing_desk: PairingDesk = field(init=False)
    _listeners: list[Callable[[str], None]] = field(default_factory=list)
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    _runner: asyncio.Task[None] | None = None
    _url_index: int = 0
    _asked_from: dict[str, str] = field(default_factory=dict)  # approval id -> asking device
    confirm_pairing: ConfirmPairing | None = None
    on_paired: Callable[[str, str], None] | None = None  # (device name, role): the tray says so

    def __post_init__(self) -> None:
        self.identity = NodeIdentity.load(self.runtime.secrets)
        self.registry = DeviceRegistry(self.runtime.db)
        self._peer = ResponderLink(
            self, backoff=Backoff(first=0.5, cap=MAX_BACKOFF_S), on_status=self._status_changed
        )
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

    @property
    def status(self) -> LinkStatus:
        return self._peer.status

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
        await self._peer.connected.wait()

    async def open_pairing(
        self, role: str = "owner", ttl_s: int = PAIRING_TTL_S
    ) -> tuple[pairing.PairingInvite, str]:
        """A one-time pairing: the invite, and the URL for the QR code."""
        self._check_role(role)
        if not self._peer.is_connected:
            raise ConnectionError("not connected to the Relay; pairing needs it")
        opened, invite = self.pairing_desk.open_qr(role, ttl_s, self.relay_url)
        self._peer.send_control(opened)
        return invite, invite.to_url(self.web_url or f"{self.relay_url}/app/")

    async def open_code_pairing(self, role: str = "owner", ttl_s: int = PAIRING_TTL_S) -> str:
        """A pairing for a device without a camera: the code the owner types on it."""
        self._check_role(role)
        if not self._peer.is_connected:
            raise ConnectionError("not connected to the Relay; pairing needs it")
        opened, code = self.pairing_desk.open_code(role, ttl_s)
        self._peer.send_control(opened)
        return code

    def _check_role(self, role: str) -> None:
        """Refuse to open a pairing this profile would refuse anyway (a guest on private)."""
        why = _role_refusal(self.runtime.settings.profile, role)
        if why is not None:
            raise PairingRefused(why)

    def devices(self) -> list[PairedDevice]:
        """Paired devices, revoked ones included (shown as such)."""
        return self.registry.all()

    def online_devices(self) -> set[str]:
        """Devices with a session open right now ("online now" in the Devices lists)."""
        return set(self._peer.peers())

    async def rename(self, device_id: str, name: str) -> str:
        """The owner's name for a device; returns the name kept ("" when refused)."""
        return self.registry.rename(device_id, name)

    async def revoke(self, device_id: str) -> None:
        """Forget the device's key here, tell the device inside its session, and have the Relay
        revoke its tokens and close it (a device believes only our word, not the Relay's)."""
        self.registry.revoke(device_id)
        told = self._peer.seal_to(device_id, am.PairingChanged(state="revoked"))
        self._peer.drop(device_id)
        if told:
            # The Relay closes the socket at once on revocation, ahead of frames still queued
            # for the device: give ours a moment to get there first.
            await asyncio.sleep(REVOKE_NOTICE_S)
        self._peer.send_control(m.RevokeDevice(device_id=device_id))

    # -- connection (hooks of the shared core, protocol.peer_link) ---------------------------

    def _status_changed(self, status: LinkStatus) -> None:
        for listener in list(self._listeners):
            listener(status)

    async def _run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=None, connect=10, sock_connect=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            await self._peer.run(session)

    def ws_url(self) -> str:
        return f"{self.relay_url}/v1/ws"

    def hello(self) -> m.Hello:
        return m.Hello(
            version=PROTOCOL_VERSION,
            role=m.PeerKind.NODE,
            token=self.identity.node_token,
            app_version=__version__,
        )

    async def before_connect(self, http: aiohttp.ClientSession) -> None:
        if not self.identity.node_token:
            await self._register(http)

    def refused(self, err: PeerRefused) -> bool:
        if err.error is not None and err.error.code == ErrorCode.UNAUTHORIZED:
            # The Relay's data was reset: register anew, at once.
            self.identity.forget_credential(self.runtime.secrets)
            self.last_error = "credential unknown to the Relay"
            return False
        self.last_error = str(err)
        _LOGGER.error("the Relay refused this Node: %s", err)
        return True

    def connect_failed(self, err: BaseException) -> None:
        self.last_error = f"{type(err).__name__}"
        if isinstance(err, aiohttp.ClientError | OSError | TimeoutError | ConnectionError):
            self._url_index += 1  # fail over to the next Relay, if there is one

    def disconnected(self) -> None:
        pass

    async def _register(self, session: aiohttp.ClientSession) -> None:
        async with session.post(
            f"{self.relay_url}/v1/nodes", json={"public_key": b64u_encode(self.identity.public_key)}
        ) as resp:
            if resp.status != 200:
                # The Relay says why (e.g. too many registrations from this address): show it.
                with contextlib.suppress(aiohttp.ContentTypeError, ValueError):
                    refusal = await resp.json()
                    why = str(refusal.get("message") or f"refused ({resp.status})")
                    raise PeerRefused(m.Error(code=ErrorCode.ERROR, message=why))
                raise ConnectionError(f"registration refused ({resp.status})")
            body = await resp.json()
        self.identity.save_credential(self.runtime.secrets, body["node_id"], body["node_token"])
        _LOGGER.info("registered with the Relay as node %s", body["node_id"])

    def control(self, msg: m.Message) -> None:
        if isinstance(msg, m.PairRequest):
            # A typed-code pairing waits for the owner; the link keeps reading meanwhile.
            self._spawn(self._decide_pairing(msg))
        elif isinstance(msg, m.PairPake):
            self._peer.send_control(self.pairing_desk.answer_pake(msg))
        elif isinstance(msg, m.Error):
            _LOGGER.warning("the Relay says: %s (%s)", msg.message, msg.code)

    # -- pairing ----------------------------------------------------------------------------

    async def _decide_pairing(self, msg: m.PairRequest) -> None:
        decision = await self.pairing_desk.decide(msg, self.confirm_pairing)
        self._peer.send_control(decision)
        if decision.accepted and decision.device_id and self.on_paired is not None:
            device = self.registry.get(decision.device_id)
            self.on_paired(device.name if device else "device", decision.role or "")

    # -- device sessions --------------------------------------------------------------------

    def accept(self, peer_id: str, hs1: bytes) -> tuple[bytes, e2ee.Session] | None:
        device = self.registry.active(peer_id)
        if device is None:
            _LOGGER.warning("handshake from an unknown or revoked device %s dropped", peer_id)
            return None
        return e2ee.respond(self.identity.private_key, device.public_key, hs1)

    def session_opened(self, peer_id: str) -> None:
        device = self.registry.active(peer_id)
        if device is None:
            return
        self.registry.seen(peer_id)
        self._send(
            peer_id,
            am.NodeInfo(
                node_name=self.runtime.settings.node_name, device_id=peer_id, role=device.role
            ),
        )
        for req in self.runtime.broker.pending():
            if audience(req, [peer_id], self.registry):
                self._send(peer_id, self._approval_for(req, device))

    def message(self, peer_id: str, msg: m.Message) -> None:
        device = self.registry.active(peer_id)
        if device is None:
            _LOGGER.warning("message from an unknown or revoked device %s dropped", peer_id)
            return
        self._spawn(self._handle(device, msg))

    def _send(self, device_id: str, msg: m.Message) -> None:
        self._peer.seal_to(device_id, msg)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, device: PairedDevice, msg: m.Message) -> None:
        did = device.device_id
        role = Role(device.role)
        if pairing_refusal(self.runtime.settings.profile, role) is not None:
            # A guest paired before private meant owner-only: it gets the message, not the model.
            self._send(did, am.AppError(code="private_profile", message=PRIVATE_IS_OWNER_ONLY))
            return
        if isinstance(msg, am.Chat):
            user = "owner" if role is Role.OWNER else did
            # Scoped to the device: a device can only name (and cancel) its own turns.
            req = TurnRequest(
                text=msg.text, user_id=user, role=role, channel=did, turn_id=f"{did}:{msg.id}"
            )
            async for event in self.runtime.assistant.turn(req):
                out = _turn_message(msg.id, event)
                if out is not None:
                    self._send(did, out)
        elif isinstance(msg, am.Cancel):
            user = "owner" if role is Role.OWNER else did
            if not self.runtime.assistant.cancel(f"{did}:{msg.id}", user_id=user, role=role):
                self._send(
                    did, am.AppError(code=ErrorCode.NOTHING_TO_CANCEL, message="nothing to cancel")
                )
        elif isinstance(msg, am.ApprovalWithdraw):
            # Any role: a guest withdraws its own request (the broker checks it asked for it).
            try:
                self.runtime.broker.retract(msg.approval_id, channel=did, by=did)
            except ApprovalError as err:
                self._send(did, am.AppError(code=ErrorCode.APPROVAL_REFUSED, message=str(err)))
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
                self._send(did, am.AppError(code=ErrorCode.APPROVAL_REFUSED, message=str(err)))
        elif role is not Role.OWNER:
            self._send(
                did,
                am.AppError(
                    code=ErrorCode.FORBIDDEN, message="only the owner's devices can do that"
                ),
            )
        elif isinstance(msg, am.ListDevices):
            self._send(did, self._devices_message())
        elif isinstance(msg, am.DeviceRevoke):
            await self.revoke(msg.device_id)
            self._send(did, self._devices_message())
        elif isinstance(msg, am.DeviceRename):
            if not await self.rename(msg.device_id, msg.name):
                self._send(did, am.AppError(code=ErrorCode.BAD_REQUEST, message="no such device"))
            self._send(did, self._devices_message())
        else:
            self._send(
                did, am.AppError(code=ErrorCode.UNSUPPORTED, message=f"unexpected {msg.TYPE}")
            )

    def _devices_message(self) -> am.Devices:
        online = self.online_devices()
        return am.Devices(items=[device_item(d, d.device_id in online) for d in self.devices()])

    def _approval_for(self, req: ApprovalRequest, device: PairedDevice) -> m.Message:
        return approval_message(req, self.registry, for_guest=device.role != "owner")

    def _on_approval_event(self, event: ApprovalRequest | Resolution) -> None:
        if isinstance(event, ApprovalRequest):
            if self._peer.is_connected:  # the owner's phones, by Web Push
                self._peer.send_control(approval_notice(self.identity, self.registry.all(), event))
            self._asked_from[event.approval_id] = event.channel
            for device_id in audience(event, self._peer.peers(), self.registry):
                device = self.registry.active(device_id)
                if device is not None:
                    self._send(device_id, self._approval_for(event, device))
            return
        resolved = am.ApprovalResolved(approval_id=event.approval_id, outcome=event.outcome.value)
        # Every device that holds a card for it (the one that asked included) closes it.
        asker = self._asked_from.pop(event.approval_id, "")
        for device_id in self._peer.peers():
            device = self.registry.active(device_id)
            if device is not None and (device.role == "owner" or device_id == asker):
                self._send(device_id, resolved)


def _turn_message(chat_id: str, event: object) -> m.Message | None:
    """What a device is sent for one event of the assistant's turn."""
    if isinstance(event, TextDelta):
        return am.Delta(id=chat_id, text=event.text)
    if isinstance(event, ToolStarted):
        return _activity(chat_id, event.call_id, event.tool, "started", event.risk)
    if isinstance(event, ApprovalPending):  # shown waiting (the id: running once approved)
        return _activity(
            chat_id, event.call_id, event.request.tool, "waiting", event.request.approval_id
        )
    if isinstance(event, ToolFinished):
        return _activity(chat_id, event.call_id, event.tool, event.outcome, event.summary)
    if isinstance(event, PlanUpdate):
        steps = list(event.step_dicts())
        return am.PlanProgress(
            id=chat_id, steps=steps, current=event.current, revision=event.revision
        )
    if isinstance(event, TurnCancelled):
        return am.Cancelled(id=chat_id)
    if isinstance(event, TurnDone):
        return am.Done(id=chat_id, text=event.text)
    return None


def _activity(chat_id: str, call_id: str, tool: str, status: str, detail: str) -> m.Message:
    return am.ToolActivity(id=chat_id, call_id=call_id, tool=tool, status=status, detail=detail)


def _role_refusal(profile: Any, role: str) -> str | None:
    try:
        return pairing_refusal(profile, Role(role))
    except ValueError:
        return f"unknown role {role[:20]!r}"
