"""Live connections and routing between a device and its own Node (in-process).

Each connection has a bounded send queue drained by one writer task; a peer that cannot keep
up is disconnected with a reason instead of letting the Relay's memory grow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import WSCloseCode, WSMsgType, web

from protocol.messages import Error, Message, encode

_LOGGER = logging.getLogger(__name__)


@dataclass(eq=False)
class Connection:
    """One authenticated WebSocket with its outgoing queue."""

    ws: web.WebSocketResponse
    role: str
    peer_id: str  # node_id or device_id
    node_id: str
    queue_frames: int
    queue: asyncio.Queue[str | bytes | None] = field(init=False)
    writer: asyncio.Task[None] | None = None
    bytes_in: int = 0
    bytes_out: int = 0
    peer_raw: bytes = field(init=False)
    node_raw: bytes = field(init=False)

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(maxsize=self.queue_frames)
        self.peer_raw = uuid.UUID(self.peer_id).bytes
        self.node_raw = uuid.UUID(self.node_id).bytes

    def start(self) -> None:
        self.writer = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        while (item := await self.queue.get()) is not None:
            try:
                if isinstance(item, bytes):
                    await self.ws.send_bytes(item)
                else:
                    await self.ws.send_str(item)
                self.bytes_out += len(item)
            except (ConnectionError, RuntimeError):
                return

    def send(self, item: str | bytes) -> bool:
        """Queue a frame; a full queue disconnects the slow peer. False if it was dropped."""
        try:
            self.queue.put_nowait(item)
            return True
        except asyncio.QueueFull:
            asyncio.get_running_loop().create_task(
                self.close(
                    Error(code="slow_consumer", message="you were too slow to receive; reconnect")
                )
            )
            return False

    def send_message(self, msg: Message) -> bool:
        """Queue a control message."""
        return self.send(encode(msg))

    async def close(
        self, reason: Message | None = None, code: int = WSCloseCode.POLICY_VIOLATION
    ) -> None:
        """Send a last message (bypassing the full queue) and close."""
        with contextlib.suppress(Exception):
            if reason is not None and not self.ws.closed:
                await self.ws.send_str(encode(reason))
        await self.ws.close(code=code)
        if self.writer is not None:
            self.writer.cancel()


class Hub:
    """Who is connected, and delivery to them."""

    def __init__(self) -> None:
        self.nodes: dict[str, Connection] = {}
        self.devices: dict[str, Connection] = {}
        # The same connections keyed by raw 16-byte id, for routing without string conversions.
        self.nodes_raw: dict[bytes, Connection] = {}
        self.devices_raw: dict[bytes, Connection] = {}

    def node_online(self, node_id: str) -> bool:
        return node_id in self.nodes

    def devices_of(self, node_id: str) -> list[Connection]:
        return [c for c in self.devices.values() if c.node_id == node_id]

    async def attach(self, conn: Connection) -> None:
        """Register a connection, replacing (and closing) an older one for the same peer."""
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
        if table.get(conn.peer_id) is conn:
            del table[conn.peer_id]
            raw.pop(conn.peer_raw, None)
            if conn.writer is not None:
                conn.queue.put_nowait(None) if not conn.queue.full() else conn.writer.cancel()
            return True
        return False


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
