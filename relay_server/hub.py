"""Live connections and routing between a device and its own Node (in-process).

What the Relay holds for a peer that does not read is bounded three ways, so a stalled reader
costs a few MiB and then its connection, never everyone else's memory: each connection's send
queue in frames and bytes (`queue_frames`, `queue_bytes`); all queues together (`SendBudget`:
a frame that would pass the total closes the connection that is behind); each write
(`write_timeout_s`). Such a connection is aborted, not closed politely: a polite close waits
for the kernel to flush what the peer will never read, which is exactly the memory to free.

Nodes and devices live in separate tables (`nodes`, `devices`): an id is only looked up in the
table of the kind the caller expects, so a device named after a Node's id is never that Node.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import struct
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from protocol.messages import Error, Message, encode

_LOGGER = logging.getLogger(__name__)
CLOSE_GRACE_S = 1.0  # a last message and a close frame get this long before the cut
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


def _frame_header(size: int, opcode: int) -> bytes:
    """A server's (unmasked, final, uncompressed) WebSocket frame header (RFC 6455 5.2)."""
    first = 0x80 | opcode
    if size < 126:
        return _LEN1.pack(first, size)
    if size < 65536:
        return _LEN2.pack(first, 126, size)
    return _LEN3.pack(first, 127, size)


_LEN1 = struct.Struct("!BB")
_LEN2 = struct.Struct("!BBH")
_LEN3 = struct.Struct("!BBQ")
_OP_TEXT, _OP_BINARY = 0x1, 0x2
_SPLIT_AT = 16 * 1024  # above this a frame's header and body are written apart (no copy)


