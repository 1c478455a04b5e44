"""A Cloud worker: one outbound WebSocket to the Relay, end-to-end sessions with devices,
a claim with the ledger before each request, a usage event after it.

The worker is stateless: sessions live only as long as its connection, the ledger is the
Relay's, and any number of workers can serve the same Relay. It never logs request content.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

import aiohttp
import prometheus_client as prom

from cloud_worker.executor import Executor, Outcome
from cloud_worker.settings import CloudSettings
from protocol import app_messages as am
from protocol import cloud, e2ee
from protocol import errors as codes
from protocol import messages as m
from protocol.errors import CryptoError, DecodeError
from protocol.version import PROTOCOL_VERSION

_LOGGER = logging.getLogger(__name__)

_MESSAGES = {
    codes.BUDGET_EXHAUSTED: "stopped: this month's Cloud budget is spent",
    codes.PROVIDER_FAILED: "the Cloud's model provider failed; you were billed only for "
    "what you received",
}


class WorkerMetrics:
    """Prometheus metrics of one worker (own registry): requests, tokens, money. No content."""

    def __init__(self) -> None:
        r = self.registry = prom.CollectorRegistry()
        self.requests = prom.Counter(
            "ora_cloud_requests_total", "Cloud requests", ["outcome"], registry=r
        )
        self.tokens = prom.Counter("ora_cloud_tokens_total", "Tokens", ["direction"], registry=r)
        self.cost = prom.Counter("ora_cloud_cost_usd_total", "Cost billed (USD)", registry=r)
        self.sessions = prom.Gauge("ora_cloud_sessions", "Device sessions", registry=r)
        self.connected = prom.Gauge("ora_cloud_relay_connected", "Connected", registry=r)


class RelayRefusedWorker(Exception):
    """The Relay refused this worker (wrong credential, wrong version)."""


@dataclass
class _DeviceSession:
    """One device's end-to-end session on this worker."""

    device_id: str
    session: e2ee.Session


