"""Live connections and routing between a device and its own Node (in-process).

What the Relay holds for a peer that does not read is bounded three ways, so a stalled reader
costs the Relay a few MiB and then its connection, never the memory of everyone else:

- each connection's send queue, in frames and in bytes (`queue_frames`, `queue_bytes`);
- all queues together (`SendBudget`): a frame that would pass the total closes the connection
  it was queued for, the one that is behind;
- each write (`write_timeout_s`): a peer whose socket accepts nothing for that long is gone.

A connection closed for any of these is aborted, not closed politely: a polite close waits for
the kernel to flush what the peer will never read, which is exactly the memory to free.

Nodes and devices live in separate tables (`nodes`, `devices`): an id is only ever looked up
in the table of the kind the caller expects, so a device named after a Node's id is never
taken for that Node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from protocol.messages import Error, Message, encode

_LOGGER = logging.getLogger(__name__)
# A last message and a close frame get this long before the socket is cut.
CLOSE_GRACE_S = 1.0
DEFAULT_QUEUE_BYTES = 1024 * 1024 + 64 * 1024  # one largest frame, and some small ones
DEFAULT_WRITE_TIMEOUT_S = 10.0
SLOW = Error(code="slow_consumer", message="you were too slow to receive; reconnect")
EXPIRED = Error(
    code="token_expired", message="your access token expired: refresh it and connect again"
)


class SendBudget:
    """The bytes waiting to be written by every connection of this process, against one limit.

    When a frame would pass the limit, the connection furthest behind (the most bytes waiting)
    is closed to make room: that is the stalled reader, not whoever happens to send next.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.members: set[Connection] = set()

    def take(self, size: int, taker: Connection) -> bool:
        """Reserve `size` bytes for `taker`; False when only closing `taker` would make room."""
        while self.used + size > self.limit:
            victim = max(self.members, key=lambda c: c.waiting, default=None)
            if victim is None or victim is taker or victim.waiting == 0:
                return False
            victim.evict(SLOW)
        self.used += size
        return True

    def give(self, size: int) -> None:
        self.used -= size