@dataclass(eq=False, slots=True)
class Connection:
    """One authenticated WebSocket with its outgoing queue.

    An idle connection holds no task, queue, event or set of its own (slots, no __dict__):
    with 100k phones per instance these per-connection objects are the Relay's memory.
    A frame for a peer whose socket has room is written at once, in the sender's turn of the
    event loop; only when the transport already holds bytes (the peer is behind) does it go
    to the queue, drained by a writer task that exists while the queue is not empty and
    enforces the write timeout.
    """

    ws: web.WebSocketResponse
    role: str
    peer_id: str  # node_id or device_id
    node_id: str
    queue_frames: int
    queue_bytes: int = DEFAULT_QUEUE_BYTES
    write_timeout_s: float = DEFAULT_WRITE_TIMEOUT_S
    budget: SendBudget = field(default_factory=lambda: SendBudget(1 << 62))
    transport: asyncio.BaseTransport | None = None  # to cut a stalled socket
    # aiohttp's protocol for this socket: not read while its frame waits for room at its
    # destination (`wait_room`).
    protocol: Any = None
    family_id: str = ""  # a device's token family (revoking it closes this connection)
    expires_at: float = 0.0  # when the access token that opened it expires (0: never)
    # Only while frames wait (a peer that is behind): an empty deque is ~620 bytes, more than
    # the rest of this object, and an idle connection has nothing queued.
    queue: collections.deque[str | bytes] | None = None
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
    writer: asyncio.Task[None] | None = None  # only while frames wait in the queue
    bytes_in: int = 0
    bytes_out: int = 0
    peer_raw: bytes = field(init=False)
    node_raw: bytes = field(init=False)
    _tasks: set[asyncio.Task[None]] | None = None
    _expiry: asyncio.TimerHandle | None = None
    _drained: asyncio.Event | None = None  # made by the first sender that waits for room

    def __post_init__(self) -> None:
        self.peer_raw = uuid.UUID(self.peer_id).bytes
        self.node_raw = uuid.UUID(self.node_id).bytes

    def start(self) -> None:
        self.budget.members.add(self)
        if self.expires_at:
            self.set_expiry(self.expires_at)

    @property
    def waiting(self) -> int:
        """Bytes held for this peer: queued, in the transport, and in senders waiting for it."""
        return self.queued_bytes + self.in_transport + self.held_by_senders

    def _write_now(self, item: str | bytes) -> bool:
        """Write a frame straight to the transport when nothing waits before it and the
        transport holds nothing (the peer keeps up): no queue handoff, no task switch, no
        timer. False when it must be queued instead."""
        if self.writer is not None or self.queue or self.ws.closed:
            return False
        transport = self._transport()
        if transport is None or transport.is_closing() or transport.get_write_buffer_size():
            return False
        if isinstance(item, str):
            body, opcode = item.encode(), _OP_TEXT
        else:
            body, opcode = item, _OP_BINARY
        header = _frame_header(len(body), opcode)
        if len(body) > _SPLIT_AT:
            transport.write(header)
            transport.write(body)
        else:
            transport.write(header + body)
        self.bytes_out += len(item)
        if self.in_transport or transport.get_write_buffer_size():
            self._count_transport()
        return True

    async def _drain(self) -> None:
        try:
            while self.queue:
                item = self.queue.popleft()
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
                    if self._drained is not None:
                        self._drained.set()
        finally:
            if self.writer is asyncio.current_task():
                self.writer = None
            if not self.queue:
                self.queue = None  # caught up: back to an idle connection's size

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
        if self._tasks is None:
            self._tasks = set()
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def send(self, item: str | bytes) -> bool:
        """Queue a frame; a peer that is too far behind is closed. False if it was dropped."""
        if self.closing:
            return False
        size = len(item)
        if self._write_now(item):
            return True
        queue = self.queue
        if (
            self.waiting + size > self.queue_bytes
            or (queue is not None and len(queue) >= self.queue_frames > 0)
            or not self.budget.take(size, self)
        ):
            self.evict(SLOW)
            return False
        self.queued_bytes += size
        if queue is None:
            queue = self.queue = collections.deque()
        queue.append(item)
        if self.writer is None:
            self.writer = asyncio.get_running_loop().create_task(self._drain())
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
        if self.closing:
            return  # it takes (and drops) everything now
        # The frame the sender holds meanwhile counts against the total like a queued one:
        # when the total is spent, the peer furthest behind is closed instead of waited for.
        if not self.budget.take(size, self):
            self.evict(SLOW)
            return
        # Not reading the sender has to be said to aiohttp: its reader would otherwise go on
        # parsing the next frame (up to 1 MiB) into its own queue while this one waits, memory
        # no budget counts. Paused, the flood stays in the kernel.
        paused = sender is not None and sender.pause_reading()
        self.held_by_senders += size
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.write_timeout_s + CLOSE_GRACE_S
        if self._drained is None:
            self._drained = asyncio.Event()
        drained = self._drained
        try:
            self._count_transport()  # what the transport held may have gone out since
            while not self.has_room(size) and loop.time() < deadline:
                drained.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout_at(deadline):
                        await drained.wait()
        finally:
            if not self.closing:  # else `_stop` gave it back already
                self.held_by_senders -= size
                self.budget.give(size)
            if paused and sender is not None:
                sender.resume_reading()

    async def rest(self, seconds: float) -> None:
        """Hold this peer to its rate: its next frame is not taken for `seconds`.

        Its socket is not paused meanwhile (aiohttp's reader takes at most one frame ahead):
        pausing it too saved ~8 MB more in the stalled bench but put the other pairs' p99
        during the flood at ~127 ms against ~100 ms (six runs each), so it is not done."""
        await asyncio.sleep(seconds)

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
        # A bound method, not a closure: a function and its cell per connection otherwise.
        self._expiry = loop.call_later(delay, self._expired)

    def _expired(self) -> None:
        self._spawn(self.close(EXPIRED))

    def _discard_queue(self) -> None:
        queue = self.queue
        while queue:
            self._release(len(queue.popleft()))

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
        if self._drained is not None:  # senders waiting for room: it takes (and drops) all now
            self._drained.set()
        # What its senders hold is free as of now, not when they next run: `SendBudget.take`
        # closing one stalled peer after another in one call would otherwise still see those
        # bytes as used and go on to close peers that keep up (seen: chatting pairs cut).
        self.budget.give(self.held_by_senders)
        self.held_by_senders = 0
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
) -> None:
    """Hand a socket's messages to their handlers, one at a time, until it closes."""
    async for msg in ws:
        if msg.type == WSMsgType.BINARY:
            await on_binary(msg.data)
        elif msg.type == WSMsgType.TEXT:
            await on_text(msg.data)
        elif msg.type == WSMsgType.ERROR:
            break
        # Handled, a frame (up to 1 MiB) must not stay alive while the next one is awaited.
        del msg
