"""The Relay's Prometheus metrics (metadata only: counts, never content) and /metrics."""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field

import prometheus_client as prom
from aiohttp import web


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
        # Read at scrape time from the hub's send budget (app.py binds it once the hub exists).
        self.send_queue_bytes = prom.Gauge(
            "ora_relay_send_queue_bytes", "Bytes waiting in send queues", registry=r
        )
        # The collector stops the event loop: every frame waits out its pauses. With many
        # connections a full collection walks every live object, so its pauses are the tail.
        self.gc_pause = prom.Histogram(
            "ora_relay_gc_pause_seconds",
            "Garbage collector pauses",
            ["generation"],
            buckets=(0.001, 0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=r,
        )

    def watch_gc(self) -> None:
        """Time the collector's pauses (once per process: the app calls it at start-up)."""
        started = [0.0]
        by_gen = [self.gc_pause.labels(str(g)) for g in range(3)]

        def on_gc(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                started[0] = time.perf_counter()
            else:
                by_gen[info["generation"]].observe(time.perf_counter() - started[0])

        gc.callbacks.append(on_gc)


METRICS = web.AppKey("metrics", Metrics)


async def serve_metrics(request: web.Request) -> web.Response:
    data = prom.generate_latest(request.app[METRICS].registry)
    return web.Response(body=data, headers={"Content-Type": prom.CONTENT_TYPE_LATEST})