@dataclass(eq=False)
class Connection:
    """One authenticated WebSocket with its outgoing queue."""

    ws: web.WebSocketResponse
    role: str
    peer_id: str  # node_id or device_id
    node_id: str
    queue_frames: int
    queue_bytes: int = DEFAULT_QUEUE_BYTES
    write_timeout_s: float = DEFAULT_WRITE_TIMEOUT_S
    budget: SendBudget = field(default_factory=lambda: SendBudget(1 << 62))
    transport: asyncio.BaseTransport | None = None  # to cut a stalled socket
    # aiohttp's protocol for this socket: reading it is paused while this peer's frame waits
    # for room at its destination (see `wait_room`).
    protocol: Any = None
    family_id: str = ""  # a device's token family (revoking it closes this connection)
    expires_at: float = 0.0  # when the access token that opened it expires (0: never)
    queue: asyncio.Queue[str | bytes | None] = field(init=False)
    queued_bytes: int = 0
    in_transport: int = 0  # what the transport held after the last write
    held_by_senders: int = 0  # frames senders hold while they wait for room here
    # What this peer may send, in bytes a second (0: unlimited) and at once (the burst).
    in_rate: float = 0.0
    in_burst: float = 0.0
    _in_allowance: float = 0.0
    _in_at: float = 0.0
    closing: bool = False
    closed_for: str = ""  # the code of the reason it was closed with (for the audit row)
    writer: asyncio.Task[None] | None = None
    bytes_in: int = 0
    bytes_out: int = 0
    peer_raw: bytes = field(init=False)
    node_raw: bytes = field(init=False)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _expiry: asyncio.TimerHandle | None = None
    _drained: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(maxsize=self.queue_frames)
        self.peer_raw = uuid.UUID(self.peer_id).bytes
        self.node_raw = uuid.UUID(self.node_id).bytes

    def start(self) -> None:
        self.budget.members.add(self)
        self.writer = asyncio.create_task(self._drain())
        if self.expires_at:
            self.set_expiry(self.expires_at)

    @property
    def waiting(self) -> int:
        """Bytes held for this peer: queued, in the transport, and in senders waiting for it."""
        return self.queued_bytes + self.in_transport + self.held_by_senders

    async def _drain(self) -> None:
        while (item := await self.queue.get()) is not None:
            size = len(item)
            try:
                async with asyncio.timeout(self.write_timeout_s):
                    if isinstance(item, bytes):
                        await self.ws.send_bytes(item)
                    else:
                        await self.ws.send_str(item)
                self.bytes_out += size
            except TimeoutError:
                _LOGGER.info("write timed out: closing a %s that stopped reading", self.role)
                self._spawn(self.close(SLOW))
                return
            except (ConnectionError, RuntimeError):
                return
            finally:
                self._release(size)
                self._count_transport()
                self._drained.set()
            # Written: what the peer has not taken is in the transport's buffer (counted) or
            # the kernel's. Not holding the frame while the next one is awaited saves up to
            # 1 MiB per stalled reader that nothing would count.
            del item

    def _count_transport(self) -> None:
        """Hold what the transport buffers for the peer against the budget too."""
        transport = self._transport()
        now = transport.get_write_buffer_size() if transport is not None else 0
        if self.closing:
            now = 0
        self.budget.used += now - self.in_transport
        self.in_transport = now

    def _release(self, size: int) -> None:
        self.queued_bytes -= size
        self.budget.give(size)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def send(self, item: str | bytes) -> bool:
        """Queue a frame; a peer that is too far behind is closed. False if it was dropped."""
        if self.closing:
            return False
        size = len(item)
        if (
            self.waiting + size > self.queue_bytes
            or self.queue.full()
            or not self.budget.take(size, self)
        ):
            self.evict(SLOW)
            return False
        self.queued_bytes += size
        self.queue.put_nowait(item)
        return True

    def throttle(self, size: int) -> float:
        """Count `size` bytes received; how long to stop reading so the peer keeps to its
        rate (a token bucket). Not reading is what slows a flooding sender: its kernel
        buffers fill and TCP holds it back, and the Relay's CPU is left to everyone else."""
        if self.in_rate <= 0:
            return 0.0
        now = time.monotonic()
        if not self._in_at:
            self._in_allowance, self._in_at = self.in_burst, now
        self._in_allowance = min(
            self.in_burst, self._in_allowance + (now - self._in_at) * self.in_rate
        )
        self._in_at = now
        self._in_allowance -= size
        return 0.0 if self._in_allowance >= 0 else -self._in_allowance / self.in_rate

    def has_room(self, size: int) -> bool:
        """Would a frame of this size be queued now? (A closing peer takes, and drops, all.)"""
        return self.closing or self.queued_bytes + self.in_transport + size <= self.queue_bytes

    async def wait_room(self, size: int, sender: Connection | None = None) -> None:
        """Back-pressure for a sender: wait until this peer has room for `size` bytes, or until
        the write timeout has closed it. Meanwhile the sender's socket is not read, so a flood
        at a stalled reader stops in the sender's kernel buffers, not in the Relay."""
        # The frame the sender holds meanwhile counts against the total like a queued one:
        # when the total is spent, the peer furthest behind is closed instead of waited for.
        if not self.budget.take(size, self):
            self.evict(SLOW)
            return
        # Not reading the sender has to be said to aiohttp: its reader would otherwise go on
        # parsing the next frame (up to 1 MiB, and a partial one after it) into its own queue
        # while this one waits, memory no budget counts. Paused, the flood stays in the kernel.
        paused = sender is not None and sender.pause_reading()
        self.held_by_senders += size
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.write_timeout_s + CLOSE_GRACE_S
        try:
            while not self.has_room(size) and loop.time() < deadline:
                self._drained.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout_at(deadline):
                        await self._drained.wait()
        finally:
            self.held_by_senders -= size
            self.budget.give(size)
            if paused and sender is not None:
                sender.resume_reading()

    async def rest(self, seconds: float) -> None:
        """Do not read this peer's socket for `seconds` (it is over its rate)."""
        paused = self.pause_reading()
        try:
            await asyncio.sleep(seconds)
        finally:
            if paused:
                self.resume_reading()

    def pause_reading(self) -> bool:
        """Stop reading this peer's socket; True if this paused it (then `resume_reading`)."""
        protocol = self.protocol
        if protocol is None or getattr(protocol, "_reading_paused", True) or self.closing:
            return False  # aiohttp's own flow control holds it: leave it to aiohttp
        protocol.pause_reading()
        return True

    def resume_reading(self) -> None:
        """Read this peer's socket again (after `pause_reading` said it paused it)."""
        protocol = self.protocol
        if protocol is not None and protocol.transport is not None:
            protocol.resume_reading()

    def evict(self, reason: Message) -> None:
        """Stop writing to this peer, free what it holds and cut its socket now.

        It is a queue's worth behind: a reason written after that queue would never be read,
        and a polite close would wait on the peer that is not reading (aiohttp's close returns
        once its close frame is buffered, leaving the socket and its buffers up). The reason
        goes to the audit row instead (`closed_for`)."""
        if self.closing:
            return
        self._stop(reason)
        self.abort()

    def send_message(self, msg: Message) -> bool:
        """Queue a control message."""
        return self.send(encode(msg))

    def set_expiry(self, expires_at: float) -> None:
        """End this connection when its access token expires (renewing in band moves it)."""
        self.expires_at = expires_at
        if self._expiry is not None:
            self._expiry.cancel()
        delay = max(0.0, expires_at - time.time())
        loop = asyncio.get_running_loop()
        self._expiry = loop.call_later(delay, lambda: self._spawn(self.close(EXPIRED)))

    def _discard_queue(self) -> None:
        while not self.queue.empty():
            item = self.queue.get_nowait()
            if item is not None:
                self._release(len(item))

    def _transport(self) -> asyncio.WriteTransport | None:
        transport = self.transport
        if transport is None:
            request = getattr(self.ws, "_req", None)  # aiohttp keeps no public handle on it
            transport = request.transport if request is not None else None
        return transport if isinstance(transport, asyncio.WriteTransport) else None

    def abort(self) -> None:
        """Cut the socket now, dropping whatever the kernel and the transport still hold."""
        transport = self._transport()
        if transport is not None:
            transport.abort()
        self._count_transport()

    def _stop(self, reason: Message | None = None) -> None:
        self.closing = True
        if isinstance(reason, Error):
            self.closed_for = reason.code
        self._drained.set()  # senders waiting for room: it will take (and drop) everything now
        self.budget.members.discard(self)
        if self._expiry is not None:
            self._expiry.cancel()
        if self.writer is not None and self.writer is not asyncio.current_task():
            self.writer.cancel()
        self._discard_queue()

    async def close(
        self, reason: Message | None = None, code: int = WSCloseCode.POLICY_VIOLATION
    ) -> None:
        """Say why (past whatever is queued) and close; a peer that does not take it is cut."""
        if self.closing:
            return
        self._stop(reason)
        await self._finish_close(reason, code)

    async def _finish_close(self, reason: Message | None, code: int) -> None:
        if self.writer is not None and self.writer is not asyncio.current_task():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.writer
        try:
            async with asyncio.timeout(CLOSE_GRACE_S):
                if reason is not None and not self.ws.closed:
                    await self.ws.send_str(encode(reason))
                await self.ws.close(code=code)
        except Exception:  # timed out or the socket broke: cut it either way
            self.abort()
        self._count_transport()


