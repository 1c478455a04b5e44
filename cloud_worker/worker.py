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
from protocol.peer_link import Backoff, LinkStatus, PeerRefused, ResponderLink
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
class CloudWorker:
    """Connects to the Relay, serves device sessions, reconnects when the Relay goes away.

    The connection, the handshakes and the ordered sealing are the shared responder core
    (protocol.peer_link); this class adds the Cloud's credential, key and requests."""

    settings: CloudSettings
    executor: Executor
    _peer: ResponderLink = field(init=False)
    _pending: dict[tuple[str, str, str], asyncio.Future[m.Message]] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    metrics: WorkerMetrics = field(default_factory=lambda: WorkerMetrics())

    def __post_init__(self) -> None:
        self._peer = ResponderLink(
            self,
            backoff=Backoff(first=0.2, cap=10.0),
            max_msg_size=m.MAX_FRAME_BYTES,
            on_status=lambda status: self.metrics.connected.set(status is LinkStatus.CONNECTED),
        )

    @property
    def connected(self) -> asyncio.Event:
        return self._peer.connected

    async def run(self) -> None:
        """Serve until cancelled, reconnecting with backoff; a refused credential is fatal."""
        await self.executor.warm_up()
        async with aiohttp.ClientSession() as http:
            await self._peer.run(http)

    # -- hooks of the shared core -----------------------------------------------------------

    def ws_url(self) -> str:
        base = self.settings.relay_url
        if base.startswith("http"):
            base = "ws" + base[4:]
        return f"{base}/v1/ws"

    def hello(self) -> m.Hello:
        return m.Hello(version=PROTOCOL_VERSION, role=m.PeerKind.CLOUD, token=self.settings.token)

    async def before_connect(self, http: aiohttp.ClientSession) -> None:
        pass

    def refused(self, err: PeerRefused) -> bool:
        raise RelayRefusedWorker(f"the Relay refused this worker: {err}")

    def connect_failed(self, err: BaseException) -> None:
        _LOGGER.warning("relay connection failed: %s", type(err).__name__)

    def accept(self, peer_id: str, hs1: bytes) -> tuple[bytes, e2ee.Session] | None:
        hs2, session, _device_key = cloud.respond(self.settings.private_key, hs1)
        return hs2, session

    def session_opened(self, peer_id: str) -> None:
        self.metrics.sessions.set(len(self._peer.peers()))
        self._send_app(peer_id, cloud.CloudInfo(model=self.executor.model))

    def message(self, peer_id: str, msg: m.Message) -> None:
        if isinstance(msg, am.Chat):
            task = asyncio.create_task(self._chat(peer_id, msg))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            self._send_app(
                peer_id,
                am.AppError(
                    code=codes.ErrorCode.BAD_MESSAGE,
                    message=f"the Cloud does not handle {msg.TYPE}",
                ),
            )

    def control(self, msg: m.Message) -> None:
        if isinstance(msg, cloud.CloudGrant | cloud.CloudRecorded):
            future = self._pending.pop((msg.TYPE, msg.device_id, msg.request_id), None)
            if future is not None and not future.done():
                future.set_result(msg)
        elif isinstance(msg, m.Error):
            _LOGGER.warning("relay says %s", msg.code)

    def disconnected(self) -> None:
        self.metrics.connected.set(0)
        self.metrics.sessions.set(0)
        for future in self._pending.values():
            if not future.done():
                future.cancel()
        self._pending.clear()

    def _send_app(self, device_id: str, msg: m.Message) -> None:
        """Seal and queue in one step (the core's single writer keeps counters in order)."""
        self._peer.seal_to(device_id, msg)

    async def _ask(self, msg: cloud.CloudClaim | cloud.CloudUsage, answer: str) -> m.Message:
        """Send a control message and wait for the Relay's answer to it."""
        future: asyncio.Future[m.Message] = asyncio.get_running_loop().create_future()
        self._pending[(answer, msg.device_id, msg.request_id)] = future
        self._peer.send_control(msg)
        return await asyncio.wait_for(future, self.settings.claim_timeout_s)

    async def _chat(self, device_id: str, chat: am.Chat) -> None:
        """Claim, run, reply, report: every request ends with `done`, then its receipt."""
        started = time.monotonic()
        try:
            grant = await self._ask(
                cloud.CloudClaim(request_id=chat.id, device_id=device_id),
                cloud.CloudGrant.TYPE,
            )
        except (TimeoutError, asyncio.CancelledError):
            return
        assert isinstance(grant, cloud.CloudGrant)
        if not grant.granted:
            self.metrics.requests.labels(grant.code or "refused").inc()
            _LOGGER.info(
                "request refused",
                extra={"request_id": chat.id, "device_id": device_id, "code": grant.code},
            )
            self._send_app(device_id, am.AppError(code=grant.code, message=grant.message))
            self._send_app(device_id, am.Done(id=chat.id, text=""))
            self._send_app(
                device_id,
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
                self._send_app(device_id, am.Delta(id=chat.id, text="".join(unsent)))
                unsent.clear()

        async def delta(piece: str) -> None:
            if not unsent:
                loop.call_soon(flush)
            unsent.append(piece)

        claimed_ms = round((time.monotonic() - started) * 1000, 1)

        async def tool(call_id: str, status: str, detail: str) -> None:
            flush()
            self._send_app(
                device_id,
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
            self._send_app(device_id, am.AppError(code=code, message=_MESSAGES[code]))
        # The reply is complete for the user now; the bill is settled and the usage event
        # written after it, off the reply's path (the claim, which decides whether it runs at
        # all, was on it).
        self._send_app(device_id, am.Done(id=chat.id, text=draft.text))
        run_ms = round((time.monotonic() - started) * 1000, 1)
        result = self.executor.settle(draft)
        charged, left = await self._report(device_id, chat.id, result)
        self._send_app(
            device_id,
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
                "device_id": device_id,
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

    async def _report(self, device_id: str, request_id: str, result: Outcome) -> tuple[bool, float]:
        """Write the usage event; retried until the Relay answers (the key makes it idempotent)."""
        usage = cloud.CloudUsage(
            request_id=request_id,
            device_id=device_id,
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
