"""One peer-session core for the responders on the Relay: the Node's link and a Cloud worker.

Both keep one outbound WebSocket to the Relay and answer end-to-end sessions that devices start.
This module holds everything they share; what differs (the credential, what a refusal means,
which device keys are accepted, what a message does) comes from a `ResponderHooks` object.

    offline --connect--> connecting --welcome--> connected --socket lost--> offline (backoff)

Rules kept here, once for both:
- Reconnects wait `Backoff`: doubling from `first` up to `cap`, each wait drawn from
  [0.5, 1.5) x the step, so peers that lost the same Relay do not all come back at once.
- Single writer: every outgoing frame is sealed and queued in one synchronous step and one
  writer task sends the queue in order, so sealed counters reach the wire in the order they
  were sealed (the receiver refuses anything else) however many tasks send.
- A session is replaced only when the new one is confirmed. HS1 makes a *pending* session; the
  current one keeps working until the initiator proves it holds the new keys with an
  authentic frame under them (its CONFIRM: an empty DATA frame, counter 0, right after HS2).
  A replayed or forged HS1 therefore costs the live session nothing.
- A refused frame is never silent: the responder tells the initiator, inside the current
  session when there is one (`am.Resync`, sealed), or with a bare RESYNC frame when there is
  none (it carries nothing and can only prompt a new handshake, which a Relay could cause
  anyway by closing the socket). The initiator then shows "reconnecting", marks what was not
  delivered and starts a new handshake.
- A chat that is opened is acknowledged at once (`am.Received`), so the device can tell
  delivered from not delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import aiohttp

from protocol import app_messages as am
from protocol import e2ee
from protocol import messages as m
from protocol.errors import CryptoError, DecodeError, ErrorCode, IncompatibleVersion
from protocol.version import check_relay_version

_LOGGER = logging.getLogger(__name__)
HELLO_TIMEOUT_S = 10.0
HEARTBEAT_S = 20.0
REFUSAL_INTERVAL_S = 1.0  # see ResponderLink._refuse


class LinkStatus(StrEnum):
    """Where a peer's connection to the Relay stands."""

    OFFLINE = "offline"
    CONNECTING = "connecting"
    CONNECTED = "connected"


class Backoff:
    """Doubling reconnect delays with jitter: step * uniform[0.5, 1.5), the step capped."""

    def __init__(self, first: float, cap: float) -> None:
        self.first = first
        self.cap = cap
        self._step = first

    def reset(self) -> None:
        """The connection worked: start again from the first step."""
        self._step = self.first

    def hold(self) -> None:
        """Wait the longest from now on (the Relay refused us; hammering it will not help)."""
        self._step = self.cap

    def next_delay(self) -> float:
        """The wait before the next attempt; the step after it doubles."""
        delay = self._step * (0.5 + random.random())
        self._step = min(self._step * 2, self.cap)
        return delay


class PeerRefused(Exception):
    """The Relay refused this peer at hello; the hooks decide whether that is final."""

    def __init__(self, error: m.Error | None) -> None:
        super().__init__(error.message if error is not None else "the Relay sent no welcome")
        self.error = error


class ResponderHooks(Protocol):
    """What a responder (Node or Cloud) adds to the core."""

    def ws_url(self) -> str:
        """The Relay's WebSocket URL for the next attempt."""

    def hello(self) -> m.Hello:
        """The Hello to open the connection with."""

    async def before_connect(self, http: aiohttp.ClientSession) -> None:
        """Anything to do before connecting (the Node registers once)."""

    def refused(self, err: PeerRefused) -> bool:
        """The Relay refused us: raise to stop for good; True to retry after the longest wait,
        False to retry at the usual pace (the refusal was fixed here, e.g. by registering)."""

    def connect_failed(self, err: BaseException) -> None:
        """A connection attempt or a connection failed (the Node fails over to another Relay)."""

    def accept(self, peer_id: str, hs1: bytes) -> tuple[bytes, e2ee.Session] | None:
        """Answer a handshake start with (HS2, session), or None to refuse it silently."""

    def session_opened(self, peer_id: str) -> None:
        """A peer's new session is confirmed (send what a session starts with)."""

    def message(self, peer_id: str, msg: m.Message) -> None:
        """An authentic application message from a peer (in order)."""

    def control(self, msg: m.Message) -> None:
        """A control message from the Relay."""

    def disconnected(self) -> None:
        """The connection ended; every session is gone."""


@dataclass
class _PeerSessions:
    """A peer's confirmed session and the one its last handshake start proposed."""

    current: e2ee.Session | None = None
    pending: e2ee.Session | None = None