class Hub:
    """Who is connected, and delivery to them."""

    def __init__(
        self,
        *,
        queue_bytes: int = DEFAULT_QUEUE_BYTES,
        total_bytes: int = 16 * 1024 * 1024,
        write_timeout_s: float = DEFAULT_WRITE_TIMEOUT_S,
        in_rate: float = 0.0,
        in_burst: float = 0.0,
    ) -> None:
        self.in_rate = in_rate
        self.in_burst = max(in_burst, queue_bytes)
        self.nodes: dict[str, Connection] = {}
        self.devices: dict[str, Connection] = {}
        # The same connections keyed by raw 16-byte id, for routing without string conversions.
        self.nodes_raw: dict[bytes, Connection] = {}
        self.devices_raw: dict[bytes, Connection] = {}
        self.budget = SendBudget(total_bytes)
        self.queue_bytes = queue_bytes
        self.write_timeout_s = write_timeout_s

    def connection(
        self, ws: web.WebSocketResponse, request: web.BaseRequest, **fields: Any
    ) -> Connection:
        """A connection under this hub's limits (queue bytes, total, write timeout)."""
        limits: dict[str, Any] = {
            "in_rate": self.in_rate,
            "in_burst": self.in_burst,
            "queue_bytes": self.queue_bytes,
            "write_timeout_s": self.write_timeout_s,
            "budget": self.budget,
        }
        return Connection(
            ws=ws, transport=request.transport, protocol=request.protocol, **{**limits, **fields}
        )

    def node_online(self, node_id: str) -> bool:
        return node_id in self.nodes

    def devices_of(self, node_id: str) -> list[Connection]:
        return [c for c in self.devices.values() if c.node_id == node_id]

    def devices_where(self, match: Callable[[Connection], bool]) -> list[Connection]:
        return [c for c in self.devices.values() if match(c)]

    async def attach(self, conn: Connection) -> None:
        """Register a connection, replacing (and closing) an older one for the same peer."""
        if conn.budget.limit == 1 << 62:  # made without `connection()`: give it this hub's limits
            conn.budget = self.budget
            conn.queue_bytes = self.queue_bytes
            conn.write_timeout_s = self.write_timeout_s
        table = self.nodes if conn.role == "node" else self.devices
        raw = self.nodes_raw if conn.role == "node" else self.devices_raw
        old = table.get(conn.peer_id)
        table[conn.peer_id] = conn
        raw[conn.peer_raw] = conn
        conn.start()
        if old is not None:
            await old.close(
                Error(code="replaced", message="connected again from elsewhere"),
                code=WSCloseCode.GOING_AWAY,
            )

    def detach(self, conn: Connection) -> bool:
        """Forget a connection if it is still the current one for its peer."""
        table = self.nodes if conn.role == "node" else self.devices
        raw = self.nodes_raw if conn.role == "node" else self.devices_raw
        current = table.get(conn.peer_id) is conn
        if current:
            del table[conn.peer_id]
            raw.pop(conn.peer_raw, None)
        conn._stop()  # its socket is gone: nothing more is written, what it held is free
        conn._count_transport()
        return current


async def pump(
    ws: web.WebSocketResponse,
    on_binary: Callable[[bytes], Awaitable[None]],
    on_text: Callable[[str], Awaitable[None]],
    conn: Connection | None = None,
) -> None:
    """Hand a socket's messages to their handlers, one at a time, until it closes; a peer over
    its rate (`conn.throttle`) is not read until it is back within it."""
    async for msg in ws:
        size = 0
        if msg.type == WSMsgType.BINARY:
            size = len(msg.data)
            await on_binary(msg.data)
        elif msg.type == WSMsgType.TEXT:
            await on_text(msg.data)
        elif msg.type == WSMsgType.ERROR:
            break
        # Routed, the frame (up to 1 MiB) is the destination's business: holding it here while
        # the next one is awaited (or while its sender is held to its rate) kept 1 MiB per
        # flooding sender alive that no budget counted.
        del msg
        pause = conn.throttle(size) if conn is not None and size else 0.0
        if pause > 0 and conn is not None:
            # The frame that overdrew the allowance is routed already; the sender waits after
            # it, with its socket not read, so its next frames stay in the kernel meanwhile.
            await conn.rest(pause)