@dataclass
class CloudWorker:
    """Connects to the Relay, serves device sessions, reconnects when the Relay goes away."""

    settings: CloudSettings
    executor: Executor
    sessions: dict[str, _DeviceSession] = field(default_factory=dict)
    _ws: aiohttp.ClientWebSocketResponse | None = None
    _out: asyncio.Queue[str | bytes] = field(default_factory=asyncio.Queue)
    _pending: dict[tuple[str, str, str], asyncio.Future[m.Message]] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    metrics: WorkerMetrics = field(default_factory=lambda: WorkerMetrics())

    @property
    def _ws_url(self) -> str:
        base = self.settings.relay_url
        if base.startswith("http"):
            base = "ws" + base[4:]
        return f"{base}/v1/ws"

    async def run(self) -> None:
        """Serve until cancelled, reconnecting with backoff; a refused credential is fatal."""
        await self.executor.warm_up()
        delay = 0.2
        async with aiohttp.ClientSession() as http:
            while True:
                try:
                    await self._serve(http)
                    delay = 0.2
                except RelayRefusedWorker:
                    raise
                except (aiohttp.ClientError, OSError, TimeoutError) as err:
                    _LOGGER.warning("relay connection failed: %s", type(err).__name__)
                self.connected.clear()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _serve(self, http: aiohttp.ClientSession) -> None:
        ws = await http.ws_connect(self._ws_url, heartbeat=20, max_msg_size=m.MAX_FRAME_BYTES)
        hello = m.Hello(version=PROTOCOL_VERSION, role="cloud", token=self.settings.token)
        await ws.send_str(m.encode(hello))
        first = await ws.receive(timeout=10)
        reply = m.decode(first.data) if first.type == aiohttp.WSMsgType.TEXT else None
        if not isinstance(reply, m.Welcome):
            await ws.close()
            reason = reply.message if isinstance(reply, m.Error) else "no welcome"
            raise RelayRefusedWorker(f"the Relay refused this worker: {reason}")
        _LOGGER.info("connected to the relay as %s", reply.peer_id)
        self._ws = ws
        self._out = asyncio.Queue()
        self.connected.set()
        self.metrics.connected.set(1)
        writer = asyncio.create_task(self._write(ws))
        try:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.BINARY:
                    self._on_frame(msg.data)
                elif msg.type == aiohttp.WSMsgType.TEXT:
                    self._on_control(msg.data)
                elif msg.type == aiohttp.WSMsgType.ERROR:
                    break
        finally:
            writer.cancel()
            self.sessions.clear()
            self.metrics.connected.set(0)
            self.metrics.sessions.set(0)
            for future in self._pending.values():
                if not future.done():
                    future.cancel()
            self._pending.clear()
            _LOGGER.info("disconnected from the relay")

    async def _write(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        # One writer keeps frames in the order they were sealed (the receiver insists on it).
        while True:
            item = await self._out.get()
            if isinstance(item, bytes):
                await ws.send_bytes(item)
            else:
                await ws.send_str(item)

    def _send_app(self, ds: _DeviceSession, msg: m.Message) -> None:
        """Seal and queue in one step, so counters go out in order."""
        if self.sessions.get(ds.device_id) is not ds:
            return  # the device started a new session (or left); this one is over
        payload = ds.session.seal(m.encode(msg).encode())
        self._out.put_nowait(m.pack_frame(ds.device_id, payload))

    def _on_frame(self, frame: bytes) -> None:
        try:
            _kind, device_id, payload = m.unpack_frame(frame)
        except DecodeError:
            return
        if payload[:1] == bytes([e2ee.HS1]):
            try:
                hs2, session, _device_key = cloud.respond(self.settings.private_key, payload)
            except CryptoError:
                _LOGGER.info("bad handshake from a device")
                return
            ds = _DeviceSession(device_id=device_id, session=session)
            self.sessions[device_id] = ds
            self.metrics.sessions.set(len(self.sessions))
            self._out.put_nowait(m.pack_frame(device_id, hs2))
            self._send_app(ds, cloud.CloudInfo(model=self.executor.model))
            return
        current = self.sessions.get(device_id)
        if current is None:
            return
        ds = current
        try:
            msg = m.decode(ds.session.open(payload))
        except (CryptoError, DecodeError) as err:
            _LOGGER.info("refused a frame from a device: %s", type(err).__name__)
            return
        if isinstance(msg, am.Chat):
            task = asyncio.create_task(self._chat(ds, msg))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            self._send_app(
                ds, am.AppError(code="bad_message", message=f"the Cloud does not handle {msg.TYPE}")
            )

    def _on_control(self, text: str) -> None:
        try:
            msg = m.decode(text)
        except DecodeError:
            return
        if isinstance(msg, cloud.CloudGrant | cloud.CloudRecorded):
            future = self._pending.pop((msg.TYPE, msg.device_id, msg.request_id), None)
            if future is not None and not future.done():
                future.set_result(msg)
        elif isinstance(msg, m.Error):
            _LOGGER.warning("relay says %s", msg.code)

    async def _ask(self, msg: cloud.CloudClaim | cloud.CloudUsage, answer: str) -> m.Message:
        """Send a control message and wait for the Relay's answer to it."""
        future: asyncio.Future[m.Message] = asyncio.get_running_loop().create_future()
        self._pending[(answer, msg.device_id, msg.request_id)] = future
        self._out.put_nowait(m.encode(msg))
        return await asyncio.wait_for(future, self.settings.claim_timeout_s)

    async def _chat(self, ds: _DeviceSession, chat: am.Chat) -> None:
        """Claim, run, reply, report: every request ends with `done`, then its receipt."""
        started = time.monotonic()
        try:
            grant = await self._ask(
                cloud.CloudClaim(request_id=chat.id, device_id=ds.device_id),
                cloud.CloudGrant.TYPE,
            )
        except (TimeoutError, asyncio.CancelledError):
            return
        assert isinstance(grant, cloud.CloudGrant)
        if not grant.granted:
            self.metrics.requests.labels(grant.code or "refused").inc()
            _LOGGER.info(
                "request refused",
                extra={"request_id": chat.id, "device_id": ds.device_id, "code": grant.code},
            )
            self._send_app(ds, am.AppError(code=grant.code, message=grant.message))
            self._send_app(ds, am.Done(id=chat.id, text=""))
            self._send_app(
                ds,
                cloud.CloudReceipt(
                    id=chat.id,
                    model="",
                    tokens_in=0,
                    tokens_out=0,
                    cost_usd=0.0,
                    charged=False,
                    remaining_usd=grant.remaining_usd,
                ),
            )
            return

        # Pieces that arrive together leave together: a flush is scheduled for the next turn of
        # the event loop, so nothing waits (a provider streaming at reading speed gets one
        # message per piece) but a burst read in one go costs one frame, not one per token.
        unsent: list[str] = []
        loop = asyncio.get_running_loop()

        def flush() -> None:
            if unsent:
                self._send_app(ds, am.Delta(id=chat.id, text="".join(unsent)))
                unsent.clear()

        async def delta(piece: str) -> None:
            if not unsent:
                loop.call_soon(flush)
            unsent.append(piece)

        claimed_ms = round((time.monotonic() - started) * 1000, 1)

        async def tool(call_id: str, status: str, detail: str) -> None:
            flush()
            self._send_app(
                ds,
                am.ToolActivity(
                    id=chat.id, call_id=call_id, tool="web_fetch", status=status, detail=detail
                ),
            )

        draft = await self.executor.run(chat.text, grant.remaining_usd, delta, tool)
        flush()
        code = {"budget_exhausted": codes.BUDGET_EXHAUSTED, "failed": codes.PROVIDER_FAILED}.get(
            draft.outcome
        )
        if code is not None:
            self._send_app(ds, am.AppError(code=code, message=_MESSAGES[code]))
        # The reply is complete for the user now; the bill is settled and the usage event
        # written after it, off the reply's path (the claim, which decides whether it runs at
        # all, was on it).
        self._send_app(ds, am.Done(id=chat.id, text=draft.text))
        run_ms = round((time.monotonic() - started) * 1000, 1)
        result = self.executor.settle(draft)
        charged, left = await self._report(ds, chat.id, result)
        self._send_app(
            ds,
            cloud.CloudReceipt(
                id=chat.id,
                model=result.model,
                tokens_in=result.tokens_in,
                tokens_out=result.tokens_out,
                cost_usd=result.cost_usd,
                charged=charged,
                remaining_usd=left,
            ),
        )
        self.metrics.requests.labels(result.outcome).inc()
        self.metrics.tokens.labels("in").inc(result.tokens_in)
        self.metrics.tokens.labels("out").inc(result.tokens_out)
        if charged:
            self.metrics.cost.inc(result.cost_usd)
        _LOGGER.info(
            "request finished",
            extra={
                "request_id": chat.id,
                "device_id": ds.device_id,
                "model": result.model,
                "tokens_in": result.tokens_in,
                "tokens_out": result.tokens_out,
                "cost_usd": result.cost_usd,
                "outcome": result.outcome,
                "charged": charged,
                "ms": round((time.monotonic() - started) * 1000, 1),
                "claim_ms": claimed_ms,
                "run_ms": run_ms,
            },
        )

    async def _report(
        self, ds: _DeviceSession, request_id: str, result: Outcome
    ) -> tuple[bool, float]:
        """Write the usage event; retried until the Relay answers (the key makes it idempotent)."""
        usage = cloud.CloudUsage(
            request_id=request_id,
            device_id=ds.device_id,
            model=result.model,
            tokens_in=result.tokens_in,
            tokens_out=result.tokens_out,
            cost_usd=result.cost_usd,
            outcome=result.outcome,
        )
        for _attempt in range(3):
            with contextlib.suppress(TimeoutError):
                recorded = await self._ask(usage, cloud.CloudRecorded.TYPE)
                assert isinstance(recorded, cloud.CloudRecorded)
                return recorded.charged, recorded.remaining_usd
        _LOGGER.error("usage event not acknowledged", extra={"request_id": request_id})
        return False, 0.0