class ResponderLink:
    """The core: reconnect loop, hello/welcome, frame pump, sessions, single ordered writer."""

    def __init__(
        self,
        hooks: ResponderHooks,
        *,
        backoff: Backoff,
        max_msg_size: int = 2 * 1024 * 1024,
        on_status: Callable[[LinkStatus], None] | None = None,
    ) -> None:
        self._hooks = hooks
        self.backoff = backoff
        self._max_msg_size = max_msg_size
        self._on_status = on_status
        self.status = LinkStatus.OFFLINE
        self.connected = asyncio.Event()
        self._sessions: dict[str, _PeerSessions] = {}
        self._refused_at: dict[str, float] = {}  # peer -> when we last told it so
        self._out: asyncio.Queue[str | bytes] | None = None

    # -- sending (synchronous: sealing and queueing are one step) ---------------------------

    @property
    def is_connected(self) -> bool:
        return self._out is not None and self.status is LinkStatus.CONNECTED

    def send_control(self, msg: m.Message) -> bool:
        """Queue a control message for the Relay; False when not connected."""
        if self._out is None:
            return False
        self._out.put_nowait(m.encode(msg))
        return True

    def send_raw(self, peer_id: str, payload: bytes) -> bool:
        """Queue a routing frame; False when not connected."""
        if self._out is None:
            return False
        self._out.put_nowait(m.pack_frame(peer_id, payload))
        return True

    def seal_to(self, peer_id: str, msg: m.Message) -> bool:
        """Seal under the peer's confirmed session and queue it; False without a session."""
        sessions = self._sessions.get(peer_id)
        if sessions is None or sessions.current is None or self._out is None:
            return False
        return self.send_raw(peer_id, sessions.current.seal(m.encode(msg).encode("utf-8")))

    def has_session(self, peer_id: str) -> bool:
        sessions = self._sessions.get(peer_id)
        return sessions is not None and sessions.current is not None

    def peers(self) -> list[str]:
        """Peers with a confirmed session."""
        return [pid for pid, s in self._sessions.items() if s.current is not None]

    def drop(self, peer_id: str) -> None:
        """Forget a peer's sessions (it left, or was revoked)."""
        self._sessions.pop(peer_id, None)
        self._refused_at.pop(peer_id, None)

    # -- connection -------------------------------------------------------------------------

    def _set_status(self, status: LinkStatus) -> None:
        if status is not self.status:
            self.status = status
            if self._on_status is not None:
                self._on_status(status)

    async def run(self, http: aiohttp.ClientSession) -> None:
        """Stay connected until cancelled (or until the hooks make a refusal final)."""
        while True:
            self._set_status(LinkStatus.CONNECTING)
            try:
                await self._hooks.before_connect(http)
                await self._serve(http)
                self.backoff.reset()
            except PeerRefused as err:
                if self._hooks.refused(err):  # raises when final
                    self.backoff.hold()
            except (aiohttp.ClientError, OSError, TimeoutError, ConnectionError) as err:
                self._hooks.connect_failed(err)
            except Exception as err:  # never let the link die: log and reconnect
                self._hooks.connect_failed(err)
                _LOGGER.exception("relay link failed; reconnecting")
            self._set_status(LinkStatus.OFFLINE)
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                # A library swallowed our cancellation on the way out: stop all the same rather
                # than reconnect forever behind the back of whoever stopped us.
                raise asyncio.CancelledError
            await asyncio.sleep(self.backoff.next_delay())

    async def _serve(self, http: aiohttp.ClientSession) -> None:
        async with http.ws_connect(
            self._hooks.ws_url(), heartbeat=HEARTBEAT_S, max_msg_size=self._max_msg_size
        ) as ws:
            await ws.send_str(m.encode(self._hooks.hello()))
            first = await ws.receive(timeout=HELLO_TIMEOUT_S)
            if first.type != aiohttp.WSMsgType.TEXT:
                raise ConnectionError("the Relay closed the connection during hello")
            reply = m.decode(first.data)
            if not isinstance(reply, m.Welcome):
                raise PeerRefused(reply if isinstance(reply, m.Error) else None)
            try:
                check_relay_version(reply.version)
            except IncompatibleVersion as err:
                raise PeerRefused(
                    m.Error(code=ErrorCode.UPDATE_REQUIRED, message=str(err))
                ) from None
            out: asyncio.Queue[str | bytes] = asyncio.Queue()
            writer = asyncio.create_task(self._write(ws, out))
            self._out = out
            self._set_status(LinkStatus.CONNECTED)
            self.connected.set()
            _LOGGER.info("connected to the Relay as %s", reply.peer_id)
            try:
                async for msg in ws:
                    if msg.type == aiohttp.WSMsgType.BINARY:
                        self._on_frame(msg.data)
                    elif msg.type == aiohttp.WSMsgType.TEXT:
                        self._on_control(msg.data)
                    else:
                        break
                    if writer.done():
                        break  # the socket failed under the writer
            finally:
                self._out = None
                writer.cancel()
                self._sessions.clear()
                self.connected.clear()
                self._hooks.disconnected()
                _LOGGER.info("disconnected from the Relay")
                # wait(), not `await writer` under suppress(CancelledError): a cancellation of
                # this task arriving meanwhile (stop() while the socket was already closing)
                # must end the link, not be taken for the writer's and swallowed.
                await asyncio.wait({writer})
                if not writer.cancelled():
                    writer.exception()  # retrieved: the socket failure is what ended us

    @staticmethod
    async def _write(ws: aiohttp.ClientWebSocketResponse, out: asyncio.Queue[str | bytes]) -> None:
        # The only task that writes to the socket: frames leave in the order they were queued.
        while True:
            item = await out.get()
            if isinstance(item, bytes):
                await ws.send_bytes(item)
            else:
                await ws.send_str(item)

    def _on_control(self, text: str) -> None:
        try:
            msg = m.decode(text)
        except DecodeError as err:
            _LOGGER.warning("malformed message from the Relay: %s", err)
            return
        if isinstance(msg, m.Presence) and not msg.online:
            self._sessions.pop(msg.peer_id, None)
        self._hooks.control(msg)

    # -- sessions ---------------------------------------------------------------------------

    def _on_frame(self, frame: bytes) -> None:
        try:
            _kind, peer_id, payload = m.unpack_frame(frame)
        except DecodeError:
            return
        kind = payload[:1]
        if kind == bytes([e2ee.HS1]):
            self._on_handshake(peer_id, payload)
        elif kind == bytes([e2ee.DATA]):
            self._on_data(peer_id, payload)
        # A RESYNC or HS2 is for initiators; a responder has nothing to do with either.

    def _on_handshake(self, peer_id: str, hs1: bytes) -> None:
        try:
            answer = self._hooks.accept(peer_id, hs1)
        except CryptoError:
            _LOGGER.info("bad handshake from %s", peer_id)
            return
        if answer is None:
            return
        hs2, session = answer
        # Pending until the initiator confirms: the live session, if any, stays as it is.
        self._sessions.setdefault(peer_id, _PeerSessions()).pending = session
        self.send_raw(peer_id, hs2)

    def _on_data(self, peer_id: str, frame: bytes) -> None:
        sessions = self._sessions.get(peer_id)
        if sessions is None or (sessions.current is None and sessions.pending is None):
            # No session here (we restarted, or the Relay replaced our connection): say so,
            # so the device starts a new handshake instead of sending into the void.
            self.send_raw(peer_id, e2ee.resync_frame())
            return
        payload: bytes | None = None
        if sessions.pending is not None:
            with contextlib.suppress(CryptoError):
                payload = sessions.pending.open(frame)
                sessions.current, sessions.pending = sessions.pending, None
                self._hooks.session_opened(peer_id)
        if payload is None and sessions.current is not None:
            try:
                payload = sessions.current.open(frame)
            except CryptoError as err:
                self._refuse(peer_id, sessions.current, err)
                return
        if payload is None:
            self.send_raw(peer_id, e2ee.resync_frame())
            return
        if not payload:
            return  # a CONFIRM, or an empty keep-alive
        try:
            msg = m.decode(payload)
        except DecodeError as err:
            _LOGGER.warning("undecodable message from %s: %s", peer_id, err)
            return
        if isinstance(msg, am.Chat):
            self.seal_to(peer_id, am.Received(id=msg.id))
        self._hooks.message(peer_id, msg)

    def _refuse(self, peer_id: str, session: e2ee.Session, err: CryptoError) -> None:
        """Tell the peer, inside the session, which frame we expected; it will re-handshake.

        At most once a REFUSAL_INTERVAL_S per peer: a Relay that replays every frame would
        otherwise keep both ends refusing each other's refusals (each one a new frame it
        replays again) as fast as they can, burning the PC's CPU and filling its log."""
        now = time.monotonic()
        if now - self._refused_at.get(peer_id, -REFUSAL_INTERVAL_S) < REFUSAL_INTERVAL_S:
            return
        self._refused_at[peer_id] = now
        _LOGGER.warning("refused a frame from %s: %s", peer_id, type(err).__name__)
        resync = am.Resync(expected=session.recv_counter, reason=type(err).__name__)
        self.send_raw(peer_id, session.seal(m.encode(resync).encode("utf-8")))
